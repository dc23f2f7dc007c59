"""Fine-tuning throughput of a bert-base-cased-sized BERT on a GPU: the tutorial's recipe against ours.

    KERAS_BACKEND=jax python -m bench.gpu_bench --output gpu_bench.json   # the full bench (one GPU, < 5 minutes)
    KERAS_BACKEND=jax python -m bench.gpu_bench --dry-run                 # the same on CPU with a 2-layer BERT
    KERAS_BACKEND=jax python -m bench.gpu_bench --smoke                   # a tiny config, seconds (the test suite)

from the project root; where the project is not installed (a GPU machine), with PYTHONPATH=src.

The model is KerasHub's BERT (`keras_hub.models.BertBackbone` + `BertTextClassifier`, two classes, no preprocessor)
built from bert-base-cased's config with random weights (vocabulary 28,996, hidden 768, 12 layers, 12 heads,
intermediate 3,072, 512 positions): no download. Batches of 32 reviews at max_length 512 come from the project's own
batch source (`imdb_bert.batches.BatchSource` over an in-memory token cache) whose review lengths are drawn from the
real IMDB token-length histogram in bench/review_lengths.json (longer reviews truncated to max_length). Training is
`model.fit` on Keras' AdamW with SparseCategoricalCrossentropy(from_logits=True), on whatever Keras backend is
selected (KERAS_BACKEND; jax when unset and JAX is installed). Variants (--variants; the first two by default):

    tutorial      every batch padded to max_length, float32, no XLA (jit_compile=False: on JAX op-by-op eager)
    ours          length-grouped batches, dynamic padding to a multiple of --bucket (a few compiled shapes),
                  mixed precision (mixed_bfloat16 where the GPU has bfloat16 tensor cores, else mixed_float16), XLA
    padded_xla    ablation: padded to max_length, float32, XLA
    ours_float32  ablation: ours in float32

(the padding variants and throughput figures of bench/training.py, shared with bench/train_throughput.py, which
compares the same on a CPU with the real MiniLM).

Each variant builds a fresh model, then runs one step per batch shape of the timed epoch (the first steps: tracing,
XLA compilation and one step, reported apart), `--warmup` steps, and one timed `fit` epoch of `--steps` batches
straight from the batch source (host batch production included). The clock is read after synchronising (the loss
and a weight are copied to the host). Figures per variant: sequences/s; tokens/s of real tokens (padding excluded)
and of padded tokens; and model FLOP utilisation (MFU) = training FLOPs of the real tokens / time / the device's
dense bf16/fp16 peak. Training FLOPs = 6 x (encoder parameters) x tokens + 6 x (pooler and head parameters) x
sequences + attention 12 x layers x hidden x length^2 per sequence (embeddings are gathers, not counted). "MFU incl.
padding" counts the padded tokens instead: what the device computed. On JAX, XLA compilations are counted with
jax.monitoring: "compiles in timed" must be 0, i.e. no shape was compiled during the timed epoch.

Needs only numpy, a Keras backend (JAX), keras and keras-hub: no TensorFlow, pandas, scikit-learn or DVC on this path
(keras and keras-hub import them when they are installed, and work without them; tests/test_gpu_bench.py runs
--smoke with those imports blocked). docs/gpu.md lists the 14 wheels to carry to a GPU machine with no internet
(`bash bench/gpu_bench_carry.sh` downloads them) and how to run it there.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib.metadata
import importlib.util
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from bench.common import cpu_model, markdown_table
from bench.training import THROUGHPUT_COLUMNS, Variant, batch_source, epoch_shape, throughput, throughput_cells
from imdb_bert.batches import BatchSource
from imdb_bert.tokens import TokenizedSplit

LENGTHS_TABLE = Path(__file__).resolve().parent / "review_lengths.json"
KERAS_HUB_NAMES = {"token_ids": "input_ids", "segment_ids": "token_type_ids", "padding_mask": "attention_mask"}
HEAVY_MODULES = ("tensorflow", "pandas", "sklearn", "dvc")  # must not be needed on this path
CLS_ID, SEP_ID, FIRST_WORD_ID = 101, 102, 999  # BERT's [CLS] and [SEP]; random "words" from 999 up
# Dense bfloat16/float16 tensor-core peaks in TFLOPS from the vendors' data sheets, by a part of the device name
# (first match wins: "H100 PCIe" before "H100", "L40S" before "L4"). Pass --peak-tflops for any other device.
PEAK_TFLOPS = (("H100 PCIe", 756.0), ("H100 NVL", 835.0), ("GH200", 989.0), ("H200", 989.0), ("H100", 989.0),
               ("A100", 312.0), ("L40S", 362.0), ("L4", 121.0), ("V100", 125.0), ("T4", 65.0))


@dataclass(frozen=True)
class BertConfig:
    """bert-base-cased's architecture (its config.json)."""
    vocabulary_size: int = 28996
    num_layers: int = 12
    num_heads: int = 12
    hidden_dim: int = 768
    intermediate_dim: int = 3072
    max_sequence_length: int = 512


