"""The model layer: one interface, one module per library (param `model.library`).

- `transformers`: the reference recipe's `TFAutoModelForSequenceClassification` (tf-keras, frozen in transformers 4.x).
- `keras_hub`: KerasHub's BERT-family text classifiers (Keras 3, on the TensorFlow, JAX or PyTorch backend).

The stages only talk to `ModelLibrary` and `Classifier`; no stage asks which library it has.
A trained model directory records its library and labels in `model.json`.
"""

from __future__ import annotations

import copy
import importlib
import logging
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from imdb_bert.batches import BatchSource
from imdb_bert.errors import PipelineError
from imdb_bert.files import missing_input, read_json, write_json

log = logging.getLogger("models")
LIBRARIES = {"transformers": "imdb_bert.models.transformers_tf",
             "keras_hub": "imdb_bert.models.kerashub"}
MODEL_FILE = "model.json"  # in a trained model directory: {"library": ..., "labels": [...]}


@dataclass(frozen=True)
class Runtime:
    """Where training runs, as the library set it up."""

    backend: str  # tensorflow, jax or torch
    devices: list[str]  # accelerator names, empty on CPU
    accelerated: bool
    precision: str  # the Keras dtype policy
    jit_compile: bool
    precision_reason: str = ""  # why that policy (src/imdb_bert/models/precision.py)


class ModelLibrary(ABC):
    """Build, train, save and load a sequence classifier with one library."""

    name: str

    @abstractmethod
    def backend(self) -> str:
        """The framework the models run on: tensorflow, jax or torch."""

    @abstractmethod
    def configure(self, settings: Any) -> Runtime:
        """Seeds, determinism, precision policy and XLA from `train.*`; call before anything is built."""

    @abstractmethod
    def distribution(self, strategy: str, tpu_address: str | None) -> tuple[AbstractContextManager, int, bool]:
        """The scope to build and compile in, the number of replicas, and whether the workers are several."""

    @abstractmethod
    def build(self, checkpoint: str, labels: list[str], init: str) -> Any:
        """A classifier for `labels` from a hub id or local directory: pretrained weights and a fresh head,
        or everything random from the config alone (`init="random"`)."""

    @abstractmethod
    def compile(self, model: Any, settings: Any, total_steps: int, jit_compile: bool) -> None:
        """The tutorial's Adam, or AdamW with linear warm-up and decay; sparse cross-entropy on logits; accuracy."""

    @abstractmethod
    def lr_multipliers(self, model: Any, decay: float) -> dict[str, float]:
        """Each trainable variable's learning-rate multiplier under layer-wise decay `decay` (`layer_rate`), keyed
        by the name the library's optimizer sees; `compile` applies them to the update when `decay` is not 1."""

    @abstractmethod
    def fit_data(self, model: Any, source: BatchSource) -> Any:
        """What this library's `fit` takes for a batch source (labels included)."""

    @abstractmethod
    def fit(self, model: Any, data: Any, **options: Any) -> Any:
        """Keras `fit` on what `fit_data` made."""

    @abstractmethod
    def callback_base(self) -> type:
        """The Keras Callback class this library's `fit` accepts."""

    @abstractmethod
    def early_stopping(self, patience: int, restore_best_weights: bool) -> Any:
        """EarlyStopping on val_loss."""

    @abstractmethod
    def live_callback(self, live: Any) -> Any:
        """Logs each epoch's metrics to a dvclive `Live` (train/ and eval/ as dvclive's Keras callback names them)."""

    @abstractmethod
    def create_optimizer_variables(self, model: Any) -> None:
        """Build the model and its optimizer's slots, so a saved training state can be assigned to them."""

    @abstractmethod
    def optimizer_variables(self, model: Any) -> list:
        """The optimizer's variables, in a stable order."""

    @abstractmethod
    def random_states(self, model: Any) -> list:
        """The variables holding the dropout layers' random generator states."""

    @abstractmethod
    def save(self, model: Any, out: Path) -> None:
        """Write the weights and architecture into the directory `out` (which exists)."""

    @abstractmethod
    def load(self, model_dir: Path, policy: str = "float32") -> Any:
        """The model saved by `save`, computing in the Keras dtype `policy` (float32, or mixed_bfloat16 to score)."""

    @abstractmethod
    def accelerators_bf16(self) -> list[bool]:
        """For each GPU or TPU scoring would run on, whether it computes bfloat16 natively; empty on a CPU."""

    @abstractmethod
    def logits(self, model: Any, features: dict) -> Any:
        """Logits for one batch of features (input_ids, attention_mask, token_type_ids), in inference mode;
        callable inside a tf.function for export."""

    @abstractmethod
    def predict_logits(self, model: Any, source: BatchSource, verbose: int = 0) -> np.ndarray:
        """Logits for every batch of `source`, in its batch order."""


def layer_rate(layer: int | None, layers: int, decay: float) -> float:
    """Layer-wise learning-rate decay (Sun et al. 2019): encoder layer `layer` (0 = lowest) of `layers` learns at
    decay^(layers - layer) of the rate, the embeddings (`layer` -1) at decay^(layers + 1), the pooler and the
    classification head (`layer` None) at the full rate."""
    if layer is None:
        return 1.0
    return decay ** (layers + 1 if layer < 0 else layers - layer)


def layer_multipliers(names: list[str], layer_of: Any, decay: float) -> dict[str, float]:
    """`layer_rate` for each variable name; `layer_of(name)` gives its encoder layer, -1 for the embeddings, or None."""
    layers_of = {name: layer_of(name) for name in names}
    layers = 1 + max((layer for layer in layers_of.values() if layer is not None), default=-1)
    return {name: layer_rate(layer, layers, decay) for name, layer in layers_of.items()}


