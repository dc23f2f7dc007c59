"""Dynamic batching for `imdb-serve`: the reviews of concurrent requests scored in one model call.

Requests wait in a bounded queue (counted in reviews). One worker thread takes the oldest request, waits until
the batch holds `max_batch` reviews or the oldest request has waited `max_wait_ms`, then scores every review it
took in one call (`Predictor.probabilities`, whose `score_reviews` groups them by length and scores long ones over
windows) and hands each request its rows. A full queue refuses the request at once (`QueueFull`: the server
answers 503 with Retry-After) rather than letting latency grow without bound. `close` scores what was accepted,
then stops the worker.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np


class QueueFull(Exception):
    """The queue holds `max_queue` reviews already; `retry_after` is a fair wait in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"queue full; retry after {retry_after} s")
        self.retry_after = retry_after


class Closed(Exception):
    """The batcher is shutting down and takes no new requests."""


@dataclass
class Pending:
    texts: list[str]
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop
    arrived: float = field(default_factory=time.monotonic)


@dataclass
class BatchStats:
    batches: int = 0
    reviews: int = 0
    largest: int = 0
    seconds: float = 0.0  # in model calls

    def reviews_per_second(self) -> float:
        return self.reviews / self.seconds if self.seconds else 0.0


class DynamicBatcher:
    def __init__(self, score: Callable[[list[str]], np.ndarray], max_batch: int = 64, max_wait_ms: float = 5.0,
                 max_queue: int = 1024) -> None:
        self.score_batch = score
        self.max_batch, self.max_wait, self.max_queue = max_batch, max_wait_ms / 1000, max_queue
        self.stats = BatchStats()
        self._pending: deque[Pending] = deque()
        self._waiting = 0  # reviews in _pending
        self._condition = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="batcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def waiting(self) -> int:
        return self._waiting

    async def score(self, texts: list[str]) -> np.ndarray:
        """The probabilities of `texts`, scored with whatever else arrives within max_wait_ms."""
        return await self.submit(texts)

    def submit(self, texts: list[str]) -> asyncio.Future:
        """Queue `texts` (from the event loop's thread); the future gets their probabilities. Raises QueueFull
        or Closed at once when it cannot take them."""
        loop = asyncio.get_running_loop()
        pending = Pending(texts, loop.create_future(), loop)
        with self._condition:
            if self._closed:
                raise Closed()
            if self._waiting and self._waiting + len(texts) > self.max_queue:
                raise QueueFull(self._retry_after())
            self._pending.append(pending)
            self._waiting += len(texts)
            self._condition.notify()
        return pending.future

    def close(self) -> None:
        """Take no more requests; score those accepted; stop the worker."""
        with self._condition:
            self._closed = True
            self._condition.notify()
        if self._thread.is_alive():
            self._thread.join()

    def _retry_after(self) -> int:
        rate = self.stats.reviews_per_second()
        return max(1, math.ceil(self._waiting / rate)) if rate else 1

    def _take(self) -> list[Pending] | None:
        """The next batch: requests in arrival order up to max_batch reviews (one request may exceed it alone),
        after waiting for more until the oldest has waited max_wait, without those whose client went away (maybe
        none). None once closed and drained."""
        with self._condition:
            while not self._pending:
                if self._closed:
                    return None
                self._condition.wait()
            deadline = self._pending[0].arrived + self.max_wait
            while self._waiting < self.max_batch and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._condition.wait(remaining)
            batch, size = [], 0
            while self._pending and (not batch or size + len(self._pending[0].texts) <= self.max_batch):
                pending = self._pending.popleft()
                self._waiting -= len(pending.texts)
                if not pending.future.cancelled():  # cancelled: its client went away; not worth a forward pass
                    batch.append(pending)
                    size += len(pending.texts)
            return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            if not batch:
                continue
            texts = [text for pending in batch for text in pending.texts]
            started = time.perf_counter()
            try:
                probabilities = self.score_batch(texts)
            except Exception as error:  # noqa: BLE001  (each request gets the error; the worker lives on)
                for pending in batch:
                    pending.loop.call_soon_threadsafe(_settle, pending.future, None, error)
                continue
            self.stats.batches += 1
            self.stats.reviews += len(texts)
            self.stats.largest = max(self.stats.largest, len(texts))
            self.stats.seconds += time.perf_counter() - started
            offset = 0
            for pending in batch:
                rows = probabilities[offset:offset + len(pending.texts)]
                offset += len(pending.texts)
                pending.loop.call_soon_threadsafe(_settle, pending.future, rows, None)


def _settle(future: asyncio.Future, result: np.ndarray | None, error: Exception | None) -> None:
    if future.done():  # the client went away and its request was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
