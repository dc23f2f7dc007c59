"""Commands beside the pipeline, not DVC stages: predict, report, preflight, ci (console scripts, pyproject.toml)."""
