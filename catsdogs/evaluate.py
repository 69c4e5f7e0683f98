"""Evaluation: a run's validation predictions -> ``eval/metrics.json`` with bootstrap
CIs; any saved model (see :mod:`catsdogs.predict`) on a folder of images.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from catsdogs import calibration, metrics
from catsdogs import data as data_mod
from catsdogs.bootstrap import bootstrap_ci
from catsdogs.predict import Predictor, predict_paths, read_predictions
from catsdogs.runs import Run

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
    path = final_predictions_file(run)
    p = read_predictions(path)
    cfg = run.config
    result = {
        "source": path.parent.name,
        "split": "val",
        "metrics": metrics.classification_metrics(p["label"], p["prob"]),
        "ci95": bootstrap_ci(p["label"], p["prob"], n_samples=cfg.bootstrap_samples, seed=cfg.seed),
        "calibration": calibration.calibration(p["label"], p["prob"]),
    }
    run.write_json("eval/metrics.json", result)
    return result


def evaluate_directory(
    predictor: Predictor, root: Path | str, cache: Path | str, batch_size: int = 64, progress: bool = True
) -> dict[str, Any]:
    """Metrics of a model on every usable image of a PetImages-style folder
    (``Cat/``, ``Dog/``); bad files are skipped and counted as in training."""
    report = data_mod.scan_dataset(root, cache, progress=progress)
    paths = [str(report.path_of(r)) for r in report.images]
    labels = np.array([r.label for r in report.images])
    prob = predict_paths(predictor, paths, batch_size, progress=progress)
    return {
        "model": str(predictor.path),
        "data": str(root),
        "scan": report.summary(),
        "metrics": metrics.classification_metrics(labels, prob),
    }
