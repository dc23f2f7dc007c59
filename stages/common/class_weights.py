"""`train.class_weight`: per-label loss weights for imbalanced labels, passed to Keras `fit(class_weight=...)`."""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger("train")


def class_weights(labels: np.ndarray, mode: str | None, classes: int) -> dict[int, float] | None:
    """None, or for 'balanced' scikit-learn's n / (labels present x count of the label), logged."""
    if mode is None:
        return None
    from sklearn.utils.class_weight import compute_class_weight

    labels = np.asarray(labels)
    present = np.unique(labels)
    weights = dict.fromkeys(range(classes), 1.0)  # a label absent from train never occurs in a batch
    weights.update(zip(present.tolist(), compute_class_weight(mode, classes=present, y=labels).tolist(), strict=True))
    weights = {label: round(weight, 6) for label, weight in weights.items()}
    log.info("train.class_weight %s: %s", mode, ", ".join(f"label {k} x {v:.4g}" for k, v in weights.items()))
    return weights
