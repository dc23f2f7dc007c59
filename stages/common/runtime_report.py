"""A warning before a model too large for a CPU trains on one for days, with the time it will take."""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("train")

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
