"""What `evaluate` writes besides the decision: its figures, the plot data, the most confident errors.

- metrics/eval.json, a DVC metrics file: the headline figures that `dvc metrics show`, `dvc metrics diff` and
  `dvc exp show` print (with metrics/train/metrics.json, under 20 columns): test accuracy and its 95% interval,
  F1, ROC AUC, loss, ECE, and the data counts.
- metrics/eval_details.json, plain JSON (a DVC output, not a metrics file, so DVC prints none of it): every
  figure, the headline ones too: per class, per length slice, the bootstrap intervals, the threshold's and the
  temperature's effect. The model card and `src/imdb_bert/commands/report.py` show it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from imdb_bert.decisions import Decision, ScoredSplit, apply_temperature
from imdb_bert.evaluation.metrics import reliability_bins
from imdb_bert.files import write_json

EVAL_FILE = "metrics/eval.json"
DETAILS_FILE = "metrics/eval_details.json"
HEADLINE = ("examples", "accuracy", "accuracy_ci_low", "accuracy_ci_high", "f1", "roc_auc", "loss", "ece")


def data_counts(data_report: dict) -> dict:
    """The rows split kept and how many went to train and validation (test's are `examples`)."""
    return {"rows_kept": data_report["rows_kept"],
            **{name: data_report["splits"][name]["rows"] for name in ("train", "validation")}}


def headline(scores: dict, data_report: dict) -> dict:
    return {**{key: scores[key] for key in HEADLINE if key in scores}, "data": data_counts(data_report)}


def write_scores(scores: dict, data_report: dict) -> None:
    write_json(DETAILS_FILE, {**scores, "data": data_counts(data_report)})
    write_json(EVAL_FILE, headline(scores, data_report))


def plot_name(label: str) -> str:
    return re.sub(r"[^\w.-]+", "_", label)


def reliability_points(labels: np.ndarray, probabilities: np.ndarray, decision: Decision,
                       temperature: float | None) -> list[dict]:
    """The reliability diagram's curves in one table: the model's, the fitted temperature's (when one was
    fitted), and the diagonal of perfect calibration; each bin's accuracy against its mean confidence."""
    curves = [("model (no temperature)", probabilities)]
    if temperature is not None:
        state = "applied" if decision.temperature != 1.0 else "not applied"
        curves.append((f"temperature T = {temperature:g} ({state})",
                       apply_temperature(probabilities, temperature)))
    points = [{"curve": name, "confidence": round(confidence, 6), "accuracy": round(accuracy, 6), "reviews": count}
              for name, scored in curves for confidence, accuracy, count in reliability_bins(labels, scored)]
    return points + [{"curve": "perfect calibration (diagonal)", "confidence": value, "accuracy": value, "reviews": 0}
                     for value in (0.0, 1.0)]


def write_plots(folder: Path, test: ScoredSplit, decision: Decision, slices: dict, temperature: float | None) -> None:
    """The plot data, written by DVCLive; dvc.yaml's top-level `plots` say how DVC draws each."""
    from dvclive import Live

    live = Live(str(folder), dvcyaml=None, save_dvc_exp=False, report=None)
    names, labels = decision.labels, test.labels
    probabilities = test.probabilities.astype(np.float64)  # DVCLive's JSON holds Python floats only
    live.log_sklearn_plot("confusion_matrix", [names[i] for i in labels],
                          [names[i] for i in decision.predict(decision.calibrate(probabilities))])
    # One-vs-rest curves: of the second label when binary, of every label when more.
    for index in [1] if len(names) == 2 else range(len(names)):
        actual = (labels == index).astype(int)
        if 0 < actual.sum() < len(actual):
            name = plot_name(names[index])
            live.log_sklearn_plot("roc", actual, probabilities[:, index], name=f"roc/{name}", drop_intermediate=True)
            live.log_sklearn_plot("precision_recall", actual, probabilities[:, index], name=f"precision_recall/{name}",
                                  drop_intermediate=True)
    live.log_plot("reliability", reliability_points(labels, probabilities, decision, temperature),
                  x="confidence", y="accuracy")
    live.log_plot("length_slices", [{"length": name, "accuracy": round(value["accuracy"], 6), "count": value["count"]}
                                    for name, value in slices.items() if value["count"]],
                  x="accuracy", y="length", template="bar_horizontal")


def most_confident_errors(test: pd.DataFrame, probabilities: np.ndarray, names: list[str], top: int) -> pd.DataFrame:
    predicted = probabilities.argmax(axis=1)
    errors = test.assign(true_label=[names[i] for i in test["label"]], predicted_label=[names[i] for i in predicted],
                         probability=probabilities.max(axis=1).round(4))[predicted != test["label"].to_numpy()]
    columns = ["source_row", "true_label", "predicted_label", "probability", "text"]
    return errors.sort_values("probability", ascending=False, kind="stable")[columns].head(top)
