"""Evaluation: a run's validation predictions -> ``eval/metrics.json`` with bootstrap
CIs; any saved model (see :mod:`catsdogs.evaluation.predict`) on a folder of images.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from catsdogs.data import scan
from catsdogs.evaluation import calibration, metrics
from catsdogs.evaluation.bootstrap import bootstrap_ci
from catsdogs.evaluation.predict import Predictor, predict_paths
from catsdogs.records import Evaluation
from catsdogs.runs import Run, read_predictions

log = logging.getLogger(__name__)


def evaluate_run(run: Run) -> Evaluation:
    """Metrics of the run's final model on the validation split, with bootstrap CIs.

    Reads ``phase2/predictions_val.csv`` (or phase 1's when phase 2 has not run),
    writes ``eval/metrics.json`` and returns it.
    """
    path = run.final_predictions()
    p = read_predictions(path)
    cfg = run.config
    result = Evaluation.from_dict(
        {
            "source": path.parent.name,
            "split": "val",
            "metrics": metrics.classification_metrics(p.label, p.prob),
            "ci95": bootstrap_ci(p.label, p.prob, n_samples=cfg.bootstrap_samples, seed=cfg.seed),
            "calibration": calibration.reliability(p.label, p.prob),
        }
    )
    run.write_record(result)
    return result


def evaluate_directory(
    predictor: Predictor, root: Path | str, cache: Path | str, batch_size: int = 64, progress: bool = True
) -> dict[str, Any]:
    """Metrics of a model on every usable image of a PetImages-style folder
    (``Cat/``, ``Dog/``); bad files are skipped and counted as in training."""
    report = scan.scan_dataset(root, cache, progress=progress)
    paths = [str(report.path_of(r)) for r in report.images]
    labels = np.array([r.label for r in report.images])
    prob = predict_paths(predictor, paths, batch_size, progress=progress)
    return {
        "model": str(predictor.path),
        "data": str(root),
        "scan": report.summary(),
        "metrics": metrics.classification_metrics(labels, prob),
    }
