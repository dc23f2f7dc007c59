"""Long reviews: head+tail truncation against overlapping windows whose logits are averaged, on the same reviews.

    python -m bench.long_reviews_bench                         # 4,400 reviews (half test), max_length 256, 2 epochs
    python -m bench.long_reviews_bench --strides 0.25 0.5 1    # the window strides to compare (share of the window)
    python -m bench.long_reviews_bench --max-length 128 --serving   # also the SavedModel's accuracy against predict's

One model is trained once (the pipeline's own split, tokenize and train stages in a scratch copy of the project,
MiniLM-L6-H384 from a local checkpoint directory, head_tail truncation), then the `evaluate` stage scores the same
test split with `evaluate.long_reviews: truncate` and with `windows` at each stride. A re-run reuses the trained
model and re-copies the code, so only `evaluate` runs again. Prints a markdown table: accuracy overall and on the
reviews longer than max_length (the `truncated` slice of metrics/eval_details.json), with Wilson 95% intervals, the
forward passes per test review (the cost: windows per review), and the mode `evaluate` decided (windows are kept unless
the validation split shows them significantly worse than truncation; docs/evaluation.md).

With --serving, the `export` stage then writes the SavedModel for the default decision (windows at the first
stride) and the same test reviews are scored three ways with that decision: `predict` (windows), `predict` with
truncation, and the SavedModel (which truncates in its graph): how far serving is from `predict`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

from bench import common
from bench.accuracy_bench import write_subset
from bench.common import (
    SHARED_CSV,
    SHARED_MINILM,
    copy_project,
    machine_line,
    markdown_table,
    read_params,
    require,
    run_stage,
)


def set_params(project: Path, subset: Path, args: argparse.Namespace, evaluate: dict) -> None:
    """The project's params.yaml (current schema) with the benchmark's settings."""
    params = read_params()
    params["data"].update(raw_csv=str(subset), test_size=0.5, validation_size=0.1, max_rows=None, seed=13)
    params["model"].update(checkpoint=str(SHARED_MINILM), init="pretrained")
    params["tokenize"].update(max_length=args.max_length, truncation="head_tail")
    params["train"].update(epochs=args.epochs, batch_size=32, seed=13)
    params["evaluate"].update(evaluate)
    common.write_params(project, params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=4400, help="reviews, split half train, half test")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--strides", type=float, nargs="+", default=[0.5])
    parser.add_argument("--train-only", action="store_true", help="stop once the model is trained")
    parser.add_argument("--serving", action="store_true", help="also the SavedModel's accuracy against predict's")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/long-reviews-bench"))
    args = parser.parse_args()
    require(SHARED_CSV, SHARED_MINILM)
    started = datetime.datetime.now(datetime.UTC)
    work = args.workdir / f"rows{args.rows}-len{args.max_length}-ep{args.epochs}"
    project, log = work / "project", work / "stages.log"
    project.mkdir(parents=True, exist_ok=True)
    subset = work / "subset.csv"
    if not subset.is_file():
        write_subset(subset, args.rows, 13)
    copy_project(project)  # the current code; outputs already there are kept
    set_params(project, subset, args, {})
    if not (project / "models/model/tokenization.json").is_file():
        for name in ("split", "tokenize", "train"):
            print(f"{datetime.datetime.now():%H:%M:%S} {name}", file=sys.stderr, flush=True)
            run_stage(project, name, log)
    if args.train_only:
        return
    modes = [("truncate (head_tail)", {"long_reviews": "truncate"})]
    modes += [(f"windows, stride {stride:g}", {"long_reviews": "windows", "window_stride": stride})
              for stride in args.strides]
    passes = {title: passes_per_review(project, args.max_length, evaluate) for title, evaluate in modes}
    rows = []
    for title, evaluate in modes:
        print(f"{datetime.datetime.now():%H:%M:%S} evaluate: {title}", file=sys.stderr, flush=True)
        set_params(project, subset, args, evaluate)
        seconds = run_stage(project, "evaluate", log)
        scores = json.loads((project / "metrics/eval_details.json").read_text())
        long = scores["slices"]["truncated"]
        decided = json.loads((project / "models/decision.json").read_text())["long_reviews"]
        rows.append([title, f"{scores['accuracy']:.4f} ({scores['accuracy_ci_low']:.3f}–"
                     f"{scores['accuracy_ci_high']:.3f})", f"{scores['f1']:.4f}", f"{scores['loss']:.4f}",
                     f"{long['accuracy']:.4f}", long["count"], f"{passes[title]:.2f}", decided, f"{seconds:.0f}"])
    data = json.loads((project / "metrics/data.json").read_text())
    meta = json.loads((project / "data/tokens/meta.json").read_text())
    print(f"\n## Long reviews: truncation against windows ({started:%Y-%m-%d})\n")
    print(f"MiniLM-L6-H384 ({SHARED_MINILM.name}) fine-tuned once with head_tail truncation at max_length "
          f"{args.max_length}, {args.epochs} epochs, on {data['splits']['train']['rows']:,} real reviews; the same "
          f"{data['splits']['test']['rows']:,} test reviews for every row, "
          f"{meta['splits']['test']['share_truncated']:.0%} of them longer than max_length. {machine_line()}. "
          f"Command: `python -m bench.long_reviews_bench --rows {args.rows} "
          f"--max-length {args.max_length} "
          f"--epochs {args.epochs} --strides {' '.join(map(str, args.strides))}{' --serving' if args.serving else ''}`"
          f"\n")
    print(markdown_table(["long_reviews", "test accuracy (95% CI)", "F1", "loss", "accuracy on long reviews",
                          "long reviews", "forward passes per review", "evaluate decided", "evaluate s"], rows))
    if args.serving:
        serving_table(project, subset, args, log)


def passes_per_review(project: Path, max_length: int, evaluate: dict) -> float:
    """Forward passes per test review: 1 truncated, else each long review's windows."""
    import pandas as pd

    from imdb_bert.scoring import window_starts
    from imdb_bert.tokenizer import load_tokenizer
    from imdb_bert.tokens import content_ids, num_special_tokens

    if evaluate["long_reviews"] == "truncate":
        return 1.0
    tokenizer = load_tokenizer(str(project / "models/model"))
    texts = pd.read_csv(project / "data/split/test.csv", keep_default_na=False)["text"].tolist()
    budget = max_length - num_special_tokens(tokenizer)
    stride = max(1, round(budget * evaluate["window_stride"]))
    return sum(len(window_starts(len(ids), budget, stride)) for ids in content_ids(tokenizer, texts)) / len(texts)


