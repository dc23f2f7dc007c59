"""model.library keras_hub on each Keras backend: `dvc repro` of the same real reviews, accuracy and time.

    python -m bench.backends_bench                          # 1,000 reviews, TensorFlow then JAX
    python -m bench.backends_bench --backends jax --rows 300

Each backend runs `dvc repro` (split, tokenize, train, evaluate, export) in its own scratch git+DVC copy of the
project, with the same params: `--rows` real reviews (`data.max_rows`, a seeded stratified sample of the CSV in
../shared), the MiniLM checkpoint as model.safetensors, max_length 128, 2 epochs, batch 16, AdamW 5e-5, seed 13.
Same params and data, so every backend is scored on the same test reviews (the benchmark checks it). Prints markdown.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

from bench.common import (
    SHARED_CSV,
    SHARED_MINILM_SAFETENSORS,
    copy_project,
    dvc,
    machine_line,
    markdown_table,
    read_params,
    require,
)


def run_backend(folder: Path, backend: str, args: argparse.Namespace) -> dict:
    """`dvc repro` on one backend in a fresh copy; its metrics, test rows and wall seconds."""
    params = read_params()
    params["data"].update(raw_csv=str(SHARED_CSV), max_rows=args.rows)
    params["model"].update(library="keras_hub", checkpoint=str(SHARED_MINILM_SAFETENSORS), init="pretrained")
    params["tokenize"].update(max_length=128)
    params["train"].update(epochs=args.epochs, batch_size=16, seed=13)
    project = copy_project(folder / "project", params, git=True)
    (folder / "repro.log").unlink(missing_ok=True)
    seconds, _ = dvc(project, "repro", log=folder / "repro.log", KERAS_BACKEND=backend)
    test_rows = (project / "data/split/test.csv").read_text().count("\n") - 1
    return {"backend": backend, "seconds": seconds, "test_rows": test_rows,
            "eval": json.loads((project / "metrics/eval.json").read_text()),
            "device": next((line for line in (folder / "repro.log").read_text().splitlines()
                            if "model.library keras_hub on" in line), "")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax"])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/backends-bench"))
    args = parser.parse_args()
    require(SHARED_CSV, SHARED_MINILM_SAFETENSORS)
    started = datetime.datetime.now(datetime.UTC)
    results = []
    for backend in args.backends:
        folder = args.workdir / f"{backend}-rows{args.rows}-ep{args.epochs}"
        folder.mkdir(parents=True, exist_ok=True)
        print(f"{datetime.datetime.now():%H:%M:%S} dvc repro on {backend}", file=sys.stderr, flush=True)
        results.append(run_backend(folder, backend, args))
    if len({result["test_rows"] for result in results}) != 1:
        sys.exit("error: the backends' test splits differ")
    rows = [[r["backend"], r["eval"]["examples"], f"{r['eval']['accuracy']:.4f}", f"{r['eval']['roc_auc']:.4f}",
             f"{r['eval']['loss']:.4f}", f"{r['seconds'] / 60:.1f}"] for r in results]
    accuracy = results[0]["eval"]["accuracy"]
    examples = results[0]["eval"]["examples"]
    print(f"\n## keras_hub on each backend ({started:%Y-%m-%d})\n")
    print(f"`dvc repro` of {args.rows:,} real reviews, MiniLM (model.safetensors), max_length 128, "
          f"{args.epochs} epochs, batch 16, AdamW 5e-5, train.seed 13; {machine_line()}. "
          f"Command: `python -m bench.backends_bench --rows {args.rows} --epochs {args.epochs} --backends "
          f"{' '.join(args.backends)}`\n")
    print(markdown_table(["backend", "test reviews", "accuracy", "ROC AUC", "loss", "dvc repro minutes"], rows))
    print(f"\nOne standard error of an accuracy near {accuracy:.2f} on {examples} reviews is "
          f"{100 * (accuracy * (1 - accuracy) / examples) ** 0.5:.2f} points.")
    for result in results:
        print(f"- {result['device'].split('train: ')[-1]}")


if __name__ == "__main__":
    main()
