"""CI for the pipeline, the same on GitHub (.github/workflows/pipeline.yml calls it) and on any machine.

    imdb-ci                         # rerun what changed; the summary on stdout
    imdb-ci --base main --summary summary.md --report

1. With a default DVC remote (`dvc remote add -d`): checks that it answers (else one `error:` line, before any
   file changes), then `dvc repro --pull --allow-missing`: unchanged stages are skipped without downloading
   anything, a stage that runs pulls only its inputs, and a stage someone already ran with these inputs is
   restored from the pushed run-cache instead of rerun. Without a remote: `dvc repro`.
2. On the push branch (main; GitHub's GITHUB_REF_NAME, else git's current branch), with a remote:
   `dvc push --run-cache`, so the next run, and every clone, reuses what this one computed.
3. The summary (Markdown; --summary FILE, else $GITHUB_STEP_SUMMARY, else stdout): the headline metrics
   (`dvc metrics show --md`) and, with --base, `dvc metrics diff` and `dvc params diff` against it.
   --report also renders the plots and imdb-report's report into reports/ and adds it to the summary.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path

from imdb_bert.errors import PipelineError, run_stage

log = logging.getLogger("ci")
# What the summary and the report read, pulled when `dvc repro --pull --allow-missing` skipped their stages.
REPORTED = ["metrics/eval.json", "metrics/train/metrics.json", "metrics/eval_details.json", "metrics/train/plots",
            "metrics/eval"]


def dvc(*args: str, capture: bool = False) -> str:
    """Run a dvc command; its output streams to the log unless captured. A failure is a PipelineError."""
    result = subprocess.run([sys.executable, "-m", "dvc", *args], text=True,
                            capture_output=capture, stdout=None if capture else sys.stderr)
    if result.returncode != 0:
        last = ((result.stderr or "").strip().splitlines() or [f"exit status {result.returncode}"])[-1]
        raise PipelineError(f"`dvc {' '.join(args)}` failed: {last.removeprefix('ERROR: ')}")
    return result.stdout or ""


def default_remote() -> str | None:
    result = subprocess.run([sys.executable, "-m", "dvc", "remote", "default"], capture_output=True, text=True)
    return result.stdout.strip() or None if result.returncode == 0 else None


def check_remote(name: str) -> None:
    """One error line if the remote does not answer or its location does not exist; reads, writes nothing."""
    from dvc.repo import Repo

    with Repo() as repo:
        url = repo.config["remote"][name]["url"]
        try:
            remote = repo.cloud.get_remote(name)
            fs = remote.fs
            # A local remote's directory must exist; an object store's bucket must (a new prefix need not).
            where = remote.path if fs.protocol == "local" else remote.path.split("/")[0]
            fs.ls(where)  # `exists` would answer False for an unreachable server too
        except FileNotFoundError:
            raise PipelineError(f"DVC remote '{name}' ({url}): {where} does not exist; check the URL "
                                f"(`dvc remote modify {name} url ...`)") from None
        except Exception as error:  # noqa: BLE001 (any client error: unreachable, refused, bad credentials)
            message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise PipelineError(f"DVC remote '{name}' ({url}) cannot be reached: {message}") from None


def current_branch() -> str:
    if os.environ.get("GITHUB_REF_NAME"):
        return os.environ["GITHUB_REF_NAME"]
    result = subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], capture_output=True, text=True)
    return result.stdout.strip()


def is_commit(rev: str) -> bool:
    return subprocess.run(["git", "cat-file", "-e", f"{rev}^{{commit}}"], capture_output=True).returncode == 0


def table(*args: str) -> str:
    """A dvc command's Markdown table; "No change." for a diff with no rows (DVC prints its header alone)."""
    text = dvc(*args, "--md", capture=True).strip()
    return text if len(text.splitlines()) > 2 else "No change."


def summary(base: str | None) -> list[str]:
    lines = ["## Metrics", "", table("metrics", "show"), ""]
    if base:
        short = base[:8] if len(base) == 40 else base
        lines += [f"## Metrics against the base ({short})", "", table("metrics", "diff", base), "",
                  "## Params against the base", "", table("params", "diff", base), ""]
    return lines


def report(base: str | None) -> list[str]:
    """The plots (`dvc plots diff/show` HTML in plots-report/) and imdb-report's report in reports/."""
    dvc(*(["plots", "diff", base] if base else ["plots", "show"]), "-o", "plots-report", capture=True)
    result = subprocess.run([sys.executable, "-m", "imdb_bert.commands.report", *(["--rev", base] if base else [])])
    if result.returncode != 0:
        raise PipelineError("src/imdb_bert/commands/report.py failed (its error is above)")
    return [Path("reports/report.md").read_text(encoding="utf-8")]


def main() -> None:
    logging.getLogger("aiobotocore").setLevel(logging.WARNING)  # "Found credentials in environment variables."
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="git revision to compare with (skipped when it is no commit here)")
    parser.add_argument("--summary", type=Path, help="append the Markdown summary here "
                        "(default: $GITHUB_STEP_SUMMARY, else stdout)")
    parser.add_argument("--push-branch", default="main", help="push outputs and run-cache on this branch "
                        "(default: main)")
    parser.add_argument("--report", action="store_true", help="also render the plots and the report (reports/)")
    args = parser.parse_args()
    base = args.base if args.base and is_commit(args.base) else None
    if args.base and not base:
        log.info("base %s is no commit here: no comparison", args.base)

    remote = default_remote()
    if remote:
        check_remote(remote)
        log.info("DVC remote '%s': rerunning what changed, pulling only what the stages that run need", remote)
        dvc("repro", "--pull", "--allow-missing")
        dvc("pull", "--allow-missing", *REPORTED)
        if current_branch() == args.push_branch:
            dvc("push", "--run-cache")
        else:
            log.info("not on %s: nothing pushed", args.push_branch)
    else:
        log.info("no DVC remote: `dvc repro` runs what changed here; nothing is pulled or pushed")
        dvc("repro")

    lines = summary(base) + (report(base) if args.report else [])
    target = args.summary or (Path(os.environ["GITHUB_STEP_SUMMARY"]) if os.environ.get("GITHUB_STEP_SUMMARY")
                              else None)
    if target is None:
        print("\n".join(lines))
    else:
        with target.open("a", encoding="utf-8") as file:
            file.write("\n".join(lines) + "\n")
        log.info("summary appended to %s", target)


def cli() -> None:
    run_stage(main)


if __name__ == "__main__":
    cli()
