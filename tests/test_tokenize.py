"""Stage `tokenize`: truncation modes, dtype choice, cached arrays that match the tokenizer."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import copy_project, demo_params, stage

from imdb_bert.errors import PipelineError
from imdb_bert.params import TokenizeParams
from imdb_bert.stages.tokenize_reviews import tokenize_split
from imdb_bert.tokenizer import load_tokenizer
from imdb_bert.tokens import head_tail_sizes, id_dtype, load_content, load_split, truncate


def test_head_tail_keeps_128_and_382_tokens_at_512():
    assert head_tail_sizes(512, 2) == (128, 382)
    head, tail = head_tail_sizes(128, 2)
    assert head + tail == 126 and 0 < head < tail


@pytest.mark.parametrize("mode, expected", [
    ("head", list(range(6))), ("tail", list(range(14, 20))), ("head_tail", [0, 1, 16, 17, 18, 19])])
def test_truncation_modes(mode, expected):
    assert truncate(list(range(20)), budget=6, mode=mode, head_size=2) == expected
    assert truncate(list(range(4)), budget=6, mode=mode, head_size=2) == list(range(4))


def test_id_dtype_is_the_smallest_that_holds_the_vocabulary():
    assert id_dtype(30522) == np.uint16 and id_dtype(65536) == np.uint16
    assert id_dtype(65537) == np.int32 and id_dtype(250002) == np.int32


def _write_split(path, texts):
    pd.DataFrame({"source_row": range(2, len(texts) + 2), "text": texts,
                  "label": [i % 2 for i in range(len(texts))]}).to_csv(path, index=False)


@pytest.mark.parametrize("truncation", ["head", "tail", "head_tail"])
def test_cached_arrays_match_the_tokenizer(tmp_path, tiny_checkpoint, truncation):
    tokenizer = load_tokenizer(str(tiny_checkpoint))
    texts = ["a great film", "a dull boring movie " * 30, "funny, warm and beautifully shot " * 3, "bad"]
    _write_split(tmp_path / "train.csv", texts)
    params = TokenizeParams(max_length=16, truncation=truncation, chunk_size=3)
    full = tokenize_split(tmp_path / "train.csv", tmp_path / "tokens" / "train", tokenizer, params)
    split = load_split("train", tmp_path / "tokens")
    assert split.input_ids.dtype == np.uint16 and split.input_ids.shape == (4, 16)
    assert isinstance(split.input_ids, np.memmap)
    assert split.labels.tolist() == [0, 1, 0, 1]
    for row, text in enumerate(texts):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert full[row] == len(ids) + 2
        kept = tokenizer.build_inputs_with_special_tokens(truncate(ids, 14, truncation, head_tail_sizes(16, 2)[0]))
        length = split.lengths[row]
        assert split.input_ids[row, :length].tolist() == kept
        assert (split.input_ids[row, length:] == tokenizer.pad_token_id).all()
    if truncation == "head":  # the tutorial's encoding, for a review that fits and one that does not
        reference = tokenizer(texts, truncation=True, max_length=16, padding="max_length")["input_ids"]
        assert split.input_ids.tolist() == reference


def test_the_train_split_keeps_every_review_s_untruncated_ids(tmp_path, tiny_checkpoint):
    tokenizer = load_tokenizer(str(tiny_checkpoint))
    texts = ["a great film", "a dull boring movie " * 30, "", "funny, warm and beautifully shot " * 3, "bad"]
    _write_split(tmp_path / "train.csv", texts)
    params = TokenizeParams(max_length=16, truncation="head_tail", chunk_size=2)  # reviews cross chunk boundaries
    full = tokenize_split(tmp_path / "train.csv", tmp_path / "tokens" / "train", tokenizer, params, keep_content=True)
    content = load_content("train", tmp_path / "tokens")
    assert content.ids.dtype == np.uint16 and isinstance(content.ids, np.memmap)
    assert content.offsets.dtype == np.int64 and content.lengths().tolist() == (full - 2).tolist()
    for row, text in enumerate(texts):
        review = content.ids[content.offsets[row]:content.offsets[row + 1]].tolist()
        assert review == tokenizer(text, add_special_tokens=False)["input_ids"]
    assert sorted(path.name for path in (tmp_path / "tokens" / "train").iterdir()) == [
        "content_ids.npy", "content_offsets.npy", "input_ids.npy", "labels.npy", "lengths.npy"]
    tokenize_split(tmp_path / "train.csv", tmp_path / "other" / "validation", tokenizer, params)
    assert not (tmp_path / "other" / "validation" / "content_ids.npy").exists()  # only where asked for
    with pytest.raises(PipelineError, match=r"validation/content_ids.npy: not found .*run `dvc repro tokenize`"):
        load_content("validation", tmp_path / "other")


def test_the_same_inputs_give_byte_identical_files(tmp_path, tiny_checkpoint):
    tokenizer = load_tokenizer(str(tiny_checkpoint))
    _write_split(tmp_path / "train.csv", ["a great film", "a dull boring movie " * 30, "bad"] * 3)
    written = []
    for run, chunk_size in enumerate((2, 2, 1000)):  # the chunk size bounds memory and changes no byte
        out = tmp_path / f"run{run}"
        tokenize_split(tmp_path / "train.csv", out, tokenizer, TokenizeParams(16, "head_tail", chunk_size),
                       keep_content=True)
        written.append({path.name: path.read_bytes() for path in sorted(out.iterdir())})
    assert written[0] == written[1] == written[2] and "content_ids.npy" in written[0]


def test_an_empty_split_gives_empty_arrays(tmp_path, tiny_checkpoint):
    _write_split(tmp_path / "validation.csv", [])  # validation_size 0, as in the tutorial
    params = TokenizeParams(max_length=16, truncation="head", chunk_size=3)
    full = tokenize_split(tmp_path / "validation.csv", tmp_path / "tokens" / "validation",
                          load_tokenizer(str(tiny_checkpoint)), params)
    split = load_split("validation", tmp_path / "tokens")
    assert len(full) == 0 and split.input_ids.shape == (0, 16) and len(split.lengths) == len(split.labels) == 0


def test_a_one_megabyte_review_is_truncated_like_any_other(tmp_path, tiny_checkpoint):
    tokenizer = load_tokenizer(str(tiny_checkpoint))
    _write_split(tmp_path / "train.csv", ["a wonderful film " * 60_000, "bad"])
    assert (tmp_path / "train.csv").stat().st_size > 1_000_000
    tokenize_split(tmp_path / "train.csv", tmp_path / "out", tokenizer, TokenizeParams(32, "head_tail", 1000))
    assert np.load(tmp_path / "out" / "lengths.npy").tolist() == [32, 3]


def test_quotes_commas_and_line_breaks_in_a_review_reach_the_tokenizer_unchanged(tmp_path, tiny_checkpoint):
    tokenizer = load_tokenizer(str(tiny_checkpoint))
    texts = ['a "great", warm\nfilm', "", "bad,\r\nvery \"bad\"", "NA"]  # "" and "NA" stay text, not missing
    _write_split(tmp_path / "train.csv", texts)
    full = tokenize_split(tmp_path / "train.csv", tmp_path / "out", tokenizer, TokenizeParams(64, "head", 2))
    assert full.tolist() == [len(tokenizer(text)["input_ids"]) for text in texts]
    assert np.load(tmp_path / "out" / "labels.npy").tolist() == [0, 1, 0, 1]


@pytest.mark.parametrize("content, expected", [
    ("text,label\ngood,1\nbad,0\nugly,x\n", "train.csv: row 4: not a text and an integer label"),
    ("text,sentiment\ngood,1\n", "train.csv: no column label"),
])
def test_a_malformed_split_file_names_its_row_or_column(tmp_path, tiny_checkpoint, content, expected):
    (tmp_path / "train.csv").write_text(content)
    with pytest.raises(PipelineError, match=expected):
        tokenize_split(tmp_path / "train.csv", tmp_path / "out", load_tokenizer(str(tiny_checkpoint)),
                       TokenizeParams(16, "head", 2))


def test_a_vocabulary_beyond_uint16_is_stored_as_int32(tmp_path, tiny_checkpoint):
    tokenizer = load_tokenizer(str(tiny_checkpoint))
    tokenizer.add_tokens([f"zzword{i}" for i in range(66_000)])
    _write_split(tmp_path / "train.csv", ["a great film zzword65999", "bad zzword7"])
    tokenize_split(tmp_path / "train.csv", tmp_path / "out", tokenizer, TokenizeParams(8, "head", 1000))
    ids = np.load(tmp_path / "out" / "input_ids.npy")
    assert ids.dtype == np.int32
    assert tokenizer.convert_tokens_to_ids("zzword65999") in ids[0].tolist()  # no wrap-around at 65536


def test_stage_writes_meta_and_rejects_a_missing_checkpoint(tmp_path):
    project = copy_project(tmp_path, demo_params(), git=False)
    assert stage("split", project).returncode == 0
    result = stage("tokenize", project)
    assert result.returncode == 0, result.stderr
    meta = json.loads((project / "data/tokens/meta.json").read_text())
    assert meta["dtype"] == "uint16" and meta["max_length"] == 128 and meta["truncation"] == "head_tail"
    tokenizer = load_tokenizer(str(project / "demo/tiny-bert"))
    assert meta["special_tokens_around"] == [[tokenizer.cls_token_id], [tokenizer.sep_token_id]]
    assert meta["content_splits"] == ["train"]  # what training on windows reads; validation and test need none
    assert [name for name in ("train", "validation", "test")
            if (project / "data/tokens" / name / "content_ids.npy").is_file()] == ["train"]
    first = {path: path.read_bytes() for path in sorted((project / "data/tokens").rglob("*")) if path.is_file()}
    assert stage("tokenize", project).returncode == 0  # a rerun writes the same bytes
    assert {path: path.read_bytes() for path in sorted((project / "data/tokens").rglob("*")) if path.is_file()} \
        == first
    assert meta["labels"] == ["negative", "positive"]
    report = json.loads((project / "metrics/data.json").read_text())
    for name in ("train", "validation", "test"):
        rows = len(load_split(name, project / "data/tokens").labels)
        assert meta["splits"][name]["rows"] == report["splits"][name]["rows"] == rows
    (project / "params.yaml").write_text((project / "params.yaml").read_text().replace(
        "checkpoint: demo/tiny-bert", "checkpoint: some-org/not-a-model"))
    result = stage("tokenize", project)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1 and len(errors) == 1
    assert "'some-org/not-a-model' is not a local directory" in errors[0] and "local directory" in errors[0]
