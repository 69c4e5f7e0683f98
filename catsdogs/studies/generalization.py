"""The paper's "strong generalization", tested on images the model never saw.

The external records (:func:`catsdogs.evaluation.external.evaluate_external`, one JSON per
published model in ``<record>/external/``) give each model's accuracy on independent pet
photos (the Oxford-IIIT Pet sample) and on CIFAR-10's 32-pixel thumbnails. The resolution
control (:func:`resolution_control`) shrinks the published validation photos to the same
sizes with the ``low_resolution`` corruption, so a thumbnail result can be told apart from a
domain shift.

The rule, stated on the book's page and applied per model and set of pet photos: the claim
*holds* on a set when the model's accuracy on its own PetImages validation split lies
inside the set's 95 % CI, *does not hold* when the whole CI lies below it (and *holds*,
better than in distribution, when the CI lies above). Resolution *explains* a set's drop
when the model's accuracy on validation photos shrunk to the set's image size lies inside
that set's 95 % CI or below it; it explains *part* of it when the shrunk accuracy lies
between the set's CI and the clean accuracy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from catsdogs.data.duplicates import MAX_DISTANCE, duplicate_record, phash_bits
from catsdogs.files import file_sha256
from catsdogs.markdown import NOT_MEASURED, Text, and_list, bullet_list, markdown_table, percent, with_ci
from catsdogs.plots import image_grid
from catsdogs.records import (
    ExternalEvaluation,
    Interval,
    NearDuplicates,
    NonPetShares,
    Part,
    Proportion,
    PublishedModels,
    ResolutionControl,
    kept,
)
from catsdogs.runs import Run
from catsdogs.studies.corruptions import levels

#: Where a published record keeps the generalization study's records.
EXTERNAL_DIR = "external"
#: The resolution control's record, in :data:`EXTERNAL_DIR`.
RESOLUTION_FILE = "low_resolution.json"
#: The near-duplicate check's record, in :data:`EXTERNAL_DIR`.
DUPLICATES_FILE = "near_duplicates.json"
#: The sets of pet photos, the most complete first, with the image size of their photos
#: (``None``: native resolution, larger than the model's input).
PET_SETS: dict[str, int | None] = {
    "oxford-iiit-pet": None,
    "oxford-pets-sample": None,
    "oxford-pets-breeds": None,
    "cifar10-test": 32,
}
#: The sets the paper's claim is about: new *photos* of pets. Thumbnails are a stress test
#: outside it (the paper says nothing about 32-pixel images), reported beside the claim.
CLAIM_SETS = frozenset({"oxford-iiit-pet", "oxford-pets-sample", "oxford-pets-breeds"})

HOLDS = "holds"
DOES_NOT_HOLD = "does not hold"
BETTER = "holds (above the validation accuracy)"
NOT_TESTABLE = "not testable here"


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True, kw_only=True)
class SetVerdict(Part):
    """The claim on one set of pet photos for one model: the set's accuracy CI against the
    model's validation accuracy, the smallest drop the set could show, and for thumbnails
    the resolution control (the validation photos shrunk alike)."""

    n: int
    groups: int
    accuracy: Interval
    validation_accuracy: float | None = kept()
    verdict: str
    detectable_drop: float | None = kept()
    in_claim: bool
    image_size: int | None = kept()
    shrunk: Interval | None = kept(beside="image_size")
    resolution: str | None = None


@dataclass(frozen=True, kw_only=True)
class ModelGeneralization(Part):
    """One published model: its verdict per set, and how it answers photos of neither class."""

    sets: dict[str, SetVerdict] = field(default_factory=dict)
    non_pets: NonPetShares | None = kept()


@dataclass(frozen=True, kw_only=True)
class GeneralizationSummary(Part):
    """:func:`generalization_summary`: per published model and set, and what was not tested."""

    models: dict[str, ModelGeneralization] = field(default_factory=dict)
    not_available: dict[str, str] = field(default_factory=dict)
    duplicates: NearDuplicates | None = kept()


def external_records(record_dir: Path | str) -> dict[str, ExternalEvaluation]:
    """``{model file: external record}`` of every published model evaluated in
    ``<record_dir>/external/`` (empty when none is)."""
    folder = Path(record_dir) / EXTERNAL_DIR
    records = {}
    for path in sorted(folder.glob("*.json"), key=lambda p: (not p.name.endswith(".keras.json"), p.name)):
        if path.name.endswith((".keras.json", ".tflite.json")):  # one record per model file
            record = ExternalEvaluation.read(path)
            records[record.model.file] = record
    return records


def _validation_accuracy(models_record: PublishedModels | None, model_file: str) -> float | None:
    """The model file's accuracy on its PetImages validation split (``models/*.json``)."""
    return models_record.file(model_file).val_accuracy if models_record else None


