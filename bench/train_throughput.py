"""Training throughput of our input pipeline (dynamic padding, length-grouped batches) vs the tutorial's padding.

    python bench/train_throughput.py                  # max_length 256 and 512, batch 32, 2 warm-up + 16 timed steps
    python bench/train_throughput.py --steps 8 --max-lengths 512 --no-profile
    python bench/train_throughput.py --max-lengths 128 512 --variants ours ours-keras_hub \
        --precisions float32 mixed_bfloat16 --no-profile   # bf16 against float32, both libraries

Fine-tunes the real MiniLM checkpoint (TFBertForSequenceClassification, the tutorial's Adam and loss) with
Keras `model.fit` on the same seeded sample of IMDB reviews (HTML line breaks stripped, head truncation) for two
variants of `imdb_bert.batches.BatchSource`, batch size 32:

    tutorial: every review padded to max_length (pad_to_max_length=True, group_by_length=False)
    ours:     dynamic padding to the longest review of the batch, rounded up to 8, length-grouped batches
    ours-keras_hub: ours, through model.library keras_hub (KerasHub's BertTextClassifier, Keras 3 on TensorFlow)
              from the same weights as model.safetensors, with Keras 3's Adam and loss

The keras_hub row runs in the same invocation as the transformers rows: compare their ratio, not absolute figures
from different days. `--precisions` runs every row under each Keras dtype policy named (float32, mixed_bfloat16),
whatever the CPU: the report says whether this CPU computes bfloat16 natively (AVX512_BF16 or AMX), which is
what `train.mixed_precision` on a CPU asks for (src/imdb_bert/models/precision.py).

Each (max_length, variant) runs in its own fresh process (`--worker`): it warms up on `--warmup` batches of other
reviews (tracing the train function), then times one full pass over the `--steps` measured batches, so both
variants time exactly the same reviews. Reviews/s = reviews in the timed pass / its wall seconds (batch production
by tf.data included). The train function's trace count is read before and after the timed pass. Contention is
reported as the 1-minute load average before each run and the CPU seconds other processes used during the timed
pass (/proc/stat minus the worker's own CPU time). With --profile (default) one extra process splits a tutorial-padded
step at the largest max_length into forward, backward and optimizer update, and times host batch production.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REVIEWS_CSV = ROOT.parent / "shared/data/imdb/IMDB Dataset.csv"
CHECKPOINT = ROOT.parent / "shared/models/minilm-l6-h384-uncased"
SAFETENSORS = ROOT.parent / "shared/models/minilm-l6-h384-uncased-safetensors"  # the same weights, Hub form
LABELS = ["negative", "positive"]
INPUT_NAMES = ["input_ids", "token_type_ids", "attention_mask"]
VARIANTS = ("tutorial", "ours", "ours-keras_hub")
PRECISIONS = ("float32", "mixed_bfloat16")
TARGET_RATIO, TARGET_MAX_LENGTH = 1.8, 512
PAD_TO_MULTIPLE_OF = 8


# ---------------------------------------------------------------------------------------------------- machine


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all but idle and iowait) since boot."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def busiest_processes(seconds: float = 1.0, top: int = 3) -> list[tuple[str, float]]:
    """The processes that used the most CPU over `seconds` (command name, share of one core), from /proc."""

    def sample() -> dict[int, tuple[str, int]]:
        found = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
            except OSError:
                continue
            name, fields = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
            found[int(stat.parent.name)] = (name, int(fields[11]) + int(fields[12]))  # utime + stime
        return found

    before = sample()
    time.sleep(seconds)
    after = sample()
    ticks = os.sysconf("SC_CLK_TCK") * seconds
    used = [(name, (total - before[pid][1]) / ticks) for pid, (name, total) in after.items()
            if pid in before and pid != os.getpid()]
    return sorted((item for item in used if item[1] > 0.02), key=lambda item: -item[1])[:top]


# ---------------------------------------------------------------------------------------------------- worker


def setup_tensorflow() -> Any:
    """Import the project (TF_USE_LEGACY_KERAS before TensorFlow) and return tf, seeded."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    importlib.import_module("imdb_bert")  # first: it sets TF_USE_LEGACY_KERAS=1 before TensorFlow loads
    import tensorflow as tf

    tf.keras.utils.set_random_seed(13)
    return tf


