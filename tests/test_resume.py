"""Tests of :mod:`catsdogs.training.resume` on a small model trained in-process: a fit stopped at an
epoch's end and resumed ends with the weights of an uninterrupted one, including when the
stop came after early stopping had ended training. (The real pipeline's resume is tested in
``tests/test_train.py``.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from catsdogs.training import resume  # noqa: E402  (imports Keras)

EPOCHS = 8


class Stop(Exception):
    pass


class StopAfter(keras.callbacks.Callback):
    """Raise at the end of epoch ``at`` (after every other callback of that epoch ran), or
    with ``at="early"`` at the end of the epoch where early stopping ends training."""

    def __init__(self, at: int | str):
        super().__init__()
        self.at = at

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.at or (self.at == "early" and self.model.stop_training):
            raise Stop


def _dataset(x, y, shuffle: bool):
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y))
    return (ds.shuffle(len(x), seed=3, reshuffle_each_iteration=True) if shuffle else ds).batch(8)


def _fit(tmp: Path, stop: int | str | None = None) -> tuple[list, int]:
    """Train the small model (the same one every call); returns its weights and epochs run."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 6)).astype("float32")
    y = (rng.random(48) > 0.5).astype("float32")  # random labels: validation loss soon rises
    keras.utils.set_random_seed(7)
    inputs = keras.Input((6,))
    h = keras.layers.GaussianNoise(0.3, seed=1)(inputs)
    h = keras.layers.Dense(16, activation="relu")(h)
    h = keras.layers.Dropout(0.3, seed=2)(h)
    model = keras.Model(inputs, keras.layers.Dense(1)(h))
    model.compile(keras.optimizers.Adam(0.05), keras.losses.BinaryCrossentropy(from_logits=True))
    train_ds, val_ds = _dataset(x[:32], y[:32], True), _dataset(x[32:], y[32:], False)
    resume.advance_shuffle(train_ds, resume.finished_epochs(tmp / "resume", tmp / "backup"))
    early = keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(tmp / "backup"), delete_checkpoint=False),
        early,
        resume.ResumeState(tmp / "resume", early),
    ]
    if stop is not None:
        callbacks.append(StopAfter(stop))
    # shuffle=False as in catsdogs.training: the dataset shuffles itself (Keras ignores, and warns of, its True)
    history = model.fit(train_ds, validation_data=val_ds, epochs=EPOCHS, shuffle=False, verbose=0, callbacks=callbacks)
    return model.get_weights(), len(history.epoch)


def _same(a: list, b: list) -> None:
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)


def test_a_stopped_fit_resumes_where_an_uninterrupted_one_goes(tmp_path: Path) -> None:
    whole, epochs = _fit(tmp_path / "whole")
    assert 2 < epochs < EPOCHS, "the small model is meant to stop early, after a few epochs"
    with pytest.raises(Stop):
        _fit(tmp_path / "cut", stop=1)  # two epochs done, then a stop
    assert resume.finished_epochs(tmp_path / "cut" / "resume", tmp_path / "cut" / "backup") == 2
    resumed, _ = _fit(tmp_path / "cut")
    _same(resumed, whole)


def test_a_stop_after_early_stopping_trains_no_more(tmp_path: Path) -> None:
    whole, _ = _fit(tmp_path / "whole")
    with pytest.raises(Stop):
        _fit(tmp_path / "cut", stop="early")  # stopped at the epoch early stopping ended it
    resumed, epochs = _fit(tmp_path / "cut")
    assert epochs == 0  # no epoch left: the best weights are restored
    _same(resumed, whole)


def test_a_state_without_its_backup_is_not_restored(tmp_path: Path, caplog) -> None:
    whole, _ = _fit(tmp_path / "whole")
    with pytest.raises(Stop):
        _fit(tmp_path / "cut", stop=1)
    resume.drop(tmp_path / "cut" / "backup")  # training will start again from the beginning
    assert resume.finished_epochs(tmp_path / "cut" / "resume", tmp_path / "cut" / "backup") == 0
    fresh, _ = _fit(tmp_path / "cut")
    assert "will not repeat an uninterrupted run exactly" in caplog.text
    _same(fresh, whole)  # from the start, as if nothing had been kept