def resolution_control(record: Run, model_paths: Sequence[Path | str], per_class: Any = "config") -> ResolutionControl:
    """Accuracy of each model on the record's validation subset (the limitations study's,
    ``robustness_per_class`` per class) shrunk by the ``low_resolution`` corruption,
    level by level, with bootstrap 95 % CIs; written to ``<record>/external/low_resolution.json``.

    ``record`` may be a published record (``results/full``): its images are found through
    ``$CATSDOGS_DATA_DIR``.
    """
    # the study runs the models (TensorFlow); the claim table and the book only read records
    from catsdogs.studies.robustness import corruption_curves

    models, study = {}, None
    for path in map(Path, model_paths):
        study = corruption_curves(record, names=("low_resolution",), per_class=per_class, model_path=path)
        models[path.name] = study.corruptions["low_resolution"].replace(sha256=file_sha256(path))
    control = ResolutionControl(
        corruption="low_resolution",
        levels=list(levels("low_resolution")),
        note="level 0 is the unchanged photo; the others are pixels on a side before the photo is enlarged back",
        models=models,
        n_images=study.n_images if study else None,
        per_class=study.per_class if study else None,
    )
    record.write_record(control)
    return control


def duplicate_check(record: Run, sets: Sequence[Any], max_distance: int = MAX_DISTANCE) -> NearDuplicates:
    """Whether any external image is a PetImages image again: every image of each set
    (:class:`~catsdogs.data.external.ExternalData` with files) against all of the record's
    PetImages images (training and validation), by perceptual hash
    (:mod:`catsdogs.data.duplicates`). Written to ``external/near_duplicates.json``."""
    rows = record.manifest()
    pet_hashes = phash_bits(record.paths_of(rows), progress=True, desc="hashing PetImages")
    result: dict[str, Any] = {"petimages": len(rows), "sets": {}}
    for data in sets:
        files = [im for im in data.images if im.path is not None]
        if not files:
            continue
        hashes = phash_bits([im.path for im in files], progress=True, desc=f"hashing {data.name}")
        result["sets"][data.name] = duplicate_record(
            [r.file for r in rows], pet_hashes, [im.name for im in files], hashes, max_distance
        )
    found = NearDuplicates.from_dict(result)
    record.write_record(found)
    return found


def _duplicate_sentence(found: NearDuplicates | None) -> str:
    """The near-duplicate check (``near_duplicates.json``) in one sentence, or what command makes it."""
    if not found:
        return "No near-duplicate check is recorded (`python -m catsdogs generalization --duplicates`)."
    parts = [f"{_short(name)}: {r.images_of_b_with_a_pair} of {r.images[1]:,}" for name, r in found.sets.items()]
    distance = next(iter(found.sets.values())).max_distance if found.sets else MAX_DISTANCE
    return (
        f"Near-duplicates of PetImages images (perceptual hash within {distance} of 64 bits, "
        f"against all {found.petimages:,} PetImages images): {'; '.join(parts)}."
    )


# ----------------------------------------------------------------------------- verdicts


