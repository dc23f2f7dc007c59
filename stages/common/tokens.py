"""The token cache written by `tokenize`: per split input_ids.npy, lengths.npy, labels.npy, and meta.json."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stages.common.errors import PipelineError
from stages.common.files import read_json

TOKENS_DIR = Path("data/tokens")


def head_tail_sizes(max_length: int, num_special: int) -> tuple[int, int]:
    """Tokens kept from the start and the end: 128 + 382 at 512 (Sun et al. 2019), in proportion below."""
    budget = max_length - num_special
    head = min(budget, round(budget * 128 / 510))
    return head, budget - head


def truncate(ids: list[int], budget: int, mode: str, head_size: int) -> list[int]:
    if len(ids) <= budget:
        return ids
    if mode == "head":
        return ids[:budget]
    if mode == "tail":
        return ids[len(ids) - budget:]
    return ids[:head_size] + ids[len(ids) - (budget - head_size):]


def id_dtype(vocab_size: int) -> np.dtype:
    """The smallest unsigned dtype that holds every token id."""
    return np.dtype(np.uint16) if vocab_size <= np.iinfo(np.uint16).max + 1 else np.dtype(np.int32)


@dataclass(frozen=True)
class TokenizedSplit:
    input_ids: np.ndarray  # (rows, max_length), padded with meta["pad_token_id"]
    lengths: np.ndarray  # (rows,), tokens before padding, special tokens included
    labels: np.ndarray  # (rows,)


def load_split(name: str, tokens_dir: Path = TOKENS_DIR) -> TokenizedSplit:
    folder = tokens_dir / name
    if not folder.is_dir():
        raise PipelineError(f"{folder}: not found; run `dvc repro tokenize` first")
    arrays = {key: np.load(folder / f"{key}.npy", mmap_mode="r") for key in ("input_ids", "lengths", "labels")}
    return TokenizedSplit(**arrays)


def load_meta(tokens_dir: Path = TOKENS_DIR) -> dict:
    return read_json(tokens_dir / "meta.json")
