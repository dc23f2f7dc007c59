"""Training progress in the log when stdout is not a terminal (CI, nohup, `dvc exp run --queue`), where Keras
prints one line per epoch: every `every_seconds`, the batch, reviews per second, loss and the epoch's time left."""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("train")


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