def sample_splits(max_length: int, batch_size: int, warmup: int, steps: int, seed: int) -> tuple[Any, Any, Any]:
    """(warm-up split, measured split, tokenizer): disjoint seeded samples of reviews, head-truncated."""
    import numpy as np

    from imdb_bert.data import read_reviews, strip_html_line_breaks
    from imdb_bert.tokenizer import load_tokenizer
    from imdb_bert.tokens import TokenizedSplit, encode, id_dtype, pad

    reviews = read_reviews(REVIEWS_CSV, "review", "sentiment", LABELS)
    rows = np.random.default_rng(seed).choice(len(reviews), size=(warmup + steps) * batch_size, replace=False)
    texts = strip_html_line_breaks(reviews["text"].iloc[rows]).tolist()
    labels = reviews["label"].to_numpy()[rows].astype(np.int8)
    tokenizer = load_tokenizer(str(CHECKPOINT))
    sequences, full_lengths = encode(tokenizer, texts, max_length, "head")
    split = pad(sequences, max_length, tokenizer.pad_token_id, id_dtype(tokenizer.vocab_size))
    cut = warmup * batch_size

    def part(start: int, stop: int) -> TokenizedSplit:
        return TokenizedSplit(split.input_ids[start:stop], split.lengths[start:stop], labels[start:stop])

    measured = part(cut, len(rows))
    measured_full = np.asarray(full_lengths[cut:])
    return part(0, cut), (measured, measured_full), tokenizer


def recording_source(split: Any, variant: str, batch_size: int) -> Any:
    """Our BatchSource for `variant`, remembering the width of every batch it yields (in order)."""
    from imdb_bert.batches import BatchSource

    class RecordingSource(BatchSource):
        widths: list[int]

        def __call__(self):  # noqa: ANN204
            for features, labels in super().__call__():
                self.widths.append(int(next(iter(features.values())).shape[1]))  # any input: all one width
                yield features, labels

    static = variant == "tutorial"
    source = RecordingSource(split, INPUT_NAMES, batch_size, shuffle_seed=13, group_by_length=not static,
                             pad_to_max_length=static, pad_to_multiple_of=PAD_TO_MULTIPLE_OF)
    source.widths = []
    return source


def compiled_model(library: str) -> Any:
    """The MiniLM with the tutorial's Adam(3e-5, clipnorm 1) through a model library."""
    from types import SimpleNamespace

    from imdb_bert.models import get_library

    checkpoint = SAFETENSORS if library == "keras_hub" else CHECKPOINT
    model = get_library(library).build(str(checkpoint), LABELS, "pretrained")
    adam = SimpleNamespace(optimizer="adam", learning_rate=3e-5, epsilon=1e-8, clipnorm=1.0)
    get_library(library).compile(model, adam, total_steps=1, jit_compile=False)
    return model


def step_timer(callback_base: type) -> Any:
    """A callback recording each step's wall seconds (logs are fetched as numbers, so the step has finished)."""

    class StepTimer(callback_base):
        def __init__(self) -> None:
            super().__init__()
            self.seconds: list[float] = []
            self.losses: list[float] = []
            self.first_begin = self.last_end = 0.0
            self._begin = 0.0

        def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
            self._begin = time.perf_counter()
            if batch == 0:
                self.first_begin = self._begin

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            self.losses.append(float((logs or {}).get("loss", float("nan"))))
            self.last_end = time.perf_counter()
            self.seconds.append(self.last_end - self._begin)

    return StepTimer()


def tracing_count(model: Any) -> int | None:
    function = getattr(model, "train_function", None)
    getter = getattr(function, "experimental_get_tracing_count", None)
    return int(getter()) if getter else None


def set_policy(tf: Any, policy: str) -> None:
    """The global dtype policy of both Kerases: tf-keras (transformers) and Keras 3 (keras_hub)."""
    import keras

    tf.keras.mixed_precision.set_global_policy(policy)
    keras.mixed_precision.set_global_policy(policy)


