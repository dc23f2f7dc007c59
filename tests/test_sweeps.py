"""Queued experiments (docs/experiments.md): a grid queued with `dvc exp run --queue -S`, run by `dvc queue start`,
each in its own temporary copy, compared with `dvc exp show`."""

from __future__ import annotations

import json
import re
import shutil
import sys
import time

from conftest import copy_project, demo_params, dvc, run

RAW_CSV = "data/raw/IMDB Dataset.csv"  # git-ignored, like the real Kaggle file: `make data` puts it under DVC


def wait_for_queue(project, timeout: float = 900) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = dvc("queue", "status", cwd=project).stdout
        if not any(word in status for word in ("Queued", "Running")):
            return status
        time.sleep(5)
    raise AssertionError(f"the queue did not finish in {timeout} s:\n{status}")


def test_a_queued_grid_runs_each_experiment_with_its_own_params_metrics_and_resume_state(tmp_path):
    project = copy_project(tmp_path, demo_params(data={"raw_csv": RAW_CSV}, train={"epochs": 1}))
    shutil.copy(project / "data/sample/imdb_sample.csv", project / RAW_CSV)
    assert "?? " not in run(["git", "status", "--porcelain"], project).stdout  # ignored, as a user's would be
    # `make data`: the CSV under DVC, its .dvc file committed; the queued copies get it from the cache
    run([sys.executable, "-m", "imdb_bert.commands.preflight", "--track"], project)
    run(["git", "-c", "user.name=test", "-c", "user.email=test@localhost", "commit", "-qm", "track the CSV"], project)
    assert run(["git", "status", "--porcelain"], project).stdout == ""

    queued = dvc("exp", "run", "--queue", "-S", "train.learning_rate=1e-3,4e-3", cwd=project).stdout
    assert queued.count("Queued experiment") == 2, queued
    dvc("queue", "start", cwd=project)
    status = wait_for_queue(project)
    assert status.count("Success") == 2, status

    shown = json.loads(dvc("exp", "show", "--json", cwd=project).stdout)
    experiments = [exp["revs"][0] for commit in shown for exp in commit.get("experiments") or []]
    assert len(experiments) == 2
    rates, metrics = [], []
    for experiment in experiments:
        data = experiment["data"]
        rates.append(float(data["params"]["params.yaml"]["data"]["train"]["learning_rate"]))
        evaluation = data["metrics"]["metrics/eval.json"]["data"]
        assert evaluation["examples"] > 0 and 0 <= evaluation["accuracy"] <= 1
        metrics.append(evaluation)
    assert sorted(rates) == [1e-3, 4e-3]
    assert metrics[0] != metrics[1]  # each its own run, not one result shown twice

    # each copy trained from scratch with its own resume state, in its own copy of the repository, and committed none
    folders = set()
    for experiment in experiments:
        log = dvc("queue", "logs", experiment["name"], cwd=project).stdout
        assert "resuming after" not in log
        folders |= set(re.findall(r"resume state in (\S+)", log))
        files = run(["git", "ls-tree", "-r", "--name-only", experiment["rev"]], project).stdout.split()
        assert not [name for name in files if "train_state" in name]
    assert len(folders) == 2 and all("/.dvc/tmp/exps/" in folder for folder in folders), folders
    assert not (project / "models/.train_state").exists()  # the workspace's state was never touched

    table = dvc("exp", "show", "--md", "--sort-by", "metrics/eval.json:roc_auc", "--sort-order", "desc", "--drop",
                ".*", "--keep", "Experiment|train.learning_rate|roc_auc", "--hide-workspace", cwd=project).stdout
    assert "train.learning_rate" in table and "roc_auc" in table
