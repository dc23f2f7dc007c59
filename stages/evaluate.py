"""Stage `evaluate`: score the test split with models/model.

Reads params `evaluate.*`. Writes metrics/eval.json, the plot data under metrics/plots/ (confusion
matrix, ROC and precision-recall curves) and metrics/misclassified.csv, the most confident errors.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python stages/NAME.py` puts stages/ first on sys.path, where tokenize.py would shadow the
# standard library's tokenize: import from the project root instead.
if sys.path[0] == str(Path(__file__).resolve().parent):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import logging

import numpy as np
import pandas as pd

from stages.common.errors import run_stage
from stages.common.files import atomic_path, require_inputs, write_json
from stages.common.inputs import BatchSource, predict_probabilities
from stages.common.libraries import load_trained
from stages.common.metrics import classification_metrics, confusion_rows, precision_recall_rows, roc_rows
from stages.common.params import load_params
from stages.common.tokens import TOKENS_DIR, load_meta, load_split

MODEL_DIR = "models/model"
TEST_CSV = "data/split/test.csv"
log = logging.getLogger("evaluate")


def most_confident_errors(test: pd.DataFrame, probabilities: np.ndarray, names: list[str], top: int) -> pd.DataFrame:
    predicted = probabilities.argmax(axis=1)
    errors = test.assign(true_label=[names[i] for i in test["label"]], predicted_label=[names[i] for i in predicted],
                         probability=probabilities.max(axis=1).round(4))[predicted != test["label"].to_numpy()]
    columns = ["source_row", "true_label", "predicted_label", "probability", "text"]
    return errors.sort_values("probability", ascending=False, kind="stable")[columns].head(top)


def main() -> None:
    settings = load_params().evaluate
    require_inputs((TEST_CSV, "split"), (TOKENS_DIR / "meta.json", "tokenize"), (TOKENS_DIR / "test", "tokenize"),
                   (f"{MODEL_DIR}/config.json", "train"))
    meta = load_meta()
    names = meta["labels"]
    test = load_split("test")
    model = load_trained(MODEL_DIR, names)
    source = BatchSource(test, meta["model_input_names"], settings.batch_size, shuffle_seed=None,
                         group_by_length=True, pad_to_max_length=False, pad_to_multiple_of=8)
    probabilities = predict_probabilities(model, source, verbose=1 if sys.stdout.isatty() else 2)
    labels = np.asarray(test.labels, dtype=np.int64)
    scores = classification_metrics(labels, probabilities)
    write_json("metrics/eval.json", scores)
    with atomic_path("metrics/plots") as plots:
        plots.mkdir()
        write_json(plots / "confusion.json", confusion_rows(labels, probabilities.argmax(axis=1), names))
        if len(names) == 2:
            write_json(plots / "roc.json", roc_rows(labels, probabilities[:, 1]))
            write_json(plots / "precision_recall.json", precision_recall_rows(labels, probabilities[:, 1]))
    errors = most_confident_errors(pd.read_csv(TEST_CSV, keep_default_na=False), probabilities, names,
                                   settings.misclassified)
    with atomic_path("metrics/misclassified.csv") as partial:
        errors.to_csv(partial, index=False, lineterminator="\n")
    log.info("test: %s", ", ".join(f"{key} {value:.4g}" for key, value in scores.items()))


if __name__ == "__main__":
    run_stage(main)
