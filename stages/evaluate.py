"""Stage `evaluate`: score the test split with models/model; choose how predictions are decided.

Reads params `evaluate.*` (and the rest of params.yaml for the model card). Writes:
- metrics/eval.json: the headline figures, a DVC metrics file; metrics/eval_details.json: every figure, overall
  and per class, the 95% intervals, calibration (ECE), the threshold's and the temperature's effect on test,
  accuracy by review length (stages/common/metric_files.py, docs/evaluation.md);
- metrics/eval/plots/: the plot data DVCLive writes (confusion matrix, ROC and precision-recall curves,
  reliability diagram, accuracy by length), drawn by `dvc plots show` with the definitions in dvc.yaml;
- models/decision.json: the temperature and the threshold fitted on the validation split, and how long
  reviews are scored, which `predict` and `export` apply;
- models/model_card.md: a Hugging Face model card with this run's data, params and numbers;
- metrics/misclassified.csv: the most confident errors.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python stages/NAME.py` puts stages/ first on sys.path, where tokenize.py would shadow the
# standard library's tokenize: import from the project root instead.
if sys.path[0] == str(Path(__file__).resolve().parent):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stages.common import metrics
from stages.common.checkpoint import load_tokenizer
from stages.common.decision import Decision, write_decision
from stages.common.errors import PipelineError, run_stage
from stages.common.files import atomic_path, read_json, require_inputs
from stages.common.inputs import BatchSource, predict_probabilities
from stages.common.libraries import load_trained
from stages.common.metric_files import write_scores
from stages.common.model_card import MODEL_CARD, write_model_card
from stages.common.params import EvaluateParams, load_params
from stages.common.tokens import TOKENS_DIR, content_ids, full_lengths, load_meta, load_split, num_special_tokens
from stages.common.windows import windowed_probabilities

MODEL_DIR = "models/model"
SPLIT_DIR = Path("data/split")
PLOTS_DIR = "metrics/eval"  # DVCLive's directory: the plot data under plots/
log = logging.getLogger("evaluate")


@dataclass(frozen=True)
class Scored:
    labels: np.ndarray
    probabilities: np.ndarray  # before temperature scaling
    full_lengths: np.ndarray  # tokens before truncation, special tokens included
    texts: pd.DataFrame  # the split CSV (source_row, text, label)


def score_split(name: str, model, tokenizer, meta: dict, settings: EvaluateParams, stride: int) -> Scored:
    """Probabilities for a split from the token cache; with `windows`, its long reviews re-tokenized from the
    split CSV (the cache holds truncated ids only) and scored over windows."""
    split = load_split(name)
    source = BatchSource(split, meta["model_input_names"], settings.batch_size, shuffle_seed=None,
                         group_by_length=True, pad_to_max_length=False, pad_to_multiple_of=8)
    probabilities = predict_probabilities(model, source, verbose=1 if sys.stdout.isatty() else 2)
    texts = pd.read_csv(SPLIT_DIR / f"{name}.csv", keep_default_na=False, dtype={"text": str})
    ids = content_ids(tokenizer, texts["text"].tolist())
    lengths = full_lengths(tokenizer, ids)
    max_length = meta["max_length"]
    if not np.array_equal(np.minimum(lengths, max_length), np.asarray(split.lengths)):
        raise PipelineError(f"data/tokens/{name}: was not tokenized from {SPLIT_DIR / name}.csv with the model's "
                            f"tokenizer; run `dvc repro`")
    long = np.flatnonzero(lengths > max_length)
    if settings.long_reviews == "windows" and len(long):
        log.info("%s: scoring %d reviews longer than %d tokens over windows (stride %d tokens)", name, len(long),
                 max_length, stride)
        probabilities[long] = windowed_probabilities(model, tokenizer, [ids[i] for i in long], max_length, stride,
                                                     meta["model_input_names"], settings.batch_size)
    return Scored(np.asarray(split.labels, dtype=np.int64), probabilities, lengths, texts)


def choose_decision(validation: Scored | None, names: list[str], settings: EvaluateParams, stride: int) -> Decision:
    """Temperature (when `calibrate`) and threshold (binary, when `threshold` names an objective), both fitted on
    the validation split; without one, neither."""
    temperature, threshold = 1.0, None
    wanted = settings.calibrate or (settings.threshold is not None and len(names) == 2)
    if wanted and validation is None:
        log.info("no validation split (data.validation_size 0): no temperature or threshold is fitted")
    elif wanted:
        if settings.calibrate:
            temperature = metrics.fit_temperature(validation.labels, validation.probabilities)
        if settings.threshold is not None and len(names) == 2:
            calibrated = metrics.apply_temperature(validation.probabilities, temperature)
            threshold = round(metrics.choose_threshold(validation.labels, calibrated[:, 1], settings.threshold), 6)
    if settings.threshold is not None and len(names) != 2:
        log.info("evaluate.threshold applies to two labels only; %d labels are decided by arg-max", len(names))
    return Decision(labels=names, temperature=temperature, threshold=threshold, long_reviews=settings.long_reviews,
                    window_stride=stride)


def evaluation_scores(test: Scored, validation: Scored | None, decision: Decision, settings: EvaluateParams,
                      max_length: int) -> dict:
    names = decision.labels
    scores = metrics.classification_metrics(test.labels, test.probabilities, names)
    scores |= metrics.bootstrap_intervals(test.labels, test.probabilities, settings.bootstrap_resamples,
                                          settings.bootstrap_seed)
    correct = test.probabilities.argmax(axis=1) == test.labels
    scores["slices"] = metrics.length_slices(test.full_lengths, correct, max_length)
    if settings.calibrate and validation is not None:
        calibrated = decision.calibrate(test.probabilities)
        scores["temperature_scaled"] = {
            "temperature": decision.temperature,
            "ece": metrics.expected_calibration_error(test.labels, calibrated),
            "loss": metrics.log_loss(test.labels, calibrated),
            "validation_loss_before": metrics.log_loss(validation.labels, validation.probabilities),
            "validation_loss_after": metrics.log_loss(validation.labels, decision.calibrate(validation.probabilities)),
        }
    if decision.threshold is not None:
        at_threshold = metrics.threshold_metrics(test.labels, decision.calibrate(test.probabilities)[:, 1],
                                                 decision.threshold)
        scores["threshold"] = {"value": decision.threshold, **at_threshold}
    return scores


def plot_name(label: str) -> str:
    return re.sub(r"[^\w.-]+", "_", label)


def write_plots(folder: Path, test: Scored, decision: Decision, slices: dict) -> None:
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
    for name, scored in (("uncalibrated", probabilities), ("temperature_scaled", decision.calibrate(probabilities))):
        if name == "uncalibrated" or decision.temperature != 1.0:
            correct, confidence = metrics.reliability_inputs(labels, scored)
            live.log_sklearn_plot("calibration", correct, confidence, name=f"calibration/{name}",
                                  n_bins=metrics.ECE_BINS)
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
    test = score_split("test", model, tokenizer, meta, settings, stride)
    validation = None
    fits = settings.calibrate or (settings.threshold is not None and len(names) == 2)
    if fits and meta["splits"]["validation"]["rows"]:
        validation = score_split("validation", model, tokenizer, meta, settings, stride)
    decision = choose_decision(validation, names, settings, stride)
    scores = evaluation_scores(test, validation, decision, settings, meta["max_length"])

    with atomic_path(PLOTS_DIR) as folder:
        write_plots(folder, test, decision, scores["slices"])
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
