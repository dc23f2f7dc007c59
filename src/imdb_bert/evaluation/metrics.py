"""Test-set metrics from true labels and predicted probabilities: overall and per class, with a confidence
interval, calibration (ECE, temperature scaling), a decision threshold chosen on validation, length slices."""

from __future__ import annotations

import numpy as np
from sklearn import metrics

Z_95 = 1.959963984540054  # the standard normal's 97.5% quantile: a two-sided 95% interval
ECE_BINS = 15
BOOTSTRAP_CHUNK = 100  # resamples scored at once: 100 x examples weights in memory


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray,
                           names: list[str] | None = None) -> dict:
    """Arg-max figures: accuracy with its Wilson 95% interval; precision, recall, F1 (of class 1 when binary,
    else macro) and their macro averages; ROC AUC (one-vs-rest when 3+ classes); cross-entropy loss; ECE;
    and precision, recall, F1 and support per class, keyed by label name."""
    classes = probabilities.shape[1]
    names = names or [str(index) for index in range(classes)]
    predicted = probabilities.argmax(axis=1)
    average = "binary" if classes == 2 else "macro"
    precision, recall, f1, _ = metrics.precision_recall_fscore_support(labels, predicted, average=average,
                                                                       zero_division=0)
    macro = metrics.precision_recall_fscore_support(labels, predicted, average="macro", zero_division=0,
                                                    labels=list(range(classes)))
    per_class = metrics.precision_recall_fscore_support(labels, predicted, labels=list(range(classes)),
                                                        zero_division=0)
    scores = probabilities[:, 1] if classes == 2 else probabilities
    single_class = len(np.unique(labels)) < 2
    correct = int((predicted == labels).sum())
    low, high = wilson_interval(correct, len(labels))
    return {
        "examples": len(labels),
        "accuracy": correct / len(labels),
        "accuracy_ci_low": low,
        "accuracy_ci_high": high,
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "macro_precision": float(macro[0]),
        "macro_recall": float(macro[1]),
        "macro_f1": float(macro[2]),
        "roc_auc": float("nan") if single_class else float(metrics.roc_auc_score(labels, scores, multi_class="ovr")),
        "loss": log_loss(labels, probabilities),
        "ece": expected_calibration_error(labels, probabilities),
        "per_class": {name: {"precision": float(per_class[0][index]), "recall": float(per_class[1][index]),
                             "f1": float(per_class[2][index]), "support": int(per_class[3][index])}
                      for index, name in enumerate(names)},
    }


def bootstrap_intervals(labels: np.ndarray, probabilities: np.ndarray, resamples: int, seed: int) -> dict:
    """Percentile-bootstrap 95% intervals of F1 and ROC AUC, as classification_metrics defines them (Efron and
    Tibshirani 1993): the test examples drawn with replacement `resamples` times. Empty where `resamples` is 0.

    Each resample is a row of weights (how often each example was drawn), so all of them are scored at once.
    """
    examples = len(labels)
    if resamples == 0 or examples == 0:
        return {}
    rng = np.random.default_rng(seed)
    f1, auc = [], []
    for start in range(0, resamples, BOOTSTRAP_CHUNK):
        rows = min(BOOTSTRAP_CHUNK, resamples - start)
        drawn = rng.integers(0, examples, size=(rows, examples)) + examples * np.arange(rows)[:, None]
        weights = np.bincount(drawn.ravel(), minlength=rows * examples).reshape(rows, examples).astype(np.float64)
        chunk_f1, chunk_auc = resampled_scores(weights, labels, probabilities)
        f1.append(chunk_f1)
        auc.append(chunk_auc)
    intervals = {}
    for name, values in (("f1", np.concatenate(f1)), ("roc_auc", np.concatenate(auc))):
        finite = values[np.isfinite(values)]  # a resample without one of the classes has no ROC AUC
        low, high = np.percentile(finite, [2.5, 97.5]) if len(finite) else (float("nan"), float("nan"))
        intervals |= {f"{name}_ci_low": float(low), f"{name}_ci_high": float(high)}
    return intervals


