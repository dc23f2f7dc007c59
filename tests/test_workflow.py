"""The GitHub Actions workflow for users' repositories, checked against the GitHub workflow schema
(it cannot run here; src/imdb_bert/commands/ci.py, which it calls, runs in tests/test_remote.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from conftest import ROOT, run

WORKFLOW = ROOT / ".github/workflows/pipeline.yml"


def validate(path: Path):
    checker = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)]
    return run(checker, ROOT, check=False)


def test_workflow_matches_the_github_schema():
    result = validate(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_catches_a_broken_workflow(tmp_path):
    broken = yaml.safe_load(WORKFLOW.read_text())
    del broken["jobs"]["pipeline"]["runs-on"]
    broken["jobs"]["pipeline"]["steps"][0]["uses"] = 42
    path = tmp_path / "broken.yml"
    path.write_text(yaml.safe_dump(broken))
    assert validate(path).returncode != 0


def test_workflow_tests_reruns_and_reports_like_the_readme_says():
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["pipeline"]["steps"]
    commands = "\n".join(step.get("run", "") for step in steps)
    readme = (ROOT / "README.md").read_text()
    assert "make test" in commands and "```bash\nmake test\n```" in readme
    for command in ("cp demo/params.yaml params.yaml", "dvc remote add --local --force --default ci",
                    'imdb-ci --base "$BASE" --report', "cml comment create --publish report.md"):
        assert command in commands, command
    # The rest is src/imdb_bert/commands/ci.py, which runs here (tests/test_remote.py); what it runs:
    script = (ROOT / "src/imdb_bert/commands/ci.py").read_text()
    for part in ('"repro", "--pull", "--allow-missing"', '"push", "--run-cache"', '"metrics", "diff", base',
                 '"params", "diff", base', '"plots", "diff", base', '"-m", "imdb_bert.commands.report"',
                 "GITHUB_STEP_SUMMARY"):
        assert part in script, part
    python = next(step for step in steps if step.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["python-version"] == "3.11"
