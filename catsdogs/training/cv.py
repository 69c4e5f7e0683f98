"""K-fold cross-validation of the two-phase recipe over every usable image.

One split of 5,000 validation images gives a 95 % CI of about +/-0.3 pp, too wide to
tell 98.9 % from 99.0 %. Cross-validation validates on every image once: fold 0 is
the ordinary validation split (so an existing run of the same recipe *is* fold 0 and
is reused), and the remaining images are divided into ``K - 1`` stratified folds.
Fold ``k`` trains on the other folds and validates on fold ``k``, through the same
:mod:`catsdogs.training.train` code as a single run, both phases.

Layout of a CV directory::

    config.json             the recipe: the Config every fold trains with
    data/                   scan.json and manifest.csv of the whole dataset (fold 0 = "val")
    folds.csv               file, label, fold: every usable image exactly once
    features.npy            frozen-base pooled features of all images, rows in folds.csv order
    fold_seconds.json       wall time spent on each fold (summed over the invocations that ended)
    fold-0/ ... fold-K-1/   one run directory per fold (fold-0 may link to a reused run)
    oof_predictions.csv     file, label, fold, prob_dog, logit: out-of-fold, each image once
    cv.json                 per-fold metrics, pooled out-of-fold metrics with bootstrap CIs
    compare.json            the paired comparison with a second study (:mod:`catsdogs.studies.ablation`)
    label_issues.json, label_audit_summary.json, label_errors.jpg, contact_sheets/
                            the dataset-wide label audit (:mod:`catsdogs.studies.label_audit`)

The pooled base features do not depend on the fold (the base is frozen and runs in
inference mode in phase 1), so they are computed once and sliced for every fold.
Every step is skipped when its output exists, and training resumes at the last
finished epoch (Keras ``BackupAndRestore``), so an interrupted study loses at most
the epoch in progress.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from catsdogs.config import Config, setting_differences
from catsdogs.data import images
from catsdogs.data.split import assign_folds, check_fold_fraction, fold_manifest, split_table
from catsdogs.evaluation import metrics
from catsdogs.evaluation.bootstrap import bootstrap_ci
from catsdogs.files import file_sha256, read_csv, save_npy, write_csv
from catsdogs.model.classifier import build_classifier, feature_extractor
from catsdogs.model.weights import resolve_weights
from catsdogs.runs import FOLDS_FILE, OOF_FILE, CVStudy, Run, training_seconds, write_manifest
from catsdogs.training import train

log = logging.getLogger(__name__)

FEATURES_FILE = "features.npy"


# ----------------------------------------------------------------------------- study


class CrossValidation(CVStudy):
    """A CV directory (see the module docstring): its records (:class:`~catsdogs.runs.CVStudy`)
    and the training of its folds. Create with :meth:`open`, reopen with :meth:`load`."""

    @classmethod
    def open(cls, config: Config, path: Path | str, n_folds: int = 5) -> CrossValidation:
        """Open (or create) the CV directory of ``config`` with ``n_folds`` folds.

        Raises
        ------
        ValueError
            If ``n_folds`` does not match ``config.val_fraction`` or an existing
            directory was made with another number of folds.
        RunConfigMismatch
            If ``path`` was made with other training settings.
        """
        check_fold_fraction(config, n_folds)
        study = cls(Run.open(config, path), n_folds)
        if study.run.has(FOLDS_FILE):
            have = len({r["fold"] for r in read_csv(study.path / FOLDS_FILE)})
            if have != n_folds:
                raise ValueError(
                    f"{study.path} holds a {have}-fold study, not {n_folds} folds; "
                    f"pass --folds {have} or another --run-dir"
                )
        return study

    # ------------------------------------------------------------------ folds
    def folds(self) -> np.ndarray:
        """Fold of every manifest row (``folds.csv`` written on first use)."""
        if not self.run.has(FOLDS_FILE):
            rows = self.manifest()
            folds = assign_folds(rows, self.n_folds, self.config.seed)
            write_csv(
                self.run.file(FOLDS_FILE),
                [{"file": r["file"], "label": r["label"], "fold": int(f)} for r, f in zip(rows, folds)],
            )
        return super().folds()

    def prepare(self) -> None:
        """Scan the data and write the manifest (fold 0 = its ``val`` split) and ``folds.csv``."""
        train.prepare_data(self.run)
        self.folds()

    # ------------------------------------------------------------------ fold 0 reuse
    def reuse_fold0(self, source: Run) -> None:
        """Make the finished run ``source`` this study's fold 0 (a symbolic link).

        Raises
        ------
        ValueError
            If ``source`` trained with other settings or on another split, or has
            not finished phase 2.
        """
        differing = sorted(setting_differences(self.config, source.config))
        if differing:
            raise ValueError(
                f"--fold0 {source.path} was trained with other settings ({', '.join(differing)}); "
                "pass a run of this recipe"
            )
        if file_sha256(source.path / "data" / "manifest.csv") != file_sha256(self.path / "data" / "manifest.csv"):
            raise ValueError(
                f"--fold0 {source.path} has another data split than this study; "
                "pass a run made from the same data, seed and val_fraction"
            )
        if not source.has("phase2", "result.json"):
            raise ValueError(
                f"--fold0 {source.path} has not finished phase 2; finish it with "
                f"`python -m catsdogs train --run-dir {source.path}` first"
            )
        link = self.fold_dir(0)
        if link.is_symlink() or link.exists():
            if link.resolve() != source.path.resolve():
                raise ValueError(f"{link} already exists and is not {source.path}")
            return
        link.symlink_to(os.path.relpath(source.path.resolve(), self.path.resolve()), target_is_directory=True)
        log.info("fold 0 is %s (reused, not retrained)", source.path)

    # ------------------------------------------------------------------ features
    def features(self) -> np.ndarray:
        """Pooled frozen-base features of every image (rows in manifest order), computed once.

        Taken from fold 0's phase-1 feature files when it has them (a reused run),
        else computed with the classifier's feature extractor.
        """
        path = self.path / FEATURES_FILE
        rows = self.manifest()
        if path.is_file():
            feats = np.load(path)
            if feats.shape[0] == len(rows):
                return feats
        fold0 = self.fold_dir(0)
        parts = {s: fold0 / "phase1" / f"features_{s}.npy" for s in ("train", "val")}
        if all(p.is_file() for p in parts.values()):
            feats = self._assemble_features(rows, {s: np.load(p) for s, p in parts.items()})
        else:
            feats = self._compute_features(rows)
        save_npy(path, feats)
        return feats

    @staticmethod
    def _assemble_features(rows: Sequence[dict], by_split: dict[str, np.ndarray]) -> np.ndarray:
        out = np.empty((len(rows), by_split["val"].shape[1]), dtype="float32")
        for split, feats in by_split.items():
            index = [i for i, r in enumerate(rows) if r["split"] == split]
            if len(index) != feats.shape[0]:
                raise ValueError(f"fold 0's {split} features hold {feats.shape[0]} rows, its split {len(index)}")
            out[index] = feats
        return out

    def _compute_features(self, rows: Sequence[dict]) -> np.ndarray:

        cfg = self.config
        paths = self.run.paths_of(rows)
        train.seed_everything(cfg)
        model = build_classifier(cfg, resolve_weights(cfg).keras_weights)
        ds = images.image_dataset(paths, None, cfg.image_size, cfg.batch_size)
        with self.run.timed("features_all"):
            return feature_extractor(model).predict(ds, verbose=train.progress_verbosity()).astype("float32")

    # ------------------------------------------------------------------ one fold
    def prepare_fold(self, k: int, phase1_from: CrossValidation | None = None) -> Run:
        """The run directory of fold ``k``, with its manifest and (unless phase 1
        is shared from ``phase1_from``) its phase-1 features in place."""
        if phase1_from is not None:
            source = phase1_from.fold_run(k)
            if not source.has("phase1", "result.json"):
                raise ValueError(
                    f"fold {k} of {phase1_from.path} has no finished phase 1 to share; "
                    f"run `python -m catsdogs cv --run-dir {phase1_from.path}` first"
                )
            return train.fork_after_phase1(source, self.config, self.fold_dir(k))
        run = Run.open(self.config, self.fold_dir(k))
        rows = fold_manifest(self.manifest(), self.folds(), k)
        if not (run.has("data", "scan.json") and run.has("data", "manifest.csv")):
            sha = write_manifest(rows, run.file("data", "manifest.csv"))
            scan = self.run.read_json("data/scan.json") | {"manifest_sha256": sha, "split": split_table(rows)}
            run.write_json("data/scan.json", scan)
            prov = self.run.read_json("provenance.json")
            run.record_provenance(
                data=prov["data"] | {"manifest_sha256": sha},
                cross_validation={"study": self.path.name, "fold": k, "folds": self.n_folds},
            )
        feats = self.features()
        for split in ("train", "val"):
            target = run.path / "phase1" / f"features_{split}.npy"
            if not target.is_file():
                index = [i for i, r in enumerate(rows) if r["split"] == split]
                save_npy(target, feats[index])
        return run

    def train_fold(self, k: int, phase1_from: CrossValidation | None = None) -> Run:
        """Both phases of fold ``k`` (resumes what is done); its wall time is added to
        ``fold_seconds.json`` (not a killed invocation's: :func:`training_seconds` keeps
        the finished epochs of those)."""
        if self.fold_dir(k).is_dir() and self.run_done(k):
            return self.fold_run(k)
        start = time.perf_counter()
        try:
            run = self.prepare_fold(k, phase1_from)
            log.info(
                "fold %d/%d: training on %d images, validating on %d",
                k,
                self.n_folds,
                *(len(run.split_files(s)) for s in ("train", "val")),
            )
            train.train_phase1(run)
            train.train_phase2(run)
        finally:
            seconds = time.perf_counter() - start
            spent = self.fold_seconds()
            self.run.update_json("fold_seconds.json", **{str(k): round(spent.get(str(k), 0.0) + seconds, 1)})
        return run

    def run_all(
        self, fold0: Run | None = None, phase1_from: CrossValidation | None = None, folds: Sequence[int] | None = None
    ) -> None:
        """Prepare the folds and train every fold not yet finished (fold 0 reused from
        ``fold0`` when given), in order."""
        self.prepare()
        if phase1_from is not None and file_sha256(phase1_from.path / FOLDS_FILE) != file_sha256(
            self.path / FOLDS_FILE
        ):
            raise ValueError(
                f"{phase1_from.path} has other folds than {self.path}; phase 1 can only be "
                "shared between studies of the same data, seed and number of folds"
            )
        if fold0 is not None:
            self.reuse_fold0(fold0)
        for k in folds if folds is not None else range(self.n_folds):
            if self.run_done(k):
                log.info("fold %d/%d already done", k, self.n_folds)
                continue
            self.train_fold(k, phase1_from)
            result = self.fold_run(k).read_json("phase2/result.json")
            log.info("fold %d/%d done: validation accuracy %.4f", k, self.n_folds, result["val_metrics"]["accuracy"])

    # ------------------------------------------------------------------ results
    def summarize(self) -> dict[str, Any]:
        """Write ``oof_predictions.csv`` and ``cv.json`` (per-fold metrics, pooled
        out-of-fold metrics with bootstrap CIs, mean and sd across folds)."""
        oof = self.out_of_fold()
        write_csv(self.run.file(OOF_FILE), oof, ["file", "label", "fold", "prob_dog", "logit"])
        labels = np.array([r["label"] for r in oof])
        probs = np.array([float(r["prob_dog"]) for r in oof])
        fold_of = np.array([r["fold"] for r in oof])
        names = tuple(metrics.SHOWN_METRICS)
        seconds = self.fold_seconds()
        per_fold = []
        for k in range(self.n_folds):
            sel = fold_of == k
            m = metrics.classification_metrics(labels[sel], probs[sel])
            fold = self.fold_run(k)
            history = fold.read_json("phase2/result.json")["history"]
            per_fold.append(
                {
                    "fold": k,
                    "n": m["n"],
                    **{n: m[n] for n in names},
                    "confusion_matrix": m["confusion_matrix"],
                    "phase1_accuracy": fold.read_json("phase1/result.json")["val_metrics"]["accuracy"],
                    "phase2_val_accuracy_by_epoch": history.get("val_accuracy", []),
                    "reused_run": Path(os.readlink(self.fold_dir(k))).name if self.fold_dir(k).is_symlink() else None,
                    "wall_seconds": seconds.get(str(k)),
                    "training_seconds": training_seconds(fold),
                }
            )
        pooled = metrics.classification_metrics(labels, probs)
        result = {
            "folds": self.n_folds,
            "images": int(labels.size),
            "per_fold": per_fold,
            "pooled": {n: pooled[n] for n in names} | {"confusion_matrix": pooled["confusion_matrix"]},
            "pooled_ci95": bootstrap_ci(
                labels, probs, n_samples=self.config.bootstrap_samples, seed=self.config.seed, metric_names=names
            ),
            "across_folds": {
                n: {
                    "mean": float(np.mean([f[n] for f in per_fold])),
                    "sd": float(np.std([f[n] for f in per_fold], ddof=1)),
                }
                for n in names
            },
            "oof_sha256": file_sha256(self.path / OOF_FILE),
        }
        self.run.write_json("cv.json", result)
        return result


def run_cv(
    config: Config,
    path: Path | str,
    n_folds: int = 5,
    fold0: Path | str | None = None,
    phase1_from: Path | str | None = None,
) -> CrossValidation:
    """The whole study: folds, every fold's training (resumable), then ``cv.json``."""
    study = CrossValidation.open(config, path, n_folds)
    study.run_all(Run.load(fold0) if fold0 else None, CrossValidation.load(phase1_from) if phase1_from else None)
    study.summarize()
    return study


__all__ = ["CrossValidation", "run_cv"]
