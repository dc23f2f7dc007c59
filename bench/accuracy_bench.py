"""Accuracy at equal compute: the tutorial's recipe against ours, on the same real reviews, over several seeds.

    python -m bench.accuracy_bench                        # 2,000 + 2,000 reviews, max_length 256, 3 epochs, seeds 13 14
    python -m bench.accuracy_bench --rows 600 --epochs 1 --seeds 13    # a quick look
    python -m bench.accuracy_bench --recipes 'ours + adamw' 'ours + adamw, keras_hub'   # the two model libraries

A fixed subset of the real CSV: `--rows` reviews, half positive, drawn with a fixed seed from the reviews whose
text occurs once in the whole CSV. Both recipes therefore split the same reviews into the same test half
(`data.test_size: 0.5`), which the benchmark checks. Each recipe runs the pipeline's own stage scripts
(split, tokenize once; then train and evaluate per seed) in a scratch copy of the project, with the MiniLM
checkpoint of ../shared and the same number of epochs:

    tutorial      no HTML stripping, no de-duplication, no validation split, head truncation, every review padded
                  to max_length, Adam(3e-5, epsilon 1e-8, clipnorm 1)
    ours + adam   <br /> stripped, duplicates removed, 10% of train held out for validation (the epoch with the
                  lowest val_loss is kept), head+tail truncation, dynamic length-grouped padding; the tutorial's Adam
    ours + adamw  the same with AdamW 5e-5, 10% linear warm-up then linear decay, weight decay 0.01 (the Hugging Face
                  Trainer's defaults)
    ours + adamw, head    the same with the tutorial's head truncation: what head_tail adds
    ours + adamw, keras_hub    ours + adamw through model.library keras_hub (KerasHub, Keras 3 on TensorFlow),
                  from the same weights in the Hub's model.safetensors form; not a candidate for "ours"
    ours + adamw, bf16    ours + adamw trained in mixed_bfloat16 (train.mixed_precision, forced with
                  PIPELINE_CPU_BF16=force where the CPU lacks native bfloat16, so the row is bf16 on any CPU),
                  evaluated in float32 as the pipeline does; not a candidate for "ours"

"Ours" is whichever of the three has the highest mean validation accuracy: the choice never looks at the test
split. `train.seed` varies (weight init of the classifier head, dropout, batch order); the data split does not.
Every finished run is kept under `--workdir`, so an interrupted benchmark resumes where it stopped. It also
counts, on the whole CSV, the tutorial's test reviews that also occur in its training split. Prints markdown.
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import statistics
import sys
from pathlib import Path

from bench.common import (
    SHARED_CSV,
    SHARED_MINILM,
    SHARED_MINILM_SAFETENSORS,
    copy_project,
    machine_line,
    markdown_table,
    read_params,
    require,
    run_stage,
    write_params,
)

TUTORIAL_DATA = {"strip_html": False, "drop_duplicates": False, "validation_size": 0.0}
TUTORIAL_TRAIN = {"optimizer": "adam", "learning_rate": 3.0e-5, "pad_to_max_length": True, "group_by_length": False}
DEFAULTS, SEEDS = {"rows": 4000, "max_length": 256, "epochs": 3}, [13, 14]
RECIPES = {
    "tutorial": ({**TUTORIAL_DATA}, {"truncation": "head"}, {**TUTORIAL_TRAIN}),
    "ours + adam": ({"strip_html": True, "drop_duplicates": True, "validation_size": 0.1}, {"truncation": "head_tail"},
                    {"optimizer": "adam", "learning_rate": 3.0e-5, "pad_to_max_length": False,
                     "group_by_length": True, "keep_best": True}),
}
RECIPES["ours + adamw"] = (RECIPES["ours + adam"][0], RECIPES["ours + adam"][1],
                           {**RECIPES["ours + adam"][2], "optimizer": "adamw", "learning_rate": 5.0e-5,
                            "warmup_ratio": 0.1, "weight_decay": 0.01})
RECIPES["ours + adamw, head"] = (RECIPES["ours + adamw"][0], {"truncation": "head"}, RECIPES["ours + adamw"][2])
RECIPES["ours + adamw, keras_hub"] = RECIPES["ours + adamw"]
# The same recipe through the other model library, from the same weights in the Hub's safetensors form.
MODELS = {"ours + adamw, keras_hub": {"library": "keras_hub", "checkpoint": str(SHARED_MINILM_SAFETENSORS)}}
RECIPES["ours + adamw, bf16"] = (RECIPES["ours + adamw"][0], RECIPES["ours + adamw"][1],
                                 {**RECIPES["ours + adamw"][2], "mixed_precision": True})
VARIANTS = {"ours + adamw, keras_hub": "model.library keras_hub against transformers, the same weights",
            "ours + adamw, bf16": "mixed_bfloat16 training against float32"}  # compared with ours + adamw
ENVIRONMENT = {"ours + adamw, bf16": {"PIPELINE_CPU_BF16": "force"}}


def write_subset(path: Path, rows: int, seed: int) -> dict:
    """`rows` reviews (half of each label) whose text, <br /> stripped, occurs once in the whole CSV."""
    import pandas as pd

    from imdb_bert.data import read_reviews, strip_html_line_breaks

    reviews = pd.read_csv(SHARED_CSV, keep_default_na=False)
    parsed = read_reviews(SHARED_CSV, "review", "sentiment", ["negative", "positive"])  # validates the file
    unique = ~strip_html_line_breaks(parsed["text"]).duplicated(keep=False).to_numpy()
    picked = (reviews[unique].groupby("sentiment", group_keys=False)
              .sample(n=rows // 2, random_state=seed).sort_index())
    picked.to_csv(path, index=False, lineterminator="\n")
    return {"csv_rows": len(reviews), "unique_rows": int(unique.sum()), "subset_rows": len(picked)}


def tutorial_leak(test_size: float, seed: int) -> dict:
    """On the whole CSV split the tutorial's way: test reviews whose exact text is also in train."""
    from imdb_bert.data import read_reviews
    from imdb_bert.params import DataParams
    from imdb_bert.stages.split import split_reviews

    reviews = read_reviews(SHARED_CSV, "review", "sentiment", ["negative", "positive"])
    params = DataParams(raw_csv=str(SHARED_CSV), text_column="review", label_column="sentiment",
                        labels=["negative", "positive"], strip_html=False, drop_duplicates=False,
                        test_size=test_size, validation_size=0.0, max_rows=None, seed=seed)
    splits, _ = split_reviews(reviews, params)
    seen = set(splits["train"]["text"])
    return {"test_rows": len(splits["test"]), "also_in_train": int(splits["test"]["text"].isin(seen).sum())}


