"""`model.library: keras_hub`: KerasHub's text classifiers (Keras 3) on the backend KERAS_BACKEND names.

KerasHub converts a Hugging Face checkpoint directory (config.json + model.safetensors) itself, offline. The
classification head is always fresh, sized to the data's labels. Input comes from our token cache (no KerasHub
preprocessor): our feature names are mapped onto the backbone's (token_ids, padding_mask, segment_ids).
A trained model directory holds `keras_model.json` (the task's Keras config) and `model.weights.h5`.
"""

from __future__ import annotations

import json
import re
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import keras
import numpy as np

from imdb_bert.batches import BatchSource
from imdb_bert.errors import PipelineError
from imdb_bert.files import missing_input, read_json, write_json
from imdb_bert.models import ModelLibrary, Runtime
from imdb_bert.models.checkpoint import cannot_read_safetensors, refuse_weights, weights_in
from imdb_bert.tokenizer import cannot_load

# Hugging Face model_type -> KerasHub task; each checked against transformers in tests/test_libraries.py.
CLASSIFIERS = {"bert": "BertTextClassifier", "distilbert": "DistilBertTextClassifier",
               "roberta": "RobertaTextClassifier", "xlm-roberta": "XLMRobertaTextClassifier"}
OUR_FEATURES = {"token_ids": "input_ids", "padding_mask": "attention_mask", "segment_ids": "token_type_ids"}
JAX_INFERENCE_WIDTH_MULTIPLE = 64  # evaluate and predict on JAX: batch widths round up to this (few compiles)
ENCODER_LAYER = re.compile(r"transformer_layer_(\d+)/")  # KerasHub's BERT-family backbones
EMBEDDINGS = re.compile(r"embedding")  # token, position and segment embeddings and their layer norm
CONFIG_FILE = "keras_model.json"
WEIGHTS_FILE = "model.weights.h5"


@keras.saving.register_keras_serializable(package="imdb_pipeline")
class LinearWarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """0 -> peak over the warm-up steps, then linearly down to 0 at the last step (transformers' create_optimizer)."""

    def __init__(self, peak: float, total_steps: int, warmup_steps: int) -> None:
        self.peak, self.total_steps, self.warmup_steps = peak, total_steps, warmup_steps

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warming = self.peak * step / max(1, self.warmup_steps)
        decaying = self.peak * keras.ops.maximum(0.0, 1.0 - (step - self.warmup_steps)
                                                 / max(1, self.total_steps - self.warmup_steps))
        return keras.ops.where(step < self.warmup_steps, warming, decaying)

    def get_config(self) -> dict:
        return {"peak": self.peak, "total_steps": self.total_steps, "warmup_steps": self.warmup_steps}


class Batches(keras.utils.PyDataset):
    """A BatchSource as a Keras PyDataset (JAX and PyTorch backends): one seeded plan per epoch."""

    def __init__(self, source: BatchSource, with_labels: bool = True) -> None:
        super().__init__()
        self.source, self.with_labels, self._plan = source, with_labels, None

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> tuple:
        if self._plan is None:
            self._plan = self.source.plan(self.source.epoch)
        features, labels = self.source.batch(self._plan[index])
        return (features, labels) if self.with_labels else (features,)

    def on_epoch_end(self) -> None:
        self.source.epoch += 1
        self._plan = None


class LiveCallback(keras.callbacks.Callback):
    """dvclive's Keras callback for Keras 3 (dvclive's own subclasses tf-keras' Callback): same metric names."""

    def __init__(self, live: Any) -> None:
        super().__init__()
        self.live = live

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        from dvclive.utils import standardize_metric_name

        for metric, value in (logs or {}).items():
            self.live.log_metric(standardize_metric_name(metric, "dvclive.keras"), float(value))
        self.live.next_step()

    def on_train_end(self, logs: dict | None = None) -> None:
        self.live.end()


