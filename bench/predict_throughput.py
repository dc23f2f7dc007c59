"""Scoring throughput: `predict` and `evaluate`'s scoring against the bare forward pass of the same model.

    python -m bench.predict_throughput                          # 1,000 real reviews, max_length 128 and 512
    python -m bench.predict_throughput --reviews 40 --max-lengths 64    # a smoke run

The real MiniLM checkpoint with a fresh classification head (throughput does not need a trained head), saved once
per max_length as a trained model directory, scores a seeded sample of real IMDB reviews, in one invocation:

    bare forward      the sequences `predict` scores (each review that fits, and every window of the long ones; or
                      every review truncated), in predict's own length-grouped batches at its widths, built up front
                      and fed to one traced forward function: the limit, no tokenization, no input pipeline
    predict           `Predictor.probabilities` on the raw texts (cleaning and tokenization included)
    evaluate scoring  `score_reviews` on pre-tokenized reviews, as `evaluate` calls it with the token cache
    before #19        (windows only) the path `predict` had before: every review scored truncated, then the long
                      ones again over their windows, in two model calls

for `--modes` windows (stride `--stride`, a share of the window, as evaluate.window_stride) and truncate.
Forward passes = sequences scored (a window is one). Passes/s of a path = its sequences / its wall seconds; its
share of the bare forward's passes/s is the overhead measure (goal: at least 0.9). Reviews/s of predict against
`before #19` is the speed-up (goal: at least 1.4x with windows at 128). Each figure is the median of `--repeats`
timed runs after one untimed warm-up run of every path on a few reviews. `--precisions float32 bf16` measures
every path in both (bf16 as `evaluate.bf16_scoring` runs it: where native, kept after its check against float32)
and adds a table of bf16 against float32: predict's speed-up, the check's figures, and how much the reviews'
scores and verdicts differ; `--model` scores with a trained model directory instead of the fresh head. Prints
Markdown tables; `--json` also writes the figures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

import imdb_bert  # noqa: F401  (selects tf-keras before TensorFlow is imported)
from bench.common import LABELS, SHARED_CSV, SHARED_MINILM, machine_line, markdown_table, median_seconds, require


def sample_reviews(count: int, seed: int) -> list[str]:
    import pandas as pd

    reviews = pd.read_csv(SHARED_CSV, keep_default_na=False)["review"]
    return reviews.sample(count, random_state=seed).tolist()


def model_directory(work: Path, max_length: int) -> Path:
    """A trained model directory of the pretrained MiniLM with a fresh head, as `train` would save it."""
    from imdb_bert.files import write_json
    from imdb_bert.models import get_library, save_trained
    from imdb_bert.tokenizer import load_tokenizer
    from imdb_bert.tokens import TOKENIZATION_FILE

    out = work / f"model-{max_length}"
    if (out / TOKENIZATION_FILE).is_file():
        return out
    out.mkdir(parents=True, exist_ok=True)
    library = get_library("transformers")
    save_trained(library, library.build(str(SHARED_MINILM), LABELS, "pretrained"), out, LABELS)
    tokenizer = load_tokenizer(str(SHARED_MINILM))
    tokenizer.save_pretrained(out)
    write_json(out / TOKENIZATION_FILE, {"max_length": max_length, "truncation": "head_tail",
                                         "model_input_names": list(tokenizer.model_input_names), "strip_html": True})
    return out


def scored_rows(predictor, texts: list[str], mode: str):
    """The sequences `predict` scores for `texts` (TokenizedSplit), the token ids and the truncated inputs."""
    import numpy as np
    import pandas as pd

    from imdb_bert.data import strip_html_line_breaks
    from imdb_bert.scoring import window_sequences
    from imdb_bert.tokens import TokenizedSplit, content_ids, full_lengths, id_dtype, pad, with_special_tokens

    max_length = predictor.settings["max_length"]
    tokenizer = predictor.tokenizer
    ids = content_ids(tokenizer, strip_html_line_breaks(pd.Series(texts, dtype=str)).tolist())
    truncated = pad(with_special_tokens(tokenizer, ids, max_length, "head_tail"), max_length,
                    tokenizer.pad_token_id, id_dtype(len(tokenizer)))
    if mode == "truncate":
        return truncated, ids, truncated
    long = full_lengths(tokenizer, ids) > max_length
    windows, _ = window_sequences(tokenizer, [ids[i] for i in np.flatnonzero(long)], max_length,
                                  predictor.decision.window_stride)
    windows = pad(windows, max_length, tokenizer.pad_token_id, truncated.input_ids.dtype)
    rows = TokenizedSplit(np.concatenate([truncated.input_ids[~long], windows.input_ids]),
                          np.concatenate([truncated.lengths[~long], windows.lengths]),
                          np.full(int((~long).sum()) + len(windows.lengths), -1, dtype=np.int8))
    return rows, ids, truncated


def bare_forward(predictor, rows, batch_size: int):
    """A function running the model over `rows` in predict's batches, built up front, one traced forward."""
    import tensorflow as tf

    from imdb_bert.batches import BatchSource

    names = predictor.settings["model_input_names"]
    source = BatchSource(rows, names, batch_size, shuffle_seed=None, group_by_length=True, pad_to_max_length=False,
                         pad_to_multiple_of=8)
    batches = [{name: tf.constant(value) for name, value in features.items()} for features, _ in source()]
    signature = [{name: tf.TensorSpec((None, None), tf.int32) for name in names}]
    forward = tf.function(predictor.model.logits, input_signature=signature)

    def run() -> None:
        for features in batches:
            forward(features).numpy()

    return run


