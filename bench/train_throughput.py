"""Training throughput of our input pipeline (dynamic padding, length-grouped batches) vs the tutorial's padding.

    python -m bench.train_throughput                  # max_length 256 and 512, batch 32, 2 warm-up + 16 timed steps
    python -m bench.train_throughput --steps 8 --max-lengths 512 --no-profile
    python -m bench.train_throughput --max-lengths 128 512 --variants ours ours-keras_hub \\
        --precisions float32 mixed_bfloat16 --no-profile   # bf16 against float32, both libraries

Fine-tunes the real MiniLM checkpoint (TFBertForSequenceClassification, the tutorial's Adam and loss) with
Keras `model.fit` on the same seeded sample of IMDB reviews (HTML line breaks stripped, head truncation), batch 32,
for the variants of bench/training.py (the GPU bench, bench/gpu_bench.py, compares the same on a GPU):

    tutorial: every review padded to max_length (pad_to_max_length=True, group_by_length=False)
    ours:     dynamic padding to the longest review of the batch, rounded up to 8, length-grouped batches
    ours-keras_hub: ours, through model.library keras_hub (KerasHub's BertTextClassifier, Keras 3 on TensorFlow)
              from the same weights as model.safetensors, with Keras 3's Adam and loss

Compare rows of one invocation, not absolute figures from different days. `--precisions` runs every row under each
Keras dtype policy named (float32, mixed_bfloat16), whatever the CPU: the machine line says whether this CPU
computes bfloat16 natively (AVX512_BF16 or AMX), which is what `train.mixed_precision` on a CPU asks for.

Each (max_length, variant, precision) runs in its own fresh process (`--worker`): it warms up on `--warmup` batches
of other reviews (tracing the train function), then times one full pass over the `--steps` measured batches, so
every variant times exactly the same reviews (batch production by tf.data included). The train function's trace
count is read before and after the timed pass; contention is the CPU seconds other processes used during it.
With --profile (default) one extra process splits a tutorial-padded step at the largest max_length into forward,
backward and optimizer update, and times host batch production.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.common import (
    LABELS,
    ROOT,
    SHARED_CSV,
    SHARED_MINILM,
    SHARED_MINILM_SAFETENSORS,
    machine_busy_seconds,
    machine_line,
    markdown_table,
    median_seconds,
    own_cpu_seconds,
    require,
)
from bench.training import (
    THROUGHPUT_COLUMNS,
    Variant,
    batch_source,
    epoch_shape,
    ratio_table,
    throughput,
    throughput_cells,
)

VARIANTS = {"tutorial": Variant("tutorial", pad_to_max_length=True, group_by_length=False),
            "ours": Variant("ours", pad_to_max_length=False, group_by_length=True),
            "ours-keras_hub": Variant("ours-keras_hub", pad_to_max_length=False, group_by_length=True)}
PRECISIONS = ("float32", "mixed_bfloat16")
TARGET_RATIO, TARGET_MAX_LENGTH = 1.8, 512
PAD_TO_MULTIPLE_OF = 8
SEED = 13


# ---------------------------------------------------------------------------------------------------- worker


def setup_tensorflow(precision: str) -> Any:
    """tf, seeded, both Kerases under `precision` (bench.training imported imdb_bert, which selects tf-keras)."""
    import keras
    import tensorflow as tf

    tf.keras.utils.set_random_seed(SEED)
    tf.keras.mixed_precision.set_global_policy(precision)  # tf-keras: transformers
    keras.mixed_precision.set_global_policy(precision)  # Keras 3: keras_hub
    return tf


def sample_splits(max_length: int, batch_size: int, warmup: int, steps: int, seed: int) -> tuple[Any, Any, Any]:
    """(warm-up split, measured split, untruncated lengths of the measured reviews): disjoint seeded samples of
    reviews, head-truncated."""
    import numpy as np

    from imdb_bert.data import read_reviews, strip_html_line_breaks
    from imdb_bert.tokenizer import load_tokenizer
    from imdb_bert.tokens import TokenizedSplit, encode, id_dtype, pad

    reviews = read_reviews(SHARED_CSV, "review", "sentiment", LABELS)
    rows = np.random.default_rng(seed).choice(len(reviews), size=(warmup + steps) * batch_size, replace=False)
    texts = strip_html_line_breaks(reviews["text"].iloc[rows]).tolist()
    labels = reviews["label"].to_numpy()[rows].astype(np.int8)
    tokenizer = load_tokenizer(str(SHARED_MINILM))
    sequences, full_lengths = encode(tokenizer, texts, max_length, "head")
    split = pad(sequences, max_length, tokenizer.pad_token_id, id_dtype(tokenizer.vocab_size))
    cut = warmup * batch_size

    def part(start: int, stop: int) -> TokenizedSplit:
        return TokenizedSplit(split.input_ids[start:stop], split.lengths[start:stop], labels[start:stop])

    return part(0, cut), part(cut, len(rows)), np.asarray(full_lengths[cut:])


def compiled_model(library: str) -> Any:
    """The MiniLM with the tutorial's Adam(3e-5, clipnorm 1) through a model library (params.yaml's other train
    settings, which Adam does not use)."""
    from imdb_bert.models import get_library
    from imdb_bert.params import load_params

    checkpoint = SHARED_MINILM_SAFETENSORS if library == "keras_hub" else SHARED_MINILM
    model = get_library(library).build(str(checkpoint), LABELS, "pretrained")
    adam = replace(load_params(ROOT / "params.yaml").train, optimizer="adam", learning_rate=3e-5, epsilon=1e-8,
                   clipnorm=1.0)
    get_library(library).compile(model, adam, total_steps=1, jit_compile=False)
    return model


def step_timer(callback_base: type) -> Any:
    """A callback marking the first step's start and the last step's end (logs are fetched as numbers, so the step
    has finished)."""

    class StepTimer(callback_base):
        first_begin = last_end = 0.0

        def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
            if batch == 0:
                self.first_begin = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            float((logs or {}).get("loss", 0.0))
            self.last_end = time.perf_counter()

    return StepTimer()


def tracing_count(model: Any) -> int | None:
    getter = getattr(getattr(model, "train_function", None), "experimental_get_tracing_count", None)
    return int(getter()) if getter else None


def run_worker(args: argparse.Namespace) -> dict:
    tf = setup_tensorflow(args.precision)
    from imdb_bert.models import get_library

    variant = VARIANTS[args.worker]
    warm_split, split, full_lengths = sample_splits(args.max_length, args.batch_size, args.warmup, args.steps,
                                                    args.seed)
    warm_source, source = (batch_source(part, variant, args.batch_size, PAD_TO_MULTIPLE_OF, SEED)
                           for part in (warm_split, split))
    library = get_library("keras_hub" if args.worker.endswith("keras_hub") else "transformers")
    model = compiled_model(library.name)
    library.fit(model, library.fit_data(model, warm_source), epochs=1, verbose=0, shuffle=False)
    traces_after_warmup = tracing_count(model)

    lengths, widths = epoch_shape(source)
    timer = step_timer(library.callback_base())
    load_before = os.getloadavg()[0]
    busy, own = machine_busy_seconds(), own_cpu_seconds()
    library.fit(model, library.fit_data(model, source), epochs=1, verbose=0, callbacks=[timer], shuffle=False)
    busy, own = machine_busy_seconds() - busy, own_cpu_seconds() - own
    return {
        "variant": args.worker, "precision": args.precision, "max_length": args.max_length,
        **throughput(lengths, widths, timer.last_end - timer.first_begin),
        "mean_full_length": float(full_lengths.mean()), "truncated": int((full_lengths > args.max_length).sum()),
        "traces_after_warmup": traces_after_warmup, "traces_after_timed": tracing_count(model),
        "load_before_timed": load_before, "own_cpu": own, "others_cpu": max(0.0, busy - own),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": [tf.config.threading.get_intra_op_parallelism_threads(),
                    tf.config.threading.get_inter_op_parallelism_threads()],
    }


# ---------------------------------------------------------------------------------------------------- profile


def step_functions(tf: Any, model: Any, features: dict, labels: Any) -> dict[str, Any]:
    """The parts of one training step, each its own tf.function, traced."""
    loss_fn, optimizer, variables = model.loss, model.optimizer, model.trainable_variables
    embedding = next(v for v in variables if "word_embeddings" in v.name)

    def loss() -> Any:
        return loss_fn(labels, model(features, training=True).logits)

    @tf.function
    def forward_backward() -> Any:
        with tf.GradientTape() as tape:
            value = loss()
        return tape.gradient(value, variables)

    @tf.function
    def full_step() -> None:
        optimizer.apply_gradients(zip(forward_backward(), variables, strict=True))

    grads = forward_backward()
    embedding_grad = grads[[v is embedding for v in variables].index(True)]
    apply = tf.function(lambda: optimizer.apply_gradients(zip(grads, variables, strict=True)))
    apply_embedding = tf.function(lambda: optimizer.apply_gradients([(embedding_grad, embedding)]))
    parts = {"forward": tf.function(loss), "forward_backward": forward_backward, "apply_all": apply,
             "apply_embedding": apply_embedding, "full_step": full_step,
             "train_on_batch": lambda: model.train_on_batch(features, labels)}
    for part in parts.values():
        part()  # traces (and builds the optimizer slots)
    return {"parts": parts, "embedding": embedding, "embedding_grad": embedding_grad, "variables": variables}


def run_profile(args: argparse.Namespace) -> dict:
    """Split one tutorial-padded training step into forward, backward and optimizer update (median seconds)."""
    import numpy as np

    tf = setup_tensorflow("float32")
    _, split, _ = sample_splits(args.max_length, args.batch_size, 0, 1, args.seed)
    source = batch_source(split, VARIANTS["tutorial"], args.batch_size, PAD_TO_MULTIPLE_OF, SEED)
    host = median_seconds(lambda: next(iter(source())), 5)
    features, labels = next(iter(source()))
    features = {name: tf.constant(value) for name, value in features.items()}
    steps = step_functions(tf, compiled_model("transformers"), features, tf.constant(labels))
    embedding, grad = steps["embedding"], steps["embedding_grad"]
    result = {"max_length": args.max_length, "batch_size": args.batch_size, "host_batch": host,
              **{name: median_seconds(part, args.repeats) for name, part in steps["parts"].items()},
              "embedding_grad_type": type(grad).__name__, "embedding_shape": list(embedding.shape),
              "trainable_parameters": int(sum(np.prod(v.shape) for v in steps["variables"])),
              "embedding_parameters": int(np.prod(embedding.shape))}
    if isinstance(grad, tf.IndexedSlices):
        result["embedding_grad_rows"] = int(grad.indices.shape[0])
    return result


# ---------------------------------------------------------------------------------------------------- parent


def run_child(args: argparse.Namespace, worker: str, max_length: int, precision: str = "float32") -> dict | None:
    """Run one worker process; its result (None on failure), with its process wall seconds."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "result.json"
        command = [sys.executable, "-m", "bench.train_throughput", "--worker", worker, "--max-length",
                   str(max_length), "--out", str(out), "--batch-size", str(args.batch_size), "--warmup",
                   str(args.warmup), "--steps", str(args.steps), "--seed", str(args.seed), "--precision", precision,
                   "--repeats", str(args.repeats)]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True,
                              text=True)
        if done.returncode != 0 or not out.is_file():
            print(f"{worker} ({precision}) at max_length {max_length} failed (exit {done.returncode}):\n"
                  f"{done.stderr[-3000:]}", file=sys.stderr)
            return None
        return {**json.loads(out.read_text()), "wall": time.perf_counter() - start}


