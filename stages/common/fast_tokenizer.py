"""A BERT checkpoint's tokenizer.json through the `tokenizers` library alone, for the tokenize stage.

Importing transformers and building its AutoTokenizer costs about 4 s per run on 2 CPU cores (7 s when
busy), as long as tokenizing 10,000 reviews; `tokenizers` loads the same Rust tokenizer in under a second.
The light tokenizer is used only where it gives what transformers' BertTokenizerFast gives: a local
directory whose tokenizer_config.json names a BERT tokenizer and whose normalizer agrees with it (transformers
rebuilds the normalizer otherwise). Anything else goes through load_tokenizer (transformers).
tests/test_fast_tokenizer.py checks identical ids and an identical token cache.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

BERT_CLASSES = ("BertTokenizer", "BertTokenizerFast")
BERT_INPUT_NAMES = ["input_ids", "token_type_ids", "attention_mask"]  # BertTokenizerFast's model_input_names


class LightBertTokenizer:
    """The parts of BertTokenizerFast that `tokenize` uses, with the same results."""

    def __init__(self, backend: Any, config: dict, special: dict[str, int]) -> None:
        self.backend = backend
        self.backend.no_truncation()  # tokenizer.json may carry a truncation and padding; transformers drops them
        self.backend.no_padding()
        self.cls_token_id, self.sep_token_id, self.pad_token_id = special["cls"], special["sep"], special["pad"]
        self.model_input_names = list(config.get("model_input_names") or BERT_INPUT_NAMES)
        self.name = "BertTokenizerFast"

    def __len__(self) -> int:
        return self.backend.get_vocab_size(with_added_tokens=True)

    def __call__(self, texts: list[str], add_special_tokens: bool = True, **_: Any) -> dict[str, list[list[int]]]:
        encodings = self.backend.encode_batch(texts, add_special_tokens=add_special_tokens)
        return {"input_ids": [encoding.ids for encoding in encodings]}

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
    return LightBertTokenizer(backend, config, special)


def load_tokenize_tokenizer(checkpoint: str) -> Any:
    """The tokenizer for the tokenize stage: the light one where it is exact, else transformers'."""
    light = load_light_tokenizer(checkpoint)
    if light is not None:
        return light
    from stages.common.checkpoint import load_tokenizer

    return load_tokenizer(checkpoint)
