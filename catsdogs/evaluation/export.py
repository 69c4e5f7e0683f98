"""Exports and efficiency: the final ``.keras`` model without optimizer state, TFLite
float32 and int8 (post-training, calibrated on training images), their accuracy,
file sizes, and latency on this machine.

Writes ``export/export.json`` and ``bench/bench.json`` in the run directory.
"""

from __future__ import annotations

import json
import logging
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import keras
import numpy as np
import tensorflow as tf

from catsdogs.data import images
from catsdogs.evaluation import metrics
from catsdogs.evaluation.predict import (
    KEEP_IN_DISTRIBUTION,
    MODEL_STEM,
    TFLitePredictor,
    confidence,
    fit_ood_threshold,
    load_predictor,
    predict_paths,
)
from catsdogs.files import file_sha256
from catsdogs.model.classifier import inference_model, parameter_counts
from catsdogs.model.tflite import quantize
from catsdogs.provenance import hardware_info
from catsdogs.records import (
    Bench,
    Export,
    ExportedFile,
    Hardware,
    Latency,
    Metrics,
    ModelLatency,
    PublishedFile,
    PublishedModels,
)
from catsdogs.runs import Run

log = logging.getLogger(__name__)

EXPORTS: tuple[str, ...] = ("keras", "tflite_float32", "tflite_int8")


def _mb(path: Path) -> float:
    return round(path.stat().st_size / 1e6, 3)


def convert_to_tflite(model, out_path: Path, representative_images: np.ndarray | None = None) -> Path:
    """Convert a Keras classifier to TFLite via a SavedModel, with a static batch of 1.

    A static input shape ``[1, S, S, 3]`` is what the browser runtime (LiteRT.js)
    accepts; in Python, :class:`catsdogs.evaluation.predict.TFLitePredictor` feeds such a file one
    image per call. With ``representative_images`` (float, [0, 255]) the export is full-integer int8
    (uint8 image input, int8 internals, float32 logit output): post-training
    quantization calibrated on those images. Without, it is float32.
    """

    tf_logger = logging.getLogger("tensorflow")
    level = tf_logger.level
    tf_logger.setLevel(logging.WARNING)  # "Assets written to <tmp>" is noise in a notebook
    try:
        return _convert(tf, model, out_path, representative_images)
    finally:
        tf_logger.setLevel(level)


def _convert(tf, model, out_path: Path, representative_images: np.ndarray | None) -> Path:
    signature = [tf.TensorSpec((1, *model.input_shape[1:]), tf.float32, name="image")]
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "saved_model"
        model.export(str(saved), format="tf_saved_model", verbose=False, input_signature=signature)
        converter = tf.lite.TFLiteConverter.from_saved_model(str(saved))
        if representative_images is not None:
            images = np.asarray(representative_images, dtype="float32")

            def representative():
                for img in images:
                    yield [img[None]]

            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.uint8
            converter.inference_output_type = tf.float32
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_bytes(converter.convert())
    return out_path


def current_export(run: Run) -> Export | None:
    """``export/export.json`` if it is up to date: made from the run's current final
    model (its sha256, recorded in the export or, for older records, in the phase's
    ``result.json``) and every export file still has its recorded sha256; else ``None``."""
    record = run.export
    if record is None:
        return None
    source = run.final_model()
    recorded = record.source_sha256
    if recorded is None and record.source_model == source.relative_to(run.path).as_posix():
        phase = run.result(source.parent.name)
        recorded = phase.model_sha256 if phase else None
    if recorded is None or recorded != file_sha256(source):
        return None
    for entry in record.exports.values():
        path = run.path / "export" / entry.file
        if not path.is_file() or file_sha256(path) != entry.sha256:
            return None
    return record


def _one_threshold(record: Export) -> bool:
    """Whether every export of ``record`` carries the same unsure threshold and its share."""
    entries = record.exports.values()
    return len({e.ood_threshold for e in entries}) == 1 and all(e.ood_flagged_val is not None for e in entries)


