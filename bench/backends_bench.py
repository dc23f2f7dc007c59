"""model.library keras_hub on each Keras backend: `dvc repro` of the same real reviews, accuracy and time.

    python bench/backends_bench.py                          # 1,000 reviews, TensorFlow then JAX
    python bench/backends_bench.py --backends jax --rows 300

Each backend runs `dvc repro` (split, tokenize, train, evaluate, export) in its own scratch git+DVC copy of the
project, with the same params: `--rows` real reviews (`data.max_rows`, a seeded stratified sample of the CSV in
../shared), the MiniLM checkpoint as model.safetensors, max_length 128, 2 epochs, batch 16, AdamW 5e-5, seed 13.
Same params and data, so every backend is scored on the same test reviews (the benchmark checks it). Prints markdown.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml
from report import markdown_table  # bench/report.py (bench/ is on sys.path when run)
from scratch import ROOT, copy_project, stage_env

SHARED = ROOT.parent / "shared"
REVIEWS_CSV = SHARED / "data/imdb/IMDB Dataset.csv"
CHECKPOINT = SHARED / "models/minilm-l6-h384-uncased-safetensors"


def run_backend(folder: Path, backend: str, args: argparse.Namespace) -> dict:
    """`dvc repro` on one backend in a fresh copy; its metrics, test rows and wall seconds."""
    project = copy_project(folder)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"].update(raw_csv=str(REVIEWS_CSV), max_rows=args.rows)
    params["model"].update(library="keras_hub", checkpoint=str(CHECKPOINT), init="pretrained")
    params["tokenize"].update(max_length=128)
    params["train"].update(epochs=args.epochs, batch_size=16, seed=13)
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = stage_env(KERAS_BACKEND=backend, PYTHONWARNINGS="ignore")
    for command in (["git", "init", "-q"], ["git", "add", "-A"],
                    ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "copy"]):
        subprocess.run(command, cwd=project, check=True, env=env)
    start = time.perf_counter()
    with (folder / "repro.log").open("w") as log:
        done = subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=project, env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    if done.returncode != 0:
        sys.exit(f"error: dvc repro on {backend} failed; see {folder / 'repro.log'}")
    seconds = time.perf_counter() - start
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
    if not (REVIEWS_CSV.is_file() and CHECKPOINT.is_dir()):
        sys.exit(f"error: needs {REVIEWS_CSV} and {CHECKPOINT} (../shared beside the project)")
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
          f"{args.epochs} epochs, batch 16, AdamW 5e-5, train.seed 13; {os.cpu_count()} CPUs, no GPU. "
          f"Command: `python bench/backends_bench.py --rows {args.rows} --backends {' '.join(args.backends)}`\n")
    print(markdown_table(["backend", "test reviews", "accuracy", "ROC AUC", "loss", "dvc repro minutes"], rows))
    print(f"\nOne standard error of an accuracy near {accuracy:.2f} on {examples} reviews is "
          f"{100 * (accuracy * (1 - accuracy) / examples) ** 0.5:.2f} points.")
    for result in results:
        print(f"- {result['device'].split('train: ')[-1]}")


if __name__ == "__main__":
    main()
