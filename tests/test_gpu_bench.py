"""bench.gpu_bench: its batches, FLOP and device helpers, and a smoke run on JAX without TensorFlow & co."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if "bench" not in sys.modules:  # bench/ is the repository's folder, not an installed package: load it by path
    spec = importlib.util.spec_from_file_location("bench", ROOT / "bench" / "__init__.py")
    sys.modules["bench"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sys.modules["bench"])
from bench import gpu_bench, training  # noqa: E402  (numpy and the batch helpers only; keras is imported in main)

# Runs the bench with these imports failing, as on a machine that has only numpy, JAX, keras and keras-hub:
# keras and keras-hub import them when installed, so blocking proves the path needs none of them.
BLOCKED_RUN = """
import runpy, sys
BLOCKED = {"tensorflow", "tensorflow_text", "tf_keras", "pandas", "sklearn", "dvc", "transformers"}
class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
sys.meta_path.insert(0, Blocker())
runpy.run_module("bench.gpu_bench", run_name="__main__", alter_sys=True)
"""


def test_smoke_trains_both_variants_on_jax_without_tensorflow_pandas_sklearn_dvc(tmp_path):
    output = tmp_path / "bench.json"
    # As on the GPU machine: the project not installed, its package found through PYTHONPATH=src.
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT / "src")}
    run = subprocess.run([sys.executable, "-c", BLOCKED_RUN, "--smoke", "--output", str(output)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(output.read_text())
    assert result["backend"] == "jax" and result["heavy_modules_loaded"] == []
    tutorial, ours = result["rows"]
    assert (tutorial["variant"], ours["variant"]) == ("tutorial", "ours")
    assert tutorial["widths"] == [64] and tutorial["precision"] == "float32" and not tutorial["jit_compile"]
    assert set(ours["widths"]) <= {32, 64} and ours["compiled_shapes"] == len(ours["widths"])
    assert ours["precision"] == "mixed_bfloat16" and ours["jit_compile"]
    assert ours["xla_compiles_in_timed_steps"] == 0  # every shape was compiled before the clock started
    for row in (tutorial, ours):
        assert row["steps"] == 3 and row["sequences"] == 12 and row["sequences_per_s"] > 0
        assert 0 < row["real_tokens"] <= row["padded_tokens"] and row["mfu"] is None  # no peak for a CPU
    assert tutorial["real_tokens"] == ours["real_tokens"] and ours["padded_tokens"] < tutorial["padded_tokens"]
    hidden, intermediate = 32, 64  # the smoke BERT: 2 layers of attention, two layer norms and the feed-forward
    layer = 4 * (hidden * hidden + hidden) + 2 * 2 * hidden + hidden * intermediate + intermediate \
        + intermediate * hidden + hidden
    assert ours["parameters_per_token"] == 2 * layer
    assert ours["parameters_per_sequence"] == hidden * hidden + hidden + hidden * 2 + 2  # pooler, logits
    assert "| tutorial | to max_length | float32 | off |" in run.stdout
    assert "| ours | dynamic, x32 | mixed_bfloat16 | on |" in run.stdout


def test_sampled_lengths_follow_the_real_histogram():
    table = json.loads(gpu_bench.LENGTHS_TABLE.read_text())
    lengths = gpu_bench.sample_lengths(table, 20000, 512, False, np.random.default_rng(0))
    assert lengths.min() >= 3 and lengths.max() == 512
    assert abs((lengths == 512).mean() - table["count_longer"] / table["rows"]) < 0.02
    assert abs(np.median(lengths) - table["percentile_tokens"]["p50"]) < 15
    assert gpu_bench.sample_lengths(table, 1000, 256, False, np.random.default_rng(0)).max() == 256


def test_ours_groups_and_buckets_widths_and_the_tutorial_pads_to_max_length():
    settings = gpu_bench.Settings(steps=20)
    rng = np.random.default_rng(0)
    lengths = gpu_bench.sample_lengths(json.loads(gpu_bench.LENGTHS_TABLE.read_text()), 20 * 32, 512, False, rng)
    split = gpu_bench.synthetic_split(lengths, 512, 28996, rng)
    assert (split.input_ids[np.arange(len(lengths)), lengths - 1] == gpu_bench.SEP_ID).all()
    ours = gpu_bench.keras_hub_source(split, gpu_bench.VARIANTS["ours"], settings)
    batches, widths = training.epoch_shape(ours)
    assert set(widths) <= {128, 256, 384, 512} and len(set(widths)) >= 3
    assert all(batch.max() <= width < batch.max() + 128 for batch, width in zip(batches, widths, strict=True))
    _, padded_widths = training.epoch_shape(gpu_bench.keras_hub_source(split, gpu_bench.VARIANTS["tutorial"], settings))
    assert set(padded_widths) == {512}
    first = gpu_bench.first_batch_per_width(ours)
    assert sorted(first) == sorted(set(widths))
    features, labels = first[256]
    assert set(features) == {"token_ids", "segment_ids", "padding_mask"} and features["token_ids"].shape == (32, 256)
    assert ours.epoch == 0  # looking ahead consumed nothing: the timed epoch is the one measured


def test_throughput_counts_real_and_padded_tokens_of_the_timed_epoch():
    row = training.throughput([np.array([3, 5]), np.array([8])], [8, 8], seconds=2.0)
    assert (row["sequences"], row["real_tokens"], row["padded_tokens"]) == (3, 16, 24)
    assert row["padding_share"] == pytest.approx(1 / 3) and row["sequences_per_s"] == 1.5 and row["step_ms"] == 1000
    assert training.throughput_cells(row) == ["1.50", "8", "12", "33.3%", "1000.0"]


def test_training_flops_count_tokens_sequences_and_attention():
    config = gpu_bench.BertConfig(num_layers=2, hidden_dim=4)
    flops = gpu_bench.training_flops(per_token=100, per_sequence=10, config=config, lengths=np.array([3, 5]))
    assert flops == 6 * 100 * 8 + 6 * 10 * 2 + 12 * 2 * 4 * (9 + 25)


@pytest.mark.parametrize(("name", "peak"), [("NVIDIA H100 80GB HBM3", 989.0), ("NVIDIA H100 PCIe", 756.0),
                                            ("NVIDIA H200", 989.0), ("NVIDIA A100-SXM4-80GB", 312.0),
                                            ("NVIDIA L40S", 362.0), ("NVIDIA L4", 121.0), ("Some new GPU", None)])
def test_default_peak_by_gpu_name(name, peak):
    assert gpu_bench.default_peak_tflops({"platform": "gpu", "name": name}) == peak


def test_bfloat16_on_ampere_and_newer_float16_before():
    assert gpu_bench.mixed_policy({"platform": "gpu", "compute_capability": "9.0"})[0] == "mixed_bfloat16"
    assert gpu_bench.mixed_policy({"platform": "gpu", "compute_capability": "7.5"})[0] == "mixed_float16"
    assert gpu_bench.default_peak_tflops({"platform": "cpu", "name": "AMD EPYC"}) is None
