"""Exploring recipes without touching a scored fold (issue 27's "chosen honestly").

A candidate recipe trains on fold 0's *training part* of a cross-validation study and is
scored on a held-out share of that same part, the **exploration split**; the 5,000 images
fold 0 scores never enter it, nor does any other fold's scoring. Inside the candidate's
training images, the inner protocol carves its own ``inner`` split to choose the epoch, as
the declared recipe will in its five-fold run. So three disjoint sets, all drawn from fold 0's
training part: ``train`` (fits), ``inner`` (chooses the epoch), ``val`` (the exploration
split: ranks the candidates). Every candidate of a study sees the same three sets.

Layout of an exploration run: an ordinary run directory (``config.json``, ``data/``,
``phase1/``, ``phase2/``), plus ``explore.json``: the candidate's settings that differ from
the study's recipe, its accuracy on the exploration split with and without flip test-time
augmentation (one training, both predictions), and the split sizes.
"""

from __future__ import annotations

import logging
from pathlib import Path

import keras
import numpy as np
from scipy.special import expit
from sklearn.metrics import log_loss

from catsdogs.config import Config, UserError, setting_differences
from catsdogs.data.split import carve_inner, split_table
from catsdogs.evaluation.metrics import classification_metrics, wilson_interval
from catsdogs.records import Exploration, ExploredScore, ManifestRow, Metrics
from catsdogs.runs import CVStudy, Run, phase2_seconds
from catsdogs.training import steps, train
from catsdogs.training.cv import CrossValidation

log = logging.getLogger(__name__)

EXPLORE_FILE = Exploration.PATH
#: The fold whose training part the candidates explore (the fold the paper-protocol recipe
#: was first trained on; its scored images stay out of every exploration).
EXPLORED_FOLD = 0
#: Share of the fold's training part held out as the exploration split (2,000 of 20,000).
EXPLORE_FRACTION = 0.1
#: Added to the data seed for the exploration split's draw, so it is not the inner split's.
EXPLORE_SEED_OFFSET = 500
#: Settings that decide the frozen-base features the study computed once: a candidate that
#: changes one of them needs a study of its own.
FEATURE_SETTINGS = ("seed", "val_fraction", "test_fraction", "max_images_per_class", "image_size", "alpha", "weights")


def _exploration_manifest(rows: list[ManifestRow], folds: np.ndarray, config: Config) -> list[ManifestRow]:
    """Fold :data:`EXPLORED_FOLD`'s training part of the study manifest ``rows``: a stratified
    :data:`EXPLORE_FRACTION` as ``val`` (the exploration split), the rest ``train``, of which
    the inner protocol's stratified ``inner`` share is carved (``config``'s fraction and seed,
    as a fold of the study carves it). The fold's scored images are left out."""
    part = [r.moved_to("train") for r, f in zip(rows, folds) if f != EXPLORED_FOLD]
    held = carve_inner(part, EXPLORE_FRACTION, config.seed + EXPLORE_SEED_OFFSET)
    held = [r.moved_to("val") if r.split == "inner" else r for r in held]
    return carve_inner(held, config.inner_val_fraction, config.seed + EXPLORED_FOLD)


def exploration_files(study: CVStudy) -> set[str]:
    """The files of ``study``'s exploration split: the images every candidate was ranked on
    (recomputed from the study's folds and seed; a published study gives the same split)."""
    rows = _exploration_manifest(study.manifest(), study.folds(), study.config)
    return {r.file for r in rows if r.split == "val"}


def check_candidate(study: CrossValidation, config: Config) -> None:
    """Raise :class:`~catsdogs.config.UserError` unless ``config`` can explore in ``study``:
    the inner protocol, and the study's frozen-base features."""
    if config.protocol != "inner":
        raise UserError(
            "a candidate recipe chooses its epoch on an inner split, as its five-fold run will: "
            "pass --set protocol=inner"
        )
    differing = sorted(set(setting_differences(study.config, config)) & set(FEATURE_SETTINGS))
    if differing:
        raise UserError(
            f"{study.path}'s frozen-base features were made with other {', '.join(differing)}; "
            "explore such a candidate from a study of those settings (`cv --prepare`)"
        )


def prepare_exploration(study: CrossValidation, config: Config, run_dir: Path | str) -> Run:
    """The candidate's run directory with its manifest and phase-1 features in place."""
    check_candidate(study, config)
    rows = _exploration_manifest(study.manifest(), study.folds(), config)
    return study.derive_run(
        Run.open(config, run_dir),
        rows,
        exploration={"study": study.path.name, "fold": EXPLORED_FOLD, "held_out_fraction": EXPLORE_FRACTION},
    )


def explore(study: CrossValidation, config: Config, run_dir: Path | str) -> Exploration:
    """Train the candidate ``config`` (both phases, resumable) on the exploration manifest of
    ``study`` and score it on the exploration split, plain and with flip test-time
    augmentation; writes and returns ``explore.json``."""
    run = prepare_exploration(study, config, run_dir)
    if (done := run.record_or_none(Exploration)) is not None:
        return done
    result = steps.train_phase2(run)
    model = keras.models.load_model(run.model_path("phase2"))
    _, labels = run.split_paths("val")
    with run.timed("explore_predict"):
        probs = {
            name: expit(train.predict_logits(model, steps.split_dataset(run, "val"), flip))
            for name, flip in (("plain", False), ("flip", True))
        }
    scores = {name: _score(labels, p) for name, p in probs.items()}
    record = Exploration(
        study=study.path.name,
        fold=EXPLORED_FOLD,
        splits=split_table(run.manifest()),
        changes={name: values[1] for name, values in setting_differences(study.config, config).items()},
        epochs_run=result.epochs_run,
        phase2_seconds=round(phase2_seconds(run), 1),  # every invocation's epochs, if resumed
        **scores,
    )
    run.write_record(record)
    return record


def _score(labels: np.ndarray, prob: np.ndarray) -> ExploredScore:
    """Accuracy, errors, Wilson interval and log loss of ``prob`` on the exploration split."""
    m = Metrics.from_dict(classification_metrics(labels, prob))
    return ExploredScore(
        accuracy=m.accuracy,
        errors=int(round((1 - m.accuracy) * m.n)),
        n=m.n,
        ci95=wilson_interval(int(round(m.accuracy * m.n)), m.n),
        log_loss=float(log_loss(labels, prob)),
    )
