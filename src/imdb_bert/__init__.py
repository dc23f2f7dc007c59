"""Helpers shared by the pipeline stages: params, errors, files, data, checkpoints, model input."""

import os

# transformers' TF models are Keras 2 models: select tf-keras before anything imports TensorFlow.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow's C++ INFO lines off; PIPELINE_RUNTIME_LOGS=1 shows every runtime line (src/imdb_bert/runtime_logs.py).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0" if os.environ.get("PIPELINE_RUNTIME_LOGS") == "1" else "2")