class KerasHubLibrary(ModelLibrary):
    name = "keras_hub"

    def backend(self) -> str:
        return keras.backend.backend()

    def configure(self, settings: Any) -> Runtime:
        backend = self.backend()
        keras.utils.set_random_seed(settings.seed)
        if settings.deterministic and backend == "tensorflow":
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
        from imdb_bert.models.precision import choose_precision

        devices = accelerators()
        precision = choose_precision(settings.mixed_precision, [bf16 for _, bf16 in devices])
        keras.mixed_precision.set_global_policy(precision.policy)
        # JAX runs op by op without XLA, far slower than compiled even on a CPU: it always compiles.
        jit_compile = backend == "jax" or (settings.jit_compile and bool(devices))
        return Runtime(backend, [name for name, _ in devices], bool(devices),
                       keras.mixed_precision.global_policy().name, jit_compile, precision.reason)

    def distribution(self, strategy: str, tpu_address: str | None) -> tuple[AbstractContextManager, int, bool]:
        if keras.backend.backend() == "tensorflow":
            from imdb_bert.models.transformers_tf import LIBRARY as TF_LIBRARY

            return TF_LIBRARY.distribution(strategy, tpu_address)
        if strategy not in ("auto", "one_device"):
            raise PipelineError(f"train.strategy {strategy} needs the TensorFlow backend (KERAS_BACKEND=tensorflow); "
                                f"on {keras.backend.backend()} use auto (data parallel over all accelerators)")
        devices = keras.distribution.list_devices()
        if strategy == "auto" and len(devices) > 1 and keras.backend.backend() == "jax":
            keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
            return nullcontext(), len(devices), False
        return nullcontext(), 1, False

    def build(self, checkpoint: str, labels: list[str], init: str) -> Any:
        import keras_hub

        folder = Path(checkpoint)
        preset = str(folder) if folder.is_dir() else f"hf://{checkpoint}"
        if folder.is_dir():
            model_type = _model_type(folder)
            if init == "pretrained":
                found = weights_in(folder)
                if found == "tf_model.h5":
                    raise PipelineError(f"model.checkpoint {folder}: has only TensorFlow weights (tf_model.h5); "
                                        f"model.library keras_hub loads model.safetensors: use model.library: "
                                        f"transformers for this checkpoint")
                if found != "safetensors":
                    raise refuse_weights(folder, found, "model.safetensors")
            task_class = getattr(keras_hub.models, CLASSIFIERS[model_type])
        try:
            backbone = keras_hub.models.Backbone.from_preset(preset, load_weights=init == "pretrained")
        except Exception as error:  # noqa: BLE001 (safetensors, hub and converter errors have no common base)
            if type(error).__name__ == "SafetensorError":
                raise cannot_read_safetensors(folder, error) from None
            raise PipelineError(cannot_load(checkpoint, "model", error)) from None
        if not folder.is_dir():
            task_class = next(getattr(keras_hub.models, name) for name in CLASSIFIERS.values()
                              if getattr(keras_hub.models, name).backbone_cls is type(backbone))
        return task_class(backbone=backbone, num_classes=len(labels), preprocessor=None)

    def compile(self, model: Any, settings: Any, total_steps: int, jit_compile: bool) -> None:
        multipliers = self.lr_multipliers(model, settings.layer_lr_decay) if settings.layer_lr_decay != 1.0 else None
        model.compile(optimizer=_optimizer(settings, total_steps, multipliers),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=[keras.metrics.SparseCategoricalAccuracy("accuracy")], jit_compile=jit_compile)

    def lr_multipliers(self, model: Any, decay: float) -> dict[str, float]:
        from imdb_bert.models import layer_multipliers

        return layer_multipliers([variable.path for variable in model.trainable_variables], _layer_of, decay)

    def fit_data(self, model: Any, source: BatchSource) -> Any:
        source = _renamed(model, source)
        return source.dataset() if keras.backend.backend() == "tensorflow" else Batches(source)

    def fit(self, model: Any, data: Any, **options: Any) -> Any:
        # KerasHub's Task.fit converts inputs for its preprocessor through tf.data or grain; with no preprocessor
        # the batches are model-ready, and Keras' own fit takes them on any backend, TensorFlow installed or not.
        return keras.Model.fit(model, data, **options)

    def callback_base(self) -> type:
        return keras.callbacks.Callback

    def early_stopping(self, patience: int, restore_best_weights: bool) -> Any:
        return keras.callbacks.EarlyStopping("val_loss", patience=patience, restore_best_weights=restore_best_weights)

    def live_callback(self, live: Any) -> Any:
        return LiveCallback(live)

    def create_optimizer_variables(self, model: Any) -> None:
        model.optimizer.build(model.trainable_variables)

    def optimizer_variables(self, model: Any) -> list:
        return list(model.optimizer.variables)

    def random_states(self, model: Any) -> list:
        return [variable for variable in model.variables if variable.name == "seed_generator_state"]

    def save(self, model: Any, out: Path) -> None:
        config = keras.saving.serialize_keras_object(model)
        config.pop("compile_config", None)  # the trained model is for inference; its optimizer is not kept
        write_json(out / CONFIG_FILE, _float32_policies(config))
        keras.saving.save_weights(model, out / WEIGHTS_FILE, objects_to_skip=[model.optimizer])

    def load(self, model_dir: Path, policy: str = "float32") -> Any:
        if not (model_dir / WEIGHTS_FILE).is_file():
            raise missing_input(model_dir, "train", f"no {WEIGHTS_FILE}")
        config = read_json(model_dir / CONFIG_FILE)
        model = keras.saving.deserialize_keras_object(config if policy == "float32" else _policies(config, policy))
        keras.saving.load_weights(model, model_dir / WEIGHTS_FILE, objects_to_skip=[model.optimizer])
        return model

    def accelerators_bf16(self) -> list[bool]:
        return [bf16 for _, bf16 in accelerators()]

    def logits(self, model: Any, features: dict) -> Any:
        ids = features["input_ids"]
        inputs = {name: features.get(ours) if ours in features else keras.ops.zeros_like(ids)
                  for name, ours in _names(model).items()}
        return model(inputs, training=False)

    def predict_logits(self, model: Any, source: BatchSource, verbose: int = 0) -> np.ndarray:
        source = _renamed(model, source)
        if self.backend() == "jax":
            source.multiple = max(source.multiple, JAX_INFERENCE_WIDTH_MULTIPLE)
        data = source.dataset(with_labels=False) if keras.backend.backend() == "tensorflow" \
            else Batches(source, with_labels=False)
        return np.asarray(keras.Model.predict(model, data, verbose=verbose))  # as in fit: no preprocessing


