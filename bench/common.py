"""What the benchmarks share: the real data's paths, scratch copies of the project, timers, tables, the machine.

Only the standard library is imported here at the top (PyYAML inside the functions that need it), so that
bench/gpu_bench.py can use this module on a machine that has numpy, JAX and Keras and nothing else.
"""

from __future__ import annotations

import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The real data beside the project (bench code only: user-facing text says "a local checkpoint directory").
SHARED = ROOT.parent / "shared"
SHARED_CSV = SHARED / "data/imdb/IMDB Dataset.csv"
SHARED_MINILM = SHARED / "models/minilm-l6-h384-uncased"
SHARED_MINILM_SAFETENSORS = SHARED / "models/minilm-l6-h384-uncased-safetensors"  # the same weights, Hub form
LABELS = ["negative", "positive"]


def require(*paths: Path) -> None:
    """Exit with one line if the real data a benchmark needs is missing."""
    missing = [str(path) for path in paths if not path.exists()]
    if missing:
        sys.exit(f"error: this benchmark needs {' and '.join(missing)} (the real reviews and checkpoints in "
                 f"{SHARED}, beside the project)")


# ---------------------------------------------------------------------------------------------------- scratch copies


def read_params(path: Path = ROOT / "params.yaml") -> dict:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def write_params(project: Path, params: dict) -> None:
    import yaml

    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


def copy_project(dest: Path, params: dict | None = None, git: bool = False, rev: str | None = None) -> Path:
    """A scratch copy of the project: what git tracks or would track (no outputs, no .venv), or the tree at `rev`;
    with `params` as its params.yaml; committed to a fresh git repository when `git` (DVC needs one)."""
    dest.mkdir(parents=True, exist_ok=True)
    if rev:
        archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    else:
        listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                                capture_output=True, check=True).stdout.decode().split("\0")
        for name in (name for name in listed if name and (ROOT / name).is_file()):  # not a .venv symlink
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    if params is not None:
        write_params(dest, params)
    if git:
        commit(dest)
    return dest


def commit(project: Path) -> None:
    """Make the copy a git repository with everything committed (DVC needs one)."""
    author = ["-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    for command in (["init", "-q"], ["add", "-A"], [*author, "commit", "-qm", "copy", "--allow-empty"]):
        subprocess.run(["git", *command], cwd=project, check=True, capture_output=True)


def project_env(project: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment for commands run in a copy: offline, this Python's bin first on PATH (DVC stages call
    `python`), and the copy's own src/ first on the import path, so that it runs its own code, not the install's."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "HF_HUB_OFFLINE": "1", "DVC_NO_ANALYTICS": "1"}
    if project is not None and (project / "src").is_dir():
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(project / "src"), os.environ.get("PYTHONPATH")]))
    return {**env, **extra}


def stage_command(project: Path, name: str) -> list[str]:
    """The command the copy's dvc.yaml gives stage `name`, run with this Python."""
    import yaml

    stages = yaml.safe_load((project / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    return [sys.executable, *shlex.split(stages[name]["cmd"])[1:]]


def run_timed(command: list[str], project: Path, log: Path | None = None, **env: str) -> tuple[float, str]:
    """Run `command` in `project` (with project_env); its wall seconds and output. With `log`, the output is
    appended there instead (and "" returned). A failure exits with one line naming the command and its output."""
    start = time.perf_counter()
    with log.open("a") if log else open(os.devnull, "w") as out:
        done = subprocess.run(command, cwd=project, env=project_env(project, **env), text=True,
                              stdout=out if log else subprocess.PIPE, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        where = f"see {log}" if log else f"its output ends:\n{done.stdout[-3000:]}"
        sys.exit(f"error: `{shlex.join(command[1:])}` failed in {project} (exit {done.returncode}); {where}")
    return time.perf_counter() - start, done.stdout or ""


def run_stage(project: Path, name: str, log: Path, **env: str) -> float:
    """Run stage `name` as dvc.yaml does, output appended to `log`; its wall seconds."""
    return run_timed(stage_command(project, name), project, log, PYTHONWARNINGS="ignore", **env)[0]


def dvc(project: Path, *args: str, log: Path | None = None, **env: str) -> tuple[float, str]:
    return run_timed([sys.executable, "-m", "dvc", *args], project, log, PYTHONWARNINGS="ignore", **env)


# ---------------------------------------------------------------------------------------------------- timers


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """The median wall seconds of `repeats` calls."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all but idle and iowait) since boot."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """User + system CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------------------------------- reports


def markdown_table(columns: list[str], rows: list[list[object]]) -> str:
    """A table with the first column left-aligned and the rest right-aligned."""
    lines = ["| " + " | ".join(columns) + " |", "|---" + "|---:" * (len(columns) - 1) + "|"]
    return "\n".join(lines + ["| " + " | ".join(map(str, row)) + " |" for row in rows])


def cpu_model() -> str:
    """The CPU's model name and the cores this process may use."""
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or platform.machine()
    return f"{model}, {len(os.sched_getaffinity(0))} cores"


def native_bf16() -> list[str]:
    """The CPU's native bfloat16 flags in /proc/cpuinfo (avx512_bf16, amx_bf16), none where it cannot be read."""
    try:
        flags = set(next(line for line in Path("/proc/cpuinfo").read_text().splitlines()
                         if line.startswith("flags")).split(":", 1)[1].split())
    except (OSError, StopIteration):
        return []
    return [flag for flag in ("avx512_bf16", "amx_bf16") if flag in flags]


def machine_line() -> str:
    """The machine in one line: CPU, cores, native bfloat16, GPUs the NVIDIA driver lists, load average now."""
    bf16 = native_bf16()
    gpus = len(list(Path("/proc/driver/nvidia/gpus").glob("*")))
    load = os.getloadavg()
    return (f"{cpu_model()}, {'native bf16 (' + ', '.join(bf16) + ')' if bf16 else 'no native bf16'}, "
            f"{f'{gpus} NVIDIA GPU(s)' if gpus else 'no GPU'}; load average {load[0]:.1f} / {load[1]:.1f} / "
            f"{load[2]:.1f} (1/5/15 min)")
