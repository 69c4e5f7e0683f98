"""A saved model on the external test sets (:mod:`catsdogs.data.external`): does it generalise?

One JSON-ready record per set, for one model (``.keras`` or ``.tflite``): accuracy,
precision, recall and F1 (dog positive) with percentile-bootstrap 95 % CIs, the confusion
matrix, the share of images flagged *unsure* (confidence ``max(P, 1 - P)`` below the model's
published out-of-distribution threshold, :func:`catsdogs.evaluation.predict.ood_threshold`)
and the accuracy on the others, each group (breed, CIFAR-10 class) with a Wilson 95 % CI,
and for the photos of neither cats nor dogs the share flagged unsure and the share called dog.

Nothing here is fitted to these images: the decision threshold is 0.5 and the unsure
threshold is the one published with the model, fitted on PetImages validation images.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from catsdogs.config import CLASS_NAMES
from catsdogs.data.external import NON_PET, ExternalData, ExternalImage, set_provenance, species_name
from catsdogs.data.scan import DataError
from catsdogs.evaluation.bootstrap import bootstrap_ci
from catsdogs.evaluation.metrics import METRICS, THRESHOLD_METRICS, classification_metrics, wilson_interval
from catsdogs.evaluation.predict import MODEL_STEM, Predictor, confidence, load_predictor, ood_threshold
from catsdogs.files import file_sha256
from catsdogs.records import (
    ExternalMistake,
    GroupScore,
    Interval,
    ModelRef,
    NonPetShares,
    PetScores,
    Proportion,
    SetDescription,
    SetResult,
)

logger = logging.getLogger(__name__)

#: P(dog) at or above which an image is called dog: the model's own rule, not tuned here.
DECISION_THRESHOLD = 0.5
#: Coverage of every interval in the records.
CONFIDENCE = 0.95


# --------------------------------------------------------------------------- proportions


# --------------------------------------------------------------------------- predictions


def _predict_set(
    predictor: Predictor, data: ExternalData, batch_size: int = 64, progress: bool = False
) -> tuple[np.ndarray, dict[str, str]]:
    """P(dog) of every image of ``data`` (``nan`` where it cannot be decoded), in order, and
    ``{image name: why it was unreadable}``.

    Images are decoded at the model's input size with the training resize
    (:meth:`ExternalData.pixels`: any file Pillow reads, palette and RGBA included).
    """
    probs = np.full(len(data.images), np.nan)
    unreadable: dict[str, str] = {}
    with tqdm(total=len(data.images), desc=data.name, unit="image", disable=not progress, file=sys.stderr) as bar:
        for start in range(0, len(data.images), batch_size):
            rows, pixels = [], []
            for row, image in enumerate(data.images[start : start + batch_size], start):
                try:
                    pixels.append(data.pixels(image, predictor.image_size))
                    rows.append(row)
                except DataError as exc:
                    unreadable[image.name] = str(exc)
            if pixels:
                probs[rows] = predictor.predict(np.stack(pixels))
            bar.update(min(batch_size, len(data.images) - start))
    return probs, unreadable


# --------------------------------------------------------------------------- records


def _group_order(images: Sequence[ExternalImage]) -> list[str]:
    """Groups cats first, then dogs, then non-pets; alphabetical within each."""
    rank = {name: i for i, name in enumerate((*CLASS_NAMES, NON_PET))}
    first_rank: dict[str, int] = {}
    for im in images:
        first_rank[im.group] = min(first_rank.get(im.group, len(rank)), rank[species_name(im.label)])
    return sorted(first_rank, key=lambda g: (first_rank[g], g.lower()))


def _pet_record(
    images: Sequence[ExternalImage], probs: np.ndarray, threshold: float | None, n_samples: int, seed: int
) -> PetScores:
    """Metrics of the cat and dog images (all readable)."""
    labels = np.array([im.label for im in images], dtype=np.int64)
    correct = (probs >= DECISION_THRESHOLD).astype(np.int64) == labels
    groups = np.array([im.group for im in images])
    unsure = confidence(probs) < threshold if threshold is not None else None
    ci = bootstrap_ci(
        labels, probs, n_samples=n_samples, seed=seed, confidence=CONFIDENCE, metric_names=THRESHOLD_METRICS
    )
    by_group = {}
    for group in _group_order(images):
        mask = groups == group
        by_group[group] = GroupScore(
            species=CLASS_NAMES[int(labels[mask][0])],
            n=int(mask.sum()),
            accuracy=wilson_interval(correct[mask].sum(), mask.sum()),
            unsure=wilson_interval(unsure[mask].sum(), mask.sum()) if unsure is not None else None,
        )
    return PetScores(
        n=len(images),
        **{name: Interval.from_dict(ci[name]) for name in THRESHOLD_METRICS},
        confusion_matrix=classification_metrics(labels, probs, DECISION_THRESHOLD)["confusion_matrix"],
        unsure=wilson_interval(unsure.sum(), len(images)) if unsure is not None else None,
        sure_accuracy=wilson_interval(correct[~unsure].sum(), (~unsure).sum()) if unsure is not None else None,
        groups=by_group,
        mistakes=[
            ExternalMistake(image=im.name, group=im.group, label=CLASS_NAMES[im.label], prob_dog=float(p))
            for im, p, ok in zip(images, probs, correct)
            if not ok
        ],
    )


def _non_pet_record(images: Sequence[ExternalImage], probs: np.ndarray, threshold: float | None) -> NonPetShares:
    """How the model answers photos of neither cats nor dogs: unsure and called-dog shares."""
    groups = np.array([im.group for im in images])
    said_dog = probs >= DECISION_THRESHOLD
    unsure = confidence(probs) < threshold if threshold is not None else None

    def shares(mask: np.ndarray, **more: Any) -> NonPetShares:
        return NonPetShares(
            n=int(mask.sum()),
            called_dog=wilson_interval(said_dog[mask].sum(), mask.sum()),
            unsure=wilson_interval(unsure[mask].sum(), mask.sum()) if unsure is not None else None,
            **more,
        )

    everything = np.ones(len(images), dtype=bool)
    return shares(everything, classes={g: shares(groups == g) for g in _group_order(images)})


def model_info(model_path: Path | str, predictor: Predictor | None = None) -> ModelRef:
    """The model file's name, sha256 and its published out-of-distribution threshold."""
    model_path = Path(model_path)
    threshold = ood_threshold(model_path)
    return ModelRef(
        file=model_path.name,
        sha256=file_sha256(model_path),
        ood_threshold=threshold,
        kind=predictor.kind if predictor is not None else None,
        image_size=predictor.image_size if predictor is not None else None,
        ood_note=None
        if threshold is not None
        else (
            f"no out-of-distribution threshold is recorded for {model_path.name} in {MODEL_STEM}.json beside it, "
            "so no image is flagged unsure and the unsure shares are left out"
        ),
    )


