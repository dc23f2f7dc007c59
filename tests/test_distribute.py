"""train.strategy: MirroredStrategy over two logical CPUs, and two real MultiWorkerMirroredStrategy workers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import copy_project, demo_params, free_ports, run, stage_command, subprocess_env

from imdb_bert.models import load_trained

# Runs src/imdb_bert/stages/train.py's main() after optional logical CPU devices; records the final weights' digest.
RUNNER = textwrap.dedent("""
    import hashlib, json, os, sys
    import imdb_bert  # selects tf-keras
    import tensorflow as tf
    logical = int(os.environ.get("LOGICAL_CPUS", "0"))
    if logical:
        tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
                                                   [tf.config.LogicalDeviceConfiguration()] * logical)
    from transformers import TFPreTrainedModel
    save = TFPreTrainedModel.save_pretrained
    def recording_save(self, directory, *args, **kwargs):
        digest = hashlib.sha256(b"".join(w.tobytes() for w in self.get_weights())).hexdigest()
        with open(os.environ["DIGEST_FILE"], "w") as file:
            json.dump({"digest": digest, "directory": str(directory)}, file)
        return save(self, directory, *args, **kwargs)
    TFPreTrainedModel.save_pretrained = recording_save
    from imdb_bert.errors import run_stage
    from imdb_bert.stages.train import main
    run_stage(main)
""")

PARAMS = demo_params(train={"epochs": 1, "batch_size": 8, "deterministic": False})


@pytest.fixture(scope="module")
def tokenized(tmp_path_factory) -> Path:
    project = copy_project(tmp_path_factory.mktemp("distribute"), PARAMS, git=False)
    for name in ("split", "tokenize"):
        run(stage_command(name), project)
    (project / "runner.py").write_text(RUNNER)
    return project


def set_strategy(project: Path, strategy: str) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["strategy"] = strategy
    (project / "params.yaml").write_text(yaml.safe_dump(params))


def test_mirrored_strategy_over_two_logical_cpus(tokenized):
    set_strategy(tokenized, "mirrored")
    result = subprocess.run([sys.executable, "runner.py"], cwd=tokenized, capture_output=True, text=True,
                            timeout=600, env=subprocess_env(LOGICAL_CPUS="2", DIGEST_FILE="digest.json"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "train.strategy mirrored with 2 replica(s): global batch 16 = 8 per replica x 2" in result.stderr
    model = load_trained(tokenized / "models/model", ["negative", "positive"])
    inputs = {"input_ids": np.array([[2, 40, 50, 3]]), "attention_mask": np.ones((1, 4), dtype=int)}
    assert model.logits(inputs).shape == (1, 2)


def test_two_multi_worker_processes_train_together_and_only_the_chief_writes(tokenized):
    set_strategy(tokenized, "multi_worker")
    for leftover in ("models/model", "metrics/train"):
        subprocess.run(["rm", "-rf", str(tokenized / leftover)], check=True)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in free_ports(2)]}
    workers = []
    try:
        for index in range(2):
            config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
            workers.append(subprocess.Popen(
                [sys.executable, "runner.py"], cwd=tokenized, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, env=subprocess_env(TF_CONFIG=config, DIGEST_FILE=f"digest-{index}.json")))
        outputs = [worker.communicate(timeout=600)[0] for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    for worker, output in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, output[-3000:]
        assert "train.strategy multi_worker with 2 replica(s): global batch 16 = 8 per replica x 2" \
            in output
    chief, other = (json.loads((tokenized / f"digest-{index}.json").read_text()) for index in range(2))
    assert chief["digest"] == other["digest"]  # the workers' final weights agree
    assert Path(chief["directory"]).name == ".model.partial" and Path(chief["directory"]).parent.name == "models"
    assert not Path(other["directory"]).exists()  # the other worker's copy went to a removed temporary place
    assert (tokenized / "models/model/tf_model.h5").is_file() and (tokenized / "metrics/train/metrics.json").is_file()
    assert "saved nothing (not the chief)" in outputs[1] and "saved models/model" in outputs[0]