VARIANTS = {variant.name: variant for variant in (
    Variant("tutorial", pad_to_max_length=True, group_by_length=False, mixed_precision=False, jit_compile=False),
    Variant("ours", pad_to_max_length=False, group_by_length=True, mixed_precision=True, jit_compile=True),
    Variant("padded_xla", pad_to_max_length=True, group_by_length=False, mixed_precision=False, jit_compile=True),
    Variant("ours_float32", pad_to_max_length=False, group_by_length=True, mixed_precision=False, jit_compile=True),
)}


@dataclass(frozen=True)
class Settings:
    batch_size: int = 32
    max_length: int = 512
    bucket: int = 128  # dynamic widths are rounded up to a multiple of this
    steps: int = 40
    warmup: int = 2
    seed: int = 13
    learning_rate: float = 5e-5  # params.yaml's AdamW defaults
    weight_decay: float = 0.01
    clipnorm: float = 1.0
    loop: str = "fit"  # fit | train_on_batch
    scale_lengths: bool = False  # shrink the length distribution to max_length (smoke runs at small max_length)


def log(message: str) -> None:
    print(f"[gpu_bench] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------- batches


def sample_lengths(table: dict, count: int, max_length: int, scale: bool, rng: np.random.Generator) -> np.ndarray:
    """`count` review lengths from the histogram (uniform within a bin); longer reviews truncated to max_length."""
    width, longest = table["bin_width"], table["longer_than"]
    counts = np.array(table["counts"] + [table["count_longer"]], dtype=float)
    bins = rng.choice(len(counts), size=count, p=counts / counts.sum())
    lengths = np.where(bins == len(counts) - 1, longest, bins * width + rng.integers(0, width, size=count))
    if scale:
        lengths = np.round(lengths * max_length / longest).astype(int)
    return np.clip(lengths, 3, max_length)


def synthetic_split(lengths: np.ndarray, max_length: int, vocabulary_size: int,
                    rng: np.random.Generator) -> TokenizedSplit:
    """A token cache like `tokenize` writes: [CLS] random word ids [SEP], zero padding, random labels."""
    rows = len(lengths)
    low = min(FIRST_WORD_ID, vocabulary_size // 2)
    input_ids = rng.integers(low, vocabulary_size, size=(rows, max_length), dtype=np.int32)
    input_ids[np.arange(max_length)[None, :] >= lengths[:, None]] = 0
    input_ids[:, 0] = min(CLS_ID, vocabulary_size - 1)
    input_ids[np.arange(rows), lengths - 1] = min(SEP_ID, vocabulary_size - 1)
    return TokenizedSplit(input_ids=input_ids, lengths=lengths.astype(np.int32),
                          labels=rng.integers(0, 2, size=rows).astype(np.int8))


def keras_hub_source(split: TokenizedSplit, variant: Variant, settings: Settings) -> BatchSource:
    """The variant's batch source, its batches under KerasHub's input names."""
    source = batch_source(split, variant, settings.batch_size, settings.bucket, settings.seed)
    return source.renamed(KERAS_HUB_NAMES)


def first_batch_per_width(source: BatchSource) -> dict[int, tuple[dict, np.ndarray]]:
    """For each batch width of the source's next epoch (without consuming it), its first batch."""
    found = {}
    for rows, width in zip(source.plan(source.epoch), epoch_shape(source)[1], strict=True):
        found.setdefault(width, source.batch(rows))
    return found


# ---------------------------------------------------------------------------------------------------- device


def describe_device(backend: str) -> dict:
    """Platform (gpu/tpu/cpu), device name, compute capability where known, device count."""
    platform_name, name, capability, count = "cpu", cpu_model(), None, 1
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        platform_name, count = device.platform, jax.device_count()
        if device.platform != "cpu":
            name, capability = device.device_kind, getattr(device, "compute_capability", None)
    elif backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            platform_name, name, count = "gpu", details.get("device_name", "GPU"), len(gpus)
            capability = ".".join(map(str, details.get("compute_capability", ()))) or None
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            platform_name, name, count = "gpu", torch.cuda.get_device_name(0), torch.cuda.device_count()
            capability = ".".join(map(str, torch.cuda.get_device_capability(0)))
    return {"platform": platform_name, "name": name, "compute_capability": capability, "count": count}


def mixed_policy(device: dict) -> tuple[str, str]:
    """The mixed-precision policy for this device, and why."""
    if device["platform"] == "gpu":
        capability = device["compute_capability"]
        if capability and float(capability) >= 8.0:
            return "mixed_bfloat16", (f"compute capability {capability} (Ampere or newer) has bfloat16 tensor cores "
                                      "at the float16 rate; bfloat16 keeps float32's range, so no loss scaling")
        return "mixed_float16", (f"compute capability {capability} has no bfloat16 tensor cores: float16 with "
                                 "Keras' dynamic loss scaling")
    if device["platform"] == "tpu":
        return "mixed_bfloat16", "TPUs compute in bfloat16"
    return "mixed_bfloat16", "no speed-up on a CPU: bfloat16 only keeps the GPU's code path for dry runs"


def default_peak_tflops(device: dict) -> float | None:
    if device["platform"] == "cpu":
        return None
    return next((peak for part, peak in PEAK_TFLOPS if part.lower() in device["name"].lower()), None)


def versions(backend: str) -> dict:
    names = ["numpy", "keras", "keras-hub"] + {"jax": ["jax", "jaxlib"], "tensorflow": ["tensorflow"],
                                               "torch": ["torch"]}.get(backend, [])
    found = {"python": platform.python_version()}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


class CompileCounter:
    """XLA compilations (count, seconds) reported by jax.monitoring; nothing on other backends."""

    def __init__(self, backend: str) -> None:
        self.events: list[float] = []
        self.active = backend == "jax"
        if self.active:
            import jax

            def record(event: str, duration: float, **_: object) -> None:
                if event == "/jax/core/compile/backend_compile_duration":
                    self.events.append(duration)

            jax.monitoring.register_event_duration_secs_listener(record)

    def since(self, start: int) -> tuple[int | None, float | None]:
        """Compilations after the `start`-th; unknown where none was ever reported (the event was renamed)."""
        if not self.active or not self.events:
            return None, None
        return len(self.events) - start, round(sum(self.events[start:]), 2)


# ---------------------------------------------------------------------------------------------------- model


def build_model(config: BertConfig, variant: Variant, policy: str, settings: Settings):
    import keras
    import keras_hub

    keras.mixed_precision.set_global_policy(policy if variant.mixed_precision else "float32")
    keras.utils.set_random_seed(settings.seed)
    backbone = keras_hub.models.BertBackbone(**asdict(config))
    model = keras_hub.models.BertTextClassifier(backbone, num_classes=2, preprocessor=None)
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=settings.learning_rate,
                                                   weight_decay=settings.weight_decay, clipnorm=settings.clipnorm),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=variant.jit_compile)
    return model