def evaluate_external_set(
    predictor: Predictor,
    data: ExternalData,
    model: ModelRef,
    n_samples: int = 1000,
    seed: int = 0,
    batch_size: int = 64,
    progress: bool = False,
) -> SetResult:
    """The record of one set for one loaded model (``model``: :func:`model_info`).

    Returns
    -------
    SetResult
        ``set``, ``data`` (:func:`catsdogs.data.external.set_provenance`), ``model``,
        ``decision_threshold``, ``intervals`` (how each CI is made), ``images``,
        ``unreadable`` (``{image: reason}``), ``pets`` (``None`` without cats and dogs:
        ``n``, ``accuracy``/``precision``/``recall``/``f1`` as ``{"estimate", "low",
        "high"}``, ``confusion_matrix`` ``[[tn, fp], [fn, tp]]``, with a threshold
        ``unsure`` and ``sure_accuracy`` as :func:`wilson_interval`, ``groups``
        ``{group: {"species", "n", "accuracy", "unsure"}}`` and ``mistakes``) and
        ``non_pets`` (``None`` without them: ``n``, ``called_dog``, ``unsure``, ``classes``).
    """
    threshold = model.ood_threshold
    probs, unreadable = _predict_set(predictor, data, batch_size, progress)
    readable = ~np.isnan(probs)
    pets = [i for i, im in enumerate(data.images) if im.label is not None and readable[i]]
    others = [i for i, im in enumerate(data.images) if im.label is None and readable[i]]
    return SetResult(
        set=data.name,
        data=SetDescription.from_dict(set_provenance(data)),
        model=model,
        decision_threshold=DECISION_THRESHOLD,
        intervals={
            "confidence": CONFIDENCE,
            "metrics": f"percentile bootstrap over images, {n_samples} resamples, seed {seed}",
            "proportions": "Wilson score interval (scipy.stats.binomtest)",
        },
        images=len(data.images),
        unreadable=unreadable,
        pets=_pet_record([data.images[i] for i in pets], probs[pets], threshold, n_samples, seed) if pets else None,
        non_pets=_non_pet_record([data.images[i] for i in others], probs[others], threshold) if others else None,
    )


def evaluate_external(
    model_path: Path | str,
    sets: Sequence[ExternalData],
    n_samples: int = 1000,
    seed: int = 0,
    batch_size: int = 64,
    progress: bool = False,
    predictor: Predictor | None = None,
) -> dict[str, SetResult]:
    """One record per external set for the model at ``model_path``.

    Parameters
    ----------
    model_path : Path
        A ``.keras`` model or ``.tflite`` export; its out-of-distribution threshold is read
        from the publication record beside it (:func:`~catsdogs.evaluation.predict.ood_threshold`).
    sets : sequence of ExternalData
        From :func:`catsdogs.data.external.find_external_sets`.
    n_samples : int, default 1000
        Bootstrap resamples of each CI.
    seed : int, default 0
        Seed of the bootstrap.
    batch_size : int, default 64
        Images per model call.
    progress : bool, default False
        A tqdm bar per set on stderr; nothing is printed otherwise.
    predictor : Predictor or None
        The model already loaded from ``model_path`` (else it is loaded here).

    Returns
    -------
    dict
        ``{set name: record}``, see :func:`evaluate_external_set`.
    """
    predictor = predictor or load_predictor(model_path)
    model = model_info(model_path, predictor)
    return {
        data.name: evaluate_external_set(predictor, data, model, n_samples, seed, batch_size, progress) for data in sets
    }


