"""The model layer: one interface, one module per library (param `model.library`).

- `transformers`: the reference recipe's `TFAutoModelForSequenceClassification` (tf-keras, frozen in transformers 4.x).
- `keras_hub`: KerasHub's BERT-family text classifiers (Keras 3, on the TensorFlow, JAX or PyTorch backend).

The stages only talk to `ModelLibrary` and `Classifier`; no stage asks which library it has.
A trained model directory records its library and labels in `model.json`.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from imdb_bert.batches import BatchSource
from imdb_bert.errors import PipelineError
from imdb_bert.files import read_json, write_json

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
    def load(self, model_dir: Path) -> Any:
        """The model saved by `save`."""

    @abstractmethod
    def logits(self, model: Any, features: dict) -> Any:
        """Logits for one batch of features (input_ids, attention_mask, token_type_ids), in inference mode;
        callable inside a tf.function for export."""

    @abstractmethod
    def predict_logits(self, model: Any, source: BatchSource, verbose: int = 0) -> np.ndarray:
        """Logits for every batch of `source`, in its batch order."""


def get_library(name: str) -> ModelLibrary:
    if name not in LIBRARIES:
        raise PipelineError(f"model.library is {name!r}; expected one of {', '.join(LIBRARIES)}")
    return importlib.import_module(LIBRARIES[name]).LIBRARY


@dataclass
class Classifier:
    """A trained model with the library that made it."""

    library: ModelLibrary
    model: Any
    labels: list[str]

    def logits(self, features: dict) -> Any:
        return self.library.logits(self.model, features)

    def predict_logits(self, source: BatchSource, verbose: int = 0) -> np.ndarray:
        return self.library.predict_logits(self.model, source, verbose)


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
        raise PipelineError(f"{model_dir}: not found; run `dvc repro train` first")
    if not ((model_dir / MODEL_FILE).is_file() or (model_dir / "config.json").is_file()):
        raise PipelineError(f"{model_dir}: not a trained model directory (no {MODEL_FILE}); "
                            f"run `dvc repro train` first")
    info = trained_info(model_dir)
    if info["labels"] != labels:
        raise PipelineError(f"{model_dir}: the model's labels {info['labels']} differ from the data's {labels} "
                            f"(data/split/labels.json); retrain with `dvc repro train`")
    library = get_library(info["library"])
    return Classifier(library, library.load(model_dir), labels)
