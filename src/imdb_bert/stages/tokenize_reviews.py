"""Stage `tokenize`: split CSVs -> cached token arrays under data/tokens/.

Reads params `model.checkpoint` and `tokenize.*`. Per split it writes input_ids.npy (padded to
max_length, in the smallest dtype that holds the vocabulary), lengths.npy and labels.npy, loadable
with np.load(..., mmap_mode="r"); meta.json describes them. For the train split it also writes every
review's untruncated ids, flat, in content_ids.npy (same dtype) with content_offsets.npy (review i is
ids[offsets[i]:offsets[i + 1]]): training on windows (`train.long_reviews: windows`) cuts them from it.
Works in chunks of `tokenize.chunk_size` reviews, each appended to the files, so memory stays bounded
whatever the corpus size; the same inputs and params give byte-identical files.
"""

from __future__ import annotations

import csv
import logging
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from itertools import chain, islice
from pathlib import Path

import numpy as np
from tqdm import tqdm

from imdb_bert.errors import PipelineError, run_stage
from imdb_bert.files import atomic_path, missing_input, read_json, require_inputs, write_json
from imdb_bert.params import TokenizeParams, load_params
from imdb_bert.tokenizer import load_tokenize_tokenizer, tokenizer_name
from imdb_bert.tokens import (
    CONTENT_SPLITS,
    TOKENS_DIR,
    content_ids,
    full_lengths,
    head_tail_sizes,
    id_dtype,
    num_special_tokens,
    special_tokens_around,
    with_special_tokens,
)

SPLIT_DIR = Path("data/split")
SPLITS = ("train", "validation", "test")
RAW_CONTENT = "content_ids.bin"  # the untruncated ids while they are written, before the .npy header is known
log = logging.getLogger("tokenize")


def tokenize_split(csv: Path, out: Path, tokenizer, params: TokenizeParams, keep_content: bool = False) -> np.ndarray:
    """Write one split's arrays under `out`, and with `keep_content` its untruncated ids; return the untruncated
    token counts (special tokens included).

    input_ids.npy is written block by block after its header, so memory is bounded by the chunk size.
    """
    rows = sum(len(texts) for texts, _ in _chunks(csv, params.chunk_size))
    dtype = id_dtype(len(tokenizer))
    lengths, untruncated, labels = np.zeros(rows, np.int32), np.zeros(rows, np.int64), np.zeros(rows, np.int8)
    out.mkdir(parents=True)
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False,
              "shape": (rows, params.max_length)}
    start = 0
    with ExitStack() as files, tqdm(total=rows, desc=f"tokenize {csv.stem}", unit="review") as progress:
        ids_file = files.enter_context((out / "input_ids.npy").open("wb"))
        # Raw blocks, made content_ids.npy once the total is known.
        content_file = files.enter_context((out / RAW_CONTENT).open("wb")) if keep_content else None
        np.lib.format.write_array_header_1_0(ids_file, header)
        for texts, chunk_labels in _chunks(csv, params.chunk_size):
            content = content_ids(tokenizer, texts)
            kept = with_special_tokens(tokenizer, content, params.max_length, params.truncation)
            block = np.full((len(kept), params.max_length), tokenizer.pad_token_id, dtype=dtype)
            for row, ids in enumerate(kept):
                block[row, :len(ids)] = ids
            ids_file.write(block.tobytes())
            if content_file is not None:
                content_file.write(np.fromiter(chain.from_iterable(content), dtype=dtype).tobytes())
            end = start + len(texts)
            lengths[start:end] = [len(ids) for ids in kept]
            untruncated[start:end] = full_lengths(tokenizer, content)
            labels[start:end] = chunk_labels
            start = end
            progress.update(len(texts))
    np.save(out / "lengths.npy", lengths)
    np.save(out / "labels.npy", labels)
    if keep_content:
        _finish_content(out, untruncated - num_special_tokens(tokenizer), dtype)
    return untruncated


def _finish_content(out: Path, content_lengths: np.ndarray, dtype: np.dtype) -> None:
    """content_ids.npy from the raw blocks (a header, then the blocks copied), and content_offsets.npy."""
    raw = out / RAW_CONTENT
    offsets = np.concatenate([[0], np.cumsum(content_lengths)]).astype(np.int64)
    header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": (int(offsets[-1]),)}
    with (out / "content_ids.npy").open("wb") as ids_file, raw.open("rb") as blocks:
        np.lib.format.write_array_header_1_0(ids_file, header)
        shutil.copyfileobj(blocks, ids_file)
    raw.unlink()
    np.save(out / "content_offsets.npy", offsets)


