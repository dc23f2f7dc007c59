"""Benchmark our `tokenize` stage against the classic tutorial's tokenization loop.

    python -m bench.tokenize_bench --rows 5000        # or --rows all; --max-length 512

Both implementations tokenize the same first N reviews of the Kaggle IMDB CSV with the same WordPiece vocab.
Each runs in its own subprocess (`--worker ours|tutorial`) so that its peak RSS is its own; the parent prints a
markdown table. Timing covers reading the reviews, tokenizing them and writing the arrays, not tokenizer loading.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import imdb_bert  # noqa: F401  (sets the environment before transformers is imported)
from bench.common import (
    ROOT,
    SHARED_CSV,
    SHARED_MINILM,
    machine_busy_seconds,
    machine_line,
    markdown_table,
    own_cpu_seconds,
    require,
)

IMPLEMENTATIONS = ("ours", "tutorial")
TARGET_SPEEDUP, TARGET_SHRINK = 8.0, 10.0


def max_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    ru_maxrss survives execve on Linux, so a worker would inherit the parent's peak (the parent holds the whole
    CSV); VmHWM is the high-water mark of the worker's own address space. Take ru_maxrss where there is no /proc.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> tuple[float, float]:
    """CPU time (user + system) of this process and of the whole machine, whose excess over ours is others'."""
    return own_cpu_seconds(), machine_busy_seconds()


def cpu_since(start: tuple[float, float]) -> tuple[float, float]:
    """(our CPU seconds, other processes' CPU seconds) since `start`."""
    mine, machine = (now - then for now, then in zip(cpu_seconds(), start, strict=True))
    return mine, max(0.0, machine - mine)


def bytes_on_disk(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.glob("*.npy"))


def run_ours(csv: Path, out: Path, max_length: int) -> tuple[float, float, tuple[float, float]]:
    """Our stage: its tokenizer in batches, uint16 ids streamed into memory-mapped arrays."""
    from imdb_bert.params import TokenizeParams
    from imdb_bert.stages.tokenize_reviews import tokenize_split
    from imdb_bert.tokenizer import load_tokenize_tokenizer

    tokenizer = load_tokenize_tokenizer(str(SHARED_MINILM))
    baseline, cpu, start = max_rss_mb(), cpu_seconds(), time.perf_counter()
    tokenize_split(csv, out, tokenizer, TokenizeParams(max_length=max_length, truncation="head", chunk_size=2000))
    return time.perf_counter() - start, baseline, cpu_since(cpu)


def run_tutorial(csv: Path, out: Path, max_length: int) -> tuple[float, float, tuple[float, float]]:
    """The tutorial: slow BertTokenizer, encode_plus per review, three int64 arrays built from Python lists."""
    from transformers import BertTokenizer

    tokenizer = BertTokenizer.from_pretrained(str(SHARED_MINILM))
    baseline, cpu, start = max_rss_mb(), cpu_seconds(), time.perf_counter()
    frame = pd.read_csv(csv, keep_default_na=False)
    input_ids, attention_masks, token_type_ids = [], [], []
    for text in frame["text"]:
        encoded = tokenizer.encode_plus(text, add_special_tokens=True, max_length=max_length, truncation=True,
                                        padding="max_length", return_attention_mask=True,
                                        return_token_type_ids=True)
        input_ids.append(encoded["input_ids"])
        attention_masks.append(encoded["attention_mask"])
        token_type_ids.append(encoded["token_type_ids"])
    arrays = {"input_ids": input_ids, "attention_mask": attention_masks, "token_type_ids": token_type_ids,
              "labels": frame["label"].tolist()}
    out.mkdir(parents=True)
    for name, values in arrays.items():
        np.save(out / f"{name}.npy", np.array(values, dtype=np.int64))
    return time.perf_counter() - start, baseline, cpu_since(cpu)


def worker(implementation: str, csv: Path, out: Path, max_length: int) -> None:
    """Run one implementation; print wall and CPU seconds, RSS after loading, peak RSS and bytes as JSON."""
    run = run_ours if implementation == "ours" else run_tutorial
    seconds, baseline, (cpu, others) = run(csv, out, max_length)
    print(json.dumps({"seconds": seconds, "cpu": cpu, "others": others, "baseline_mb": baseline,
                      "peak_mb": max_rss_mb(), "bytes": bytes_on_disk(out)}))


