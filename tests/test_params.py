"""params.yaml is read in one place and checked: unknown keys, missing keys, wrong types."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from imdb_bert.errors import PipelineError
from imdb_bert.params import load_params

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", ["params.yaml", "demo/params.yaml"])
def test_shipped_params_load(path):
    params = load_params(ROOT / path)
    assert params.data.labels == ["negative", "positive"]
    assert params.data.test_size == 0.2 and params.data.seed == 13


def test_defaults_are_the_reference_recipe_with_what_won_the_accuracy_benchmark():
    params = load_params(ROOT / "params.yaml")
    assert params.model.checkpoint == "bert-base-cased" and params.data.raw_csv == "data/raw/IMDB Dataset.csv"
    train = params.train
    assert (train.batch_size, train.epochs, params.tokenize.max_length) == (32, 3, 512)
    assert (train.epsilon, train.clipnorm) == (1e-8, 1.0)
    # bench/accuracy_bench.py (README: Results): AdamW 5e-5 with warm-up and head_tail truncation won.
    assert (train.optimizer, train.learning_rate, params.tokenize.truncation) == ("adamw", 5e-5, "head_tail")


def _write(tmp_path: Path, change) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    change(params)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


BAD_PARAMS = {
    "learning_rate_not_a_number": (lambda p: p["train"].update(learning_rate="fast"),
                                   "train.learning_rate is 'fast'; expected a number"),
    "misspelt_key": (lambda p: p["train"].update(epoch=3), "unknown key 'train.epoch'; did you mean 'train.epochs'?"),
    "missing_key": (lambda p: p["data"].pop("seed"), "missing key 'data.seed'"),
    "bool_for_int": (lambda p: p["train"].update(epochs=True), "train.epochs is True; expected a whole number"),
    "unknown_choice": (lambda p: p["tokenize"].update(truncation="middle"),
                       "tokenize.truncation is 'middle'; expected one of head, tail, head_tail"),
    "group_not_mapping": (lambda p: p.update(train=[1, 2]), "train must be a mapping"),
    "labels_not_list": (lambda p: p["data"].update(labels="negative"), "data.labels must be a list of strings"),
    "class_weight_choice": (lambda p: p["train"].update(class_weight="auto"),
                            "train.class_weight is 'auto'; expected one of balanced"),
    "threshold_objective": (lambda p: p["evaluate"].update(threshold="precision"),
                            "evaluate.threshold is 'precision'; expected one of accuracy, f1"),
    "long_reviews_choice": (lambda p: p["evaluate"].update(long_reviews="chunks"),
                            "evaluate.long_reviews is 'chunks'; expected one of truncate, windows"),
}


@pytest.mark.parametrize("case", BAD_PARAMS, ids=list(BAD_PARAMS))
def test_bad_params_name_the_key(tmp_path, case):
    change, message = BAD_PARAMS[case]
    with pytest.raises(PipelineError) as error:
        load_params(_write(tmp_path, change))
    assert message in str(error.value)


def test_numbers_written_in_yaml_1_2_style_are_accepted(tmp_path):
    # DVC (`dvc exp run -S train.learning_rate=1e-4`) writes 1e-4, which PyYAML reads as a string.
    path = tmp_path / "params.yaml"
    path.write_text(re.sub(r"learning_rate: \S+", "learning_rate: 1e-4", (ROOT / "params.yaml").read_text()))
    assert load_params(path).train.learning_rate == 1e-4


def test_a_missing_key_is_named_with_where_its_default_is(tmp_path):
    """params.yaml is the one source of defaults: a key left out is an error naming it, never a silent default."""
    def older(params: dict) -> None:
        del params["train"]["compiled_width_multiple"]

    with pytest.raises(PipelineError, match=r"missing key 'train\.compiled_width_multiple'; add it"):
        load_params(_write(tmp_path, older))
