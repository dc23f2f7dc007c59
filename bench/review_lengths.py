"""Write bench/review_lengths.json: the token-length distribution of the real IMDB reviews, for bench.gpu_bench.

    python -m bench.review_lengths --csv "data/raw/IMDB Dataset.csv" --tokenizer path/to/checkpoint-directory

Reads the Kaggle CSV the way `split` does with the default params (HTML line breaks replaced by a space, exact
duplicate reviews dropped), tokenizes every review with the checkpoint's fast tokenizer (tokenizer.json) and counts
each review's length with [CLS] and [SEP], untruncated. The table holds counts per bin of `BIN_WIDTH` tokens up to
`MAX_LENGTH`, the number of longer reviews (which become MAX_LENGTH under truncation), and percentiles. GPU
benchmarks draw review lengths from it, so they need neither the CSV nor a tokenizer.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

import numpy as np

OUTPUT = Path(__file__).resolve().parent / "review_lengths.json"
BIN_WIDTH, MAX_LENGTH = 8, 512


def review_lengths(csv_path: Path, tokenizer_dir: Path) -> np.ndarray:
    """Tokens per cleaned, de-duplicated review, special tokens included."""
    from tokenizers import Tokenizer

    from imdb_bert.data import read_reviews, strip_html_line_breaks

    texts = strip_html_line_breaks(read_reviews(csv_path, "review", "sentiment", ["negative", "positive"])["text"])
    texts = texts.drop_duplicates().tolist()
    tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return np.array([len(encoding.ids) for encoding in tokenizer.encode_batch(texts)])  # post-processor adds CLS/SEP


def length_table(lengths: np.ndarray, source: str) -> dict:
    edges = np.arange(0, MAX_LENGTH + BIN_WIDTH, BIN_WIDTH)
    counts, _ = np.histogram(lengths[lengths <= MAX_LENGTH], bins=edges)  # bins [0,8) ... [504,512]
    percentiles = np.percentile(lengths, [10, 25, 50, 75, 90, 95, 99]).round().astype(int).tolist()
    return {
        "description": f"Token lengths of the IMDB reviews ([CLS] and [SEP] included, before truncation), "
                       f"counted per bin of {BIN_WIDTH} tokens; written by bench/review_lengths.py.",
        "source": source,
        "date": datetime.date.today().isoformat(),
        "rows": len(lengths),
        "mean_tokens": round(float(lengths.mean()), 1),
        "max_tokens": int(lengths.max()),
        "percentile_tokens": dict(zip(("p10", "p25", "p50", "p75", "p90", "p95", "p99"), percentiles, strict=True)),
        "bin_width": BIN_WIDTH,
        "bins": f"counts[k] = reviews of length in [{BIN_WIDTH}k, {BIN_WIDTH}k + {BIN_WIDTH}), the last bin closed at "
                f"{MAX_LENGTH}",
        "counts": counts.tolist(),
        "longer_than": MAX_LENGTH,
        "count_longer": int((lengths > MAX_LENGTH).sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, required=True, help="the Kaggle 'IMDB Dataset.csv'")
    parser.add_argument("--tokenizer", type=Path, required=True, help="a checkpoint directory with tokenizer.json")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    lengths = review_lengths(args.csv, args.tokenizer)
    source = (f"{args.csv.name} (HTML line breaks replaced, exact duplicates dropped), tokenized with the fast "
              f"tokenizer of {args.tokenizer.name} (uncased WordPiece, vocabulary 30,522); bert-base-cased's cased "
              f"vocabulary splits some words differently (not measured here: no download)")
    table = length_table(lengths, source)
    counts = table.pop("counts")  # the one long list on one line
    text = json.dumps(table, indent=1)[:-2] + f',\n "counts": {json.dumps(counts)}\n}}\n'
    json.loads(text)
    args.output.write_text(text)
    print(f"{args.output}: {table['rows']} reviews, mean {table['mean_tokens']} tokens, "
          f"percentiles {table['percentile_tokens']}, {table['count_longer']} longer than {MAX_LENGTH}")


if __name__ == "__main__":
    main()