def flop_parameters(model) -> tuple[int, int]:
    """Parameters applied to every token (the encoder layers) and once per sequence (pooler, classifier)."""
    backbone = model.backbone
    per_token = sum(layer.count_params() for layer in backbone.transformer_layers)
    per_sequence = backbone.get_layer("pooled_dense").count_params() + model.get_layer("logits").count_params()
    return per_token, per_sequence


def training_flops(per_token: int, per_sequence: int, config: BertConfig, lengths: np.ndarray) -> float:
    """Forward + backward FLOPs for sequences of these lengths: 6 x params x tokens, plus attention."""
    attention = 12 * config.num_layers * config.hidden_dim * float(np.sum(lengths.astype(np.float64) ** 2))
    return 6.0 * per_token * float(lengths.sum()) + 6.0 * per_sequence * len(lengths) + attention


def train(model, batches: Callable[[], Iterator], steps: int, loop: str) -> float:
    """Seconds to train on `steps` batches, synchronised at the end: the loss and a weight reach the host.

    `fit` is Keras' own fit loop (keras.Model.fit: KerasHub's override would first route the batches through tf.data
    or grain, neither of which this path has; with no preprocessor that is all it adds). On JAX it dispatches steps
    asynchronously. `train_on_batch` copies the loss to the host after every step, so the host's per-step work is
    not overlapped with the device's.
    """
    import keras

    start = time.perf_counter()
    if loop == "fit":
        def generator() -> Iterator:  # Keras takes Python generators, not any iterator
            yield from batches()

        loss = keras.Model.fit(model, generator(), steps_per_epoch=steps, epochs=1, verbose=0,
                               shuffle=False).history["loss"][-1]
    else:
        for features, labels in batches():
            loss = model.train_on_batch(features, labels, return_dict=True)["loss"]
    float(loss)
    keras.ops.convert_to_numpy(model.trainable_variables[-1].value)
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------------- bench


