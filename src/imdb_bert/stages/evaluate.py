"""Stage `evaluate`: score the test split with models/model; choose how predictions are decided.

Reads params `evaluate.*` (and the rest of params.yaml for the model card). Writes:
- metrics/eval.json: the headline figures, a DVC metrics file; metrics/eval_details.json: every figure, overall
  and per class, the 95% intervals, calibration (ECE), the threshold's and the temperature's effect on test,
  accuracy by review length (src/imdb_bert/evaluation/outputs.py, docs/evaluation.md);
- metrics/eval/plots/: the plot data DVCLive writes (confusion matrix, ROC and precision-recall curves,
  reliability diagram, accuracy by length), drawn by `dvc plots show` with the definitions in dvc.yaml;
- models/decision.json: the temperature and the threshold fitted on the validation split, and how long
  reviews are scored, which `predict` and `export` apply;
- models/model_card.md: a Hugging Face model card with this run's data, params and numbers;
- metrics/misclassified.csv: the most confident errors.
"""

from __future__ import annotations

import logging
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from imdb_bert.decisions import Decision, write_decision
from imdb_bert.errors import PipelineError, run_stage
from imdb_bert.evaluation import metrics
from imdb_bert.evaluation.model_card import MODEL_CARD, write_model_card
from imdb_bert.evaluation.outputs import write_scores
from imdb_bert.files import atomic_path, read_json, require_inputs
from imdb_bert.models import load_trained
from imdb_bert.params import EvaluateParams, load_params
from imdb_bert.scoring import score_reviews
from imdb_bert.tokenizer import load_tokenizer
from imdb_bert.tokens import TOKENS_DIR, content_ids, full_lengths, load_meta, load_split, num_special_tokens

MODEL_DIR = "models/model"
SPLIT_DIR = Path("data/split")
PLOTS_DIR = "metrics/eval"  # DVCLive's directory: the plot data under plots/
log = logging.getLogger("evaluate")


@dataclass(frozen=True)
class Scored:
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


def score_split(name: str, model, tokenizer, meta: dict, settings: EvaluateParams, stride: int,
                modes: tuple[str, ...]) -> Scored:
    """Probabilities for a split in each of `modes`, from one model pass (src/imdb_bert/scoring.py): the token
    cache for the reviews that fit, and for `windows` the long reviews' windows, re-tokenized from the split CSV
    (the cache holds truncated ids only)."""
    split = load_split(name)
    texts = pd.read_csv(SPLIT_DIR / f"{name}.csv", keep_default_na=False, dtype={"text": str})
    ids = content_ids(tokenizer, texts["text"].tolist())
    lengths = full_lengths(tokenizer, ids)
    max_length = meta["max_length"]
    if not np.array_equal(np.minimum(lengths, max_length), np.asarray(split.lengths)):
        raise PipelineError(f"data/tokens/{name}: was not tokenized from {SPLIT_DIR / name}.csv with the model's "
                            f"tokenizer; run `dvc repro`")
    if "windows" in modes:
        log.info("%s: scoring %d reviews longer than %d tokens over windows (stride %d tokens)%s", name,
                 int((lengths > max_length).sum()), max_length, stride,
                 ", and truncated, to check windows against truncation" if "truncate" in modes else
                 ", never also truncated")
    by_mode = score_reviews(model, tokenizer, ids, split, max_length, stride, meta["model_input_names"],
                            settings.batch_size, modes, verbose=1 if sys.stdout.isatty() else 2)
    return Scored(np.asarray(split.labels, dtype=np.int64), by_mode[modes[-1]], lengths, texts, by_mode)


def choose_long_reviews(validation: Scored | None, settings: EvaluateParams, max_length: int) -> tuple[str, str]:
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
    p_value = metrics.mcnemar_p(right["truncate"], right["windows"])
    figures = (f"on the {int(long.sum())} long validation reviews, accuracy {right['windows'].mean():.4f} with "
               f"windows vs {right['truncate'].mean():.4f} truncated (exact McNemar, truncation better: "
               f"one-sided p = {p_value:.3g})")
    if p_value < metrics.SIGNIFICANCE:
        return "truncate", f"windows declined: {figures} < {metrics.SIGNIFICANCE}"
    return "windows", f"windows kept: {figures}, not below {metrics.SIGNIFICANCE}"


def verdict(check: dict | None, evidence: str, declined: str) -> tuple[bool, str]:
    """Whether a fitted value is applied (its cross-fitted gain has p < metrics.SIGNIFICANCE), and the reason."""
    if check is None:
        return False, declined + evidence
    if check["p_value"] < metrics.SIGNIFICANCE:
        return True, f"applied: {evidence} < {metrics.SIGNIFICANCE}"
    return False, f"{declined}{evidence} not below {metrics.SIGNIFICANCE}"


def choose_decision(validation: Scored | None, names: list[str], settings: EvaluateParams, stride: int,
                    max_length: int) -> tuple[Decision, Fitted]:
    """Long-review scoring, temperature (when `calibrate`) and threshold (binary, when `threshold` names an
    objective), each fitted on the validation split and applied only when it holds up on validation reviews it
    was not fitted on (cross-fitting, p < metrics.SIGNIFICANCE); the reason for each goes into the decision."""
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
        candidate = metrics.fit_temperature(validation.labels, validation.probabilities)
        check = metrics.validated_temperature(validation.labels, validation.probabilities, settings.bootstrap_seed)
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
        scores = metrics.apply_temperature(validation.probabilities, temperature)[:, 1]
        candidate = round(metrics.choose_threshold(validation.labels, scores, settings.threshold), 6)
        check = metrics.validated_threshold(validation.labels, scores, settings.threshold, settings.bootstrap_seed)
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