def make_project(folder: Path, subset: Path, recipe: str, args: argparse.Namespace) -> Path:
    """A scratch copy of the project's tracked files with the recipe's params."""
    if folder.exists():
        return folder
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    data, tokenize, train = RECIPES[recipe]
    params = read_params()
    params["data"].update(raw_csv=str(subset), test_size=0.5, max_rows=None, seed=13, **data)
    params["model"].update({"checkpoint": str(SHARED_MINILM), "init": "pretrained", **MODELS.get(recipe, {})})
    params["tokenize"].update(max_length=args.max_length, **tokenize)
    params["train"].update(epochs=args.epochs, batch_size=32, **train)
    copy_project(partial, params)
    partial.rename(folder)
    return folder


def set_seed(project: Path, seed: int) -> None:
    params = read_params(project / "params.yaml")
    params["train"]["seed"] = seed
    write_params(project, params)


def run_recipe(project: Path, seed: int, result: Path, environment: dict[str, str]) -> dict:
    """Tokenized once per project; train and evaluate for one seed. Cached in `result`."""
    if result.is_file():
        return json.loads(result.read_text())
    log = result.with_suffix(".log")
    log.unlink(missing_ok=True)
    if not (project / "data/tokens").is_dir():
        run_stage(project, "split", log)
        run_stage(project, "tokenize", log)
    set_seed(project, seed)
    for stale in ("models/.train_state", "models/model", "metrics/train"):
        shutil.rmtree(project / stale, ignore_errors=True)
    train_seconds = run_stage(project, "train", log, **environment)
    evaluate_seconds = run_stage(project, "evaluate", log)
    data = json.loads((project / "metrics/data.json").read_text())
    summary = json.loads((project / "metrics/train/metrics.json").read_text())
    best_epoch = summary.get("best_epoch")  # 1-based; absent without a validation split (the last epoch is kept)
    validation_accuracy = None
    if best_epoch is not None:
        curve = (project / "metrics/train/plots/metrics/eval/accuracy.tsv").read_text().split("\n")[1:]
        validation_accuracy = float(curve[best_epoch - 1].split("\t")[1])
    outcome = {"seed": seed, "eval": json.loads((project / "metrics/eval.json").read_text()), "train": summary,
               "best_epoch": best_epoch, "validation_accuracy": validation_accuracy,
               "train_seconds": train_seconds, "evaluate_seconds": evaluate_seconds,
               "train_rows": data["splits"]["train"]["rows"], "validation_rows": data["splits"]["validation"]["rows"],
               "rows_removed": data["rows_removed"]}
    result.write_text(json.dumps(outcome, indent=2))
    return outcome