def accuracy_verdict(interval: Interval, reference: float | None) -> str:
    """The claim on one set: the model's validation accuracy ``reference`` against the
    set's accuracy CI (see the module docstring)."""
    if reference is None:
        return NOT_TESTABLE
    if interval.high < reference:
        return DOES_NOT_HOLD
    return BETTER if interval.low > reference else HOLDS


def detectable_drop(n: int, reference: float, confidence: float = 0.95) -> float | None:
    """The smallest drop below ``reference`` that a set of ``n`` images could show under the
    rule: the least ``d`` for which an accuracy of ``reference - d`` on ``n`` images has its
    interval wholly below ``reference``. The interval is the one the verdict reads, the
    percentile bootstrap over images, taken at its limit of many resamples: the quantiles of
    ``Binomial(n, accuracy) / n`` (:func:`scipy.stats.binom`). The smaller the set, the larger
    ``d``: a set that passes says only that any drop is smaller than this."""
    from scipy.stats import binom

    if not n or reference is None:
        return None
    upper = 1 - (1 - confidence) / 2
    for wrong in range(round((1 - reference) * n), n + 1):
        right = n - wrong
        if binom.ppf(upper, n, right / n) / n < reference:
            return reference - right / n
    return None


def resolution_verdict(interval: Interval, shrunk: Interval | None, clean: float | None) -> str:
    """Whether the shrunk validation photos fall as far as the set (module docstring)."""
    if shrunk is None or clean is None:
        return NOT_MEASURED
    if shrunk.estimate <= interval.high:
        return "explains all of the drop"
    if shrunk.estimate < clean:
        return "explains part of the drop"
    return "explains none of the drop"


def generalization_summary(record_dir: Path | str, models_record: PublishedModels | None) -> GeneralizationSummary:
    """Per published model and set of pet photos: the accuracy CI, the validation
    accuracy, the verdict, and for thumbnails the resolution control; plus the sets that
    were not available and the photos of neither class."""
    resolution = ResolutionControl.in_dir(record_dir)
    models, not_available = {}, {}
    for model_file, record in external_records(record_dir).items():
        clean = _validation_accuracy(models_record, model_file)
        rows = {}
        for name, side in PET_SETS.items():
            entry = record.sets.get(name)
            if entry is None or not entry.pets:
                continue
            pets = entry.pets
            shrunk = resolution.at(model_file, side) if resolution and side is not None else None
            rows[name] = SetVerdict(
                n=pets.n,
                groups=len(pets.groups),
                accuracy=pets.accuracy,
                validation_accuracy=clean,
                verdict=accuracy_verdict(pets.accuracy, clean),
                detectable_drop=detectable_drop(pets.n, clean),
                in_claim=name in CLAIM_SETS,
                image_size=side,
                shrunk=shrunk,
                resolution=resolution_verdict(pets.accuracy, shrunk, clean) if side is not None else None,
            )
        non_pets = next((e.non_pets for e in record.sets.values() if e.non_pets), None)
        models[model_file] = ModelGeneralization(sets=rows, non_pets=non_pets)
        not_available |= record.not_available
    evaluated = {name for m in models.values() for name in m.sets}
    return GeneralizationSummary(
        models=models,
        not_available={k: v for k, v in not_available.items() if k not in evaluated},
        duplicates=NearDuplicates.in_dir(record_dir),
    )


