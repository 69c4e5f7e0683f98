"""The two-phase schedule, run step by step inside a run directory.

Each step writes its outputs into the :class:`~catsdogs.runs.Run` and is skipped
when they already exist, so a run can be executed chapter by chapter and an
interrupted run resumes: Keras's ``BackupAndRestore`` callback brings training
back to the last finished epoch, without repeating it, and :mod:`catsdogs.training.resume`
restores what that callback leaves out, so the resumed epochs are the ones an
uninterrupted run trains.

1. :func:`prepare_data`     validate the files, split them, write the manifest
2. :func:`train_phase1`     base frozen; train the new head
3. :func:`train_phase2`     unfreeze the top of the base; low learning rate
"""

from __future__ import annotations

import logging
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
from scipy.special import expit

from catsdogs.config import Config, setting_differences
from catsdogs.data import images
from catsdogs.data.prepare import prepare_data, split_dataset
from catsdogs.evaluation.metrics import classification_metrics
from catsdogs.files import file_sha256, save_npy
from catsdogs.model.classifier import (
    build_classifier,
    build_head,
    compile_model,
    copy_head,
    feature_extractor,
    learning_rate_schedule,
    parameter_counts,
    unfreeze_top,
)
from catsdogs.model.weights import resolve_weights
from catsdogs.provenance import git_info
from catsdogs.records import GitState, Metrics, Parameters, PhaseResult
from catsdogs.runs import Run, read_history, save_predictions
from catsdogs.training.resume import ResumeState, advance_shuffle, drop, finished_epochs

log = logging.getLogger(__name__)

#: Each finished epoch's wall time in ``<phase>/``, written as the epoch ends (see :func:`_epoch_log`).
EPOCH_SECONDS_FILE = "epoch_seconds.json"
#: Keras's ``BackupAndRestore`` backup and what a resumed phase needs besides it
#: (:mod:`catsdogs.training.resume`), in ``<phase>/`` until the phase's result is written.
BACKUP_DIR, RESUME_DIR = "backup", "resume"


# ----------------------------------------------------------------------------- data


# ----------------------------------------------------------------------------- helpers


def _weights(run: Run):

    info = resolve_weights(run.config)
    run.record_provenance(weights=info.to_dict())
    return info


def _epoch_log(run: Run, phase: str, epochs: int):
    """A callback logging one line per finished epoch: run, phase, metrics, wall time. The
    wall time is also recorded in ``<phase>/epoch_seconds.json`` as each epoch ends, so a
    phase interrupted (even killed) and resumed keeps its finished epochs' time."""

    started: dict[str, float] = {}

    def begin(epoch: int, logs: dict | None = None) -> None:
        started["t"] = time.perf_counter()

    def end(epoch: int, logs: dict | None = None) -> None:
        shown = " ".join(f"{k} {v:.4f}" for k, v in (logs or {}).items() if k.endswith(("loss", "accuracy")))
        seconds = time.perf_counter() - started.get("t", time.perf_counter())
        run.update_json(f"{phase}/{EPOCH_SECONDS_FILE}", **{str(epoch + 1): round(seconds, 1)})
        log.info("%s %s epoch %d/%d: %s (%.0f s)", run.path.name, phase, epoch + 1, epochs, shown, seconds)

    return keras.callbacks.LambdaCallback(on_epoch_begin=begin, on_epoch_end=end)


def _callbacks(run: Run, phase: str, patience: int, epochs: int, checkpoint: bool = True) -> list:

    early_stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True)
    cbs = [
        # kept after fit (delete_checkpoint=False) until the phase's result is written: save_phase_result
        keras.callbacks.BackupAndRestore(str(run.path / phase / BACKUP_DIR), delete_checkpoint=False),
        keras.callbacks.CSVLogger(str(run.file(phase, "history.csv")), append=True),
        early_stopping,
        ResumeState(run.path / phase / RESUME_DIR, early_stopping),  # after the two it restores for
    ]
    if checkpoint:
        cbs.append(keras.callbacks.ModelCheckpoint(str(run.file(phase, "last_epoch.keras"))))
    return [*cbs, _epoch_log(run, phase, epochs)]


def _training_dataset(run: Run, phase: str):
    """The shuffled training split, advanced past the orders a resumed phase already drew."""

    ds = split_dataset(run, "train", shuffle=True)
    advance_shuffle(ds, finished_epochs(run.path / phase / RESUME_DIR, run.path / phase / BACKUP_DIR))
    return ds


def save_phase_result(run: Run, result: PhaseResult) -> PhaseResult:
    """Write ``<phase>/result.json``; only then drop what resuming the phase needed."""

    run.write_record(result, result.phase)
    drop(run.path / result.phase / BACKUP_DIR, run.path / result.phase / RESUME_DIR)
    return result


