"""How predictions are decided after the model: fitted on the validation split and written by `evaluate` to
models/decision.json, applied by `predict`, `export` and the server.

It holds the temperature fitted on validation (1 = none), the decision threshold on the second label's
probability chosen on validation (binary only; null = arg-max), and how reviews longer than max_length are scored;
each with the reason `evaluate` gave for it (a fitted value is applied only when the validation split supports
it: docs/evaluation.md). Files written before the reasons existed read with empty reasons.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from imdb_bert.errors import PipelineError
from imdb_bert.evaluation.metrics import BOOTSTRAP_CHUNK, log_loss, softmax
from imdb_bert.files import read_json, write_json
from imdb_bert.params import EvaluateParams

DECISION_FILE = Path("models/decision.json")
SIGNIFICANCE = 0.05  # a fitted decision is applied only when its validated gain has p below this
CROSS_FIT_FOLDS = 5
DECISION_RESAMPLES = 2000  # the paired bootstrap of an F1 gain
log = logging.getLogger("evaluate")


@dataclass(frozen=True)
class Decision:
    labels: list[str]
    temperature: float = 1.0
    threshold: float | None = None  # binary: predict labels[1] when its probability is at least this
    long_reviews: str = "truncate"  # truncate | windows
    window_stride: int = 0  # windows: tokens between window starts
    temperature_reason: str = ""
    threshold_reason: str = ""
    long_reviews_reason: str = ""

    def calibrate(self, probabilities: np.ndarray) -> np.ndarray:
        return probabilities if self.temperature == 1.0 else apply_temperature(probabilities, self.temperature)

    def predict(self, probabilities: np.ndarray) -> np.ndarray:
        """Label indices from calibrated probabilities."""
        if self.threshold is None:
            return probabilities.argmax(axis=1)
        return (probabilities[:, 1] >= self.threshold).astype(np.int64)


def write_decision(decision: Decision, path: str | Path = DECISION_FILE) -> None:
    write_json(path, asdict(decision))


def read_decision(path: str | Path, labels: list[str]) -> Decision:
    """The decision file at `path`, checked against the model's labels."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: not found; run `dvc repro evaluate`, or pass --decision none for arg-max")
    try:
        decision = Decision(**read_json(path))
    except (TypeError, ValueError) as error:
        raise PipelineError(f"{path}: not a decision file written by evaluate ({error}); "
                            f"run `dvc repro evaluate`") from None
    if decision.labels != labels:
        raise PipelineError(f"{path}: chosen for labels {decision.labels}, but the model has {labels}; "
                            f"run `dvc repro evaluate`")
    return decision


# ------------------------------------------------------------------ fitting, on the validation split

def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T), from probabilities: log p differs from the logits by a per-row constant."""
    return softmax(np.log(np.clip(probabilities.astype(np.float64), 1e-30, 1.0)) / temperature)


def fit_temperature(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The temperature T in [0.05, 20] minimising the negative log-likelihood of softmax(logits / T)
    (temperature scaling, Guo et al. 2017). It never changes the arg-max."""
    from scipy.optimize import minimize_scalar

    def nll(log_temperature: float) -> float:
        return log_loss(labels, apply_temperature(probabilities, float(np.exp(log_temperature))))

    found = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded",
                            options={"xatol": 1e-5})
    return round(float(np.exp(found.x)), 4)


def threshold_counts(labels: np.ndarray, scores: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, ...]:
    """True/false positives/negatives when `scores >= threshold` predicts class 1, for each threshold."""
    positives = np.sort(scores[labels == 1])
    negatives = np.sort(scores[labels != 1])
    tp = len(positives) - np.searchsorted(positives, thresholds, side="left")
    fp = len(negatives) - np.searchsorted(negatives, thresholds, side="left")
    return tp, fp, len(positives) - tp, len(negatives) - fp