def resampled_scores(weights: np.ndarray, labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, ...]:
    """F1 (of class 1 when binary, else macro) and ROC AUC (one-vs-rest macro) of each row of example weights."""
    classes = probabilities.shape[1]
    predicted = probabilities.argmax(axis=1)
    f1, auc = [], []
    for label in [1] if classes == 2 else range(classes):
        true_positive = weights @ ((predicted == label) & (labels == label))
        denominator = weights @ (predicted == label) + weights @ (labels == label)
        f1.append(np.divide(2 * true_positive, denominator, out=np.zeros_like(true_positive),
                            where=denominator > 0))
        auc.append(_weighted_auc(weights, labels == label, probabilities[:, label]))
    return np.mean(f1, axis=0), np.mean(auc, axis=0)


def _weighted_auc(weights: np.ndarray, positive: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC per row of weights: the chance a positive outscores a negative, ties counting half (Mann-Whitney)."""
    order = np.argsort(scores, kind="stable")
    ordered = scores[order]
    groups = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # first position of each distinct score
    weights = weights[:, order]
    positives = np.add.reduceat(weights * positive[order], groups, axis=1)
    negatives = np.add.reduceat(weights * ~positive[order], groups, axis=1)
    below = np.cumsum(negatives, axis=1) - negatives
    with np.errstate(invalid="ignore", divide="ignore"):
        return (positives * (below + negatives / 2)).sum(axis=1) / (positives.sum(axis=1) * negatives.sum(axis=1))


def log_loss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    return float(metrics.log_loss(labels, probabilities, labels=list(range(probabilities.shape[1]))))


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (Wilson 1927): sound near 0 and 1 and for small counts."""
    if trials == 0:
        return float("nan"), float("nan")
    share = successes / trials
    denominator = 1 + z * z / trials
    centre = (share + z * z / (2 * trials)) / denominator
    half = z / denominator * np.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials))
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def reliability_bins(labels: np.ndarray, probabilities: np.ndarray,
                     bins: int = ECE_BINS) -> list[tuple[float, float, int]]:
    """(mean top-label confidence, accuracy, examples) of each non-empty bin of `bins` equal-width bins on [0, 1]:
    the points of a reliability diagram, and what the ECE averages."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    # Bin b holds confidences in (b/bins, (b+1)/bins]; a confidence of exactly 0 joins the first bin.
    bin_of = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    return [(float(confidence[bin_of == b].mean()), float(correct[bin_of == b].mean()), int((bin_of == b).sum()))
            for b in np.unique(bin_of)]


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE (Guo et al. 2017): the top-label confidence binned into `bins` equal-width bins on [0, 1]; the mean
    over examples of |bin accuracy - bin mean confidence|."""
    total = sum(count * abs(accuracy - confidence)
                for confidence, accuracy, count in reliability_bins(labels, probabilities, bins))
    return float(total / len(labels))


def threshold_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float]:
    """Accuracy, precision, recall and F1 of class 1 when `scores >= threshold` predicts class 1."""
    predicted = (scores >= threshold).astype(int)
    precision, recall, f1, _ = metrics.precision_recall_fscore_support(labels, predicted, average="binary",
                                                                       zero_division=0)
    return {"accuracy": float((predicted == labels).mean()), "precision": float(precision),
            "recall": float(recall), "f1": float(f1)}


def length_buckets(max_length: int) -> list[tuple[str, int, int]]:
    """(name, lowest, highest) token counts: four equal ranges up to max_length, then the truncated reviews."""
    edges = [0] + [round(max_length * share) for share in (0.25, 0.5, 0.75, 1.0)]
    ranges = [(f"tokens_{low + 1}_{high}", low + 1, high) for low, high in zip(edges[:-1], edges[1:], strict=True)]
    return ranges + [("truncated", max_length + 1, np.iinfo(np.int64).max)]


def length_slices(full_lengths: np.ndarray, correct: np.ndarray, max_length: int) -> dict[str, dict]:
    """Accuracy and count per token-length bucket (lengths before truncation, special tokens included);
    the reviews longer than max_length, which truncation cut, are the `truncated` bucket."""
    slices = {}
    for name, low, high in length_buckets(max_length):
        members = (full_lengths >= low) & (full_lengths <= high)
        count = int(members.sum())
        slices[name] = {"count": count, "accuracy": float(correct[members].mean()) if count else None}
    return slices
