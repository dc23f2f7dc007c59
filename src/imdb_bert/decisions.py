"""How predictions are decided after the model: written by `evaluate` to models/decision.json, applied by
`predict` and `export`.

It holds the temperature fitted on validation (1 = none), the decision threshold on the second label's
probability chosen on validation (binary only; null = arg-max), and how reviews longer than max_length are scored;
each with the reason `evaluate` gave for it (a fitted value is applied only when the validation split supports
it: docs/evaluation.md). Files written before the reasons existed read with empty reasons.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from imdb_bert.errors import PipelineError
from imdb_bert.files import read_json, write_json

DECISION_FILE = Path("models/decision.json")


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
        from imdb_bert.evaluation.metrics import apply_temperature

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
