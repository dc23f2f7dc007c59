"""Windows in training (`train.long_reviews: windows`): each epoch a long review is one of the windows `evaluate`
scores, in a seeded order that covers them all, and a killed run resumes to the same weights."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, copy_project, demo_params, dvc
from test_resume import kill_when, start

from imdb_bert.batches import BatchSource, TrainingWindows, batch_features
from imdb_bert.errors import PipelineError
from imdb_bert.params import TokenizeParams, load_params
from imdb_bert.scoring import window_sequences
from imdb_bert.stages.tokenize_reviews import tokenize_split
from imdb_bert.tokenizer import load_tokenizer
from imdb_bert.tokens import ContentIds, TokenizedSplit, load_content, load_split, special_tokens_around, window_starts

BUDGET, STRIDE, AROUND = 6, 3, ([101], [102])  # windows of 6 text tokens, one every 3, [CLS] and [SEP] around


def synthetic(lengths: list[int]) -> tuple[TokenizedSplit, ContentIds]:
    """Reviews of the given content lengths (token i of review r is 1000 r + i), cached head-truncated."""
    reviews = [1000 * review + np.arange(length) for review, length in enumerate(lengths)]
    max_length = BUDGET + 2
    input_ids = np.zeros((len(lengths), max_length), dtype=np.int32)
    for row, ids in enumerate(reviews):
        kept = [*AROUND[0], *ids[:BUDGET], *AROUND[1]]
        input_ids[row, :len(kept)] = kept
    split = TokenizedSplit(input_ids, np.minimum(np.array(lengths) + 2, max_length).astype(np.int32),
                           (np.arange(len(lengths)) % 2).astype(np.int8))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return split, ContentIds(np.concatenate(reviews).astype(np.int32), offsets)


LENGTHS = [3, 6, 7, 20, 40, 13, 2, 31]  # fit, fit exactly, then long ones of 2 to 13 windows
SPLIT, CONTENT = synthetic(LENGTHS)


def windows(seed: int = 13) -> TrainingWindows:
    return TrainingWindows(CONTENT, BUDGET, STRIDE, AROUND, seed)


def source(seed: int = 13, with_windows: bool = True) -> BatchSource:
    return BatchSource(SPLIT, ["input_ids", "attention_mask"], 3, shuffle_seed=seed, group_by_length=True,
                       pad_to_max_length=False, pad_to_multiple_of=1, windows=windows(seed) if with_windows else None)


def all_windows(review: int) -> list[int]:
    return window_starts(LENGTHS[review], BUDGET, STRIDE)


def test_window_orders_are_seeded_and_reproducible():
    first, again, other = windows(13), windows(13), windows(14)
    starts = {name: [[made.start(review, epoch) for epoch in range(12)] for review in range(len(LENGTHS))]
              for name, made in (("first", first), ("again", again), ("other", other))}
    assert starts["first"] == starts["again"]
    assert starts["first"] != starts["other"]


@pytest.mark.parametrize("seed", [13, 14, 15])
def test_every_window_of_a_review_is_seen_within_as_many_epochs_as_it_has_windows(seed):
    made = windows(seed)
    for review in np.flatnonzero(np.array(LENGTHS) > BUDGET):
        count = len(all_windows(review))
        assert count >= 2
        for first_epoch in (0, 1, 5):  # any run of `count` consecutive epochs, not only the first
            seen = [made.start(review, epoch) for epoch in range(first_epoch, first_epoch + count)]
            assert sorted(seen) == all_windows(review)
        assert all(made.start(review, epoch) != made.start(review, epoch + 1) for epoch in range(3 * count))


def test_a_window_is_the_review_s_text_there_with_the_special_tokens_around_it():
    made = windows()
    for epoch in range(4):
        begin = made.start(4, epoch)
        assert made.sequence(4, epoch).tolist() == [101, *range(4000 + begin, 4000 + begin + BUDGET), 102]


def test_reviews_that_fit_are_the_cached_rows_and_long_ones_their_window_of_the_epoch():
    rows = np.arange(len(LENGTHS))
    made = windows()
    for epoch in range(3):
        ids = batch_features(SPLIT, rows, BUDGET + 2, ["input_ids"], made, epoch)["input_ids"]
        for row, length in enumerate(LENGTHS):
            expected = SPLIT.input_ids[row] if length <= BUDGET else made.sequence(row, epoch)
            assert ids[row].tolist() == list(expected)
    no_long = TrainingWindows(ContentIds(CONTENT.ids, CONTENT.offsets[:3]), BUDGET, STRIDE, AROUND, 13)
    assert np.array_equal(batch_features(SPLIT, rows[:2], 8, ["input_ids"], no_long, 5)["input_ids"],
                          batch_features(SPLIT, rows[:2], 8, ["input_ids"])["input_ids"])


def test_batch_order_widths_and_masks_are_those_of_training_without_windows():
    with_windows, without = source(), source(with_windows=False)
    for epoch in range(3):
        plans = with_windows.plan(epoch), without.plan(epoch)
        assert [rows.tolist() for rows in plans[0]] == [rows.tolist() for rows in plans[1]]
        for rows in plans[0]:
            (features, labels), (plain, plain_labels) = with_windows.batch(rows, epoch), without.batch(rows, epoch)
            assert np.array_equal(features["attention_mask"], plain["attention_mask"])
            assert features["input_ids"].shape == plain["input_ids"].shape and np.array_equal(labels, plain_labels)
    # Without windows, a batch is the cached rows cut to its width, as before windows existed.
    rows = without.plan(0)[0]
    features, _ = without.batch(rows)
    assert np.array_equal(features["input_ids"], SPLIT.input_ids[rows, :features["input_ids"].shape[1]])


def test_an_epoch_s_batches_depend_only_on_the_seed_and_its_number():
    """What resuming relies on: a source set to epoch 2 gives what one that went through epochs 0 and 1 does."""
    uninterrupted = source()
    epochs = [list(uninterrupted()) for _ in range(3)]
    resumed = source()
    resumed.epoch = 2
    again = list(resumed())
    assert len(again) == len(epochs[2])
    for (features, labels), (expected, expected_labels) in zip(again, epochs[2], strict=True):
        assert np.array_equal(features["input_ids"], expected["input_ids"]) and np.array_equal(labels,
                                                                                             expected_labels)
    assert any(not np.array_equal(a[0]["input_ids"], b[0]["input_ids"])  # and the epochs differ
               for a, b in zip(epochs[0], epochs[1], strict=True))


def test_untruncated_ids_that_do_not_match_the_cache_are_refused():
    short = TrainingWindows(ContentIds(CONTENT.ids, CONTENT.offsets[:4]), BUDGET, STRIDE, AROUND, 13)
    with pytest.raises(PipelineError, match="3 reviews' untruncated ids for 8 cached reviews; run `dvc repro"):
        BatchSource(SPLIT, ["input_ids"], 3, shuffle_seed=13, group_by_length=True, pad_to_max_length=False,
                    pad_to_multiple_of=1, windows=short)


def test_training_windows_are_the_windows_evaluate_scores(tmp_path, tiny_checkpoint):
    tokenizer = load_tokenizer(str(tiny_checkpoint))
    texts = ["a great film", " ".join(["a wonderful film with a great cast and a moving story"] * 12),
             "a dull boring movie " * 25, "bad"]
    pd.DataFrame({"source_row": range(2, 6), "text": texts, "label": [1, 1, 0, 0]}).to_csv(tmp_path / "train.csv",
                                                                                      index=False)
    tokenize_split(tmp_path / "train.csv", tmp_path / "tokens" / "train", tokenizer, TokenizeParams(24, "head_tail", 2),
                   keep_content=True)
    meta = {"max_length": 24, "special_tokens_around": list(special_tokens_around(tokenizer))}
    settings = load_params(ROOT / "params.yaml").evaluate
    made = TrainingWindows.from_cache(meta, settings, seed=13, tokens_dir=tmp_path / "tokens")
    ids = [load_content("train", tmp_path / "tokens").ids[start:end].tolist() for start, end in
           zip(made.content.offsets[:-1], made.content.offsets[1:], strict=True)]
    stride = round(22 * settings.window_stride)
    sequences, owners = window_sequences(tokenizer, ids, 24, stride)
    split = load_split("train", tmp_path / "tokens")
    for review in range(len(texts)):
        scored = sorted(sequence for sequence, owner in zip(sequences, owners, strict=True) if owner == review)
        trained = sorted(batch_features(split, np.array([review]), 24, ["input_ids"], made, epoch)["input_ids"][0]
                         [:split.lengths[review]].tolist() for epoch in range(len(scored)))
        assert trained == scored, review
    assert made.counts().tolist() == [len(window_starts(len(ids[r]), 22, stride)) for r in (1, 2)]
    with pytest.raises(PipelineError, match="meta.json: written before windows in training; run `dvc repro"):
        TrainingWindows.from_cache({"max_length": 24}, settings, seed=13, tokens_dir=tmp_path / "tokens")


@pytest.mark.parametrize("path", ["params.yaml", "demo/params.yaml"])
def test_the_param_is_typed_documented_and_off_by_default(tmp_path, path):
    assert load_params(ROOT / path).train.long_reviews == "truncate"
    if path == "params.yaml":  # documented beside the key (evaluate's long_reviews is `windows`)
        line = next(line for line in (ROOT / path).read_text().splitlines() if "long_reviews: truncate" in line)
        assert "windows" in line.split("#", 1)[1]
    params = yaml.safe_load((ROOT / path).read_text())
    params["train"]["long_reviews"] = "middle"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(PipelineError, match="train.long_reviews is 'middle'; expected one of truncate, windows"):
        load_params(tmp_path / "params.yaml")


def windows_params() -> dict:
    return demo_params(tokenize={"chunk_size": 8},
                       train={"epochs": 2, "deterministic": True, "long_reviews": "windows"})


def model_digest(project: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted((project / "models/model").iterdir())}


def test_killed_training_on_windows_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path):
    (tmp_path / "reference").mkdir()
    reference = copy_project(tmp_path / "reference", windows_params())
    output = dvc("repro", "train", cwd=reference)
    assert "train.long_reviews windows: " in output.stdout + output.stderr
    assert "none of the" not in output.stdout + output.stderr  # the demo has long reviews: windows are used

    (tmp_path / "killed").mkdir()
    project = copy_project(tmp_path / "killed", windows_params())
    dvc("repro", "tokenize", cwd=project)
    training = start("train", project)
    kill_when(training, project / "models/.train_state/last_epoch/progress.json")  # epoch 1 saved: now in epoch 2
    result = dvc("repro", "train", cwd=project)
    assert "resuming after epoch 1" in result.stdout + result.stderr
    assert model_digest(project) == model_digest(reference)
    summary = "metrics/train/metrics.json"
    assert (project / summary).read_text() == (reference / summary).read_text()
