"""Decisions that never make the model worse: a threshold, a temperature or windows fitted or checked on the
validation split are applied only when they hold up on validation reviews they were not fitted on (issue #19).

The rules are tested on real probabilities saved once, tests/data/decision_probabilities.npz (written by
tests/make_decision_probabilities.py): the real MiniLM fine-tuned through the pipeline's own stages on 600 real
reviews at max_length 64 for 2 epochs, scored on its validation split (under 100 reviews) and on 800 other real
reviews it never saw. That `evaluate` writes the rule's verdicts and reasons to models/decision.json,
metrics/eval_details.json, the model card and its log is checked on the session's trained demo."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT

from imdb_bert import decisions
from imdb_bert.evaluation import metrics
from imdb_bert.params import load_params

SAVED = Path(__file__).resolve().parent / "data" / "decision_probabilities.npz"
LABELS = ["negative", "positive"]
# The evaluate params of the saved run: demo/params.yaml's, with these changes.
SETTINGS = replace(load_params(ROOT / "demo/params.yaml").evaluate, calibrate=True, threshold="accuracy",
                   long_reviews="truncate", bootstrap_resamples=0)
MAX_LENGTH = 64


@pytest.fixture(scope="module")
def scored() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Arg-max probabilities of the validation split and of 800 other real reviews the model never saw."""
    with np.load(SAVED) as saved:
        return {name: (saved[f"{name}_labels"].astype(np.int64), saved[f"{name}_probabilities"])
                for name in ("validation", "unseen")}


def decide(labels: np.ndarray, probabilities: np.ndarray) -> tuple[decisions.Decision, decisions.Fitted]:
    """What `evaluate` decides from these validation probabilities (long reviews truncated)."""
    validation = decisions.ScoredSplit(labels, probabilities, np.full(len(labels), MAX_LENGTH), pd.DataFrame(),
                                       {"truncate": probabilities})
    return decisions.choose_decision(validation, LABELS, SETTINGS, MAX_LENGTH // 2, MAX_LENGTH)


def test_a_small_validation_split_picks_a_threshold_today_and_the_rule_declines_it_saying_why(scored):
    labels, probabilities = scored["validation"]
    assert len(labels) < 100
    # Today's rule: the accuracy-maximising threshold on validation, applied whatever its support.
    threshold = decisions.choose_threshold(labels, probabilities[:, 1], "accuracy")
    assert ((probabilities[:, 1] >= threshold) != (probabilities[:, 1] > 0.5)).any()  # it changes decisions
    decision, fitted = decide(labels, probabilities)
    assert decision.threshold is None and decision.threshold_reason.startswith("declined, arg-max: ")
    assert f"on {len(labels)} validation reviews" in decision.threshold_reason
    assert "p = " in decision.threshold_reason and "not below 0.05" in decision.threshold_reason
    assert fitted.threshold is not None and fitted.threshold_check["p_value"] >= 0.05  # eval_details' figures


def test_evaluate_writes_the_verdicts_and_their_reasons_to_the_decision_details_card_and_log(trained_demo):
    project = trained_demo.project
    decision = json.loads((project / "models/decision.json").read_text())
    scores = json.loads((project / "metrics/eval_details.json").read_text())
    assert scores["threshold"]["applied"] is (decision["threshold"] is not None)
    assert scores["threshold"]["applied"] is (scores["threshold"]["p_value"] < decisions.SIGNIFICANCE)
    assert decision["threshold_reason"].startswith("applied: " if scores["threshold"]["applied"] else
                                                   "declined, arg-max: ")
    assert scores["temperature_scaled"]["applied"] is (decision["temperature"] != 1.0)
    card = (project / "models/model_card.md").read_text()
    assert ("not applied (arg-max)" in card) is (decision["threshold"] is None)
    for name in ("temperature", "threshold", "long_reviews"):
        assert f"- {name}: {decision[f'{name}_reason']}" in card, name
        assert f"{name}: {decision[f'{name}_reason']}" in trained_demo.output, name  # evaluate's log


def test_a_large_enough_validation_split_with_a_real_gain_keeps_the_threshold(scored):
    """800 unseen real reviews, scored by a model whose prior is off (its logits shifted by 1.5 towards the second
    label, as training on skewed data does): a threshold fixes that, and the rule applies it; fitted on the first
    half, it also wins on the second."""
    labels, probabilities = scored["unseen"]
    logits = np.log(probabilities) + np.array([0.0, 1.5])
    shifted = metrics.softmax(logits)[:, 1]
    fit, held = np.arange(len(labels)) < 400, np.arange(len(labels)) >= 400
    check = decisions.validated_threshold(labels[fit], shifted[fit], "accuracy", seed=13)
    assert check["p_value"] < decisions.SIGNIFICANCE and check["cross_fitted"] > check["argmax"], check
    threshold = decisions.choose_threshold(labels[fit], shifted[fit], "accuracy")
    assert ((shifted[held] >= threshold) == labels[held]).mean() > ((shifted[held] > 0.5) == labels[held]).mean()
    # The same split of the same model unshifted: the rule never applies a threshold that loses on held-out data.
    plain = probabilities[:, 1]
    check = decisions.validated_threshold(labels[fit], plain[fit], "accuracy", seed=13)
    if check["p_value"] < decisions.SIGNIFICANCE:
        threshold = decisions.choose_threshold(labels[fit], plain[fit], "accuracy")
        assert ((plain[held] >= threshold) == labels[held]).mean() >= ((plain[held] > 0.5) == labels[held]).mean()


def test_the_temperature_follows_the_same_rule(scored):
    labels, probabilities = scored["validation"]
    decision, _ = decide(labels, probabilities)
    check = decisions.validated_temperature(labels, probabilities, seed=13)
    applied = check is not None and check["p_value"] < decisions.SIGNIFICANCE
    assert (decision.temperature != 1.0) == applied
    assert decision.temperature_reason.startswith("applied: " if applied else "declined, no temperature: ")
    # On 800 reviews a temperature fitted to a model made overconfident (logits x 3) lowers unseen loss: applied.
    labels, probabilities = scored["unseen"]
    sharp = metrics.softmax(3 * np.log(probabilities))
    assert decisions.validated_temperature(labels, sharp, seed=13)["p_value"] < decisions.SIGNIFICANCE


def test_windows_are_checked_against_truncation_on_validation():
    from imdb_bert.decisions import ScoredSplit as Scored
    from imdb_bert.decisions import choose_long_reviews

    labels = np.array([0, 1] * 20)
    right = np.eye(2)[labels] * 0.8 + 0.1
    wrong = right[:, ::-1]
    lengths = np.full(len(labels), 200)
    settings = replace(SETTINGS, long_reviews="windows")
    worse = Scored(labels, right, lengths, pd.DataFrame(), {"truncate": right, "windows": np.where(
        (np.arange(len(labels)) < 12)[:, None], wrong, right)})
    mode, reason = choose_long_reviews(worse, settings, 128)
    assert mode == "truncate" and reason.startswith("windows declined: on the 40 long validation reviews")
    even = Scored(labels, right, lengths, pd.DataFrame(), {"truncate": right, "windows": right})
    assert choose_long_reviews(even, settings, 128)[0] == "windows"
