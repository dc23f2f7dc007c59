"""Quiet start-up: the native runtimes' start-up lines are filtered from a stage's stderr, nothing else is, and
PIPELINE_RUNTIME_LOGS=1 shows them again."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import subprocess_env

from imdb_bert.runtime_logs import noise_pattern

ONEDNN = ("I0000 00:00:1796137791.299888    4085 port.cc:153] oneDNN custom operations are on. You may see slightly "
          "different numerical results")
CUDART = "I0000 00:00:1796137791.300213    4085 cudart_stub.cc:31] Could not find cuda drivers on your machine"
BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
CUINIT = ("E0000 00:00:1796137796.485151    4085 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
          "Failed call to cuInit: UNKNOWN ERROR (303)")
KEPT = ["W0000 00:00:1796137796.485151    4085 op_kernel.cc:1857] OP_REQUIRES failed at a real warning",
        "E0000 00:00:1796137796.485151    4085 session.cc:12] a real error",
        "F0000 00:00:1796137796.485151    4085 check.cc:12] Check failed: a fatal check",
        "error: params.yaml: train.epochs is 0", "Traceback (most recent call last):"]


@pytest.mark.parametrize("driver", [False, True])
def test_only_the_start_up_lines_match(driver):
    noise = re.compile(noise_pattern(nvidia_driver=driver))
    assert all(noise.match(line) for line in (ONEDNN, CUDART, BANNER))
    assert bool(noise.match(CUINIT)) is not driver  # with an NVIDIA driver, a failed cuInit is a real error
    assert not any(noise.match(line) for line in KEPT)


STAGE = f"""
import os, sys
from imdb_bert.errors import run_stage

def main():
    import imdb_bert
    import tensorflow as tf
    tf.config.list_logical_devices()  # probes for GPUs
    os.write(2, {KEPT[1]!r}.encode() + b"\\n")
    sys.exit(3)

run_stage(main)
"""


def run_stage_script(**environment: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", STAGE], env=subprocess_env(**environment), capture_output=True,
                          text=True, timeout=300)


def test_a_stage_prints_no_start_up_lines_but_keeps_errors_and_its_exit_code():
    quiet = run_stage_script()
    assert quiet.returncode == 3
    assert KEPT[1] in quiet.stderr
    assert not re.search(r"^I\d{4} |absl::InitializeLog|cudart_stub|oneDNN", quiet.stderr, re.MULTILINE), quiet.stderr


def test_the_switch_shows_them_again():
    verbose = run_stage_script(PIPELINE_RUNTIME_LOGS="1", TF_CPP_MIN_LOG_LEVEL="0")
    assert verbose.returncode == 3 and KEPT[1] in verbose.stderr
    assert re.search(r"^I\d{4} .*(oneDNN|cudart_stub)", verbose.stderr, re.MULTILINE), verbose.stderr
