"""Score reviews with a trained model directory (default models/model).

    imdb-predict "A wonderful film." "Two hours I will never get back."
    imdb-predict --input reviews.csv --output scored.csv [--text-column review]

Texts are cleaned and tokenized exactly as in training (the settings saved in the model directory's
tokenization.json). The decision file that `evaluate` writes (--decision, default models/decision.json when
present) adds the temperature and the threshold fitted on validation and, with `evaluate.long_reviews: windows`,
scores reviews longer than max_length over overlapping windows. Prints, or adds to each CSV row, the predicted
label and its probability, and one probability column per label.
"""

from __future__ import annotations

import argparse
import codecs
import logging
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from imdb_bert.data import strip_html_line_breaks
from imdb_bert.decisions import DECISION_FILE, Decision
from imdb_bert.errors import PipelineError, run_stage
from imdb_bert.files import atomic_path
from imdb_bert.scoring import score_reviews
from imdb_bert.tokens import content_ids, id_dtype, pad, with_special_tokens
from imdb_bert.trained_model import TrainedModel

log = logging.getLogger("predict")
NUL, NEWLINE = b"\0", b"\n"
MAX_REVIEW_CHARS = 100_000  # about 25,000 tokens; IMDB's longest review has about 13,700 characters


class Predictor:
    """A trained model directory (src/imdb_bert/trained_model.py), and how to decide (arg-max of the model's
    probabilities when `decision` is None)."""

    def __init__(self, model: str | Path | TrainedModel, batch_size: int = 64,
                 decision: Decision | None = None) -> None:
        self.trained = model if isinstance(model, TrainedModel) else TrainedModel.load(model)
        self.settings = self.trained.settings
        self.tokenizer = self.trained.tokenizer
        self.labels = self.trained.labels
        self.model = self.trained.classifier
        self.batch_size = batch_size
        self.decision = decision or self.trained.decision

    def probabilities(self, texts: list[str]) -> np.ndarray:
        """Class probabilities, one row per text, in order; temperature-scaled when the decision has one."""
        if self.settings["strip_html"]:
            texts = strip_html_line_breaks(pd.Series(texts, dtype=str)).tolist()
        max_length = self.settings["max_length"]
        ids = content_ids(self.tokenizer, texts)  # once: truncated for the model, whole for the windows
        sequences = with_special_tokens(self.tokenizer, ids, max_length, self.settings["truncation"])
        truncated = pad(sequences, max_length, self.tokenizer.pad_token_id, id_dtype(len(self.tokenizer)))
        mode = self.decision.long_reviews  # with windows, a long review is scored through its windows only
        probabilities = score_reviews(self.model, self.tokenizer, ids, truncated, max_length,
                                      self.decision.window_stride, self.settings["model_input_names"],
                                      self.batch_size, (mode,))[mode]
        return self.decision.calibrate(probabilities)

    def scores(self, texts: list[str]) -> pd.DataFrame:
        probabilities = self.probabilities(texts)
        best = self.decision.predict(probabilities)
        return pd.DataFrame({"predicted_label": [self.labels[i] for i in best],
                             "probability": probabilities[np.arange(len(best)), best].round(6),
                             **{f"p_{label}": probabilities[:, i].round(6) for i, label in enumerate(self.labels)}})


def check_readable_text(source: Path) -> None:
    """`source` is a file this user can read, of UTF-8 text: else one line saying which and where."""
    if source.is_dir():
        raise PipelineError(f"{source}: is a directory; pass a CSV file to --input")
    if not source.is_file():
        raise PipelineError(f"{source}: file not found")
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, lines = 0, 1
    try:
        with source.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                if NUL in block:
                    line = lines + block.count(NEWLINE, 0, block.index(NUL))
                    raise PipelineError(f"{source}: line {line}: binary data (a NUL byte), not a CSV; "
                                        f"pass a CSV text file")
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as error:
                    line = lines + block.count(NEWLINE, 0, error.start)
                    raise PipelineError(f"{source}: line {line}, byte {offset + error.start}: not UTF-8 text; "
                                        f"re-save the file with UTF-8 encoding") from None
                offset, lines = offset + len(block), lines + block.count(NEWLINE)
            decoder.decode(b"", final=True)
    except PermissionError:
        raise PipelineError(f"{source}: permission denied; make the file readable or copy it") from None
    except UnicodeDecodeError:
        raise PipelineError(f"{source}: ends inside a UTF-8 character (the file looks truncated); "
                            f"export it again") from None
    if offset == 0:
        raise PipelineError(f"{source}: file is empty; expected a header and one review per row")


