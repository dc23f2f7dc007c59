"""Checks before `dvc repro` (run by `make repro`): params.yaml is valid and the raw CSV is there.

DVC stops on a missing dependency before any stage runs, with a bare `No such file or directory`;
this says instead where to get the Kaggle CSV.
"""

from __future__ import annotations

from imdb_bert.data import require_raw_csv
from imdb_bert.errors import run_stage
from imdb_bert.params import load_params


def main() -> None:
    require_raw_csv(load_params().data.raw_csv)


def cli() -> None:
    run_stage(main)


if __name__ == "__main__":
    cli()
