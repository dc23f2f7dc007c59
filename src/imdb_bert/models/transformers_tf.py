"""`model.library: transformers`: the reference recipe's TFAutoModelForSequenceClassification (tf-keras).

transformers 4.57 is the last release with TensorFlow models. Weights: `tf_model.h5` when present, else
PyTorch-format `model.safetensors` (single or sharded), read as numpy arrays and mapped onto the TF model by
transformers' own name mapping, without torch (its TF `from_pretrained` cannot read them: upstream issue 40028).
"""

from __future__ import annotations

import json
import re
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from imdb_bert.batches import BatchSource
from imdb_bert.errors import PipelineError
from imdb_bert.files import missing_input
from imdb_bert.models import ModelLibrary, Runtime
from imdb_bert.models.checkpoint import TF_WEIGHTS, cannot_read_safetensors, refuse_weights, weights_in
from imdb_bert.tokenizer import cannot_load

HEAD = re.compile(r"^(classifier|pre_classifier)\.")  # the fresh classification head: never in a base checkpoint
ENCODER_LAYER = re.compile(r"/layer_\._(\d+)/")  # BERT, RoBERTa and DistilBERT: .../encoder/layer_._3/...
EMBEDDINGS = re.compile(r"/embeddings/")
REPLICA = re.compile(r"/replica_\d+(?=:\d+$)")  # a mirrored variable's copy on another device


def _label_config(labels: list[str]) -> dict:
    return {"num_labels": len(labels), "id2label": dict(enumerate(labels)),
            "label2id": {label: index for index, label in enumerate(labels)}}


def _safetensors_state(folder: Path) -> dict[str, np.ndarray]:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    index = folder / "model.safetensors.index.json"
    files = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.is_file() \
        else ["model.safetensors"]
    state: dict[str, np.ndarray] = {}
    for name in files:
        try:
            state.update(load_file(folder / name))
        except (SafetensorError, OSError) as error:
            raise cannot_read_safetensors(folder / name, error) from None
    return state


def load_safetensors(model: Any, folder: Path) -> None:
    """PyTorch-named safetensors weights into a TF model; anything missing or left over but the head is an error."""
    from transformers.modeling_tf_pytorch_utils import load_pytorch_state_dict_in_tf2_model

    _, info = load_pytorch_state_dict_in_tf2_model(model, _safetensors_state(folder), allow_missing_keys=True,
                                                   output_loading_info=True, skip_logger_warnings=True)
    ignored = [re.compile(pattern) for pattern in model._keys_to_ignore_on_load_unexpected or []]
    missing = [key for key in info["missing_keys"] if not HEAD.match(key)]
    unexpected = [key for key in info["unexpected_keys"]
                  if not HEAD.match(key) and not any(pattern.search(key) for pattern in ignored)]
    if missing or unexpected:
        problems = "; ".join(f"{what}: {', '.join(sorted(keys)[:5])}{' ...' if len(keys) > 5 else ''}"
                             for what, keys in (("missing", missing), ("unexpected", unexpected)) if keys)
        raise PipelineError(f"model.checkpoint {folder}: its weights do not fit a {type(model).__name__} "
                            f"({problems}); is config.json the checkpoint's own?")


