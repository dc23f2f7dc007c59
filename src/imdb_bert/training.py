"""What `train` adds around Keras `fit`: class weights, progress lines, the CPU speed warning, system metrics, and
weight averaging over the last part of training (kept only where validation supports it)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from imdb_bert.files import atomic_path

log = logging.getLogger("train")
SIGNIFICANCE = 0.05  # as evaluate's decisions (imdb_bert.decisions.SIGNIFICANCE)


def class_weights(labels: np.ndarray, mode: str | None, classes: int) -> dict[int, float] | None:
    """None, or for 'balanced' scikit-learn's n / (labels present x count of the label), logged."""
    if mode is None:
        return None
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.asarray(labels)
    present = np.unique(labels)
    weights = dict.fromkeys(range(classes), 1.0)  # a label absent from train never occurs in a batch
    weights.update(zip(present.tolist(), compute_class_weight(mode, classes=present, y=labels).tolist(), strict=True))
    weights = {label: round(weight, 6) for label, weight in weights.items()}
    log.info("train.class_weight %s: %s", mode, ", ".join(f"label {k} x {v:.4g}" for k, v in weights.items()))
    return weights


def progress_logger(callback_base: type, batches: int, batch_size: int, every_seconds: float = 60.0) -> Any:
    """A Keras callback of the library's Callback class that logs progress at most every `every_seconds`."""

    class ProgressLog(callback_base):
        def __init__(self) -> None:
            super().__init__()
            self.epoch, self.started, self.last = 0, 0.0, 0.0

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch, self.started = epoch, time.monotonic()
            self.last = self.started

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            now = time.monotonic()
            if now - self.last < every_seconds or batch + 1 >= batches:
                return
            self.last = now
            done = batch + 1
            rate = done / (now - self.started)
            loss = (logs or {}).get("loss")
            log.info("epoch %d: batch %d/%d, %.1f reviews/s%s, about %.0f min left in this epoch", self.epoch + 1,
                     done, batches, rate * batch_size, f", loss {float(loss):.4f}" if loss is not None else "",
                     (batches - done) / rate / 60)

    return ProgressLog()


LARGE_MODEL = 50_000_000  # parameters: bert-base-cased has 108M, the MiniLM 23M
LONG_INPUT = 256  # max_length
GPU_SETUP = ("install GPU support (README, 'On a GPU'): pip install 'tensorflow[and-cuda]==2.21.0' for "
             "model.library transformers or keras_hub on TensorFlow, or pip install 'jax[cuda12]==0.10.2' with "
             "KERAS_BACKEND=jax for keras_hub; then check that the GPU is seen")


def needs_warning(parameters: int, max_length: int, accelerated: bool) -> bool:
    return parameters > LARGE_MODEL and max_length >= LONG_INPUT and not accelerated


def cpu_warning(parameters: int, max_length: int, seconds_per_batch: float, batches: int) -> str:
    hours = seconds_per_batch * batches / 3600
    return (f"training a {parameters / 1e6:.0f}M-parameter model at max_length {max_length} with no GPU or TPU "
            f"will take about {hours:,.1f} hours ({seconds_per_batch:.2f} s per batch x {batches:,} batches, "
            f"timed on the first batches); {GPU_SETUP}")


def cpu_speed_check(library: Any, model: Any, max_length: int, runtime: Any, batches: int) -> Any | None:
    """A callback that times the second training batch (the first one traces or compiles) and logs the warning,
    or None when the model is small, the input short, or an accelerator is in use."""
    parameters = model.count_params()
    if not needs_warning(parameters, max_length, runtime.accelerated):
        return None

    class CpuSpeedCheck(library.callback_base()):
        def __init__(self) -> None:
            super().__init__()
            self.started: float | None = None
            self.done = False

        def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
            if not self.done and batch == min(1, batches - 1):
                self.started = time.perf_counter()

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            if not self.done and self.started is not None:
                self.done = True
                log.warning(cpu_warning(parameters, max_length, time.perf_counter() - self.started, batches))

    return CpuSpeedCheck()


def system_monitoring(wanted: bool) -> bool:
    """Whether to pass monitor_system=True to dvclive's Live, made safe on hosts without an NVIDIA driver.

    dvclive (3.49) samples the GPU, CPU and RAM together and drops the whole sample when NVML cannot
    start, so on a CPU-only host (nvidia-ml-py installed, no driver) it logged no curves at all. Where
    NVML does not start, GPU sampling is switched off and the CPU, RAM and disk curves are kept.
    """
    if not wanted:
        return False
    from dvclive import monitor_system

    if monitor_system.GPU_AVAILABLE:
        try:
            monitor_system.nvmlInit()
            monitor_system.nvmlShutdown()
        except monitor_system.NVMLError:
            monitor_system.GPU_AVAILABLE = False
    return True


def check_levers(settings: Any) -> None:
    """`train.layer_lr_decay` and `train.average_last` in range, else one error naming the key."""
    from imdb_bert.errors import PipelineError

    if not 0 < settings.layer_lr_decay <= 1:
        raise PipelineError(f"params.yaml: train.layer_lr_decay is {settings.layer_lr_decay}; expected above 0 and at "
                            f"most 1, e.g. 0.95 (1.0 = off)")
    if not 0 <= settings.average_last <= 1:
        raise PipelineError(f"params.yaml: train.average_last is {settings.average_last}; expected a share of the "
                            f"training steps from 0 (off) to 1, e.g. 0.25")


