#!/usr/bin/env bash
# Download the wheels bench/gpu_bench.py needs beyond numpy and JAX into .carry/ (git-ignored), for a GPU machine
# with no internet. On that machine (Python 3.12, numpy and JAX with CUDA already installed), from the project root:
#
#   pip install --no-index --no-deps .carry/*.whl
#   PYTHONPATH=src KERAS_BACKEND=jax python -m bench.gpu_bench --output gpu_bench.json
#
# Usage: bash bench/gpu_bench_carry.sh [python version, default 3.12] [folder, default .carry]
# The list is the one in docs/gpu.md: keras and keras-hub without their optional dependencies
# (keras-hub's tensorflow-text, kagglehub, sentencepiece serve presets and tokenizers; `import keras_hub` needs only
# tokenizers among them).
set -euo pipefail

python_version="${1:-3.12}"
folder="${2:-.carry}"
wheels=(
  keras==3.15.1 keras-hub==0.32.0
  absl-py==2.5.1 h5py==3.14.0 namex==0.1.0 optree==0.16.0 packaging==26.4 typing_extensions==4.16.0
  rich==15.0.0 markdown-it-py==4.3.0 mdurl==0.1.2 pygments==2.21.0 regex==2026.11.19 tokenizers==0.23.3
)

mkdir -p "$folder"
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$python_version" \
  --implementation cp --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux_2_28_x86_64 -d "$folder" "${wheels[@]}"
ls -l "$folder"
du -sh "$folder"
