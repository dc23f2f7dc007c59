"""src/imdb_bert/commands/report.py: the pipeline's plots as images rendered offline, and a Markdown summary."""

from __future__ import annotations

import json
import re
import sys

import pytest
from conftest import copy_project, demo_params, dvc, run

from imdb_bert.commands.report import render

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def project(tmp_path_factory, trained_demo):
    return trained_demo.copy(tmp_path_factory.mktemp("report"))


def test_report_renders_every_listed_plot_offline_with_its_title(project):
    run([sys.executable, "-m", "imdb_bert.commands.report"], project)
    from imdb_bert.commands.report import plot_title

    listed = json.loads(dvc("plots", "show", "--json", cwd=project).stdout)["data"]
    titles = [plot_title(key, entries) for key, entries in listed.items()]
    assert "ROC (test)" in titles and "Loss" in titles
    assert len(titles) >= 5  # the training curves and the test plots, and whatever else dvc.yaml lists
    report = project / "reports"
    markdown = (report / "report.md").read_text()
    images = re.findall(r"!\[([^\]]+)\]\(([^)]+)\)", markdown)
    assert [title for title, _ in images] == titles
    for title, name in images:
        png = (report / name).read_bytes()
        assert png.startswith(PNG_SIGNATURE) and len(png) > 1000, name
        svg = (report / name).with_suffix(".svg").read_text()
        assert svg.startswith("<svg") and f">{title}</text>" in svg.replace("&amp;", "&"), title
    accuracy = json.loads((project / "metrics/eval.json").read_text())["accuracy"]
    assert f"| accuracy | {accuracy:.4g} |" in markdown
    # One reliability diagram: the model's curve, the fitted temperature's (named, applied or not), the diagonal,
    # on axes from 0 to 1 with ticks every 0.2 (labels that cannot overlap).
    assert titles.count("Reliability diagram (test)") == 1
    spec = next(entry["content"] for key, entries in listed.items() for entry in entries
                if plot_title(key, entries) == "Reliability diagram (test)")
    curves = {row["curve"] for row in spec["data"]["values"]}
    temperature = json.loads((project / "metrics/eval_details.json").read_text())["temperature_scaled"]["temperature"]
    assert {"model (no temperature)", "perfect calibration (diagonal)"} < curves
    assert any(curve.startswith(f"temperature T = {temperature:g} (") for curve in curves), curves
    assert spec["encoding"]["x"]["axis"]["values"] == [0, 0.2, 0.4, 0.6, 0.8, 1]
    svg = (report / "reliability-diagram-test.svg").read_text()
    assert ">perfect calibration (diagonal)</text>" in svg and ">0.4</text>" in svg and "0.500.55" not in svg
    details = json.loads((project / "metrics/eval_details.json").read_text())  # below the headline metrics
    positive = details["per_class"]["positive"]
    assert f"| per_class.positive.f1 | {positive['f1']:.4g} |" in markdown.split("## Details")[1]
    assert "| slices.truncated.count |" in markdown and "| temperature_scaled.temperature |" in markdown
    assert "| train.learning_rate | 0.001 |" in markdown


def test_report_against_a_revision_shows_the_params_that_changed(project):
    params = (project / "params.yaml").read_text().replace("misclassified: 20", "misclassified: 5")
    (project / "params.yaml").write_text(params)
    dvc("repro", cwd=project)
    run([sys.executable, "-m", "imdb_bert.commands.report", "--rev", "HEAD", "--output", "compare"], project)
    markdown = (project / "compare/report.md").read_text()
    assert "| evaluate.misclassified | 20 | 5 |" in markdown
    assert "| metric | HEAD | workspace | change |" in markdown


def test_rendering_refuses_external_data():
    spec = {"data": {"url": "https://example.com/curve.csv"}, "mark": "line",
            "encoding": {"x": {"field": "step", "type": "quantitative"}}}
    with pytest.raises(Exception, match="(?i)url|allowed|access"):
        render(spec, "svg")


def test_report_before_the_pipeline_ran_is_one_error_line(tmp_path):
    project = copy_project(tmp_path, demo_params())
    result = run([sys.executable, "-m", "imdb_bert.commands.report"], project, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == [
        "error: no plots to report; run `dvc repro` first"]
