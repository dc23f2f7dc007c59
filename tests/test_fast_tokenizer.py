"""The tokenize stage's light tokenizer (`tokenizers` alone) gives what transformers' BertTokenizerFast gives."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
from conftest import ROOT, SHARED_CSV, SHARED_MINILM, copy_project, demo_params, requires_shared, stage

from imdb_bert.tokenizer import load_light_tokenizer, load_tokenize_tokenizer, load_tokenizer, tokenizer_name
from imdb_bert.tokens import encode, num_special_tokens


def assert_same(checkpoint, texts: list[str]) -> None:
    light, full = load_light_tokenizer(str(checkpoint)), load_tokenizer(str(checkpoint))
    assert light is not None
    assert (len(light), light.pad_token_id, light.model_input_names, num_special_tokens(light)) == (
        len(full), full.pad_token_id, full.model_input_names, num_special_tokens(full))
    assert tokenizer_name(light) == type(full).__name__
    for truncation in ("head", "tail", "head_tail"):
        assert encode(light, texts, 64, truncation) == encode(full, texts, 64, truncation), truncation


def test_same_ids_as_transformers_on_the_demo_and_test_checkpoints(tiny_checkpoint):
    texts = pd.read_csv(ROOT / "data/sample/imdb_sample.csv")["review"].tolist()
    assert_same(ROOT / "demo/tiny-bert", texts)
    assert_same(tiny_checkpoint, texts)


TRICKY_TEXTS = [
    "Hello\x00World\tA\x0bB\x1fC\x7fD", "[CLS] a [SEP] b [sep] [Mask] [UNK]", "[SE\x00P] joined by a control",
    "line\r\nbreaks\n\nand\ttabs", "ÉCOLE café naïve", "中文 film", "emoji 🎬 great", "\ufeffBOM, \u200bzero width",
    "", "   ", "ALL CAPS SHOUTING!!! it's A+ (10/10)", "a" * 150]


@pytest.mark.parametrize("lowercase", [True, False])
def test_same_ids_as_transformers_on_control_characters_special_tokens_and_non_ascii(tmp_path, lowercase):
    checkpoint = shutil.copytree(ROOT / "demo/tiny-bert", tmp_path / "tiny")
    if not lowercase:  # a cased checkpoint: config and normalizer agree, so the light tokenizer is still used
        for name, key in (("tokenizer_config.json", None), ("tokenizer.json", "normalizer")):
            data = json.loads((checkpoint / name).read_text())
            (data[key] if key else data)["do_lower_case" if key is None else "lowercase"] = False
            (checkpoint / name).write_text(json.dumps(data))
    assert_same(checkpoint, TRICKY_TEXTS)
    light = load_light_tokenizer(str(checkpoint))
    assert light.normalize_ascii("A\tFine\x00 film") == ("a fine film" if lowercase else "A Fine film")
    assert [light.normalize_ascii(text) for text in ("[sep] x", "[SE\x00P]", "café")] == [None] * 3


@requires_shared
def test_same_ids_as_transformers_on_real_reviews_at_512():
    texts = pd.read_csv(SHARED_CSV, nrows=2000)["review"].tolist()
    light, full = load_light_tokenizer(str(SHARED_MINILM)), load_tokenizer(str(SHARED_MINILM))
    for truncation in ("head", "head_tail"):
        assert encode(light, texts, 512, truncation) == encode(full, texts, 512, truncation)


def test_a_normalizer_that_disagrees_with_the_config_falls_back_to_transformers(tmp_path):
    checkpoint = shutil.copytree(ROOT / "demo/tiny-bert", tmp_path / "cased-config")
    config = json.loads((checkpoint / "tokenizer_config.json").read_text())
    config["do_lower_case"] = False  # transformers rebuilds the normalizer from this; the light path must not guess
    (checkpoint / "tokenizer_config.json").write_text(json.dumps(config))
    assert load_light_tokenizer(str(checkpoint)) is None
    assert type(load_tokenize_tokenizer(str(checkpoint))).__name__ == "BertTokenizerFast"
    assert load_light_tokenizer("bert-base-cased") is None  # a hub id: transformers resolves it


def test_the_token_cache_is_byte_identical_with_either_tokenizer(tmp_path, monkeypatch):
    project = copy_project(tmp_path, demo_params(), git=False)
    assert stage("split", project).returncode == 0
    monkeypatch.chdir(project)
    import imdb_bert.stages.tokenize_reviews as tokenize

    tokenize.main()
    shutil.move(project / "data/tokens", project / "light")
    monkeypatch.setattr(tokenize, "load_tokenize_tokenizer", load_tokenizer)
    tokenize.main()
    light = sorted(path.relative_to(project / "light") for path in (project / "light").rglob("*") if path.is_file())
    assert len(light) == 12  # 3 arrays for each of 3 splits, train's full content ids and offsets, meta.json
    for name in light:
        assert (project / "light" / name).read_bytes() == (project / "data/tokens" / name).read_bytes(), name