def run_variant(variant: Variant, config: BertConfig, settings: Settings, split: TokenizedSplit, policy: str,
                peak: float | None, compiles: CompileCounter) -> dict:
    import keras

    start = time.perf_counter()
    model = build_model(config, variant, policy, settings)
    build_seconds = time.perf_counter() - start
    per_token, per_sequence = flop_parameters(model)
    source = keras_hub_source(split, variant, settings)
    lengths, widths = epoch_shape(source)

    first_steps = []
    for width, batch in first_batch_per_width(source).items():
        before = len(compiles.events)
        seconds = train(model, lambda batch=batch: iter([batch]), 1, settings.loop)
        count, compile_seconds = compiles.since(before)
        first_steps.append({"width": width, "seconds": round(seconds, 2), "xla_compiles": count,
                            "xla_compile_seconds": compile_seconds})
        log(f"{variant.name}: first step at width {width}: {seconds:.1f} s")
    warmup = [batch for _, batch in zip(range(settings.warmup), keras_hub_source(split, variant, settings)(),
                                        strict=False)]
    warmup_seconds = train(model, lambda: iter(warmup), len(warmup), settings.loop) if warmup else 0.0

    before = len(compiles.events)
    seconds = train(model, source, len(source), settings.loop)
    compiles_timed, _ = compiles.since(before)
    log(f"{variant.name}: {len(source)} timed steps: {seconds:.1f} s")
    del model
    keras.backend.clear_session()
    gc.collect()

    model_flops = sum(training_flops(per_token, per_sequence, config, batch) for batch in lengths)
    padded_flops = sum(training_flops(per_token, per_sequence, config, np.full(len(batch), width))
                       for batch, width in zip(lengths, widths, strict=True))
    return {
        **asdict(variant), "variant": variant.name, "precision": policy if variant.mixed_precision else "float32",
        **throughput(lengths, widths, seconds),
        "widths": sorted(set(widths)), "compiled_shapes": len(first_steps) if variant.jit_compile else None,
        "model_tflops_per_s": model_flops / seconds / 1e12,
        "mfu": model_flops / seconds / 1e12 / peak if peak else None,
        "mfu_incl_padding": padded_flops / seconds / 1e12 / peak if peak else None,
        "build_seconds": round(build_seconds, 2), "first_steps": first_steps,
        "first_steps_seconds": round(sum(step["seconds"] for step in first_steps), 2),
        "warmup_steps": len(warmup), "warmup_seconds": round(warmup_seconds, 2),
        "xla_compiles_in_timed_steps": compiles_timed,
        "parameters_per_token": per_token, "parameters_per_sequence": per_sequence,
    }


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def compile_cells(row: dict) -> list[object]:
    steps = row["first_steps"]
    return [row["variant"], f"{len(row['widths'])} ({', '.join(map(str, row['widths']))})",
            ", ".join(f"{step['width']}: {step['seconds']}" for step in steps), row["first_steps_seconds"],
            "n/a" if steps[0]["xla_compiles"] is None else f"{sum(step['xla_compiles'] for step in steps)} in "
                                                          f"{sum(step['xla_compile_seconds'] for step in steps):.1f}",
            "n/a" if row["xla_compiles_in_timed_steps"] is None else row["xla_compiles_in_timed_steps"]]


