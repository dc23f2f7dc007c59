"""The DVC stages: `python -m imdb_bert.stages.NAME` from the project root (dvc.yaml)."""