def _chunks(path: Path, chunk_size: int) -> Iterator[tuple[list[str], np.ndarray]]:
    """(texts, labels) of a split CSV, `chunk_size` rows at a time.

    The standard csv module, not pandas: importing pandas is about 5% of this stage's run on 10,000 reviews.
    """
    if not path.is_file():
        raise missing_input(path, "split")
    csv.field_size_limit(2**31 - 1)  # pandas has no limit on a review's length; csv's default is 131,072
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.reader(file)
        try:
            yield from _read_chunks(path, reader, chunk_size)
        except csv.Error as error:
            raise PipelineError(f"{path}: line {reader.line_num}: {error}; rerun `dvc repro split`") from None


def _read_chunks(path: Path, reader, chunk_size: int) -> Iterator[tuple[list[str], np.ndarray]]:
    header = next(reader, [])
    missing = [column for column in ("text", "label") if column not in header]
    if missing:
        raise PipelineError(f"{path}: no column {', '.join(missing)}; rerun `dvc repro split`")
    text_at, label_at = header.index("text"), header.index("label")
    first_row = 2  # rows numbered as in a spreadsheet: the header is row 1
    while rows := list(islice(reader, chunk_size)):
        labels = np.zeros(len(rows), np.int8)
        for offset, row in enumerate(rows):
            try:
                labels[offset] = int(row[label_at])
            except (ValueError, IndexError, OverflowError):
                raise PipelineError(f"{path}: row {first_row + offset}: not a text and an integer label; "
                                    f"rerun `dvc repro split`") from None
        yield [row[text_at] for row in rows], labels
        first_row += len(rows)


def _length_summary(full_lengths: np.ndarray, max_length: int) -> dict:
    if len(full_lengths) == 0:
        return {"rows": 0}
    percentiles = np.percentile(full_lengths, [50, 90, 95, 99]).round().astype(int).tolist()
    return {"rows": len(full_lengths), "mean_tokens": round(float(full_lengths.mean()), 1),
            "max_tokens": int(full_lengths.max()),
            "percentile_tokens": dict(zip(("p50", "p90", "p95", "p99"), percentiles, strict=True)),
            "share_truncated": round(float((full_lengths > max_length).mean()), 4)}


def main() -> None:
    params = load_params()
    require_inputs((SPLIT_DIR / "labels.json", "split"), (SPLIT_DIR / "cleaning.json", "split"))
    settings = params.tokenize
    tokenizer = load_tokenize_tokenizer(params.model.checkpoint)
    splits = [name for name in SPLITS if (SPLIT_DIR / f"{name}.csv").is_file()]
    summaries = {}
    with atomic_path(TOKENS_DIR) as out:
        for name in splits:
            untruncated = tokenize_split(SPLIT_DIR / f"{name}.csv", out / name, tokenizer, settings,
                                         keep_content=name in CONTENT_SPLITS)
            summaries[name] = _length_summary(untruncated, settings.max_length)
        write_json(out / "meta.json", {
            "checkpoint": params.model.checkpoint,
            "tokenizer": tokenizer_name(tokenizer),
            "vocab_size": len(tokenizer),
            "dtype": str(id_dtype(len(tokenizer))),
            "max_length": settings.max_length,
            "truncation": settings.truncation,
            "head_tail_sizes": list(head_tail_sizes(settings.max_length, num_special_tokens(tokenizer))),
            "pad_token_id": tokenizer.pad_token_id,
            "special_tokens_around": list(special_tokens_around(tokenizer)),  # before and after a text, or a window
            "content_splits": [name for name in splits if name in CONTENT_SPLITS],
            "model_input_names": list(tokenizer.model_input_names),
            "labels": read_json(SPLIT_DIR / "labels.json"),
            "strip_html": read_json(SPLIT_DIR / "cleaning.json")["strip_html"],
            "splits": summaries,
        })
    for name, summary in summaries.items():
        log.info("%s: %s", name, summary)


if __name__ == "__main__":
    run_stage(main)
