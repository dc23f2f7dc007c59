#!/usr/bin/env bash
# `make demo`: run the whole pipeline on the embedded default (data/sample + demo/tiny-bert) through DVC,
# in a scratch copy (.demo/) so that the workspace's params.yaml and outputs are never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=.demo
rm -rf "$scratch" && mkdir "$scratch"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$scratch"
else
  tar --exclude=./.venv --exclude=./.demo --exclude=./.git -cf - . | tar -xf - -C "$scratch"
fi
cp demo/params.yaml "$scratch/params.yaml"
cd "$scratch"
git init -q && git add -A && git -c user.name=demo -c user.email=demo@localhost commit -qm "demo scratch copy"
export HF_HUB_OFFLINE=1
dvc repro
echo
echo "== Data report (metrics/data.json)"
cat metrics/data.json
echo "== Metrics"
dvc metrics show metrics/eval.json metrics/train/metrics.json
echo "== Model card (models/model_card.md), its evaluation"
sed -n '/^## Evaluation/,/^## Intended use/p' models/model_card.md | sed '$d'
echo "== The scratch copy is $(pwd): try dvc plots show, cat models/model_card.md, dvc exp run -S train.epochs=4, imdb-predict \"...\""