def claim_status(summary: GeneralizationSummary) -> tuple[str, str]:
    """``(ours, status)`` of the claim table's generalization row, from the Keras model
    (the paper's), or *not testable here* when no external set was evaluated."""
    models = {f: m for f, m in summary.models.items() if m.sets}
    if not models:
        return NOT_MEASURED, NOT_TESTABLE
    model = next((f for f in models if f.endswith(".keras")), next(iter(models)))
    all_sets = models[model].sets
    sets = {name: row for name, row in all_sets.items() if row.in_claim}
    stress = {name: row for name, row in all_sets.items() if name not in sets}
    ours = "; ".join(
        f"{_short(name)} {_acc(row.accuracy)}"
        + (
            f" (n = {row.n:,}, {row.groups} breeds; a drop under {100 * row.detectable_drop:.1f} pp would not show)"
            if row.detectable_drop is not None and row.verdict != DOES_NOT_HOLD
            else ""
        )
        for name, row in sets.items()
    )
    ours += "".join(
        f"; outside the claim, {_short(name)} (a stress test) {_acc(row.accuracy)}" for name, row in stress.items()
    )
    held = [name for name, row in sets.items() if row.verdict in (HOLDS, BETTER)]
    failed = [name for name, row in sets.items() if row.verdict == DOES_NOT_HOLD]
    if held and failed:
        status = f"holds on {', '.join(map(_in_text, held))}; not on {', '.join(map(_in_text, failed))}"
    elif failed:
        status = f"not reproduced: {', '.join(map(_short, failed))}"
    elif held:
        status = f"no detectable drop on {and_list([_in_text(n) for n in held])}"
    else:  # no validation accuracy to judge against
        status = NOT_TESTABLE
    return ours, status


# ----------------------------------------------------------------------------- for people

_SHORT = {
    "oxford-iiit-pet": "Oxford-IIIT Pet",
    "oxford-pets-sample": "Oxford pets sample",
    "oxford-pets-breeds": "Oxford pets, 30 more breeds",
    "cifar10-test": "CIFAR-10 pets",
}


def _short(name: str) -> str:
    return _SHORT.get(name, name)


def _in_text(name: str) -> str:
    """A set's short name inside a sentence ("holds on the Oxford pets sample")."""
    return {"oxford-pets-sample": "the Oxford pets sample", "oxford-pets-breeds": "30 more Oxford breeds"}.get(
        name, _short(name)
    )


def _acc(interval: Interval | Proportion | None, digits: int = 1) -> str:
    return with_ci(interval, digits) if interval else NOT_MEASURED


def _model_name(model_file: str) -> str:
    return "Keras" if model_file.endswith(".keras") else "int8 TFLite" if ".int8." in model_file else model_file


def _summary_rows(summary: GeneralizationSummary) -> list[dict[str, str]]:
    """One row per model and set of pet photos: accuracy, the validation accuracy it is
    judged against, the verdict, and for thumbnails the resolution control."""
    return [
        {
            "model": _model_name(model),
            "images": f"{_short(name)} ({row.n:,})",
            "accuracy": _acc(row.accuracy),
            "PetImages validation": percent(row.validation_accuracy, 2),
            "verdict": row.verdict,
            "PetImages shrunk alike": f"{_acc(row.shrunk)} at {row.image_size} px" if row.image_size else "–",
            "resolution": row.resolution or "–",
        }
        for model, entry in summary.models.items()
        for name, row in entry.sets.items()
    ]


def non_pet_rows(summary: GeneralizationSummary) -> list[dict[str, str]]:
    """Photos of neither class: the share flagged *unsure* and the share called dog."""
    return [
        {
            "model": _model_name(model),
            "photos of neither (CIFAR-10)": f"{non.n:,}",
            "flagged unsure": _acc(non.unsure),
            "called dog": percent(non.called_dog.estimate, 1),
            "a confident cat or dog": percent(1 - non.unsure.estimate, 1) if non.unsure else NOT_MEASURED,
        }
        for model, entry in summary.models.items()
        if (non := entry.non_pets)
    ]


def _generalization_verdict(summary: GeneralizationSummary) -> Text:
    """The page's verdict: a sentence per set for the Keras model, and what was not tested."""
    ours, status = claim_status(summary)
    lines = []
    if status == NOT_TESTABLE:
        lines.append("No external test set was available where this book was built: the claim is *not testable here*.")
    else:
        lines.append(f'**Verdict on "strong generalization": {status}.** Keras model: {ours}.')
    if status != NOT_TESTABLE:
        lines.append(_duplicate_sentence(summary.duplicates))
    missing = [_short(name) for name in summary.not_available]
    if missing:
        lines.append(
            f"Not evaluated: {', '.join(missing)}, whose images were not on the machine that built this "
            "book (`python -m catsdogs evaluate --external --download` fetches them)."
        )
    return Text(bullet_list(lines) + "\n")