def markdown_report(result: dict) -> str:
    rows, device, settings, config = result["rows"], result["device"], result["settings"], result["model"]
    speeds = markdown_table(
        ["variant", "padding", "precision", "XLA", *THROUGHPUT_COLUMNS, "MFU", "MFU incl. padding"],
        [[row["variant"], "to max_length" if row["pad_to_max_length"] else f"dynamic, x{settings['bucket']}",
          row["precision"], "on" if row["jit_compile"] else "off", *throughput_cells(row), percent(row["mfu"]),
          percent(row["mfu_incl_padding"])] for row in rows])
    compilation = markdown_table(["variant", "shapes (widths)", "first step per shape, s", "first steps total, s",
                                  "XLA compiles, s", "compiles in timed steps"], [compile_cells(row) for row in rows])
    lines = [
        f"GPU bench, {result['date']}: {device['name']} ({device['platform']}"
        f"{', compute capability ' + device['compute_capability'] if device['compute_capability'] else ''}), "
        f"Keras {result['versions']['keras']} on {result['backend']} {result['versions'].get(result['backend'])}; "
        f"peak {result['peak_tflops'] or 'n/a'} TFLOPS ({result['peak_source']}).",
        f"BERT {config['num_layers']} layers, hidden {config['hidden_dim']}, {config['num_heads']} heads, "
        f"intermediate {config['intermediate_dim']}, vocabulary {config['vocabulary_size']:,} (random weights); "
        f"batch {settings['batch_size']}, max_length {settings['max_length']}, {settings['steps']} timed steps "
        f"after {settings['warmup']} warm-up, loop {settings['loop']}; mixed precision: {result['mixed_precision']} "
        f"({result['mixed_precision_reason']}).",
        "", speeds, "", compilation, "",
    ]
    if len(rows) >= 2 and rows[0]["variant"] == "tutorial":
        lines.append(f"{rows[-1]['variant']} / tutorial: "
                     f"{rows[-1]['sequences_per_s'] / rows[0]['sequences_per_s']:.2f}x sequences/s. ")
    return "\n".join(lines) + f"Whole run: {result['total_seconds']:.0f} s."


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--smoke", action="store_true", help="a tiny config for CPU: 2 layers, hidden 32, batch 4, "
                                                            "max_length 64, bucket 32, 3 steps")
    modes.add_argument("--dry-run", action="store_true", help="the full bench on CPU with a 2-layer BERT, hidden 128 "
                                                              "(--steps 8 --warmup 1 unless given)")
    parser.add_argument("--variants", default="tutorial,ours", help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--steps", type=int, help="timed steps per variant (default 40)")
    parser.add_argument("--warmup", type=int, help="warm-up steps after the first steps (default 2)")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--max-length", type=int)
    parser.add_argument("--bucket", type=int, help="dynamic widths are rounded up to a multiple of this (default 128)")
    parser.add_argument("--layers", type=int)
    parser.add_argument("--hidden", type=int)
    parser.add_argument("--heads", type=int)
    parser.add_argument("--intermediate", type=int)
    parser.add_argument("--peak-tflops", type=float, help="the device's dense bf16/fp16 peak; default by GPU name")
    parser.add_argument("--precision", choices=["mixed_bfloat16", "mixed_float16"],
                        help="the mixed-precision policy of ours (default by device)")
    parser.add_argument("--loop", choices=["fit", "train_on_batch"], help="Keras' fit loop (default) or "
                                                                          "train_on_batch, synchronised every step")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--output", type=Path, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    unknown = set(args.variants.split(",")) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; choose from {', '.join(VARIANTS)}")
    return args


