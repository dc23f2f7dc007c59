"""Test-set metrics and plot data, against scikit-learn and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as sk

from stages.common.metrics import classification_metrics, confusion_rows, precision_recall_rows, roc_rows, softmax

LABELS = np.array([0, 0, 0, 1, 1, 1, 1, 0])
POSITIVE = np.array([0.1, 0.6, 0.3, 0.8, 0.4, 0.9, 0.7, 0.2])
PROBABILITIES = np.stack([1 - POSITIVE, POSITIVE], axis=1)


def test_binary_metrics_by_hand():
    # predicted: 0 1 0 1 0 1 1 0 -> TP 3, FP 1, FN 1, TN 3
    result = classification_metrics(LABELS, PROBABILITIES)
    assert result["examples"] == 8
    assert result["accuracy"] == pytest.approx(6 / 8)
    assert result["precision"] == pytest.approx(3 / 4) and result["recall"] == pytest.approx(3 / 4)
    assert result["f1"] == pytest.approx(3 / 4)
    assert result["roc_auc"] == pytest.approx(15 / 16)  # one of 16 (positive, negative) pairs misordered: 0.4 < 0.6
    expected_loss = -np.mean(np.log(np.where(LABELS == 1, POSITIVE, 1 - POSITIVE)))
    assert result["loss"] == pytest.approx(expected_loss)


def test_multiclass_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 60)
    probabilities = softmax(rng.normal(size=(60, 3)) + 2 * np.eye(3)[labels])
    result = classification_metrics(labels, probabilities)
    predicted = probabilities.argmax(1)
    assert result["f1"] == pytest.approx(sk.f1_score(labels, predicted, average="macro"))
    assert result["roc_auc"] == pytest.approx(sk.roc_auc_score(labels, probabilities, multi_class="ovr"))
    assert result["loss"] == pytest.approx(sk.log_loss(labels, probabilities))


def test_softmax_rows_sum_to_one_and_survive_large_logits():
    probabilities = softmax(np.array([[1000.0, 0.0], [0.0, 0.0]]))
    assert probabilities.tolist() == [[1.0, 0.0], [0.5, 0.5]]


def test_single_class_test_set_has_undefined_auc():
    assert math.isnan(classification_metrics(np.ones(3, dtype=int), PROBABILITIES[:3])["roc_auc"])


def test_plot_rows():
    rows = confusion_rows(LABELS, PROBABILITIES.argmax(1), ["negative", "positive"])
    assert rows[1] == {"actual": "negative", "predicted": "positive"} and len(rows) == 8
    roc = roc_rows(LABELS, POSITIVE)
    assert roc[0] == {"fpr": 0.0, "tpr": 0.0} and roc[-1] == {"fpr": 1.0, "tpr": 1.0}
    area = np.trapezoid([r["tpr"] for r in roc], [r["fpr"] for r in roc])
    assert area == pytest.approx(15 / 16)
    pr = precision_recall_rows(LABELS, POSITIVE)
    assert pr[-1] == {"recall": 0.0, "precision": 1.0} and all(0 <= r["precision"] <= 1 for r in pr)


def test_long_curves_are_thinned():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 5000)
    assert len(roc_rows(labels, rng.random(5000))) <= 500