def evaluation_scores(test: Scored, validation: Scored | None, decision: Decision, fitted: Fitted,
                      settings: EvaluateParams, max_length: int) -> dict:
    names = decision.labels
    scores = metrics.classification_metrics(test.labels, test.probabilities, names)
    scores |= metrics.bootstrap_intervals(test.labels, test.probabilities, settings.bootstrap_resamples,
                                          settings.bootstrap_seed)
    correct = test.probabilities.argmax(axis=1) == test.labels
    scores["slices"] = metrics.length_slices(test.full_lengths, correct, max_length)
    if fitted.temperature is not None:  # the fitted temperature's effect, applied or not
        calibrated = metrics.apply_temperature(test.probabilities, fitted.temperature)
        before = validation.by_mode[decision.long_reviews]
        scores["temperature_scaled"] = {
            "temperature": fitted.temperature,
            "applied": decision.temperature != 1.0,
            "p_value": fitted.temperature_check["p_value"] if fitted.temperature_check else None,
            "ece": metrics.expected_calibration_error(test.labels, calibrated),
            "loss": metrics.log_loss(test.labels, calibrated),
            "validation_loss_before": metrics.log_loss(validation.labels, before),
            "validation_loss_after": metrics.log_loss(validation.labels,
                                                      metrics.apply_temperature(before, fitted.temperature)),
        }
    if fitted.threshold is not None:  # the fitted threshold's effect on test, applied or not
        at_threshold = metrics.threshold_metrics(test.labels, decision.calibrate(test.probabilities)[:, 1],
                                                 fitted.threshold)
        scores["threshold"] = {"value": fitted.threshold, "applied": decision.threshold is not None,
                               "p_value": fitted.threshold_check["p_value"] if fitted.threshold_check else None,
                               **at_threshold}
    return scores


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
                       metrics.apply_temperature(probabilities, temperature)))
    points = [{"curve": name, "confidence": round(confidence, 6), "accuracy": round(accuracy, 6), "reviews": count}
              for name, scored in curves for confidence, accuracy, count in metrics.reliability_bins(labels, scored)]
    return points + [{"curve": "perfect calibration (diagonal)", "confidence": value, "accuracy": value, "reviews": 0}
                     for value in (0.0, 1.0)]


def write_plots(folder: Path, test: Scored, decision: Decision, slices: dict, temperature: float | None) -> None:
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


def stride_tokens(settings: EvaluateParams, budget: int) -> int:
    """`evaluate.window_stride`, a share of the window, in tokens (the window holds `budget` text tokens)."""
    if not 0 < settings.window_stride <= 1:
        raise PipelineError(f"params.yaml: evaluate.window_stride is {settings.window_stride}; expected a share of "
                            f"the window above 0 and at most 1, e.g. 0.5 for half-overlapping windows")
    return max(1, round(budget * settings.window_stride))


def main() -> None:
    params = load_params()
    settings = params.evaluate
    if settings.bootstrap_resamples < 0:
        raise PipelineError(f"params.yaml: evaluate.bootstrap_resamples is {settings.bootstrap_resamples}; "
                            f"expected 0 (no intervals) or more, e.g. 1000")
    require_inputs((SPLIT_DIR / "test.csv", "split"), (TOKENS_DIR / "meta.json", "tokenize"),
                   (TOKENS_DIR / "test", "tokenize"), (MODEL_DIR, "train"))
    meta = load_meta()
    names = meta["labels"]
    model = load_trained(MODEL_DIR, names)
    tokenizer = load_tokenizer(MODEL_DIR)
    stride = stride_tokens(settings, meta["max_length"] - num_special_tokens(tokenizer))
    validation = None
    fits = settings.calibrate or (settings.threshold is not None and len(names) == 2)
    if (fits or settings.long_reviews == "windows") and meta["splits"]["validation"]["rows"]:
        modes = ("truncate", "windows") if settings.long_reviews == "windows" else ("truncate",)
        validation = score_split("validation", model, tokenizer, meta, settings, stride, modes)
    decision, fitted = choose_decision(validation, names, settings, stride, meta["max_length"])
    for name in ("long_reviews", "temperature", "threshold"):
        log.info("%s: %s", name, getattr(decision, f"{name}_reason"))
    test = score_split("test", model, tokenizer, meta, settings, stride, (decision.long_reviews,))
    scores = evaluation_scores(test, validation, decision, fitted, settings, meta["max_length"])

    with atomic_path(PLOTS_DIR) as folder:
        write_plots(folder, test, decision, scores["slices"], fitted.temperature)
    write_scores(scores, read_json("metrics/data.json"))  # eval.json (headline), eval_details.json
    write_decision(decision)
    write_model_card(MODEL_CARD, params, meta, read_json("metrics/data.json"),
                     read_json("metrics/train/metrics.json"), scores, decision)
    errors = most_confident_errors(test.texts, test.probabilities, names, settings.misclassified)
    with atomic_path("metrics/misclassified.csv") as partial:
        errors.to_csv(partial, index=False, lineterminator="\n")
    log.info("test: %s", ", ".join(f"{key} {value:.4g}" for key, value in scores.items()
                                    if isinstance(value, float | int)))
    log.info("decision: temperature %s, threshold %s, long reviews %s", decision.temperature, decision.threshold,
             decision.long_reviews)


if __name__ == "__main__":
    run_stage(main)
