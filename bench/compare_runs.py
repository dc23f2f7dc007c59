"""Two pipeline runs scored on the same test reviews: which is more accurate, by how much, and does it hold?

    python -m bench.compare_runs RUN_A RUN_B        # each a project directory after `dvc repro evaluate`
    python -m bench.compare_runs a.json b.json      # or their metrics/eval/plots/sklearn/confusion_matrix.json

Reads each run's per-review verdicts (the confusion-matrix plot data `evaluate` writes, one entry per test review
in test-split order, after the run's own decision: threshold, temperature, windows), checks that both runs scored
the same labels in the same order (the same `split` output), and prints a markdown table: each run's accuracy
with its Wilson 95% interval, the paired difference B minus A with its 95% interval, the reviews only one of them
gets right, and the two-sided exact McNemar p. Paired, because both runs score the same reviews: the difference
is far tighter than the two separate intervals suggest. Used for docs/results.md's full-size levers.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from bench.common import markdown_table
from imdb_bert.decisions import mcnemar_p
from imdb_bert.evaluation.metrics import Z_95, wilson_interval

VERDICTS = Path("metrics/eval/plots/sklearn/confusion_matrix.json")


def read_verdicts(path: Path) -> list[tuple[str, str]]:
    """(actual, predicted) per test review, from a run directory or its confusion-matrix JSON."""
    file = path if path.suffix == ".json" else path / VERDICTS
    try:
        rows = json.loads(file.read_text(encoding="utf-8"))
        return [(row["actual"], row["predicted"]) for row in rows]
    except FileNotFoundError:
        raise SystemExit(f"compare_runs: {file} not found: run `dvc repro evaluate` in {path} first") from None
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise SystemExit(f"compare_runs: {file} is not evaluate's confusion-matrix data ({error})") from None


def paired_comparison(first: list[tuple[str, str]], second: list[tuple[str, str]]) -> dict:
    """Accuracies, the paired difference second minus first with a 95% interval, and the exact McNemar p."""
    import numpy as np

    if [actual for actual, _ in first] != [actual for actual, _ in second]:
        raise SystemExit("compare_runs: the two runs scored different test reviews (labels differ in number or "
                         "order): compare runs of the same split")
    n = len(first)
    first_right = np.array([actual == predicted for actual, predicted in first])
    second_right = np.array([actual == predicted for actual, predicted in second])
    only_second = int((second_right & ~first_right).sum())
    only_first = int((first_right & ~second_right).sum())
    difference = (only_second - only_first) / n
    spread = Z_95 * math.sqrt(max((only_second + only_first) / n - difference**2, 0.0) / n)
    # Two-sided: twice the one-sided p of whichever run wins more of the reviews where exactly one is right.
    p = min(1.0, 2 * min(mcnemar_p(first_right, second_right), mcnemar_p(second_right, first_right)))
    return {"examples": n, "accuracy": [float(first_right.mean()), float(second_right.mean())],
            "difference": difference, "difference_low": difference - spread, "difference_high": difference + spread,
            "only_first_right": only_first, "only_second_right": only_second, "mcnemar_p": p}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("first", type=Path, help="run A: a project directory or its confusion-matrix JSON")
    parser.add_argument("second", type=Path, help="run B, scored on the same test split")
    parser.add_argument("--names", nargs=2, default=["A", "B"], help="what to call the two runs in the table")
    args = parser.parse_args()
    result = paired_comparison(read_verdicts(args.first), read_verdicts(args.second))
    n = result["examples"]
    rows = []
    for name, accuracy in zip(args.names, result["accuracy"], strict=True):
        low, high = wilson_interval(round(accuracy * n), n)
        rows.append([name, f"{accuracy:.4f} ({low:.4f}–{high:.4f})"])
    print(markdown_table(["run", f"test accuracy (95% interval), {n:,} reviews"], rows))
    print(f"\n{args.names[1]} minus {args.names[0]}: {100 * result['difference']:+.2f} accuracy points "
          f"(paired 95% interval {100 * result['difference_low']:+.2f} to {100 * result['difference_high']:+.2f}); "
          f"only {args.names[0]} right on {result['only_first_right']:,} reviews, only {args.names[1]} on "
          f"{result['only_second_right']:,}; exact McNemar p = {result['mcnemar_p']:.3g} (two-sided).")


if __name__ == "__main__":
    main()
