"""K-fold cross-validation of the two-phase recipe over every usable image.

One split of 5,000 validation images gives a 95 % CI of about +/-0.3 pp, too wide to
tell 98.9 % from 99.0 %. Cross-validation validates on every image once: fold 0 is
the ordinary validation split (so an existing run of the same recipe *is* fold 0 and
is reused), and the remaining images are divided into ``K - 1`` stratified folds.
Fold ``k`` trains on the other folds and validates on fold ``k``, through the same
:mod:`catsdogs.training.steps` as a single run, both phases.

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

import dataclasses
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from catsdogs.config import Config, setting_differences
from catsdogs.data.split import assign_folds, carve_inner, check_fold_fraction, fold_manifest, split_table
from catsdogs.evaluation import metrics
from catsdogs.evaluation.bootstrap import bootstrap_ci
from catsdogs.files import file_sha256, save_npy, write_csv
from catsdogs.model.classifier import build_classifier
from catsdogs.model.weights import resolve_weights
from catsdogs.records import (
    CVSummary,
    CVTraining,
    FoldRow,
    ManifestRow,
    Metrics,
    OutOfFold,
    PhaseResult,
    Scan,
    SeedSpread,
    TrainingVariance,
)
from catsdogs.runs import FOLDS_FILE, OOF_FILE, CVStudy, Run, read_folds, training_seconds, write_manifest
from catsdogs.training import steps, train

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
            have = len({r.fold for r in read_folds(study.path)})
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
                [dataclasses.asdict(FoldRow(file=r.file, label=r.label, fold=int(f))) for r, f in zip(rows, folds)],
            )
        return super().folds()

    def prepare(self) -> None:
        """Scan the data and write the manifest (fold 0 = its ``val`` split) and ``folds.csv``.
        The study's manifest has no ``inner`` split: under the inner protocol each fold carves
        its own from its training images (:meth:`prepare_fold`)."""
        steps.prepare_data(self.run, inner=False)
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
        # under the inner protocol fold 0's train features lack its inner split: computed anew then
        if self.config.protocol == "paper" and all(p.is_file() for p in parts.values()):
            feats = self._assemble_features(rows, {s: np.load(p) for s, p in parts.items()})
        else:
            feats = self._compute_features(rows)
        save_npy(path, feats)
        return feats

    @staticmethod
    def _assemble_features(rows: Sequence[ManifestRow], by_split: dict[str, np.ndarray]) -> np.ndarray:
        out = np.empty((len(rows), by_split["val"].shape[1]), dtype="float32")
        for split, feats in by_split.items():
            index = [i for i, r in enumerate(rows) if r.split == split]
            if len(index) != feats.shape[0]:
                raise ValueError(f"fold 0's {split} features hold {feats.shape[0]} rows, its split {len(index)}")
            out[index] = feats
        return out

    def _compute_features(self, rows: Sequence[ManifestRow]) -> np.ndarray:
        cfg = self.config
        paths = self.run.paths_of(rows)
        train.seed_everything(cfg)
        model = build_classifier(cfg, resolve_weights(cfg).keras_weights)
        with self.run.timed("features_all"):
            return train.pooled_features(model, paths, cfg)

    # ------------------------------------------------------------------ one fold
    def fold_config(self, seed: int = 0) -> Config:
        """The settings of a training of this study: its recipe with ``train_seed`` ``seed``."""
        return self.config.replace(train_seed=seed)

    def prepare_fold(self, k: int, phase1_from: CrossValidation | None = None, seed: int = 0) -> Run:
        """The run directory of fold ``k`` (training seed ``seed``), with its manifest and
        (unless phase 1 is shared from ``phase1_from``) its phase-1 features in place.

        Under the inner protocol the fold's training images lose a stratified share to its
        ``inner`` split, drawn with ``seed + k`` of the data seed: the same images for every
        training seed of the fold."""
        if not 0 <= k < self.n_folds:
            raise ValueError(f"--fold must be from 0 to {self.n_folds - 1} in this {self.n_folds}-fold study, got {k}")
        if phase1_from is not None:
            source = phase1_from.fold_run(k, seed)
            if not source.has("phase1", "result.json"):
                raise ValueError(
                    f"fold {k} of {phase1_from.path} has no finished phase 1 to share; "
                    f"run `python -m catsdogs cv --run-dir {phase1_from.path}` first"
                )
            return steps.fork_after_phase1(source, self.fold_config(seed), self.fold_dir(k, seed))
        cfg = self.fold_config(seed)
        run = Run.open(cfg, self.fold_dir(k, seed))
        rows = fold_manifest(self.manifest(), self.folds(), k)
        if cfg.protocol == "inner":
            rows = carve_inner(rows, cfg.inner_val_fraction, cfg.seed + k)
        return self.derive_run(
            run,
            rows,
            cross_validation={"study": self.path.name, "fold": k, "folds": self.n_folds, "train_seed": seed},
        )

    def derive_run(self, run: Run, rows: Sequence[ManifestRow], **provenance: Any) -> Run:
        """Make ``run`` a training on ``rows`` (some of this study's images, each with its
        split): its manifest, scan and provenance (the study's data, plus ``provenance``)
        unless written already, and each split's slice of the study's frozen-base features."""
        if not (run.has("data", "scan.json") and run.has("data", "manifest.csv")):
            sha = write_manifest(rows, run.file("data", "manifest.csv"))
            run.write_record(self.run.record(Scan).replace(manifest_sha256=sha, split=split_table(rows)))
            prov = self.run.read_json("provenance.json")
            run.record_provenance(data=prov["data"] | {"manifest_sha256": sha}, **provenance)
        feats = self.features()
        position = {r.file: i for i, r in enumerate(self.manifest())}
        for split in sorted({r.split for r in rows}):
            target = run.path / "phase1" / f"features_{split}.npy"
            if not target.is_file():
                save_npy(target, feats[[position[r.file] for r in rows if r.split == split]])
        return run

    def train_fold(self, k: int, phase1_from: CrossValidation | None = None, seed: int = 0) -> Run:
        """Both phases of fold ``k`` with training seed ``seed`` (resumes what is done); its
        wall time is added to ``fold_seconds.json`` under ``k`` (``k-seed-s`` for another seed;
        not a killed invocation's: :func:`training_seconds` keeps the finished epochs of those)."""
        if self.fold_dir(k, seed).is_dir() and self.run_done(k, seed):
            return self.fold_run(k, seed)
        start = time.perf_counter()
        try:
            run = self.prepare_fold(k, phase1_from, seed)
            watched = run.config.monitored_split
            log.info(
                "fold %d/%d, seed %d: training on %d images, choosing the epoch on %d (%s), scoring %d",
                k,
                self.n_folds,
                seed,
                len(run.split_files("train")),
                len(run.split_files(watched)),
                "the scored fold" if watched == "val" else "an inner split",
                len(run.split_files("val")),
            )
            steps.train_phase1(run)
            steps.train_phase2(run)
        finally:
            seconds = time.perf_counter() - start
            key = self.fold_dir(k, seed).name.removeprefix("fold-")
            spent = self.fold_seconds()
            self.run.update_json("fold_seconds.json", **{key: round(spent.get(key, 0.0) + seconds, 1)})
        return run

    def run_all(
        self,
        fold0: Run | None = None,
        phase1_from: CrossValidation | None = None,
        folds: Sequence[int] | None = None,
        seed: int = 0,
    ) -> None:
        """Prepare the folds and train every fold (or those of ``folds``) not yet finished
        with training seed ``seed`` (fold 0 reused from ``fold0`` when given), in order."""
        if fold0 is not None and seed != 0:
            raise ValueError("--fold0 reuses a published run, which trained with seed 0; leave out --seed")
        wrong = [k for k in folds or () if not 0 <= k < self.n_folds]
        if wrong:
            raise ValueError(
                f"--fold must be from 0 to {self.n_folds - 1} in this {self.n_folds}-fold study, got {wrong}"
            )
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
            if self.run_done(k, seed):
                log.info("fold %d/%d, seed %d already done", k, self.n_folds, seed)
                continue
            self.train_fold(k, phase1_from, seed)
            result = self.fold_run(k, seed).record(PhaseResult, "phase2")
            log.info(
                "fold %d/%d, seed %d done: accuracy on the scored fold %.4f",
                k,
                self.n_folds,
                seed,
                result.val_metrics.accuracy,
            )

    # ------------------------------------------------------------------ results
    def finished_trainings(self) -> list[tuple[int, int]]:
        """``(fold, seed)`` of every finished training of this study, each checked to be
        this study's recipe with its own training seed.

        Raises
        ------
        ValueError
            If a training directory holds another recipe or protocol (a merge pools one
            recipe only), or its seed is not the one its name says.
        """
        done = []
        for k, seed in self.trainings():
            if k >= self.n_folds or not self.run_done(k, seed):
                continue
            fold_cfg = self.fold_run(k, seed).config
            differing = {
                name: values
                for name, values in setting_differences(self.config, fold_cfg).items()
                if name != "train_seed"
            }
            if differing or fold_cfg.train_seed != seed:
                shown = ", ".join(f"{n}: {a!r} in the study, {b!r} there" for n, (a, b) in differing.items())
                raise ValueError(
                    f"{self.fold_dir(k, seed)} is not a training of this study's recipe "
                    f"({shown or f'train_seed {fold_cfg.train_seed}, not {seed}'}); "
                    "move it out of the study: a merge pools one recipe and protocol only"
                )
            done.append((k, seed))
        return done

    def _training_row(self, k: int, seed: int, scores: Metrics, names: Sequence[str], plain: bool) -> CVTraining:
        """One training's row of ``cv.json``; ``plain``: as before seeds and protocols existed."""
        fold = self.fold_run(k, seed)
        phase2 = fold.record(PhaseResult, "phase2")
        link = self.fold_dir(k, seed)
        watched = phase2.monitored_split or "val"
        by_epoch = phase2.accuracy_by_epoch
        return CVTraining(
            fold=k,
            n=scores.n,
            **{n: getattr(scores, n) for n in names},
            confusion_matrix=scores.confusion_matrix,
            phase1_accuracy=fold.record(PhaseResult, "phase1").val_metrics.accuracy,
            # per-epoch accuracy on the split early stopping watched: the scored fold, or the inner split
            phase2_val_accuracy_by_epoch=by_epoch if watched == "val" else None,
            phase2_inner_accuracy_by_epoch=None if watched == "val" else by_epoch,
            reused_run=self.reused_run(k, seed),
            wall_seconds=self.fold_seconds().get(link.name.removeprefix("fold-")),
            training_seconds=training_seconds(fold),
            seed=None if plain else seed,
            monitored_split=None if plain else watched,
        )

    def summarize(self) -> CVSummary:
        """Pool every finished training into ``oof_predictions.csv`` and ``cv.json``: per
        training metrics, pooled out-of-fold metrics with bootstrap CIs, mean and sd across
        folds, and, where a fold was trained with several seeds, the training variance.

        Whatever trainings exist are pooled (``complete`` says whether every fold has every
        seed); with several seeds an image has one prediction per seed, and the CIs resample
        images (a cluster bootstrap), not predictions. Every prediction weighs the same, so
        until every fold has every seed a fold with more seeds weighs more: a partial merge
        is a progress report, not an estimate (the book shows complete studies only). A study
        of seed 0 alone writes the records it wrote before seeds existed, with the macro
        averages added.

        Raises
        ------
        ValueError
            If no training has finished, or one is of another recipe (:meth:`finished_trainings`).
        """
        done = self.finished_trainings()
        if not done:
            raise ValueError(
                f"no finished training in {self.path}; train one with "
                f"`python -m catsdogs cv --run-dir {self.path} --fold 0 --seed 0`"
            )
        seeds = sorted({s for _, s in done})
        folds_done = sorted({k for k, _ in done})
        complete = len(done) == self.n_folds * len(seeds)
        names = tuple(metrics.SHOWN_METRICS)
        macro = metrics.PRF_READINGS["macro"]
        single = seeds == [0] and complete
        plain = single and self.config.protocol == "paper"
        rows: list[dict] = []
        for k, seed in done:
            rows += [r | ({} if single else {"seed": seed}) for r in self.fold_predictions(k, seed)]
        fields = ["file", "label", "fold", "prob_dog", "logit"] + ([] if single else ["seed"])
        write_csv(self.run.file(OOF_FILE), rows, fields)
        oof = OutOfFold.from_rows(rows)
        labels, probs = oof.label, oof.prob
        per_training = []
        for k, seed in done:
            sel = (oof.fold == k) & (oof.seed == seed)
            scores = Metrics.from_dict(metrics.classification_metrics(labels[sel], probs[sel]))
            per_training.append(self._training_row(k, seed, scores, names, plain=plain))
        by_fold = {k: [t for t in per_training if t.fold == k] for k in folds_done}
        fold_means = {k: {n: float(np.mean([getattr(t, n) for t in ts])) for n in names} for k, ts in by_fold.items()}
        pooled = metrics.classification_metrics(labels, probs)
        result = {
            "folds": self.n_folds,
            "images": len(set(oof.file)),
            "per_fold": [t.to_dict() for t in per_training],
            "pooled": {n: pooled[n] for n in (*names, *macro)} | {"confusion_matrix": pooled["confusion_matrix"]},
            "pooled_ci95": bootstrap_ci(
                labels,
                probs,
                n_samples=self.config.bootstrap_samples,
                seed=self.config.seed,
                metric_names=(*names, *macro),
                groups=None if single else oof.file,
            ),
            "across_folds": {
                n: {
                    "mean": float(np.mean([f[n] for f in fold_means.values()])),
                    "sd": float(np.std([f[n] for f in fold_means.values()], ddof=1)) if len(fold_means) > 1 else None,
                }
                for n in names
            },
            "oof_sha256": file_sha256(self.path / OOF_FILE),
        }
        if not single:
            result |= {
                "protocol": self.config.protocol,
                "seeds": seeds,
                "trainings": len(done),
                "complete": complete,
                "dataset_images": len(self.manifest()),
                "training_variance": variance.to_dict() if (variance := training_variance(by_fold)) else None,
            }
        elif self.config.protocol != "paper":
            result |= {"protocol": self.config.protocol, "seeds": seeds, "trainings": len(done), "complete": True}
        record = CVSummary.from_dict(result)
        self.run.write_record(record)
        return record


def training_variance(by_fold: dict[int, list[CVTraining]]) -> TrainingVariance | None:
    """How much re-training one recipe on one fold moves its accuracy: for each fold trained
    with two or more seeds, the accuracy of each seed and their spread (max - min); overall,
    the within-fold standard deviation (the root of the mean within-fold variance, ddof 1).
    ``None`` when no fold has two seeds."""
    repeated = {k: ts for k, ts in by_fold.items() if len(ts) > 1}
    if not repeated:
        return None
    per_fold = []
    for k, ts in sorted(repeated.items()):
        accuracies = [t.accuracy for t in ts]
        per_fold.append(
            SeedSpread(
                fold=k,
                accuracy_by_seed={str(t.seed): t.accuracy for t in ts},
                spread=max(accuracies) - min(accuracies),
                sd=float(np.std(accuracies, ddof=1)),
            )
        )
    return TrainingVariance(
        per_fold=per_fold,
        within_fold_sd=float(np.sqrt(np.mean([f.sd**2 for f in per_fold]))),
        max_spread=max(f.spread for f in per_fold),
    )


def run_cv(
    config: Config,
    path: Path | str,
    n_folds: int = 5,
    fold0: Path | str | None = None,
    phase1_from: Path | str | None = None,
    folds: Sequence[int] | None = None,
    seed: int = 0,
    merge: bool = True,
) -> CrossValidation:
    """The study: folds, the trainings of ``folds`` (default: every fold) with training
    seed ``seed`` (resumable), then, with ``merge``, ``cv.json`` pooled from every finished
    training (:meth:`CrossValidation.summarize`)."""
    if config.train_seed != 0:
        raise ValueError(
            "a study's recipe has train_seed 0; choose a training's seed with --seed "
            f"(not --set train_seed={config.train_seed})"
        )
    study = CrossValidation.open(config, path, n_folds)
    study.run_all(
        Run.load(fold0) if fold0 else None,
        CrossValidation.load(phase1_from) if phase1_from else None,
        folds,
        seed,
    )
    if merge:
        study.summarize()
    return study


__all__ = ["CrossValidation", "run_cv", "training_variance"]