# --------------------------------------------------------------------------- text


def _ci(value: Interval | Proportion | None) -> str:
    if value is None or value.low is None:
        return "-"
    return f"{value.low:.4f}-{value.high:.4f}"


def _estimate(value: Interval | Proportion | None) -> str:
    return "-" if value is None or value.estimate is None else f"{value.estimate:.4f}"


def _pets_text(pets: PetScores, threshold: float | None) -> list[str]:
    lines = [f"{'metric':<20}{'estimate':>10}   95 % CI"]
    for name in THRESHOLD_METRICS:
        value = getattr(pets, name)
        lines.append(f"{METRICS[name].label:<20}{_estimate(value):>10}   {_ci(value)}")
    if pets.unsure is not None:
        u, s = pets.unsure, pets.sure_accuracy
        lines.append(
            f"{'unsure':<20}{_estimate(u):>10}   {_ci(u):<15}  {u.k:,} of {u.n:,} below confidence {threshold:.4f}"
        )
        lines.append(f"{'accuracy if sure':<20}{_estimate(s):>10}   {_ci(s):<15}  on {s.n:,} images")
    (tn, fp), (fn, tp) = pets.confusion_matrix
    width = max(len(f"{v:,}") for v in (tn, fp, fn, tp)) + 2
    lines += [
        "",
        "confusion matrix (rows: true class, columns: predicted)",
        f"{'':<6}{'cat':>{width}}{'dog':>{width}}",
        f"{'cat':<6}{tn:>{width},}{fp:>{width},}",
        f"{'dog':<6}{fn:>{width},}{tp:>{width},}",
        "",
        f"{'group':<28}{'species':<9}{'n':>6}{'accuracy':>10}   {'95 % CI':<15}{'unsure':>8}",
    ]
    for group, row in pets.groups.items():
        lines.append(
            f"{group:<28}{row.species:<9}{row.n:>6,}{_estimate(row.accuracy):>10}   "
            f"{_ci(row.accuracy):<15}{_estimate(row.unsure):>8}"
        )
    return lines


def _non_pets_text(non_pets: NonPetShares) -> list[str]:
    lines = [
        f"photos of neither ({non_pets.n:,}): unsure {_estimate(non_pets.unsure)} "
        f"(95 % CI {_ci(non_pets.unsure)}), called dog {_estimate(non_pets.called_dog)} "
        f"(95 % CI {_ci(non_pets.called_dog)})",
        f"{'class':<28}{'n':>6}{'unsure':>10}   {'95 % CI':<15}{'called dog':>11}",
    ]
    for cls, row in (non_pets.classes or {}).items():
        lines.append(
            f"{cls:<28}{row.n:>6,}{_estimate(row.unsure):>10}   {_ci(row.unsure):<15}{_estimate(row.called_dog):>11}"
        )
    return lines


def _format_set(record: SetResult) -> str:
    """One set's record as text tables: metrics with CIs, unsure share, per group, non-pets."""
    data, pets, non_pets = record.data, record.pets, record.non_pets
    held = ", ".join(f"{data.counts[k]:,} {k}s" for k in (*CLASS_NAMES, NON_PET) if data.counts[k])
    unreadable = len(record.unreadable)
    lines = [
        f"{record.set}: {data.title}",
        f"{record.images:,} images ({held}; {unreadable or 'none'} unreadable), {data.origin} from "
        f"{data.found_through}; {data.licence}",
        "",
    ]
    if pets is not None:
        lines += _pets_text(pets, record.model.ood_threshold)
    if non_pets is not None:
        lines += ([""] if pets is not None else []) + _non_pets_text(non_pets)
    return "\n".join(lines)


def format_external(records: Mapping[str, SetResult], not_available: Mapping[str, str] | None = None) -> str:
    """Every set's tables (:func:`_format_set`) under one line naming the model, then the
    sets that were not available."""
    lines = []
    if records:
        model = next(iter(records.values())).model
        threshold = model.ood_threshold
        rule = (
            f"unsure: confidence below {threshold:.4f} (the model's published out-of-distribution threshold)"
            if threshold is not None
            else model.ood_note
        )
        lines += [f"{model.file} (sha256 {model.sha256[:12]}) on external test sets; {rule}", ""]
        lines += ["\n\n".join(_format_set(r) for r in records.values())]
    for name, why in (not_available or {}).items():
        lines += ["", f"not available: {name}: {why}"]
    return "\n".join(lines) + "\n"


__all__ = [
    "DECISION_THRESHOLD",
    "model_info",
    "evaluate_external_set",
    "evaluate_external",
    "format_external",
]
