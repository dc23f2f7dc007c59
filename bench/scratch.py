"""Scratch copies of the project for benchmarks that run its stages, and the environment they run in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def copy_project(dest: Path) -> Path:
    """Copy what git tracks or would track (so no outputs, no .venv) into `dest`."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in (name for name in files if name and (ROOT / name).is_file()):  # not a .venv symlink
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, dest / name)
    return dest


def stage_env(**extra: str) -> dict[str, str]:
    """Offline, with this Python's bin first on PATH (DVC stages call `python`)."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "HF_HUB_OFFLINE": "1", **extra}


def run_stage(project: Path, name: str, log: Path, **environment: str) -> float:
    """Run `python stages/NAME.py` in the project (with `environment` added); return its wall seconds. Its output
    goes to `log`."""
    start = time.perf_counter()
    with log.open("a") as out:
        done = subprocess.run([sys.executable, f"stages/{name}.py"], cwd=project,
                              env=stage_env(PYTHONWARNINGS="ignore", **environment), stdout=out,
                              stderr=subprocess.STDOUT)
    if done.returncode != 0:
        sys.exit(f"error: stage {name} failed in {project} (exit {done.returncode}); see {log}")
    return time.perf_counter() - start
