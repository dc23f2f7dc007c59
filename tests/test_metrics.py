"""Test-set metrics, calibration, threshold and class weights, against scikit-learn and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import copy_project, demo_params, stage
from sklearn import metrics as sk

from imdb_bert import decisions
from imdb_bert.evaluation import metrics
from imdb_bert.evaluation.metrics import classification_metrics, softmax
from imdb_bert.training import class_weights

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


def test_per_class_figures_and_the_interval_are_in_the_metrics():
    result = classification_metrics(LABELS, PROBABILITIES, ["negative", "positive"])
    assert result["per_class"] == {
        "negative": {"precision": 0.75, "recall": 0.75, "f1": 0.75, "support": 4},
        "positive": {"precision": 0.75, "recall": 0.75, "f1": 0.75, "support": 4}}
    assert result["macro_f1"] == pytest.approx(0.75)
    assert (result["accuracy_ci_low"], result["accuracy_ci_high"]) == metrics.wilson_interval(6, 8)


def test_wilson_interval_by_hand():
    # 8 of 10, z = 1.96: centre (0.8 + 1.9208 / 10) / 1.38416 = 0.71675, half-width
    # 1.96 / 1.38416 * sqrt(0.016 + 0.009604) = 0.22658 -> (0.4902, 0.9433), the textbook values.
    assert metrics.wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    # 0 of 10: the lower end is 0 and the upper end z^2 / (n + z^2) = 3.8415 / 13.8415.
    assert metrics.wilson_interval(0, 10) == pytest.approx((0.0, 3.8415 / 13.8415), abs=1e-4)
    low, high = metrics.wilson_interval(1424, 1600)  # the 0.890 on 1,600 reviews: +-1.5 points
    assert high - low == pytest.approx(0.031, abs=0.001)


def test_expected_calibration_error_by_hand():
    # Top-label confidences 0.81 (right), 0.85 (wrong) share the bin (0.8, 0.8667]: accuracy 0.5, mean
    # confidence 0.83. 0.65 (right) and 0.55 (wrong) have a bin each. ECE = (2 * 0.33 + 0.35 + 0.55) / 4.
    positive = np.array([0.81, 0.15, 0.65, 0.45])
    labels = np.array([1, 1, 1, 1])
    probabilities = np.stack([1 - positive, positive], axis=1)
    assert metrics.expected_calibration_error(labels, probabilities) == pytest.approx(1.56 / 4)
    perfect = np.array([[0.0, 1.0]] * 4)
    assert metrics.expected_calibration_error(labels, perfect) == 0.0


def overconfident(n: int = 4000, sharpen: float = 3.0):
    """Labels drawn from softmax(logits), and probabilities from softmax(sharpen * logits): overconfident."""
    rng = np.random.default_rng(1)
    logits = rng.normal(scale=1.5, size=(n, 3))
    true = softmax(logits)
    labels = np.array([rng.choice(3, p=row) for row in true])
    return labels, softmax(sharpen * logits)


def test_temperature_scaling_lowers_the_validation_loss_of_an_overconfident_model():
    labels, probabilities = overconfident()
    temperature = decisions.fit_temperature(labels, probabilities)
    scaled = decisions.apply_temperature(probabilities, temperature)
    assert temperature == pytest.approx(3.0, rel=0.1)  # it undoes the sharpening
    assert metrics.log_loss(labels, scaled) < metrics.log_loss(labels, probabilities) - 0.1
    assert metrics.expected_calibration_error(labels, scaled) < metrics.expected_calibration_error(labels,
                                                                                                   probabilities)
    assert (scaled.argmax(axis=1) == probabilities.argmax(axis=1)).all()


@pytest.mark.parametrize("objective", ["accuracy", "f1"])
def test_the_chosen_threshold_maximises_the_objective_on_validation(objective):
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 2, 500)
    scores = np.clip(rng.normal(0.35 + 0.3 * labels, 0.2), 0, 1).round(3)  # ties, and a best threshold not 0.5
    chosen = decisions.choose_threshold(labels, scores, objective)

    def objective_at(threshold: float) -> float:  # directly, without the function's sorted counting
        predicted = scores >= threshold
        if objective == "accuracy":
            return float((predicted == labels).mean())
        return sk.f1_score(labels, predicted.astype(int), zero_division=0)

    every_cut = np.concatenate([np.unique(scores), [0.0, 1.01]])
    best = max(objective_at(threshold) for threshold in every_cut)
    assert objective_at(chosen) == pytest.approx(best)
    assert objective_at(chosen) > objective_at(0.5)
    assert metrics.threshold_metrics(labels, scores, chosen)[objective] == pytest.approx(best)


def test_length_slices_count_every_review_once_with_the_truncated_apart():
    lengths = np.array([10, 32, 33, 64, 100, 128, 129, 400])
    correct = np.array([1, 0, 1, 1, 1, 0, 0, 1], dtype=bool)
    slices = metrics.length_slices(lengths, correct, max_length=128)
    assert slices == {"tokens_1_32": {"count": 2, "accuracy": 0.5}, "tokens_33_64": {"count": 2, "accuracy": 1.0},
                      "tokens_65_96": {"count": 0, "accuracy": None}, "tokens_97_128": {"count": 2, "accuracy": 0.5},
                      "truncated": {"count": 2, "accuracy": 0.5}}


def test_balanced_class_weights_for_a_90_10_split():
    labels = np.array([0] * 90 + [1] * 10)
    # n / (labels x count): 100 / (2 x 90) and 100 / (2 x 10); the weighted counts are then equal.
    assert class_weights(labels, "balanced", 2) == {0: pytest.approx(100 / 180), 1: pytest.approx(5.0)}
    assert class_weights(labels, None, 2) is None
    assert class_weights(labels, "balanced", 3)[2] == 1.0  # a label absent from train


@pytest.mark.parametrize("classes", [2, 3])
def test_each_bootstrap_resample_scores_as_scikit_learn_scores_the_drawn_examples(classes):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, classes, 200)
    probabilities = softmax(rng.normal(size=(200, classes)) + np.eye(classes)[labels])
    if classes == 2:  # ties in the scores, which ROC AUC counts as half
        probabilities = np.round(probabilities, 1)
    drawn = rng.integers(0, 200, size=(4, 200))
    weights = np.stack([np.bincount(row, minlength=200) for row in drawn]).astype(float)
    f1, auc = metrics.resampled_scores(weights, labels, probabilities)
    for row, examples in enumerate(drawn):
        truth, scored = labels[examples], probabilities[examples]
        average = "binary" if classes == 2 else "macro"
        assert f1[row] == pytest.approx(sk.f1_score(truth, scored.argmax(1), average=average), abs=1e-12)
        expected_auc = sk.roc_auc_score(truth, scored[:, 1] if classes == 2 else scored, multi_class="ovr")
        assert auc[row] == pytest.approx(expected_auc, abs=1e-12)


def test_bootstrap_intervals_hold_the_estimate_narrow_with_more_examples_and_repeat_with_the_seed():
    rng = np.random.default_rng(2)

    def intervals(examples: int, seed: int = 13) -> tuple[dict, dict]:
        labels = rng.integers(0, 2, examples)
        probabilities = softmax(rng.normal(size=(examples, 2)) + np.eye(2)[labels])
        return classification_metrics(labels, probabilities), metrics.bootstrap_intervals(labels, probabilities,
                                                                                           500, seed)

    point, small = intervals(200)
    for name in ("f1", "roc_auc"):
        assert small[f"{name}_ci_low"] < point[name] < small[f"{name}_ci_high"]
    _, large = intervals(3200)
    for name in ("f1", "roc_auc"):  # 16x the examples: about a quarter of the width
        assert large[f"{name}_ci_high"] - large[f"{name}_ci_low"] < 0.4 * (small[f"{name}_ci_high"]
                                                                          - small[f"{name}_ci_low"])
    labels, probabilities = LABELS, PROBABILITIES
    assert metrics.bootstrap_intervals(labels, probabilities, 200, 5) == metrics.bootstrap_intervals(
        labels, probabilities, 200, 5) != metrics.bootstrap_intervals(labels, probabilities, 200, 6)
    assert metrics.bootstrap_intervals(labels, probabilities, 0, 5) == {}


def test_a_negative_resample_count_stops_evaluate_with_one_error_line(tmp_path):
    project = copy_project(tmp_path, demo_params(evaluate={"bootstrap_resamples": -1}), git=False)
    result = stage("evaluate", project)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert errors == ["error: params.yaml: evaluate.bootstrap_resamples is -1; expected 0 (no intervals) or more, "
                      "e.g. 1000"]


def test_mcnemar_counts_only_the_reviews_where_exactly_one_decider_is_right():
    first = np.array([True] * 8 + [False] * 2 + [True] * 40)
    second = np.array([False] * 8 + [False] * 2 + [True] * 40)
    assert decisions.mcnemar_p(first, second) == pytest.approx(0.5 ** 8)  # 8 wins, no loss: p = 1/256
    assert decisions.mcnemar_p(second, first) == pytest.approx(1.0)
    assert decisions.mcnemar_p(first, first) == 1.0
    folds = decisions.stratified_folds(np.array([0] * 50 + [1] * 10), 5, seed=3)
    assert np.bincount(folds[:50]).tolist() == [10] * 5 and np.bincount(folds[50:]).tolist() == [2] * 5


@pytest.mark.parametrize("objective", ["accuracy", "f1"])
def test_a_threshold_is_validated_only_when_it_wins_out_of_fold(objective):
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 1500)
    logits = rng.normal(1.5 * (2 * labels - 1), 1.5)
    calibrated = 1 / (1 + np.exp(-logits))  # arg-max is already the best threshold
    skewed = 1 / (1 + np.exp(-(logits - 2.0)))  # a model whose prior is off: a threshold fixes it
    assert decisions.validated_threshold(labels, skewed, objective, seed=13)["p_value"] < decisions.SIGNIFICANCE
    assert decisions.validated_threshold(labels, calibrated, objective, seed=13)["p_value"] > decisions.SIGNIFICANCE
    assert decisions.validated_threshold(labels[:8], calibrated[:8], objective, seed=13) is None
