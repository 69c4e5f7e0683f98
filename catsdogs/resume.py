"""Exact resumption of an interrupted ``fit``: what Keras's ``BackupAndRestore`` leaves out.

``BackupAndRestore`` restores the weights (with the optimizer) and the epoch count, which
makes a phase resumable. It does not make the resumed epochs the ones an uninterrupted
run would have trained: three things restart with the process.

* the random state of the model's layers (augmentation, dropout): Keras keeps it in
  ``SeedGenerator`` variables, which are not among the weights it saves;
* early stopping's memory: the best validation loss, the epochs waited since, the best
  weights to restore at the end;
* the training dataset's shuffled order (``shuffle(seed=..., reshuffle_each_iteration=True)``
  draws a new order for each iterator made from the dataset, counting from the first).

:class:`ResumeState` saves the first two as each epoch ends (``<phase>/resume/``) and puts
them back when training starts again; :func:`advance_shuffle` replays the dataset's
orders up to the epoch resumed at. No library does this (Keras's own callback is the one
that leaves it out), so it is written here. A fresh run has nothing to restore and runs
exactly as before; ``tests/test_train.py`` checks that a run stopped after an epoch and
resumed ends with the history and predictions of an uninterrupted one.

Limits: phase 1 on cached features shuffles NumPy arrays inside Keras, whose order is not
replayed (that phase takes seconds); and a stop in the milliseconds between Keras's backup
and this state being written leaves the state one epoch behind, so that resume is not exact.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import keras
import numpy as np

from catsdogs.files import atomic_write

#: The record of the last finished epoch: its number, the layers' random state, early stopping's memory.
STATE_FILE = "state.json"
#: Early stopping's best weights so far (``numpy.savez`` of ``model.get_weights()`` order).
BEST_WEIGHTS_FILE = "best_weights.npz"
#: How many iterators ``Model.fit`` makes from its training dataset per epoch (Keras 3 with the
#: TensorFlow backend, measured: resuming at epoch k needs 2k orders replayed to match).
ITERATORS_PER_EPOCH = 2


def _seed_states(model) -> list:
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


def finished_epochs(directory: Path | str) -> int:
    """Epochs finished by earlier invocations, per the state :class:`ResumeState` keeps."""
    path = Path(directory) / STATE_FILE
    return json.loads(path.read_text())["epoch"] if path.is_file() else 0


def advance_shuffle(dataset, epochs: int) -> None:
    """Draw the shuffled orders ``fit`` drew in ``epochs`` finished epochs, so that the next
    epoch gets the order it would have had without a stop. Only iterators are made: the
    pipeline behind them prefetches a few batches and is dropped."""
    for _ in range(ITERATORS_PER_EPOCH * epochs):
        iter(dataset)


class ResumeState(keras.callbacks.Callback):
    """Keep, as each epoch ends, what ``BackupAndRestore`` does not, and put it back when
    training starts again. Place it after ``BackupAndRestore`` and ``early_stopping`` in
    the callback list (it restores after they have (re)initialised)."""

    def __init__(self, directory: Path | str, early_stopping: keras.callbacks.EarlyStopping):
        super().__init__()
        self.directory = Path(directory)
        self.early_stopping = early_stopping

    def on_train_begin(self, logs=None):
        path = self.directory / STATE_FILE
        if not path.is_file():
            return
        state = json.loads(path.read_text())
        variables = _seed_states(self.model)
        if len(variables) != len(state["seed_states"]):
            raise ValueError(f"{path} holds {len(state['seed_states'])} random states, the model {len(variables)}")
        for variable, value in zip(variables, state["seed_states"]):
            variable.assign(np.asarray(value, dtype=variable.dtype))
        es = self.early_stopping
        es.wait, es.best, es.best_epoch = state["wait"], state["best"], state["best_epoch"]
        if (self.directory / BEST_WEIGHTS_FILE).is_file():
            with np.load(self.directory / BEST_WEIGHTS_FILE) as saved:
                es.best_weights = [saved[f"arr_{i}"] for i in range(len(saved.files))]

    def on_train_end(self, logs=None):
        # as BackupAndRestore drops its backup: a finished fit is never resumed, and a phase
        # trained again from the start (its result was never written) must not restore this
        shutil.rmtree(self.directory, ignore_errors=True)

    def on_epoch_end(self, epoch, logs=None):
        es = self.early_stopping
        if es.best_weights is not None and es.best_epoch == epoch:  # a new best: keep it
            buffer = io.BytesIO()
            np.savez(buffer, *es.best_weights)
            atomic_write(self.directory / BEST_WEIGHTS_FILE, buffer.getvalue())
        state = {
            "epoch": epoch + 1,
            "seed_states": [np.asarray(v.numpy()).tolist() for v in _seed_states(self.model)],
            "wait": es.wait,
            "best": None if es.best is None else float(es.best),
            "best_epoch": es.best_epoch,
        }
        atomic_write(self.directory / STATE_FILE, json.dumps(state))


__all__ = ["STATE_FILE", "BEST_WEIGHTS_FILE", "finished_epochs", "advance_shuffle", "ResumeState"]
