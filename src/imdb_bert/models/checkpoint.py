"""Checkpoint directories' weights: which a directory has, and the errors when a library cannot load them.

Weights are loaded by the model libraries (src/imdb_bert/models/): TensorFlow .h5 or safetensors only,
never pickled PyTorch weights, never remote code.
"""

from __future__ import annotations

from pathlib import Path

from imdb_bert.errors import PipelineError

TF_WEIGHTS = "tf_model.h5"
SAFETENSORS = ("model.safetensors", "model.safetensors.index.json")


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