def export_run(
    run: Run, publish_dir: Path | str | None = None, calibration_images: int = 300, force: bool = False
) -> Export:
    """Export the run's final model and measure each export on the validation split.

    Writes ``export/<stem>.keras`` (no optimizer state), ``.float32.tflite`` and
    ``.int8.tflite``, and ``export/export.json`` (sizes, sha256, parameter count,
    validation metrics of each export and its agreement with the Keras model).
    An up-to-date export (:func:`current_export`) is reused unless ``force``.
    With ``publish_dir`` the ``.keras`` and int8 files are also copied there.
    """

    existing = None if force else current_export(run)
    if existing is not None and not _one_threshold(existing):
        existing = None  # made before every file carried the Keras model's one unsure threshold
    if existing is not None:
        log.info("reusing the exports in %s/export (made from the current final model)", run.path)
        if publish_dir:
            publish(run, publish_dir)
        return existing
    cfg = run.config
    source = run.final_model()
    model = inference_model(keras.models.load_model(source, compile=False))
    out = run.path / "export"
    out.mkdir(parents=True, exist_ok=True)
    files = _export_files(out)
    with run.timed("export_convert"):
        model.save(files.keras)  # not compiled: no optimizer state
        convert_to_tflite(model, files.tflite_float32)
        train_paths, _ = run.split_paths("train")
        rng = np.random.default_rng(cfg.seed)
        calib = rng.choice(len(train_paths), size=min(calibration_images, len(train_paths)), replace=False)
        calib_images = images.load_images([train_paths[i] for i in sorted(calib)], cfg.image_size)
        convert_to_tflite(model, files.tflite_int8, representative_images=calib_images)

    val_paths, y_val = run.split_paths("val")
    probs = {}
    with run.timed("export_evaluate"):
        for name, path in files.by_name().items():
            probs[name] = predict_paths(load_predictor(path), val_paths)
    reference = probs["keras"]
    # One unsure threshold for every file of the model, fitted on the Keras model (the
    # reference the exports are converted from); each file records the share of the
    # validation images it flags with it.
    threshold = fit_ood_threshold(reference)
    keras_pred = reference >= 0.5
    result = Export(
        source_model=source.relative_to(run.path).as_posix(),
        source_sha256=file_sha256(source),
        parameters=parameter_counts(model),
        calibration_images=int(len(calib)),
        exports={
            name: ExportedFile(
                file=path.name,
                size_mb=_mb(path),
                sha256=file_sha256(path),
                val_metrics=Metrics.from_dict(metrics.classification_metrics(y_val, probs[name])),
                ood_threshold=threshold,
                ood_keep_in_distribution=KEEP_IN_DISTRIBUTION,
                ood_flagged_val=float(np.mean(confidence(probs[name]) < threshold)),
                agreement_with_keras=float(np.mean((probs[name] >= 0.5) == keras_pred)),
                max_abs_prob_diff=float(np.max(np.abs(probs[name] - reference))),
            )
            for name, path in files.by_name().items()
        },
    )
    run.write_record(result)
    if publish_dir:
        publish(run, publish_dir)
    return result


def publish(run: Run, publish_dir: Path | str) -> PublishedModels:
    """Copy the run's ``.keras`` and int8 ``.tflite`` exports into ``publish_dir``
    (the repository's ``models/``) with a JSON record of their sha256, sizes,
    validation metrics and the run they come from."""
    export = run.record(Export)
    publish_dir = Path(publish_dir)
    publish_dir.mkdir(parents=True, exist_ok=True)
    files = {}
    for name in ("keras", "tflite_int8"):
        entry = export.exports[name]
        src = run.path / "export" / entry.file
        if file_sha256(src) != entry.sha256:
            raise ValueError(f"{src} changed since export/export.json was written; rerun the export")
        shutil.copy2(src, publish_dir / entry.file)
        files[entry.file] = PublishedFile(
            size_mb=entry.size_mb,
            sha256=entry.sha256,
            val_accuracy=entry.val_metrics.accuracy,
            val_f1=entry.val_metrics.f1,
            ood_threshold=entry.ood_threshold,
            ood_keep_in_distribution=entry.ood_keep_in_distribution,
            ood_flagged_val=entry.ood_flagged_val,
        )
    record = PublishedModels(run=run.path.name, config=run.config.training_dict(), files=files)
    (publish_dir / PublishedModels.PATH).write_text(json.dumps(record.to_dict(), indent=2) + "\n")
    return record


# ----------------------------------------------------------------------------- bench


