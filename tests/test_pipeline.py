"""The pipeline as users drive it: dvc repro, no-op reruns, partial reruns, metrics, params, plots, experiments."""

from __future__ import annotations

import json
import re
import sys

import pandas as pd
import pytest
import yaml
from conftest import ROOT, copy_project, demo_params, dvc, run

from imdb_bert.params import load_params

STAGES = {"split", "tokenize", "train", "evaluate", "export"}


def stages_run(output: str) -> set[str]:
    return set(re.findall(r"Running stage '(\w+)'", output))


def set_param(project, group: str, key: str, value) -> None:
    params = yaml.safe_load((project / "params.yaml").read_text())
    params[group][key] = value
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def project(tmp_path_factory, trained_demo):
    """A copy of the session's trained demo (conftest.trained_demo: one `dvc repro`, 2 epochs)."""
    assert stages_run(trained_demo.stdout) == STAGES, trained_demo.stdout
    return trained_demo.copy(tmp_path_factory.mktemp("pipeline"))


def test_repro_runs_all_stages_and_writes_every_output(project):
    for path in ("data/split/train.csv", "data/tokens/meta.json", "models/model/tf_model.h5",
                 "models/model/config.json", "models/model/tokenizer.json", "metrics/data.json",
                 "metrics/train/metrics.json", "metrics/eval.json", "metrics/misclassified.csv",
                 "models/decision.json", "models/model_card.md", *(f"metrics/eval/plots/{name}.json" for name in (
                     "sklearn/confusion_matrix", "sklearn/roc/positive", "sklearn/precision_recall/positive",
                     "custom/reliability", "custom/length_slices"))):
        assert (project / path).is_file(), path
    config = json.loads((project / "models/model/config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "positive"}
    assert len(list((project / "metrics/train/plots/metrics/eval").glob("*.tsv"))) == 2


def test_second_repro_does_nothing(project):
    assert stages_run(dvc("repro", cwd=project).stdout) == set()
    assert "up to date" in dvc("status", cwd=project).stdout


HEADLINE = {"examples", "accuracy", "accuracy_ci_low", "accuracy_ci_high", "f1", "roc_auc", "loss", "ece", "data"}


def test_metrics_show_prints_the_headline_figures_in_at_most_20_columns(project):
    shown = json.loads(dvc("metrics", "show", "--json", cwd=project).stdout)
    metrics = next(iter(shown.values()))["data"]
    assert set(metrics) == {"metrics/eval.json", "metrics/train/metrics.json"}
    evaluation = metrics["metrics/eval.json"]["data"]
    assert set(evaluation) == HEADLINE
    data = json.loads((project / "metrics/data.json").read_text())
    assert evaluation["examples"] == data["splits"]["test"]["rows"]
    assert evaluation["data"] == {"rows_kept": data["rows_kept"], "train": data["splits"]["train"]["rows"],
                                  "validation": data["splits"]["validation"]["rows"]}
    assert evaluation["accuracy_ci_low"] < evaluation["accuracy"] < evaluation["accuracy_ci_high"]
    header = dvc("metrics", "show", cwd=project).stdout.splitlines()[0].split()
    assert header[0] == "Path" and len(header) - 1 <= 20, header  # 65 columns before the details moved out
    for key in ("accuracy", "accuracy_ci_low", "accuracy_ci_high", "f1", "roc_auc", "loss", "ece", "examples",
                "data.train", "data.validation", "eval.loss", "train.loss"):
        assert key in header, key
    assert not [key for key in header if key.startswith(("per_class", "slices", "threshold", "temperature"))]


def test_the_details_file_holds_every_figure(project):
    details = json.loads((project / "metrics/eval_details.json").read_text())
    evaluation = json.loads((project / "metrics/eval.json").read_text())
    assert set(details) == HEADLINE | {"precision", "recall", "f1_ci_low", "f1_ci_high", "macro_precision",
                                       "macro_recall", "macro_f1", "roc_auc_ci_low", "roc_auc_ci_high", "per_class",
                                       "slices", "temperature_scaled", "threshold", "scoring_precision"}
    assert {key: details[key] for key in evaluation} == evaluation
    assert sum(part["count"] for part in details["slices"].values()) == details["examples"]
    assert sum(part["support"] for part in details["per_class"].values()) == details["examples"]


def test_plots_show_renders_the_curves_and_the_confusion_matrix(project):
    out = project / "plots_out"
    dvc("plots", "show", "-o", str(out), cwd=project)
    html = (out / "index.html").read_text()
    for title in ("Loss", "Accuracy", "Confusion matrix (test)", "ROC (test)", "Precision-recall (test)",
                  "Reliability diagram (test)", "Accuracy by review length (test)"):
        assert f'"text": "{title}"' in html, title


def test_the_model_card_carries_this_runs_numbers(project):
    card = (project / "models/model_card.md").read_text()
    scores = json.loads((project / "metrics/eval_details.json").read_text())
    front, body = card.removeprefix("---\n").split("\n---\n", 1)
    meta = yaml.safe_load(front)
    results = meta["model-index"][0]["results"][0]["metrics"]
    assert {item["type"]: item["value"] for item in results}["accuracy"] == round(scores["accuracy"], 4)
    assert meta["datasets"] == ["imdb_sample.csv"] and "text-classification" in meta["tags"]
    assert (f"| accuracy (95% Wilson interval) | {scores['accuracy']:.4f} ({scores['accuracy_ci_low']:.4f}–"
            f"{scores['accuracy_ci_high']:.4f}) |") in body
    for name, row in (("f1", "F1 of positive"), ("roc_auc", "ROC AUC")):  # params.yaml: 1,000 bootstrap resamples
        assert scores[f"{name}_ci_low"] <= scores[name] <= scores[f"{name}_ci_high"]
        assert (f"| {row} (95% bootstrap interval, 1,000 resamples) | {scores[name]:.4f} "
                f"({scores[f'{name}_ci_low']:.4f}–{scores[f'{name}_ci_high']:.4f}) |") in body
    for label, part in scores["per_class"].items():
        assert f"| {label} | {part['precision']:.4f} | {part['recall']:.4f} | {part['f1']:.4f} |" in body
    assert f"T = {scores['temperature_scaled']['temperature']:g}" in body
    assert f"| truncated | {scores['slices']['truncated']['count']:,} |" in body
    data = json.loads((project / "metrics/data.json").read_text())
    assert f"| train | {data['splits']['train']['rows']:,} |" in body and "## How to use" in body


def test_an_evaluate_param_reruns_nothing_upstream(project):
    set_param(project, "evaluate", "calibrate", False)
    status = json.loads(dvc("status", "--json", cwd=project).stdout)
    assert set(status) == {"evaluate"}
    ran = stages_run(dvc("repro", cwd=project).stdout)
    assert ran == {"evaluate", "export"}  # a new decision (no temperature): the SavedModel follows it
    assert json.loads((project / "models/decision.json").read_text())["temperature"] == 1.0
    assert "temperature_scaled" not in json.loads((project / "metrics/eval_details.json").read_text())
    set_param(project, "evaluate", "long_reviews", "truncate")  # the default is windows
    assert stages_run(dvc("repro", cwd=project).stdout) & {"split", "tokenize", "train"} == set()
    assert json.loads((project / "models/decision.json").read_text())["long_reviews"] == "truncate"


def test_a_training_param_reruns_train_and_what_follows_only(project):
    set_param(project, "train", "learning_rate", 2.0e-3)
    diff = dvc("params", "diff", "--json", cwd=project).stdout
    change = json.loads(diff)["params.yaml"]["train.learning_rate"]
    assert (change["old"], change["new"]) == (1.0e-3, 2.0e-3)
    status = json.loads(dvc("status", "--json", cwd=project).stdout)
    assert set(status) == {"train", "evaluate"}  # evaluate reads every param for the model card
    assert stages_run(dvc("repro", cwd=project).stdout) == {"train", "evaluate", "export"}
    assert "metrics/eval.json" in dvc("metrics", "diff", cwd=project).stdout


def test_a_tokenize_param_reruns_tokenize_and_what_follows_only(project):
    set_param(project, "tokenize", "max_length", 64)
    assert stages_run(dvc("repro", cwd=project).stdout) == {"tokenize", "train", "evaluate", "export"}
    assert json.loads((project / "data/tokens/meta.json").read_text())["max_length"] == 64


# The reference recipe, as params: what the README's "Reproduce the tutorial exactly" command must give.
TUTORIAL_RECIPE = {
    "data.strip_html": False, "data.drop_duplicates": False, "data.test_size": 0.2, "data.validation_size": 0.0,
    "data.seed": 13, "data.labels": ["negative", "positive"], "model.checkpoint": "bert-base-cased",
    "model.init": "pretrained", "tokenize.max_length": 512, "tokenize.truncation": "head",
    "train.optimizer": "adam", "train.learning_rate": 3.0e-5, "train.epsilon": 1.0e-8, "train.clipnorm": 1.0,
    "train.batch_size": 32, "train.epochs": 3, "train.pad_to_max_length": True,
}


def readme_tutorial_overrides() -> list[str]:
    section = (ROOT / "README.md").read_text().split("### Reproduce the tutorial exactly", 1)[1]
    return re.findall(r"-S (\S+)", section.split("```bash", 1)[1].split("```", 1)[0])


def test_the_readme_tutorial_overrides_give_the_reference_recipe(tmp_path):
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for override in readme_tutorial_overrides():
        name, value = override.split("=", 1)
        group, key = name.split(".")
        assert key in params[group], override
        params[group][key] = yaml.safe_load(value)  # "3e-5" stays a string, as DVC writes it; load_params reads it
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    loaded = load_params(tmp_path / "params.yaml")
    assert {name: getattr(getattr(loaded, name.split(".")[0]), name.split(".")[1])
            for name in TUTORIAL_RECIPE} == TUTORIAL_RECIPE


def test_the_tutorial_recipe_runs_end_to_end(tmp_path):
    project = copy_project(tmp_path, demo_params(train={"epochs": 1}))
    overrides = [arg for override in readme_tutorial_overrides() for arg in ("-S", override)]
    dvc("exp", "run", *overrides, cwd=project)
    report = json.loads((project / "metrics/data.json").read_text())
    assert report["rows_removed"] == {} and report["splits"]["validation"]["rows"] == 0
    assert report["rows_kept"] == report["rows_read"]
    assert json.loads((project / "data/tokens/meta.json").read_text())["truncation"] == "head"
    assert "best_epoch" not in json.loads((project / "metrics/train/metrics.json").read_text())
    evaluation = json.loads((project / "metrics/eval.json").read_text())
    assert evaluation["examples"] == report["splits"]["test"]["rows"]


def test_three_labels_run_through_the_whole_pipeline(tmp_path):
    """The sample with a third, smaller label: macro figures, a 3 x 3 confusion matrix, a ROC curve per label,
    balanced class weights, no threshold, and predict and the SavedModel answer with the three labels."""
    labels = ["negative", "neutral", "positive"]
    project = copy_project(tmp_path, demo_params(
        data={"raw_csv": "data/raw/three.csv", "labels": labels}, train={"epochs": 1, "class_weight": "balanced"}))
    sample = pd.read_csv(ROOT / "data/sample/imdb_sample.csv", keep_default_na=False)
    sample.loc[sample.index % 5 == 0, "sentiment"] = "neutral"  # 60 of 300
    sample.to_csv(project / "data/raw/three.csv", index=False)
    result = dvc("repro", cwd=project)
    assert re.search(r"train.class_weight balanced: label 0 x [\d.]+, label 1 x [\d.]+, label 2 x ",
                     result.stdout + result.stderr)

    scores = json.loads((project / "metrics/eval_details.json").read_text())
    assert list(scores["per_class"]) == labels and scores["per_class"]["neutral"]["support"] == 12
    assert "threshold" not in scores and 0 <= scores["macro_f1"] <= 1
    confusion = json.loads((project / "metrics/eval/plots/sklearn/confusion_matrix.json").read_text())
    assert {row["actual"] for row in confusion} == set(labels) and len(confusion) == scores["examples"]
    curves = sorted(path.stem for path in (project / "metrics/eval/plots/sklearn/roc").glob("*.json"))
    assert curves == labels
    assert json.loads((project / "models/decision.json").read_text())["threshold"] is None
    card = (project / "models/model_card.md").read_text()
    assert "| neutral |" in card and "ROC AUC (one-vs-rest, macro)" in card
    dvc("plots", "show", "-o", "plots", cwd=project)
    assert '"text": "ROC (test)"' in (project / "plots/index.html").read_text()

    predicted = run([sys.executable, "-m", "imdb_bert.commands.predict", "An average film, neither good nor bad."],
                    project)
    assert predicted.stdout.split("\t")[0] in labels
    served = run([sys.executable, "-c", "import tensorflow as tf, tensorflow_text; "
                  "print(tf.saved_model.load('models/serving').signatures['serving_default']"
                  "(review=tf.constant(['Fine.']))['probabilities'].shape)"], project)
    assert "(1, 3)" in served.stdout
