"""Model input from the token cache: dynamic padding, length-grouped batches, masks from lengths; in training,
optionally each long review's window of the epoch in place of its truncated form (`train.long_reviews: windows`)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from imdb_bert.errors import PipelineError
from imdb_bert.tokens import TOKENS_DIR, ContentIds, TokenizedSplit, load_content, stride_tokens, window_starts

if TYPE_CHECKING:
    from imdb_bert.params import EvaluateParams

GROUP_WINDOW_BATCHES = 50  # batches per window sorted by length: similar lengths, still shuffled
WINDOW_ORDER_STREAM = 0x77696E  # keeps the window orders' random streams apart from the batch orders' [seed, epoch]


def batch_plan(lengths: np.ndarray, batch_size: int, rng: np.random.Generator | None,
               group_by_length: bool) -> list[np.ndarray]:
    """Row indices per batch. `rng=None` means in order (sorted by length when grouping)."""
    order = np.arange(len(lengths)) if rng is None else rng.permutation(len(lengths))
    if group_by_length:
        window = len(order) if rng is None else batch_size * GROUP_WINDOW_BATCHES
        order = np.concatenate([part[np.argsort(lengths[part], kind="stable")]
                                for part in np.split(order, range(window, len(order), window))] or [order])
    batches = [order[start:start + batch_size] for start in range(0, len(order), batch_size)]
    if rng is not None and group_by_length:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


class TrainingWindows:
    """Each long review's windows, the ones `evaluate` scores (tokens.window_starts), one per epoch.

    Epoch e gives review r its window order_r[e % n_r], where order_r is a permutation of its n_r windows seeded
    by (seed, r) alone: any n_r consecutive epochs see every window once, two consecutive epochs never the same
    one, and an epoch's windows depend only on the seed and its number, as its batch order does, so a resumed
    run trains on what an uninterrupted one would. A window fills max_length, as the truncated form it replaces
    does, so lengths, masks and length grouping are unchanged. Reviews that fit are left as they are.
    """

    def __init__(self, content: ContentIds, budget: int, stride: int, around: tuple[list[int], list[int]],
                 seed: int) -> None:
        lengths = content.lengths()
        self.content, self.budget = content, budget
        self.before, self.after = (np.asarray(tokens, dtype=np.int32) for tokens in around)
        self.long = np.flatnonzero(lengths > budget)
        self.starts = [np.asarray(window_starts(int(lengths[r]), budget, stride)) for r in self.long]
        self.orders = [np.random.default_rng([seed, WINDOW_ORDER_STREAM, int(r)]).permutation(len(starts))
                       for r, starts in zip(self.long, self.starts, strict=True)]
        self.position = np.full(len(lengths), -1)  # review -> its index among the long ones, or -1
        self.position[self.long] = np.arange(len(self.long))

    @classmethod
    def from_cache(cls, meta: dict, evaluate: EvaluateParams, seed: int, split: str = "train",
                   tokens_dir: Path = TOKENS_DIR) -> TrainingWindows:
        """The windows of a cached split's long reviews, cut as `evaluate` cuts them (`evaluate.window_stride`)."""
        if "special_tokens_around" not in meta:
            raise PipelineError(f"{tokens_dir / 'meta.json'}: written before windows in training; "
                                f"run `dvc repro tokenize`")
        before, after = meta["special_tokens_around"]
        budget = meta["max_length"] - len(before) - len(after)
        return cls(load_content(split, tokens_dir), budget, stride_tokens(evaluate, budget), (before, after), seed)

    def describe(self) -> str:
        counts = self.counts()
        if not len(counts):
            return f"none of the {self.reviews():,} reviews is longer than max_length: every epoch sees them whole"
        return (f"{len(counts):,} of {self.reviews():,} reviews are longer than max_length; each epoch takes one "
                f"of their windows ({counts.mean():.1f} on average, every one seen within {counts.max()} epochs)")

    def reviews(self) -> int:
        return len(self.position)

    def counts(self) -> np.ndarray:
        """The number of windows of each long review."""
        return np.array([len(starts) for starts in self.starts], dtype=np.int64)

    def start(self, review: int, epoch: int) -> int:
        """Where review `review`'s window of `epoch` starts, in its untruncated ids (0 for a review that fits)."""
        at = self.position[review]
        if at < 0:
            return 0
        order = self.orders[at]
        return int(self.starts[at][order[epoch % len(order)]])

    def sequence(self, review: int, epoch: int) -> np.ndarray:
        """The model input of a long review in `epoch`: its window with the special tokens around it."""
        begin = self.content.offsets[review] + self.start(review, epoch)
        return np.concatenate([self.before, self.content.ids[begin:begin + self.budget], self.after])

    def put(self, input_ids: np.ndarray, rows: np.ndarray, epoch: int) -> None:
        """Overwrite, in place, the long reviews among `rows` (one per row of `input_ids`) with their windows."""
        for at in np.flatnonzero(self.position[rows] >= 0):
            window = self.sequence(int(rows[at]), epoch)
            input_ids[at, :len(window)] = window


