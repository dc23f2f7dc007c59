"""Training progress in the log when stdout is not a terminal: at most a line a minute, with rate and time left."""

from __future__ import annotations

import logging

from imdb_bert import training as progress


class Base:
    def __init__(self) -> None:
        pass


def test_progress_is_logged_at_most_every_interval_with_rate_and_time_left(monkeypatch, caplog):
    clock = iter([0.0, 30.0, 61.0, 90.0, 125.0, 200.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    callback = progress.progress_logger(Base, batches=100, batch_size=32, every_seconds=60)
    with caplog.at_level(logging.INFO, logger="train"):
        callback.on_epoch_begin(0)  # t=0
        for batch, loss in ((9, 0.7), (19, 0.6), (29, 0.5), (39, 0.4), (99, 0.3)):  # t=30, 61, 90, 125, 200
            callback.on_train_batch_end(batch, {"loss": loss})
    lines = [record.getMessage() for record in caplog.records]
    # t=61: 20 batches in 61 s = 10.5 reviews/s, 80 batches left = 4.1 min; t=125: 40 in 125 s; the last batch: none
    assert lines == ["epoch 1: batch 20/100, 10.5 reviews/s, loss 0.6000, about 4 min left in this epoch",
                     "epoch 1: batch 40/100, 10.2 reviews/s, loss 0.4000, about 3 min left in this epoch"]