def read_chunks(source: Path, chunk_size: int) -> Iterator[pd.DataFrame]:
    """`source`'s rows, `chunk_size` at a time, as strings; a row with more fields than the header, or a quote
    that never ends, is one error naming the row (rows numbered as in a spreadsheet: the header is row 1)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # more fields than the header: data lost
            yield from pd.read_csv(source, chunksize=chunk_size, dtype=str, keep_default_na=False, index_col=False,
                                   encoding="utf-8-sig")
    except pd.errors.ParserWarning:
        raise PipelineError(f"{source}: rows have more fields than the header; quote reviews that contain "
                            f"commas") from None
    except pd.errors.ParserError as error:
        message = str(error).removeprefix("Error tokenizing data. C error: ")
        if match := re.search(r"EOF inside string starting at row (\d+)", message):
            raise PipelineError(f"{source}: row {int(match.group(1)) + 1}: a quoted field never ends (the file "
                                f"looks truncated); export it again") from None
        if match := re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message):
            raise PipelineError(f"{source}: line {match.group(2)}: {match.group(3)} fields where the header has "
                                f"{match.group(1)}; quote reviews that contain commas") from None
        raise PipelineError(f"{source}: not a valid CSV ({message}); quote fields that contain commas") from None


def check_reviews(source: Path, text_column: str, chunk_size: int, max_chars: int) -> int:
    """Read `source` once before scoring: a readable CSV with `text_column`, every row with a review of at most
    `max_chars` characters, else one error naming the file and row. Returns the number of rows."""
    check_readable_text(source)
    try:
        header = pd.read_csv(source, nrows=0, encoding="utf-8-sig").columns
    except pd.errors.EmptyDataError:
        raise PipelineError(f"{source}: file is empty; expected a header and one review per row") from None
    if text_column not in header:
        raise PipelineError(f"{source}: no column '{text_column}' (columns: {', '.join(map(repr, header))}); "
                            f"pass --text-column")
    rows = 0
    for chunk in read_chunks(source, chunk_size):
        texts = chunk[text_column].fillna("")  # a row with fewer fields than the header lacks its review
        first_row = rows + 2
        empty, long = texts.str.strip() == "", texts.str.len() > max_chars
        if empty.any():
            raise PipelineError(f"{source}: row {first_row + int(empty.to_numpy().argmax())}: no review in column "
                                f"'{text_column}' ({int(empty.sum())} such rows in rows {first_row}-"
                                f"{first_row + len(chunk) - 1}); fill them in or delete them")
        if long.any():
            row = int(long.to_numpy().argmax())
            raise PipelineError(f"{source}: row {first_row + row}: a review of {len(texts.iloc[row]):,} characters, "
                                f"over the limit of {max_chars:,}; shorten it or raise --max-chars")
        rows += len(chunk)
    if rows == 0:
        raise PipelineError(f"{source}: has a header but no rows")
    return rows


def score_file(predictor: Predictor, source: Path, target: Path, text_column: str, chunk_size: int = 1000,
               max_chars: int = MAX_REVIEW_CHARS, total: int | None = None) -> int:
    """Write `source`'s rows plus the prediction columns to `target`, chunk by chunk; return the row count.
    The whole file is checked (`check_reviews`, unless `total` says it was) before any review is scored."""
    total = total if total is not None else check_reviews(source, text_column, chunk_size * 10, max_chars)
    rows = 0
    try:
        with atomic_path(target) as partial, tqdm(total=total, desc="predict", unit="review") as progress:
            for chunk in read_chunks(source, chunk_size):
                scored = pd.concat([chunk.reset_index(drop=True),
                                    predictor.scores(chunk[text_column].tolist())], axis=1)
                scored.to_csv(partial, mode="a", header=rows == 0, index=False, lineterminator="\n")
                rows += len(chunk)
                progress.update(len(chunk))
    except (IsADirectoryError, PermissionError, NotADirectoryError) as error:
        raise PipelineError(f"{target}: cannot write the scored CSV there ({error.strerror}); "
                            f"pass another --output") from None
    return rows


def decision_file(model_dir: str | Path, choice: str | None) -> Path | None:
    """--decision: a file, `none` (arg-max), or by default models/decision.json when the model is models/model."""
    if choice == "none":
        return None
    if choice is not None:
        return Path(choice)
    beside = Path(model_dir).resolve() == Path("models/model").resolve()  # the default file is that model's
    return DECISION_FILE if beside and DECISION_FILE.is_file() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("texts", nargs="*", help="reviews to score")
    parser.add_argument("--input", type=Path, help="a CSV of reviews to score")
    parser.add_argument("--output", type=Path, help="where to write the scored CSV (with --input)")
    parser.add_argument("--text-column", default="review", help="the review column of --input (default: review)")
    parser.add_argument("--model", default="models/model", help="a trained model directory (default: models/model)")
    parser.add_argument("--decision", default=None,
                        help=f"evaluate's decision file, or `none` for arg-max (default: {DECISION_FILE} if present, "
                             f"for models/model)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--bf16", action="store_true", help="score in bf16 where the hardware computes it natively "
                        "and the logits agree with float32 on the first rows (evaluate.bf16_scoring), else float32")
    parser.add_argument("--max-chars", type=int, default=MAX_REVIEW_CHARS,
                        help=f"longest review scored, in characters (default: {MAX_REVIEW_CHARS:,})")
    args = parser.parse_args()
    if bool(args.input) == bool(args.texts) or bool(args.input) != bool(args.output):
        parser.error("give either review texts, or --input CSV and --output CSV")
    if args.texts and not all(text.strip() for text in args.texts):
        raise PipelineError("an empty review was given; pass the review text in quotes")
    if too_long := [i for i, text in enumerate(args.texts, 1) if len(text) > args.max_chars]:
        raise PipelineError(f"review {too_long[0]}: {len(args.texts[too_long[0] - 1]):,} characters, over the limit "
                            f"of {args.max_chars:,}; shorten it or raise --max-chars")
    total = check_reviews(args.input, args.text_column, 10_000, args.max_chars) if args.input else None
    predictor = Predictor(TrainedModel.load(args.model, decision_file(args.model, args.decision)), args.batch_size)
    predictor.model.score_in_bf16(args.bf16)
    if args.input:
        rows = score_file(predictor, args.input, args.output, args.text_column, max_chars=args.max_chars, total=total)
        log.info("scored %d reviews into %s", rows, args.output)
        return
    scores = predictor.scores(args.texts)
    for text, row in zip(args.texts, scores.itertuples(index=False), strict=True):
        preview = text if len(text) <= 60 else text[:57] + "..."
        print(f"{row.predicted_label}\t{row.probability:.4f}\t{preview}")


def cli() -> None:
    run_stage(main)


if __name__ == "__main__":
    cli()
