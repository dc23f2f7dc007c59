"""Stage `train`: fine-tune a sequence classifier on the cached tokens.

Reads params `model.*` and `train.*`, and `evaluate.window_stride`: with `train.long_reviews: windows`, each
epoch a long review is one of the windows `evaluate` scores. `model.library` picks the model layer
(src/imdb_bert/models/: transformers' TF class or KerasHub); `train.strategy` the distribution strategy. Validates
on the validation split every epoch, logs the curves with DVCLive to metrics/train/, and saves models/model/
(the library's weights and config, model.json with the library and labels, the tokenizer, and
tokenization.json with the max_length and truncation used).
"""

from __future__ import annotations

import logging
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from imdb_bert.batches import BatchSource, TrainingWindows
from imdb_bert.errors import run_stage
from imdb_bert.files import atomic_path, require_inputs, write_json
from imdb_bert.models import get_library, save_trained
from imdb_bert.params import Params, TrainParams, load_params
from imdb_bert.tokenizer import load_tokenizer
from imdb_bert.tokens import TOKENIZATION_FILE, TOKENS_DIR, load_meta, load_split
from imdb_bert.training import check_levers, class_weights, cpu_speed_check, progress_logger, weight_averaging

MODEL_DIR = "models/model"
LIVE_DIR = "metrics/train"
log = logging.getLogger("train")


def start_runtime(library, settings: TrainParams) -> tuple[Any, int, bool, Any]:
    """The distribution scope, its replicas, whether it spans workers, and the runtime (devices, precision, XLA),
    logged. A multi-worker strategy needs a fresh runtime, so the strategy comes first."""
    scope, replicas, multi_worker = library.distribution(settings.strategy, settings.tpu_address)
    runtime = library.configure(settings)
    if settings.jit_compile and not runtime.accelerated:
        log.info("train.jit_compile is ignored: no GPU or TPU is in use")
    log.info("model.library %s on %s: %s, precision %s (%s), XLA %s", library.name, runtime.backend,
             ", ".join(runtime.devices) or "CPU only", runtime.precision, runtime.precision_reason,
             "on" if runtime.jit_compile else "off")
    log.info("train.strategy %s with %d replica(s): global batch %d = %d per replica x %d", settings.strategy,
             replicas, settings.batch_size * replicas, settings.batch_size, replicas)
    return scope, replicas, multi_worker, runtime


def batch_sources(params: Params, meta: dict, global_batch: int, runtime: Any) -> dict[str, BatchSource]:
    """The train and validation batch sources: train shuffled per epoch (and windowed when asked), validation in
    length order; with XLA, widths bucketed coarsely, since a compiler specialises on every batch shape."""
    settings = params.train
    multiple = max(settings.pad_to_multiple_of, settings.compiled_width_multiple) if runtime.jit_compile \
        else settings.pad_to_multiple_of
    windows = None
    if settings.long_reviews == "windows":
        windows = TrainingWindows.from_cache(meta, params.evaluate, settings.seed)
        log.info("train.long_reviews windows: %s", windows.describe())
    sources = {
        name: BatchSource(load_split(name), meta["model_input_names"], global_batch,
                          shuffle_seed=settings.seed if name == "train" else None,
                          group_by_length=settings.group_by_length or name != "train",
                          pad_to_max_length=settings.pad_to_max_length, pad_to_multiple_of=multiple,
                          windows=windows if name == "train" else None)
        for name in ("train", "validation")
    }
    if runtime.jit_compile:
        shapes = set.union(*(source.batch_shapes() for source in sources.values()))
        log.info("XLA compiles %d batch shapes (widths %s, multiples of %d)", len(shapes),
                 ", ".join(map(str, sorted({width for _, width in shapes}))), multiple)
    return sources


def save_model(library, model: Any, out: Path, checkpoint: str, meta: dict) -> None:
    """The library's weights and config, model.json, the tokenizer and tokenization.json (how to tokenize)."""
    save_trained(library, model, out, meta["labels"])
    load_tokenizer(checkpoint).save_pretrained(out)
    used = ("max_length", "truncation", "model_input_names", "strip_html")
    write_json(out / TOKENIZATION_FILE, {key: meta[key] for key in used})