def serving_table(project: Path, subset: Path, args: argparse.Namespace, log: Path) -> None:
    """The SavedModel's test accuracy against predict's, with the default decision (windows, first stride)."""
    import numpy as np
    import pandas as pd

    set_params(project, subset, args, {"long_reviews": "windows", "window_stride": args.strides[0]})
    run_stage(project, "evaluate", log)
    run_stage(project, "export", log)
    os.chdir(project)
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the SavedModel's tokenizer ops)

    from imdb_bert.commands.predict import Predictor
    from imdb_bert.decisions import DECISION_FILE, read_decision

    test = pd.read_csv("data/split/test.csv", keep_default_na=False)
    texts, labels = test["text"].tolist(), test["label"].to_numpy()
    predictor = Predictor("models/model")
    predictor.decision = read_decision(DECISION_FILE, predictor.labels)
    long = np.array([len(ids) + 2 > args.max_length for ids in predictor.tokenizer(
        texts, add_special_tokens=False)["input_ids"]])
    decided = {"predict (decision: " + predictor.decision.long_reviews + ")": predictor.decision.predict(
        predictor.probabilities(texts))}
    predictor.decision = type(predictor.decision)(**{**predictor.decision.__dict__, "long_reviews": "truncate"})
    decided["predict, truncated"] = predictor.decision.predict(predictor.probabilities(texts))
    serve = tf.saved_model.load("models/serving").signatures["serving_default"]
    names = [label.decode() for batch in range(0, len(texts), 64)
             for label in serve(review=tf.constant(texts[batch:batch + 64]))["label"].numpy()]
    decided["SavedModel (export)"] = np.array([predictor.labels.index(name) for name in names])
    base = (decided[next(iter(decided))] == labels).mean()
    rows = [[name, f"{(predicted == labels).mean():.4f}", f"{(predicted[long] == labels[long]).mean():.4f}",
             f"{((predicted == labels).mean() - base) * 100:+.2f}"] for name, predicted in decided.items()]
    print(f"\n### The SavedModel against predict (max_length {args.max_length}, {len(texts):,} test reviews, "
          f"{long.sum():,} longer than max_length)\n")
    print(markdown_table(["scored by", "test accuracy", "on long reviews", "points vs predict"], rows))


if __name__ == "__main__":
    main()
