"""Loading tokenizers and TF classifiers from a hub id or a local directory, with clear errors.

Only TensorFlow .h5 weights are loaded (no pickle, no remote code).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stages.common.errors import PipelineError

TF_WEIGHTS = "tf_model.h5"


def load_tokenizer(checkpoint: str) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(checkpoint, use_fast=True)
    except (OSError, ValueError) as error:
        raise PipelineError(_cannot_load(checkpoint, "tokenizer", error)) from None
    if not tokenizer.is_fast:
        raise PipelineError(f"model.checkpoint {checkpoint}: has no fast tokenizer (tokenizer.json); "
                            f"save one with AutoTokenizer.from_pretrained(...).save_pretrained(...)")
    return tokenizer


def load_classifier(checkpoint: str, labels: list[str], init: str = "pretrained") -> Any:
    """A TF sequence classifier whose config maps ids to `labels`; `init="random"` uses the config alone."""
    from transformers import AutoConfig, TFAutoModelForSequenceClassification

    label_config = {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
                    "label2id": {label: index for index, label in enumerate(labels)}}
    try:
        if init == "random":
            config = AutoConfig.from_pretrained(checkpoint, **label_config)
            return TFAutoModelForSequenceClassification.from_config(config)
        _require_tf_weights(checkpoint)
        return TFAutoModelForSequenceClassification.from_pretrained(checkpoint, use_safetensors=False, **label_config)
    except (OSError, ValueError) as error:
        raise PipelineError(_cannot_load(checkpoint, "model", error)) from None


def load_trained(model_dir: str | Path, labels: list[str]) -> Any:
    """The fine-tuned model saved by `train`, checked against the data's labels."""
    from transformers import TFAutoModelForSequenceClassification

    _require_tf_weights(str(model_dir), hint="run `dvc repro train` first")
    model = TFAutoModelForSequenceClassification.from_pretrained(model_dir, use_safetensors=False)
    model_labels = [model.config.id2label[index] for index in range(model.config.num_labels)]
    if model_labels != labels:
        raise PipelineError(f"{model_dir}: the model's labels {model_labels} differ from the data's {labels} "
                            f"(data/split/labels.json); retrain with `dvc repro train`")
    return model


def trained_labels(model_dir: str | Path) -> list[str]:
    """The labels in a trained model directory's config, in id order."""
    id2label = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))["id2label"]
    return [id2label[str(index)] for index in range(len(id2label))]


def _require_tf_weights(checkpoint: str, hint: str = "") -> None:
    folder = Path(checkpoint)
    if not folder.exists() and hint:
        raise PipelineError(f"{folder}: not found; {hint}")
    if folder.is_dir() and not (folder / TF_WEIGHTS).is_file():
        others = sorted(path.name for path in folder.glob("*") if path.suffix in (".safetensors", ".bin"))
        found = f"it has only PyTorch weights ({', '.join(others)}), which TF cannot load" if others else "no weights"
        raise PipelineError(f"{folder}: no TensorFlow weights ({TF_WEIGHTS}), {found}; convert them with "
                            f"TFAutoModel.from_pretrained(dir, from_pt=True).save_pretrained(dir), "
                            f"or set model.init: random to train from the config alone")


def _cannot_load(checkpoint: str, what: str, error: Exception) -> str:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if Path(checkpoint).is_dir():
        return f"model.checkpoint {checkpoint}: cannot load its {what} ({reason})"
    return (f"model.checkpoint '{checkpoint}' is not a local directory and could not be fetched from the "
            f"Hugging Face Hub ({reason}); where there is internet, save it to a local checkpoint directory "
            f"(huggingface-cli download {checkpoint} --local-dir DIR, or from_pretrained then save_pretrained(DIR)), "
            f"then set model.checkpoint to a local directory: DIR")
