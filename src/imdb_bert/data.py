"""Reading the Kaggle-schema review CSV, with one clear error for each kind of bad input.

Rows are numbered as in a spreadsheet: the header is row 1, the first review row 2.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import pandas as pd

from imdb_bert.errors import PipelineError

KAGGLE_URL = "https://www.kaggle.com/datasets/lakshmi25npathi/imdb-dataset-of-50k-movie-reviews"
HTML_LINE_BREAK = re.compile(r"\s*<br\s*/?>\s*", flags=re.IGNORECASE)


def read_reviews(path: str | Path, text_column: str, label_column: str, labels: list[str]) -> pd.DataFrame:
    """Return columns `source_row`, `text`, `label` (int, the index in `labels`).

    Labels match after trimming whitespace and ignoring case ("Positive " is "positive").
    """
    path = Path(path)
    frame = _parse(path)
    for column, param in ((text_column, "data.text_column"), (label_column, "data.label_column")):
        if column not in frame.columns:
            raise PipelineError(f"{path}: no column '{column}' (columns: {_names(frame.columns)}); "
                                f"rename it or set {param} in params.yaml")
    if frame.empty:
        raise PipelineError(f"{path}: has a header but no rows; expected one review per row")

    text, label = frame[text_column].astype(str), frame[label_column].astype(str)
    source_row = pd.RangeIndex(2, len(frame) + 2)
    empty = text.str.strip() == ""
    if empty.any():
        raise PipelineError(f"{path}: row {source_row[empty.to_numpy().argmax()]}: empty review in column "
                            f"'{text_column}' ({int(empty.sum())} such rows); fill them in or delete them")
    label_ids = {name.strip().lower(): index for index, name in enumerate(labels)}
    encoded = label.str.strip().str.lower().map(label_ids)
    unknown = encoded.isna()
    if unknown.any():
        first = unknown.to_numpy().argmax()
        others = sorted(set(label[unknown]))
        raise PipelineError(f"{path}: row {source_row[first]}: label {label.iloc[first]!r} in column '{label_column}' "
                            f"is not one of {', '.join(labels)} ({int(unknown.sum())} rows with labels "
                            f"{', '.join(map(repr, others[:5]))}); fix those rows or set data.labels in params.yaml")
    missing = [name for index, name in enumerate(labels) if not (encoded == index).any()]
    if missing:
        raise PipelineError(f"{path}: no row has label {', '.join(map(repr, missing))} in column '{label_column}'; "
                            f"a model cannot learn a label it never sees: add such rows or remove it from "
                            f"data.labels in params.yaml")
    return pd.DataFrame({"source_row": source_row, "text": text.to_numpy(), "label": encoded.astype("int64")})


def strip_html_line_breaks(text: pd.Series) -> pd.Series:
    """Replace each `<br />` (and the space around it) by one space."""
    return text.str.replace(HTML_LINE_BREAK, " ", regex=True).str.strip()


def require_raw_csv(path: str | Path) -> None:
    """The raw CSV exists, or one line saying where to get it."""
    if not Path(path).is_file():
        raise PipelineError(f"{path}: file not found; download 'IMDB Dataset.csv' from {KAGGLE_URL} "
                            f"into data/raw/, or set data.raw_csv in params.yaml (`make demo` runs on the "
                            f"bundled sample)")


def _parse(path: Path) -> pd.DataFrame:
    require_raw_csv(path)
    raw = path.read_bytes()
    if not raw.strip():
        raise PipelineError(f"{path}: file is empty; expected a header line 'review,sentiment' and one review per row")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise PipelineError(f"{path}: line {line}, byte {error.start}: not UTF-8 text; "
                            f"re-save the file with UTF-8 encoding") from None
    header = raw.split(b"\n", 1)[0]
    if b";" in header and b"," not in header:
        raise PipelineError(f"{path}: the header is separated by semicolons; save the file comma-separated")
    try:
        with warnings.catch_warnings():
            # Rows with more fields than the header would otherwise be read with data lost.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", dtype=str, keep_default_na=False,
                               index_col=False)
    except pd.errors.ParserWarning:
        raise PipelineError(f"{path}: rows have more fields than the header; quote reviews that contain "
                            f"commas") from None
    except pd.errors.ParserError as error:
        message = str(error).removeprefix("Error tokenizing data. C error: ")
        if match := re.search(r"EOF inside string starting at row (\d+)", message):
            raise PipelineError(f"{path}: row {int(match.group(1)) + 1}: a quoted field never ends (the file looks "
                                f"truncated); download or export it again") from None
        raise PipelineError(f"{path}: not a valid CSV ({message}); quote fields that contain commas") from None


def _names(columns: pd.Index) -> str:
    return ", ".join(repr(str(name)) for name in columns)