def phase_result(run: Run, phase: str, parameters: Parameters, labels, logits, **fields: Any) -> PhaseResult:
    """The record of a finished phase: its ``history.csv``, the seconds of each epoch, the
    validation metrics of ``logits``, the commit that made it, and ``fields``."""
    history = read_history(run.path / phase / "history.csv")
    seconds = run.read_json_or_none(f"{phase}/{EPOCH_SECONDS_FILE}") or {}
    return PhaseResult(
        phase=phase,
        parameters=parameters,
        epochs_run=len(history.get("epoch", [])),
        history=history,
        # one per epoch of the history (None for an epoch trained before epochs were timed)
        epoch_seconds=[seconds.get(str(int(e) + 1)) for e in history.get("epoch", [])],
        val_metrics=Metrics.of(classification_metrics(labels, expit(np.asarray(logits, dtype="float64")))),
        code=GitState(**git_info()),  # the commit that made the record, which listings of its code compare with
        **fields,
    )


# ----------------------------------------------------------------------------- shared steps


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


def extract_features(run: Run, model, split: str) -> np.ndarray:
    """Pooled base features of a split, ``(n, 1280)`` float32, cached in ``phase1/``.

    Valid as a stand-in for running the frozen base every epoch because the base
    is frozen and in inference mode: its output for an un-augmented image never
    changes during phase 1.
    """

    path = run.path / "phase1" / f"features_{split}.npy"
    paths, _ = run.split_paths(split)
    if path.is_file():
        feats = np.load(path)
        if feats.shape[0] == len(paths):
            return feats
    cfg = run.config
    ds = images.image_dataset(paths, None, cfg.image_size, cfg.batch_size)
    feats = feature_extractor(model).predict(ds, verbose=progress_verbosity()).astype("float32")
    save_npy(path, feats)
    return feats


def train_phase1(run: Run) -> PhaseResult:
    """Phase 1, feature extraction: the base frozen, only the new head trains.

    With ``phase1_cached_features`` (default) the head trains on pooled features
    computed once per split; otherwise the whole model trains with the base
    frozen and augmentation on. Writes ``phase1/model.keras``,
    ``phase1/history.csv``, ``phase1/predictions_val.csv`` and ``phase1/result.json``.
    """

    if done := run.result("phase1"):
        log.info("phase 1 already done in %s; reusing it", run.path)
        return done
    cfg = run.config
    prepare_data(run)
    weights = _weights(run)
    seed_everything(cfg)
    model = build_classifier(cfg, weights.keras_weights)
    params = parameter_counts(model)
    _, y_train = run.split_paths("train")
    _, y_val = run.split_paths("val")
    _, y_watch = run.split_paths(cfg.monitored_split)

    if cfg.phase1_cached_features:
        with run.timed("phase1_features"):
            x_train = extract_features(run, model, "train")
            x_val = extract_features(run, model, "val")
            x_watch = extract_features(run, model, cfg.monitored_split)
        head = build_head(cfg, x_train.shape[1])
        compile_model(head, cfg.phase1_lr)
        with run.timed("phase1_train"):
            head.fit(
                x_train,
                y_train.astype("float32"),
                validation_data=(x_watch, y_watch.astype("float32")),
                batch_size=cfg.batch_size,
                epochs=cfg.phase1_epochs,
                shuffle=True,
                verbose=2,
                callbacks=_callbacks(run, "phase1", cfg.phase1_patience, cfg.phase1_epochs, checkpoint=False),
            )
        copy_head(head, model)
        logits = head.predict(x_val, batch_size=256, verbose=0).reshape(-1)
    else:
        compile_model(model, cfg.phase1_lr)
        with run.timed("phase1_train"):
            model.fit(
                _training_dataset(run, "phase1"),
                validation_data=split_dataset(run, cfg.monitored_split),
                epochs=cfg.phase1_epochs,
                shuffle=False,  # as in fine_tune: the dataset shuffles itself
                verbose=progress_verbosity(),
                callbacks=_callbacks(run, "phase1", cfg.phase1_patience, cfg.phase1_epochs),
            )
        logits = model.predict(split_dataset(run, "val"), verbose=0).reshape(-1)

    model.save(run.file("phase1", "model.keras"))
    save_predictions(run.file("phase1", "predictions_val.csv"), run.split_files("val"), y_val, logits)
    return save_phase_result(
        run,
        phase_result(
            run,
            "phase1",
            params,
            y_val,
            logits,
            cached_features=cfg.phase1_cached_features,
            learning_rate=cfg.phase1_lr,
            monitored_split=cfg.monitored_split,
        ),
    )


def fine_tune(run: Run, model, phase: str, epochs: int) -> tuple[np.ndarray, np.ndarray]:
    """Compile at ``phase2_lr``, fit with augmentation on the train split (resumable,
    checkpointed; early stopping watches :attr:`~catsdogs.config.Config.monitored_split`),
    predict the validation split once, save ``<phase>/model.keras`` and
    ``<phase>/predictions_val.csv``. Returns validation labels and logits."""

    cfg = run.config
    steps = math.ceil(len(run.split_files("train")) / cfg.batch_size)
    compile_model(model, learning_rate_schedule(cfg.phase2_schedule, cfg.phase2_lr, epochs, steps), cfg.label_smoothing)
    _, y_val = run.split_paths("val")
    val_ds = split_dataset(run, "val")
    watch_ds = val_ds if cfg.monitored_split == "val" else split_dataset(run, cfg.monitored_split)
    with run.timed(f"{phase}_train"):
        model.fit(
            _training_dataset(run, phase),
            validation_data=watch_ds,
            epochs=epochs,
            shuffle=False,  # the tf.data pipeline shuffles; Keras ignores (and warns of) its default True
            verbose=progress_verbosity(),
            callbacks=_callbacks(run, phase, cfg.phase2_patience, epochs),
        )
    with run.timed(f"{phase}_predict_val"):
        logits = predict_logits(model, val_ds, flip=cfg.tta_flip)
    model.save(run.file(phase, "model.keras"))
    save_predictions(run.file(phase, "predictions_val.csv"), run.split_files("val"), y_val, logits)
    return y_val, logits