class TransformersLibrary(ModelLibrary):
    name = "transformers"

    def backend(self) -> str:
        return "tensorflow"

    def configure(self, settings: Any) -> Runtime:
        from imdb_bert.models.distribute import tensorflow_gpus
        from imdb_bert.models.precision import choose_precision

        tf.keras.utils.set_random_seed(settings.seed)
        # Dropout draws from tf.random.Generator variables, whose state a resumed run restores.
        tf.keras.backend.experimental.enable_tf_random_generator()
        if settings.deterministic:
            tf.config.experimental.enable_op_determinism()
        gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
        tpu = settings.strategy == "tpu"
        accelerated = bool(gpus) or tpu
        native_bf16 = [True] if tpu else [bf16 for _, bf16 in tensorflow_gpus()]
        precision = choose_precision(settings.mixed_precision, native_bf16)
        tf.keras.mixed_precision.set_global_policy(precision.policy)
        return Runtime("tensorflow", gpus, accelerated, tf.keras.mixed_precision.global_policy().name,
                       settings.jit_compile and accelerated, precision.reason)

    def distribution(self, strategy: str, tpu_address: str | None) -> tuple[AbstractContextManager, int, bool]:
        from imdb_bert.models.distribute import make_strategy

        made = make_strategy(strategy, tpu_address)
        multi_worker = isinstance(made, tf.distribute.MultiWorkerMirroredStrategy)
        return made.scope(), made.num_replicas_in_sync, multi_worker

    def build(self, checkpoint: str, labels: list[str], init: str) -> Any:
        from transformers import AutoConfig, TFAutoModelForSequenceClassification

        folder = Path(checkpoint)
        try:
            if init == "random":
                config = AutoConfig.from_pretrained(checkpoint, **_label_config(labels))
                model = TFAutoModelForSequenceClassification.from_config(config)
                model(model.dummy_inputs, training=False)  # built, as a loaded model is
                return model
            if not folder.is_dir():
                return TFAutoModelForSequenceClassification.from_pretrained(checkpoint, use_safetensors=False,
                                                                            **_label_config(labels))
            found = weights_in(folder)
            if found == TF_WEIGHTS:
                return TFAutoModelForSequenceClassification.from_pretrained(checkpoint, use_safetensors=False,
                                                                            **_label_config(labels))
            if found != "safetensors":
                raise refuse_weights(folder, found, f"{TF_WEIGHTS} or model.safetensors")
            model = TFAutoModelForSequenceClassification.from_config(
                AutoConfig.from_pretrained(checkpoint, **_label_config(labels)))
            load_safetensors(model, folder)
            return model
        except (OSError, ValueError) as error:
            raise PipelineError(cannot_load(checkpoint, "model", error)) from None

    def compile(self, model: Any, settings: Any, total_steps: int, jit_compile: bool) -> None:
        optimizer = _optimizer(settings, total_steps)
        if settings.layer_lr_decay != 1.0:
            optimizer = _layerwise(optimizer, self.lr_multipliers(model, settings.layer_lr_decay))
        model.compile(optimizer=optimizer, loss=_float32_loss(),
                      metrics=[tf.keras.metrics.SparseCategoricalAccuracy("accuracy")], jit_compile=jit_compile)

    def lr_multipliers(self, model: Any, decay: float) -> dict[str, float]:
        from imdb_bert.models import layer_multipliers

        return layer_multipliers([variable.name for variable in model.trainable_variables], _layer_of, decay)

    def fit_data(self, model: Any, source: BatchSource) -> Any:
        return source.dataset()

    def fit(self, model: Any, data: Any, **options: Any) -> Any:
        return model.fit(data, **options)

    def callback_base(self) -> type:
        return tf.keras.callbacks.Callback

    def early_stopping(self, patience: int, restore_best_weights: bool) -> Any:
        return tf.keras.callbacks.EarlyStopping("val_loss", patience=patience,
                                                restore_best_weights=restore_best_weights)

    def live_callback(self, live: Any) -> Any:
        from dvclive.keras import DVCLiveCallback

        return DVCLiveCallback(live=live)

    def create_optimizer_variables(self, model: Any) -> None:
        model(model.dummy_inputs, training=True)  # builds the model and its dropout generators
        trainable = model.trainable_variables  # a zero step creates the optimizer's slots; then all is overwritten
        model.optimizer.apply_gradients(zip([tf.zeros_like(v) for v in trainable], trainable, strict=True))

    def optimizer_variables(self, model: Any) -> list:
        variables = model.optimizer.variables  # a method on legacy optimizers (AdamWeightDecay), else a property
        return list(variables() if callable(variables) else variables)

    def random_states(self, model: Any) -> list:
        found = (getattr(getattr(layer, "_random_generator", None), "_generator", None) for layer in model.submodules)
        return [generator.state for generator in found if generator is not None]

    def save(self, model: Any, out: Path) -> None:
        model.save_pretrained(out)

    def load(self, model_dir: Path, policy: str = "float32") -> Any:
        from transformers import TFAutoModelForSequenceClassification
        from transformers.utils import logging as transformers_logging

        if not (model_dir / TF_WEIGHTS).is_file():
            raise missing_input(model_dir, "train", f"no {TF_WEIGHTS}")
        level = transformers_logging.get_verbosity()
        transformers_logging.set_verbosity_error()  # our own trained model: "all layers were used" is no news
        previous = tf.keras.mixed_precision.global_policy()
        tf.keras.mixed_precision.set_global_policy(policy)  # the layers take the policy in force when built
        try:
            return TFAutoModelForSequenceClassification.from_pretrained(model_dir, use_safetensors=False)
        finally:
            tf.keras.mixed_precision.set_global_policy(previous)
            transformers_logging.set_verbosity(level)

    def accelerators_bf16(self) -> list[bool]:
        from imdb_bert.models.distribute import tensorflow_gpus

        return [bf16 for _, bf16 in tensorflow_gpus()]

    def logits(self, model: Any, features: dict) -> Any:
        return model(features, training=False).logits

    def predict_logits(self, model: Any, source: BatchSource, verbose: int = 0) -> np.ndarray:
        return model.predict(source.dataset(with_labels=False), verbose=verbose).logits