# --- weight averaging (`train.average_last`) ----------------------------------------------------------------------

AVERAGE_SNAPSHOTS = 20  # at most this many weight snapshots are averaged, evenly spaced over the window
AVERAGE_FILE = "average-after-epoch-{}.npz"  # in the resume folder: the running mean after an epoch


def snapshot_steps(total_steps: int, share: float, snapshots: int = AVERAGE_SNAPSHOTS) -> list[int]:
    """The steps (1-based) after which the weights are added to the average: evenly spaced over the last `share`
    of training, the last step always among them; none when `share` is 0."""
    window = min(total_steps, round(total_steps * share))
    if window <= 0:
        return []
    stride = -(-window // snapshots)
    return list(range(total_steps, total_steps - window, -stride))[::-1]


def weight_averaging(callback_base: type, share: float, steps_per_epoch: int, epochs: int,
                     state_dir: Path) -> Any | None:
    """A callback keeping the uniform mean of the weights at `snapshot_steps` (a running mean, one copy of the
    weights), saved with each epoch into `state_dir` so a resumed run continues the same mean (put it before the
    resume callback); None when `share` is 0. After `fit`, `decide` keeps the mean only where validation supports
    it."""
    if share <= 0:
        return None
    steps = set(snapshot_steps(steps_per_epoch * epochs, share))

    class WeightAveraging(callback_base):
        def __init__(self) -> None:
            super().__init__()
            self.mean: list[np.ndarray] | None = None
            self.count, self.epoch, self.restored = 0, 0, False
            self.share, self.windows = share, len(steps)

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch = epoch
            if not self.restored:  # a resumed run: the mean as it was after the last completed epoch
                self.restored = True
                saved = state_dir / AVERAGE_FILE.format(epoch)
                if epoch and saved.is_file():
                    with np.load(saved) as arrays:
                        self.count = int(arrays["count"])
                        self.mean = [arrays[f"arr_{index}"] for index in range(len(arrays.files) - 1)]

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            if self.epoch * steps_per_epoch + batch + 1 in steps:
                weights = [np.asarray(weight, dtype=np.float32) for weight in self.model.get_weights()]
                self.count += 1
                self.mean = weights if self.mean is None else \
                    [mean + (weight - mean) / self.count for mean, weight in zip(self.mean, weights, strict=True)]

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if self.mean is None:
                return
            with atomic_path(state_dir / AVERAGE_FILE.format(epoch + 1)) as partial, partial.open("wb") as file:
                np.savez(file, *self.mean, count=np.int64(self.count))
            # This runs before the resume callback saves the epoch: a run killed in between resumes after the
            # previous epoch, so that epoch's mean is kept too.
            kept = {AVERAGE_FILE.format(epoch + 1), AVERAGE_FILE.format(epoch)}
            for old in state_dir.glob(AVERAGE_FILE.format("*")):
                if old.name not in kept:
                    old.unlink()

        def decide(self, library: Any, model: Any, validation: Any | None) -> dict:
            return decide_average(self, library, model, validation)

    return WeightAveraging()


def validation_losses(library: Any, model: Any, validation: Any) -> np.ndarray:
    """Each validation review's cross-entropy, in the batch source's order."""
    logits = np.asarray(library.predict_logits(model, validation), dtype=np.float64)
    labels = np.asarray(validation.split.labels)[np.concatenate(validation.plan(0))]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probabilities[np.arange(len(labels)), labels]


def decide_average(averaging: Any, library: Any, model: Any, validation: Any | None) -> dict:
    """Keep the averaged weights only when their validation loss is lower than the trained weights' (as train left
    them: the best epoch's with train.keep_best), significantly (one-sided paired t-test on the reviews' losses,
    p < SIGNIFICANCE); else the trained weights stay. Logged with the reason; returned for metrics.json."""
    what = f"mean of {averaging.count} snapshots over the last {averaging.share:.0%} of the steps"
    if averaging.count == 0:
        return _averaging_verdict(False, "declined: training ended before the averaging window")
    if validation is None or not len(validation):
        return _averaging_verdict(False, f"declined: {what}, but no validation split to check it on")
    from scipy.stats import ttest_rel

    trained = model.get_weights()
    raw = validation_losses(library, model, validation)
    model.set_weights(averaging.mean)
    averaged = validation_losses(library, model, validation)
    p_value = float(ttest_rel(averaged, raw, alternative="less").pvalue) if len(raw) > 1 else 1.0
    evidence = (f"{what}: validation loss {averaged.mean():.4f} vs {raw.mean():.4f} with the trained weights "
                f"(one-sided paired t-test p = {p_value:.3g})")
    kept = bool(p_value < SIGNIFICANCE)
    if not kept:
        model.set_weights(trained)
    reason = f"kept: {evidence} < {SIGNIFICANCE}" if kept else \
        f"declined, trained weights: {evidence} not below {SIGNIFICANCE}"
    return _averaging_verdict(kept, reason, snapshots=averaging.count, p_value=round(p_value, 6),
                              val_loss_averaged=round(float(averaged.mean()), 6),
                              val_loss_trained=round(float(raw.mean()), 6))


def _averaging_verdict(kept: bool, reason: str, **figures: Any) -> dict:
    log.info("weight averaging: %s", reason)
    return {"applied": kept, "reason": reason, **figures}
