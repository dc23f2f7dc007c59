"""dvc.yaml declares, for each stage, exactly the package modules its command imports (tests/stage_deps.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import ROOT
from stage_deps import OUTPUT_NEUTRAL, check, closure, module_file


def test_every_stage_declares_exactly_the_modules_it_imports():
    assert check(ROOT) == []


def test_output_neutral_modules_exist_and_give_a_reason():
    for path, reason in OUTPUT_NEUTRAL.items():
        assert (ROOT / path).is_file(), path
        assert len(reason) > 20, path


@pytest.fixture
def copy(tmp_path) -> Path:
    """dvc.yaml and the package's sources, to break on purpose."""
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return tmp_path


def new_problems(root: Path, change) -> list[str]:
    """What `check` reports after `change(root)` that it did not before."""
    before = check(root)
    change(root)
    return [problem for problem in check(root) if problem not in before]


def _edit_deps(root: Path, stage: str, edit) -> None:
    spec = yaml.safe_load((root / "dvc.yaml").read_text())
    spec["stages"][stage]["deps"] = edit(spec["stages"][stage]["deps"])
    (root / "dvc.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


def test_a_module_removed_from_a_stages_deps_is_named(copy):
    """How train reads its tokens (tokens.py) must rerun train: dropping it from the deps fails, naming both."""
    tokens = "src/imdb_bert/tokens.py"

    def drop(root: Path) -> None:
        _edit_deps(root, "train", lambda deps: [dep for dep in deps if dep != tokens])

    assert new_problems(copy, drop) == [f"train: imports {tokens} but dvc.yaml does not list them in its deps"]


def test_a_module_declared_but_no_longer_imported_is_named(copy):
    scoring = "src/imdb_bert/scoring.py"

    def add(root: Path) -> None:
        _edit_deps(root, "split", lambda deps: [*deps, scoring])

    assert new_problems(copy, add) == [f"split: dvc.yaml lists {scoring} in its deps, but the stage does not import "
                                       f"them"]


def test_a_new_import_inside_a_function_is_found(copy):
    def add_import(root: Path) -> None:
        stage = root / "src/imdb_bert/stages/split.py"
        later = "\n\ndef later() -> None:\n    from imdb_bert import scoring  # noqa: F401\n"
        stage.write_text(stage.read_text() + later)

    problems = new_problems(copy, add_import)
    assert len(problems) == 1 and problems[0].startswith("split: imports "), problems
    assert "src/imdb_bert/scoring.py" in problems[0]


def test_a_library_loaded_by_name_counts_as_imported():
    """imdb_bert.models loads each model library from a string: both are part of train's code."""
    found = closure(ROOT, module_file(ROOT, "imdb_bert.models"))
    for library in ("transformers_tf.py", "kerashub.py"):
        assert ROOT / "src/imdb_bert/models" / library in found
