"""What `train` adds around Keras `fit`: class weights, progress lines, the CPU speed warning, system metrics."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

log = logging.getLogger("train")


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
