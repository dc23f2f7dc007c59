"""The SavedModel against `evaluate` and `predict` on the same real test reviews: accuracy, agreement, speed.

    python -m bench.export_agreement                            # 2,600 reviews, MiniLM at 128, 1 epoch
    python -m bench.export_agreement --rows 10000 --epochs 2    # a larger sample

One model is trained once in a scratch copy of the project (the pipeline's own split, tokenize, train, evaluate and
export stages; MiniLM-L6-H384 from a local checkpoint directory; `evaluate.long_reviews: windows`), so the
SavedModel in models/serving carries evaluate's decision, windows included. Then the test split is scored by the
SavedModel (batches of --batch-size strings) and by `predict`'s Predictor with the same decision, and compared with
the accuracy `evaluate` wrote (metrics/eval.json): the goal is the SavedModel within 0.1 point of evaluate. A re-run
reuses the trained model. bench/serve_load.py serves the same model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

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
    write_params,
)

WORKDIR = Path("/tmp/export-agreement-bench")


def trained_project(workdir: Path, rows: int, epochs: int, max_length: int) -> Path:
    """A scratch project with MiniLM trained, evaluated (windows) and exported; reused when already there."""
    require(SHARED_CSV, SHARED_MINILM)
    work = workdir / f"rows{rows}-len{max_length}-ep{epochs}"
    project, log, subset = work / "project", work / "stages.log", work / "subset.csv"
    project.mkdir(parents=True, exist_ok=True)
    if not subset.is_file():
        write_subset(subset, rows, 13)
    copy_project(project)  # the current code; outputs already there are kept
    params = read_params()
    params["data"].update(raw_csv=str(subset), test_size=0.2, validation_size=0.1, max_rows=None, seed=13)
    params["model"].update(checkpoint=str(SHARED_MINILM), init="pretrained", library="transformers")
    params["tokenize"].update(max_length=max_length, truncation="head_tail")
    params["train"].update(epochs=epochs, batch_size=32, seed=13)
    params["evaluate"].update(long_reviews="windows", window_stride=0.5)
    write_params(project, params)
    for name, output in (("split", "data/split/test.csv"), ("tokenize", "data/tokens/meta.json"),
                         ("train", "models/model/tokenization.json"), ("evaluate", "models/decision.json"),
                         ("export", "models/serving/saved_model.pb")):
        if not (project / output).exists():
            print(f"{time.strftime('%H:%M:%S')} {name}", file=sys.stderr, flush=True)
            run_stage(project, name, log)
    return project


def score_savedmodel(texts: list[str], batch_size: int) -> tuple[list[str], object, float]:
    """Labels and probabilities of models/serving on `texts`, and the seconds it took (after one warm-up batch)."""
    import numpy as np
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (the SavedModel's tokenizer ops)

    serve = tf.saved_model.load("models/serving").signatures["serving_default"]
    serve(review=tf.constant(texts[:batch_size]))
    started = time.perf_counter()
    outputs = [serve(review=tf.constant(texts[i:i + batch_size])) for i in range(0, len(texts), batch_size)]
    seconds = time.perf_counter() - started
    labels = [label.decode() for out in outputs for label in out["label"].numpy()]
    return labels, np.concatenate([out["probabilities"].numpy() for out in outputs]), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2600, help="real reviews: 70%% train, 10%% validation, 20%% test")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workdir", type=Path, default=WORKDIR)
    args = parser.parse_args()
    project = trained_project(args.workdir, args.rows, args.epochs, args.max_length)
    os.chdir(project)
    import numpy as np
    import pandas as pd

    from imdb_bert.commands.predict import Predictor
    from imdb_bert.decisions import DECISION_FILE
    from imdb_bert.trained_model import TrainedModel

    test = pd.read_csv("data/split/test.csv", keep_default_na=False)
    texts, truth = test["text"].tolist(), test["label"].to_numpy()
    predictor = Predictor(TrainedModel.load("models/model", DECISION_FILE), args.batch_size)
    predictor.probabilities(texts[:args.batch_size])  # warm-up
    started = time.perf_counter()
    expected = predictor.scores(texts)
    predict_seconds = time.perf_counter() - started
    served_labels, served, served_seconds = score_savedmodel(texts, args.batch_size)
    labels = predictor.labels
    evaluated = json.loads(Path("metrics/eval.json").read_text())["accuracy"]
    long = np.array([len(ids) + 2 > args.max_length for ids in predictor.tokenizer(
        texts, add_special_tokens=False)["input_ids"]])
    accuracy = {"evaluate (metrics/eval.json)": evaluated,
                "predict (Predictor, decision file)": float((expected["predicted_label"].map(labels.index)
                                                             == truth).mean()),
                "SavedModel (models/serving)": float((np.array([labels.index(x) for x in served_labels])
                                                      == truth).mean())}
    difference = np.abs(served - expected[[f"p_{label}" for label in labels]].to_numpy())
    report(args, predictor, texts, long, accuracy, difference, served_labels, expected,
           {"predict": len(texts) / predict_seconds, "SavedModel": len(texts) / served_seconds})


def report(args, predictor, texts, long, accuracy, difference, served_labels, expected, rates) -> None:
    import numpy as np

    decision = predictor.decision
    print(f"\n## The SavedModel against evaluate and predict ({len(texts):,} real test reviews, "
          f"{long.sum():,} longer than max_length {args.max_length})\n")
    print(f"MiniLM-L6-H384 fine-tuned {args.epochs} epoch(s) at max_length {args.max_length} on "
          f"{args.rows:,} real reviews (70% train); decision: long_reviews {decision.long_reviews} (stride "
          f"{decision.window_stride} tokens), temperature {decision.temperature:g}, threshold {decision.threshold}. "
          f"{machine_line()}. Command: `python -m bench.export_agreement --rows {args.rows} --epochs {args.epochs} "
          f"--max-length {args.max_length} --batch-size {args.batch_size}`\n")
    base = accuracy["evaluate (metrics/eval.json)"]
    rows = [[name, f"{value:.4f}", f"{(value - base) * 100:+.2f}"] for name, value in accuracy.items()]
    print(markdown_table(["scored by", "test accuracy", "points vs evaluate"], rows))
    agree = float((np.asarray(served_labels) == expected["predicted_label"].to_numpy()).mean())
    print(f"\nSavedModel vs predict: labels agree on {agree:.2%} of reviews; largest probability difference "
          f"{difference.max():.2e} (long reviews {difference[long].max() if long.any() else 0:.2e}).")
    print(f"Speed, batches of {args.batch_size}: predict {rates['predict']:.1f} reviews/s, SavedModel "
          f"{rates['SavedModel']:.1f} reviews/s ({rates['SavedModel'] / rates['predict']:.2f}x predict).")


if __name__ == "__main__":
    main()
