"""Model input from the token cache: dynamic padding, length-grouped batches, masks from lengths."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import numpy as np

from imdb_bert.tokens import TokenizedSplit

GROUP_WINDOW_BATCHES = 50  # batches per window sorted by length: similar lengths, still shuffled


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


def batch_features(split: TokenizedSplit, rows: np.ndarray, width: int, input_names: list[str]) -> dict:
    """Model inputs for `rows`, cut to `width` columns; masks and token types derived from lengths."""
    input_ids = np.asarray(split.input_ids[rows, :width], dtype=np.int32)
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
                 group_by_length: bool, pad_to_max_length: bool, pad_to_multiple_of: int) -> None:
        self.split, self.input_names, self.batch_size = split, input_names, batch_size
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

    def batch(self, rows: np.ndarray) -> tuple[dict, np.ndarray]:
        width = batch_width(np.asarray(self.split.lengths[rows]), self.max_length, self.pad_to_max_length,
                            self.multiple)
        features = batch_features(self.split, rows, width, sorted(set(self.names.values())))
        return ({name: features[ours] for name, ours in self.names.items()},
                np.asarray(self.split.labels[rows], dtype=np.int32))

    def __call__(self) -> Iterator[tuple[dict, np.ndarray]]:
        plan, self.epoch = self.plan(self.epoch), self.epoch + 1
        for rows in plan:
            yield self.batch(rows)

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
