"""Splits of the usable images: the train/validation manifest of a run and the folds of a
cross-validation study, both stratified and seeded, plus the seeded per-class subset.

A manifest is one row per image (:class:`~catsdogs.records.ManifestRow`): its file relative to the data
root, label, split, source and size; its sha256 is recorded so every machine can check
it trains and validates on the same images.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from catsdogs.config import CLASS_NAMES, Config
from catsdogs.data.scan import ScanReport
from catsdogs.records import ManifestRow, SplitCount

#: Every split a manifest can hold: ``inner`` is the part of the training images that
#: chooses the epoch under the inner protocol (:func:`carve_inner`).
SPLITS: tuple[str, ...] = ("train", "inner", "val", "test")


def split_manifest(
    report: ScanReport, val_fraction: float = 0.2, test_fraction: float = 0.0, seed: int = 42
) -> list[ManifestRow]:
    """Deterministic stratified split of the usable images.

    Returns one row per image; its ``split`` is ``train``, ``val`` or ``test``. The same report, fractions and seed give
    the same manifest on any machine.
    """
    from sklearn.model_selection import train_test_split  # scikit-learn: only when a split is made

    if not 0 < val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError(
            f"val_fraction={val_fraction} and test_fraction={test_fraction} must be in [0, 1) "
            "with val_fraction > 0 and a sum below 1"
        )
    records = report.images
    idx = np.arange(len(records))
    labels = np.array([r.label for r in records])
    split = np.full(len(records), "train", dtype=object)
    rest = idx
    try:
        if test_fraction > 0:
            rest, test = train_test_split(idx, test_size=test_fraction, stratify=labels, random_state=seed)
            split[test] = "test"
        val_share = val_fraction / (1 - test_fraction)
        _, val = train_test_split(rest, test_size=val_share, stratify=labels[rest], random_state=seed)
    except ValueError as exc:  # too few images for a stratified split: say so, not sklearn's words
        raise ValueError(
            f"cannot split {len(records)} images {report.counts()} into stratified train/val"
            f"{'/test' if test_fraction > 0 else ''} sets with val_fraction={val_fraction} and "
            f"test_fraction={test_fraction} ({exc}); every split needs images of both classes: "
            "use more images (max_images_per_class) or larger fractions"
        ) from exc
    split[val] = "val"
    return [
        ManifestRow(file=r.file, label=r.label, split=str(split[i]), source=r.source, width=r.width, height=r.height)
        for i, r in enumerate(records)
    ]


def carve_inner(rows: Sequence[ManifestRow], fraction: float, seed: int) -> list[ManifestRow]:
    """The manifest with a stratified, seeded share ``fraction`` of its ``train`` rows moved
    to the ``inner`` split: the images that choose the epoch under the inner protocol
    (:attr:`~catsdogs.config.Config.protocol`), so the scored ``val`` split chooses nothing.

    Raises
    ------
    ValueError
        If the manifest already has an ``inner`` split, or its training rows are too few to
        carve a stratified share of both classes.
    """
    from sklearn.model_selection import train_test_split  # scikit-learn: only when a split is made

    if any(r.split == "inner" for r in rows):
        raise ValueError("this manifest already has an inner split")
    train = np.array([i for i, r in enumerate(rows) if r.split == "train"])
    labels = np.array([rows[i].label for i in train])
    try:
        _, inner = train_test_split(train, test_size=fraction, stratify=labels, random_state=seed)
    except ValueError as exc:
        raise ValueError(
            f"cannot carve an inner validation split of inner_val_fraction={fraction} from {len(train)} "
            f"training images ({exc}); use more images or a larger inner_val_fraction"
        ) from exc
    moved = set(inner.tolist())
    return [r.moved_to("inner") if i in moved else r for i, r in enumerate(rows)]


def stratified_subset(labels: np.ndarray, per_class: int | None, seed: int) -> np.ndarray:
    """Sorted indices of at most ``per_class`` examples of each class, drawn with ``seed``
    (``None``: all indices). The one seeded per-class subset of the package."""
    if per_class is None:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    picked = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(picked))


def split_table(rows: Sequence[ManifestRow]) -> dict[str, SplitCount]:
    """Counts per split and class: ``{"train": SplitCount(cat=n, dog=n, total=n), ...}``."""
    table: dict[str, SplitCount] = {}
    for s in SPLITS:
        sel = [r for r in rows if r.split == s]
        if not sel:
            continue
        c = Counter(r.class_name for r in sel)
        table[s] = SplitCount(**{name: c.get(name, 0) for name in CLASS_NAMES}, total=len(sel))
    return table


def assign_folds(rows: Sequence[ManifestRow], n_folds: int, seed: int) -> np.ndarray:
    """Fold index of every manifest row: 0 for the ``val`` split, 1..K-1 for the rest.

    The rows of the ``train`` split are divided into ``n_folds - 1`` stratified,
    seeded folds (scikit-learn's ``StratifiedKFold``), so every row gets exactly one
    fold and each fold holds the classes in the proportion of the whole set.

    Raises
    ------
    ValueError
        If ``n_folds < 2``, or the manifest has rows outside ``train``/``val``.
    """
    from sklearn.model_selection import StratifiedKFold  # scikit-learn: only when folds are made

    if n_folds < 2:
        raise ValueError(f"--folds must be at least 2, got {n_folds}")
    splits = {r.split for r in rows}
    if not splits <= {"train", "val"}:
        raise ValueError(
            f"cross-validation needs a train/val manifest; this one has {sorted(splits)} (set test_fraction=0)"
        )
    folds = np.zeros(len(rows), dtype="int64")
    rest = np.array([i for i, r in enumerate(rows) if r.split == "train"])
    labels = np.array([rows[i].label for i in rest])
    if n_folds > 2:
        splitter = StratifiedKFold(n_splits=n_folds - 1, shuffle=True, random_state=seed)
        for k, (_, held) in enumerate(splitter.split(rest, labels), start=1):
            folds[rest[held]] = k
    else:
        folds[rest] = 1
    return folds


def fold_manifest(rows: Sequence[ManifestRow], folds: np.ndarray, k: int) -> list[ManifestRow]:
    """The manifest of fold ``k``: its images are ``val``, all others ``train``."""
    return [r.moved_to("val" if f == k else "train") for r, f in zip(rows, folds)]


def check_fold_fraction(config: Config, n_folds: int) -> None:
    """Fold 0 is the config's validation split, so ``val_fraction`` must be ``1 / n_folds``."""
    if abs(config.val_fraction - 1 / n_folds) > 1e-9:
        raise ValueError(
            f"{n_folds} folds need val_fraction = 1/{n_folds} (fold 0 is the validation split); "
            f"this config has val_fraction={config.val_fraction}: pass --set val_fraction={1 / n_folds:g} "
            "or --folds to match"
        )


__all__ = [
    "SPLITS",
    "split_manifest",
    "carve_inner",
    "stratified_subset",
    "split_table",
    "assign_folds",
    "fold_manifest",
    "check_fold_fraction",
]
