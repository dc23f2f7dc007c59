"""bf16 on CPUs that have it: detection, the policy train picks with its reason, bf16 training in both libraries,
and a bf16 run of the demo where the CPU computes bfloat16 natively."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ROOT, dvc, run, subprocess_env
from test_libraries import LABELS, features, logits, tiny  # noqa: F401  (the module fixture)

from imdb_bert.batches import BatchSource
from imdb_bert.models import get_library, load_trained, precision, save_trained
from imdb_bert.params import TrainParams
from imdb_bert.tokens import TokenizedSplit

X86_BF16 = "processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_vnni avx512_bf16 amx_bf16 amx_tile\n"
X86_NO_BF16 = "processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_vnni\n"
ARM_BF16 = "processor\t: 0\nFeatures\t: fp asimd sve bf16 i8mm\n"
NATIVE = precision.cpu_bf16_features()
requires_native_bf16 = pytest.mark.skipif(
    not NATIVE, reason="this CPU has no native bfloat16 (no AVX512_BF16 or AMX in /proc/cpuinfo): train keeps float32")


@pytest.mark.parametrize(("cpuinfo", "expected"), [(X86_BF16, ["avx512_bf16", "amx_bf16"]), (X86_NO_BF16, []),
                                                   (ARM_BF16, ["bf16"]), (None, [])])
def test_native_bf16_is_read_from_cpuinfo(tmp_path, cpuinfo, expected):
    path = tmp_path / "cpuinfo"
    if cpuinfo is not None:
        path.write_text(cpuinfo)
    assert precision.cpu_bf16_features(path) == expected


def test_the_policy_and_its_reason(monkeypatch):
    monkeypatch.setattr(precision, "cpu_bf16_features", lambda: ["avx512_bf16"])
    assert precision.choose_precision(True, []) == precision.Precision(
        "mixed_bfloat16", "the CPU computes bfloat16 natively (avx512_bf16)")
    assert precision.choose_precision(False, []).policy == "float32"
    assert precision.choose_precision(True, [False]).policy == "mixed_float16"  # a GPU before compute capability 8
    assert precision.choose_precision(True, [True, True]).policy == "mixed_bfloat16"  # TPUs, A100, H100
    assert precision.choose_precision(True, [True, False]).policy == "mixed_float16"  # every device must have it
    monkeypatch.setattr(precision, "cpu_bf16_features", lambda: [])
    kept = precision.choose_precision(True, [])
    assert kept.policy == "float32" and "no native bfloat16" in kept.reason
    monkeypatch.setenv(precision.FORCE, "force")  # for measuring emulated bfloat16
    assert precision.choose_precision(True, []) == precision.Precision(
        "mixed_bfloat16", "PIPELINE_CPU_BF16=force, emulated on this CPU")
    assert precision.choose_precision(False, []).policy == "float32"


def settings(**changes) -> TrainParams:
    params = yaml.safe_load((Path(__file__).resolve().parents[1] / "params.yaml").read_text())["train"]
    return replace(TrainParams(**params), **{"epochs": 1, "batch_size": 4, "mixed_precision": True, **changes})


def tiny_split(rows: int = 8, width: int = 12) -> TokenizedSplit:
    inputs = features(batch=rows, width=width)
    return TokenizedSplit(inputs["input_ids"], inputs["attention_mask"].sum(axis=1),
                          np.arange(rows, dtype=np.int64) % 2)


@pytest.fixture
def keras_policies():
    """Every test leaves both Keras' global policies at float32, as the rest of the suite expects."""
    yield
    import keras
    import tensorflow as tf

    keras.mixed_precision.set_global_policy("float32")
    tf.keras.mixed_precision.set_global_policy("float32")