def _time_calls(fn: Callable[[], Any], repeats: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def _summary(times_ms: list[float], per: int = 1) -> Latency:
    return Latency(
        median_ms=round(statistics.median(times_ms) / per, 3),
        p90_ms=round(float(np.percentile(times_ms, 90)) / per, 3),
        min_ms=round(min(times_ms) / per, 3),
    )


class _ExportFiles(NamedTuple):
    """The three exports of a run's ``export/`` folder, by the names ``export.json`` gives them."""

    keras: Path
    tflite_float32: Path
    tflite_int8: Path

    def by_name(self) -> dict[str, Path]:
        return self._asdict()


def _export_files(export_dir: Path) -> _ExportFiles:
    """The three exports of a run's ``export/`` folder."""
    return _ExportFiles(
        keras=export_dir / f"{MODEL_STEM}.keras",
        tflite_float32=export_dir / f"{MODEL_STEM}.float32.tflite",
        tflite_int8=export_dir / f"{MODEL_STEM}.int8.tflite",
    )


def bench_run(run: Run, repeats: int = 50, batch_size: int = 32, force: bool = False) -> Bench:
    """Single-image and batched latency of the Keras model and both TFLite exports.

    Keras is timed through ``model.predict_on_batch`` (the conventional call); TFLite
    through ``Interpreter.invoke`` with all cores. Writes ``bench/bench.json``, recording
    the sha256 of each file timed. A bench of the same files with the same ``repeats`` and
    ``batch_size`` is reused unless ``force``: latency is measured on an idle machine
    (``python -m catsdogs bench``), not while a chapter shares the CPU with other work.
    """

    export_dir = run.path / "export"
    if not (export_dir / f"{MODEL_STEM}.int8.tflite").is_file():
        raise FileNotFoundError(
            f"no exports in {export_dir}: run `python -m catsdogs export --run-dir {run.path}` first"
        )
    shas = {name: file_sha256(path) for name, path in _export_files(export_dir).by_name().items()}
    previous = run.bench
    if (
        not force
        and previous
        and previous.sha256 == shas
        and (previous.repeats, previous.batch_size) == (repeats, batch_size)
    ):
        log.info("reusing the bench of these exports in %s (force=True measures again)", run.path / "bench")
        return previous
    size = run.config.image_size
    rng = np.random.default_rng(0)
    one = rng.uniform(0, 255, size=(1, size, size, 3)).astype("float32")
    batch = rng.uniform(0, 255, size=(batch_size, size, size, 3)).astype("float32")
    latency: dict[str, ModelLatency] = {}
    model = keras.models.load_model(export_dir / f"{MODEL_STEM}.keras", compile=False)
    latency["keras"] = ModelLatency(
        single=_summary(_time_calls(lambda: model.predict_on_batch(one), repeats)),
        batched_per_image=_summary(
            _time_calls(lambda: model.predict_on_batch(batch), max(5, repeats // 5)), batch_size
        ),
    )
    for name in ("tflite_float32", "tflite_int8"):
        suffix = name.split("_")[1]
        predictor = TFLitePredictor(export_dir / f"{MODEL_STEM}.{suffix}.tflite")
        interp, det = predictor.interpreter, predictor.input  # invoke() alone is timed
        interp.allocate_tensors()
        interp.set_tensor(det["index"], quantize(one, det))
        single = _summary(_time_calls(interp.invoke, repeats))
        if predictor.static_batch:  # the browser-ready export: one call per image
            images = quantize(batch, det)

            def one_call_per_image(interp=interp, det=det, images=images) -> None:
                for i in range(len(images)):
                    interp.set_tensor(det["index"], images[i : i + 1])
                    interp.invoke()

            batched = _summary(_time_calls(one_call_per_image, max(5, repeats // 5)), batch_size)
            mode = "one call per image (static batch of 1)"
        else:
            interp.resize_tensor_input(det["index"], list(batch.shape))
            interp.allocate_tensors()
            det = interp.get_input_details()[0]
            interp.set_tensor(det["index"], quantize(batch, det))
            batched, mode = _summary(_time_calls(interp.invoke, max(5, repeats // 5)), batch_size), None
        latency[name] = ModelLatency(single=single, batched_per_image=batched, batched_mode=mode)
    base = latency["keras"]
    result = Bench(
        repeats=repeats,
        batch_size=batch_size,
        hardware=Hardware(**hardware_info()),
        sha256=shas,
        models={
            name: entry.replace(
                speedup_vs_keras_single=round(base.single.median_ms / entry.single.median_ms, 2),
                speedup_vs_keras_batched=round(base.batched_per_image.median_ms / entry.batched_per_image.median_ms, 2),
            )
            for name, entry in latency.items()
        },
    )
    run.write_record(result)
    return result


def format_bench(result: Bench) -> str:
    """A side-by-side text table of :func:`bench_run`'s result."""
    lines = [
        f"latency on {result.hardware.cpu} ({result.hardware.logical_cores} cores), "
        f"median of {result.repeats} single calls; batch of {result.batch_size}",
        f"{'model':<16}{'single ms':>11}{'x vs keras':>12}{'batched ms/img':>16}{'x vs keras':>12}",
    ]
    for name, e in result.models.items():
        lines.append(
            f"{name:<16}{e.single.median_ms:>11.2f}{e.speedup_vs_keras_single:>12.2f}"
            f"{e.batched_per_image.median_ms:>16.2f}{e.speedup_vs_keras_batched:>12.2f}"
        )
    return "\n".join(lines)
