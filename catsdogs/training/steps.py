"""The steps of a run: the one layer that takes a :class:`~catsdogs.runs.Run`.

Each step skips what its run directory already holds, calls the stage functions (the data
split of :mod:`catsdogs.data.prepare`, the model of :mod:`catsdogs.model.classifier`, the
fits of :mod:`catsdogs.training.train`) on arrays, datasets and models, and writes their
records. The steps order themselves: phase 2 asks for phase 1, which asks for the data split,
each skipped when done, so a run can be executed chapter by chapter and an interrupted run
resumes: Keras's ``BackupAndRestore`` callback brings training back to the last finished
epoch, without repeating it, and :mod:`catsdogs.training.resume` restores what that callback
leaves out, so the resumed epochs are the ones an uninterrupted run trains.

1. :func:`prepare_data`     validate the files, split them, write the manifest
2. :func:`train_phase1`     base frozen; train the new head
3. :func:`train_phase2`     unfreeze the top of the base; low learning rate

:func:`train_run` runs them up to a given step (the CLI's ``train`` and the tests); the chapters
call the steps one by one, each where it explains it.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np
from scipy.special import expit

from catsdogs.config import Config, setting_differences
from catsdogs.data import images
from catsdogs.data.prepare import prepare_split
from catsdogs.evaluation.metrics import classification_metrics
from catsdogs.files import file_sha256, save_npy
from catsdogs.model.classifier import build_classifier, copy_head, parameter_counts, unfreeze_top
from catsdogs.model.weights import WeightsInfo, resolve_weights
from catsdogs.provenance import git_info
from catsdogs.records import GitState, Metrics, Parameters, PhaseResult, Scan
from catsdogs.runs import Run, read_history, save_predictions, write_manifest
from catsdogs.training import train
from catsdogs.training.resume import ResumeState, advance_shuffle, drop, finished_epochs

log = logging.getLogger(__name__)

#: Each finished epoch's wall time in ``<phase>/``, written as the epoch ends (see :func:`_epoch_log`).
EPOCH_SECONDS_FILE = "epoch_seconds.json"
#: Keras's ``BackupAndRestore`` backup and what a resumed phase needs besides it
#: (:mod:`catsdogs.training.resume`), in ``<phase>/`` until the phase's result is written.
BACKUP_DIR, RESUME_DIR = "backup", "resume"
#: Where :func:`train_run` may stop: after the data split, after phase 1, or after both phases.
STOP_AFTER = ("data", "phase1", "phase2")


# ----------------------------------------------------------------------------- data


def prepare_data(run: Run, progress: bool = True, inner: bool = True) -> Scan:
    """Validate the dataset and write the split manifest (skipped when done): ``data/scan.json``
    (counts, skipped files and reasons, conversions), ``data/manifest.csv`` and the data
    section of ``provenance.json``. ``inner``: see :func:`~catsdogs.data.prepare.prepare_split`."""
    if run.has("data", "manifest.csv") and (done := run.scan) is not None:
        return done
    with run.timed("data_scan"):
        prepared = prepare_split(run.config, progress=progress, inner=inner)
        sha = write_manifest(prepared.rows, run.file("data", "manifest.csv"))
    summary, data = prepared.records(sha)
    run.write_record(summary)
    run.record_provenance(data=data.to_dict())
    return summary


def split_dataset(run: Run, split: str, shuffle: bool = False):
    """The ``tf.data`` pipeline of one split of the run's manifest (batched, prefetched)."""
    cfg = run.config
    paths, labels = run.split_paths(split)
    return images.image_dataset(paths, labels, cfg.image_size, cfg.batch_size, shuffle=shuffle, seed=cfg.training_seed)


def _training_dataset(run: Run, phase: str):
    """The shuffled training split, advanced past the orders a resumed phase already drew."""
    ds = split_dataset(run, "train", shuffle=True)
    advance_shuffle(ds, finished_epochs(run.path / phase / RESUME_DIR, run.path / phase / BACKUP_DIR))
    return ds


# ----------------------------------------------------------------------------- records and callbacks


def _weights(run: Run) -> WeightsInfo:
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
    """A phase's callbacks: backup and resume state in ``<phase>/``, its ``history.csv``,
    early stopping on the watched split's loss, a last-epoch checkpoint, the epoch log."""
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
        val_metrics=Metrics.from_dict(classification_metrics(labels, expit(np.asarray(logits, dtype="float64")))),
        code=GitState(**git_info()),  # the commit that made the record, which listings of its code compare with
        **fields,
    )


def save_phase_result(run: Run, result: PhaseResult) -> PhaseResult:
    """Write ``<phase>/result.json``; only then drop what resuming the phase needed."""
    run.write_record(result, result.phase)
    drop(run.path / result.phase / BACKUP_DIR, run.path / result.phase / RESUME_DIR)
    return result


