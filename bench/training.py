"""Training throughput, shared by the CPU and GPU benches: the tutorial's padding against ours, on the same batches.

bench/train_throughput.py trains the real MiniLM on real reviews on a CPU, through the project's model libraries;
bench/gpu_bench.py trains a bert-base-sized KerasHub BERT on a GPU, on review lengths drawn from the real histogram.
Both build their batches with the project's BatchSource from the variants below, time one epoch, and report the
same figures of it. numpy and imdb_bert.batches only (no TensorFlow, pandas or DVC), as gpu_bench needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.common import markdown_table
from imdb_bert.batches import BatchSource, batch_width
from imdb_bert.tokens import TokenizedSplit

INPUT_NAMES = ["input_ids", "token_type_ids", "attention_mask"]


@dataclass(frozen=True)
class Variant:
    """How one row trains: its padding and, where the bench varies them, precision and XLA."""

    name: str
    pad_to_max_length: bool  # the tutorial: every batch padded to max_length
    group_by_length: bool  # ours: batches of similar lengths, padded to their longest review
    mixed_precision: bool = False
    jit_compile: bool = False


def batch_source(split: TokenizedSplit, variant: Variant, batch_size: int, multiple: int, seed: int) -> BatchSource:
    """The project's batch source with the variant's padding; dynamic widths are rounded up to `multiple`."""
    return BatchSource(split, INPUT_NAMES, batch_size, shuffle_seed=seed, group_by_length=variant.group_by_length,
                       pad_to_max_length=variant.pad_to_max_length, pad_to_multiple_of=multiple)


def epoch_shape(source: BatchSource) -> tuple[list[np.ndarray], list[int]]:
    """Real lengths and padded width of each batch of the source's next epoch, without consuming it."""
    lengths, widths = [], []
    for rows in source.plan(source.epoch):
        lengths.append(np.asarray(source.split.lengths[rows], dtype=np.int64))
        widths.append(batch_width(lengths[-1], source.max_length, source.pad_to_max_length, source.multiple))
    return lengths, widths


def throughput(lengths: list[np.ndarray], widths: list[int], seconds: float) -> dict:
    """The figures of one timed epoch of these batches."""
    real = int(sum(batch.sum() for batch in lengths))
    padded = int(sum(len(batch) * width for batch, width in zip(lengths, widths, strict=True)))
    sequences = int(sum(len(batch) for batch in lengths))
    return {"steps": len(widths), "sequences": sequences, "real_tokens": real, "padded_tokens": padded,
            "padding_share": 1 - real / padded, "mean_width": float(np.mean(widths)), "seconds": seconds,
            "step_ms": 1000 * seconds / len(widths), "sequences_per_s": sequences / seconds,
            "real_tokens_per_s": real / seconds, "padded_tokens_per_s": padded / seconds}


THROUGHPUT_COLUMNS = ["seq/s", "real tok/s", "padded tok/s", "padding share", "step ms"]


def throughput_cells(row: dict) -> list[str]:
    """A row's THROUGHPUT_COLUMNS."""
    speed = row["sequences_per_s"]
    return [f"{speed:.2f}" if speed < 100 else f"{speed:.1f}", f"{row['real_tokens_per_s']:,.0f}",
            f"{row['padded_tokens_per_s']:,.0f}", f"{100 * row['padding_share']:.1f}%", f"{row['step_ms']:.1f}"]


def ratio_table(rows: dict[tuple, dict], pairs: list[tuple[str, str]], group: str) -> str:
    """Sequences/s of variant A over variant B, for each pair both ran and each value of the rows' first key
    (`group`, e.g. max_length); `rows` maps (group value, variant label) to a row."""
    cells = []
    for value in dict.fromkeys(key[0] for key in rows):
        for top, bottom in pairs:
            if (value, top) in rows and (value, bottom) in rows:
                speeds = [rows[value, name]["sequences_per_s"] for name in (top, bottom)]
                cells.append([value, f"{top} / {bottom}", f"{speeds[0]:.2f}", f"{speeds[1]:.2f}",
                              f"**{speeds[0] / speeds[1]:.2f}x**"])
    return markdown_table([group, "ratio", "seq/s", "against seq/s", "speed-up"], cells) if cells else ""