def objective_values(labels: np.ndarray, scores: np.ndarray, thresholds: np.ndarray, objective: str) -> np.ndarray:
    tp, fp, fn, tn = threshold_counts(labels, scores, np.asarray(thresholds, dtype=np.float64))
    if objective == "accuracy":
        return (tp + tn) / len(labels)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nan_to_num(2 * tp / (2 * tp + fp + fn))


def choose_threshold(labels: np.ndarray, scores: np.ndarray, objective: str) -> float:
    """The threshold on the class-1 probability that maximises `objective` (accuracy or f1 of class 1) on these
    examples. Every distinct score is a candidate; the winner is moved down to the midpoint with the next lower
    score (the same predictions here, a margin for new data); ties go to the threshold nearest 0.5."""
    scores = scores.astype(np.float64)
    distinct = np.unique(np.concatenate([scores, [0.5]]))
    candidates = np.concatenate([(distinct[1:] + distinct[:-1]) / 2, [distinct[0] / 2, (distinct[-1] + 1) / 2]])
    values = objective_values(labels, scores, candidates, objective)
    best = np.flatnonzero(values >= values.max() - 1e-12)
    winner = best[np.lexsort((candidates[best], np.abs(candidates[best] - 0.5)))[0]]
    return float(candidates[winner])


def mcnemar_p(first_right: np.ndarray, second_right: np.ndarray) -> float:
    """One-sided exact McNemar test (a binomial test on the discordant pairs): the chance, were both deciders
    equally accurate, that the first wins at least as many of the examples where exactly one is right."""
    from scipy.stats import binom

    wins = int((first_right & ~second_right).sum())
    losses = int((~first_right & second_right).sum())
    return 1.0 if wins + losses == 0 else float(binom.sf(wins - 1, wins + losses, 0.5))


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """A fold index per example, each label spread evenly over the folds, seeded."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        fold[members] = (np.arange(len(members)) + offset) % folds
        offset += len(members)
    return fold


def _objective(weights: np.ndarray, labels: np.ndarray, predicted: np.ndarray, objective: str) -> np.ndarray:
    """Accuracy or F1 of class 1 under each row of example weights."""
    if objective == "accuracy":
        return weights @ (predicted == labels) / weights.sum(axis=1)
    tp = weights @ ((predicted == 1) & (labels == 1))
    wrong = weights @ ((predicted == 1) != (labels == 1))
    return np.divide(2 * tp, 2 * tp + wrong, out=np.zeros_like(tp), where=2 * tp + wrong > 0)


def validated_threshold(labels: np.ndarray, scores: np.ndarray, objective: str,
                        seed: int) -> dict[str, float | int] | None:
    """Whether a fitted threshold beats arg-max on examples it was not fitted on (cross-fitting): each fold is
    decided by the threshold chosen on the other folds, and these out-of-fold decisions are compared with arg-max
    on the same examples, paired: exact McNemar for accuracy, a paired bootstrap for F1. None when a fold would
    lack a label (too few examples to cross-fit)."""
    fold = stratified_folds(labels, CROSS_FIT_FOLDS, seed)
    if len(labels) < 2 * CROSS_FIT_FOLDS or any(len(np.unique(labels[fold != f])) < 2
                                                 for f in range(CROSS_FIT_FOLDS)):
        return None
    crossed = np.empty(len(labels), dtype=np.int64)
    for f in range(CROSS_FIT_FOLDS):
        held = fold == f
        threshold = choose_threshold(labels[~held], scores[~held], objective)
        crossed[held] = scores[held] >= threshold
    argmax = (scores > 0.5).astype(np.int64)  # binary arg-max on the class-1 probability (ties to class 0)
    ones = np.ones((1, len(labels)))
    gain = {"examples": len(labels), "cross_fitted": float(_objective(ones, labels, crossed, objective)[0]),
            "argmax": float(_objective(ones, labels, argmax, objective)[0])}
    if objective == "accuracy":
        return gain | {"p_value": mcnemar_p(crossed == labels, argmax == labels)}
    rng = np.random.default_rng(seed)
    differences = []
    for start in range(0, DECISION_RESAMPLES, BOOTSTRAP_CHUNK):  # chunks bound the weights in memory
        drawn = rng.integers(0, len(labels), size=(min(BOOTSTRAP_CHUNK, DECISION_RESAMPLES - start), len(labels)))
        weights = np.stack([np.bincount(row, minlength=len(labels)) for row in drawn]).astype(np.float64)
        differences.append(_objective(weights, labels, crossed, objective)
                           - _objective(weights, labels, argmax, objective))
    return gain | {"p_value": float((np.concatenate(differences) <= 0).mean())}


def validated_temperature(labels: np.ndarray, probabilities: np.ndarray, seed: int) -> dict[str, float | int] | None:
    """Whether temperature scaling lowers the log loss of examples it was not fitted on: each fold scaled by the
    temperature fitted on the other folds; a one-sided paired t-test on the per-example loss differences."""
    from scipy.stats import ttest_1samp

    fold = stratified_folds(labels, CROSS_FIT_FOLDS, seed)
    if len(labels) < 2 * CROSS_FIT_FOLDS:
        return None
    rows = np.arange(len(labels))
    before = -np.log(np.clip(probabilities[rows, labels].astype(np.float64), 1e-30, 1.0))
    after = np.empty(len(labels))
    for f in range(CROSS_FIT_FOLDS):
        held = fold == f
        scaled = apply_temperature(probabilities[held], fit_temperature(labels[~held], probabilities[~held]))
        after[held] = -np.log(np.clip(scaled[np.arange(held.sum()), labels[held]], 1e-30, 1.0))
    differences = before - after
    p_value = 1.0 if np.allclose(differences, differences[0]) else float(
        ttest_1samp(differences, 0.0, alternative="greater").pvalue)
    return {"examples": len(labels), "loss_before": float(before.mean()), "loss_cross_fitted": float(after.mean()),
            "p_value": p_value}


@dataclass(frozen=True)
class ScoredSplit:
    """A split's labels and the probabilities `evaluate` scored for it."""

    labels: np.ndarray
    probabilities: np.ndarray  # before temperature scaling, long reviews scored as the decision says
    full_lengths: np.ndarray  # tokens before truncation, special tokens included
    texts: pd.DataFrame  # the split CSV (source_row, text, label)
    by_mode: dict[str, np.ndarray]  # the probabilities of each long-review mode scored ("truncate", "windows")