def windowed_probabilities_before_19(model, tokenizer, ids, max_length, stride, input_names, batch_size):
    """The removed windows-only path of #19, kept here as what the bench compares against."""
    from imdb_bert.scoring import mean_window_logits, predict_rows, window_sequences
    from imdb_bert.tokens import id_dtype, pad

    sequences, owners = window_sequences(tokenizer, ids, max_length, stride)
    split = pad(sequences, max_length, tokenizer.pad_token_id, id_dtype(len(tokenizer)))
    return mean_window_logits(predict_rows(model, split, input_names, batch_size), owners, len(ids))


def before_issue_19(predictor, texts: list[str]) -> None:
    """`predict` before #19: all reviews truncated in one call, then the long ones over windows in another."""
    import numpy as np
    import pandas as pd

    from imdb_bert.data import strip_html_line_breaks
    from imdb_bert.scoring import predict_rows
    from imdb_bert.tokens import content_ids, full_lengths, id_dtype, pad, with_special_tokens

    settings, tokenizer = predictor.settings, predictor.tokenizer
    max_length = settings["max_length"]
    ids = content_ids(tokenizer, strip_html_line_breaks(pd.Series(texts, dtype=str)).tolist())
    split = pad(with_special_tokens(tokenizer, ids, max_length, settings["truncation"]), max_length,
                tokenizer.pad_token_id, id_dtype(len(tokenizer)))
    probabilities = predict_rows(predictor.model, split, settings["model_input_names"], predictor.batch_size)
    long = np.flatnonzero(full_lengths(tokenizer, ids) > max_length)
    if len(long):
        probabilities[long] = windowed_probabilities_before_19(
            predictor.model, tokenizer, [ids[i] for i in long], max_length, predictor.decision.window_stride,
            settings["model_input_names"], predictor.batch_size)


