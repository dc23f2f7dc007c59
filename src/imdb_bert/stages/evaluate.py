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
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from imdb_bert.decisions import Decision, Fitted, ScoredSplit, apply_temperature, choose_decision, write_decision
from imdb_bert.errors import PipelineError, run_stage
from imdb_bert.evaluation import metrics
from imdb_bert.evaluation.model_card import MODEL_CARD, write_model_card
from imdb_bert.evaluation.outputs import most_confident_errors, write_plots, write_scores
from imdb_bert.files import atomic_path, read_json, require_inputs
from imdb_bert.params import EvaluateParams, load_params
from imdb_bert.scoring import score_reviews
from imdb_bert.tokens import (
    TOKENS_DIR,
    content_ids,
    full_lengths,
    load_meta,
    load_split,
    num_special_tokens,
    stride_tokens,
)
from imdb_bert.trained_model import TrainedModel

MODEL_DIR = "models/model"
SPLIT_DIR = Path("data/split")
PLOTS_DIR = "metrics/eval"  # DVCLive's directory: the plot data under plots/
log = logging.getLogger("evaluate")


def score_split(name: str, model, tokenizer, meta: dict, settings: EvaluateParams, stride: int,
                modes: tuple[str, ...]) -> ScoredSplit:
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
    return ScoredSplit(np.asarray(split.labels, dtype=np.int64), by_mode[modes[-1]], lengths, texts, by_mode)


def evaluation_scores(test: ScoredSplit, validation: ScoredSplit | None, decision: Decision, fitted: Fitted,
                      settings: EvaluateParams, max_length: int) -> dict:
    names = decision.labels
    scores = metrics.classification_metrics(test.labels, test.probabilities, names)
    scores |= metrics.bootstrap_intervals(test.labels, test.probabilities, settings.bootstrap_resamples,
                                          settings.bootstrap_seed)
    correct = test.probabilities.argmax(axis=1) == test.labels
    scores["slices"] = metrics.length_slices(test.full_lengths, correct, max_length)
    if fitted.temperature is not None:  # the fitted temperature's effect, applied or not
        calibrated = apply_temperature(test.probabilities, fitted.temperature)
        before = validation.by_mode[decision.long_reviews]
        scores["temperature_scaled"] = {
            "temperature": fitted.temperature,
            "applied": decision.temperature != 1.0,
            "p_value": fitted.temperature_check["p_value"] if fitted.temperature_check else None,
            "ece": metrics.expected_calibration_error(test.labels, calibrated),
            "loss": metrics.log_loss(test.labels, calibrated),
            "validation_loss_before": metrics.log_loss(validation.labels, before),
            "validation_loss_after": metrics.log_loss(validation.labels,
                                                      apply_temperature(before, fitted.temperature)),
        }
    if fitted.threshold is not None:  # the fitted threshold's effect on test, applied or not
        at_threshold = metrics.threshold_metrics(test.labels, decision.calibrate(test.probabilities)[:, 1],
                                                 fitted.threshold)
        scores["threshold"] = {"value": fitted.threshold, "applied": decision.threshold is not None,
                               "p_value": fitted.threshold_check["p_value"] if fitted.threshold_check else None,
                               **at_threshold}
    return scores


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
    trained = TrainedModel.load(MODEL_DIR, labels=names)
    model, tokenizer = trained.classifier, trained.tokenizer
    model.score_in_bf16(settings.bf16_scoring)  # kept after a check on the first split scored; else float32
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
    scores["scoring_precision"] = model.scoring  # float32 or mixed_bfloat16, the reason and the check's figures

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
