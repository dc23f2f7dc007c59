"""Tokenizers and checkpoint directories: loading from a hub id or a local directory, with clear errors.

Weights are loaded by the model libraries (stages/common/libraries/): TensorFlow .h5 or safetensors only,
never pickled PyTorch weights, never remote code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stages.common.errors import PipelineError

TF_WEIGHTS = "tf_model.h5"
SAFETENSORS = ("model.safetensors", "model.safetensors.index.json")


def load_tokenizer(checkpoint: str) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(checkpoint, use_fast=True)
    except (OSError, ValueError) as error:
        raise PipelineError(cannot_load(checkpoint, "tokenizer", error)) from None
    if not tokenizer.is_fast:
        raise PipelineError(f"model.checkpoint {checkpoint}: has no fast tokenizer (tokenizer.json); "
                            f"save one with AutoTokenizer.from_pretrained(...).save_pretrained(...)")
    return tokenizer


def weights_in(folder: Path) -> str | None:
    """Which weights a local checkpoint directory has, in order of preference:
    `tf_model.h5`, `safetensors` (single or sharded), `pytorch_model.bin` (refused: pickle), or None."""
    if (folder / TF_WEIGHTS).is_file():
        return TF_WEIGHTS
    if any((folder / name).is_file() for name in SAFETENSORS):
        return "safetensors"
    if any(folder.glob("pytorch_model*.bin")):
        return "pytorch_model.bin"
    return None


def refuse_weights(folder: Path, found: str | None, wanted: str) -> PipelineError:
    """The error for a checkpoint directory without weights this library can load."""
    if found == "pytorch_model.bin":
        return PipelineError(f"model.checkpoint {folder}: has only pytorch_model.bin, a pickle, which can run code "
                             f"when loaded, so it is not loaded; get model.safetensors instead (most Hub models "
                             f"ship it: huggingface-cli download ID --include '*.safetensors' '*.json' '*.txt' "
                             f"--local-dir DIR), or set model.init: random to train from the config alone")
    return PipelineError(f"model.checkpoint {folder}: no weights ({wanted}); download them (huggingface-cli "
                         f"download ID --local-dir DIR), or set model.init: random to train from the config alone")


def cannot_read_safetensors(folder: Path, error: Exception) -> PipelineError:
    return PipelineError(f"model.checkpoint {folder}: cannot read its safetensors weights ({error}); the file is "
                         f"truncated or not safetensors: download it again")


def cannot_load(checkpoint: str, what: str, error: Exception) -> str:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if Path(checkpoint).is_dir():
        return f"model.checkpoint {checkpoint}: cannot load its {what} ({reason})"
    return (f"model.checkpoint '{checkpoint}' is not a local directory and could not be fetched from the "
            f"Hugging Face Hub ({reason}); where there is internet, save it to a local checkpoint directory "
            f"(huggingface-cli download {checkpoint} --local-dir DIR, or from_pretrained then save_pretrained(DIR)), "
            f"then set model.checkpoint to a local directory: DIR")
