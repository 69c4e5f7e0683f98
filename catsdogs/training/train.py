"""The two phases' fits, as functions of data: features, arrays, ``tf.data`` datasets and
models in, a trained model out. Where they read and write (the run directory, resuming,
records) is the step layer's, :mod:`catsdogs.training.steps`.

- :func:`pooled_features`  the frozen base's pooled features of images (phase 1's inputs)
- :func:`fit_head`         phase 1: the new head on those features
- :func:`fit_frozen`       phase 1 without cached features: the whole model, base frozen
- :func:`fine_tune`        phase 2: the model with the top of its base unfrozen
- :func:`predict_logits`   one logit per image, optionally averaged with its mirror image's
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import keras
import numpy as np

from catsdogs.config import Config
from catsdogs.data import images
from catsdogs.model.classifier import build_head, compile_model, feature_extractor, learning_rate_schedule


def progress_verbosity() -> int:
    """Keras ``verbose`` for long fits and predictions: a live progress bar (1) on a
    terminal, one line per epoch (2) elsewhere, so an executed notebook or a log file
    keeps a few lines instead of thousands of progress-bar updates."""
    return 1 if sys.stdout.isatty() else 2


def seed_everything(cfg: Config, offset: int = 0) -> None:
    """Seed Python, NumPy and TensorFlow with ``cfg.training_seed + offset``; with
    ``cfg.deterministic`` also make TensorFlow's ops deterministic (on a GPU, where its
    default kernels are not)."""
    keras.utils.set_random_seed(cfg.training_seed + offset)
    if cfg.deterministic:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


# ----------------------------------------------------------------------------- phase 1


def pooled_features(model: keras.Model, paths: Sequence[str], cfg: Config) -> np.ndarray:
    """The pooled base features of the images at ``paths``, ``(n, 1280)`` float32.

    Valid as a stand-in for running the frozen base every epoch because the base
    is frozen and in inference mode: its output for an un-augmented image never
    changes during phase 1.
    """
    ds = images.image_dataset(paths, None, cfg.image_size, cfg.batch_size)
    return feature_extractor(model).predict(ds, verbose=progress_verbosity()).astype("float32")


def fit_head(cfg: Config, x_train, y_train, x_watch, y_watch, callbacks: list) -> keras.Model:
    """Phase 1 on cached features: a new head (:func:`~catsdogs.model.classifier.build_head`)
    trained at ``phase1_lr`` for up to ``phase1_epochs``, watching ``(x_watch, y_watch)``."""
    head = build_head(cfg, x_train.shape[1])
    compile_model(head, cfg.phase1_lr)
    head.fit(
        x_train,
        y_train.astype("float32"),
        validation_data=(x_watch, y_watch.astype("float32")),
        batch_size=cfg.batch_size,
        epochs=cfg.phase1_epochs,
        shuffle=True,
        verbose=2,
        callbacks=callbacks,
    )
    return head


def fit_frozen(model: keras.Model, cfg: Config, train_ds, watch_ds, callbacks: list) -> None:
    """Phase 1 on images: the whole model, its base frozen, augmentation on, at ``phase1_lr``."""
    compile_model(model, cfg.phase1_lr)
    model.fit(
        train_ds,
        validation_data=watch_ds,
        epochs=cfg.phase1_epochs,
        shuffle=False,  # as in fine_tune: the dataset shuffles itself
        verbose=progress_verbosity(),
        callbacks=callbacks,
    )


# ----------------------------------------------------------------------------- phase 2


def fine_tune(
    model: keras.Model, cfg: Config, train_ds, watch_ds, *, epochs: int, steps_per_epoch: int, callbacks: list
) -> None:
    """Phase 2: compile at ``phase2_lr`` (on ``phase2_schedule``, with ``label_smoothing``)
    and fit on ``train_ds`` (batches of augmented-on-the-fly images) for up to ``epochs``,
    watching ``watch_ds``; ``callbacks`` decide when to stop and what to keep."""
    schedule = learning_rate_schedule(cfg.phase2_schedule, cfg.phase2_lr, epochs, steps_per_epoch)
    compile_model(model, schedule, cfg.label_smoothing)
    model.fit(
        train_ds,
        validation_data=watch_ds,
        epochs=epochs,
        shuffle=False,  # the tf.data pipeline shuffles; Keras ignores (and warns of) its default True
        verbose=progress_verbosity(),
        callbacks=callbacks,
    )


def predict_logits(model: keras.Model, dataset, flip: bool = False) -> np.ndarray:
    """The model's logits of ``dataset`` (batches of ``(images, labels)``), one per image;
    with ``flip``, the mean of each image's logit and its mirror image's (test-time
    augmentation, :attr:`~catsdogs.config.Config.tta_flip`)."""
    import tensorflow as tf

    logits = model.predict(dataset, verbose=0).reshape(-1)
    if flip:
        mirrored = dataset.map(lambda x, y: (tf.image.flip_left_right(x), y))
        logits = (logits + model.predict(mirrored, verbose=0).reshape(-1)) / 2
    return logits