# ----------------------------------------------------------------------------- phase 1


def cached_features(run: Run, model, split: str) -> np.ndarray:
    """:func:`~catsdogs.training.train.pooled_features` of a split, cached in ``phase1/``."""
    path = run.path / "phase1" / f"features_{split}.npy"
    paths, _ = run.split_paths(split)
    if path.is_file():
        feats = np.load(path)
        if feats.shape[0] == len(paths):
            return feats
    feats = train.pooled_features(model, paths, run.config)
    save_npy(path, feats)
    return feats


def train_phase1(run: Run) -> PhaseResult:
    """Phase 1, feature extraction: the base frozen, only the new head trains (after the
    data split, :func:`prepare_data`).

    With ``phase1_cached_features`` (default) the head trains on pooled features computed
    once per split (:func:`~catsdogs.training.train.fit_head`); otherwise the whole model
    trains with the base frozen and augmentation on (:func:`~catsdogs.training.train.fit_frozen`).
    Writes ``phase1/model.keras``, ``phase1/history.csv``, ``phase1/predictions_val.csv``
    and ``phase1/result.json``.
    """
    if done := run.result("phase1"):
        log.info("phase 1 already done in %s; reusing it", run.path)
        return done
    cfg = run.config
    prepare_data(run)
    weights = _weights(run)
    train.seed_everything(cfg)
    model = build_classifier(cfg, weights.keras_weights)
    params = parameter_counts(model)
    _, y_train = run.split_paths("train")
    _, y_val = run.split_paths("val")
    _, y_watch = run.split_paths(cfg.monitored_split)
    callbacks = _callbacks(
        run, "phase1", cfg.phase1_patience, cfg.phase1_epochs, checkpoint=not cfg.phase1_cached_features
    )

    if cfg.phase1_cached_features:
        with run.timed("phase1_features"):
            x_train = cached_features(run, model, "train")
            x_val = cached_features(run, model, "val")
            x_watch = cached_features(run, model, cfg.monitored_split)
        with run.timed("phase1_train"):
            head = train.fit_head(cfg, x_train, y_train, x_watch, y_watch, callbacks)
        copy_head(head, model)
        logits = head.predict(x_val, batch_size=256, verbose=0).reshape(-1)
    else:
        with run.timed("phase1_train"):
            train.fit_frozen(
                model, cfg, _training_dataset(run, "phase1"), split_dataset(run, cfg.monitored_split), callbacks
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


# ----------------------------------------------------------------------------- phase 2


def fit_phase(run: Run, model, phase: str, epochs: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~catsdogs.training.train.fine_tune` ``model`` on the run's training split for
    ``epochs`` (resumable, checkpointed in ``<phase>/``; early stopping watches
    :attr:`~catsdogs.config.Config.monitored_split`), predict the validation split once,
    save ``<phase>/model.keras`` and ``<phase>/predictions_val.csv``. Returns validation
    labels and logits."""
    cfg = run.config
    _, y_val = run.split_paths("val")
    val_ds = split_dataset(run, "val")
    watch_ds = val_ds if cfg.monitored_split == "val" else split_dataset(run, cfg.monitored_split)
    steps_per_epoch = math.ceil(len(run.split_files("train")) / cfg.batch_size)
    with run.timed(f"{phase}_train"):
        train.fine_tune(
            model,
            cfg,
            _training_dataset(run, phase),
            watch_ds,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            callbacks=_callbacks(run, phase, cfg.phase2_patience, epochs),
        )
    with run.timed(f"{phase}_predict_val"):
        logits = train.predict_logits(model, val_ds, flip=cfg.tta_flip)
    model.save(run.file(phase, "model.keras"))
    save_predictions(run.file(phase, "predictions_val.csv"), run.split_files("val"), y_val, logits)
    return y_val, logits


def train_phase2(run: Run) -> PhaseResult:
    """Phase 2, fine-tuning (after :func:`train_phase1`): the phase-1 model with its base
    unfrozen from ``fine_tune_from`` on, trained at ``phase2_lr`` with augmentation, batch
    norm kept in inference mode (:func:`fit_phase`).

    Writes ``phase2/model.keras`` (the final model), ``phase2/history.csv``,
    ``phase2/predictions_val.csv`` and ``phase2/result.json``.
    """
    if done := run.result("phase2"):
        log.info("phase 2 already done in %s; reusing it", run.path)
        return done
    cfg = run.config
    train_phase1(run)
    train.seed_everything(cfg, 1)
    model = keras.models.load_model(run.path / "phase1" / "model.keras")
    unfrozen = unfreeze_top(model, cfg.fine_tune_from)
    params = parameter_counts(model)
    y_val, logits = fit_phase(run, model, "phase2", cfg.phase2_epochs)
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


# ----------------------------------------------------------------------------- a run


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


def train_run(
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
