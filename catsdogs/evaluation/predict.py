"""Prediction: the one place a trained model turns images into P(dog).

A model is a Keras ``.keras`` file or a TFLite ``.tflite`` export; :func:`load_predictor`
returns a :class:`Predictor` for either. Both take RGB images resized with the
training resize (:func:`catsdogs.data.images.resize_image`), float ``(n, S, S, 3)`` in
[0, 255], and return the probability of *dog*. TFLite runs through LiteRT
(``ai_edge_litert``); TensorFlow's own interpreter, deprecated since TF 2.20, is used
only where LiteRT has no wheel.

Also here: the predictions CSV of a run, and the *unsure* rule of ``predict``: a
prediction whose confidence ``max(P, 1 - P)`` is below the model's out-of-distribution
threshold (the confidence quantile that keeps 95 % of real validation images).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit
from tqdm import tqdm

from catsdogs.config import CLASS_NAMES, project_root
from catsdogs.data import scan
from catsdogs.data.images import load_images, read_image_file
from catsdogs.model.tflite import dequantize, quantize, tflite_interpreter
from catsdogs.records import PublishedFile, PublishedModels

log = logging.getLogger(__name__)

MODEL_STEM = "catsdogs_mobilenetv2"
#: Share of real validation images an out-of-distribution threshold keeps.
KEEP_IN_DISTRIBUTION = 0.95


# ----------------------------------------------------------------------------- TFLite


# ----------------------------------------------------------------------------- predictors


@dataclass
class Predictor:
    """A loaded model. ``predict(images)`` -> probability of dog ``(n,)``;
    ``logits(images)`` -> the model's logit ``(n,)``."""

    path: Path
    kind: str  # "keras" or "tflite"
    image_size: int

    def logits(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        return expit(self.logits(images, batch_size).astype("float64"))


class KerasPredictor(Predictor):
    def __init__(self, path: Path):
        import keras  # loads TensorFlow: only when a model is built, trained or run

        self.model = keras.models.load_model(path, compile=False)
        super().__init__(path, "keras", int(self.model.input_shape[1]))

    def logits(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        # predict_on_batch per chunk: model.predict on a large in-memory array builds a
        # new tf.data pipeline that holds a copy of it, and repeated calls (the
        # corruption study makes dozens) accumulate those copies until memory runs out.
        images = np.asarray(images, dtype="float32")
        out = [
            np.asarray(self.model.predict_on_batch(images[i : i + batch_size])).reshape(-1)
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros(0, dtype="float32")


class TFLitePredictor(Predictor):
    """A TFLite export. A file with a static batch of 1 (the browser-ready export) is
    fed one image per call (XNNPACK cannot always resize a static batch); a dynamic
    batch is resized to each chunk of images."""

    def __init__(self, path: Path, num_threads: int | None = None):
        self.interpreter = tflite_interpreter(path, num_threads)
        self.input = self.interpreter.get_input_details()[0]
        self.static_batch = int(self.input["shape_signature"][0]) > 0
        self._batch = None
        super().__init__(path, "tflite", int(self.input["shape"][1]))

    def _allocate(self, batch: int) -> None:
        if batch != self._batch:
            if not self.static_batch:
                self.interpreter.resize_tensor_input(self.input["index"], [batch, self.image_size, self.image_size, 3])
            self.interpreter.allocate_tensors()
            self._batch = batch

    def invoke(self, images: np.ndarray) -> np.ndarray:
        """One interpreter call on ``images`` (already the model's batch size)."""
        self._allocate(len(images))
        inp, out = self.interpreter.get_input_details()[0], self.interpreter.get_output_details()[0]
        self.interpreter.set_tensor(inp["index"], quantize(images, inp))
        self.interpreter.invoke()
        return dequantize(self.interpreter.get_tensor(out["index"]), out).reshape(-1)

    def logits(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        step = 1 if self.static_batch else batch_size
        images = np.asarray(images, dtype="float32")
        out = [self.invoke(images[i : i + step]) for i in range(0, len(images), step)]
        return np.concatenate(out) if out else np.zeros(0, dtype="float32")


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
        return KerasPredictor(path)
    if path.suffix == ".tflite":
        return TFLitePredictor(path)
    raise ValueError(f"cannot load {path}: expected a .keras model or a .tflite export")


def predict_paths(
    predictor: Predictor, paths: Sequence[str], batch_size: int = 256, progress: bool = False
) -> np.ndarray:
    """P(dog) of image files read exactly as in training (unrounded float pipeline),
    ``batch_size`` files at a time."""
    chunks = []
    for i in tqdm(range(0, len(paths), batch_size), desc="predicting", unit="batch", disable=not progress):
        chunks.append(predictor.predict(load_images(paths[i : i + batch_size], predictor.image_size, exact=True)))
    return np.concatenate(chunks) if chunks else np.zeros(0)


# ----------------------------------------------------------------------------- published model


def published_model_dir() -> Path:
    """``models/`` of the project checkout: the one around the working directory, else the
    one this package was installed from (an editable install), else ``./models``."""
    return (project_root() or project_root(Path(__file__).resolve().parent) or Path.cwd()) / "models"


def default_model_path() -> Path:
    """The published Keras model, used by ``predict`` when no ``--model`` is given."""
    return published_model_dir() / f"{MODEL_STEM}.keras"


def published_model_record(model_path: Path | str) -> PublishedModels | None:
    """The publication record (``<stem>.json``) next to a published model file, if any."""
    return PublishedModels.in_dir(Path(model_path).parent)


def published_file(model_path: Path | str) -> PublishedFile:
    """The publication record's entry of this model file (empty when it has none)."""
    record = published_model_record(model_path)
    return record.file(Path(model_path).name) if record else PublishedFile()


def ood_threshold(model_path: Path | str) -> float | None:
    """The out-of-distribution confidence threshold recorded for this model file in its
    publication record, or ``None`` when none is recorded."""
    return published_file(model_path).ood_threshold


def confidence(probs: np.ndarray) -> np.ndarray:
    """Confidence of a binary prediction: ``max(P(dog), P(cat))``."""
    probs = np.asarray(probs, dtype="float64")
    return np.maximum(probs, 1 - probs)


def fit_ood_threshold(probs: np.ndarray, keep: float = KEEP_IN_DISTRIBUTION) -> float:
    """The confidence below which a prediction is *unsure*: the quantile of real
    images' confidence that keeps ``keep`` of them."""
    return float(np.quantile(confidence(probs), 1 - keep))


@dataclass(frozen=True)
class FilePrediction:
    """One image file's answer: its label, P(dog), confidence and, when a threshold is
    known, whether it is *unsure*; or, for a file that could not be read, the ``error``."""

    file: str
    label: str | None = None
    prob_dog: float | None = None
    confidence: float | None = None
    unsure: bool | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON line ``predict --json`` prints: the fields that apply, in order."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


def predict_files(
    predictor: Predictor,
    files: Sequence[Path | str],
    threshold: float | None = None,
    batch_size: int = 64,
    progress: bool = False,
) -> list[FilePrediction]:
    """Label, P(dog), confidence and (with ``threshold``) ``unsure`` for each image file,
    in the order given, ``batch_size`` files at a time (``progress``: a bar on stderr);
    unreadable files get an ``error`` and do not stop the others."""
    out: list[FilePrediction] = []
    with tqdm(total=len(files), unit="image", desc="predicting", disable=not progress, file=sys.stderr) as bar:
        for start in range(0, len(files), batch_size):
            batch = files[start : start + batch_size]
            images, errors = [], {}
            for f in batch:
                try:
                    images.append(read_image_file(f, predictor.image_size))
                except scan.DataError as exc:
                    errors[str(f)] = str(exc)
            probs = predictor.predict(np.stack(images)) if images else np.empty(0)
            answers = iter(zip(probs, confidence(probs)))
            for f in map(str, batch):
                if f in errors:
                    out.append(FilePrediction(file=f, error=errors[f]))
                    continue
                p, c = next(answers)
                unsure = None if threshold is None else bool(c < threshold)
                out.append(
                    FilePrediction(
                        file=f, label=CLASS_NAMES[int(p >= 0.5)], prob_dog=float(p), confidence=float(c), unsure=unsure
                    )
                )
            bar.update(len(batch))
    return out


# ----------------------------------------------------------------------------- predictions CSV


__all__ = [
    "MODEL_STEM",
    "KEEP_IN_DISTRIBUTION",
    "Predictor",
    "KerasPredictor",
    "TFLitePredictor",
    "load_predictor",
    "predict_paths",
    "published_model_dir",
    "default_model_path",
    "published_model_record",
    "published_file",
    "ood_threshold",
    "confidence",
    "fit_ood_threshold",
    "FilePrediction",
    "predict_files",
]