def main() -> None:
    require_inputs(*((TOKENS_DIR / name, "tokenize") for name in ("meta.json", "train", "validation")))
    from dvclive import Live

    from imdb_bert.models.distribute import is_chief
    from imdb_bert.resume import STATE_DIR, fingerprint, resumable_training
    from imdb_bert.training import system_monitoring

    params = load_params()
    model_settings, settings = params.model, params.train
    check_levers(settings)
    library = get_library(model_settings.library)
    scope, replicas, multi_worker, runtime = start_runtime(library, settings)
    global_batch = settings.batch_size * replicas
    chief = is_chief()
    scratch = None if chief else Path(tempfile.mkdtemp(prefix="train-worker-"))  # non-chief outputs, removed
    state_dir = STATE_DIR if chief else scratch / "train_state"

    meta = load_meta()
    sources = batch_sources(params, meta, global_batch, runtime)
    with scope:
        model = library.build(model_settings.checkpoint, meta["labels"], model_settings.init)
        library.compile(model, settings, len(sources["train"]) * settings.epochs, runtime.jit_compile)

    best = None
    if len(sources["validation"]) and (settings.keep_best or settings.early_stopping_patience is not None):
        best = library.early_stopping(settings.early_stopping_patience or settings.epochs, settings.keep_best)
    live_dir = Path(LIVE_DIR) if chief else scratch / "live"
    resumable = resumable_training(library, fingerprint(model_settings, settings, meta, replicas,
                                                        params.evaluate.window_stride), best, state_dir,
                                   curves=live_dir)
    # Workers other than the chief keep no state, so a multi-worker run starts over rather than resume.
    initial_epoch = resumable.restore(model, allowed=not multi_worker)
    # The data order of an epoch, and its windows, depend only on the seed and the epoch's number.
    sources["train"].epoch = initial_epoch
    live = Live(str(live_dir), resume=initial_epoch > 0, dvcyaml=None,
                save_dvc_exp=False, report=None, monitor_system=system_monitoring(settings.monitor_system) and chief)
    live.step = initial_epoch
    steps = (len(sources["train"]) + len(sources["validation"])) * (settings.epochs - initial_epoch)
    speed = cpu_speed_check(library, model, meta["max_length"], runtime, steps)
    interactive = sys.stdout.isatty()  # a terminal gets Keras' progress bar; anything else, a line a minute
    progress = None if interactive else progress_logger(library.callback_base(), len(sources["train"]), global_batch)
    averaging = weight_averaging(library.callback_base(), settings.average_last, len(sources["train"]), settings.epochs,
                                 state_dir)  # its running mean resumes too
    callbacks = [callback for callback in (best, library.live_callback(live), averaging, resumable, speed, progress)
                 if callback is not None]
    log.info("training on %d reviews in %d batches for %d epochs", len(sources["train"].split.labels),
             len(sources["train"]), settings.epochs)
    weights = class_weights(sources["train"].split.labels, settings.class_weight, len(meta["labels"]))
    validation = library.fit_data(model, sources["validation"]) if len(sources["validation"]) else None
    library.fit(model, library.fit_data(model, sources["train"]), validation_data=validation, epochs=settings.epochs,
                class_weight=weights, initial_epoch=initial_epoch, callbacks=callbacks,
                shuffle=False, verbose=1 if interactive else 2)  # the source shuffles
    if best is not None and settings.keep_best:
        live.summary["best_epoch"] = best.best_epoch + 1
        live.make_summary()
        log.info("kept the weights of epoch %d (lowest val_loss)", best.best_epoch + 1)
    if averaging is not None:  # the averaged weights replace the trained ones only where validation supports it
        live.summary["weight_averaging"] = averaging.decide(library, model, sources["validation"])
        live.make_summary()

    with atomic_path(MODEL_DIR if chief else scratch / "model") as out:  # every worker saves; the chief's is kept
        save_model(library, model, out, model_settings.checkpoint, meta)
    if scratch is not None:
        shutil.rmtree(scratch)
    log.info("saved %s", MODEL_DIR if chief else "nothing (not the chief)")


if __name__ == "__main__":
    run_stage(main)
