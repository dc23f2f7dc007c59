"""imdb-predict: texts and CSV files scored with a trained model directory, tokenized as in training."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import run

SCRIPT = ["-m", "imdb_bert.commands.predict"]


@pytest.fixture(scope="module")
def project(tmp_path_factory, trained_demo) -> Path:
    """A copy of the session's trained demo without evaluate's decision file: predict decides by arg-max."""
    project = trained_demo.copy(tmp_path_factory.mktemp("predict"))
    (project / "models/decision.json").unlink()
    return project


def predict(project: Path, *args: str, check: bool = True):
    return run([sys.executable, *SCRIPT, *args], project, check=check)


def test_texts_are_printed_with_label_and_probability(project):
    lines = predict(project, "A wonderful, moving film.", "Dull and far too long.").stdout.strip().splitlines()
    assert len(lines) == 2
    for line, text in zip(lines, ("A wonderful, moving film.", "Dull and far too long."), strict=True):
        label, probability, preview = line.split("\t")
        assert label in ("negative", "positive") and 0.5 <= float(probability) <= 1 and preview == text


def test_predict_tokenizes_exactly_as_training(project, monkeypatch):
    monkeypatch.chdir(project)
    from imdb_bert.batches import BatchSource
    from imdb_bert.commands.predict import Predictor
    from imdb_bert.scoring import predict_probabilities
    from imdb_bert.tokens import load_split

    predictor = Predictor("models/model")
    texts = pd.read_csv("data/split/test.csv", keep_default_na=False)["text"].tolist()
    cached = BatchSource(load_split("test"), predictor.settings["model_input_names"], 16, shuffle_seed=None,
                         group_by_length=True, pad_to_max_length=False, pad_to_multiple_of=8)
    np.testing.assert_allclose(predictor.probabilities(texts), predict_probabilities(predictor.model, cached),
                               atol=1e-5)


def test_a_file_is_scored_row_by_row_keeping_its_columns(project):
    reviews = pd.DataFrame({"id": [7, 8, 9], "review": ["Great fun, loved it.", "Awful.", "An average film, ok."]})
    reviews.to_csv(project / "in.csv", index=False)
    predict(project, "--input", "in.csv", "--output", "scored.csv")
    scored = pd.read_csv(project / "scored.csv")
    assert scored["id"].tolist() == [7, 8, 9] and scored["review"].tolist() == reviews["review"].tolist()
    assert set(scored["predicted_label"]) <= {"negative", "positive"}
    np.testing.assert_allclose(scored["p_negative"] + scored["p_positive"], 1, atol=1e-5)
    assert (scored["probability"] == scored[["p_negative", "p_positive"]].max(axis=1)).all()


BAD = {
    "empty_file": (["--input", "bad.csv", "--output", "out.csv"], "", "file is empty"),
    "header_only": (["--input", "bad.csv", "--output", "out.csv"], "review\n", "has a header but no rows"),
    "missing_column": (["--input", "bad.csv", "--output", "out.csv"], "text\nGood.\n", "no column 'review'"),
    "missing_file": (["--input", "nowhere.csv", "--output", "out.csv"], None, "nowhere.csv: file not found"),
    "no_model": (["--model", "models/none", "Good."], None, "not a trained model directory"),
    "empty_text": (["  "], None, "an empty review was given"),
    "directory": (["--input", "data", "--output", "out.csv"], None, "data: is a directory"),
    "latin1": (["--input", "bad.csv", "--output", "out.csv"], b"review\nGood.\nCaf\xe9 scenes\n",
               "bad.csv: line 3, byte 16: not UTF-8"),
    "binary": (["--input", "bad.csv", "--output", "out.csv"], b"PK\x03\x04\x14\x00\x00\x00", "binary data"),
    "empty_cell": (["--input", "bad.csv", "--output", "out.csv"], "id,review\n1,Good.\n2,\n3,Bad.\n",
                   "bad.csv: row 3: no review in column 'review'"),
    "fewer_fields": (["--input", "bad.csv", "--output", "out.csv"], "id,review\n1,Good.\n2\n",
                     "bad.csv: row 3: no review"),
    "more_fields": (["--input", "bad.csv", "--output", "out.csv"], "id,review\n1,Good.\n2,Bad, really.\n",
                    "bad.csv: line 3: 3 fields where the header has 2"),
    "unclosed_quote": (["--input", "bad.csv", "--output", "out.csv"], 'review\nGood.\n"Bad, and\n',
                       "bad.csv: row 3: a quoted field never ends"),
    "too_long": (["--max-chars", "20", "--input", "bad.csv", "--output", "out.csv"],
                 "review\nGood.\nA review far longer than twenty characters.\n",
                 "bad.csv: row 3: a review of 43 characters, over the limit of 20"),
    "too_long_text": (["--max-chars", "20", "A review far longer than twenty characters."], None,
                      "review 1: 43 characters, over the limit of 20"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_is_one_clear_line(project, case):
    args, content, message = BAD[case]
    if isinstance(content, bytes):
        (project / "bad.csv").write_bytes(content)
    elif content is not None:
        (project / "bad.csv").write_text(content)
    result = predict(project, *args, check=False)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1 and len(errors) == 1 and message in errors[0], result.stderr
    assert not (project / "out.csv").exists()


def test_the_decision_file_of_evaluate_is_applied(project, monkeypatch):
    monkeypatch.chdir(project)
    from imdb_bert.commands.predict import Predictor
    from imdb_bert.decisions import DECISION_FILE, Decision, apply_temperature, read_decision, write_decision

    texts = pd.read_csv("data/split/test.csv", keep_default_na=False)["text"].tolist()[:20]
    plain = Predictor("models/model")
    expected = apply_temperature(plain.probabilities(texts), 2.0)
    threshold = float(np.median(expected[:, 1]))  # half the texts on each side, whatever the arg-max says
    write_decision(Decision(labels=plain.labels, temperature=2.0, threshold=threshold))
    try:
        decided = Predictor("models/model", decision=read_decision(DECISION_FILE, plain.labels)).scores(texts)
        np.testing.assert_allclose(decided[["p_negative", "p_positive"]], expected, atol=1e-5)
        wanted = np.where(expected[:, 1] >= threshold, "positive", "negative")
        assert decided["predicted_label"].tolist() == wanted.tolist()
        extremes = np.argsort(expected[:, 1])[[0, 1, -2, -1]]  # far from the threshold: batching cannot flip them
        printed = predict(project, *(texts[i] for i in extremes)).stdout.strip().splitlines()  # found by default
        assert [line.split("\t")[0] for line in printed] == wanted[extremes].tolist()
        write_decision(Decision(labels=["bad", "good"]), "other.json")
        result = predict(project, "--decision", "other.json", "Good.", check=False)
        assert result.returncode == 1 and "error: other.json: chosen for labels ['bad', 'good']" in result.stderr
    finally:
        DECISION_FILE.unlink()


def test_windows_score_long_texts_only(project, monkeypatch):
    monkeypatch.chdir(project)
    from imdb_bert.commands.predict import Predictor
    from imdb_bert.decisions import Decision
    from imdb_bert.scoring import score_reviews
    from imdb_bert.tokens import content_ids, pad, with_special_tokens

    texts = pd.read_csv("data/split/test.csv", keep_default_na=False)["text"].tolist()
    plain = Predictor("models/model")
    windowed = Predictor("models/model", decision=Decision(labels=plain.labels, long_reviews="windows",
                                                           window_stride=40))
    lengths = np.array([len(plain.tokenizer(text)["input_ids"]) for text in texts])
    long = lengths > plain.settings["max_length"]
    assert 0 < long.sum() < len(texts)
    before, after = plain.probabilities(texts), windowed.probabilities(texts)
    np.testing.assert_allclose(after[~long], before[~long], atol=1e-6)
    assert (after[long] != before[long]).any(axis=1).all()  # every long text rescored
    longest = int(np.argmax(lengths))
    ids = content_ids(plain.tokenizer, [texts[longest]])  # the longest review alone, in batches of 8
    max_length = plain.settings["max_length"]
    truncated = pad(with_special_tokens(plain.tokenizer, ids, max_length, plain.settings["truncation"]), max_length,
                    plain.tokenizer.pad_token_id, np.dtype(np.int32))
    alone = score_reviews(plain.model, plain.tokenizer, ids, truncated, max_length, 40,
                          plain.settings["model_input_names"], 8, ("windows",))["windows"]
    np.testing.assert_allclose(after[longest], alone[0], atol=1e-5)
    np.testing.assert_allclose(after.sum(axis=1), 1, atol=1e-5)


def test_with_windows_predict_scores_each_review_once_in_one_pass(project, monkeypatch):
    monkeypatch.chdir(project)
    from imdb_bert.commands.predict import Predictor
    from imdb_bert.decisions import Decision
    from imdb_bert.scoring import window_sequences
    from imdb_bert.tokens import content_ids

    texts = pd.read_csv("data/split/test.csv", keep_default_na=False)["text"].tolist()
    predictor = Predictor("models/model", decision=Decision(labels=["negative", "positive"], long_reviews="windows",
                                                            window_stride=40))
    max_length = predictor.settings["max_length"]
    ids = content_ids(predictor.tokenizer, texts)
    long = [i for i, review in enumerate(ids) if len(review) + 2 > max_length]
    windows, _ = window_sequences(predictor.tokenizer, [ids[i] for i in long], max_length, 40)
    scored_rows = []
    predict_logits = predictor.model.predict_logits

    def counting(source, verbose=0):
        scored_rows.append(len(source.split.lengths))
        return predict_logits(source, verbose)

    predictor.model.predict_logits = counting
    predictor.probabilities(texts)
    assert 0 < len(long) < len(texts)
    assert scored_rows == [len(texts) - len(long) + len(windows)]  # one call; no long review also truncated
