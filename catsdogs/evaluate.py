"""Evaluation: a run's validation predictions -> ``eval/metrics.json``; any saved
model on a folder of images; prediction on single files.

Models are either Keras ``.keras`` files or TFLite ``.tflite`` exports; both take
RGB images resized to the model's input size with the training resize
(:func:`catsdogs.data.resize_image`) and give the probability of *dog*.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from catsdogs import data as data_mod
from catsdogs.config import CLASS_NAMES
from catsdogs.runs import Run
from catsdogs.train import read_predictions, sigmoid

log = logging.getLogger(__name__)

#: The paper's reported figures (targets, not results).
PAPER_CLAIMS: dict[str, Any] = {
    "images": 24998,
    "accuracy": 0.989,
    "precision": 0.99,
    "recall": 0.99,
    "f1": 0.99,
    "parameters": 3.5e6,
    "file_size_mb": 14.0,
    "latency_ms_per_image": 50.0,
    "latency_hardware": "GPU (unspecified)",
}


def final_predictions_file(run: Run) -> Path:
    """Validation predictions of the run's final model (phase 2's, else phase 1's)."""
    path = run.final_file("predictions_val.csv")
    if path is not None:
        return path
    raise FileNotFoundError(
        f"no validation predictions in {run.path}: run the training chapters (03, 04) or "
        "`python -m catsdogs train` first"
    )


def evaluate_run(run: Run) -> dict[str, Any]:
    """Metrics of the run's final model on the validation split, with bootstrap CIs.

    Reads ``phase2/predictions_val.csv`` (or phase 1's when phase 2 has not run),
    writes ``eval/metrics.json`` and returns it.
    """
    from catsdogs import metrics

    path = final_predictions_file(run)
    p = read_predictions(path)
    cfg = run.config
    result = {
        "source": path.parent.name,
        "split": "val",
        "metrics": metrics.classification_metrics(p["label"], p["prob"]),
        "ci95": metrics.bootstrap_ci(p["label"], p["prob"], n_samples=cfg.bootstrap_samples, seed=cfg.seed),
        "calibration": metrics.calibration(p["label"], p["prob"]),
    }
    run.write_json("eval/metrics.json", result)
    return result


# ----------------------------------------------------------------------------- predictors


@dataclass
class Predictor:
    """A loaded model: ``predict(images)`` -> probability of dog, shape ``(n,)``."""

    path: Path
    kind: str  # "keras" or "tflite"
    image_size: int
    predict: Callable[[np.ndarray], np.ndarray]


def load_predictor(path: Path | str) -> Predictor:
    """Load a ``.keras`` model or a ``.tflite`` export for prediction.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist (the message says where trained models live).
    ValueError
        If the extension is neither ``.keras`` nor ``.tflite``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"model file {path} not found: train one (`python -m catsdogs train`) or use the "
            "published model under models/"
        )
    if path.suffix == ".keras":
        import keras

        model = keras.models.load_model(path, compile=False)
        size = int(model.input_shape[1])

        def predict(images: np.ndarray, batch_size: int = 64) -> np.ndarray:
            # predict_on_batch per chunk: model.predict on a large in-memory array builds a
            # new tf.data pipeline that holds a copy of it, and repeated calls (the
            # corruption study makes dozens) accumulate those copies until memory runs out.
            images = np.asarray(images, dtype="float32")
            logits = [np.asarray(model.predict_on_batch(images[i : i + batch_size])).reshape(-1)
                      for i in range(0, len(images), batch_size)]
            return sigmoid(np.concatenate(logits)) if logits else np.zeros(0)

        return Predictor(path, "keras", size, predict)
    if path.suffix == ".tflite":
        from catsdogs.export import tflite_predict_fn

        fn, size = tflite_predict_fn(path)
        return Predictor(path, "tflite", size, fn)
    raise ValueError(f"cannot load {path}: expected a .keras model or a .tflite export")


def predict_files(predictor: Predictor, files: Sequence[Path | str]) -> list[dict[str, Any]]:
    """Label and probability for each image file; unreadable files get an ``error``."""
    out: list[dict[str, Any]] = []
    images, ok = [], []
    for f in files:
        try:
            images.append(data_mod.read_image_file(f, predictor.image_size))
            ok.append(f)
        except data_mod.DataError as exc:
            out.append({"file": str(f), "error": str(exc)})
    if images:
        probs = predictor.predict(np.stack(images))
        for f, p in zip(ok, probs):
            label = int(p >= 0.5)
            out.append({"file": str(f), "label": CLASS_NAMES[label], "prob_dog": float(p),
                        "confidence": float(p if label else 1 - p)})
    order = {str(f): i for i, f in enumerate(files)}
    return sorted(out, key=lambda r: order[r["file"]])


def evaluate_directory(
    predictor: Predictor, root: Path | str, cache: Path | str, batch_size: int = 64, progress: bool = True
) -> dict[str, Any]:
    """Metrics of a model on every usable image of a PetImages-style folder
    (``Cat/``, ``Dog/``); bad files are skipped and counted as in training."""
    from tqdm.auto import tqdm

    from catsdogs import metrics

    report = data_mod.scan_dataset(root, cache, progress=progress)
    paths = [str(report.path_of(r)) for r in report.images]
    labels = np.array([r.label for r in report.images])
    probs = []
    for i in tqdm(range(0, len(paths), batch_size), desc="predicting", unit="batch", disable=not progress):
        batch = data_mod.load_images(paths[i : i + batch_size], predictor.image_size, exact=True)
        probs.append(predictor.predict(batch))
    prob = np.concatenate(probs)
    return {
        "model": str(predictor.path),
        "data": str(root),
        "scan": report.summary(),
        "metrics": metrics.classification_metrics(labels, prob),
    }
