"""train.monitor_system: dvclive's CPU and memory curves written beside the loss, and nothing when off."""

from __future__ import annotations

import csv

from conftest import copy_project, demo_params, stage

SYSTEM = "metrics/train/plots/metrics/system"


def train_demo(project) -> None:
    for name in ("split", "tokenize", "train"):
        result = stage(name, project)
        assert result.returncode == 0, result.stdout + result.stderr


def test_monitor_system_logs_cpu_and_memory_curves_beside_the_loss(tmp_path):
    project = copy_project(tmp_path, demo_params(train={"epochs": 2, "monitor_system": True}), git=False)
    train_demo(project)
    assert (project / "metrics/train/plots/metrics/train/loss.tsv").is_file()
    for curve in ("cpu/usage (%).tsv", "ram/usage (GB).tsv"):
        with (project / SYSTEM / curve).open() as file:
            rows = list(csv.DictReader(file, delimiter="\t"))
        assert rows and all(float(row[curve.split("/")[1][:-4]]) >= 0 for row in rows), curve


def test_no_system_curves_by_default(trained_demo):
    project = trained_demo.project  # conftest.trained_demo: the demo's params, train.monitor_system false
    assert (project / "metrics/train/plots/metrics/train/loss.tsv").is_file()
    assert not (project / SYSTEM).exists()
