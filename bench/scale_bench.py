"""Scale benchmark: wall time and peak RSS of the `split` and `tokenize` stages on an N-row corpus.

    python -m bench.scale_bench --rows 500000        # default 500000

Builds an N-row CSV in the Kaggle schema (review,sentiment) in a temp dir by repeating the real IMDB reviews,
each repeat made distinct with " (copy K)" so that `split` does not drop it as a duplicate; makes a scratch copy
of the project beside it (raw_csv = that CSV, the local MiniLM checkpoint, max_length 512), runs its `split` then
`tokenize` stage there (dvc.yaml's commands), each started by a small os.wait4 wrapper that reports its wall and
CPU seconds and peak RSS, and prints a markdown table. The temp dir is deleted at the end.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    SHARED_CSV,
    SHARED_MINILM,
    copy_project,
    machine_busy_seconds,
    machine_line,
    markdown_table,
    project_env,
    read_params,
    require,
    stage_command,
)

MAX_LENGTH = 512
TOKENIZE_TARGET_BYTES = 1.5e9  # issue "Scale out": tokenize peak RSS under 1.5 GB at any corpus size
MIB = 1024 * 1024

# Run by a fresh, small interpreter: fork + exec the stage and report its wait4 rusage. Starting the stage from
# this small process (not from the benchmark itself) keeps ru_maxrss from inheriting a big parent's peak.
WAIT4_WRAPPER = """
import json, os, sys, time
out, command = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(command[0], command)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
code = os.waitstatus_to_exitcode(status)
with open(out, "w") as handle:
    json.dump({"seconds": time.perf_counter() - start, "user": usage.ru_utime, "system": usage.ru_stime,
               "max_rss_kb": usage.ru_maxrss, "exit": code}, handle)