def held_out_rows(project: Path) -> list[int]:
    import pandas as pd

    return sorted(pd.read_csv(project / "data/split/test.csv", usecols=["source_row"])["source_row"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=DEFAULTS["rows"], help="reviews, split half train, half test")
    parser.add_argument("--max-length", type=int, default=DEFAULTS["max_length"])
    parser.add_argument("--epochs", type=int, default=DEFAULTS["epochs"])
    parser.add_argument("--seeds", type=int, nargs="+", default=SEEDS)
    parser.add_argument("--subset-seed", type=int, default=13)
    parser.add_argument("--recipes", nargs="+", choices=list(RECIPES), default=list(RECIPES),
                        help="a subset of the recipes (default: all)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/accuracy-bench"))
    args = parser.parse_args()
    require(SHARED_CSV, SHARED_MINILM)

    started = datetime.datetime.now(datetime.UTC)
    key = f"rows{args.rows}-len{args.max_length}-ep{args.epochs}-subset{args.subset_seed}"
    work = args.workdir / key
    work.mkdir(parents=True, exist_ok=True)
    subset = work / "subset.csv"
    subset_info_file = work / "subset.json"
    if not subset_info_file.is_file():
        subset_info_file.write_text(json.dumps(write_subset(subset, args.rows, args.subset_seed)))
    subset_info = json.loads(subset_info_file.read_text())

    results: dict[str, list[dict]] = {}
    projects = {}
    for seed in args.seeds:  # seed by seed, so that a cut-short run still compares the recipes
        for recipe in args.recipes:
            slug = recipe.replace(" + ", "-").replace(", ", "-")
            projects[recipe] = make_project(work / slug, subset, recipe, args)
            print(f"{datetime.datetime.now():%H:%M:%S} {recipe}, seed {seed}", file=sys.stderr, flush=True)
            results.setdefault(recipe, []).append(run_recipe(projects[recipe], seed, work / f"{slug}-{seed}.json",
                                                                ENVIRONMENT.get(recipe, {})))
    same_test = len({tuple(held_out_rows(project)) for project in projects.values()}) == 1
    if not same_test:
        sys.exit("error: the recipes' test splits differ; the comparison would not be on the same reviews")
    leak = tutorial_leak(0.2, 13)
    print_report(args, subset_info, results, leak, started)


