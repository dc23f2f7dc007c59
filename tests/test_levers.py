"""Issue 26's levers on the tiny demo BERT: layer-wise learning-rate decay in both model libraries, and bf16
scoring with its check against float32."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from conftest import ROOT

from imdb_bert.models import Classifier, get_library, layer_rate, load_trained, save_trained
from imdb_bert.models import precision as precision_module
from imdb_bert.tokens import TokenizedSplit

TINY = str(ROOT / "demo" / "tiny-bert")  # 2 encoder layers
LABELS = ["negative", "positive"]
LIBRARIES = ["transformers", "keras_hub"]


def settings(**changes) -> SimpleNamespace:
    """The train.* an optimizer reads: AdamW, no warm-up (the first step moves at the full rate), no clipping."""
    values = {"optimizer": "adamw", "learning_rate": 1e-2, "epsilon": 1e-8, "clipnorm": None, "weight_decay": 0.01,
              "warmup_ratio": 0.0, "layer_lr_decay": 1.0}
    return SimpleNamespace(**(values | changes))


def tiny_model(library_name: str):
    import keras

    keras.utils.set_random_seed(13)
    return get_library(library_name).build(TINY, LABELS, "random")


# --- layer-wise learning-rate decay ------------------------------------------------------------------------------

def test_layer_rate_follows_the_rule_for_two_layers():
    assert [layer_rate(layer, 2, 0.5) for layer in (-1, 0, 1, None)] == [0.125, 0.25, 0.5, 1.0]
    assert {layer_rate(layer, 2, 1.0) for layer in (-1, 0, 1, None)} == {1.0}


EXPECTED_RATES = {  # decay 0.5, 2 layers: a part of each variable's name -> its multiplier
    "transformers": {"/embeddings/word_embeddings/": 0.125, "/embeddings/LayerNorm/": 0.125,
                     "/layer_._0/attention/self/query/": 0.25, "/layer_._1/output/dense/": 0.5,
                     "/pooler/dense/": 1.0, "/classifier/": 1.0},
    "keras_hub": {"token_embedding/": 0.125, "position_embedding/": 0.125, "embeddings_layer_norm/": 0.125,
                  "transformer_layer_0/self_attention_layer/query/": 0.25,
                  "transformer_layer_1/feedforward_output_dense/": 0.5, "pooled_dense/": 1.0, "logits/": 1.0},
}


@pytest.mark.parametrize("library_name", LIBRARIES)
def test_each_variable_gets_its_layers_multiplier(library_name):
    model = tiny_model(library_name)
    multipliers = get_library(library_name).lr_multipliers(model, 0.5)
    assert len(multipliers) == len(model.trainable_variables)
    for part, expected in EXPECTED_RATES[library_name].items():
        found = {rate for name, rate in multipliers.items() if part in name}
        assert found == {expected}, part


def one_step(library_name: str, decay: float) -> tuple[list[float], list[float]]:
    """Each variable's multiplier, and its mean absolute change after one AdamW step with the same gradient (all
    ones), in the model's variable order."""
    import keras

    library = get_library(library_name)
    model = tiny_model(library_name)
    library.compile(model, settings(layer_lr_decay=decay), total_steps=10, jit_compile=False)
    variables = model.trainable_variables
    multipliers = library.lr_multipliers(model, decay)
    rates = [multipliers[variable.name if library_name == "transformers" else variable.path] for variable in variables]
    before = [np.array(variable.numpy()) for variable in variables]
    model.optimizer.apply_gradients(zip([keras.ops.ones_like(variable) for variable in variables], variables,
                                        strict=True))
    return rates, [float(np.abs(np.asarray(variable.numpy()) - old).mean())
                   for variable, old in zip(variables, before, strict=True)]


@pytest.mark.parametrize("library_name", LIBRARIES)
def test_one_step_with_decay_moves_lower_layers_less(library_name):
    (_, plain), (rates, decayed) = one_step(library_name, 1.0), one_step(library_name, 0.5)
    assert sorted(set(rates)) == [0.125, 0.25, 0.5, 1.0]
    for rate, plain_step, decayed_step in zip(rates, plain, decayed, strict=True):
        # Adam's first step is about lr x sign(gradient): the decayed step is the multiplier times the plain one,
        # weight decay included (it scales with the rate too)
        assert decayed_step == pytest.approx(plain_step * rate, rel=1e-3)
    assert decayed[rates.index(0.125)] < decayed[rates.index(1.0)]


