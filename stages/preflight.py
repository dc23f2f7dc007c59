"""Checks before `dvc repro` (run by `make repro`): params.yaml is valid and the raw CSV is there.

DVC stops on a missing dependency before any stage runs, with a bare `No such file or directory`;
this says instead where to get the Kaggle CSV.
"""

from __future__ import annotations

import sys
from pathlib import Path

# `python stages/NAME.py` puts stages/ first on sys.path, where tokenize.py would shadow the
# standard library's tokenize: import from the project root instead.
if sys.path[0] == str(Path(__file__).resolve().parent):
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from stages.common.errors import run_stage
from stages.common.params import load_params
from stages.common.reviews import require_raw_csv


def main() -> None:
    require_raw_csv(load_params().data.raw_csv)


if __name__ == "__main__":
    run_stage(main)
