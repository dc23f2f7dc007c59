"""Checks before `dvc repro` (run by `make repro`): params.yaml is valid and the raw CSV is there.

DVC stops on a missing dependency before any stage runs, with a bare `No such file or directory`;
this says instead where to get the Kaggle CSV. With `--track` (`make data`), it also puts the CSV under DVC
(`dvc add`) and stages the small `.dvc` file for git, so that `dvc exp run --queue`, a clone and CI get the
same bytes from the cache or the remote, and a changed CSV shows in `dvc status`.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
from pathlib import Path

from imdb_bert.data import require_raw_csv
from imdb_bert.errors import PipelineError, run_stage
from imdb_bert.params import load_params

log = logging.getLogger("preflight")


def track(raw_csv: Path) -> None:
    """`dvc add` the CSV, then `git add` its .dvc file (and the .gitignore DVC writes beside it, where git did not
    ignore the CSV already)."""
    ignore = raw_csv.parent / ".gitignore"
    for command in (["dvc", "add", "--quiet", str(raw_csv)],
                    ["git", "add", f"{raw_csv}.dvc", *([str(ignore)] if ignore.is_file() else [])]):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            reason = ((done.stderr or done.stdout).strip().splitlines() or [f"exit {done.returncode}"])[-1]
            raise PipelineError(f"{raw_csv}: `{' '.join(command)}` failed ({reason})")
    log.info("%s is tracked by DVC; commit its .dvc file: git commit -m 'Track the raw reviews with DVC'", raw_csv)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--track", action="store_true", help="also put data.raw_csv under DVC (dvc add) and stage "
                                                             "its .dvc file for git")
    args = parser.parse_args()
    raw_csv = Path(load_params().data.raw_csv)
    require_raw_csv(raw_csv)
    if args.track:
        track(raw_csv)


def cli() -> None:
    run_stage(main)


if __name__ == "__main__":
    cli()
