"""Every stage script run alone, in any order, on a clone with no outputs: one `error:` line naming the
stage to run first, never a traceback."""

from __future__ import annotations

import re
import sys

import pytest
from conftest import ROOT, copy_project, demo_params, run, stage, stage_command

# each script, and the stage its message must name (split names the Kaggle CSV instead)
FIRST = {"split": "IMDB Dataset.csv", "tokenize": "dvc repro split", "train": "dvc repro tokenize",
         "evaluate": "dvc repro split", "export": "dvc repro train", "predict": "dvc repro train"}


def script(name: str, cwd) -> object:
    command = [sys.executable, "-m", "imdb_bert.commands.predict", "A wonderful film."] if name == "predict" \
        else stage_command(name)
    return run(command, cwd, check=False)


def one_error_line(result) -> str:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    return errors[0]


@pytest.fixture(scope="module")
def empty_clone(tmp_path_factory):
    return copy_project(tmp_path_factory.mktemp("empty-clone"), git=False)


@pytest.mark.parametrize("name", sorted(FIRST))
def test_each_stage_alone_on_an_empty_clone_names_what_to_run_first(empty_clone, name):
    assert FIRST[name] in one_error_line(script(name, empty_clone))
    assert not list((empty_clone / "data").glob("*/.*.partial")) and not (empty_clone / "data/tokens").exists()


def test_a_stage_run_after_split_only_names_the_missing_middle_stage(tmp_path):
    project = copy_project(tmp_path, demo_params(), git=False)
    assert stage("split", project).returncode == 0
    for name in ("train", "evaluate"):
        assert "dvc repro tokenize" in one_error_line(script(name, project))


def test_preflight_says_where_to_get_the_kaggle_csv_and_make_repro_runs_it_first(empty_clone):
    line = one_error_line(run([sys.executable, "-m", "imdb_bert.commands.preflight"], empty_clone, check=False))
    assert "kaggle.com" in line and "data/raw/IMDB Dataset.csv" in line
    recipe = re.search(r"^repro:.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert recipe.index("imdb-preflight") < recipe.index("dvc repro")


def test_preflight_passes_when_the_csv_is_there(tmp_path):
    project = copy_project(tmp_path, demo_params(), git=False)
    assert run([sys.executable, "-m", "imdb_bert.commands.preflight"], project, check=False).returncode == 0