@dataclass(frozen=True)
class Fitted:
    """What was fitted on validation, applied or not, and the cross-fitted evidence (imdb_bert.decisions)."""

    temperature: float | None = None
    temperature_check: dict | None = None
    threshold: float | None = None
    threshold_check: dict | None = None


def choose_long_reviews(validation: ScoredSplit | None, settings: EvaluateParams, max_length: int) -> tuple[str, str]:
    """`windows` won the benchmark (docs/evaluation.md), so it is kept unless the validation split shows it
    significantly less accurate than truncation on its long reviews (exact McNemar, one-sided)."""
    if settings.long_reviews == "truncate":
        return "truncate", "evaluate.long_reviews is truncate"
    if validation is None:
        return "windows", "evaluate.long_reviews is windows; no validation split to check it on"
    long = validation.full_lengths > max_length
    if not long.any():
        return "windows", "evaluate.long_reviews is windows; no validation review is longer than max_length"
    labels = validation.labels[long]
    right = {mode: validation.by_mode[mode][long].argmax(axis=1) == labels for mode in ("truncate", "windows")}
    p_value = mcnemar_p(right["truncate"], right["windows"])
    figures = (f"on the {int(long.sum())} long validation reviews, accuracy {right['windows'].mean():.4f} with "
               f"windows vs {right['truncate'].mean():.4f} truncated (exact McNemar, truncation better: "
               f"one-sided p = {p_value:.3g})")
    if p_value < SIGNIFICANCE:
        return "truncate", f"windows declined: {figures} < {SIGNIFICANCE}"
    return "windows", f"windows kept: {figures}, not below {SIGNIFICANCE}"