def run_worker(args: argparse.Namespace) -> dict:
    import numpy as np

    tf = setup_tensorflow()
    set_policy(tf, args.precision)
    from imdb_bert.models import get_library

    warm_split, (split, full_lengths), _ = sample_splits(args.max_length, args.batch_size, args.warmup, args.steps,
                                                         args.seed)
    warm_source = recording_source(warm_split, args.worker, args.batch_size)
    source = recording_source(split, args.worker, args.batch_size)
    library = get_library("keras_hub" if args.worker.endswith("keras_hub") else "transformers")
    model = compiled_model(library.name)

    warm_timer = step_timer(library.callback_base())
    library.fit(model, library.fit_data(model, warm_source), epochs=1, verbose=0, callbacks=[warm_timer], shuffle=False)
    traces_after_warmup = tracing_count(model)

    timer = step_timer(library.callback_base())
    load_before = os.getloadavg()[0]
    busy, own = machine_busy_seconds(), own_cpu_seconds()
    library.fit(model, library.fit_data(model, source), epochs=1, verbose=0, callbacks=[timer], shuffle=False)
    busy, own = machine_busy_seconds() - busy, own_cpu_seconds() - own
    seconds = timer.last_end - timer.first_begin
    widths = source.widths[:len(timer.seconds)]
    lengths = np.asarray(split.lengths)
    return {
        "variant": args.worker, "precision": args.precision, "max_length": args.max_length,
        "batch_size": args.batch_size,
        "warmup_seconds": warm_timer.seconds, "warmup_widths": warm_source.widths,
        "step_seconds": timer.seconds, "widths": widths, "losses": timer.losses, "seconds": seconds,
        "reviews": int(len(lengths)), "padded_tokens": int(sum(widths) * args.batch_size),
        "real_tokens": int(lengths.sum()), "mean_length": float(lengths.mean()),
        "mean_full_length": float(full_lengths.mean()), "truncated": int((full_lengths > args.max_length).sum()),
        "traces_after_warmup": traces_after_warmup, "traces_after_timed": tracing_count(model),
        "load_before_timed": load_before, "own_cpu": own, "others_cpu": max(0.0, busy - own),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": [tf.config.threading.get_intra_op_parallelism_threads(),
                    tf.config.threading.get_inter_op_parallelism_threads()],
    }


# ---------------------------------------------------------------------------------------------------- profile


def median_seconds(run: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def run_profile(args: argparse.Namespace) -> dict:
    """Split one tutorial-padded training step into forward, backward and optimizer update (median seconds)."""
    import numpy as np

    tf = setup_tensorflow()
    _, (split, _), _ = sample_splits(args.max_length, args.batch_size, 0, 1, args.seed)
    source = recording_source(split, "tutorial", args.batch_size)
    features, labels = next(iter(source()))
    host = median_seconds(lambda: next(iter(source())), 5)
    features = {name: tf.constant(value) for name, value in features.items()}
    labels = tf.constant(labels)
    model = compiled_model("transformers")
    loss_fn, optimizer = model.loss, model.optimizer
    variables = model.trainable_variables
    embedding = next(v for v in variables if "word_embeddings" in v.name)

    @tf.function
    def forward() -> Any:
        return loss_fn(labels, model(features, training=True).logits)

    @tf.function
    def forward_backward() -> Any:
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(features, training=True).logits)
        return tape.gradient(loss, variables)

    @tf.function
    def apply(grads: list) -> None:
        optimizer.apply_gradients(zip(grads, variables, strict=True))

    @tf.function
    def full_step() -> None:
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(features, training=True).logits)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))

    @tf.function
    def apply_embedding(grad: Any) -> None:
        optimizer.apply_gradients([(grad, embedding)])

    grads = forward_backward()
    kinds = {type(g).__name__ for v, g in zip(variables, grads, strict=True) if v is embedding}
    apply(grads)  # builds the optimizer slots and traces
    embedding_grad = grads[[v is embedding for v in variables].index(True)]
    apply_embedding(embedding_grad)
    forward()
    full_step()
    model.train_on_batch(features, labels)  # traces Keras' train function
    result = {
        "max_length": args.max_length, "batch_size": args.batch_size, "host_batch": host,
        "forward": median_seconds(forward, args.repeats),
        "forward_backward": median_seconds(forward_backward, args.repeats),
        "apply_all": median_seconds(lambda: apply(grads), max(3, args.repeats)),
        "apply_embedding": median_seconds(lambda: apply_embedding(embedding_grad), max(3, args.repeats)),
        "full_step": median_seconds(full_step, args.repeats),
        "train_on_batch": median_seconds(lambda: model.train_on_batch(features, labels), args.repeats),
        "embedding_grad_type": sorted(kinds), "embedding_shape": list(embedding.shape),
        "trainable_parameters": int(sum(np.prod(v.shape) for v in variables)),
        "embedding_parameters": int(np.prod(embedding.shape)),
    }
    if isinstance(embedding_grad, tf.IndexedSlices):
        result["embedding_grad_rows"] = int(embedding_grad.indices.shape[0])
    return result