def measure(implementation: str, csv: Path, out: Path, max_length: int) -> dict:
    command = [sys.executable, "-m", "bench.tokenize_bench", "--worker", implementation, "--csv", str(csv),
               "--out", str(out), "--max-length", str(max_length)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if done.returncode != 0:
        sys.exit(f"{implementation} worker failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def select_reviews(rows: str, csv: Path) -> int:
    """Write the first `rows` reviews to `csv` in the split schema (source_row, text, label); return the count."""
    frame = pd.read_csv(SHARED_CSV, keep_default_na=False)
    if rows != "all":
        frame = frame.head(int(rows))
    labels = frame["sentiment"].str.strip().str.lower().map({"negative": 0, "positive": 1})
    pd.DataFrame({"source_row": frame.index + 2, "text": frame["review"], "label": labels}).to_csv(csv, index=False)
    return len(frame)


def same_ids(ours: Path, tutorial: Path) -> int:
    """Reviews whose padded token ids agree exactly between the two implementations."""
    mine = np.load(ours / "input_ids.npy", mmap_mode="r")
    theirs = np.load(tutorial / "input_ids.npy", mmap_mode="r")
    return int((mine.astype(np.int64) == theirs).all(axis=1).sum())


def print_table(results: dict[str, dict], count: int, max_length: int, identical: int) -> None:
    print(f"Tokenizing the first {count} IMDB reviews at max_length={max_length}; {datetime.date.today()}, "
          f"{machine_line()}. Vocab: {SHARED_MINILM.name} (WordPiece; the tutorial's bert-base-cased is unavailable "
          f"offline). ours = imdb_bert.stages.tokenize_reviews.tokenize_split with the stage's tokenizer "
          f"(load_tokenize_tokenizer); tutorial = slow BertTokenizer.encode_plus per review, int64 arrays.\n")
    columns = ["implementation", "reviews", "seconds", "CPU s", "others' CPU s", "reviews/s", "RSS after load MB",
               "peak RSS MB", "bytes on disk"]
    table = []
    for name, result in results.items():
        table.append([name, count, f"{result['seconds']:.1f}", f"{result['cpu']:.1f}", f"{result['others']:.1f}",
                 f"{count / result['seconds']:,.0f}",
                      f"{result['baseline_mb']:.0f}", f"{result['peak_mb']:.0f}", f"{result['bytes']:,}"])
    print(markdown_table(columns, table))
    speedup = results["tutorial"]["seconds"] / results["ours"]["seconds"]
    shrink = results["tutorial"]["bytes"] / results["ours"]["bytes"]
    print(f"| **ratio** | | | | | ours/tutorial speed **{speedup:.1f}x** (target >= {TARGET_SPEEDUP:.0f}x) | | | "
          f"tutorial/ours bytes **{shrink:.1f}x** (target >= {TARGET_SHRINK:.0f}x) |")
    print(f"\nToken ids identical for {identical} of {count} reviews. MB = MiB; bytes = sizes of the .npy files; "
          f"CPU s = user + system CPU time of the timed part (more than seconds = "
          f"more than one core busy); others' CPU s = CPU time the rest of the machine used meanwhile (contention).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="5000", help="first N reviews of the CSV, or 'all' (default 5000)")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--worker", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    parser.add_argument("--csv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.csv, args.out, args.max_length)
        return
    if args.rows != "all" and not (args.rows.isdigit() and int(args.rows) > 0):
        parser.error("--rows must be a positive whole number or 'all'")
    require(SHARED_CSV, SHARED_MINILM)

    with tempfile.TemporaryDirectory(prefix="tokenize_bench_") as tmp:
        csv = Path(tmp) / "reviews.csv"
        count = select_reviews(args.rows, csv)
        results = {name: measure(name, csv, Path(tmp) / name, args.max_length) for name in IMPLEMENTATIONS}
        identical = same_ids(Path(tmp) / "ours", Path(tmp) / "tutorial")

    print_table(results, count, args.max_length, identical)


if __name__ == "__main__":
    main()