def _layer_of(name: str) -> int | None:
    """A variable's encoder layer, -1 for the embeddings, None for the pooler and the head."""
    if found := ENCODER_LAYER.search(name):
        return int(found.group(1))
    return -1 if EMBEDDINGS.search(name) else None


class _LayerwiseRates:
    """Mixed into a tf-keras legacy optimizer (transformers' AdamWeightDecay, legacy Adam): each variable's step and
    weight decay use its learning rate times its multiplier (`multipliers`, by variable name). Adam's step does not
    change when a gradient is scaled, so the rate itself is scaled, in the per-variable coefficients."""

    multipliers: dict[str, float]

    def _scaled(self, var: Any, apply_state: dict | None) -> dict:
        rate = self.multipliers.get(REPLICA.sub("", var.name), 1.0)
        key = (var.device, var.dtype.base_dtype)
        apply_state = dict(apply_state or {})
        coefficients = apply_state.get(key) or self._fallback_apply_state(*key)
        apply_state[key] = {**coefficients, "lr_t": coefficients["lr_t"] * rate, "lr": coefficients["lr"] * rate}
        return apply_state

    def _resource_apply_dense(self, grad, var, apply_state=None):
        return super()._resource_apply_dense(grad, var, apply_state=self._scaled(var, apply_state))

    def _resource_apply_sparse(self, grad, var, indices, apply_state=None):
        return super()._resource_apply_sparse(grad, var, indices, apply_state=self._scaled(var, apply_state))


def _layerwise(optimizer: Any, multipliers: dict[str, float]) -> Any:
    """`optimizer` (a legacy tf-keras optimizer, not yet used) with per-variable learning-rate multipliers. Its class
    becomes a subclass that only adds the scaling: a copy through get_config would lose AdamWeightDecay's
    exclusions and cannot rebuild transformers' WarmUp schedule."""
    optimizer.__class__ = type(f"Layerwise{type(optimizer).__name__}", (_LayerwiseRates, type(optimizer)), {})
    optimizer.multipliers = multipliers
    return optimizer


def _optimizer(settings: Any, total_steps: int) -> Any:
    """The tutorial's Adam, or AdamW with linear warm-up and decay (transformers' create_optimizer). With layer-wise
    decay, Adam is tf-keras' legacy Adam (the same update), whose per-variable coefficients `_layerwise` scales."""
    if settings.optimizer == "adam":
        adam = tf.keras.optimizers.legacy.Adam if settings.layer_lr_decay != 1.0 else tf.keras.optimizers.Adam
        return adam(learning_rate=settings.learning_rate, epsilon=settings.epsilon, clipnorm=settings.clipnorm)
    from transformers import create_optimizer

    optimizer, _ = create_optimizer(init_lr=settings.learning_rate, num_train_steps=total_steps,
                                    num_warmup_steps=round(total_steps * settings.warmup_ratio),
                                    adam_epsilon=settings.epsilon, adam_clipnorm=settings.clipnorm,
                                    weight_decay_rate=settings.weight_decay)
    return optimizer


def _float32_loss() -> Any:
    """The tutorial's loss, computed in float32 even when the model's logits are float16 or bfloat16."""

    class Float32SparseCategoricalCrossentropy(tf.keras.losses.SparseCategoricalCrossentropy):
        def call(self, y_true, y_pred):
            return super().call(y_true, tf.cast(y_pred, tf.float32))

    return Float32SparseCategoricalCrossentropy(from_logits=True)


LIBRARY = TransformersLibrary()