# ---------------------------------------------------------------------------------------------------- parent


def full_scale_widths(max_lengths: list[int], batch_size: int, seed: int, rows: int) -> dict[int, float]:
    """Mean padded width of our batches over `rows` other reviews, grouped in windows as in a real epoch.

    The timed sample is smaller than one grouping window (GROUP_WINDOW_BATCHES batches), so its batches mix more
    lengths than a real epoch's; this host-only check (no TensorFlow) shows the width a full run would see.
    """
    import numpy as np

    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    importlib.import_module("imdb_bert")
    from imdb_bert.batches import batch_plan, batch_width
    from imdb_bert.data import read_reviews, strip_html_line_breaks
    from imdb_bert.tokenizer import load_tokenizer
    from imdb_bert.tokens import encode

    reviews = read_reviews(REVIEWS_CSV, "review", "sentiment", LABELS)
    picked = np.random.default_rng([seed, 1]).choice(len(reviews), size=min(rows, len(reviews)), replace=False)
    texts = strip_html_line_breaks(reviews["text"].iloc[picked]).tolist()
    _, full_lengths = encode(load_tokenizer(str(CHECKPOINT)), texts, max(max_lengths), "head")
    widths = {}
    for max_length in max_lengths:
        lengths = np.minimum(np.asarray(full_lengths), max_length)
        plan = batch_plan(lengths, batch_size, np.random.default_rng([13, 0]), group_by_length=True)
        widths[max_length] = float(np.mean([batch_width(lengths[batch], max_length, False, PAD_TO_MULTIPLE_OF)
                                            for batch in plan]))
    widths[0] = float(np.mean(full_lengths))
    return widths


def run_child(args: argparse.Namespace, worker: str, max_length: int, extra: list[str],
              precision: str = "float32") -> tuple[dict | None, dict]:
    """Run one worker process; return its result (None on failure) and what the machine looked like before."""
    context = {"load_before": os.getloadavg(), "busy_before": busiest_processes()}
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "result.json"
        command = [sys.executable, __file__, "--worker", worker, "--max-length", str(max_length), "--out", str(out),
                   "--batch-size", str(args.batch_size), "--warmup", str(args.warmup), "--steps", str(args.steps),
                   "--seed", str(args.seed), "--precision", precision, *extra]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True,
                              text=True)
        context["wall"] = time.perf_counter() - start
        if done.returncode != 0 or not out.is_file():
            print(f"{worker} ({precision}) at max_length {max_length} failed (exit {done.returncode}):\n"
                  f"{done.stderr[-3000:]}",
                  file=sys.stderr)
            return None, context
        return json.loads(out.read_text()), context


def describe_run(result: dict, context: dict) -> str:
    load = context["load_before"]
    busy = ", ".join(f"{name} {share:.0%}" for name, share in context["busy_before"]) or "none"
    per_step = ", ".join(f"{w}:{s:.1f}s" for w, s in zip(result["widths"], result["step_seconds"], strict=True))
    warm = ", ".join(f"{w}:{s:.1f}s"
                     for w, s in zip(result["warmup_widths"], result["warmup_seconds"], strict=True))
    return (f"- max_length {result['max_length']}, {result['variant']}, {result['precision']}: "
            f"load average before {load[0]:.2f} / "
            f"{load[1]:.2f} / {load[2]:.2f} (1/5/15 min), busiest other processes over 1 s before: {busy}; "
            f"during the timed pass this process used {result['own_cpu']:.0f} CPU s, others {result['others_cpu']:.1f}"
            f" CPU s; train_function traces: {result['traces_after_warmup']} after warm-up, "
            f"{result['traces_after_timed']} after the timed pass; peak RSS {result['max_rss_mb']:.0f} MB; "
            f"process wall {context['wall']:.0f} s.\n  warm-up width:seconds {warm}; timed width:seconds {per_step}")


