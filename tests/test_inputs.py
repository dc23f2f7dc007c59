"""The tf.data input: batch plans, masks from lengths, dynamic padding equal to static padding."""

from __future__ import annotations

import numpy as np
import pytest

from imdb_bert.batches import BatchSource, batch_features, batch_plan, batch_width
from imdb_bert.models import get_library
from imdb_bert.tokens import TokenizedSplit


def make_split(lengths: list[int], max_length: int = 32, vocab: int = 100, seed: int = 0) -> TokenizedSplit:
    rng = np.random.default_rng(seed)
    ids = np.zeros((len(lengths), max_length), dtype=np.uint16)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(5, vocab, size=length)
        ids[row, 0], ids[row, length - 1] = 2, 3
    return TokenizedSplit(ids, np.asarray(lengths, dtype=np.int32), np.arange(len(lengths), dtype=np.int8) % 2)


LENGTHS = np.random.default_rng(1).integers(3, 33, size=203)


@pytest.mark.parametrize("group", [True, False])
def test_every_row_is_in_exactly_one_batch(group):
    batches = batch_plan(LENGTHS, 16, np.random.default_rng(7), group)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(LENGTHS)))
    assert all(len(b) == 16 for b in batches[:-1] if len(b) != 203 % 16)


def test_plans_are_seeded_and_change_every_epoch():
    def source_plan(epoch):
        source = BatchSource(make_split(LENGTHS.tolist()), ["input_ids"], 16, shuffle_seed=13,
                             group_by_length=True, pad_to_max_length=False, pad_to_multiple_of=8)
        return [b.tolist() for b in source.plan(epoch)]
    assert source_plan(0) == source_plan(0)
    assert source_plan(0) != source_plan(1)


def test_grouping_by_length_narrows_the_batches():
    def mean_width(group):
        plan = batch_plan(LENGTHS, 16, np.random.default_rng(3), group)
        return np.mean([batch_width(LENGTHS[rows], 32, False, 1) for rows in plan])
    assert mean_width(True) < mean_width(False) - 3


def test_unshuffled_plan_is_sorted_by_length():
    order = np.concatenate(batch_plan(LENGTHS, 16, None, True))
    assert (np.diff(LENGTHS[order]) >= 0).all()


def test_batch_width_rounds_up_and_respects_static_padding():
    assert batch_width(np.array([5, 9]), 32, False, 8) == 16
    assert batch_width(np.array([31]), 32, False, 8) == 32
    assert batch_width(np.array([5]), 32, True, 8) == 32


def test_masks_and_token_types_follow_lengths():
    split = make_split([4, 7, 2])
    features = batch_features(split, np.array([2, 0, 1]), 8, ["input_ids", "token_type_ids", "attention_mask"])
    assert features["attention_mask"].tolist() == [[1, 1, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 0, 0, 0, 0],
                                                   [1, 1, 1, 1, 1, 1, 1, 0]]
    assert not features["token_type_ids"].any() and features["input_ids"].shape == (3, 8)
    assert features["input_ids"].dtype == np.int32
    only_two = batch_features(split, np.array([0]), 8, ["input_ids", "attention_mask"])
    assert only_two.keys() == {"input_ids", "attention_mask"}


def test_dynamic_padding_gives_the_same_logits_as_static_padding(tiny_checkpoint):
    model = get_library("transformers").build(str(tiny_checkpoint), ["negative", "positive"], "pretrained")
    vocab = len((tiny_checkpoint / "vocab.txt").read_text().splitlines())
    split = make_split([5, 12, 20, 9, 32, 3], max_length=32, vocab=vocab)
    names = ["input_ids", "token_type_ids", "attention_mask"]

    def logits(pad_to_max_length: bool) -> np.ndarray:
        source = BatchSource(split, names, 2, shuffle_seed=None, group_by_length=True,
                             pad_to_max_length=pad_to_max_length, pad_to_multiple_of=8)
        widths = [features["input_ids"].shape[1] for features, _ in source()]
        assert (widths == [32, 32, 32]) == pad_to_max_length
        out = model.predict(source.dataset(with_labels=False), verbose=0).logits
        result = np.empty_like(out)
        result[np.concatenate(source.plan(0))] = out
        return result

    np.testing.assert_allclose(logits(False), logits(True), atol=1e-5)