def verdict(check: dict | None, evidence: str, declined: str) -> tuple[bool, str]:
    """Whether a fitted value is applied (its cross-fitted gain has p < SIGNIFICANCE), and the reason."""
    if check is None:
        return False, declined + evidence
    if check["p_value"] < SIGNIFICANCE:
        return True, f"applied: {evidence} < {SIGNIFICANCE}"
    return False, f"{declined}{evidence} not below {SIGNIFICANCE}"


def choose_decision(validation: ScoredSplit | None, names: list[str], settings: EvaluateParams, stride: int,
                    max_length: int) -> tuple[Decision, Fitted]:
    """Long-review scoring, temperature (when `calibrate`) and threshold (binary, when `threshold` names an
    objective), each fitted on the validation split and applied only when it holds up on validation reviews it
    was not fitted on (cross-fitting, p < SIGNIFICANCE); the reason for each goes into the decision."""
    long_reviews, long_reason = choose_long_reviews(validation, settings, max_length)
    temperature, threshold, fitted = 1.0, None, Fitted()
    no_validation = "not fitted: no validation split (data.validation_size 0)"
    if validation is not None:
        validation = replace(validation, probabilities=validation.by_mode[long_reviews])
    if not settings.calibrate:
        temperature_reason = "not fitted: evaluate.calibrate is false"
    elif validation is None:
        temperature_reason = no_validation
    else:
        candidate = fit_temperature(validation.labels, validation.probabilities)
        check = validated_temperature(validation.labels, validation.probabilities, settings.bootstrap_seed)
        fitted = replace(fitted, temperature=candidate, temperature_check=check)
        temperature_reason = f"T = {candidate:g} fitted on {len(validation.labels)} validation reviews; " + (
            "too few to cross-fit" if check is None else
            f"cross-fitted validation loss {check['loss_before']:.4f} -> {check['loss_cross_fitted']:.4f} "
            f"(one-sided paired t-test p = {check['p_value']:.3g})")
        applied, temperature_reason = verdict(check, temperature_reason, "declined, no temperature: ")
        temperature = candidate if applied else 1.0
    if settings.threshold is None:
        threshold_reason = "not fitted: evaluate.threshold is null (arg-max)"
    elif len(names) != 2:
        threshold_reason = f"not fitted: evaluate.threshold applies to two labels only; {len(names)} labels are " \
                           f"decided by arg-max"
        log.info("evaluate.threshold applies to two labels only; %d labels are decided by arg-max", len(names))
    elif validation is None:
        threshold_reason = no_validation
    else:
        scores = apply_temperature(validation.probabilities, temperature)[:, 1]
        candidate = round(choose_threshold(validation.labels, scores, settings.threshold), 6)
        check = validated_threshold(validation.labels, scores, settings.threshold, settings.bootstrap_seed)
        fitted = replace(fitted, threshold=candidate, threshold_check=check)
        test_name = "exact McNemar" if settings.threshold == "accuracy" else "paired bootstrap"
        threshold_reason = (f"{candidate:g} fitted for {settings.threshold} on {len(validation.labels)} validation "
                            f"reviews; " + ("too few to cross-fit" if check is None else
                                            f"cross-fitted {settings.threshold} {check['cross_fitted']:.4f} vs "
                                            f"arg-max {check['argmax']:.4f} ({test_name}, one-sided p = "
                                            f"{check['p_value']:.3g})"))
        applied, threshold_reason = verdict(check, threshold_reason, "declined, arg-max: ")
        threshold = candidate if applied else None
    decision = Decision(labels=names, temperature=temperature, threshold=threshold, long_reviews=long_reviews,
                        window_stride=stride, temperature_reason=temperature_reason,
                        threshold_reason=threshold_reason, long_reviews_reason=long_reason)
    return decision, fitted
