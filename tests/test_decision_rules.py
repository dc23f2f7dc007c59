"""Decisions that never make the model worse: a threshold, a temperature or windows fitted or checked on the
validation split are applied only when they hold up on validation reviews they were not fitted on (issue #19).

On real reviews and the real MiniLM (../shared), trained through the pipeline's own stages on 600 reviews at
max_length 64 for 2 epochs (about 2 minutes on 2 CPU cores): its validation split has under 100 reviews."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_CSV, SHARED_MINILM, copy_project, demo_params, requires_shared, run, stage_command

from imdb_bert import decisions
from imdb_bert.evaluation import metrics

pytestmark = [pytest.mark.real_data, requires_shared]
ROWS = 600


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    params = demo_params(data={"raw_csv": str(SHARED_CSV), "max_rows": ROWS},
                         model={"checkpoint": str(SHARED_MINILM), "init": "pretrained"},
                         tokenize={"max_length": 64, "truncation": "head_tail"},
                         train={"epochs": 2, "batch_size": 16, "optimizer": "adamw", "learning_rate": 1.0e-4},
                         evaluate={"calibrate": True, "threshold": "accuracy", "long_reviews": "truncate",
                                   "bootstrap_resamples": 0})
    project = copy_project(tmp_path_factory.mktemp("decision-rules"), params, git=False)
    logs = {name: run(stage_command(name), project) for name in ("split", "tokenize", "train",
                                                                                   "evaluate")}
    project.joinpath("evaluate.log").write_text(logs["evaluate"].stdout + logs["evaluate"].stderr)
    return project


@pytest.fixture(scope="module")
def scored(project):
    """Arg-max probabilities of the validation split and of 800 other real reviews the model never saw."""
    import os

    os.chdir(project)
    from imdb_bert.commands.predict import Predictor

    predictor = Predictor("models/model")
    validation = pd.read_csv("data/split/validation.csv", keep_default_na=False)
    used = set(pd.concat([pd.read_csv(f"data/split/{name}.csv") for name in ("train", "validation", "test")])
               ["source_row"])
    reviews = pd.read_csv(SHARED_CSV, keep_default_na=False)
    unseen = reviews[~reviews.index.isin(used) & ~reviews["review"].isin(validation["text"])].sample(800,
                                                                                                     random_state=13)
    labels = (unseen["sentiment"] == "positive").to_numpy().astype(np.int64)
    return {"validation": (validation["label"].to_numpy(), predictor.probabilities(validation["text"].tolist())),
            "unseen": (labels, predictor.probabilities(unseen["review"].tolist()))}


def test_a_small_validation_split_picks_a_threshold_today_and_the_rule_declines_it_saying_why(project, scored):
    labels, probabilities = scored["validation"]
    assert len(labels) < 100
    decision = json.loads((project / "models/decision.json").read_text())
    # Today's rule: the accuracy-maximising threshold on validation, applied whatever its support.
    threshold = decisions.choose_threshold(labels, probabilities[:, 1], "accuracy")
    assert ((probabilities[:, 1] >= threshold) != (probabilities[:, 1] > 0.5)).any()  # it changes decisions
    assert decision["threshold"] is None and decision["threshold_reason"].startswith("declined, arg-max: ")
    assert f"on {len(labels)} validation reviews" in decision["threshold_reason"]
    assert "p = " in decision["threshold_reason"] and "not below 0.05" in decision["threshold_reason"]
    scores = json.loads((project / "metrics/eval_details.json").read_text())
    assert scores["threshold"]["applied"] is False and scores["threshold"]["p_value"] >= 0.05
    card = (project / "models/model_card.md").read_text()
    assert "not applied (arg-max)" in card and decision["threshold_reason"] in card
    log = (project / "evaluate.log").read_text()
    assert f"threshold: {decision['threshold_reason']}" in log and "temperature: " in log


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


def test_the_temperature_follows_the_same_rule(project, scored):
    decision = json.loads((project / "models/decision.json").read_text())
    labels, probabilities = scored["validation"]
    check = decisions.validated_temperature(labels, probabilities, seed=13)
    applied = check is not None and check["p_value"] < decisions.SIGNIFICANCE
    assert (decision["temperature"] != 1.0) == applied
    assert decision["temperature_reason"].startswith("applied: " if applied else "declined, no temperature: ")
    # On 800 reviews a temperature fitted to a model made overconfident (logits x 3) lowers unseen loss: applied.
    labels, probabilities = scored["unseen"]
    sharp = metrics.softmax(3 * np.log(probabilities))
    assert decisions.validated_temperature(labels, sharp, seed=13)["p_value"] < decisions.SIGNIFICANCE


def test_windows_are_checked_against_truncation_on_validation():
    from imdb_bert.params import EvaluateParams
    from imdb_bert.stages.evaluate import Scored, choose_long_reviews

    labels = np.array([0, 1] * 20)
    right = np.eye(2)[labels] * 0.8 + 0.1
    wrong = right[:, ::-1]
    lengths = np.full(len(labels), 200)
    settings = EvaluateParams(batch_size=8, misclassified=0, long_reviews="windows")
    worse = Scored(labels, right, lengths, pd.DataFrame(), {"truncate": right, "windows": np.where(
        (np.arange(len(labels)) < 12)[:, None], wrong, right)})
    mode, reason = choose_long_reviews(worse, settings, 128)
    assert mode == "truncate" and reason.startswith("windows declined: on the 40 long validation reviews")
    even = Scored(labels, right, lengths, pd.DataFrame(), {"truncate": right, "windows": right})
    assert choose_long_reviews(even, settings, 128)[0] == "windows"