def batch_features(split: TokenizedSplit, rows: np.ndarray, width: int, input_names: list[str],
                   windows: TrainingWindows | None = None, epoch: int = 0) -> dict:
    """Model inputs for `rows`, cut to `width` columns (long reviews as `windows` gives them in `epoch`, when
    given); masks and token types derived from lengths."""
    input_ids = np.array(split.input_ids[rows, :width], dtype=np.int32)  # a copy: windows may be put in
    if windows is not None:
        windows.put(input_ids, rows, epoch)
    mask = (np.arange(width)[None, :] < np.asarray(split.lengths[rows])[:, None]).astype(np.int32)
    features = {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": np.zeros_like(input_ids)}
    return {name: features[name] for name in input_names}


def batch_width(lengths: np.ndarray, max_length: int, pad_to_max_length: bool, multiple: int) -> int:
    if pad_to_max_length:
        return max_length
    longest = int(lengths.max())
    return min(max_length, -(-longest // multiple) * multiple)


class BatchSource:
    """A re-iterable source of (features, labels) batches; each pass is one epoch with its own seeded order."""

    def __init__(self, split: TokenizedSplit, input_names: list[str], batch_size: int, *, shuffle_seed: int | None,
                 group_by_length: bool, pad_to_max_length: bool, pad_to_multiple_of: int,
                 windows: TrainingWindows | None = None) -> None:
        if windows is not None and windows.reviews() != len(split.lengths):
            raise PipelineError(f"data/tokens: {windows.reviews()} reviews' untruncated ids for {len(split.lengths)} "
                                f"cached reviews; run `dvc repro tokenize`")
        self.split, self.input_names, self.batch_size = split, input_names, batch_size
        self.windows = windows  # training on windows: each long review's window of the epoch
        self.names = {name: name for name in input_names}  # the model's input name -> our feature name
        self.shuffle_seed, self.group_by_length = shuffle_seed, group_by_length
        self.pad_to_max_length, self.multiple = pad_to_max_length, pad_to_multiple_of
        self.max_length = split.input_ids.shape[1]
        self.epoch = 0

    def plan(self, epoch: int) -> list[np.ndarray]:
        rng = None if self.shuffle_seed is None else np.random.default_rng([self.shuffle_seed, epoch])
        return batch_plan(np.asarray(self.split.lengths), self.batch_size, rng, self.group_by_length)

    def __len__(self) -> int:
        return -(-len(self.split.lengths) // self.batch_size)

    def batch_shapes(self, epoch: int = 0) -> set[tuple[int, int]]:
        """The (rows, width) of every batch of an epoch: what a compiler (XLA) specialises on."""
        return {(len(rows), batch_width(np.asarray(self.split.lengths[rows]), self.max_length,
                                        self.pad_to_max_length, self.multiple)) for rows in self.plan(epoch)}

    def renamed(self, names: dict[str, str]) -> BatchSource:
        """A copy (at the same epoch) whose batches use a model's own input names, e.g. {"token_ids": "input_ids"}."""
        source = copy.copy(self)
        source.names = dict(names)
        return source

    def batch(self, rows: np.ndarray, epoch: int | None = None) -> tuple[dict, np.ndarray]:
        """The batch of `rows` in `epoch` (by default the source's current one: it matters with windows only)."""
        width = batch_width(np.asarray(self.split.lengths[rows]), self.max_length, self.pad_to_max_length,
                            self.multiple)
        features = batch_features(self.split, rows, width, sorted(set(self.names.values())), self.windows,
                                  self.epoch if epoch is None else epoch)
        return ({name: features[ours] for name, ours in self.names.items()},
                np.asarray(self.split.labels[rows], dtype=np.int32))

    def __call__(self) -> Iterator[tuple[dict, np.ndarray]]:
        epoch = self.epoch
        plan, self.epoch = self.plan(epoch), epoch + 1
        for rows in plan:
            yield self.batch(rows, epoch)

    def dataset(self, with_labels: bool = True):
        """A tf.data.Dataset over this source, with known cardinality and prefetching."""
        import tensorflow as tf

        spec = {name: tf.TensorSpec((None, None), tf.int32) for name in self.names}
        dataset = tf.data.Dataset.from_generator(self, output_signature=(spec, tf.TensorSpec((None,), tf.int32)))
        options = tf.data.Options()  # under a multi-worker strategy each worker takes its share of every batch
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        dataset = dataset.with_options(options)
        if not with_labels:
            dataset = dataset.map(lambda features, labels: features)
        return dataset.apply(tf.data.experimental.assert_cardinality(len(self))).prefetch(2)
