"""Stage `train`: fine-tune a TF sequence classifier on the cached tokens.

Reads params `model.*` and `train.*`; `train.strategy` picks the distribution strategy
(stages/common/distribute.py). Validates on the validation split every epoch, logs the curves
with DVCLive to metrics/train/, and saves models/model/ (weights, config with the labels, tokenizer,
and tokenization.json with the max_length and truncation used) with save_pretrained, so the directory
is itself a checkpoint.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python stages/NAME.py` puts stages/ first on sys.path, where tokenize.py would shadow the
# standard library's tokenize: import from the project root instead.
if sys.path[0] == str(Path(__file__).resolve().parent):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import logging
import shutil
import tempfile

from stages.common.checkpoint import load_classifier, load_tokenizer
from stages.common.class_weights import class_weights
from stages.common.errors import run_stage
from stages.common.files import atomic_path, write_json
from stages.common.inputs import BatchSource
from stages.common.params import TrainParams, load_params
from stages.common.tokens import TOKENIZATION_FILE, load_meta, load_split

MODEL_DIR = "models/model"
LIVE_DIR = "metrics/train"
log = logging.getLogger("train")


def make_optimizer(params: TrainParams, total_steps: int):
    """The tutorial's Adam, or AdamW with linear warm-up and decay (transformers' create_optimizer)."""
    import tensorflow as tf

    if params.optimizer == "adam":
        return tf.keras.optimizers.Adam(learning_rate=params.learning_rate, epsilon=params.epsilon,
                                        clipnorm=params.clipnorm)
    from transformers import create_optimizer

    optimizer, _ = create_optimizer(init_lr=params.learning_rate, num_train_steps=total_steps,
                                    num_warmup_steps=round(total_steps * params.warmup_ratio),
                                    adam_epsilon=params.epsilon, adam_clipnorm=params.clipnorm,
                                    weight_decay_rate=params.weight_decay)
    return optimizer


def configure_tensorflow(params: TrainParams, strategy) -> bool:
    """Seeds, determinism, and the accelerator-only options; return whether an accelerator is in use."""
    import tensorflow as tf

    from stages.common.distribute import mixed_precision_policy

    tf.keras.utils.set_random_seed(params.seed)
    # Dropout draws from tf.random.Generator variables, whose state a resumed run restores.
    tf.keras.backend.experimental.enable_tf_random_generator()
    if params.deterministic:
        tf.config.experimental.enable_op_determinism()
    accelerated = bool(tf.config.list_logical_devices("GPU")) or isinstance(strategy, tf.distribute.TPUStrategy)
    if params.mixed_precision and accelerated:
        tf.keras.mixed_precision.set_global_policy(mixed_precision_policy(strategy))
    for name, wanted in (("mixed_precision", params.mixed_precision), ("jit_compile", params.jit_compile)):
        if wanted and not accelerated:
            log.info("train.%s is ignored: no GPU or TPU is in use", name)
    return accelerated


def float32_loss():
    """The tutorial's loss, computed in float32 even when the model's logits are float16 or bfloat16."""
    import tensorflow as tf

    class Float32SparseCategoricalCrossentropy(tf.keras.losses.SparseCategoricalCrossentropy):
        def call(self, y_true, y_pred):
            return super().call(y_true, tf.cast(y_pred, tf.float32))

    return Float32SparseCategoricalCrossentropy(from_logits=True)


def main() -> None:
    import tensorflow as tf
    from dvclive import Live
    from dvclive.keras import DVCLiveCallback

    from stages.common.distribute import is_chief, make_strategy
    from stages.common.resume import STATE_DIR, ResumableTraining, fingerprint

    params = load_params()
    settings = params.train
    strategy = make_strategy(settings.strategy, settings.tpu_address)  # first: multi-worker needs a fresh runtime
    accelerated = configure_tensorflow(settings, strategy)
    replicas = strategy.num_replicas_in_sync
    global_batch = settings.batch_size * replicas
    log.info("train.strategy %s (%s) with %d replica(s): global batch %d = %d per replica x %d", settings.strategy,
             type(strategy).__name__, replicas, global_batch, settings.batch_size, replicas)
    chief = is_chief()
    scratch = None if chief else Path(tempfile.mkdtemp(prefix="train-worker-"))  # non-chief outputs, removed

    meta = load_meta()
    sources = {
        name: BatchSource(load_split(name), meta["model_input_names"], global_batch,
                          shuffle_seed=settings.seed if name == "train" else None,
                          group_by_length=settings.group_by_length or name != "train",
                          pad_to_max_length=settings.pad_to_max_length,
                          pad_to_multiple_of=settings.pad_to_multiple_of)
        for name in ("train", "validation")
    }
    validation = sources["validation"].dataset() if len(sources["validation"]) else None
    with strategy.scope():
        model = load_classifier(params.model.checkpoint, meta["labels"], params.model.init)
        model.compile(optimizer=make_optimizer(settings, len(sources["train"]) * settings.epochs),
                      loss=float32_loss(), metrics=[tf.keras.metrics.SparseCategoricalAccuracy("accuracy")],
                      jit_compile=settings.jit_compile and accelerated)

    best = None
    if validation is not None and (settings.keep_best or settings.early_stopping_patience is not None):
        patience = settings.early_stopping_patience or settings.epochs
        best = tf.keras.callbacks.EarlyStopping("val_loss", patience=patience, restore_best_weights=settings.keep_best)
    resumable = ResumableTraining(fingerprint(params.model, settings, meta, replicas), best,
                                  STATE_DIR if chief else scratch / "train_state")
    # Workers other than the chief keep no state, so a multi-worker run starts over rather than resume.
    multi_worker = isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)
    initial_epoch = resumable.restore(model, allowed=not multi_worker)
    sources["train"].epoch = initial_epoch  # the data order of an epoch depends only on the seed and its number
    live = Live(LIVE_DIR if chief else str(scratch / "live"), resume=initial_epoch > 0, dvcyaml=None,
                save_dvc_exp=False, report=None)
    live.step = initial_epoch
    callbacks = [callback for callback in (best, DVCLiveCallback(live=live), resumable) if callback is not None]
    log.info("training on %d reviews in %d batches for %d epochs", len(sources["train"].split.labels),
             len(sources["train"]), settings.epochs)
    weights = class_weights(sources["train"].split.labels, settings.class_weight, len(meta["labels"]))
    model.fit(sources["train"].dataset(), validation_data=validation, epochs=settings.epochs, class_weight=weights,
              initial_epoch=initial_epoch, callbacks=callbacks, verbose=1 if sys.stdout.isatty() else 2)
    if best is not None and settings.keep_best:
        live.summary["best_epoch"] = best.best_epoch + 1
        live.make_summary()
        log.info("kept the weights of epoch %d (lowest val_loss)", best.best_epoch + 1)

    with atomic_path(MODEL_DIR if chief else scratch / "model") as out:  # every worker saves; the chief's is kept
        model.save_pretrained(out)
        load_tokenizer(params.model.checkpoint).save_pretrained(out)
        used = ("max_length", "truncation", "model_input_names", "strip_html")
        write_json(out / TOKENIZATION_FILE, {key: meta[key] for key in used})
    if scratch is not None:
        shutil.rmtree(scratch)
    log.info("saved %s", MODEL_DIR if chief else "nothing (not the chief)")


if __name__ == "__main__":
    run_stage(main)