def predict_logits(model, dataset, flip: bool = False) -> np.ndarray:
    """The model's logits of ``dataset`` (batches of ``(images, labels)``), one per image;
    with ``flip``, the mean of each image's logit and its mirror image's (test-time
    augmentation, :attr:`~catsdogs.config.Config.tta_flip`)."""
    import tensorflow as tf

    logits = model.predict(dataset, verbose=0).reshape(-1)
    if flip:
        mirrored = dataset.map(lambda x, y: (tf.image.flip_left_right(x), y))
        logits = (logits + model.predict(mirrored, verbose=0).reshape(-1)) / 2
    return logits


# ----------------------------------------------------------------------------- phase 2


def train_phase2(run: Run) -> PhaseResult:
    """Phase 2, fine-tuning: unfreeze the base from ``fine_tune_from`` on, train at
    ``phase2_lr`` with augmentation, batch norm kept in inference mode.

    Writes ``phase2/model.keras`` (the final model), ``phase2/history.csv``,
    ``phase2/predictions_val.csv`` and ``phase2/result.json``.
    """

    if done := run.result("phase2"):
        log.info("phase 2 already done in %s; reusing it", run.path)
        return done
    cfg = run.config
    train_phase1(run)
    seed_everything(cfg, 1)
    model = keras.models.load_model(run.path / "phase1" / "model.keras")
    unfrozen = unfreeze_top(model, cfg.fine_tune_from)
    params = parameter_counts(model)
    y_val, logits = fine_tune(run, model, "phase2", cfg.phase2_epochs)
    return save_phase_result(
        run,
        phase_result(
            run,
            "phase2",
            params,
            y_val,
            logits,
            unfrozen=unfrozen,
            learning_rate=cfg.phase2_lr,
            monitored_split=cfg.monitored_split,
            model_sha256=file_sha256(run.path / "phase2" / "model.keras"),
        ),
    )


def fork_after_phase1(source: Run, config: Config, run_dir: Path | str) -> Run:
    """A new run that shares ``source``'s data split and phase 1 (copied), for
    ablations of phase 2: only :meth:`Config.after_phase1_fields` may differ.

    Raises
    ------
    ValueError
        If a field that phase 1 depends on differs, or ``source`` has no phase 1.
    """
    differing = sorted(set(setting_differences(source.config, config)) - Config.after_phase1_fields())
    if differing:
        raise ValueError(
            f"cannot reuse phase 1 of {source.path}: {', '.join(differing)} differ(s); "
            "train this configuration from scratch instead (omit --from-run)"
        )
    if source.result("phase1") is None:
        raise ValueError(f"{source.path} has no finished phase 1 to reuse; train it first")
    run = Run.open(config, run_dir)
    for folder in ("data", "phase1"):
        if not run.has(folder):
            shutil.copytree(
                source.path / folder, run.path / folder, ignore=shutil.ignore_patterns(BACKUP_DIR, RESUME_DIR, "*.tmp*")
            )
    timings = source.timings()
    run.update_json("timings.json", **{k: v for k, v in timings.items() if k.startswith(("data", "phase1"))})
    prov = source.read_json("provenance.json") if source.has("provenance.json") else {}
    run.record_provenance(
        **{k: prov[k] for k in ("data", "weights") if k in prov},
        forked_from={"run": source.path.name, "shared": ["data", "phase1"]},
    )
    return run


#: Where :func:`train` may stop: after the data split, after phase 1, or after both phases.
STOP_AFTER = ("data", "phase1", "phase2")


def train(
    config: Config, run_dir: Path | str | None = None, from_run: Path | str | None = None, until: str = "phase2"
) -> Run:
    """The training of a run, the one entry point (``python -m catsdogs train`` calls it):
    data split, phase 1, phase 2, resuming what is done, stopping after ``until``.

    With ``from_run``, the data split and phase 1 are taken from that run
    (see :func:`fork_after_phase1`).
    """
    if until not in STOP_AFTER:
        raise ValueError(f"until must be one of {', '.join(STOP_AFTER)}, got {until!r}")
    run = fork_after_phase1(Run.load(from_run), config, run_dir) if from_run else Run.open(config, run_dir)
    steps = (prepare_data, train_phase1, train_phase2)
    for step in steps[: STOP_AFTER.index(until) + 1]:
        step(run)
    return run


# ----------------------------------------------------------------------------- mitigation