def print_precisions(args: argparse.Namespace, runs: dict[tuple[int, str, str], dict]) -> None:
    """bf16 against float32 for every (max_length, variant) that ran under both."""
    from imdb_bert.models.precision import cpu_bf16_features

    others = [p for p in args.precisions if p != "float32"]
    if "float32" not in args.precisions or not others:
        return
    native = cpu_bf16_features()
    cpu = f"native bfloat16, {', '.join(native)}" if native else "no native bfloat16 (no AVX512_BF16 or AMX): emulated"
    print(f"\n### Precision: {', '.join(others)} against float32 (this CPU: {cpu})\n")
    print("| max_length | variant | policy | float32 reviews/s | policy reviews/s | policy / float32 |")
    print("|---:|---|---|---:|---:|---:|")
    for max_length in args.max_lengths:
        for variant in args.variants:
            base = runs.get((max_length, variant, "float32"))
            for policy in others:
                other = runs.get((max_length, variant, policy))
                if base and other:
                    speeds = [r["reviews"] / r["seconds"] for r in (base, other)]
                    print(f"| {max_length} | {variant} | {policy} | {speeds[0]:.2f} | {speeds[1]:.2f} "
                          f"| {speeds[1] / speeds[0]:.2f}x |")
                else:
                    print(f"| {max_length} | {variant} | {policy} | {'' if base else 'failed'} "
                          f"| {'' if other else 'failed'} | |")