sys.exit(code if code >= 0 else 128 - code)
"""


@dataclass
class StageResult:
    """What one stage run cost; `status` is "ok" or why it did not finish."""

    name: str
    status: str = "ok"
    rows: int | None = None
    seconds: float = 0.0
    user: float = 0.0
    system: float = 0.0
    max_rss_kb: int | None = None
    others_cpu: float = 0.0
    load_before: float = 0.0

    @property
    def cpu(self) -> float:
        return self.user + self.system


def generate_csv(path: Path, rows: int, chunk_size: int = 10_000) -> int:
    """Write `rows` reviews in the Kaggle schema by streaming the real CSV repeatedly; return the rows written.

    Copy 0 is the real data verbatim (its own few exact duplicates included); copy K >= 1 appends " (copy K)".
    """
    import pandas as pd

    written, copy = 0, 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        while written < rows:
            for chunk in pd.read_csv(SHARED_CSV, chunksize=chunk_size, dtype=str, keep_default_na=False):
                chunk = chunk[["review", "sentiment"]].head(rows - written)
                if copy:
                    chunk = chunk.assign(review=chunk["review"] + f" (copy {copy})")
                chunk.to_csv(handle, header=written == 0, index=False, lineterminator="\n")
                written += len(chunk)
                if written >= rows:
                    break
            copy += 1
    return written


def make_project(folder: Path, csv: Path) -> None:
    """A scratch copy of the project with data, checkpoint and max_length changed."""
    params = read_params()
    params["data"]["raw_csv"] = str(csv)
    params["model"]["checkpoint"] = str(SHARED_MINILM)
    params["tokenize"]["max_length"] = MAX_LENGTH
    copy_project(folder, params)


def run_stage(name: str, project: Path, logs: Path, timeout: float) -> StageResult:
    """Run stage `name` in `project` under the wait4 wrapper and measure it."""
    report = logs / f"{name}.rusage"
    command = [sys.executable, "-I", "-S", "-c", WAIT4_WRAPPER, str(report), *stage_command(project, name)]
    env = project_env(project, TF_CPP_MIN_LOG_LEVEL="2")
    result = StageResult(name, load_before=os.getloadavg()[0])
    busy, start = machine_busy_seconds(), time.perf_counter()
    with (logs / f"{name}.log").open("w") as log:
        process = subprocess.Popen(command, cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the session we started: the wrapper and the stage
            process.wait()
            result.status = f"timed out after {timeout:.0f} s (killed)"
    result.seconds = time.perf_counter() - start
    others_busy = machine_busy_seconds() - busy

    measured = json.loads(report.read_text()) if report.is_file() and report.stat().st_size else {}
    for key in ("seconds", "user", "system", "max_rss_kb"):
        if key in measured:
            setattr(result, key, measured[key])
    result.others_cpu = max(0.0, others_busy - result.cpu)
    code = measured.get("exit", process.returncode)
    if result.status == "ok" and code != 0:
        if code < 0:
            reason = signal.Signals(-code).name + (" (likely the OOM killer)" if -code == signal.SIGKILL else "")
            result.status = f"failed: killed by {reason}"
        else:
            result.status = f"failed: exit {code}"
    if result.status != "ok":
        tail = (logs / f"{name}.log").read_text(errors="replace").splitlines()[-15:]
        print(f"{name}: {result.status}; last log lines:\n" + "\n".join(tail), file=sys.stderr)
    return result


def count_rows(project: Path, results: dict[str, StageResult]) -> None:
    """Rows each finished stage handled: split's rows read, tokenize's rows written over all splits."""
    data_report = project / "metrics" / "data.json"
    if results["split"].status == "ok" and data_report.is_file():
        results["split"].rows = json.loads(data_report.read_text())["rows_read"]
    meta = project / "data" / "tokens" / "meta.json"
    if "tokenize" in results and results["tokenize"].status == "ok" and meta.is_file():
        results["tokenize"].rows = sum(split["rows"] for split in json.loads(meta.read_text())["splits"].values())


def print_table(results: dict[str, StageResult], csv_bytes: int, generated: int, project_report: dict | None,
                parent_peak_mib: float) -> None:
    nproc = len(os.sched_getaffinity(0))
    kept = ""
    if project_report:
        removed = project_report["rows_removed"].get("duplicate_text", 0)
        kept = f" `split` kept {project_report['rows_kept']:,} ({removed:,} exact duplicate texts removed)."
    print(f"Scale benchmark, {datetime.date.today()}: {generated:,}-row CSV ({csv_bytes / 1e6:,.0f} MB) made by "
          f"repeating the {SHARED_CSV.name!r} reviews with \" (copy K)\" suffixes; {machine_line()}; "
          f"tokenizer {SHARED_MINILM.name}, max_length {MAX_LENGTH}.{kept} Targets: `tokenize` peak RSS under 1.5 GB "
          f"(1.5e9 bytes = {TOKENIZE_TARGET_BYTES / MIB:,.0f} MiB) at any corpus size (issue \"Scale out\"); "
          f"`split`: report.\n")
    columns = ["stage", "rows", "seconds", "reviews/s", "peak RSS (MiB)", "target", "CPU s (user+sys)",
               "others' CPU s"]
    table = []
    for name, result in results.items():
        peak = result.max_rss_kb * 1024 / MIB if result.max_rss_kb is not None else None
        if name == "tokenize":
            target = "< 1.5 GB: " + ("n/a" if peak is None or result.status != "ok"
                                     else "**met**" if peak * MIB < TOKENIZE_TARGET_BYTES else "**missed**")
        else:
            target = "report"
        rows = f"{result.rows:,}" if result.rows is not None else result.status
        rate = f"{result.rows / result.seconds:,.0f}" if result.rows and result.seconds else "-"
        cells = [name, rows, f"{result.seconds:,.1f}", rate, f"{peak:,.0f}" if peak is not None else "-", target,
                 f"{result.cpu:,.1f}", f"{result.others_cpu:,.1f}"]
        table.append(cells)
    print(markdown_table(columns, table))
    loads = ", ".join(f"{name} {result.load_before:.2f}" for name, result in results.items())
    print(f"\nseconds = wall time and peak RSS = max resident set size, both from the wait4 wrapper (ru_maxrss); "
          f"MiB = 2^20 bytes, MB = 10^6. CPU s above seconds means more than one core busy. others' CPU s = CPU "
          f"time the rest of the machine used during the stage (contention; {nproc} cores). 1-min load average "
          f"before each stage: {loads}. Benchmark parent's own peak RSS: {parent_peak_mib:,.0f} MiB; the stages are "
          f"started by the small timing process, so their ru_maxrss does not inherit it.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000, help="rows in the generated CSV (default 500000)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before a stage is killed (3600)")
    parser.add_argument("--tmpdir", type=Path, help="where to make the temp dir (default: the system's)")
    args = parser.parse_args()
    if args.rows < 2:
        parser.error("--rows must be at least 2")
    require(SHARED_CSV, SHARED_MINILM)

    with tempfile.TemporaryDirectory(prefix="scale_bench_", dir=args.tmpdir) as tmp:
        csv, project, logs = Path(tmp) / "reviews.csv", Path(tmp) / "project", Path(tmp) / "logs"
        started = time.perf_counter()
        generated = generate_csv(csv, args.rows)
        csv_bytes = csv.stat().st_size
        print(f"generated {generated:,} rows ({csv_bytes / 1e6:,.0f} MB) in {time.perf_counter() - started:.0f} s",
              file=sys.stderr)
        make_project(project, csv)
        logs.mkdir()
        results: dict[str, StageResult] = {}
        for name in ("split", "tokenize"):
            print(f"running {name} ...", file=sys.stderr)
            results[name] = run_stage(name, project, logs, args.timeout)
            if results[name].status != "ok":
                break
        for name in ("split", "tokenize"):
            results.setdefault(name, StageResult(name, status="not run (split did not finish)"))
        count_rows(project, results)
        data_report = project / "metrics" / "data.json"
        project_report = json.loads(data_report.read_text()) if data_report.is_file() else None

    parent_peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print_table(results, csv_bytes, generated, project_report, parent_peak_mib)


if __name__ == "__main__":
    main()
