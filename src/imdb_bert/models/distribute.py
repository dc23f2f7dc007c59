"""TensorFlow distribution strategies for `train`, chosen by `train.strategy`.

`train.batch_size` is the batch per replica; the global batch is that times the number of replicas.
Only the chief (the `chief` task, or worker 0 when there is none) writes the pipeline's outputs.
"""

from __future__ import annotations

import json
import logging
import os
from typing import TYPE_CHECKING

from imdb_bert.errors import PipelineError

if TYPE_CHECKING:
    import tensorflow as tf

log = logging.getLogger("train")


def make_strategy(name: str, tpu_address: str | None = None) -> tf.distribute.Strategy:
    """auto: MirroredStrategy over the GPUs when there are several, else the default strategy.

    Call it before anything else touches TensorFlow's runtime: collective ops are configured at startup.
    """
    import tensorflow as tf

    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise PipelineError("train.strategy multi_worker needs TF_CONFIG in the environment of every worker "
                                "(docs/scaling.md)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = len(tf.config.list_physical_devices("GPU"))  # does not start the runtime, unlike logical devices
    if name == "auto":
        return tf.distribute.MirroredStrategy() if gpus > 1 else tf.distribute.get_strategy()
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    if name == "mirrored":  # every GPU, or every logical CPU device when there is no GPU
        return tf.distribute.MirroredStrategy(None if gpus else [d.name for d in tf.config.list_logical_devices("CPU")])
    address = tpu_address or os.environ.get("TPU_NAME")
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=address)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError) as error:
        raise PipelineError(f"train.strategy tpu: no TPU at {address or 'the default address'} ({error}); set "
                            f"train.tpu_address or TPU_NAME") from None
    return tf.distribute.TPUStrategy(resolver)


def is_chief() -> bool:
    """True unless TF_CONFIG names this process a task other than the chief (or worker 0 without a chief)."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = config.get("task")
    if not task or task["type"] == "chief":
        return True
    return task["type"] == "worker" and task.get("index", 0) == 0 and "chief" not in config.get("cluster", {})


def tensorflow_gpus() -> list[tuple[str, bool]]:
    """(name, computes bfloat16 natively: compute capability 8+) for each GPU TensorFlow sees."""
    import tensorflow as tf

    found = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        found.append((details.get("device_name", gpu.name), details.get("compute_capability", (0, 0))[0] >= 8))
    return found