def print_report(args: argparse.Namespace, runs: dict[tuple[int, str, str], dict], contexts: dict,
                 profile: dict | None, full_widths: dict[int, float], started: datetime.datetime) -> None:
    import numpy as np

    results = {(m, v): r for (m, v, p), r in runs.items() if p == "float32"}  # the comparisons below: float32
    first = next(iter(runs.values()), None)
    print(f"\n## Training throughput: tutorial padding vs ours ({started:%Y-%m-%d %H:%M} UTC)\n")
    print(f"MiniLM-L6-H384 ({CHECKPOINT.name}), TFBertForSequenceClassification, Adam(3e-5, clipnorm 1.0), "
          f"batch {args.batch_size}, {args.warmup} warm-up steps on other reviews, then {args.steps} timed steps "
          f"= the same {args.steps * args.batch_size} reviews for every row (seed {args.seed}, head truncation). "
          f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
          f"TF intra/inter-op threads {first['threads'] if first else '?'} (0 = all cores).\n")
    print("| max_length | variant | reviews/s | padded tokens/s | mean width | real tokens / padded | s/step "
          "| timed s | traces (warm-up → timed) | load avg before | others' CPU s |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for (max_length, variant, policy), r in runs.items():
        widths = r["widths"]
        label = variant if policy == "float32" else f"{variant}, {policy}"
        print(f"| {max_length} | {label} | {r['reviews'] / r['seconds']:.2f} "
              f"| {r['padded_tokens'] / r['seconds']:,.0f} | {sum(widths) / len(widths):.1f} "
              f"| {r['real_tokens'] / r['padded_tokens']:.0%} "
              f"| {r['seconds'] / len(widths):.2f} | {r['seconds']:.1f} "
              f"| {r['traces_after_warmup']} → {r['traces_after_timed']} "
              f"| {contexts[max_length, variant, policy]['load_before'][0]:.2f} | {r['others_cpu']:.1f} |")
    print("\n| max_length | tutorial reviews/s | ours reviews/s | ours / tutorial | target |")
    print("|---:|---:|---:|---:|---|")
    libraries = [(m, results[m, "ours"], results[m, "ours-keras_hub"]) for m in args.max_lengths
                 if (m, "ours") in results and (m, "ours-keras_hub") in results]
    for max_length in args.max_lengths:
        tutorial, ours = results.get((max_length, "tutorial")), results.get((max_length, "ours"))
        if not (tutorial and ours):
            print(f"| {max_length} | {'failed' if not tutorial else ''} | {'failed' if not ours else ''} | | |")
            continue
        speed = {name: r["reviews"] / r["seconds"] for name, r in (("tutorial", tutorial), ("ours", ours))}
        ratio = speed["ours"] / speed["tutorial"]
        target = (f"≥ {TARGET_RATIO}x: {'met' if ratio >= TARGET_RATIO else 'NOT met'}"
                  if max_length == TARGET_MAX_LENGTH else "")
        print(f"| {max_length} | {speed['tutorial']:.2f} | {speed['ours']:.2f} | {ratio:.2f}x | {target} |")
    if libraries:
        print("\n| max_length | ours, transformers reviews/s | ours, keras_hub reviews/s | keras_hub / transformers |")
        print("|---:|---:|---:|---:|")
    for max_length, transformers, keras_hub in libraries:
        speeds = [r["reviews"] / r["seconds"] for r in (transformers, keras_hub)]
        print(f"| {max_length} | {speeds[0]:.2f} | {speeds[1]:.2f} | {speeds[1] / speeds[0]:.2f}x |")

    print_precisions(args, runs)
    print("\nSample: ", end="")
    print("; ".join(f"max_length {m}: mean tokens per review {r['mean_length']:.0f} after truncation "
                    f"({r['mean_full_length']:.0f} untruncated), {r['truncated']} of {r['reviews']} truncated"
                    for (m, v), r in results.items() if v == "ours") + ".")
    print(f"\nOur batch widths at full scale (host-only check on {args.width_check_rows} other reviews, mean "
          f"{full_widths[0]:.0f} tokens untruncated, grouped in windows of 50 batches as in training): ", end="")
    sampled = {m: np.mean(r["widths"]) for (m, v), r in results.items() if v == "ours"}
    print("; ".join(f"max_length {m}: mean width {full_widths[m]:.1f} (timed sample {sampled.get(m, float('nan')):.1f})"
                    for m in args.max_lengths) + ".")
    print("\nRuns (in order; widths are padded batch widths):")
    for key, r in runs.items():
        print(describe_run(r, contexts[key]))
    if profile:
        p = profile
        step = p["full_step"]
        backward = p["forward_backward"] - p["forward"]
        print(f"\n### One tutorial-padded step at max_length {p['max_length']}, batch {p['batch_size']} "
              f"(median of {args.repeats}; separate tf.functions)\n")
        print("| part | seconds | share of the one-function step |")
        print("|---|---:|---:|")
        rows = [("host: build one batch (numpy, BatchSource)", p["host_batch"]),
                ("forward (training=True)", p["forward"]),
                ("backward (forward+gradients − forward)", backward),
                ("optimizer apply, all variables", p["apply_all"]),
                (f"optimizer apply, word embeddings only {tuple(p['embedding_shape'])}", p["apply_embedding"]),
                ("forward + backward + apply in one tf.function", p["full_step"]),
                ("Keras train_on_batch (same step, plus Keras' per-call data handling)", p["train_on_batch"])]
        for name, seconds in rows:
            print(f"| {name} | {seconds:.4f} | {seconds / step:.1%} |")
        grad_rows = f", {p['embedding_grad_rows']} gathered rows" if "embedding_grad_rows" in p else ""
        print(f"\nWord-embedding gradient type: {', '.join(p['embedding_grad_type'])}{grad_rows}; "
              f"{p['embedding_parameters']:,} of {p['trainable_parameters']:,} trainable parameters are word "
              f"embeddings.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-lengths", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=2, help="warm-up steps (on other reviews)")
    parser.add_argument("--steps", type=int, default=16, help="timed steps: the measured reviews are steps x batch")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True,
                        help="also split one static step at the largest max_length into its parts")
    parser.add_argument("--repeats", type=int, default=3, help="profile: repetitions per part (median)")
    parser.add_argument("--width-check-rows", type=int, default=4800,
                        help="other reviews for the host-only check of our mean batch width at full scale")
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    parser.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=["float32"],
                        help="Keras dtype policies to run every row under (default: float32)")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32", help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=[*VARIANTS, "profile"], help=argparse.SUPPRESS)
    parser.add_argument("--max-length", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = run_profile(args) if args.worker == "profile" else run_worker(args)
        Path(args.out).write_text(json.dumps(result))
        return

    started = datetime.datetime.now(datetime.UTC)
    print("host-only width check ...", file=sys.stderr, flush=True)
    widths = full_scale_widths(args.max_lengths, args.batch_size, args.seed, args.width_check_rows)
    results, contexts = {}, {}
    for max_length in args.max_lengths:
        for variant in args.variants:
            for policy in args.precisions:
                print(f"running {variant} ({policy}) at max_length {max_length} ...", file=sys.stderr, flush=True)
                result, context = run_child(args, variant, max_length, [], policy)
                if result is not None:
                    results[max_length, variant, policy], contexts[max_length, variant, policy] = result, context
    profile = None
    if args.profile:
        print(f"profiling one step at max_length {max(args.max_lengths)} ...", file=sys.stderr, flush=True)
        profile, _ = run_child(args, "profile", max(args.max_lengths), ["--repeats", str(args.repeats)])
    print_report(args, results, contexts, profile, widths, started)


if __name__ == "__main__":
    main()
