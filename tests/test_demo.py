"""The embedded default: the committed sample and tiny BERT, and `make demo`'s script on a fresh copy."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from conftest import ROOT, copy_project, run

from imdb_bert.params import load_params
from imdb_bert.tokenizer import load_tokenizer

# What TensorFlow, XLA and absl printed around our log on every stage (a CPU with no NVIDIA driver).
SILENCED = ["I0000 ", "absl::InitializeLog()", "oneDNN custom operations", "cudart_stub", "failed call to cuInit",
            "absl: Function `serve` contains input name(s)", "tensorflow: Assets written to",
            "All model checkpoint layers were used"]


def test_sample_is_balanced_original_reviews_with_the_kaggle_quirks():
    sample = pd.read_csv(ROOT / "data/sample/imdb_sample.csv", keep_default_na=False)
    assert list(sample.columns) == ["review", "sentiment"] and len(sample) >= 200
    assert sample["sentiment"].value_counts().to_dict() == {"positive": len(sample) // 2, "negative": len(sample) // 2}
    text = sample["review"]
    assert text.str.contains("<br />").sum() >= 20 and text.str.contains('"').sum() >= 20
    assert text.str.contains(",").sum() >= 100 and (text.map(str.isascii) == False).sum() >= 20  # noqa: E712
    assert text.duplicated().sum() >= 1  # so the demo shows duplicate removal


def test_tiny_bert_vocabulary_covers_the_sample():
    tokenizer = load_tokenizer(str(ROOT / "demo/tiny-bert"))
    config = json.loads((ROOT / "demo/tiny-bert/config.json").read_text())
    assert config["vocab_size"] == len(tokenizer) and not (ROOT / "demo/tiny-bert/tf_model.h5").exists()
    assert load_params(ROOT / "demo/params.yaml").model.init == "random"
    ids = [i for text in pd.read_csv(ROOT / "data/sample/imdb_sample.csv")["review"]
           for i in tokenizer(text)["input_ids"]]
    assert ids.count(tokenizer.unk_token_id) / len(ids) < 0.02


def test_demo_runs_offline_on_a_fresh_copy_and_prints_the_metrics(tmp_path: Path):
    project = copy_project(tmp_path)
    before = (project / "params.yaml").read_text()
    result = run(["bash", "demo/run.sh"], project)
    assert "Running stage 'evaluate'" in result.stdout
    for silenced in SILENCED:  # quiet start-up (src/imdb_bert/runtime_logs.py), quiet loading of our model
        assert silenced not in result.stdout + result.stderr, silenced
    report = json.loads(result.stdout.split("== Data report (metrics/data.json)\n", 1)[1].split("== Metrics", 1)[0])
    assert report["rows_read"] == 300 and report["rows_removed"] == {"duplicate_text": 3}
    metrics = result.stdout.split("== Metrics", 1)[1]
    assert "metrics/eval.json" in metrics and "metrics/train/metrics.json" in metrics and "roc_auc" in metrics
    for column in ("accuracy_ci_low", "ece", "data.train"):
        assert column in metrics, column
    assert "per_class" not in metrics  # in metrics/eval_details.json and the model card
    card = result.stdout.split("== Model card (models/model_card.md), its evaluation\n", 1)[1]
    assert card.startswith("## Evaluation (test split") and "Per class:" in card and "### Decision" in card
    assert (project / "params.yaml").read_text() == before and not (project / "models/model").exists()
    assert json.loads((project / ".demo/metrics/eval.json").read_text())["examples"] > 0
