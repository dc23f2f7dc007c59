"""Interruption: a killed `train` resumes after its last completed epoch; killed stages leave no partial outputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import built_once, copy_built, copy_project, demo_params, dvc, stage_command, subprocess_env

PARAMS = demo_params(tokenize={"chunk_size": 8}, train={"epochs": 4, "batch_size": 4, "deterministic": True})
LIBRARIES = ["transformers", "keras_hub"]


def params_for(library: str) -> dict:
    return {**PARAMS, "model": {**PARAMS["model"], "library": library}}


def start(script: str, project: Path) -> subprocess.Popen:
    return subprocess.Popen(stage_command(script), cwd=project, env=subprocess_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def kill_when(process: subprocess.Popen, ready: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not ready.exists():
        assert process.poll() is None, f"finished before {ready} appeared"
        assert time.monotonic() < deadline, f"{ready} did not appear in {timeout} s"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


def uninterrupted_run(tmp_path_factory, library: str, backend: str) -> Path:
    """The demo with PARAMS for `library` after one uninterrupted `dvc repro evaluate`, keras_hub on `backend`, built
    once per session (conftest.built_once) for the resume and determinism tests of that library; copy it to
    change it."""
    def build(folder: Path) -> None:
        copy_project(folder, params_for(library))
        dvc("repro", "evaluate", cwd=folder)  # the stages up to evaluate: export plays no part in resuming

    return built_once(tmp_path_factory, f"resume-{library}-{backend}", build)


@pytest.mark.parametrize(("library", "backend"),
                         [("transformers", "tensorflow"), ("keras_hub", "tensorflow"), ("keras_hub", "jax")])
def test_killed_training_resumes_and_ends_like_an_uninterrupted_run(tmp_path, tmp_path_factory, monkeypatch,
                                                                   library, backend):
    monkeypatch.setenv("KERAS_BACKEND", backend)  # keras_hub's backend, in every stage the test starts
    reference = uninterrupted_run(tmp_path_factory, library, backend)

    (tmp_path / "killed").mkdir()
    project = copy_project(tmp_path / "killed", params_for(library))
    dvc("repro", "tokenize", cwd=project)
    training = start("train", project)
    kill_when(training, project / "models/.train_state/last_epoch/progress.json")  # epoch 1 saved: now in epoch 2
    assert not (project / "models/model").exists()

    result = dvc("repro", "evaluate", cwd=project)
    output = result.stdout + result.stderr
    assert "resuming after epoch 1" in output, output
    assert f"model.library {library} on {backend}" in output
    assert "with no GPU or TPU" not in output  # no CPU warning for a tiny model
    assert "Epoch 1/4" not in output and "Epoch 2/4" in output and "Epoch 4/4" in output
    for metrics in ("metrics/eval.json", "metrics/train/metrics.json"):
        assert json.loads((project / metrics).read_text()) == json.loads((reference / metrics).read_text())
    steps = (project / "metrics/train/plots/metrics/train/loss.tsv").read_text().splitlines()
    assert steps == (reference / "metrics/train/plots/metrics/train/loss.tsv").read_text().splitlines()
    assert json.loads((project / "models/.train_state/state.json").read_text())["completed"] is True


def test_killed_tokenize_leaves_no_partial_output(tmp_path):
    project = copy_project(tmp_path, {**PARAMS, "tokenize": {**PARAMS["tokenize"], "chunk_size": 1}})
    dvc("repro", "split", cwd=project)
    tokenizing = start("tokenize", project)
    # The first file it opens; one review per chunk leaves it hundreds of chunks to go, whatever the machine.
    kill_when(tokenizing, project / "data/.tokens.partial/train/input_ids.npy")
    assert not (project / "data/tokens").exists()
    assert "Running stage 'tokenize'" in dvc("repro", "tokenize", cwd=project).stdout
    assert (project / "data/tokens/meta.json").is_file() and not (project / "data/.tokens.partial").exists()


@pytest.mark.parametrize("library", LIBRARIES)
def test_deterministic_training_gives_an_identical_model_twice(tmp_path, tmp_path_factory, monkeypatch, library):
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    monkeypatch.setenv("KERAS_BACKEND", backend)
    project = copy_built(uninterrupted_run(tmp_path_factory, library, backend), tmp_path / "project")
    first = {path: (project / path).read_text() for path in ("dvc.lock", "metrics/train/metrics.json")}
    assert "Running stage 'train'" in dvc("repro", "--force", "--single-item", "train", cwd=project).stdout
    # Same weights, byte for byte: DVC sees models/model unchanged, so evaluate need not run again.
    assert "Stage 'evaluate' didn't change" in dvc("repro", "evaluate", cwd=project).stdout
    assert {path: (project / path).read_text() for path in first} == first