def label(variant: str, precision: str) -> str:
    return variant if precision == "float32" else f"{variant}, {precision}"


def print_throughput(args: argparse.Namespace, runs: dict[tuple[int, str, str], dict]) -> None:
    first = next(iter(runs.values()), None)
    print(f"MiniLM-L6-H384 ({SHARED_MINILM.name}), Adam(3e-5, clipnorm 1.0), batch {args.batch_size}, {args.warmup} "
          f"warm-up steps on other reviews, then {args.steps} timed steps = the same {args.steps * args.batch_size} "
          f"reviews for every row (seed {args.seed}, head truncation). {machine_line()}; TF intra/inter-op threads "
          f"{first['threads'] if first else '?'} (0 = all cores).\n")
    print(markdown_table(["max_length", "variant", *THROUGHPUT_COLUMNS, "mean width", "timed s",
                          "traces (warm-up → timed)", "load before", "others' CPU s"],
                         [[m, label(v, p), *throughput_cells(r), f"{r['mean_width']:.1f}", f"{r['seconds']:.1f}",
                           f"{r['traces_after_warmup']} → {r['traces_after_timed']}", f"{r['load_before_timed']:.2f}",
                           f"{r['others_cpu']:.1f}"] for (m, v, p), r in runs.items()]))
    by_label = {(m, label(v, p)): r for (m, v, p), r in runs.items()}
    pairs = [("ours", "tutorial"), ("ours-keras_hub", "ours")]
    pairs += [(label(v, p), v) for v in args.variants for p in args.precisions if p != "float32"]
    print("\n" + ratio_table(by_label, pairs, "max_length"))
    ours, tutorial = by_label.get((TARGET_MAX_LENGTH, "ours")), by_label.get((TARGET_MAX_LENGTH, "tutorial"))
    if ours and tutorial:
        ratio = ours["sequences_per_s"] / tutorial["sequences_per_s"]
        print(f"\nTarget at max_length {TARGET_MAX_LENGTH}: ours / tutorial ≥ {TARGET_RATIO}x: "
              f"{'met' if ratio >= TARGET_RATIO else 'NOT met'} ({ratio:.2f}x).")
    print("\nSample: " + "; ".join(f"max_length {m}: {r['real_tokens'] / r['sequences']:.0f} tokens per review after "
                                   f"truncation ({r['mean_full_length']:.0f} untruncated), {r['truncated']} of "
                                   f"{r['sequences']} truncated" for (m, v, p), r in runs.items()
                                   if v == "ours" and p == "float32") + ".")
    print("\nRuns (in order): " + "; ".join(
        f"{m} {label(v, p)}: own CPU {r['own_cpu']:.0f} s, peak RSS {r['max_rss_mb']:.0f} MB, process wall "
        f"{r['wall']:.0f} s" for (m, v, p), r in runs.items()) + ".")