def _float32_policies(config: Any) -> Any:
    """The config with every mixed dtype policy as float32: a model trained in mixed precision (float32 variables)
    reloads for float32 inference."""
    return _policies(config, "float32", only_mixed=True)


def _policies(config: Any, policy: str, only_mixed: bool = False) -> Any:
    """The config with every dtype policy (every mixed one, with `only_mixed`) replaced by `policy`."""
    if isinstance(config, dict):
        name = str(config.get("config", {}).get("name"))
        if config.get("class_name") == "DTypePolicy" and (name.startswith("mixed_") or not only_mixed):
            return {**config, "config": {**config["config"], "name": policy}}
        return {key: _policies(value, policy, only_mixed) for key, value in config.items()}
    if isinstance(config, list):
        return [_policies(value, policy, only_mixed) for value in config]
    return config


def _model_type(folder: Path) -> str:
    config = folder / "config.json"
    if not config.is_file():
        raise PipelineError(f"model.checkpoint {folder}: no config.json; a Hugging Face checkpoint directory has "
                            f"config.json, tokenizer files and model.safetensors")
    model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    if model_type not in CLASSIFIERS:
        raise PipelineError(f"model.checkpoint {folder}: model_type {model_type!r} is not one model.library "
                            f"keras_hub converts ({', '.join(CLASSIFIERS)}); use model.library: transformers")
    return model_type


