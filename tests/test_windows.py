"""Long reviews over overlapping windows (`evaluate.long_reviews: windows`)."""

from __future__ import annotations

import numpy as np
import pytest

from imdb_bert.evaluation.metrics import softmax
from imdb_bert.scoring import mean_window_logits, window_sequences, window_starts
from imdb_bert.tokens import content_ids


@pytest.mark.parametrize("length,budget,stride", [(1000, 126, 63), (1000, 126, 126), (127, 126, 100), (5, 126, 63),
                                                  (300, 254, 1)])
def test_windows_cover_every_token(length, budget, stride):
    starts = window_starts(length, budget, stride)
    covered = np.zeros(length, dtype=bool)
    for start in starts:
        assert start >= 0 and (start + budget <= length or starts == [0])
        covered[start:start + budget] = True
    assert covered.all()
    assert starts[-1] == max(0, length - budget)  # the last window ends on the last token
    assert all(b - a <= stride for a, b in zip(starts, starts[1:], strict=False))


def test_a_long_review_is_cut_into_windows_with_special_tokens_that_cover_it(tiny_checkpoint):
    from imdb_bert.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(str(tiny_checkpoint))
    review = " ".join(["a wonderful film with a great cast and a moving story, the best work"] * 20)
    short = "a dull film."
    ids = content_ids(tokenizer, [short, review])
    sequences, owners = window_sequences(tokenizer, ids, max_length=32, stride=15)
    assert owners.tolist() == [0] + [1] * (len(owners) - 1)
    assert sequences[0] == tokenizer(short)["input_ids"]  # a short review is its own single window
    windows = [sequence for sequence, owner in zip(sequences, owners, strict=True) if owner == 1]
    assert all(len(window) == 32 and window[0] == tokenizer.cls_token_id and window[-1] == tokenizer.sep_token_id
               for window in windows)
    rebuilt = {}
    for window, start in zip(windows, window_starts(len(ids[1]), 30, 15), strict=True):
        for offset, token in enumerate(window[1:-1]):
            rebuilt[start + offset] = token
    assert [rebuilt[position] for position in range(len(ids[1]))] == ids[1]  # every token, in place


def test_a_review_gets_the_softmax_of_its_windows_mean_logits():
    window_logits = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]])
    probabilities = mean_window_logits(softmax(window_logits), np.array([0, 0, 1]), 2)
    np.testing.assert_allclose(probabilities, softmax(np.array([[2.0, 0.0], [0.0, 2.0]])))


def test_the_stride_is_a_share_of_the_window_in_tokens():
    from imdb_bert.errors import PipelineError
    from imdb_bert.params import EvaluateParams
    from imdb_bert.stages.evaluate import stride_tokens

    def settings(stride: float) -> EvaluateParams:
        return EvaluateParams(batch_size=8, misclassified=0, calibrate=False, threshold=None, long_reviews="windows",
                              window_stride=stride, bootstrap_resamples=0, bootstrap_seed=13, bf16_scoring=False)

    assert stride_tokens(settings(0.5), 510) == 255 and stride_tokens(settings(1.0), 126) == 126
    assert stride_tokens(settings(0.001), 126) == 1
    for bad in (0.0, 1.5, -0.5):
        with pytest.raises(PipelineError, match=r"evaluate.window_stride is .*; expected a share of the window"):
            stride_tokens(settings(bad), 126)


class CountingModel:
    """Stands in for a trained classifier: records every row it is asked to score; logits from the row's tokens."""

    def __init__(self):
        self.calls, self.rows = 0, []

    def predict_logits(self, source, verbose=0):
        self.calls += 1
        logits = []
        for features, _ in source():
            for ids, mask in zip(features["input_ids"], features["attention_mask"], strict=True):
                self.rows.append(tuple(int(token) for token in ids[mask.astype(bool)]))
                logits.append([0.0, float(np.sum(ids) % 7) / 3])
        return np.array(logits)


def test_with_windows_a_long_review_is_scored_through_its_windows_only_in_one_call(tiny_checkpoint):
    from imdb_bert.scoring import score_reviews
    from imdb_bert.tokenizer import load_tokenizer
    from imdb_bert.tokens import id_dtype, pad, with_special_tokens

    tokenizer = load_tokenizer(str(tiny_checkpoint))
    texts = ["a dull film.", " ".join(["a wonderful film with a great cast and a moving story"] * 12),
             "the best work", " ".join(["i hated every minute of this terrible lazy sequel"] * 9)]
    ids = content_ids(tokenizer, texts)
    truncated_sequences = with_special_tokens(tokenizer, ids, 32, "head_tail")
    truncated = pad(truncated_sequences, 32, tokenizer.pad_token_id, id_dtype(len(tokenizer)))
    long = [1, 3]
    windows, owners = window_sequences(tokenizer, [ids[i] for i in long], 32, 15)
    counting = CountingModel()
    found = score_reviews(counting, tokenizer, ids, truncated, 32, 15, ["input_ids", "attention_mask"], 4,
                          ("windows",))
    assert counting.calls == 1  # short reviews and every window in one length-grouped pass
    assert sorted(counting.rows) == sorted([tuple(truncated_sequences[0]), tuple(truncated_sequences[2]),
                                            *map(tuple, windows)])
    assert not {tuple(truncated_sequences[i]) for i in long} & set(counting.rows)  # never the truncated form
    per_row = softmax(np.array([[0.0, float(np.sum(row) % 7) / 3] for row in windows]))
    np.testing.assert_allclose(found["windows"][long], mean_window_logits(per_row, owners, 2), atol=1e-6)

    both = CountingModel()
    scored = score_reviews(both, tokenizer, ids, truncated, 32, 15, ["input_ids", "attention_mask"], 4,
                           ("truncate", "windows"))
    assert both.calls == 1 and len(both.rows) == len(texts) + len(windows)  # each sequence once
    np.testing.assert_allclose(scored["windows"], found["windows"], atol=1e-6)
    only = CountingModel()
    score_reviews(only, tokenizer, ids, truncated, 32, 15, ["input_ids", "attention_mask"], 4, ("truncate",))
    assert sorted(only.rows) == sorted(map(tuple, truncated_sequences))  # truncate: the truncated pass alone
