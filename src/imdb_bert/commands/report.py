"""A report that needs nothing else: the pipeline's plots as SVG and PNG images, and a Markdown summary.

    imdb-report                 # the workspace -> reports/report.md and reports/*.svg, *.png
    imdb-report --rev main      # plots of both, and metrics and params against main

Every plot that `dvc plots show --json` (or `dvc plots diff REV --json`) lists is rendered from its
Vega-Lite spec, data filled in, by vl-convert: no browser, and no network (external data URLs are
refused), unlike `dvc plots show`'s HTML, which loads Vega from a CDN. Run it after `dvc repro`.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from imdb_bert.errors import PipelineError, run_stage
from imdb_bert.evaluation.outputs import DETAILS_FILE, HEADLINE
from imdb_bert.files import atomic_path
from imdb_bert.params import PARAMS_FILE

REPORT_DIR = Path("reports")
log = logging.getLogger("report")


def dvc_json(*args: str) -> Any:
    """The JSON output of a dvc command (DVC's own warnings go to stderr and are dropped)."""
    result = subprocess.run([sys.executable, "-m", "dvc", *args, "--json"], capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise PipelineError(f"`dvc {' '.join(args)}` failed: {last}")
    return json.loads(result.stdout or "{}")


def render(spec: dict, fmt: str) -> str | bytes:
    """A Vega-Lite spec as SVG text or PNG bytes, with every external URL refused."""
    import vl_convert

    if fmt == "svg":
        return vl_convert.vegalite_to_svg(spec, allowed_base_urls=[])
    return vl_convert.vegalite_to_png(spec, scale=2, allowed_base_urls=[])


def file_name(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "plot"


def plot_title(key: str, entries: list[dict]) -> str:
    """The title a plot shows: its spec's (a plot defined on a directory of files is keyed by each file's path),
    else its key in `dvc plots show --json`."""
    for entry in entries:
        title = entry.get("content", {}).get("title") if entry["type"] == "vega" else None
        text = title.get("text") if isinstance(title, dict) else title
        if isinstance(text, str) and text:
            return text
    return key


def write_images(plots: dict, out: Path) -> list[tuple[str, list[str]]]:
    """Each plot's images under `out`; return (title, image file names) in `plots`' order."""
    written: list[tuple[str, list[str]]] = []
    taken: set[str] = set()
    for key, entries in plots.items():
        title = plot_title(key, entries)
        names = []
        for entry in entries:
            stem = file_name(title)
            while stem in taken:
                stem += "-1"
            taken.add(stem)
            if entry["type"] == "vega":
                (out / f"{stem}.svg").write_text(render(entry["content"], "svg"), encoding="utf-8")
                (out / f"{stem}.png").write_bytes(render(entry["content"], "png"))
                names.append(f"{stem}.png")
            elif entry["type"] == "image":  # dvclive images: already pictures
                source = Path(entry["url"])
                shutil.copy(source, out / f"{stem}{source.suffix}")
                names.append(f"{stem}{source.suffix}")
        written.append((title, names))
    return written


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix: data}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        flat.update(flatten(value, f"{prefix}{key}." if isinstance(value, dict) else f"{prefix}{key}"))
    return flat


def number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def metric_tables(rev: str | None, targets: list[str], drop: tuple[str, ...] = ()) -> list[str]:
    """A table per metrics file: `dvc metrics show` (or `diff` against `rev`) of dvc.yaml's metrics files, or of
    `targets`; figures whose names start with one of `drop` are left out."""
    extra = [arg for target in targets for arg in ("--targets", target)] if rev else targets
    lines: list[str] = []
    if rev:
        for path, metrics in sorted(dvc_json("metrics", "diff", rev, "--all", *extra).items()):
            rows = {name: value for name, value in metrics.items() if not name.startswith(drop)}
            lines += [f"`{path}`", "", f"| metric | {rev} | workspace | change |", "|---|---|---|---|"]
            lines += [f"| {name} | {number(value['old'])} | {number(value['new'])} | {number(value.get('diff'))} |"
                      for name, value in sorted(rows.items())]
            lines.append("")
        return lines
    shown = dvc_json("metrics", "show", *extra)
    for path, content in sorted(next(iter(shown.values()), {}).get("data", {}).items()):
        if "data" not in content:
            continue
        rows = {name: value for name, value in flatten(content["data"]).items() if not name.startswith(drop)}
        lines += [f"`{path}`", "", "| metric | value |", "|---|---|"]
        lines += [f"| {name} | {number(value)} |" for name, value in rows.items()]
        lines.append("")
    return lines


def metrics_section(rev: str | None) -> list[str]:
    """The headline metrics, then every other figure: per class, per length slice, threshold, temperature."""
    lines = ["## Metrics", "", *metric_tables(rev, [])]
    if Path(DETAILS_FILE).is_file():
        lines += ["## Details", "", *metric_tables(rev, [DETAILS_FILE], drop=(*HEADLINE, "data."))]
    return lines


def params_section(rev: str | None) -> list[str]:
    if rev:
        changed = dvc_json("params", "diff", rev)
        lines = [f"## Params changed against {rev}", ""]
        rows = [(name, value) for values in changed.values() for name, value in values.items()]
        if not rows:
            return lines + ["None.", ""]
        return lines + ["| param | old | new |", "|---|---|---|",
                        *(f"| {name} | {number(v['old'])} | {number(v['new'])} |" for name, v in rows), ""]
    params = flatten(yaml.safe_load(Path(PARAMS_FILE).read_text(encoding="utf-8")))
    return ["## Params", "", "| param | value |", "|---|---|",
            *(f"| {name} | {number(value)} |" for name, value in params.items()), ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rev", help="compare with this git revision (a branch, tag or commit)")
    parser.add_argument("--output", type=Path, default=REPORT_DIR, help="where to write (default: reports/)")
    args = parser.parse_args()
    shown = dvc_json("plots", "diff", args.rev) if args.rev else dvc_json("plots", "show")
    plots = shown.get("data") or {}
    if not any(plots.values()):  # dvc lists the plots dvc.yaml defines, each empty when its data is missing
        raise PipelineError("no plots to report; run `dvc repro` first")
    with atomic_path(args.output) as out:
        out.mkdir()
        images = write_images(plots, out)
        lines = ["# Pipeline report", ""]
        if args.rev:
            lines += [f"Against `{args.rev}`.", ""]
        lines += metrics_section(args.rev) + params_section(args.rev) + ["## Plots", ""]
        for title, names in images:
            lines += [f"### {title}", ""] + ([] if names else ["No data: its files are missing.", ""])
            for name in names:  # PNG shows everywhere (pull request comments too); the SVG beside it scales
                svg = Path(name).with_suffix(".svg").name
                lines += [f"![{title}]({name})", *([f"[SVG]({svg})", ""] if (out / svg).is_file() else [""])]
        missing = sorted({error.get("rev", "?") for error in shown.get("errors") or []})
        if missing:
            lines += [f"Some plot files were missing for: {', '.join(missing)}.", ""]
        (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    log.info("wrote %s/report.md and %d images", args.output, sum(len(names) for _, names in images))


def cli() -> None:
    run_stage(main)


if __name__ == "__main__":
    cli()
