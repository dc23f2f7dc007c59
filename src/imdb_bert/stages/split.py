"""Stage `split`: raw review CSV -> de-duplicated, stratified train/validation/test splits.

Reads params `data.*`. Writes data/split/{train,validation,test}.csv (source_row, text, label),
data/split/labels.json, data/split/cleaning.json (the text cleaning applied, which predict repeats)
and the data report metrics/data.json.
"""

from __future__ import annotations

import logging

import pandas as pd
from sklearn.model_selection import train_test_split

from imdb_bert.data import read_reviews, strip_html_line_breaks
from imdb_bert.errors import PipelineError, run_stage
from imdb_bert.files import atomic_path, write_json
from imdb_bert.params import DataParams, load_params

SPLIT_DIR = "data/split"
REPORT = "metrics/data.json"
log = logging.getLogger("split")


def split_reviews(reviews: pd.DataFrame, params: DataParams) -> tuple[dict[str, pd.DataFrame], dict]:
    """Clean, de-duplicate, subsample and split; return the splits and the data report."""
    report: dict = {"rows_read": len(reviews), "rows_removed": {}}
    if params.strip_html:
        cleaned = strip_html_line_breaks(reviews["text"])
        report["rows_with_html_line_breaks_cleaned"] = int((cleaned != reviews["text"]).sum())
        reviews = reviews.assign(text=cleaned)
    if params.drop_duplicates:
        duplicate = reviews.duplicated("text", keep="first")
        first_label = reviews.drop_duplicates("text").set_index("text")["label"]
        conflicting = duplicate & (reviews["label"].to_numpy() != first_label.loc[reviews["text"]].to_numpy())
        report["rows_removed"]["duplicate_text"] = int(duplicate.sum())
        report["duplicates_with_other_label"] = int(conflicting.sum())
        reviews = reviews[~duplicate]
    if params.max_rows is not None and params.max_rows < len(reviews):
        report["rows_removed"]["over_max_rows"] = len(reviews) - params.max_rows
        reviews, _ = train_test_split(reviews, train_size=params.max_rows, random_state=params.seed,
                                      stratify=reviews["label"])

    train, test = _stratified(reviews, params.test_size, params.seed, "data.test_size")
    validation = train.iloc[:0]  # validation_size 0 (the tutorial): an empty validation split
    if params.validation_size > 0:
        train, validation = _stratified(train, params.validation_size, params.seed, "data.validation_size")
    splits = {"train": train, "validation": validation, "test": test}
    report["rows_kept"] = len(reviews)
    report["splits"] = {
        name: {"rows": len(split), **{label: int((split["label"] == index).sum())
                                      for index, label in enumerate(params.labels)}}
        for name, split in splits.items()
    }
    return splits, report


def _stratified(frame: pd.DataFrame, share: float, seed: int, param: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    if not 0 < share < 1:
        raise PipelineError(f"params.yaml: {param} is {share}; expected a share between 0 and 1")
    try:
        return train_test_split(frame, test_size=share, random_state=seed, stratify=frame["label"])
    except ValueError as error:
        raise PipelineError(f"too few reviews ({len(frame)}) for {param}={share}: {error}") from None


def main() -> None:
    params = load_params().data
    reviews = read_reviews(params.raw_csv, params.text_column, params.label_column, params.labels)
    log.info("read %d reviews from %s", len(reviews), params.raw_csv)
    splits, report = split_reviews(reviews, params)
    with atomic_path(SPLIT_DIR) as out:
        out.mkdir()
        for name, split in splits.items():
            split.to_csv(out / f"{name}.csv", index=False, lineterminator="\n")
        write_json(out / "labels.json", params.labels)
        write_json(out / "cleaning.json", {"strip_html": params.strip_html})
    write_json(REPORT, report)
    log.info("removed %s; kept %d: %s", report["rows_removed"] or "nothing", report["rows_kept"],
             ", ".join(f"{name} {split['rows']}" for name, split in report["splits"].items()))


if __name__ == "__main__":
    run_stage(main)
