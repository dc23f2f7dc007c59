"""What train reports about where it runs: the device line, and the warning before days of CPU training."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT, copy_project, demo_params, dvc, subprocess_env

from imdb_bert.training import cpu_warning, needs_warning


def test_the_warning_is_for_large_models_on_long_inputs_without_an_accelerator():
    assert needs_warning(108_000_000, 512, accelerated=False)
    assert not needs_warning(108_000_000, 512, accelerated=True)
    assert not needs_warning(108_000_000, 128, accelerated=False)
    assert not needs_warning(23_000_000, 512, accelerated=False)  # the MiniLM trains on a CPU in hours, not days


def test_the_warning_estimates_the_hours_and_says_how_to_get_a_gpu():
    message = cpu_warning(108_000_000, 512, seconds_per_batch=9.0, batches=4_000)
    assert "a 108M-parameter model at max_length 512 with no GPU or TPU will take about 10.0 hours" in message
    assert "9.00 s per batch x 4,000 batches" in message
    assert "tensorflow[and-cuda]" in message and "jax[cuda12]" in message


def large_config(folder: Path) -> Path:
    """demo/tiny-bert's vocabulary with a BERT of 59M parameters (8 layers of bert-base's size)."""
    shutil.copytree(ROOT / "demo" / "tiny-bert", folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(hidden_size=768, num_hidden_layers=8, num_attention_heads=12, intermediate_size=3072)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_train_warns_with_an_estimate_for_a_large_model_on_cpu(tmp_path):
    """(The tiny demo model gets no warning: tests/test_resume.py checks its training output.)"""
    large = large_config(tmp_path / "large-bert")
    params = demo_params(model={"checkpoint": str(large), "library": "keras_hub"}, tokenize={"max_length": 256},
                         train={"batch_size": 2, "epochs": 1})
    project = copy_project(tmp_path / "project", params)
    dvc("repro", "tokenize", cwd=project)
    training = subprocess.Popen([sys.executable, "-m", "imdb_bert.stages.train"], cwd=project, env=subprocess_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines, deadline = [], time.monotonic() + 600
    try:
        for line in training.stderr:  # the warning comes after two timed batches; no need to train on
            lines.append(line)
            if "with no GPU or TPU" in line or time.monotonic() > deadline:
                break
    finally:
        training.kill()
        training.wait()
    output = "".join(lines)
    assert ("model.library keras_hub on tensorflow: CPU only, precision float32 (train.mixed_precision is false), "
            "XLA off") in output
    warning = next(line for line in lines if "with no GPU or TPU" in line)
    assert "a 59M-parameter model at max_length 256 with no GPU or TPU will take about" in warning
    assert "pip install 'tensorflow[and-cuda]==2.21.0'" in warning