def mean_of(runs: list[dict], field: str) -> float:
    return statistics.mean(run[field] for run in runs)


def print_report(args: argparse.Namespace, subset: dict, results: dict[str, list[dict]], leak: dict,
                 started: datetime.datetime) -> None:
    candidates = [recipe for recipe in results if recipe != "tutorial" and recipe not in VARIANTS]
    ours = max(candidates, key=lambda recipe: mean_of(results[recipe], "validation_accuracy"), default=None)
    rows = []
    for recipe, runs in results.items():
        accuracies = [run["eval"]["accuracy"] for run in runs]
        rows.append([recipe + (" (chosen by validation)" if recipe == ours else ""),
                     " / ".join(f"{accuracy:.4f}" for accuracy in accuracies),
                     f"{statistics.mean(accuracies):.4f} ({min(accuracies):.4f}–{max(accuracies):.4f})",
                     f"{statistics.mean(run['eval']['roc_auc'] for run in runs):.4f}",
                     f"{mean_of(runs, 'validation_accuracy'):.4f}" if recipe != "tutorial" else "none",
                     " / ".join(str(run["best_epoch"] or "last") for run in runs),
                     f"{mean_of(runs, 'train_rows'):.0f}", f"{mean_of(runs, 'train_seconds') / 60:.1f}"])
    examples = next(iter(results.values()))[0]["eval"]["examples"]
    options = "".join(f" --{name.replace('_', '-')} {value}" for name, value in
                      (("rows", args.rows), ("max_length", args.max_length), ("epochs", args.epochs))
                      if value != DEFAULTS[name])
    if args.seeds != SEEDS:
        options += " --seeds " + " ".join(map(str, args.seeds))
    if args.recipes != list(RECIPES):
        options += " --recipes " + " ".join(f"'{recipe}'" for recipe in args.recipes)
    print(f"\n## Accuracy at equal compute ({started:%Y-%m-%d})\n")
    print(f"MiniLM-L6-H384 ({SHARED_MINILM.name}); {subset['subset_rows']:,} real reviews drawn with seed "
          f"{args.subset_seed} from the {subset['unique_rows']:,} of {subset['csv_rows']:,} whose text is unique; "
          f"the same {examples:,} test reviews for every run; max_length {args.max_length}, {args.epochs} epochs, "
          f"batch 32; train.seed {', '.join(map(str, args.seeds))}; {machine_line()}. "
          f"Command: `python -m bench.accuracy_bench{options}`\n")
    print(markdown_table(["recipe", "test accuracy per seed", "mean (min–max)", "mean ROC AUC",
                          "mean validation accuracy (kept epoch)", "kept epoch", "training reviews",
                          "training min per run"], rows))
    accuracy = {recipe: statistics.mean(run["eval"]["accuracy"] for run in runs) for recipe, runs in results.items()}
    base = accuracy.get("tutorial", next(iter(accuracy.values())))
    print(f"\nOne standard error of an accuracy near {base:.2f} on {examples:,} reviews is "
          f"{100 * (base * (1 - base) / examples) ** 0.5:.2f} points.")
    if "tutorial" in accuracy and ours is not None:
        print(f"Ours ({ours}) minus the tutorial: {100 * (accuracy[ours] - accuracy['tutorial']):+.2f} accuracy "
              f"points (target: at least +1).")
    for recipe, what in VARIANTS.items():
        if recipe in accuracy and "ours + adamw" in accuracy:
            print(f"{recipe} minus ours + adamw ({what}): "
                  f"{100 * (accuracy[recipe] - accuracy['ours + adamw']):+.2f} accuracy points.")
    print(f"\nOn the whole CSV split the tutorial's way (test_size 0.2, random_state 13, no de-duplication), "
          f"{leak['also_in_train']} of its {leak['test_rows']:,} test reviews also occur word for word in its "
          f"training split.")


if __name__ == "__main__":
    main()