@pytest.mark.parametrize(("library_name", "optimizer"), [("transformers", "adamw"), ("transformers", "adam"),
                                                         ("keras_hub", "adamw")])
def test_fit_with_decay_and_the_warm_up_schedule(library_name, optimizer):
    from imdb_bert.batches import BatchSource

    library = get_library(library_name)
    model = tiny_model(library_name)
    library.compile(model, settings(optimizer=optimizer, warmup_ratio=0.5, clipnorm=1.0, layer_lr_decay=0.9),
                    total_steps=2, jit_compile=False)
    source = BatchSource(rows(16), ["input_ids", "attention_mask", "token_type_ids"], 8, shuffle_seed=13,
                         group_by_length=True, pad_to_max_length=False, pad_to_multiple_of=8)
    history = library.fit(model, library.fit_data(model, source), epochs=1, verbose=0, shuffle=False)
    assert np.isfinite(history.history["loss"][-1])
    assert type(model.optimizer).__name__.startswith("Layerwise")


def test_layer_lr_decay_is_type_checked(tmp_path):
    import yaml

    from imdb_bert.errors import PipelineError
    from imdb_bert.params import load_params

    params = yaml.safe_load((ROOT / "demo" / "params.yaml").read_text())
    params["train"]["layer_lr_decay"] = "steep"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(PipelineError, match="train.layer_lr_decay is 'steep'; expected a number"):
        load_params(tmp_path / "params.yaml")


# --- bf16 scoring -------------------------------------------------------------------------------------------------

def test_check_bf16_logits_measures_the_largest_difference_and_the_argmax_agreement():
    reference = np.array([[1.0, -1.0], [0.05, 0.0], [-2.0, 2.0]])
    agrees, figures = precision_module.check_bf16_logits(reference, reference + [[0.1, 0], [0, 0.1], [0, 0]], 0.25)
    assert agrees and figures["max_logit_difference"] == pytest.approx(0.1)
    assert figures["argmax_agreement"] == pytest.approx(2 / 3)
    assert not precision_module.check_bf16_logits(reference, reference + 0.3, 0.25)[0]


def test_bf16_scoring_needs_native_bf16(monkeypatch):
    monkeypatch.delenv(precision_module.FORCE, raising=False)
    monkeypatch.setattr(precision_module, "cpu_bf16_features", lambda: [])
    assert precision_module.choose_scoring_precision(True, []).policy == "float32"
    assert precision_module.choose_scoring_precision(False, [True]).policy == "float32"
    assert precision_module.choose_scoring_precision(True, [True, False]).policy == "float32"
    assert precision_module.choose_scoring_precision(True, [True]).policy == "mixed_bfloat16"
    monkeypatch.setattr(precision_module, "cpu_bf16_features", lambda: ["avx512_bf16"])
    chosen = precision_module.choose_scoring_precision(True, [])
    assert chosen.policy == "mixed_bfloat16" and "avx512_bf16" in chosen.reason


def saved_tiny(library_name: str, folder: Path) -> Path:
    library = get_library(library_name)
    folder.mkdir()
    save_trained(library, tiny_model(library_name), folder, LABELS)
    return folder


def rows(count: int = 40, seed: int = 13) -> TokenizedSplit:
    generator = np.random.default_rng(seed)
    lengths = generator.integers(4, 64, count).astype(np.int32)
    ids = np.zeros((count, 64), dtype=np.int32)
    for row, length in enumerate(lengths):
        ids[row, :length] = generator.integers(5, 2000, length)
    return TokenizedSplit(ids, lengths, np.zeros(count, dtype=np.int8))


def scored(classifier: Classifier, split: TokenizedSplit) -> np.ndarray:
    from imdb_bert.scoring import predict_rows

    return predict_rows(classifier, split, ["input_ids", "attention_mask", "token_type_ids"], batch_size=16)


