"""Atomic outputs: write to a temporary path beside the target, rename when complete."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from imdb_bert.errors import PipelineError


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling of `target`; on success it replaces `target`, on failure it is removed.

    The temporary name is fixed (`.NAME.partial`), so a run killed part way leaves nothing at
    `target` and its leftovers are cleared by the next run.
    """
    target = Path(target)
    partial = target.with_name(f".{target.name}.partial")
    _remove(partial)
    partial.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield partial
    except BaseException:
        _remove(partial)
        raise
    _remove(target)
    os.replace(partial, target)


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically, with sorted keys so identical data gives identical bytes."""
    with atomic_path(path) as partial:
        partial.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def missing_input(path: str | Path, stage: str, why: str = "not found") -> PipelineError:
    """The one error for an input that an earlier stage makes: what is wrong with it and which stage to run."""
    return PipelineError(f"{path}: {why}; run `dvc repro {stage}` first")


def require_inputs(*inputs: tuple[str | Path, str]) -> None:
    """Stop with one line when an input is missing, naming the stage that makes it (checked in pipeline order),
    so a stage run out of order says what to run first instead of failing deep inside."""
    for path, stage in inputs:
        if not Path(path).exists():
            raise missing_input(path, stage)
