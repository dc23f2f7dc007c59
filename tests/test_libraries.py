"""The model layer: both libraries load the same checkpoints, agree on logits, save and reload, and refuse bad
checkpoints with one clear line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED, SHARED_CSV, make_tiny_checkpoint, requires_shared, save_pytorch_safetensors

from imdb_bert.errors import PipelineError
from imdb_bert.models import get_library, load_trained, save_trained, trained_labels
from imdb_bert.tokenizer import load_tokenizer
from imdb_bert.tokens import encode, id_dtype, pad

LABELS = ["negative", "positive"]
LIBRARIES = ["transformers", "keras_hub"]
SHARED_SAFETENSORS = SHARED / "models" / "minilm-l6-h384-uncased-safetensors"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """One tiny random BERT as TF weights (tf_model.h5) and as the Hub ships it (PyTorch-named safetensors)."""
    h5 = make_tiny_checkpoint(tmp_path_factory.mktemp("tiny-h5"))
    model = get_library("transformers").build(str(h5), LABELS, "pretrained")
    safetensors = save_pytorch_safetensors(model, tmp_path_factory.mktemp("tiny-safetensors"))
    sharded = save_pytorch_safetensors(model, tmp_path_factory.mktemp("tiny-sharded"), shards=3)
    for folder in (safetensors, sharded):
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
            shutil.copy(h5 / name, folder / name)
    return {"h5": h5, "safetensors": safetensors, "sharded": sharded}


def features(batch: int = 3, width: int = 12, vocab: int = 150, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, vocab, size=(batch, width)).astype(np.int32)
    lengths = rng.integers(3, width + 1, size=batch)
    mask = (np.arange(width)[None, :] < lengths[:, None]).astype(np.int32)
    return {"input_ids": np.where(mask == 1, ids, 0), "attention_mask": mask,
            "token_type_ids": np.zeros_like(ids)}


def logits(library: str, model, inputs: dict) -> np.ndarray:
    return np.asarray(get_library(library).logits(model, inputs), dtype=np.float32)


# --- transformers: model.safetensors without torch -------------------------------------------------------------

@pytest.mark.parametrize("form", ["safetensors", "sharded"])
def test_transformers_loads_pytorch_safetensors_like_the_tf_weights(tiny, form):
    library = get_library("transformers")
    from_h5 = library.build(str(tiny["h5"]), LABELS, "pretrained")
    from_safetensors = library.build(str(tiny[form]), LABELS, "pretrained")
    from_safetensors.classifier.set_weights(from_h5.classifier.get_weights())  # the head is fresh in each
    inputs = features()
    np.testing.assert_array_equal(logits("transformers", from_h5, inputs),
                                  logits("transformers", from_safetensors, inputs))


def test_tf_weights_win_over_safetensors(tiny, tmp_path):
    both = shutil.copytree(tiny["h5"], tmp_path / "both")
    (both / "model.safetensors").write_bytes(b"not read")  # would fail if it were read
    assert get_library("transformers").build(str(both), LABELS, "pretrained").config.num_labels == 2


def test_safetensors_of_another_architecture_is_an_error_naming_the_weights(tiny, tmp_path):
    folder = shutil.copytree(tiny["safetensors"], tmp_path / "other")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "num_hidden_layers": 3}))
    with pytest.raises(PipelineError, match=r"its weights do not fit .*missing: bert\.encoder\.layer\.2\."):
        get_library("transformers").build(str(folder), LABELS, "pretrained")


# --- both libraries: one set of weights, the same logits --------------------------------------------------------

def tiny_model(model_type: str):
    """A random TF sequence classifier of a BERT-family architecture, its config small."""
    from transformers import AutoConfig, TFAutoModelForSequenceClassification

    sizes = {"distilbert": {"dim": 32, "n_layers": 2, "n_heads": 2, "hidden_dim": 64},
             "roberta": {"pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2, "type_vocab_size": 1}}
    common = {"vocab_size": 200, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
              "intermediate_size": 64, "max_position_embeddings": 64, "num_labels": 2}
    if model_type in ("roberta", "xlm-roberta"):
        common = {**common, **sizes["roberta"], "max_position_embeddings": 66}  # positions start after padding_idx
    config = AutoConfig.for_model(model_type, **{**common, **sizes.get(model_type, {})})
    model = TFAutoModelForSequenceClassification.from_config(config)
    model(model.dummy_inputs)
    if model_type == "roberta":  # as in RoBERTa's released checkpoints, which KerasHub's converter relies on
        embeddings = model.roberta.embeddings.token_type_embeddings
        embeddings.assign(np.zeros(embeddings.shape, np.float32))
    return model


def tf_head(model, model_type: str) -> list[tuple[str, list[np.ndarray]]]:
    """The TF model's head as (KerasHub layer, weights): the dense before the output (if any), then the output."""
    if model_type == "bert":
        return [("logits", model.classifier.get_weights())]
    if model_type == "distilbert":
        return [("pooled_dense", model.pre_classifier.get_weights()), ("logits", model.classifier.get_weights())]
    return [("pooled_dense", model.classifier.dense.get_weights()),
            ("logits", model.classifier.out_proj.get_weights())]


