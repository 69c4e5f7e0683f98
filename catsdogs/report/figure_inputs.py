"""What the notebooks need from a run, in one call each: images, histories, models.

These functions only read the run directory (and the images its manifest names)
and return arrays, titles and dicts for :mod:`catsdogs.plots`; they compute no
metric and draw nothing, so every notebook cell stays a line or two.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from catsdogs.config import CLASS_NAMES
from catsdogs.data import scan
from catsdogs.data.images import load_images
from catsdogs.data.split import stratified_subset
from catsdogs.evaluation.explain import gradcam, overlay
from catsdogs.evaluation.metrics import most_confident_mistakes
from catsdogs.records import Predictions, Scan, kept_epoch
from catsdogs.runs import Run, read_predictions
from catsdogs.studies.corruptions import STUDY_TITLES, corrupt

Images = list[np.ndarray]
Titles = list[str]


def image_sizes(run: Run) -> tuple[list[int], list[int]]:
    """Widths and heights (pixels, as found on disk) of every image in the manifest."""
    rows = run.manifest()
    return [r.width for r in rows], [r.height for r in rows]


def skipped_per_class(record: Scan) -> dict[str, int]:
    """Files skipped during validation per class, from ``data/scan.json``."""
    folders = dict(zip(scan.CLASS_FOLDERS, CLASS_NAMES))
    counts = dict.fromkeys(CLASS_NAMES, 0)
    for file, _ in record.skipped_detail:
        counts[folders[file.split("/")[0]]] += 1
    return counts


def sample_images(run: Run, per_class: int = 6, split: str = "train") -> tuple[Images, Titles]:
    """``per_class`` images of each class in ``split``, drawn with the run's seed, at the
    run's image size, titled with the file name (``"Cat/54.jpg"``)."""
    paths, labels = run.split_paths(split)
    picked = stratified_subset(labels, per_class, run.config.seed)
    images = load_images([paths[i] for i in picked], run.config.image_size)
    titles = ["/".join(paths[i].split("/")[-2:]) for i in picked]
    return list(images), titles


def example_image(run: Run, split: str = "val", index: int = 0) -> np.ndarray:
    """One image of ``split`` as float32 ``(S, S, 3)`` in [0, 255], at the run's size."""
    paths, _ = run.split_paths(split)
    return load_images([paths[index]], run.config.image_size)[0].astype("float32")


def augmentation_draws(layer: Any, image: np.ndarray, n: int = 11) -> tuple[Images, Titles]:
    """The original ``image`` followed by ``n`` random draws of ``layer`` (called with
    ``training=True``, each call a new draw)."""
    batch = np.asarray(image, dtype="float32")[None]
    draws = [np.asarray(layer(batch, training=True))[0] for _ in range(n)]
    return [image, *draws], ["original", *(f"draw {i + 1}" for i in range(n))]


def transform_draws(pipeline: Any, image: np.ndarray, n: int = 5) -> tuple[Images, Titles]:
    """Each layer of an augmentation ``keras.Sequential`` alone, ``n`` draws each
    (one row per layer when shown with ``ncols=n``)."""
    images: Images = []
    titles: Titles = []
    for layer in pipeline.layers:
        drawn, _ = augmentation_draws(layer, image, n)
        images += drawn[1:]
        name = layer.name.removeprefix("random_").replace("_", " ")
        titles += [f"{name}, draw {i + 1}" for i in range(n)]
    return images, titles


def load_model(run: Run, phase: str = "phase2") -> Any:
    """The Keras model a training phase saved (``phase1`` or ``phase2``), uncompiled."""

    path = run.model_path(phase)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run the {phase} chapter (or `python -m catsdogs train`) first")
    return keras.models.load_model(path, compile=False)


def phase_histories(run: Run) -> dict[str, dict[str, list[float]]]:
    """``{"phase 1": history, "phase 2": history}`` (phases that have run) for
    :func:`catsdogs.plots.training_curves`."""
    return {f"phase {i}": result.history for i in (1, 2) if (result := run.result(f"phase{i}"))}


def kept_epochs(run: Run) -> dict[str, int]:
    """``{"phase 1": epoch, ...}``: the epoch whose weights each finished phase kept
    (:func:`catsdogs.runs.kept_epoch`), for :func:`catsdogs.plots.training_curves`."""
    kept = {phase: kept_epoch(history) for phase, history in phase_histories(run).items()}
    return {phase: epoch for phase, epoch in kept.items() if epoch is not None}


def final_prediction_arrays(run: Run) -> Predictions:
    """The final model's validation predictions: ``file``, ``label``, ``logit``, ``prob``."""
    return read_predictions(run.final_predictions())


def mistakes(run: Run, k: int = 8) -> tuple[Images, Titles]:
    """The ``k`` validation images the final model got wrong most confidently, titled with
    the true class and the predicted probability of dog (empty lists when there are none)."""
    pred = final_prediction_arrays(run)
    paths, labels = run.split_paths("val")
    if not np.array_equal(labels, pred.label):
        raise ValueError(f"the predictions in {run.path} do not match the run's validation split; rerun chapter 04")
    idx = most_confident_mistakes(pred.label, pred.prob, k=k)
    images = load_images([paths[i] for i in idx], run.config.image_size)
    titles = [f"true {CLASS_NAMES[pred.label[i]]}\nP(dog) = {pred.prob[i]:.2f}" for i in idx]
    return list(images), titles


def gradcam_gallery(run: Run, k: int = 4, corruption: str = "low_light", severity: int = 4) -> tuple[Images, Titles]:
    """Grad-CAM overlays of the final model in three rows of ``k``: correctly classified
    validation images, the most confident mistakes, and the first row's images under
    ``corruption`` at ``severity`` (titles: true class, P(dog))."""

    pred = final_prediction_arrays(run)
    paths, _ = run.split_paths("val")
    rng = np.random.default_rng(run.config.seed)
    right = rng.permutation(np.flatnonzero((pred.prob >= 0.5) == pred.label))[:k]
    wrong = most_confident_mistakes(pred.label, pred.prob, k=k)
    model = keras.models.load_model(run.final_model(), compile=False)
    images, titles = [], []
    for idx, tag in ((right, "clean"), (wrong, "mistake"), (right, f"{STUDY_TITLES[corruption]}, level {severity}")):
        clean = load_images([paths[i] for i in idx], run.config.image_size).astype("float32")
        shown = corrupt(clean, corruption, severity, seed=run.config.seed) if tag not in ("clean", "mistake") else clean
        heat, prob = gradcam(model, shown)
        images += [overlay(img, h) for img, h in zip(shown, heat)]
        titles += [f"{tag}: {CLASS_NAMES[pred.label[i]]}\nP(dog) = {p:.2f}" for i, p in zip(idx, prob)]
    return images, titles


__all__ = [
    "gradcam_gallery",
    "image_sizes",
    "skipped_per_class",
    "sample_images",
    "example_image",
    "augmentation_draws",
    "transform_draws",
    "load_model",
    "phase_histories",
    "kept_epochs",
    "final_prediction_arrays",
    "mistakes",
]
