"""Pipeline overhead: a no-op `dvc repro` on the full real CSV, and a rerun after a training-param change.

    python bench/pipeline_overhead.py

Runs in a scratch git+DVC copy of the project: all 44,930 reviews of ../shared at max_length 128 with the
tiny demo model (demo/tiny-bert, trained from scratch for one epoch), so that the time measured is DVC's and
the stages', not a long training run. Prints a markdown table.
"""

from __future__ import annotations

import datetime
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from report import markdown_table  # bench/report.py (bench/ is on sys.path when run)
from scratch import ROOT, copy_project, stage_env

SHARED = ROOT.parent / "shared"


def run(command: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=stage_env(), capture_output=True, text=True, check=True)
    return time.perf_counter() - start, result.stdout


def scratch_project(folder: Path) -> Path:
    copy_project(folder)
    params = yaml.safe_load((ROOT / "demo/params.yaml").read_text())
    params["data"]["raw_csv"] = str(SHARED / "data/imdb/IMDB Dataset.csv")
    params["model"]["checkpoint"] = "demo/tiny-bert"
    params["tokenize"]["max_length"] = 128
    params["train"].update(epochs=1, batch_size=32)
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for command in (["git", "init", "-q"], ["git", "add", "-A"],
                    ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "copy"]):
        subprocess.run(command, cwd=folder, check=True)
    return folder


def stages(output: str) -> str:
    return ", ".join(re.findall(r"Running stage '(\w+)'", output)) or "none"


def main() -> None:
    dvc = [sys.executable, "-m", "dvc", "repro"]
    with tempfile.TemporaryDirectory(prefix="pipeline-overhead-") as folder:
        project = scratch_project(Path(folder))
        first, output = run(dvc, project)
        rows = [["first `dvc repro`", f"{first:.1f}", stages(output)]]
        noop = [run(dvc, project) for _ in range(3)]
        rows.append(["no-op `dvc repro` (median of 3)", f"{statistics.median(t for t, _ in noop):.1f}",
                     stages(noop[-1][1])])
        params = yaml.safe_load((project / "params.yaml").read_text())
        params["train"]["learning_rate"] = 2.0e-3
        (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        rerun, output = run(dvc, project)
        rows.append(["`dvc repro` after changing train.learning_rate", f"{rerun:.1f}", stages(output)])
    print(f"Pipeline overhead, {datetime.date.today()}: all 44,930 reviews of ../shared at max_length 128, the "
          f"tiny demo model for 1 epoch; nproc={os.cpu_count()}, no GPU.\n")
    print(markdown_table(["run", "seconds", "stages run"], rows))


if __name__ == "__main__":
    main()