def generalization_markdown(summary: GeneralizationSummary) -> Text:
    """The tables of the book's page: pets by model and set, then photos of neither."""
    parts = [_generalization_verdict(summary)]
    if rows := _summary_rows(summary):
        parts.append(markdown_table(rows))
    if rows := non_pet_rows(summary):
        parts.append(markdown_table(rows))
    return Text("\n\n".join(parts) + "\n")


def breed_rows(record: ExternalEvaluation, name: str) -> list[dict[str, str]]:
    """Per breed (or class) of one set of an external record: n, accuracy, unsure share."""
    entry = record.sets.get(name)
    groups = entry.pets.groups if entry and entry.pets else {}
    return [
        {
            "breed": group,
            "species": g.species,
            "images": f"{g.n:,}",
            "accuracy (95 % CI)": _acc(g.accuracy),
            "flagged unsure": percent(g.unsure.estimate, 1) if g.unsure else NOT_MEASURED,
        }
        for group, g in groups.items()
    ]


#: The gallery of the most confident external mistakes, among the book's figures.
EXTERNAL_GALLERY_FILE = "external_mistakes.jpg"


def _image_title(name: str) -> str:
    """An external image's name in words: ``"american_bulldog_12.jpg"`` -> ``"american bulldog 12"``
    (Oxford-IIIT Pet names a breed and a number), ``"0515.jpg"`` -> ``"image 515"``."""
    stem = Path(name).stem
    breed, _, number = stem.rpartition("_")
    if breed and number.isdigit():
        return f"{breed.replace('_', ' ')} {int(number)}"
    return f"image {int(stem)}" if stem.isdigit() else stem.replace("_", " ")


def mistake_gallery(
    record: ExternalEvaluation, sets: Mapping[str, Any], out: Path | str, per_set: int = 6, size: int = 160
) -> Path | None:
    """The model's most confident mistakes on each set of pet photos (``per_set`` each),
    titled with the image, its class and P(dog), saved as a JPEG figure at ``out``.

    ``sets`` maps set names to what :func:`catsdogs.data.external.find_external_set`
    returns; ``None`` when none of the record's sets is among them.
    """
    images, titles, rows = [], [], []
    for name in PET_SETS:
        entry, data = record.sets.get(name), sets.get(name)
        if not entry or not entry.pets or data is None:
            continue
        by_name = {image.name: image for image in data.images}
        worst = sorted(entry.pets.mistakes, key=lambda m: -abs(m.prob_dog - 0.5))[:per_set]
        if not worst:
            continue
        rows.append(_short(name))
        for m in worst:
            images.append(data.pixels(by_name[m.image], size))
            titles.append(f"{_image_title(m.image)}\n{m.label}, P(dog) {m.prob_dog:.2f}")
        for _ in range(per_set - len(worst)):  # a set with fewer mistakes keeps its own row
            images.append(np.full((size, size, 3), 255, dtype="uint8"))
            titles.append("")
    if not images:
        return None
    fig = image_grid(
        images, titles, ncols=per_set, suptitle=f"Most confident mistakes, one row each: {', '.join(rows)}"
    )
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100, pil_kwargs={"quality": 85})  # photos: JPEG
    return Path(out)


__all__ = [
    "EXTERNAL_GALLERY_FILE",
    "mistake_gallery",
    "EXTERNAL_DIR",
    "RESOLUTION_FILE",
    "PET_SETS",
    "CLAIM_SETS",
    "DUPLICATES_FILE",
    "duplicate_check",
    "detectable_drop",
    "HOLDS",
    "DOES_NOT_HOLD",
    "BETTER",
    "NOT_TESTABLE",
    "external_records",
    "resolution_control",
    "accuracy_verdict",
    "resolution_verdict",
    "generalization_summary",
    "claim_status",
    "non_pet_rows",
    "generalization_markdown",
    "breed_rows",
]
