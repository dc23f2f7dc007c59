"""A BERT checkpoint's tokenizer.json through the `tokenizers` library alone, for the tokenize stage.

Importing transformers and building its AutoTokenizer costs about 4 s per run on 2 CPU cores (7 s when
busy), as long as tokenizing 10,000 reviews; `tokenizers` loads the same Rust tokenizer in under a second.
The light tokenizer is used only where it gives what transformers' BertTokenizerFast gives: a local
directory whose tokenizer_config.json names a BERT tokenizer and whose normalizer agrees with it (transformers
rebuilds the normalizer otherwise). Anything else goes through load_tokenizer (transformers).
tests/test_fast_tokenizer.py checks identical ids and an identical token cache.

About a third of the Rust tokenizer's time goes to BertNormalizer. For a plain ASCII text its work is a
character table and `str.lower`, which Python does at C speed, so such texts (90% of IMDB reviews) are
normalized here and encoded by a copy of the tokenizer without its normalizer: 20% less time in `tokenize`.
Texts with any other character, or with a special token's text in them, take the full tokenizer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from imdb_bert.errors import PipelineError

BERT_CLASSES = ("BertTokenizer", "BertTokenizerFast")
BERT_INPUT_NAMES = ["input_ids", "token_type_ids", "attention_mask"]  # BertTokenizerFast's model_input_names
# BertNormalizer's clean_text on ASCII: drop control characters, turn tab and line breaks into spaces
ASCII_CLEAN = {code: None for code in (*range(32), 127)} | dict.fromkeys(map(ord, "\t\n\r"), ord(" "))


class LightBertTokenizer:
    """The parts of BertTokenizerFast that `tokenize` uses, with the same results."""

    def __init__(self, backend: Any, config: dict, special: dict[str, int], normalizer: dict) -> None:
        self.backend = backend
        self.backend.no_truncation()  # tokenizer.json may carry a truncation and padding; transformers drops them
        self.backend.no_padding()
        self.cls_token_id, self.sep_token_id, self.pad_token_id = special["cls"], special["sep"], special["pad"]
        self.model_input_names = list(config.get("model_input_names") or BERT_INPUT_NAMES)
        self.name = "BertTokenizerFast"
        self.prenormalized = type(backend).from_str(backend.to_str())  # the same tokenizer, minus its normalizer
        self.prenormalized.normalizer = None
        self.clean_text, self.lowercase = normalizer.get("clean_text", True), normalizer["lowercase"]
        self.added_texts = [token.content.lower() for token in backend.get_added_tokens_decoder().values()]

    def normalize_ascii(self, text: str) -> str | None:
        """BertNormalizer's output for a plain ASCII text without special tokens; None for any other text.

        On ASCII, strip_accents and handle_chinese_chars change nothing. A special token's text, in any case,
        before or after cleaning, sends the text to the full tokenizer, which matches special tokens first.
        """
        if not text.isascii():
            return None
        lowered = text.lower()
        cleaned = lowered.translate(ASCII_CLEAN) if self.clean_text else lowered
        if any(added in lowered or added in cleaned for added in self.added_texts):
            return None
        if self.lowercase:
            return cleaned
        return text.translate(ASCII_CLEAN) if self.clean_text else text

    def __len__(self) -> int:
        return self.backend.get_vocab_size(with_added_tokens=True)

    def __call__(self, texts: list[str], add_special_tokens: bool = True, **_: Any) -> dict[str, list[list[int]]]:
        normalized = [self.normalize_ascii(text) for text in texts]
        quick = [row for row, text in enumerate(normalized) if text is not None]
        full = [row for row, text in enumerate(normalized) if text is None]
        ids: list[list[int]] = [[] for _ in texts]
        for backend, rows, batch in ((self.prenormalized, quick, [normalized[row] for row in quick]),
                                     (self.backend, full, [texts[row] for row in full])):
            if rows:
                encodings = backend.encode_batch(batch, add_special_tokens=add_special_tokens)
                for row, encoding in zip(rows, encodings, strict=True):
                    ids[row] = encoding.ids
        return {"input_ids": ids}

    def build_inputs_with_special_tokens(self, ids: list[int]) -> list[int]:
        return [self.cls_token_id, *ids, self.sep_token_id]


def tokenizer_name(tokenizer: Any) -> str:
    """The class name that meta.json records: transformers' for both."""
    return getattr(tokenizer, "name", type(tokenizer).__name__)


def load_light_tokenizer(checkpoint: str) -> LightBertTokenizer | None:
    """The light tokenizer for a local BERT checkpoint directory, or None where only transformers will do."""
    folder = Path(checkpoint)
    if not ((folder / "tokenizer.json").is_file() and (folder / "tokenizer_config.json").is_file()):
        return None
    config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    if config.get("tokenizer_class") not in BERT_CLASSES:
        return None
    from tokenizers import Tokenizer

    backend = Tokenizer.from_file(str(folder / "tokenizer.json"))
    normalizer = json.loads(backend.normalizer.__getstate__()) if backend.normalizer else {}
    expected = {"lowercase": config.get("do_lower_case", True), "strip_accents": config.get("strip_accents"),
                "handle_chinese_chars": config.get("tokenize_chinese_chars", True)}
    if normalizer.get("type") != "BertNormalizer" or any(normalizer.get(k) != v for k, v in expected.items()):
        return None
    special = {}
    for role, default in (("cls", "[CLS]"), ("sep", "[SEP]"), ("pad", "[PAD]")):
        token = config.get(f"{role}_token", default)
        token_id = backend.token_to_id(token["content"] if isinstance(token, dict) else token)
        if token_id is None:
            return None
        special[role] = token_id
    return LightBertTokenizer(backend, config, special, normalizer)


def load_tokenize_tokenizer(checkpoint: str) -> Any:
    """The tokenizer for the tokenize stage: the light one where it is exact, else transformers'."""
    light = load_light_tokenizer(checkpoint)
    if light is not None:
        return light
    return load_tokenizer(checkpoint)


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


def cannot_load(checkpoint: str, what: str, error: Exception) -> str:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if Path(checkpoint).is_dir():
        return f"model.checkpoint {checkpoint}: cannot load its {what} ({reason})"
    return (f"model.checkpoint '{checkpoint}' is not a local directory and could not be fetched from the "
            f"Hugging Face Hub ({reason}); where there is internet, save it to a local checkpoint directory "
            f"(huggingface-cli download {checkpoint} --local-dir DIR, or from_pretrained then save_pretrained(DIR)), "
            f"then set model.checkpoint to a local directory: DIR")
