"""How reviews are scored, and long ones over overlapping windows (`evaluate.long_reviews: windows`).

A review longer than max_length is cut into windows of max_length tokens (special tokens included) that start
every `stride` tokens, the last one ending at the review's last token, so every token is in some window. The
model scores each window; the review's logits are the mean of its windows' logits.

`score_reviews` is the one inference path of `evaluate` and `predict`: each review is scored once, a long one
only through its windows when windows are on (never also truncated), and the short reviews' sequences and every
window go through one length-grouped `predict` call. It is where bf16 inference would be switched on.
"""

from __future__ import annotations

import numpy as np

from imdb_bert.batches import BatchSource
from imdb_bert.evaluation.metrics import softmax
from imdb_bert.tokens import TokenizedSplit, full_lengths, num_special_tokens, pad, window_starts


def predict_probabilities(classifier, source: BatchSource, verbose: int = 0) -> np.ndarray:
    """Class probabilities in the split's row order, predicted in the source's (length-sorted) batch order.

    `classifier` is a trained model as `load_trained` returns it (src/imdb_bert/models/).
    """
    logits = np.asarray(classifier.predict_logits(source, verbose), dtype=np.float32)
    probabilities = np.empty_like(logits)
    probabilities[np.concatenate(source.plan(epoch=0))] = softmax(logits)
    return probabilities


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


def predict_rows(model, rows: TokenizedSplit, input_names: list[str], batch_size: int,
                 verbose: int = 0) -> np.ndarray:
    """Class probabilities of every row, in row order, from one length-grouped, dynamically padded pass."""
    source = BatchSource(rows, input_names, batch_size, shuffle_seed=None, group_by_length=True,
                         pad_to_max_length=False, pad_to_multiple_of=8)
    return predict_probabilities(model, source, verbose)


def score_reviews(model, tokenizer, ids: list[list[int]], truncated: TokenizedSplit, max_length: int, stride: int,
                  input_names: list[str], batch_size: int, modes: tuple[str, ...] = ("truncate",),
                  verbose: int = 0) -> dict[str, np.ndarray]:
    """Class probabilities of each review for each of `modes` (`truncate`, `windows`), from one model pass.

    `ids` are the reviews' token ids without special tokens; `truncated` their model input as trained (the token
    cache, or `with_special_tokens` padded), row for row. A review that fits max_length is the same sequence in
    both modes and is scored once. A long review is scored through its windows for `windows` and through its
    truncated form for `truncate`: with `windows` alone, that truncated form is never scored.
    """
    reviews = len(ids)
    long = full_lengths(tokenizer, ids) > max_length
    windowed = "windows" in modes and bool(long.any())
    whole = np.flatnonzero(~long if windowed and "truncate" not in modes else np.ones(reviews, dtype=bool))
    input_ids, lengths = [np.asarray(truncated.input_ids[whole])], [np.asarray(truncated.lengths[whole])]
    if windowed:
        sequences, owners = window_sequences(tokenizer, [ids[i] for i in np.flatnonzero(long)], max_length, stride)
        windows = pad(sequences, max_length, tokenizer.pad_token_id, truncated.input_ids.dtype)
        input_ids.append(windows.input_ids)
        lengths.append(windows.lengths)
    rows = TokenizedSplit(np.concatenate(input_ids), np.concatenate(lengths).astype(np.int32),
                          np.full(sum(map(len, lengths)), -1, dtype=np.int8))
    scored = predict_rows(model, rows, input_names, batch_size, verbose)
    first = np.empty((reviews, scored.shape[1]), dtype=np.float32)
    first[whole] = scored[:len(whole)]
    found = {"truncate": first} if "truncate" in modes else {}
    if "windows" in modes:
        found["windows"] = first.copy()
        if windowed:
            found["windows"][long] = mean_window_logits(scored[len(whole):], owners, int(long.sum()))
    return found
