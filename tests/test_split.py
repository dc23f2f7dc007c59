"""Stage `split`: cleaning, de-duplication, stratified leak-free splits, the data report, bad input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import copy_project, demo_params, stage

from imdb_bert.data import read_reviews
from imdb_bert.errors import PipelineError
from imdb_bert.params import load_params
from imdb_bert.stages.split import split_reviews

HEADER = "review,sentiment\n"
GOOD_ROWS = "".join(f'"Review {i}, which is {"great" if i % 2 else "awful"}.",{"positive" if i % 2 else "negative"}\n'
                    for i in range(40))


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A scratch copy whose params read data/raw/input.csv, for running the stage as a user would."""
    return copy_project(tmp_path_factory.mktemp("split"), demo_params(data={"raw_csv": "data/raw/input.csv"}),
                        git=False)


def run_split(project: Path, content: bytes | str):
    for leftover in ("data/split", "metrics/data.json"):
        path = project / leftover
        if path.is_dir():
            import shutil
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    data = content.encode("utf-8") if isinstance(content, str) else content
    (project / "data/raw/input.csv").write_bytes(data)
    return stage("split", project)


BAD_INPUTS = {
    "missing_file": (None, "file not found; download 'IMDB Dataset.csv'"),
    "empty_file": (b"", "file is empty"),
    "header_only": (HEADER, "has a header but no rows"),
    "missing_column": ("text,sentiment\nGood.,positive\n", "no column 'review'"),
    "label_outside_set": (HEADER + GOOD_ROWS + "Meh.,neutral\n", "row 42: label 'neutral'"),
    "three_classes": (HEADER + GOOD_ROWS + "Meh.,neutral\nOk.,mixed\n", "2 rows with labels 'mixed', 'neutral'"),
    "label_no_row_carries": (HEADER + "".join(line for line in GOOD_ROWS.splitlines(keepends=True)
                                              if line.endswith(",positive\n")),
                             "no row has label 'negative' in column 'sentiment'"),
    "columns_swapped": ("review,sentiment\npositive,Great film.\nnegative,Awful film.\n", "row 2: label 'Great film.'"),
    "empty_review": (HEADER + GOOD_ROWS + '"",positive\n', "row 42: empty review"),
    "whitespace_review": (HEADER + GOOD_ROWS + '"   ",positive\n', "row 42: empty review"),
    "missing_review": (HEADER + GOOD_ROWS + ",negative\n", "row 42: empty review"),
    "unterminated_quote": (HEADER + GOOD_ROWS + '"A review cut short, positive\n', "row 42: a quoted field never ends"),
    "not_utf8": ((HEADER + GOOD_ROWS).encode() + "Caf\u00e9 society,positive\n".encode("latin-1"), "not UTF-8"),
    "semicolon_separated": ("review;sentiment\nGreat, really;positive\n", "semicolons"),
    "too_many_fields_first_row": (HEADER + "Great, really,positive\n" + GOOD_ROWS, "more fields than the header"),
    "too_many_fields_later_row": (HEADER + GOOD_ROWS + "Great, really,positive\n", "not a valid CSV"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=list(BAD_INPUTS))
def test_bad_input_gives_one_clear_line_and_no_outputs(project, case):
    content, expected = BAD_INPUTS[case]
    if content is None:
        result = run_split(project, b"x")
        (project / "data/raw/input.csv").unlink()
        result = stage("split", project)
    else:
        result = run_split(project, content)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: data/raw/input.csv"), result.stderr
    assert expected in errors[0]
    assert "Traceback" not in result.stderr
    assert not (project / "data/split").exists() and not (project / "metrics/data.json").exists()
    assert not list((project / "data").glob(".*.partial"))


@pytest.mark.parametrize("content", [
    "\ufeff" + HEADER + GOOD_ROWS,  # BOM
    (HEADER + GOOD_ROWS).replace("\n", "\r\n"),  # Windows line endings
    "id,review,sentiment,extra\n" + "".join(f"{i},{row},x\n" for i, row in enumerate(GOOD_ROWS.splitlines())),
], ids=["bom", "crlf", "extra_columns"])
def test_accepted_variants_give_the_same_splits(project, content):
    assert run_split(project, HEADER + GOOD_ROWS).returncode == 0
    expected = {name: (project / f"data/split/{name}.csv").read_text() for name in ("train", "validation", "test")}
    result = run_split(project, content)
    assert result.returncode == 0, result.stderr
    for name, text in expected.items():
        got = pd.read_csv(project / f"data/split/{name}.csv")
        want = pd.read_csv(pd.io.common.StringIO(text))
        assert got[["text", "label"]].equals(want[["text", "label"]])


def test_labels_match_ignoring_case_and_surrounding_spaces(tmp_path):
    csv = tmp_path / "reviews.csv"
    csv.write_text(HEADER + "Loved it.,Positive \nHated it., NEGATIVE\n")
    reviews = read_reviews(csv, "review", "sentiment", ["negative", "positive"])
    assert reviews["label"].tolist() == [1, 0]
    assert reviews["source_row"].tolist() == [2, 3]


def _sample_reviews():
    data = load_params(Path(__file__).parents[1] / "demo/params.yaml").data
    return data, read_reviews(Path(__file__).parents[1] / data.raw_csv, data.text_column, data.label_column,
                              data.labels)


def test_duplicates_are_removed_before_splitting_and_counted():
    data, reviews = _sample_reviews()
    splits, report = split_reviews(reviews, data)
    texts = [set(split["text"]) for split in splits.values()]
    assert sum(len(t) for t in texts) == len(set.union(*texts)), "a text appears in two splits"
    duplicates = int(reviews.assign(text=reviews["text"].str.replace(r"\s*<br\s*/?>\s*", " ", regex=True)
                                    .str.strip()).duplicated("text").sum())
    assert duplicates > 0
    assert report["rows_removed"] == {"duplicate_text": duplicates}
    assert report["rows_kept"] == report["rows_read"] - duplicates == sum(len(s) for s in splits.values())
    for name, split in splits.items():
        assert report["splits"][name]["rows"] == len(split)
        assert report["splits"][name]["positive"] == int(split["label"].sum())
    assert not any("<br" in text for split in splits.values() for text in split["text"])


def test_split_is_stratified_with_the_configured_shares():
    data, reviews = _sample_reviews()
    splits, report = split_reviews(reviews, data)
    kept = report["rows_kept"]
    assert abs(len(splits["test"]) - data.test_size * kept) <= 1
    assert abs(len(splits["validation"]) - data.validation_size * (kept - len(splits["test"]))) <= 1
    for split in splits.values():
        assert abs(split["label"].mean() - 0.5) < 0.05


def test_max_rows_subsamples_and_reports_the_removed_rows():
    data, reviews = _sample_reviews()
    splits, report = split_reviews(reviews, data.__class__(**{**data.__dict__, "max_rows": 100}))
    assert sum(len(split) for split in splits.values()) == 100 == report["rows_kept"]
    removed = report["rows_removed"]
    assert removed["over_max_rows"] == report["rows_read"] - 100 - removed["duplicate_text"]


def test_validation_size_zero_gives_an_empty_validation_split():
    data, reviews = _sample_reviews()
    splits, _ = split_reviews(reviews, data.__class__(**{**data.__dict__, "validation_size": 0.0}))
    assert len(splits["validation"]) == 0 and len(splits["train"]) > 0


def test_too_few_reviews_for_a_stratified_split_is_a_clear_error():
    data, reviews = _sample_reviews()
    with pytest.raises(PipelineError, match="too few reviews"):
        split_reviews(reviews.head(2), data)


def test_stage_outputs_are_byte_identical_across_runs(project):
    sample = (Path(__file__).parents[1] / "data/sample/imdb_sample.csv").read_bytes()
    digests = []
    for _ in range(2):
        assert run_split(project, sample).returncode == 0
        files = sorted((project / "data/split").iterdir()) + [project / "metrics/data.json"]
        digests.append({f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files})
    assert digests[0] == digests[1]
    report = json.loads((project / "metrics/data.json").read_text())
    assert report["rows_read"] == 300
