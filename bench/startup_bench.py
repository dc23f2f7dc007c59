"""Where the fixed time of `dvc repro -s tokenize` goes, and the end-to-end ratio to the tutorial's loop.

    python -m bench.startup_bench                      # 10,000 real reviews, max_length 512, 5 repeats
    python -m bench.startup_bench --rev 6d158db        # the same for the project as it was at a commit
    python -m bench.startup_bench --compare 6d158db    # both, interleaved in the same rounds

In a scratch git+DVC copy of the project (the working tree, or `--rev`), with the first `--rows` reviews of
the real CSV, a local MiniLM checkpoint directory and head truncation (the tutorial's), after `dvc repro split`:
- end to end: `dvc repro -s -f tokenize` (DVC start-up, hashing, the stage, caching its outputs; the cache is
  emptied before each run, as for outputs never seen), against the tutorial's loop run as a script
  (`python -m bench.tokenize_bench --worker tutorial`: interpreter, imports, slow tokenizer, loop, np.save) on
  the same reviews (the three split CSVs);
- in-process: the tokenization alone (our tokenize_split over the three splits; the tutorial's loop);
- the parts: interpreter start-up, the stage's imports, the tokenizer's loading, the stage's command alone,
  and DVC's own start-up (`dvc --version`) and checks (`dvc status`).
Runs are interleaved (one of each per repeat) so that other load on the machine hits both alike; medians
of wall seconds are printed, with the load average before and after, and the CPU seconds (user + system,
the process and its children), which other load on the machine changes much less.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from bench.common import (
    ROOT,
    SHARED_CSV,
    SHARED_MINILM,
    commit,
    copy_project,
    dvc,
    project_env,
    read_params,
    require,
    stage_command,
    write_params,
)

SPLITS = ("train", "validation", "test")

# Run with `python -c` in a copy (its src/ first on PYTHONPATH; an older layout's stages/ from the working
# directory), {module} being the copy's tokenize stage as dvc.yaml runs it.
IMPORTS = "import {module}"
LOAD = ("import sys; import {module} as t; "
        "loader = getattr(t, 'load_tokenize_tokenizer', None) or t.load_tokenizer; loader(sys.argv[1])")
IN_PROCESS = """
import json, sys, time; from pathlib import Path
import imdb_bert.stages.tokenize_reviews as t
from imdb_bert.params import load_params
loader = getattr(t, 'load_tokenize_tokenizer', None) or t.load_tokenizer
params = load_params(); tokenizer = loader(params.model.checkpoint); out = Path(sys.argv[1])
start = time.perf_counter()
for name in ('train', 'validation', 'test'):
    t.tokenize_split(Path('data/split') / f'{name}.csv', out / name, tokenizer, params.tokenize)
print(json.dumps({'seconds': time.perf_counter() - start}))
"""


def make_project(dest: Path, rev: str | None, rows: int, max_length: int) -> Path:
    """A git+DVC copy (of the working tree, or the tree at `rev`) with the first `rows` reviews, split."""
    project = copy_project(dest, rev=rev)
    pd.read_csv(SHARED_CSV, nrows=rows).to_csv(project / "data/raw/reviews.csv", index=False)
    params = read_params(project / "params.yaml")
    params["data"]["raw_csv"] = "data/raw/reviews.csv"
    params["model"]["checkpoint"] = str(SHARED_MINILM)
    params["tokenize"].update(max_length=max_length, truncation="head")
    write_params(project, params)
    commit(project)
    dvc(project, "repro", "split")
    frames = [pd.read_csv(project / f"data/split/{name}.csv", keep_default_na=False) for name in SPLITS]
    pd.concat(frames).to_csv(project / "tutorial.csv", index=False)
    return project


def stage_module(project: Path) -> str:
    """The module of the copy's tokenize stage: `-m imdb_bert.stages.tokenize_reviews`, or `stages/tokenize.py`."""
    command = stage_command(project, "tokenize")[1:]
    return command[1] if command[0] == "-m" else command[0].removesuffix(".py").replace("/", ".")