def measure(work: Path, texts: list[str], max_length: int, mode: str, args: argparse.Namespace,
            precision: str = "float32") -> list[dict]:
    from imdb_bert.commands.predict import Predictor
    from imdb_bert.decisions import Decision
    from imdb_bert.scoring import score_reviews
    from imdb_bert.tokens import num_special_tokens

    predictor = Predictor(args.model or model_directory(work, max_length), args.batch_size)
    predictor.model.score_in_bf16(precision == "bf16")  # checked against float32 on the first call's rows
    stride = max(1, round((max_length - num_special_tokens(predictor.tokenizer)) * args.stride))
    predictor.decision = Decision(labels=LABELS, long_reviews=mode, window_stride=stride)
    rows, ids, truncated = scored_rows(predictor, texts, mode)
    names = predictor.settings["model_input_names"]
    scored = {}  # predict's probabilities, to compare the precisions
    paths = {"bare forward": bare_forward(predictor, rows, args.batch_size),
             "predict": lambda: scored.update(probabilities=predictor.probabilities(texts)),
             "evaluate scoring": lambda: score_reviews(predictor.model, predictor.tokenizer, ids, truncated,
                                                       max_length, stride, names, args.batch_size, (mode,))}
    if mode == "windows":
        paths["before #19"] = lambda: before_issue_19(predictor, texts)
    sequences = {name: len(rows.lengths) for name in paths}
    if mode == "windows":
        sequences["before #19"] = len(rows.lengths) + sum(len(review) + 2 > max_length for review in ids)
    predictor.probabilities(texts[:32])  # traces predict's function (evaluate's is the same); bf16's check
    paths["bare forward"]()  # traces the bare forward
    results = []
    for name, function in paths.items():
        seconds = median_seconds(function, args.repeats)
        results.append({"max_length": max_length, "mode": mode, "path": name, "reviews": len(texts),
                        "precision": predictor.model.scoring["precision"], "check": predictor.model.scoring,
                        "probabilities": scored.get("probabilities") if name == "predict" else None,
                        "sequences": sequences[name], "seconds": seconds,
                        "passes_per_s": sequences[name] / seconds, "reviews_per_s": len(texts) / seconds})
        print(f"{datetime.datetime.now():%H:%M:%S} {max_length} {mode} {name}: {seconds:.1f} s", file=sys.stderr,
              flush=True)
    bare = results[0]["passes_per_s"]
    before = next((row["reviews_per_s"] for row in results if row["path"] == "before #19"), None)
    for row in results:
        row["share_of_bare"] = row["passes_per_s"] / bare
        row["speedup_over_before"] = row["reviews_per_s"] / before if before else None
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reviews", type=int, default=1000)
    parser.add_argument("--max-lengths", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--modes", nargs="+", default=["windows", "truncate"], choices=["windows", "truncate"])
    parser.add_argument("--stride", type=float, default=0.5, help="window stride, a share of the window")
    parser.add_argument("--batch-size", type=int, default=64, help="as evaluate.batch_size and predict's default")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/predict-throughput-bench"))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--precisions", nargs="+", default=["float32"], choices=["float32", "bf16"],
                        help="bf16: evaluate.bf16_scoring's path (bf16 where native and checked against float32)")
    parser.add_argument("--model", type=Path, help="a trained model directory to score with (its own max_length); "
                                                   "default: the MiniLM with a fresh head")
    args = parser.parse_args()
    require(SHARED_CSV, SHARED_MINILM)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = datetime.datetime.now(datetime.UTC)
    load = os.getloadavg()[0]
    texts = sample_reviews(args.reviews, args.seed)
    results = [row for max_length in args.max_lengths for mode in args.modes for precision in args.precisions
               for row in measure(args.workdir, texts, max_length, mode, args, precision)]
    print(f"\n## Scoring throughput ({started:%Y-%m-%d}; {machine_line()}; load {load:.1f} at start)\n")
    print(f"MiniLM-L6-H384 ({SHARED_MINILM.name}, fresh head), {args.reviews:,} real reviews, batch {args.batch_size}, "
          f"window stride {args.stride:g}, {' and '.join(args.precisions)}, median of {args.repeats}. Command: "
          f"`python -m bench.predict_throughput --reviews {args.reviews} --max-lengths "
          f"{' '.join(map(str, args.max_lengths))} --repeats {args.repeats} --precisions {' '.join(args.precisions)}"
          f"{f' --model {args.model}' if args.model else ''}`\n")
    print(markdown_table(["max_length", "long reviews", "path", "precision", "forward passes", "s", "passes/s",
                          "share of bare", "reviews/s", "vs before #19"],
                         [[row["max_length"], row["mode"], row["path"], row["precision"], f"{row['sequences']:,}",
                           f"{row['seconds']:.1f}", f"{row['passes_per_s']:.1f}", f"{row['share_of_bare']:.2f}",
                           f"{row['reviews_per_s']:.1f}",
                           "" if row["speedup_over_before"] is None else f"{row['speedup_over_before']:.2f}x"]
                          for row in results]))
    if len(args.precisions) > 1:
        print_precision_comparison(results)
    for row in results:
        row.pop("probabilities")
    if args.json:
        args.json.write_text(json.dumps({"date": f"{started:%Y-%m-%d}", "load": load, "results": results}, indent=2))


def print_precision_comparison(results: list[dict]) -> None:
    """bf16 against float32 for each max_length and mode: predict's speed-up, and how its review scores differ."""
    import numpy as np

    rows = []
    for bf16 in (row for row in results if row["path"] == "predict" and row["precision"] != "float32"):
        float32 = next(row for row in results if row["path"] == "predict" and row["precision"] == "float32"
                       and (row["max_length"], row["mode"]) == (bf16["max_length"], bf16["mode"]))
        odds = [np.log(row["probabilities"][:, 1]) - np.log(row["probabilities"][:, 0]) for row in (float32, bf16)]
        rows.append([bf16["max_length"], bf16["mode"], f"{bf16['reviews_per_s'] / float32['reviews_per_s']:.2f}x",
                     f"{bf16['check']['max_logit_difference']:.4f}", f"{np.abs(odds[0] - odds[1]).max():.4f}",
                     f"{np.abs(odds[0]).max():.2f}",
                     f"{(float32['probabilities'].argmax(1) == bf16['probabilities'].argmax(1)).mean():.4f}"])
    print("\n" + markdown_table(["max_length", "long reviews", "predict bf16 / float32", "check: max logit difference",
                                 "max log-odds difference, all reviews", "max float32 |log-odds|",
                                 "arg-max agreement"], rows))


if __name__ == "__main__":
    main()
