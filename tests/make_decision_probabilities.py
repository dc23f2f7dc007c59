"""Writes tests/data/decision_probabilities.npz, the real probabilities tests/test_decision_rules.py tests the
decision rules on, so that the suite need not fine-tune a model to test them.

The real MiniLM (../shared), fine-tuned through the pipeline's own stages on 600 real reviews at max_length 64 for 2
epochs (about 3 minutes on 2 CPU cores), then scored, arg-max and truncated (no decision file), on:
- its validation split (under 100 reviews): `validation_labels`, `validation_probabilities`;
- 800 other real reviews it never saw (sampled with seed 13): `unseen_labels`, `unseen_probabilities`.

Run from the repository root, where ../shared exists: `.venv/bin/python tests/make_decision_probabilities.py`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from conftest import SHARED_CSV, SHARED_MINILM, copy_project, demo_params, run, stage_command

OUTPUT = Path(__file__).resolve().parent / "data" / "decision_probabilities.npz"
ROWS = 600
UNSEEN = 800
PARAMS = demo_params(data={"raw_csv": str(SHARED_CSV), "max_rows": ROWS},
                     model={"checkpoint": str(SHARED_MINILM), "init": "pretrained"},
                     tokenize={"max_length": 64, "truncation": "head_tail"},
                     train={"epochs": 2, "batch_size": 16, "optimizer": "adamw", "learning_rate": 1.0e-4})


def scored(project: Path) -> dict[str, np.ndarray]:
    """Arg-max probabilities of the validation split and of UNSEEN other real reviews the model never saw."""
    os.chdir(project)
    from imdb_bert.commands.predict import Predictor

    predictor = Predictor("models/model")
    validation = pd.read_csv("data/split/validation.csv", keep_default_na=False)
    used = set(pd.concat([pd.read_csv(f"data/split/{name}.csv") for name in ("train", "validation", "test")])
               ["source_row"])
    reviews = pd.read_csv(SHARED_CSV, keep_default_na=False)
    unseen = reviews[~reviews.index.isin(used) & ~reviews["review"].isin(validation["text"])].sample(
        UNSEEN, random_state=13)
    return {"validation_labels": validation["label"].to_numpy().astype(np.int8),
            "validation_probabilities": predictor.probabilities(validation["text"].tolist()).astype(np.float32),
            "unseen_labels": (unseen["sentiment"] == "positive").to_numpy().astype(np.int8),
            "unseen_probabilities": predictor.probabilities(unseen["review"].tolist()).astype(np.float32)}


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        project = copy_project(Path(folder), PARAMS, git=False)
        for name in ("split", "tokenize", "train"):
            run(stage_command(name), project)
        arrays = scored(project)
    OUTPUT.parent.mkdir(exist_ok=True)
    np.savez_compressed(OUTPUT, **arrays)
    print(f"{OUTPUT}: {', '.join(f'{name} {array.shape}' for name, array in arrays.items())}")


if __name__ == "__main__":
    main()