@pytest.mark.parametrize("library_name", LIBRARIES)
def test_bf16_scoring_is_kept_when_the_logits_agree_and_declined_when_not(library_name, tmp_path, monkeypatch):
    monkeypatch.setenv(precision_module.FORCE, "force")  # bfloat16 even where this CPU would emulate it
    folder = saved_tiny(library_name, tmp_path / "model")
    split = rows()
    reference = scored(load_trained(folder, LABELS), split)

    kept = load_trained(folder, LABELS)
    kept.score_in_bf16(True)
    probabilities = scored(kept, split)
    assert kept.scoring["precision"] == "mixed_bfloat16"
    assert kept.scoring["rows"] == 40 and kept.scoring["max_logit_difference"] > 0  # bfloat16 really ran
    np.testing.assert_allclose(probabilities, reference, atol=0.05)

    monkeypatch.setattr(precision_module, "BF16_LOGIT_TOLERANCE", 0.0)
    declined = load_trained(folder, LABELS)
    declined.score_in_bf16(True)
    probabilities = scored(declined, split)
    assert declined.scoring["precision"] == "float32"
    assert declined.scoring["reason"].startswith("bfloat16 declined: on 40 sequences, largest logit difference")
    np.testing.assert_array_equal(probabilities, reference)


def test_bf16_scoring_off_scores_in_float32(tmp_path):
    classifier = load_trained(saved_tiny("transformers", tmp_path / "model"), LABELS)
    classifier.score_in_bf16(False)
    scored(classifier, rows(8))
    assert classifier.scoring == {"precision": "float32", "reason": "bf16 scoring is off"}


# --- weight averaging ---------------------------------------------------------------------------------------------

def test_snapshots_are_spread_over_the_last_share_of_the_steps():
    from imdb_bert.training import snapshot_steps

    assert snapshot_steps(100, 0.25) == list(range(76, 101, 2))  # 25 steps, at most 20 snapshots: every second
    assert snapshot_steps(10, 1.0) == list(range(1, 11))
    assert snapshot_steps(10, 0.0) == []
    assert snapshot_steps(3, 0.01) == []  # less than one step


class FakeModel:
    """get_weights and set_weights over one array whose value is the number of steps taken."""

    def __init__(self) -> None:
        self.steps = 0

    def get_weights(self) -> list[np.ndarray]:
        return [np.full(3, float(self.steps), dtype=np.float32)]


class Base:  # what a Keras Callback gives the averaging callback: a constructor and a model
    model: FakeModel


def run_epochs(callback, model: FakeModel, epochs: range, steps_per_epoch: int) -> None:
    callback.model = model
    for epoch in epochs:
        callback.on_epoch_begin(epoch)
        for batch in range(steps_per_epoch):
            model.steps += 1
            callback.on_train_batch_end(batch)
        callback.on_epoch_end(epoch)


def test_the_running_mean_resumes_after_an_interruption(tmp_path):
    from imdb_bert.training import weight_averaging

    whole = weight_averaging(Base, 0.5, steps_per_epoch=4, epochs=3, state_dir=tmp_path / "whole")
    run_epochs(whole, FakeModel(), range(3), 4)
    assert whole.count == 6 and whole.mean[0][0] == pytest.approx(np.mean(range(7, 13)))

    first = weight_averaging(Base, 0.5, steps_per_epoch=4, epochs=3, state_dir=tmp_path / "resumed")
    model = FakeModel()
    run_epochs(first, model, range(2), 4)  # interrupted after epoch 2: a new process resumes at epoch 3
    resumed = weight_averaging(Base, 0.5, steps_per_epoch=4, epochs=3, state_dir=tmp_path / "resumed")
    run_epochs(resumed, model, range(2, 3), 4)
    assert resumed.count == whole.count
    np.testing.assert_array_equal(resumed.mean[0], whole.mean[0])
    assert sorted(path.name for path in (tmp_path / "resumed").iterdir()) == ["average-after-epoch-2.npz",
                                                                              "average-after-epoch-3.npz"]