def get_library(name: str) -> ModelLibrary:
    if name not in LIBRARIES:
        raise PipelineError(f"model.library is {name!r}; expected one of {', '.join(LIBRARIES)}")
    return importlib.import_module(LIBRARIES[name]).LIBRARY


@dataclass
class Classifier:
    """A trained model with the library that made it.

    `score_in_bf16` asks for bfloat16 scoring; the first `predict_logits` then scores a spread of its rows in both
    precisions and keeps bfloat16 only where the logits agree (src/imdb_bert/models/precision.py); `scoring` says
    what was chosen and why.
    """

    library: ModelLibrary
    model: Any
    labels: list[str]
    model_dir: Path | None = None
    scoring: dict = field(default_factory=lambda: {"precision": "float32", "reason": "bf16 scoring is off"})
    _candidate: Any = None  # the model loaded in mixed_bfloat16, until the check decides

    def logits(self, features: dict) -> Any:
        return self.library.logits(self.model, features)

    def score_in_bf16(self, wanted: bool) -> None:
        """Score in mixed_bfloat16 where the hardware computes it natively and, on the first rows scored, its
        logits agree with float32's; else in float32. The choice and its reason are logged and kept in `scoring`."""
        from imdb_bert.models.precision import choose_scoring_precision

        chosen = choose_scoring_precision(wanted, self.library.accelerators_bf16())
        self.scoring = {"precision": "float32", "reason": chosen.reason}
        self._candidate = None
        if chosen.policy != "float32":
            self._candidate = self.library.load(Path(self.model_dir), chosen.policy)
            self.scoring["pending"] = chosen.reason
        else:
            log.info("scoring in float32: %s", chosen.reason)

    def predict_logits(self, source: BatchSource, verbose: int = 0) -> np.ndarray:
        if self._candidate is not None:
            self._check_bf16(source)
        return np.asarray(self.library.predict_logits(self.model, source, verbose), dtype=np.float32)

    def _check_bf16(self, source: BatchSource) -> None:
        """Score `source`'s check rows both ways and keep the bfloat16 model only where its logits agree."""
        from imdb_bert.models.precision import check_bf16_logits

        sample = check_sample(source)
        reference, candidate = (np.asarray(self.library.predict_logits(model, sample), dtype=np.float32)
                                for model in (self.model, self._candidate))
        agrees, figures = check_bf16_logits(reference, candidate)
        native = self.scoring.pop("pending")
        summary = (f"on {figures['rows']} sequences, largest logit difference {figures['max_logit_difference']:.4g} "
                   f"against float32 (tolerance {figures['tolerance']:g}), arg-max agreement "
                   f"{figures['argmax_agreement']:.4f}")
        if agrees:
            self.model = self._candidate
            self.scoring = {"precision": "mixed_bfloat16", "reason": f"{native}; {summary}", **figures}
        else:
            self.scoring = {"precision": "float32", "reason": f"bfloat16 declined: {summary}", **figures}
        self._candidate = None
        log.info("scoring in %s: %s", self.scoring["precision"], self.scoring["reason"])


def check_sample(source: BatchSource) -> BatchSource:
    """A copy of `source` over at most BF16_CHECK_ROWS of its rows, evenly spread from shortest to longest."""
    from imdb_bert.models.precision import BF16_CHECK_ROWS
    from imdb_bert.tokens import TokenizedSplit

    lengths = np.asarray(source.split.lengths)
    order = np.argsort(lengths, kind="stable")
    rows = np.unique(order[np.linspace(0, len(order) - 1, min(BF16_CHECK_ROWS, len(order))).round().astype(int)])
    split = source.split
    sample = copy.copy(source)
    sample.split = TokenizedSplit(np.asarray(split.input_ids[rows]), lengths[rows], np.asarray(split.labels[rows]))
    return sample


def save_trained(library: ModelLibrary, model: Any, out: Path, labels: list[str]) -> None:
    library.save(model, out)
    write_json(out / MODEL_FILE, {"library": library.name, "labels": labels})


def trained_info(model_dir: str | Path) -> dict:
    """{"library", "labels"} of a trained model directory; directories saved before model.json are transformers'."""
    model_dir = Path(model_dir)
    if (model_dir / MODEL_FILE).is_file():
        return read_json(model_dir / MODEL_FILE)
    id2label = read_json(model_dir / "config.json")["id2label"]
    return {"library": "transformers", "labels": [id2label[str(index)] for index in range(len(id2label))]}


def trained_labels(model_dir: str | Path) -> list[str]:
    """The labels of a trained model directory, in id order."""
    return trained_info(model_dir)["labels"]


def load_trained(model_dir: str | Path, labels: list[str]) -> Classifier:
    """The fine-tuned model saved by `train`, checked against the data's labels."""
    model_dir = Path(model_dir)
    if not model_dir.exists():
        raise missing_input(model_dir, "train")
    if not ((model_dir / MODEL_FILE).is_file() or (model_dir / "config.json").is_file()):
        raise missing_input(model_dir, "train", f"not a trained model directory (no {MODEL_FILE})")
    info = trained_info(model_dir)
    if info["labels"] != labels:
        raise PipelineError(f"{model_dir}: the model's labels {info['labels']} differ from the data's {labels} "
                            f"(data/split/labels.json); retrain with `dvc repro train`")
    library = get_library(info["library"])
    return Classifier(library, library.load(model_dir), labels, model_dir)
