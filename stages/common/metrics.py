"""Test-set metrics and the plot data DVC draws, from true labels and predicted probabilities."""

from __future__ import annotations

import numpy as np
from sklearn import metrics

CURVE_POINTS = 500  # ROC and precision-recall curves are thinned to about this many points


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float | int]:
    """Accuracy, precision, recall, F1 (of class 1 when binary, else macro), ROC AUC, cross-entropy loss."""
    classes = probabilities.shape[1]
    predicted = probabilities.argmax(axis=1)
    average = "binary" if classes == 2 else "macro"
    precision, recall, f1, _ = metrics.precision_recall_fscore_support(labels, predicted, average=average,
                                                                       zero_division=0)
    scores = probabilities[:, 1] if classes == 2 else probabilities
    single_class = len(np.unique(labels)) < 2
    return {
        "examples": len(labels),
        "accuracy": float(metrics.accuracy_score(labels, predicted)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "roc_auc": float("nan") if single_class else float(metrics.roc_auc_score(labels, scores, multi_class="ovr")),
        "loss": float(metrics.log_loss(labels, probabilities, labels=list(range(classes)))),
    }


def confusion_rows(labels: np.ndarray, predicted: np.ndarray, names: list[str]) -> list[dict[str, str]]:
    """One {actual, predicted} row per example: the input of DVC's `confusion` template."""
    pairs = zip(labels.tolist(), predicted.tolist(), strict=True)
    return [{"actual": names[actual], "predicted": names[guess]} for actual, guess in pairs]


def roc_rows(labels: np.ndarray, positive_scores: np.ndarray) -> list[dict[str, float]]:
    fpr, tpr, _ = metrics.roc_curve(labels, positive_scores)
    keep = _thin(len(fpr))
    return [{"fpr": round(float(x), 5), "tpr": round(float(y), 5)} for x, y in zip(fpr[keep], tpr[keep], strict=True)]


def precision_recall_rows(labels: np.ndarray, positive_scores: np.ndarray) -> list[dict[str, float]]:
    precision, recall, _ = metrics.precision_recall_curve(labels, positive_scores)
    keep = _thin(len(recall))
    return [{"recall": round(float(r), 5), "precision": round(float(p), 5)}
            for r, p in zip(recall[keep], precision[keep], strict=True)]


def _thin(points: int) -> np.ndarray:
    """Indices of about CURVE_POINTS evenly spaced points, always keeping both ends."""
    return np.unique(np.linspace(0, points - 1, min(points, CURVE_POINTS)).round().astype(int))