def print_profile(args: argparse.Namespace, profile: dict) -> None:
    step = profile["full_step"]
    backward = profile["forward_backward"] - profile["forward"]
    print(f"\n### One tutorial-padded step at max_length {profile['max_length']}, batch {profile['batch_size']} "
          f"(median of {args.repeats}; separate tf.functions)\n")
    rows = [("host: build one batch (numpy, BatchSource)", profile["host_batch"]),
            ("forward (training=True)", profile["forward"]),
            ("backward (forward+gradients − forward)", backward),
            ("optimizer apply, all variables", profile["apply_all"]),
            (f"optimizer apply, word embeddings only {tuple(profile['embedding_shape'])}", profile["apply_embedding"]),
            ("forward + backward + apply in one tf.function", step),
            ("Keras train_on_batch (same step, plus Keras' per-call data handling)", profile["train_on_batch"])]
    print(markdown_table(["part", "seconds", "share of the one-function step"],
                         [[name, f"{seconds:.4f}", f"{seconds / step:.1%}"] for name, seconds in rows]))
    grad_rows = f", {profile['embedding_grad_rows']} gathered rows" if "embedding_grad_rows" in profile else ""
    print(f"\nWord-embedding gradient type: {profile['embedding_grad_type']}{grad_rows}; "
          f"{profile['embedding_parameters']:,} of {profile['trainable_parameters']:,} trainable parameters are word "
          f"embeddings.")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-lengths", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=2, help="warm-up steps (on other reviews)")
    parser.add_argument("--steps", type=int, default=16, help="timed steps: the measured reviews are steps x batch")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True,
                        help="also split one static step at the largest max_length into its parts")
    parser.add_argument("--repeats", type=int, default=3, help="profile: repetitions per part (median)")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=["float32"],
                        help="Keras dtype policies to run every row under (default: float32)")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32", help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=[*VARIANTS, "profile"], help=argparse.SUPPRESS)
    parser.add_argument("--max-length", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.worker:
        result = run_profile(args) if args.worker == "profile" else run_worker(args)
        Path(args.out).write_text(json.dumps(result))
        return
    require(SHARED_CSV, SHARED_MINILM, *([SHARED_MINILM_SAFETENSORS] if "ours-keras_hub" in args.variants else []))
    started = datetime.datetime.now(datetime.UTC)
    runs = {}
    for max_length in args.max_lengths:
        for variant in args.variants:
            for precision in args.precisions:
                print(f"running {variant} ({precision}) at max_length {max_length} ...", file=sys.stderr, flush=True)
                result = run_child(args, variant, max_length, precision)
                if result is not None:
                    runs[max_length, variant, precision] = result
    print(f"\n## Training throughput: tutorial padding vs ours ({started:%Y-%m-%d %H:%M} UTC)\n")
    print_throughput(args, runs)
    if args.profile:
        print(f"profiling one step at max_length {max(args.max_lengths)} ...", file=sys.stderr, flush=True)
        profile = run_child(args, "profile", max(args.max_lengths))
        if profile:
            print_profile(args, profile)


if __name__ == "__main__":
    main()
