"""Resuming `train` after an interruption.

After every epoch, models/.train_state/last_epoch/ is replaced atomically: model weights, optimizer
variables, the dropout layers' random generator states, the epoch number, the best-epoch bookkeeping and a
copy of the training curves written so far (DVCLive's metrics/train/). A rerun with the same settings puts
the curves back and continues after the last completed epoch; different settings, or a completed run, start
over.

The state is no DVC output and git ignores it: DVC's run-cache restores no stage with a `persist` output, so
train has none; `dvc repro` removes train's outputs before it runs, not this folder; and a queued experiment
runs in its own copy of the repository, with its own state. Nobody commits or pushes it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from imdb_bert.files import atomic_path, read_json, write_json

STATE_DIR = Path("models/.train_state")
log = logging.getLogger("train")


def fingerprint(*settings: object) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


def _save_arrays(path: Path, arrays: list[np.ndarray]) -> None:
    with path.open("wb") as file:
        np.savez(file, *arrays)


def _load_arrays(path: Path) -> list[np.ndarray]:
    with np.load(path) as saved:
        return [saved[f"arr_{index}"] for index in range(len(saved.files))]


class _Resumable:
    """Saves the training state after each epoch; `restore()` before `fit` gives the epoch to start at.

    Mixed into the Keras Callback class of the model's library (see `resumable_training`). Put it after
    EarlyStopping in the callback list: it carries that callback's best epoch across a resume.
    """

    def __init__(self, library: Any, settings_fingerprint: str, best: Any | None, folder: Path = STATE_DIR,
                 curves: Path | None = None) -> None:
        super().__init__()
        self.library, self.folder, self.settings, self.best = library, folder, settings_fingerprint, best
        self.curves = curves  # DVCLive's folder: saved with each epoch, put back on resume
        self.resumed: dict | None = None

    def restore(self, model: Any, allowed: bool = True) -> int:
        log.info("resume state in %s", self.folder.resolve())
        state = read_json(self.folder / "state.json") if (self.folder / "state.json").is_file() else {}
        last = self.folder / "last_epoch"
        if not allowed or state.get("settings") != self.settings or state.get("completed") or not last.is_dir():
            shutil.rmtree(self.folder, ignore_errors=True)
            write_json(self.folder / "state.json", {"settings": self.settings, "completed": False})
            return 0
        self.library.create_optimizer_variables(model)  # then every variable is overwritten
        model.set_weights(_load_arrays(last / "model.npz"))
        for variables, saved in ((self.library.optimizer_variables(model), "optimizer.npz"),
                                 (self.library.random_states(model), "random.npz")):
            for variable, value in zip(variables, _load_arrays(last / saved), strict=True):
                variable.assign(value)
        self.resumed = read_json(last / "progress.json")
        if self.curves is not None:  # the curves up to the saved epoch, which DVCLive resumes after
            shutil.rmtree(self.curves, ignore_errors=True)
            if (last / "curves").is_dir():
                shutil.copytree(last / "curves", self.curves)
        log.info("resuming after epoch %d from %s", self.resumed["epochs_done"], last)
        return self.resumed["epochs_done"]

    def on_train_begin(self, logs=None) -> None:
        if self.best is not None and self.resumed and self.resumed["best"]:
            saved = self.resumed["best"]
            self.best.best, self.best.best_epoch, self.best.wait = saved["value"], saved["epoch"], saved["wait"]
            self.best.best_weights = _load_arrays(self.folder / "last_epoch" / "best_weights.npz")

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        best = None
        with atomic_path(self.folder / "last_epoch") as last:
            last.mkdir()
            _save_arrays(last / "model.npz", self.model.get_weights())
            for variables, saved in ((self.library.optimizer_variables(self.model), "optimizer.npz"),
                                     (self.library.random_states(self.model), "random.npz")):
                _save_arrays(last / saved, [np.asarray(variable.numpy()) for variable in variables])
            if self.best is not None and self.best.best_weights is not None:
                _save_arrays(last / "best_weights.npz", self.best.best_weights)
                best = {"value": float(self.best.best), "epoch": self.best.best_epoch, "wait": self.best.wait}
            write_json(last / "progress.json", {"epochs_done": epoch + 1, "best": best})
            if self.curves is not None and self.curves.is_dir():  # DVCLive's callback has logged this epoch
                shutil.copytree(self.curves, last / "curves")

    def on_train_end(self, logs=None) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        write_json(self.folder / "state.json", {"settings": self.settings, "completed": True})


def resumable_training(library: Any, settings_fingerprint: str, best: Any | None, folder: Path = STATE_DIR,
                       curves: Path | None = None) -> Any:
    """The resume callback, as a subclass of the Keras Callback that `library`'s models accept; `curves`, DVCLive's
    folder, is kept with the state (put the callback after DVCLive's in the callback list)."""
    callback_class = type("ResumableTraining", (_Resumable, library.callback_base()), {})
    return callback_class(library, settings_fingerprint, best, folder, curves)