@pytest.mark.parametrize("model_type", ["bert", "distilbert", "roberta", "xlm-roberta"])
def test_both_libraries_give_the_same_logits_from_one_safetensors_checkpoint(tmp_path, model_type):
    reference = tiny_model(model_type)
    folder = save_pytorch_safetensors(reference, tmp_path / model_type)
    models = {name: get_library(name).build(str(folder), LABELS, "pretrained") for name in LIBRARIES}
    for layer, weights in tf_head(reference, model_type):  # both heads are fresh: give them the reference's
        models["keras_hub"].get_layer(layer).set_weights(weights)
    for layer in ("classifier", "pre_classifier"):
        if hasattr(models["transformers"], layer):
            getattr(models["transformers"], layer).set_weights(getattr(reference, layer).get_weights())
    inputs = features(width=16)
    if model_type != "bert":
        inputs["input_ids"] = np.where(inputs["attention_mask"] == 1, inputs["input_ids"], 1)  # RoBERTa's pad id
        del inputs["token_type_ids"]
    expected = reference(inputs, training=False).logits.numpy()
    np.testing.assert_allclose(logits("transformers", models["transformers"], inputs), expected, atol=1e-6)
    # KerasHub computes GELU with its tanh approximation; on tiny random weights that moves logits by < 1e-5.
    np.testing.assert_allclose(logits("keras_hub", models["keras_hub"], inputs), expected, atol=1e-4)


@requires_shared
def test_the_real_minilm_gives_the_same_logits_through_both_libraries_on_real_reviews():
    import pandas as pd

    texts = pd.read_csv(SHARED_CSV, nrows=64)["review"].tolist()
    tokenizer = load_tokenizer(str(SHARED_SAFETENSORS))
    ids, _ = encode(tokenizer, texts, 128, "head_tail")
    split = pad(ids, 128, tokenizer.pad_token_id, id_dtype(len(tokenizer)))
    mask = (np.arange(128)[None, :] < split.lengths[:, None]).astype(np.int32)
    inputs = {"input_ids": split.input_ids.astype(np.int32), "attention_mask": mask,
              "token_type_ids": np.zeros_like(mask)}
    models = {name: get_library(name).build(str(SHARED_SAFETENSORS), LABELS, "pretrained") for name in LIBRARIES}
    # A shared head whose logits are O(1), so that the comparison is not dwarfed by a near-zero random head.
    head = [np.random.default_rng(0).normal(scale=384 ** -0.5, size=(384, 2)).astype(np.float32), np.zeros(2)]
    models["transformers"].classifier.set_weights(head)
    models["keras_hub"].get_layer("logits").set_weights(head)
    ours, theirs = logits("transformers", models["transformers"], inputs), logits("keras_hub", models["keras_hub"],
                                                                                    inputs)
    # KerasHub's BERT uses the tanh approximation of GELU and a layer-norm epsilon of 1e-12 fixed in code: its
    # hidden states differ from transformers' by up to about 4e-3 on this checkpoint. Through the pooler's tanh and
    # a head of this scale, that is at most a few hundredths of a logit, far below any decision margin that counts.
    np.testing.assert_allclose(theirs, ours, atol=0.05)
    assert (theirs.argmax(axis=1) == ours.argmax(axis=1)).mean() >= 0.95
    assert np.abs(theirs - ours).max() > 0  # two implementations, not one object twice


# --- saving, reloading, labels ----------------------------------------------------------------------------------

@pytest.mark.parametrize("library", LIBRARIES)
def test_a_saved_model_reloads_with_the_same_logits_and_labels(tiny, tmp_path, library):
    model = get_library(library).build(str(tiny["safetensors"]), LABELS, "pretrained")
    save_trained(get_library(library), model, tmp_path, LABELS)
    assert trained_labels(tmp_path) == LABELS
    reloaded = load_trained(tmp_path, LABELS)
    inputs = features()
    np.testing.assert_allclose(logits(library, model, inputs), reloaded.logits(inputs), atol=1e-6)
    with pytest.raises(PipelineError, match="differ from the data's"):
        load_trained(tmp_path, ["neg", "pos"])
    with pytest.raises(PipelineError, match="run `dvc repro train` first"):
        load_trained(tmp_path / "missing", LABELS)