def _names(model: Any) -> dict[str, str]:
    """The backbone's input names -> our feature names."""
    return {name: OUR_FEATURES[name] for name in model.backbone.input}


def _renamed(model: Any, source: BatchSource) -> BatchSource:
    return source.renamed(_names(model))


def _layer_of(path: str) -> int | None:
    """A variable's encoder layer, -1 for the embeddings, None for the pooler and the head."""
    if found := ENCODER_LAYER.search(path):
        return int(found.group(1))
    return -1 if EMBEDDINGS.search(path) else None


class LayerwiseAdam(keras.optimizers.Adam):
    """Adam with decoupled weight decay, each variable's step and decay at its learning rate times its multiplier
    (`multipliers`, by variable path): layer-wise learning-rate decay. Adam's step does not change when a gradient
    is scaled, so the rate itself is scaled; the weight decay is applied here (Keras' own would use the base rate)."""

    def __init__(self, multipliers: dict[str, float], decoupled_weight_decay: float, **options: Any) -> None:
        super().__init__(weight_decay=None, **options)
        self.multipliers, self.decoupled_weight_decay = multipliers, decoupled_weight_decay
        self._rates: list[float] = []
        self._decayed: list[bool] = []

    def build(self, variables: list) -> None:
        super().build(variables)
        self._rates = [self.multipliers.get(variable.path, 1.0) for variable in variables]
        self._decayed = [self.decoupled_weight_decay > 0 and self._use_weight_decay(variable) for variable in variables]

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        learning_rate = keras.ops.cast(learning_rate, variable.dtype) * self._rates[index]
        if self._decayed[index]:  # before the step, as Keras' own decoupled decay
            self.assign_sub(variable, variable * keras.ops.cast(self.decoupled_weight_decay, variable.dtype)
                            * learning_rate)
        super().update_step(gradient, variable, learning_rate)


def _optimizer(settings: Any, total_steps: int,
               multipliers: dict[str, float] | None = None) -> keras.optimizers.Optimizer:
    """The tutorial's constant Adam, or AdamW with linear warm-up and decay; LayerNorm and biases are not decayed.
    With `multipliers` (layer-wise decay), the same as a LayerwiseAdam."""
    decay = settings.weight_decay if settings.optimizer == "adamw" else 0.0
    learning_rate = settings.learning_rate if settings.optimizer == "adam" else \
        LinearWarmupDecay(settings.learning_rate, total_steps, round(total_steps * settings.warmup_ratio))
    options = {"learning_rate": learning_rate, "epsilon": settings.epsilon, "clipnorm": settings.clipnorm}
    if multipliers is not None:
        optimizer = LayerwiseAdam(multipliers, decay, **options)
    elif settings.optimizer == "adam":
        return keras.optimizers.Adam(**options)
    else:
        optimizer = keras.optimizers.AdamW(weight_decay=decay, **options)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


def accelerators() -> list[tuple[str, bool]]:
    """(name, supports bfloat16) for each GPU or TPU the backend sees."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return [(device.device_kind, device.platform == "tpu" or float(getattr(device, "compute_capability", 0)) >= 8)
                for device in jax.devices() if device.platform != "cpu"]
    if backend == "tensorflow":
        from imdb_bert.models.distribute import tensorflow_gpus

        return tensorflow_gpus()
    if backend == "torch":
        import torch

        return [(torch.cuda.get_device_name(index), torch.cuda.get_device_capability(index)[0] >= 8)
                for index in range(torch.cuda.device_count())]
    return []


LIBRARY = KerasHubLibrary()