@pytest.mark.parametrize("library", ["transformers", "keras_hub"])
def test_a_cpu_with_native_bf16_trains_in_mixed_bfloat16_and_saves_float32(tiny, tmp_path, monkeypatch,  # noqa: F811
                                                                           keras_policies, library):
    """The forced detection runs everywhere: where bf16 is emulated it is only slower, not different."""
    monkeypatch.setattr(precision, "cpu_bf16_features", lambda: ["avx512_bf16"])
    layer = get_library(library)
    runtime = layer.configure(settings())
    assert (runtime.precision, runtime.precision_reason) == (
        "mixed_bfloat16", "the CPU computes bfloat16 natively (avx512_bf16)")
    model = layer.build(str(tiny["safetensors"]), LABELS, "pretrained")
    source = BatchSource(tiny_split(), ["input_ids", "token_type_ids", "attention_mask"], 4, shuffle_seed=13,
                         group_by_length=True, pad_to_max_length=False, pad_to_multiple_of=8)
    layer.compile(model, settings(), total_steps=len(source), jit_compile=False)
    history = layer.fit(model, layer.fit_data(model, source), epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    trained = logits(library, model, features())
    save_trained(layer, model, tmp_path, LABELS)
    assert "bfloat16" not in "".join(path.read_text() for path in tmp_path.glob("*.json"))  # configs say float32

    layer.configure(settings(mixed_precision=False))  # evaluate and predict run in float32
    reloaded = load_trained(tmp_path, LABELS)
    assert {str(getattr(weight.dtype, "name", weight.dtype)) for weight in reloaded.model.weights} == {"float32"}
    computed = reloaded.logits(features())
    assert str(getattr(computed.dtype, "name", computed.dtype)) == "float32"
    float32 = np.asarray(computed)
    # bfloat16 keeps 8 bits of mantissa: the float32 forward pass of the same weights agrees to about 1e-2
    np.testing.assert_allclose(trained, float32, atol=0.05)


@pytest.mark.parametrize("library", ["transformers", "keras_hub"])
def test_without_native_bf16_train_keeps_float32_and_says_why(monkeypatch, keras_policies, library):
    monkeypatch.setattr(precision, "cpu_bf16_features", lambda: [])
    runtime = get_library(library).configure(settings())
    assert runtime.precision == "float32" and "this CPU has no native bfloat16" in runtime.precision_reason


@requires_native_bf16
def test_a_bf16_cpu_run_of_the_demo_trains_evaluates_and_predicts(tmp_path, trained_demo):
    project = trained_demo.copy(tmp_path / "project")  # conftest.trained_demo: split and tokenized, 2 epochs
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["train"]["mixed_precision"] = True
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    result = dvc("repro", "evaluate", cwd=project)  # train and evaluate run again
    assert "Running stage 'train'" in result.stdout and "Running stage 'evaluate'" in result.stdout
    assert "precision mixed_bfloat16 (the CPU computes bfloat16 natively" in result.stdout + result.stderr
    scores = yaml.safe_load((project / "metrics" / "eval.json").read_text())
    assert scores["examples"] > 0 and 0 <= scores["accuracy"] <= 1
    predicted = run(["python", "-m", "imdb_bert.commands.predict", "A wonderful film."], project)
    assert predicted.stdout.strip()



DETERMINISTIC_RUNS = """
import hashlib, sys
import imdb_bert
from imdb_bert.models import precision
from imdb_bert.batches import BatchSource
from imdb_bert.models import get_library
from test_precision import LABELS, settings, tiny_split
precision.cpu_bf16_features = lambda: ["avx512_bf16"]
layer = get_library("transformers")
for _ in range(2):
    runtime = layer.configure(settings(deterministic=True))
    model = layer.build(sys.argv[1], LABELS, "pretrained")
    source = BatchSource(tiny_split(), ["input_ids", "token_type_ids", "attention_mask"], 4, shuffle_seed=13,
                         group_by_length=True, pad_to_max_length=False, pad_to_multiple_of=8)
    layer.compile(model, settings(), total_steps=len(source), jit_compile=False)
    layer.fit(model, layer.fit_data(model, source), epochs=1, shuffle=False, verbose=0)
    print(runtime.precision, hashlib.sha256(b"".join(w.numpy().tobytes() for w in model.weights)).hexdigest())
"""


def test_two_deterministic_bf16_runs_give_identical_weights(tiny):  # noqa: F811
    """In its own process: op determinism cannot be turned off again. Measured with emulated bfloat16 where the
    CPU has none; op determinism fixes the reduction order of native kernels too."""
    done = subprocess.run([sys.executable, "-c", DETERMINISTIC_RUNS, str(tiny["safetensors"])],
                          env=subprocess_env(PYTHONPATH=str(ROOT / "tests")), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = done.stdout.split()[-4:-2], done.stdout.split()[-2:]
    assert first[0] == "mixed_bfloat16" and first == second