def test_a_killed_run_with_weight_averaging_resumes_to_the_same_model(tmp_path):
    from conftest import copy_project, demo_params, run, stage, stage_command
    from test_resume import kill_when, start

    params = demo_params(tokenize={"chunk_size": 8},
                         train={"epochs": 2, "batch_size": 4, "deterministic": True, "average_last": 1.0})
    projects = {}
    for name in ("uninterrupted", "killed"):
        projects[name] = copy_project(tmp_path / name, params, git=False)
        for script in ("split", "tokenize"):
            run(stage_command(script), projects[name])
    run(stage_command("train"), projects["uninterrupted"])
    training = start("train", projects["killed"])
    kill_when(training, projects["killed"] / "models/.train_state/last_epoch/progress.json")  # after epoch 1
    assert (projects["killed"] / "models/.train_state/average-after-epoch-1.npz").is_file()
    result = stage("train", projects["killed"], check=True)
    assert "resuming after epoch 1" in result.stdout + result.stderr
    metrics = [json.loads((project / "metrics/train/metrics.json").read_text()) for project in projects.values()]
    assert metrics[0] == metrics[1]
    assert 0 < metrics[0]["weight_averaging"]["snapshots"] <= 20  # from both epochs


def validation_source(count: int = 24):
    from imdb_bert.batches import BatchSource

    split = rows(count)
    split = TokenizedSplit(split.input_ids, split.lengths, np.zeros(count, dtype=np.int8))  # every label 0
    return BatchSource(split, ["input_ids", "attention_mask", "token_type_ids"], 8, shuffle_seed=None,
                       group_by_length=True, pad_to_max_length=False, pad_to_multiple_of=8)


def head_bias(model, bias: list[float]) -> list[np.ndarray]:
    """The model's weights with the classifier's bias set to `bias` (its small random kernel kept): logits about
    `bias`, a little different for each review."""
    weights = model.get_weights()
    weights[-1] = np.asarray(bias, dtype=np.float32)
    return weights


@pytest.mark.parametrize(("averaged_bias", "kept"), [([4.0, -4.0], True), ([-4.0, 4.0], False)])
def test_the_average_is_kept_only_where_validation_supports_it(averaged_bias, kept):
    from imdb_bert.training import decide_average

    library = get_library("transformers")
    model = tiny_model("transformers")
    trained = head_bias(model, [0.0, 0.0])  # every validation label is 0: loss about log 2 per review
    model.set_weights(trained)
    averaging = SimpleNamespace(count=5, share=0.25, mean=head_bias(model, averaged_bias))
    verdict = decide_average(averaging, library, model, validation_source())
    assert verdict["applied"] is kept
    assert verdict["val_loss_trained"] == pytest.approx(np.log(2), abs=0.05)
    assert verdict["reason"].startswith("kept: mean of 5 snapshots over the last 25% of the steps: validation loss"
                                        if kept else "declined, trained weights: mean of 5 snapshots")
    expected = averaging.mean if kept else trained
    np.testing.assert_array_equal(model.get_weights()[-1], expected[-1])


def test_no_average_without_a_validation_split_or_before_the_window():
    from imdb_bert.training import decide_average

    assert decide_average(SimpleNamespace(count=3, share=0.5), None, None, None)["reason"] == \
        "declined: mean of 3 snapshots over the last 50% of the steps, but no validation split to check it on"
    assert not decide_average(SimpleNamespace(count=0, share=0.5), None, None, None)["applied"]


@pytest.mark.parametrize(("key", "value", "message"), [
    ("layer_lr_decay", 0.0, "train.layer_lr_decay is 0.0; expected above 0 and at most 1"),
    ("average_last", 1.5, "train.average_last is 1.5; expected a share of the training steps from 0 (off) to 1")])
def test_lever_params_out_of_range_are_one_clear_error(key, value, message):
    from imdb_bert.errors import PipelineError
    from imdb_bert.training import check_levers

    with pytest.raises(PipelineError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_levers(SimpleNamespace(**({"layer_lr_decay": 1.0, "average_last": 0.0} | {key: value})))
