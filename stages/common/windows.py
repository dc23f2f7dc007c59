"""Long reviews scored over overlapping windows: `evaluate.long_reviews: windows`.

A review longer than max_length is cut into windows of max_length tokens (special tokens included) that start
every `stride` tokens, the last one ending at the review's last token, so every token is in some window. The
model scores each window; the review's logits are the mean of its windows' logits.
"""

from __future__ import annotations

import numpy as np

from stages.common.inputs import BatchSource, predict_probabilities
from stages.common.metrics import softmax
from stages.common.tokens import id_dtype, num_special_tokens, pad


def window_starts(length: int, budget: int, stride: int) -> list[int]:
    """Start offsets of windows of `budget` tokens over `length` tokens: every `stride`, the last one flush
    with the end. One window at 0 when the text fits."""
    if length <= budget:
        return [0]
    return list(range(0, length - budget, stride)) + [length - budget]


def window_sequences(tokenizer, ids: list[list[int]], max_length: int,
                     stride: int) -> tuple[list[list[int]], np.ndarray]:
    """The windows of every review, special tokens added, and the index of the review each window belongs to."""
    budget = max_length - num_special_tokens(tokenizer)
    sequences, owners = [], []
    for owner, review in enumerate(ids):
        for start in window_starts(len(review), budget, stride):
            sequences.append(tokenizer.build_inputs_with_special_tokens(review[start:start + budget]))
            owners.append(owner)
    return sequences, np.asarray(owners, dtype=np.int64)


def mean_window_logits(window_probabilities: np.ndarray, owners: np.ndarray, reviews: int) -> np.ndarray:
    """Per review, softmax of its windows' mean logits. Log-probabilities are the logits up to a per-window
    constant, which the softmax cancels."""
    sums = np.zeros((reviews, window_probabilities.shape[1]))
    np.add.at(sums, owners, np.log(np.clip(window_probabilities.astype(np.float64), 1e-30, 1.0)))
    return softmax(sums / np.bincount(owners, minlength=reviews)[:, None])


def windowed_probabilities(model, tokenizer, ids: list[list[int]], max_length: int, stride: int,
                           input_names: list[str], batch_size: int) -> np.ndarray:
    """Class probabilities of each review (token ids without special tokens) from its windows."""
    sequences, owners = window_sequences(tokenizer, ids, max_length, stride)
    split = pad(sequences, max_length, tokenizer.pad_token_id, id_dtype(len(tokenizer)))
    source = BatchSource(split, input_names, batch_size, shuffle_seed=None, group_by_length=True,
                         pad_to_max_length=False, pad_to_multiple_of=8)
    return mean_window_logits(predict_probabilities(model, source), owners, len(ids))