def configure(args: argparse.Namespace) -> tuple[BertConfig, Settings]:
    config, settings = BertConfig(), Settings()
    if args.smoke:
        config = BertConfig(num_layers=2, num_heads=2, hidden_dim=32, intermediate_dim=64, max_sequence_length=64)
        settings = Settings(batch_size=4, max_length=64, bucket=32, steps=3, warmup=1, scale_lengths=True)
    elif args.dry_run:
        config = BertConfig(num_layers=2, num_heads=2, hidden_dim=128, intermediate_dim=512)
        settings = Settings(steps=8, warmup=1)
    overrides = {"num_layers": args.layers, "hidden_dim": args.hidden, "num_heads": args.heads,
                 "intermediate_dim": args.intermediate}
    config = replace(config, **{key: value for key, value in overrides.items() if value is not None})
    overrides = {"steps": args.steps, "warmup": args.warmup, "batch_size": args.batch_size,
                 "max_length": args.max_length, "bucket": args.bucket, "seed": args.seed, "loop": args.loop}
    settings = replace(settings, **{key: value for key, value in overrides.items() if value is not None})
    return replace(config, max_sequence_length=max(config.max_sequence_length, settings.max_length)), settings


def main(argv: list[str] | None = None) -> dict:
    started = time.perf_counter()
    args = parse_args(argv)
    config, settings = configure(args)
    if "KERAS_BACKEND" not in os.environ and importlib.util.find_spec("jax") is not None:
        os.environ["KERAS_BACKEND"] = "jax"  # before keras is imported; Keras' own default is tensorflow
    import keras

    backend = keras.backend.backend()
    device = describe_device(backend)
    policy, reason = mixed_policy(device)
    if args.precision:
        policy, reason = args.precision, "chosen with --precision"
    peak = args.peak_tflops or default_peak_tflops(device)
    peak_source = ("--peak-tflops" if args.peak_tflops else "dense bf16/fp16 data-sheet figure for this GPU" if peak
                   else "unknown device: pass --peak-tflops")
    log(f"{device['name']} on {backend}; {config}; {settings}")

    rng = np.random.default_rng(settings.seed)
    table = json.loads(LENGTHS_TABLE.read_text())
    lengths = sample_lengths(table, settings.steps * settings.batch_size, settings.max_length,
                             settings.scale_lengths, rng)
    split = synthetic_split(lengths, settings.max_length, config.vocabulary_size, rng)
    compiles = CompileCounter(backend)
    rows = [run_variant(VARIANTS[name], config, settings, split, policy, peak, compiles)
            for name in args.variants.split(",")]
    result = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python", "-m", "bench.gpu_bench", *(sys.argv[1:] if argv is None else argv)]),
        "backend": backend, "device": device, "versions": versions(backend),
        "peak_tflops": peak, "peak_source": peak_source, "mixed_precision": policy, "mixed_precision_reason": reason,
        "model": asdict(config), "settings": asdict(settings),
        "lengths": {"table": LENGTHS_TABLE.name, "mean_sampled": round(float(lengths.mean()), 1),
                    "source": table["source"]},
        "rows": rows,
        "total_seconds": round(time.perf_counter() - started, 1),
        "heavy_modules_loaded": sorted(name for name in HEAVY_MODULES if name in sys.modules),
    }
    print(markdown_report(result))
    if args.output:
        args.output.write_text(json.dumps(result, indent=1) + "\n")
        log(f"wrote {args.output}")
    return result


if __name__ == "__main__":
    main()