CPU: dict[str, list[float]] = {}  # CPU seconds per measurement, across rounds


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], cwd: Path, label: str = "", project: Path | None = None) -> tuple[float, str]:
    """Wall seconds and stdout of `command` in `cwd`, with the environment of `project` (default: `cwd`)."""
    start, cpu = time.perf_counter(), children_cpu()
    done = subprocess.run(command, cwd=cwd, env=project_env(project or cwd, TOKENIZERS_PARALLELISM="true"),
                          capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"error: {' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    if label:
        CPU.setdefault(label, []).append(children_cpu() - cpu)
    return seconds, done.stdout


def end_to_end(project: Path, label: str) -> float:
    shutil.rmtree(project / ".dvc/cache", ignore_errors=True)
    return timed([sys.executable, "-m", "dvc", "repro", "-s", "-f", "tokenize"], project, label)[0]


def one_round(project: Path, max_length: int, before: Path | None = None) -> dict[str, float]:
    python, dvc = sys.executable, [sys.executable, "-m", "dvc"]
    times = {"dvc repro -s -f tokenize": end_to_end(project, "dvc repro -s -f tokenize")}
    if before is not None:
        times["dvc repro -s -f tokenize, before"] = end_to_end(before, "dvc repro -s -f tokenize, before")
        load = LOAD.format(module=stage_module(before))
        times["import + load the tokenizer, before"] = timed([python, "-c", load, str(SHARED_MINILM)], before,
                                                             "import + load the tokenizer, before")[0]
    out = project / "scratch-tutorial"
    shutil.rmtree(out, ignore_errors=True)
    seconds, stdout = timed([python, "-m", "bench.tokenize_bench", "--worker", "tutorial", "--csv",
                             str(project / "tutorial.csv"), "--out", str(out), "--max-length", str(max_length)],
                            ROOT, "tutorial script", project)
    times["tutorial script"] = seconds
    times["tutorial loop (in-process)"] = json.loads(stdout.strip().splitlines()[-1])["seconds"]
    times["python -c pass"] = timed([python, "-c", "pass"], project)[0]
    module = stage_module(project)
    times[f"import {module}"] = timed([python, "-c", IMPORTS.format(module=module)], project)[0]
    times["import + load the tokenizer"] = timed([python, "-c", LOAD.format(module=module), str(SHARED_MINILM)],
                                                 project, "import + load the tokenizer")[0]
    times["the stage's command alone"] = timed(stage_command(project, "tokenize"), project)[0]
    ours = project / "scratch-ours"
    shutil.rmtree(ours, ignore_errors=True)
    times["ours: tokenize_split (in-process)"] = json.loads(timed([python, "-c", IN_PROCESS, str(ours)],
                                                                  project)[1].strip().splitlines()[-1])["seconds"]
    times["dvc --version"] = timed([*dvc, "--version"], project)[0]
    times["dvc status"] = timed([*dvc, "status"], project)[0]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rev", help="benchmark the project as it was at this git revision")
    parser.add_argument("--compare", metavar="REV", help="also run `dvc repro` of the project at REV each round")
    args = parser.parse_args()
    require(SHARED_CSV, SHARED_MINILM)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as scratch:
        project = make_project(Path(scratch) / "project", args.rev, args.rows, args.max_length)
        before = make_project(Path(scratch) / "before", args.compare, args.rows, args.max_length) \
            if args.compare else None
        reviews = sum(len(pd.read_csv(project / f"data/split/{name}.csv")) for name in SPLITS)
        rounds = []
        for repeat in range(args.repeats):
            rounds.append(one_round(project, args.max_length, before))
            print(f"round {repeat + 1}: " + ", ".join(f"{k} {v:.2f}" for k, v in rounds[-1].items()), flush=True)
    median = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
    ratio = median["tutorial script"] / median["dvc repro -s -f tokenize"]
    in_process = median["tutorial loop (in-process)"] / median["ours: tokenize_split (in-process)"]
    print(f"\nStart-up bench, {datetime.date.today()}, {args.rev or 'working tree'}: {reviews:,} real reviews "
          f"(the first {args.rows:,}, split), max_length {args.max_length}, head truncation; medians of "
          f"{args.repeats}; {os.cpu_count()} CPUs, load average {load_before[0]:.1f} before, "
          f"{os.getloadavg()[0]:.1f} after\n")
    print("| what | wall seconds (median) | CPU seconds (median) |\n| --- | ---: | ---: |")
    for key, value in median.items():
        cpu = f"{statistics.median(CPU[key]):.2f}" if key in CPU else ""
        print(f"| {key} | {value:.2f} | {cpu} |")
    print(f"\nend to end: tutorial script / dvc repro -s -f tokenize = {ratio:.1f}x")
    if args.compare:
        print(f"end to end at {args.compare}: "
              f"{median['tutorial script'] / median['dvc repro -s -f tokenize, before']:.1f}x")
    print(f"in-process: tutorial loop / tokenize_split = {in_process:.1f}x")


if __name__ == "__main__":
    main()
