"""Long reviews over overlapping windows (`evaluate.long_reviews: windows`)."""

from __future__ import annotations

import numpy as np
import pytest

from stages.common.metrics import softmax
from stages.common.tokens import content_ids
from stages.common.windows import mean_window_logits, window_sequences, window_starts


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
    from stages.common.checkpoint import load_tokenizer

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
    from stages.common.errors import PipelineError
    from stages.common.params import EvaluateParams
    from stages.evaluate import stride_tokens

    def settings(stride: float) -> EvaluateParams:
        return EvaluateParams(batch_size=8, misclassified=0, calibrate=False, threshold=None, long_reviews="windows",
                              window_stride=stride)

    assert stride_tokens(settings(0.5), 510) == 255 and stride_tokens(settings(1.0), 126) == 126
    assert stride_tokens(settings(0.001), 126) == 1
    for bad in (0.0, 1.5, -0.5):
        with pytest.raises(PipelineError, match=r"evaluate.window_stride is .*; expected a share of the window"):
            stride_tokens(settings(bad), 126)
