"""The servable export: a SavedModel with in-graph tokenization that agrees with `predict`."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import (
    SHARED_CSV,
    SHARED_MINILM,
    built_once,
    copy_built,
    copy_project,
    demo_params,
    requires_shared,
    run,
    stage_command,
)

from imdb_bert.files import write_json
from imdb_bert.tokens import TOKENIZATION_FILE, encode


@pytest.fixture(scope="module", params=["transformers", "keras_hub"])
def exported(tmp_path_factory, request) -> Path:
    """The demo trained with each library (2 epochs) and exported without a decision file (arg-max), built once
    per session (conftest.built_once); for transformers, the session's trained demo (conftest.trained_demo)
    exported again without its decision file."""
    library = request.param

    def build(folder: Path) -> None:
        if library == "transformers":
            request.getfixturevalue("trained_demo").copy(folder)
            (folder / "models/decision.json").unlink()
            run(stage_command("export"), folder)
            return
        copy_project(folder, demo_params(model={"library": library}, train={"epochs": 2}), git=False)
        for name in ("split", "tokenize", "train", "export"):
            run(stage_command(name), folder)

    return copy_built(built_once(tmp_path_factory, f"exported-{library}", build),
                      tmp_path_factory.mktemp(f"export-{library}"))


def reviews(count: int) -> list[str]:
    if SHARED_CSV.is_file():
        return pd.read_csv(SHARED_CSV, nrows=count)["review"].tolist()
    return pd.read_csv(Path(__file__).parents[1] / "data/sample/imdb_sample.csv")["review"].tolist()[:count]


def test_savedmodel_agrees_with_predict(exported, monkeypatch):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops the SavedModel uses)

    monkeypatch.chdir(exported)
    from imdb_bert.commands.predict import Predictor

    texts = reviews(200)
    serve = tf.saved_model.load("models/serving").signatures["serving_default"]
    served = serve(review=tf.constant(texts))
    expected = Predictor("models/model").probabilities(texts)
    labels = np.array(["negative", "positive"])[expected.argmax(axis=1)]
    assert (served["label"].numpy().astype(str) == labels).sum() >= len(texts) - 1
    np.testing.assert_allclose(served["probabilities"].numpy(), expected, atol=1e-3)


def test_the_savedmodel_applies_the_temperature_and_threshold_as_predict_does(exported, monkeypatch, tmp_path):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401

    monkeypatch.chdir(exported)
    from imdb_bert.commands.predict import Predictor
    from imdb_bert.decisions import Decision
    from imdb_bert.stages.export import MODEL_DIR, build_serving_module

    texts = reviews(40)
    plain = Predictor("models/model")
    scaled = Decision(labels=plain.labels, temperature=0.5).calibrate(plain.probabilities(texts))
    decision = Decision(labels=plain.labels, temperature=0.5, threshold=float(np.median(scaled[:, 1])))
    expected = Predictor("models/model", decision=decision).scores(texts)
    module = build_serving_module(MODEL_DIR, decision)
    tf.saved_model.save(module, str(tmp_path / "serving"), signatures={"serving_default": module.serve})
    served = tf.saved_model.load(str(tmp_path / "serving")).signatures["serving_default"](review=tf.constant(texts))
    np.testing.assert_allclose(served["probabilities"].numpy(), expected[["p_negative", "p_positive"]], atol=1e-3)
    assert (served["label"].numpy().astype(str) == expected["predicted_label"]).sum() >= len(texts) - 1


@pytest.fixture(scope="module")
def demo_8_epochs(tmp_path_factory) -> Path:
    """The demo trained as `make demo` trains it (8 epochs): 2 epochs leave every probability near 0.5, where
    windows and truncation differ by less than any tolerance worth testing."""
    project = copy_project(tmp_path_factory.mktemp("export-windows"), demo_params(), git=False)
    for name in ("split", "tokenize", "train"):
        run(stage_command(name), project)
    return project


def test_with_windows_the_savedmodel_scores_long_reviews_as_predict_does(demo_8_epochs, monkeypatch, tmp_path):
    import tensorflow as tf
    import tensorflow_text  # noqa: F401

    monkeypatch.chdir(demo_8_epochs)
    from imdb_bert.commands.predict import Predictor
    from imdb_bert.decisions import Decision, write_decision
    from imdb_bert.stages.export import build_serving_module
    from imdb_bert.trained_model import TrainedModel

    texts = pd.read_csv("data/split/test.csv", keep_default_na=False)["text"].tolist()
    labels = ["negative", "positive"]
    write_decision(Decision(labels=labels, temperature=1.5, threshold=0.45, long_reviews="windows", window_stride=63),
                   tmp_path / "decision.json")
    trained = TrainedModel.load("models/model", tmp_path / "decision.json")  # as export's main loads it
    expected = Predictor(trained).scores(texts)
    truncated = Predictor("models/model", decision=Decision(labels=labels, temperature=1.5)).probabilities(texts)
    module = build_serving_module(trained)
    tf.saved_model.save(module, str(tmp_path / "serving"), signatures={"serving_default": module.serve})
    served = tf.saved_model.load(str(tmp_path / "serving")).signatures["serving_default"](review=tf.constant(texts))
    probabilities = expected[["p_negative", "p_positive"]].to_numpy()
    assert (np.abs(truncated - probabilities).max(axis=1) > 1e-3).sum() >= 5  # windows change some long reviews
    np.testing.assert_allclose(served["probabilities"].numpy(), probabilities, atol=1e-4)
    assert (served["label"].numpy().astype(str) == expected["predicted_label"]).all()

@pytest.fixture(scope="module")
def saved_minilm(tmp_path_factory) -> Path:
    """The real MiniLM saved as a trained model directory (weights, labels, tokenizer), without tokenization.json."""
    from imdb_bert.models import get_library, save_trained
    from imdb_bert.tokenizer import load_tokenizer

    folder = tmp_path_factory.mktemp("minilm")
    library = get_library("transformers")
    save_trained(library, library.build(str(SHARED_MINILM), ["negative", "positive"], "pretrained"), folder,
                 ["negative", "positive"])
    load_tokenizer(str(SHARED_MINILM)).save_pretrained(folder)
    return folder


@requires_shared
@pytest.mark.parametrize("truncation", ["head", "tail", "head_tail"])
def test_in_graph_token_ids_equal_the_python_tokenizer_on_real_reviews(saved_minilm, tmp_path, truncation):
    from imdb_bert.stages.export import build_serving_module
    from imdb_bert.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(str(SHARED_MINILM))
    shutil.copytree(saved_minilm, tmp_path, dirs_exist_ok=True)
    write_json(tmp_path / TOKENIZATION_FILE, {"max_length": 128, "truncation": truncation, "strip_html": False,
                                              "model_input_names": list(tokenizer.model_input_names)})
    texts = reviews(500)
    module = build_serving_module(tmp_path)  # keep a reference: tf.function methods hold self weakly
    graph = module.encode(np.array(texts, dtype=object))
    ids, _ = encode(tokenizer, texts, 128, truncation)
    lengths = graph["attention_mask"].numpy().sum(axis=1)
    assert [row[:length].tolist() for row, length in zip(graph["input_ids"].numpy(), lengths, strict=True)] == ids
