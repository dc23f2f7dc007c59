"""The token cache written by `tokenize`: per split input_ids.npy, lengths.npy, labels.npy, and meta.json; for
the train split also every review's untruncated ids (content_ids.npy, content_offsets.npy), which training on
windows (`train.long_reviews: windows`) cuts the same windows from as `evaluate` scores."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from imdb_bert.errors import PipelineError
from imdb_bert.files import missing_input, read_json

if TYPE_CHECKING:
    from imdb_bert.params import EvaluateParams

TOKENS_DIR = Path("data/tokens")
TOKENIZATION_FILE = "tokenization.json"  # in a trained model directory: how `predict` must tokenize
CONTENT_SPLITS = ("train",)  # the splits whose untruncated ids are kept: training on windows reads them


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


def num_special_tokens(tokenizer) -> int:
    """Special tokens added to one sequence ([CLS] and [SEP] for BERT), counted from what is built."""
    return len(tokenizer.build_inputs_with_special_tokens([]))


def special_tokens_around(tokenizer) -> tuple[list[int], list[int]]:
    """The special tokens a sequence gets before and after its text ([CLS] and [SEP] for BERT)."""
    marker = -1  # no real id: found again in what the tokenizer builds around it
    built = tokenizer.build_inputs_with_special_tokens([marker])
    at = built.index(marker)
    return built[:at], built[at + 1:]


def window_starts(length: int, budget: int, stride: int) -> list[int]:
    """Start offsets of windows of `budget` tokens over `length` tokens: every `stride`, the last one flush
    with the end. One window at 0 when the text fits."""
    if length <= budget:
        return [0]
    return list(range(0, length - budget, stride)) + [length - budget]


def stride_tokens(settings: EvaluateParams, budget: int) -> int:
    """`evaluate.window_stride`, a share of the window, in tokens (the window holds `budget` text tokens). The one
    stride of both `evaluate` (scoring) and `train` (`train.long_reviews: windows`), so they cut the same windows."""
    if not 0 < settings.window_stride <= 1:
        raise PipelineError(f"params.yaml: evaluate.window_stride is {settings.window_stride}; expected a share of "
                            f"the window above 0 and at most 1, e.g. 0.5 for half-overlapping windows")
    return max(1, round(budget * settings.window_stride))


def content_ids(tokenizer, texts: list[str]) -> list[list[int]]:
    """Each text's token ids without special tokens and without truncation."""
    if not texts:  # an empty split (validation_size 0); fast tokenizers fail on an empty batch
        return []
    return tokenizer(texts, add_special_tokens=False, return_attention_mask=False, return_token_type_ids=False,
                     verbose=False)["input_ids"]


def full_lengths(tokenizer, ids: list[list[int]]) -> np.ndarray:
    """Each review's token count before truncation, special tokens included."""
    return np.array([len(review) for review in ids], dtype=np.int64) + num_special_tokens(tokenizer)


def with_special_tokens(tokenizer, ids: list[list[int]], max_length: int, truncation: str) -> list[list[int]]:
    """Content ids truncated to fit max_length with the special tokens, which are added."""
    num_special = num_special_tokens(tokenizer)
    budget = max_length - num_special
    if budget < 2:
        raise PipelineError(f"tokenize.max_length {max_length} leaves no room for text")
    head_size, _ = head_tail_sizes(max_length, num_special)
    return [tokenizer.build_inputs_with_special_tokens(truncate(review, budget, truncation, head_size))
            for review in ids]


def encode(tokenizer, texts: list[str], max_length: int, truncation: str) -> tuple[list[list[int]], list[int]]:
    """Token ids with special tokens, truncated to max_length; and each text's untruncated length."""
    ids = content_ids(tokenizer, texts)
    return with_special_tokens(tokenizer, ids, max_length, truncation), full_lengths(tokenizer, ids).tolist()


def pad(sequences: list[list[int]], max_length: int, pad_id: int, dtype: np.dtype) -> TokenizedSplit:
    """An in-memory TokenizedSplit (labels -1) for sequences already truncated to max_length."""
    ids = np.full((len(sequences), max_length), pad_id, dtype=dtype)
    for row, sequence in enumerate(sequences):
        ids[row, :len(sequence)] = sequence
    return TokenizedSplit(ids, np.array([len(s) for s in sequences], dtype=np.int32),
                          np.full(len(sequences), -1, dtype=np.int8))


@dataclass(frozen=True)
class TokenizedSplit:
    input_ids: np.ndarray  # (rows, max_length), padded with meta["pad_token_id"]
    lengths: np.ndarray  # (rows,), tokens before padding, special tokens included
    labels: np.ndarray  # (rows,)


def load_split(name: str, tokens_dir: Path = TOKENS_DIR) -> TokenizedSplit:
    folder = tokens_dir / name
    if not folder.is_dir():
        raise missing_input(folder, "tokenize")
    arrays = {key: np.load(folder / f"{key}.npy", mmap_mode="r") for key in ("input_ids", "lengths", "labels")}
    return TokenizedSplit(**arrays)


@dataclass(frozen=True)
class ContentIds:
    """Every review's token ids without special tokens or truncation: review i is ids[offsets[i]:offsets[i + 1]]."""

    ids: np.ndarray  # (total tokens,), in the cache's id dtype
    offsets: np.ndarray  # (reviews + 1,) int64

    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


def load_content(name: str, tokens_dir: Path = TOKENS_DIR) -> ContentIds:
    folder = tokens_dir / name
    if not (folder / "content_ids.npy").is_file():
        raise PipelineError(f"{folder}/content_ids.npy: not found (the cache keeps untruncated ids for "
                            f"{', '.join(CONTENT_SPLITS)} only); run `dvc repro tokenize`")
    return ContentIds(np.load(folder / "content_ids.npy", mmap_mode="r"), np.load(folder / "content_offsets.npy"))


def load_meta(tokens_dir: Path = TOKENS_DIR) -> dict:
    if not (tokens_dir / "meta.json").is_file():
        raise missing_input(tokens_dir / "meta.json", "tokenize")
    return read_json(tokens_dir / "meta.json")
