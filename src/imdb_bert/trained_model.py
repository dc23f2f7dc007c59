"""A trained model directory (what `train` writes to models/model), loaded once for whoever scores with it:
`evaluate`, `export`, `imdb-predict` and `imdb-serve`.

It holds the tokenization settings training used (tokenization.json), the tokenizer, the labels, the fine-tuned
classifier, and optionally the decision `evaluate` chose (models/decision.json). A directory that is not a
trained model gets one error, naming it and what to run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imdb_bert.decisions import Decision, read_decision
from imdb_bert.errors import PipelineError
from imdb_bert.files import read_json
from imdb_bert.models import Classifier, load_trained, trained_labels
from imdb_bert.tokenizer import load_tokenizer
from imdb_bert.tokens import TOKENIZATION_FILE


def not_trained(model_dir: Path) -> str:
    """The one message for a directory that is not a trained model."""
    missing = "it does not exist" if not model_dir.exists() else f"no {TOKENIZATION_FILE}"
    return (f"{model_dir}: not a trained model directory ({missing}); run `dvc repro train` first, or pass one "
            f"with --model")


@dataclass
class TrainedModel:
    directory: Path
    settings: dict  # tokenization.json: max_length, truncation, strip_html, model_input_names
    tokenizer: Any
    labels: list[str]
    classifier: Classifier
    decision: Decision  # arg-max, truncation and no temperature when no decision file was given

    @classmethod
    def load(cls, model_dir: str | Path, decision_file: str | Path | None = None,
             labels: list[str] | None = None) -> TrainedModel:
        """Load `model_dir`, checked against `labels` when given (the data's), with the decision file when given."""
        model_dir = Path(model_dir)
        if not (model_dir / TOKENIZATION_FILE).is_file():
            raise PipelineError(not_trained(model_dir))
        settings = read_json(model_dir / TOKENIZATION_FILE)
        labels = labels if labels is not None else trained_labels(model_dir)
        classifier = load_trained(model_dir, labels)
        decision = read_decision(decision_file, labels) if decision_file is not None else Decision(labels=labels)
        return cls(model_dir, settings, load_tokenizer(str(model_dir)), labels, classifier, decision)

    @property
    def max_length(self) -> int:
        return int(self.settings["max_length"])

    def version(self) -> str:
        """A content hash of the directory's files (names and bytes) and of the decision: the same model and
        decision give the same version wherever they are copied."""
        digest = hashlib.sha256()
        for path in sorted(p for p in self.directory.rglob("*") if p.is_file()):
            digest.update(path.relative_to(self.directory).as_posix().encode() + b"\0")
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        digest.update(repr(sorted(vars(self.decision).items())).encode())
        return digest.hexdigest()[:16]
