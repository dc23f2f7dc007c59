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
import logging
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from imdb_bert.data import strip_html_line_breaks
from imdb_bert.decisions import DECISION_FILE, Decision, read_decision
from imdb_bert.errors import PipelineError, run_stage
from imdb_bert.files import atomic_path, read_json
from imdb_bert.models import load_trained, trained_labels
from imdb_bert.scoring import score_reviews
from imdb_bert.tokenizer import load_tokenizer
from imdb_bert.tokens import TOKENIZATION_FILE, content_ids, id_dtype, pad, with_special_tokens

log = logging.getLogger("predict")


class Predictor:
    """A trained model directory with its tokenizer and tokenization settings, and how to decide (arg-max of the
    model's probabilities when `decision` is None)."""

    def __init__(self, model_dir: str | Path, batch_size: int = 64, decision: Decision | None = None) -> None:
        model_dir = Path(model_dir)
        if not (model_dir / TOKENIZATION_FILE).is_file():
            raise PipelineError(f"{model_dir}: not a trained model directory (no {TOKENIZATION_FILE}); "
                                f"run `dvc repro train` or pass --model")
        self.settings = read_json(model_dir / TOKENIZATION_FILE)
        self.tokenizer = load_tokenizer(str(model_dir))
        self.labels = trained_labels(model_dir)
        self.model = load_trained(model_dir, self.labels)
        self.batch_size = batch_size
        self.decision = decision or Decision(labels=self.labels)

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


def score_file(predictor: Predictor, source: Path, target: Path, text_column: str, chunk_size: int = 1000) -> int:
    """Write `source`'s rows plus the prediction columns to `target`, chunk by chunk; return the row count."""
    if not source.is_file():
        raise PipelineError(f"{source}: file not found")
    try:
        header = pd.read_csv(source, nrows=0).columns
    except pd.errors.EmptyDataError:
        raise PipelineError(f"{source}: file is empty; expected a header and one review per row") from None
    if text_column not in header:
        raise PipelineError(f"{source}: no column '{text_column}' (columns: {', '.join(map(repr, header))}); "
                            f"pass --text-column")
    total = sum(len(chunk) for chunk in pd.read_csv(source, chunksize=chunk_size * 10, usecols=[text_column]))
    rows = 0
    with atomic_path(target) as partial, tqdm(total=total, desc="predict", unit="review") as progress:
        for chunk in pd.read_csv(source, chunksize=chunk_size, dtype={text_column: str}, keep_default_na=False):
            if chunk.empty:
                continue
            scored = pd.concat([chunk.reset_index(drop=True), predictor.scores(chunk[text_column].tolist())], axis=1)
            scored.to_csv(partial, mode="a", header=rows == 0, index=False, lineterminator="\n")
            rows += len(chunk)
            progress.update(len(chunk))
        if rows == 0:
            raise PipelineError(f"{source}: has a header but no rows")
    return rows


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
    args = parser.parse_args()
    if bool(args.input) == bool(args.texts) or bool(args.input) != bool(args.output):
        parser.error("give either review texts, or --input CSV and --output CSV")
    if args.texts and not all(text.strip() for text in args.texts):
        raise PipelineError("an empty review was given; pass the review text in quotes")
    predictor = Predictor(args.model, args.batch_size)
    beside = Path(args.model).resolve() == Path("models/model").resolve()  # the default file is that model's
    if args.decision is None and beside and DECISION_FILE.is_file():
        predictor.decision = read_decision(DECISION_FILE, predictor.labels)
    elif args.decision not in (None, "none"):
        predictor.decision = read_decision(args.decision, predictor.labels)
    if args.input:
        rows = score_file(predictor, args.input, args.output, args.text_column)
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
