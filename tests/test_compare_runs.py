"""bench.compare_runs: the paired comparison of two runs on the same test reviews, and its clear errors."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if "bench" not in sys.modules:  # bench/ is the repository's folder, not an installed package: load it by path
    spec = importlib.util.spec_from_file_location("bench", ROOT / "bench" / "__init__.py")
    sys.modules["bench"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sys.modules["bench"])
from bench import compare_runs  # noqa: E402


def verdicts(labels: list[str], right: list[bool]) -> list[tuple[str, str]]:
    flip = {"negative": "positive", "positive": "negative"}
    return [(label, label if ok else flip[label]) for label, ok in zip(labels, right, strict=True)]


def test_paired_difference_interval_and_mcnemar():
    labels = ["positive", "negative"] * 50
    first = verdicts(labels, [True] * 80 + [False] * 20)  # 0.80
    # B fixes 12 of A's 20 mistakes and breaks 2 of its right answers: 0.90.
    second = verdicts(labels, [True] * 78 + [False] * 2 + [True] * 12 + [False] * 8)
    result = compare_runs.paired_comparison(first, second)
    assert result["accuracy"] == [0.80, 0.90]
    assert (result["only_first_right"], result["only_second_right"]) == (2, 12)
    assert result["difference"] == pytest.approx(0.10)
    assert result["difference_low"] < 0.10 < result["difference_high"]
    assert result["difference_low"] > 0  # 14 discordant reviews, 12 one way: the gain holds
    assert result["mcnemar_p"] == pytest.approx(2 * (1 + 14 + 91) / 2**14)  # exact binomial, two-sided
    same = compare_runs.paired_comparison(first, first)
    assert same["difference"] == 0 and same["mcnemar_p"] == 1.0


def test_runs_of_different_splits_are_refused():
    with pytest.raises(SystemExit, match="different test reviews"):
        compare_runs.paired_comparison(verdicts(["positive", "negative"], [True, True]),
                                       verdicts(["negative", "positive"], [True, True]))


def test_the_command_reads_run_directories_and_says_what_is_missing(tmp_path):
    labels = ["positive", "negative"] * 10
    for name, right in (("a", [True] * 15 + [False] * 5), ("b", [True] * 18 + [False] * 2)):
        file = tmp_path / name / compare_runs.VERDICTS
        file.parent.mkdir(parents=True)
        file.write_text(json.dumps([{"actual": actual, "predicted": predicted}
                                    for actual, predicted in verdicts(labels, right)]))
    command = [sys.executable, "-m", "bench.compare_runs", str(tmp_path / "a"), str(tmp_path / "b"),
               "--names", "short", "long"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    assert "| short | 0.7500 (" in done.stdout and "| long | 0.9000 (" in done.stdout
    assert "long minus short: +15.00 accuracy points" in done.stdout
    missing = subprocess.run(command[:3] + [str(tmp_path / "a"), str(tmp_path / "nowhere")], cwd=ROOT,
                             capture_output=True, text=True)
    assert missing.returncode != 0
    assert "nowhere/metrics/eval/plots/sklearn/confusion_matrix.json not found" in missing.stderr
