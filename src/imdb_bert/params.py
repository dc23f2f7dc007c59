"""params.yaml, read in one place and checked against the schema below.

An unknown key, a missing key or a value of the wrong type is a PipelineError naming the key. params.yaml is the one
source of every default: no key has a default here.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from imdb_bert.errors import PipelineError

PARAMS_FILE = "params.yaml"


@dataclass(frozen=True)
class DataParams:
    raw_csv: str
    text_column: str
    label_column: str
    labels: list[str]
    strip_html: bool
    drop_duplicates: bool
    test_size: float
    validation_size: float
    max_rows: int | None
    seed: int


@dataclass(frozen=True)
class ModelParams:
    checkpoint: str
    init: Literal["pretrained", "random"]
    library: Literal["transformers", "keras_hub"]


@dataclass(frozen=True)
class TokenizeParams:
    max_length: int
    truncation: Literal["head", "tail", "head_tail"]
    chunk_size: int


@dataclass(frozen=True)
class TrainParams:
    seed: int
    strategy: Literal["auto", "one_device", "mirrored", "multi_worker", "tpu"]
    tpu_address: str | None
    epochs: int
    batch_size: int
    optimizer: Literal["adam", "adamw"]
    learning_rate: float
    epsilon: float
    clipnorm: float | None
    weight_decay: float
    warmup_ratio: float
    pad_to_max_length: bool
    group_by_length: bool
    pad_to_multiple_of: int
    early_stopping_patience: int | None
    keep_best: bool
    deterministic: bool
    mixed_precision: bool
    jit_compile: bool
    compiled_width_multiple: int
    monitor_system: bool
    class_weight: Literal["balanced"] | None
    layer_lr_decay: float
    average_last: float
    long_reviews: Literal["truncate", "windows"]


@dataclass(frozen=True)
class EvaluateParams:
    batch_size: int
    misclassified: int
    calibrate: bool
    threshold: Literal["accuracy", "f1"] | None
    long_reviews: Literal["truncate", "windows"]
    window_stride: float
    bootstrap_resamples: int
    bootstrap_seed: int
    bf16_scoring: bool


@dataclass(frozen=True)
class Params:
    data: DataParams
    model: ModelParams
    tokenize: TokenizeParams
    train: TrainParams
    evaluate: EvaluateParams


def load_params(path: str | Path = PARAMS_FILE) -> Params:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PipelineError(f"{path}: not found; run the stage from the project root") from None
    except yaml.YAMLError as error:
        raise PipelineError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    return _build(Params, raw, prefix="", source=path)


def _build(cls: type, raw: Any, prefix: str, source: Path) -> Any:
    where = prefix.rstrip(".") or "the top level"
    if not isinstance(raw, dict):
        raise PipelineError(f"{source}: {where} must be a mapping of keys to values")
    hints = typing.get_type_hints(cls)
    fields = {field.name: field for field in dataclasses.fields(cls)}
    names = list(fields)
    for key in raw:
        if key not in hints:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"; did you mean '{prefix}{close[0]}'?" if close else f"; known keys: {', '.join(names)}"
            raise PipelineError(f"{source}: unknown key '{prefix}{key}'{hint}")
    values = {}
    for name in names:
        if name not in raw:
            raise PipelineError(f"{source}: missing key '{prefix}{name}'; add it (params.yaml in the project's "
                                f"repository has every key with its default and a comment)")
        values[name] = _check(hints[name], raw[name], f"{prefix}{name}", source)
    return cls(**values)


def _check(kind: Any, value: Any, key: str, source: Path) -> Any:
    if dataclasses.is_dataclass(kind):
        return _build(kind, value, f"{key}.", source)
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _check(next(arg for arg in args if arg is not type(None)), value, key, source)
    if origin is Literal:
        if value not in args:
            raise PipelineError(f"{source}: {key} is {value!r}; expected one of {', '.join(map(str, args))}")
        return value
    if origin is list:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise PipelineError(f"{source}: {key} must be a list of strings, got {value!r}")
        return value
    if kind is float:
        return _number(value, key, source)
    if kind is bool and isinstance(value, bool):
        return value
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str) and value:
        return value
    expected = {bool: "true or false", int: "a whole number", str: "a non-empty string"}[kind]
    raise PipelineError(f"{source}: {key} is {value!r}; expected {expected}")


def _number(value: Any, key: str, source: Path) -> float:
    # YAML 1.1 (PyYAML) reads 3e-5 as text while DVC's YAML 1.2 writes it that way: accept both.
    if isinstance(value, bool):
        raise PipelineError(f"{source}: {key} is {value!r}; expected a number")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise PipelineError(f"{source}: {key} is {value!r}; expected a number such as 3.0e-5") from None
