"""The two files `evaluate` writes its figures to.

- metrics/eval.json, a DVC metrics file: the headline figures that `dvc metrics show`, `dvc metrics diff` and
  `dvc exp show` print (with metrics/train/metrics.json, under 20 columns): test accuracy and its 95% interval,
  F1, ROC AUC, loss, ECE, and the data counts.
- metrics/eval_details.json, plain JSON (a DVC output, not a metrics file, so DVC prints none of it): every
  figure, the headline ones too: per class, per length slice, the bootstrap intervals, the threshold's and the
  temperature's effect. The model card and `src/imdb_bert/commands/report.py` show it.
"""

from __future__ import annotations

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
