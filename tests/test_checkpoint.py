"""Loading checkpoints: clear errors for missing weights, PyTorch-only weights, unreachable hub ids, label mismatch."""

from __future__ import annotations

import shutil

import pytest

from stages.common.checkpoint import load_classifier, load_tokenizer, load_trained
from stages.common.errors import PipelineError

LABELS = ["negative", "positive"]


def test_local_checkpoint_loads_with_the_data_labels(tiny_checkpoint):
    model = load_classifier(str(tiny_checkpoint), LABELS)
    assert model.config.id2label == {0: "negative", 1: "positive"} and model.config.label2id["positive"] == 1


def test_directory_without_weights_is_a_clear_error(tmp_path, tiny_checkpoint):
    folder = shutil.copytree(tiny_checkpoint, tmp_path / "no-weights", ignore=shutil.ignore_patterns("*.h5"))
    with pytest.raises(PipelineError, match=r"no TensorFlow weights \(tf_model.h5\), no weights; .*model.init: random"):
        load_classifier(str(folder), LABELS)
    assert load_classifier(str(folder), LABELS, init="random").config.num_labels == 2


def test_pytorch_only_weights_are_named(tmp_path, tiny_checkpoint):
    folder = shutil.copytree(tiny_checkpoint, tmp_path / "pt-only", ignore=shutil.ignore_patterns("*.h5"))
    (folder / "model.safetensors").write_bytes(b"\0")
    with pytest.raises(PipelineError, match=r"only PyTorch weights \(model.safetensors\)"):
        load_classifier(str(folder), LABELS)


def test_unreachable_hub_id_says_how_to_use_a_local_copy():
    with pytest.raises(PipelineError, match="is not a local directory and could not be fetched") as error:
        load_tokenizer("bert-base-cased-does-not-exist")
    assert "set model.checkpoint to a local directory" in str(error.value)


def test_trained_model_labels_must_match_the_data(tmp_path, tiny_checkpoint):
    model = load_classifier(str(tiny_checkpoint), LABELS)
    model.save_pretrained(tmp_path / "model")
    assert load_trained(tmp_path / "model", LABELS).config.num_labels == 2
    with pytest.raises(PipelineError, match="differ from the data's"):
        load_trained(tmp_path / "model", ["neg", "pos"])
    with pytest.raises(PipelineError, match="run `dvc repro train` first"):
        load_trained(tmp_path / "missing", LABELS)


def test_saved_model_reloads_with_the_same_logits(tmp_path, tiny_checkpoint):
    import numpy as np

    model = load_classifier(str(tiny_checkpoint), LABELS)
    inputs = {"input_ids": np.array([[2, 7, 9, 3, 0]]), "attention_mask": np.array([[1, 1, 1, 1, 0]])}
    model.save_pretrained(tmp_path / "model")
    reloaded = load_trained(tmp_path / "model", LABELS)
    np.testing.assert_allclose(model(inputs).logits.numpy(), reloaded(inputs).logits.numpy(), atol=1e-6)
