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

The backup and this state are kept until the phase's result is written (:func:`drop`), so
a stop after the last epoch, or after early stopping has ended training, resumes with no
epoch left to train and the best weights restored.

Limits: phase 1 on cached features shuffles NumPy arrays inside Keras, whose order is not
replayed (that phase takes seconds). A stop between Keras's backup and this state being
written (the same epoch end) leaves the state one epoch behind: the resumed run then says
so in a warning and is not exact. The two iterators per epoch are how ``Model.fit`` reads a
dataset of known length (one as an epoch starts, one as it ends).
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from catsdogs.files import atomic_write

log = logging.getLogger(__name__)

#: The record of the last finished epoch: its number, the layers' random state, early stopping's memory.
STATE_FILE = "state.json"
#: Early stopping's best weights so far (``numpy.savez`` of ``model.get_weights()`` order).
BEST_WEIGHTS_FILE = "best_weights.npz"
#: How many iterators ``Model.fit`` makes from a training dataset of known length per epoch
#: (Keras 3 ``EpochIterator``: one as the epoch starts, one as it ends; resuming at epoch k
#: needs 2k orders replayed, which ``tests/test_train.py`` checks).
ITERATORS_PER_EPOCH = 2


def _seed_states(model) -> list:
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


@dataclass(frozen=True)
class _Saved:
    """:data:`STATE_FILE`: what ``BackupAndRestore`` leaves out, as of the end of ``epoch``
    epochs: the random states, early stopping's memory and whether it had stopped training."""

    epoch: int
    seed_states: list
    wait: int
    best: float | None
    best_epoch: int
    stopped: bool

    @classmethod
    def read(cls, path: Path) -> _Saved:
        return cls(**json.loads(path.read_text()))

    def write(self, path: Path) -> None:
        atomic_write(path, json.dumps(dataclasses.asdict(self)))


def finished_epochs(directory: Path | str, backup: Path | str) -> int:
    """Epochs finished by earlier invocations, per the state :class:`ResumeState` keeps
    (0 without Keras's ``backup`` directory: then training starts from the beginning)."""
    path = Path(directory) / STATE_FILE
    return _Saved.read(path).epoch if path.is_file() and Path(backup).is_dir() else 0


def drop(*directories: Path | str) -> None:
    """Remove a phase's resume state and Keras backup once its result is written: kept
    until then, a stop between the end of ``fit`` and the result resumes with no epoch to
    train instead of training the phase again."""
    for directory in directories:
        shutil.rmtree(directory, ignore_errors=True)


def advance_shuffle(dataset, epochs: int) -> None:
    """Draw the shuffled orders ``fit`` drew in ``epochs`` finished epochs, so that the next
    epoch gets the order it would have had without a stop. Only iterators are made: the
    pipeline behind them prefetches a few batches and is dropped."""
    if epochs and int(dataset.cardinality()) < 0:
        raise ValueError("advance_shuffle needs a dataset of known length (fit makes fewer iterators otherwise)")
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
        state = _Saved.read(path)
        resumed_at = getattr(self.model, "_initial_epoch", None) or 0  # set by BackupAndRestore just before
        if state.epoch != resumed_at:
            log.warning(
                "%s is for epoch %d but training resumes at epoch %d: the resumed epochs will not "
                "repeat an uninterrupted run exactly",
                path,
                state.epoch,
                resumed_at,
            )
            return
        variables = _seed_states(self.model)
        if len(variables) != len(state.seed_states):
            raise ValueError(f"{path} holds {len(state.seed_states)} random states, the model {len(variables)}")
        for variable, value in zip(variables, state.seed_states):
            variable.assign(np.asarray(value, dtype=variable.dtype))
        es = self.early_stopping
        es.wait, es.best, es.best_epoch = state.wait, state.best, state.best_epoch
        if (self.directory / BEST_WEIGHTS_FILE).is_file():
            with np.load(self.directory / BEST_WEIGHTS_FILE) as saved:
                es.best_weights = [saved[f"arr_{i}"] for i in range(len(saved.files))]
        if state.stopped:  # early stopping had ended training: no epoch is left to train
            self.model._initial_epoch = self.params["epochs"]  # as BackupAndRestore sets it

    def on_epoch_end(self, epoch, logs=None):
        es = self.early_stopping
        if es.best_weights is not None and es.best_epoch == epoch:  # a new best: keep it
            buffer = io.BytesIO()
            np.savez(buffer, *es.best_weights)
            atomic_write(self.directory / BEST_WEIGHTS_FILE, buffer.getvalue())
        _Saved(
            epoch=epoch + 1,
            seed_states=[np.asarray(v.numpy()).tolist() for v in _seed_states(self.model)],
            wait=es.wait,
            best=None if es.best is None else float(es.best),
            best_epoch=es.best_epoch,
            stopped=bool(self.model.stop_training),
        ).write(self.directory / STATE_FILE)


__all__ = ["STATE_FILE", "BEST_WEIGHTS_FILE", "finished_epochs", "advance_shuffle", "drop", "ResumeState"]
