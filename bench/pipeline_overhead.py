"""Pipeline overhead: a no-op `dvc repro` on the full real CSV, and a rerun after a training-param change.

    python -m bench.pipeline_overhead                 # all 44,930 reviews
    python -m bench.pipeline_overhead --rows 500      # a quick look (data.max_rows)

Runs in a scratch git+DVC copy of the project: all 44,930 reviews of ../shared at max_length 128 with the
tiny demo model (demo/tiny-bert, trained from scratch for one epoch), so that the time measured is DVC's and
the stages', not a long training run. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import datetime
import re
import statistics
import tempfile
from pathlib import Path

from bench.common import (
    ROOT,
    SHARED_CSV,
    copy_project,
    dvc,
    machine_line,
    markdown_table,
    read_params,
    require,
    write_params,
)


def scratch_project(folder: Path, rows: int | None) -> Path:
    params = read_params(ROOT / "demo/params.yaml")
    params["data"].update(raw_csv=str(SHARED_CSV), max_rows=rows)
    params["model"]["checkpoint"] = "demo/tiny-bert"
    params["tokenize"]["max_length"] = 128
    params["train"].update(epochs=1, batch_size=32)
    return copy_project(folder, params, git=True)


def stages(output: str) -> str:
    return ", ".join(re.findall(r"Running stage '(\w+)'", output)) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, help="a seeded sample of this many reviews (default: all)")
    args = parser.parse_args()
    require(SHARED_CSV)
    with tempfile.TemporaryDirectory(prefix="pipeline-overhead-") as folder:
        project = scratch_project(Path(folder), args.rows)
        first, output = dvc(project, "repro")
        rows = [["first `dvc repro`", f"{first:.1f}", stages(output)]]
        noop = [dvc(project, "repro") for _ in range(3)]
        rows.append(["no-op `dvc repro` (median of 3)", f"{statistics.median(t for t, _ in noop):.1f}",
                     stages(noop[-1][1])])
        params = read_params(project / "params.yaml")
        params["train"]["learning_rate"] = 2.0e-3
        write_params(project, params)
        rerun, output = dvc(project, "repro")
        rows.append(["`dvc repro` after changing train.learning_rate", f"{rerun:.1f}", stages(output)])
    print(f"Pipeline overhead, {datetime.date.today()}: {f'{args.rows:,}' if args.rows else 'all'} reviews of "
          f"../shared at max_length 128, the "
          f"tiny demo model for 1 epoch; {machine_line()}.\n")
    print(markdown_table(["run", "seconds", "stages run"], rows))


if __name__ == "__main__":
    main()