@pytest.mark.parametrize("library", LIBRARIES)
def test_random_init_needs_only_the_config(tiny, tmp_path, library):
    folder = tmp_path / "config-only"
    folder.mkdir()
    shutil.copy(tiny["safetensors"] / "config.json", folder)
    model = get_library(library).build(str(folder), ["a", "b", "c"], "random")
    assert logits(library, model, features()).shape == (3, 3)


# --- bad checkpoints: one line each, for both libraries ---------------------------------------------------------

def without(source: Path, target: Path, *patterns: str) -> Path:
    return shutil.copytree(source, target, ignore=shutil.ignore_patterns(*patterns))


BAD_CHECKPOINTS = {
    "no weights": (lambda tiny, tmp: without(tiny["safetensors"], tmp / "x", "*.safetensors"),
                   r"no weights \(.*\); download them .*or set model.init: random"),
    "only pytorch_model.bin": (
        lambda tiny, tmp: _with_file(without(tiny["safetensors"], tmp / "x", "*.safetensors"),
                                     "pytorch_model.bin", b"pickle"),
        r"has only pytorch_model.bin, a pickle, which can run code .*get model.safetensors"),
    "truncated model.safetensors": (
        lambda tiny, tmp: _truncated(shutil.copytree(tiny["safetensors"], tmp / "x") / "model.safetensors"),
        r"cannot read its safetensors weights .*truncated or not safetensors: download it again"),
}


def _with_file(folder: Path, name: str, content: bytes) -> Path:
    (folder / name).write_bytes(content)
    return folder


def _truncated(file: Path) -> Path:
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])
    return file.parent


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("case", list(BAD_CHECKPOINTS))
def test_a_bad_checkpoint_is_one_clear_error(tiny, tmp_path, library, case):
    make, message = BAD_CHECKPOINTS[case]
    folder = make(tiny, tmp_path)
    with pytest.raises(PipelineError, match=message) as error:
        get_library(library).build(str(folder), LABELS, "pretrained")
    assert "\n" not in str(error.value) and str(folder) in str(error.value)


def test_keras_hub_refuses_an_architecture_it_cannot_convert_and_names_the_alternative(tiny, tmp_path):
    folder = shutil.copytree(tiny["safetensors"], tmp_path / "gpt2")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "gpt2"}))
    with pytest.raises(PipelineError, match=r"model_type 'gpt2' is not one model.library keras_hub converts "
                                            r"\(bert, distilbert, roberta, xlm-roberta\); use model.library: "
                                            r"transformers"):
        get_library("keras_hub").build(str(folder), LABELS, "pretrained")


def test_keras_hub_points_tf_only_checkpoints_to_the_transformers_library(tiny):
    with pytest.raises(PipelineError, match=r"only TensorFlow weights \(tf_model.h5\); .*use model.library: "
                                            r"transformers"):
        get_library("keras_hub").build(str(tiny["h5"]), LABELS, "pretrained")


@pytest.mark.parametrize("library", LIBRARIES)
def test_an_unreachable_hub_id_says_how_to_use_a_local_copy(library):
    with pytest.raises(PipelineError, match="is not a local directory and could not be fetched") as error:
        get_library(library).build("some-org/bert-does-not-exist", LABELS, "pretrained")
    assert "set model.checkpoint to a local directory" in str(error.value)


def test_unreachable_hub_id_for_the_tokenizer():
    with pytest.raises(PipelineError, match="is not a local directory and could not be fetched"):
        load_tokenizer("bert-base-cased-does-not-exist")


def test_an_unknown_library_is_refused():
    with pytest.raises(PipelineError, match="model.library is 'flax'; expected one of transformers, keras_hub"):
        get_library("flax")


# --- the optimizer schedule is transformers' ---------------------------------------------------------------------

def test_keras_hub_warmup_and_decay_follow_transformers_schedule():
    from transformers import create_optimizer

    from imdb_bert.models.kerashub import LinearWarmupDecay

    _, reference = create_optimizer(init_lr=5e-5, num_train_steps=100, num_warmup_steps=10)
    ours = LinearWarmupDecay(5e-5, total_steps=100, warmup_steps=10)
    for step in (0, 1, 5, 10, 11, 50, 99, 100, 120):
        assert float(ours(step)) == pytest.approx(float(reference(step)), rel=1e-5, abs=1e-12), step
