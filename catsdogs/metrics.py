"""Predictions to numbers: classification metrics, bootstrap CIs, curves, calibration.

Conventions used throughout:

* ``y_true`` holds labels, ``0`` for cat and ``1`` for dog (:data:`CLASS_NAMES`).
* ``y_prob`` holds the model's probability of *dog*, one float in ``[0, 1]`` per
  example (the sigmoid of the classifier's logit).
* "dog" is the positive class: ``precision``, ``recall`` and ``f1`` are the dog
  class's unless stated otherwise.
* An example is predicted dog when ``y_prob >= threshold`` (:func:`predict_labels`),
  the same rule scikit-learn's ``roc_curve`` uses for its thresholds.
* Every returned dict holds plain Python ``int``/``float``/``list``/``None`` so it
  can be written with ``json.dump`` as is; ``None`` marks a value that is undefined
  for the data (e.g. ROC AUC when only one class is present).

The numbers come from scikit-learn; the bootstrap re-implements the same
formulas in vectorised form (checked against scikit-learn in the tests) so that
1000 resamples of a few thousand examples take well under a second.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize_scalar
from scipy.special import expit
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)

from catsdogs.config import CLASS_NAMES

logger = logging.getLogger(__name__)

#: Metrics :func:`bootstrap_ci` can resample.
BOOTSTRAP_METRICS: tuple[str, ...] = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "macro_f1",
    "roc_auc",
    "pr_auc",
)

#: Largest resample matrix (resamples x examples) held in memory at once.
_MAX_BOOTSTRAP_CELLS = 2_000_000


# --------------------------------------------------------------------------- #
# Input validation (the public functions' boundary)
# --------------------------------------------------------------------------- #
def _as_1d(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D (one value per example); got shape {array.shape}. "
            f"Flatten it first, e.g. np.ravel({name}) for a Keras (n, 1) output."
        )
    if array.size == 0:
        raise ValueError(f"{name} is empty; pass at least one example.")
    return array


def _as_labels(y_true: ArrayLike, name: str = "y_true") -> np.ndarray:
    labels = _as_1d(y_true, name)
    bad = ~np.isin(labels, (0, 1))
    if bad.any():
        found = sorted({str(v) for v in np.unique(labels[bad])[:5]})
        raise ValueError(
            f"{name} must hold only 0 (cat) and 1 (dog); found {', '.join(found)}. "
            "Map class names to labels with CLASS_NAMES.index(name)."
        )
    return labels.astype(np.int64)


def _as_float(values: ArrayLike, name: str) -> np.ndarray:
    array = _as_1d(values, name)
    try:
        array = array.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric; got dtype {array.dtype}.") from error
    if not np.isfinite(array).all():
        raise ValueError(
            f"{name} contains NaN or infinite values; check the model output "
            "(a diverged model yields NaN) before computing metrics."
        )
    return array


def _check_same_length(y_true: np.ndarray, other: np.ndarray, name: str) -> None:
    if other.shape[0] != y_true.shape[0]:
        raise ValueError(
            f"y_true has {y_true.shape[0]} examples but {name} has {other.shape[0]}; "
            f"pass exactly one {name} value per label, in the same order."
        )


def _as_probabilities(y_prob: ArrayLike, y_true: np.ndarray) -> np.ndarray:
    probs = _as_float(y_prob, "y_prob")
    _check_same_length(y_true, probs, "y_prob")
    if probs.min() < 0.0 or probs.max() > 1.0:
        raise ValueError(
            "y_prob must be probabilities of 'dog' in [0, 1]; found values in "
            f"[{probs.min():.4g}, {probs.max():.4g}]. If these are logits, convert "
            "them with apply_temperature(logits, 1.0) (the sigmoid)."
        )
    return probs


def _validate(y_true: ArrayLike, y_prob: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(labels, probabilities)``; raises ``ValueError`` saying what to fix."""
    labels = _as_labels(y_true)
    return labels, _as_probabilities(y_prob, labels)


def _check_threshold(threshold: float) -> float:
    if not isinstance(threshold, (int, float, np.floating, np.integer)) or not (
        0.0 <= float(threshold) <= 1.0
    ):
        raise ValueError(
            f"threshold must be a number in [0, 1] (a probability of 'dog'); got {threshold!r}."
        )
    return float(threshold)


def _check_positive_int(value: int, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def _both_classes(labels: np.ndarray) -> bool:
    return bool(labels.min() == 0 and labels.max() == 1)


# --------------------------------------------------------------------------- #
# Point metrics
# --------------------------------------------------------------------------- #
def predict_labels(y_prob: ArrayLike, threshold: float = 0.5) -> np.ndarray:
    """Hard labels from probabilities of dog: ``1`` where ``y_prob >= threshold``.

    Parameters
    ----------
    y_prob : array-like of shape (n,)
        Probability of dog per example, in ``[0, 1]``.
    threshold : float, default 0.5
        Decision threshold on the probability of dog.

    Returns
    -------
    numpy.ndarray of shape (n,), dtype int64
        ``0`` (cat) or ``1`` (dog).
    """
    threshold = _check_threshold(threshold)
    probs = _as_float(y_prob, "y_prob")
    return (probs >= threshold).astype(np.int64)


def _auc_or_none(labels: np.ndarray, probs: np.ndarray) -> tuple[float | None, float | None]:
    """ROC AUC and average precision, or ``None`` when only one class is present."""
    if not _both_classes(labels):
        return None, None
    return float(roc_auc_score(labels, probs)), float(average_precision_score(labels, probs))


def classification_metrics(
    y_true: ArrayLike, y_prob: ArrayLike, threshold: float = 0.5
) -> dict[str, Any]:
    """Accuracy, precision, recall, F1, AUCs and confusion matrix of binary predictions.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels, ``0`` = cat, ``1`` = dog.
    y_prob : array-like of shape (n,)
        Predicted probability of dog, in ``[0, 1]``.
    threshold : float, default 0.5
        An example is predicted dog when ``y_prob >= threshold``.

    Returns
    -------
    dict
        JSON-serialisable, with keys

        ``n`` (int), ``threshold`` (float), ``accuracy``, ``precision``, ``recall``,
        ``f1`` (floats, dog is the positive class), ``per_class``
        (``{"cat": {"precision", "recall", "f1", "support"}, "dog": {...}}``),
        ``macro_f1`` (unweighted mean of the two classes' F1), ``roc_auc``,
        ``pr_auc`` (average precision, the step-wise area under the PR curve;
        both ``None`` when ``y_true`` holds a single class) and
        ``confusion_matrix`` ``[[tn, fp], [fn, tp]]`` (rows: true cat, dog;
        columns: predicted cat, dog).

        Precision, recall and F1 are ``0.0`` when undefined (no predicted or no
        true dogs), scikit-learn's ``zero_division=0``.

    Raises
    ------
    ValueError
        If the inputs differ in length, are not 1-D or empty, labels are not 0/1,
        or probabilities fall outside ``[0, 1]``.

    Examples
    --------
    >>> m = classification_metrics([0, 1, 1, 0], [0.2, 0.9, 0.4, 0.6])
    >>> m["accuracy"], m["confusion_matrix"]
    (0.5, [[1, 1], [1, 1]])
    """
    labels, probs = _validate(y_true, y_prob)
    threshold = _check_threshold(threshold)
    predicted = (probs >= threshold).astype(np.int64)

    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=[0, 1], zero_division=0
    )
    roc_auc, pr_auc = _auc_or_none(labels, probs)
    return {
        "n": int(labels.size),
        "threshold": threshold,
        "accuracy": float(accuracy_score(labels, predicted)),
        "precision": float(precision[1]),
        "recall": float(recall[1]),
        "f1": float(f1[1]),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(CLASS_NAMES)
        },
        "macro_f1": float(
            f1_score(labels, predicted, labels=[0, 1], average="macro", zero_division=0)
        ),
        "roc_auc": roc_auc,
        "pr_auc": pr_auc,
        "confusion_matrix": confusion_matrix(labels, predicted, labels=[0, 1]).tolist(),
    }


# --------------------------------------------------------------------------- #
# Bootstrap confidence intervals
# --------------------------------------------------------------------------- #
def _resample_counts(rng: np.random.Generator, n_examples: int, n_resamples: int) -> np.ndarray:
    """How often each example is drawn in each resample: shape (n_resamples, n_examples).

    Drawing ``n_examples`` indices with replacement and counting them is the same
    resample as indexing, and lets every metric be written as a weighted sum.
    """
    indices = rng.integers(0, n_examples, size=(n_resamples, n_examples))
    indices += (np.arange(n_resamples) * n_examples)[:, None]
    counts = np.bincount(indices.ravel(), minlength=n_resamples * n_examples)
    return counts.reshape(n_resamples, n_examples).astype(np.float64)


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray, undefined: float) -> np.ndarray:
    out = np.full(numerator.shape, undefined, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _weighted_threshold_metrics(
    weights: np.ndarray, labels: np.ndarray, predicted: np.ndarray
) -> dict[str, np.ndarray]:
    """Accuracy, precision, recall, F1, macro F1 for each row of example weights.

    Undefined ratios are 0, as ``zero_division=0`` in :func:`classification_metrics`.
    """
    is_dog, said_dog = labels == 1, predicted == 1
    cells = np.stack(
        [~is_dog & ~said_dog, ~is_dog & said_dog, is_dog & ~said_dog, is_dog & said_dog], axis=1
    ).astype(np.float64)
    tn, fp, fn, tp = (weights @ cells).T
    total = tn + fp + fn + tp
    f1_dog = _safe_ratio(2 * tp, 2 * tp + fp + fn, 0.0)
    f1_cat = _safe_ratio(2 * tn, 2 * tn + fp + fn, 0.0)
    return {
        "accuracy": (tp + tn) / total,
        "precision": _safe_ratio(tp, tp + fp, 0.0),
        "recall": _safe_ratio(tp, tp + fn, 0.0),
        "f1": f1_dog,
        "macro_f1": (f1_dog + f1_cat) / 2,
    }


def _weighted_ranking_metrics(
    weights: np.ndarray, labels: np.ndarray, probs: np.ndarray
) -> dict[str, np.ndarray]:
    """ROC AUC and average precision for each row of example weights (NaN if one class).

    Identical to scikit-learn's ``roc_auc_score`` and ``average_precision_score``
    with ``sample_weight``: examples are grouped by distinct score so ties are
    handled the same way (ROC: half credit; AP: one threshold per distinct score).
    """
    order = np.argsort(probs, kind="stable")
    sorted_probs = probs[order]
    starts = np.flatnonzero(np.r_[True, np.diff(sorted_probs) != 0])
    sorted_weights = weights[:, order]
    is_dog = (labels[order] == 1).astype(np.float64)
    dogs = np.add.reduceat(sorted_weights * is_dog, starts, axis=1)  # (resamples, scores)
    cats = np.add.reduceat(sorted_weights * (1.0 - is_dog), starts, axis=1)
    n_dogs, n_cats = dogs.sum(axis=1), cats.sum(axis=1)

    # ROC AUC = P(score of a dog > score of a cat) + 0.5 P(tie) (Mann-Whitney).
    cats_below = np.cumsum(cats, axis=1) - cats
    wins = (dogs * (cats_below + 0.5 * cats)).sum(axis=1)
    roc_auc = _safe_ratio(wins, n_dogs * n_cats, np.nan)

    # AP = sum over thresholds (high to low) of recall increment x precision.
    dogs_desc, cats_desc = dogs[:, ::-1], cats[:, ::-1]
    tp, fp = np.cumsum(dogs_desc, axis=1), np.cumsum(cats_desc, axis=1)
    precision = _safe_ratio(tp, tp + fp, 0.0)
    pr_auc = _safe_ratio((dogs_desc * precision).sum(axis=1), n_dogs, np.nan)
    pr_auc[n_cats == 0] = np.nan  # as classification_metrics: undefined with one class
    return {"roc_auc": roc_auc, "pr_auc": pr_auc}


def _weighted_metrics(
    weights: np.ndarray,
    labels: np.ndarray,
    probs: np.ndarray,
    threshold: float,
    names: Sequence[str],
) -> dict[str, np.ndarray]:
    """The requested metrics for each row of ``weights`` (shape (resamples, n))."""
    values: dict[str, np.ndarray] = {}
    if set(names) - {"roc_auc", "pr_auc"}:
        predicted = (probs >= threshold).astype(np.int64)
        values.update(_weighted_threshold_metrics(weights, labels, predicted))
    if set(names) & {"roc_auc", "pr_auc"}:
        values.update(_weighted_ranking_metrics(weights, labels, probs))
    return {name: values[name] for name in names}


def _check_metric_names(metric_names: Sequence[str]) -> tuple[str, ...]:
    names = (metric_names,) if isinstance(metric_names, str) else tuple(metric_names)
    unknown = [name for name in names if name not in BOOTSTRAP_METRICS]
    if unknown or not names:
        raise ValueError(
            f"unknown or missing metric name(s) {unknown}; choose from "
            f"{', '.join(BOOTSTRAP_METRICS)}."
        )
    return names


def bootstrap_ci(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    n_samples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    threshold: float = 0.5,
    metric_names: Sequence[str] = ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc"),
) -> dict[str, dict[str, float | None]]:
    """Percentile-bootstrap confidence intervals of metrics, resampling examples.

    Each resample draws ``n`` examples with replacement; every metric is
    computed on every resample (the AUCs too, no subsampling), and the interval
    is the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the
    resampled values. The work is vectorised over resamples (example counts
    times a weight matrix), so 1000 resamples of 5000 examples take well under a
    second.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels, ``0`` = cat, ``1`` = dog.
    y_prob : array-like of shape (n,)
        Predicted probability of dog, in ``[0, 1]``.
    n_samples : int, default 1000
        Number of bootstrap resamples.
    seed : int, default 0
        Seed of the resampling; the same seed gives the same intervals.
    confidence : float, default 0.95
        Coverage of the interval, in ``(0, 1)``.
    threshold : float, default 0.5
        Decision threshold for accuracy, precision, recall and F1.
    metric_names : sequence of str
        Any of :data:`BOOTSTRAP_METRICS`.

    Returns
    -------
    dict
        ``{name: {"estimate": float, "low": float, "high": float}}``. The
        estimate is the metric on all examples (as :func:`classification_metrics`),
        not the bootstrap mean. Resamples where a metric is undefined (an AUC
        when a resample holds one class) are left out of its quantiles; a metric
        undefined on the full data has ``None`` for all three values.
        Precision/recall/F1 of a resample with no predicted or no true dogs
        count as 0, the convention of :func:`classification_metrics`.

    Raises
    ------
    ValueError
        For invalid inputs (see :func:`classification_metrics`), an unknown
        metric name, ``n_samples < 1`` or ``confidence`` outside ``(0, 1)``.
    """
    labels, probs = _validate(y_true, y_prob)
    threshold = _check_threshold(threshold)
    n_samples = _check_positive_int(n_samples, "n_samples")
    names = _check_metric_names(metric_names)
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence!r}.")

    point = classification_metrics(labels, probs, threshold)
    rng = np.random.default_rng(seed)
    resampled = {name: np.empty(n_samples) for name in names}
    chunk = max(1, _MAX_BOOTSTRAP_CELLS // labels.size)
    for start in range(0, n_samples, chunk):
        stop = min(start + chunk, n_samples)
        weights = _resample_counts(rng, labels.size, stop - start)
        for name, values in _weighted_metrics(weights, labels, probs, threshold, names).items():
            resampled[name][start:stop] = values

    tail = (1.0 - float(confidence)) / 2.0
    intervals: dict[str, dict[str, float | None]] = {}
    for name in names:
        finite = resampled[name][np.isfinite(resampled[name])]
        if point[name] is None or finite.size == 0:
            intervals[name] = {"estimate": point[name], "low": None, "high": None}
            continue
        if finite.size < n_samples:
            logger.info(
                "%s undefined in %d of %d resamples (one class only); left out of its CI",
                name, n_samples - finite.size, n_samples,
            )
        low, high = np.quantile(finite, [tail, 1.0 - tail])
        intervals[name] = {"estimate": point[name], "low": float(low), "high": float(high)}
    return intervals


# --------------------------------------------------------------------------- #
# Curves and calibration
# --------------------------------------------------------------------------- #
def _finite_or_none(values: np.ndarray) -> list[float | None]:
    return [float(v) if math.isfinite(v) else None for v in values]


def roc_pr_curves(y_true: ArrayLike, y_prob: ArrayLike) -> dict[str, dict[str, Any]]:
    """ROC and precision-recall curves with their areas, as JSON-ready lists.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels, ``0`` = cat, ``1`` = dog; both classes must be present.
    y_prob : array-like of shape (n,)
        Predicted probability of dog, in ``[0, 1]``.

    Returns
    -------
    dict
        ``roc``: ``{"fpr", "tpr", "thresholds", "auc"}`` from scikit-learn's
        ``roc_curve`` (the first threshold, ``+inf`` there, meaning "no example
        predicted dog", is ``None`` so the dict is strict JSON);
        ``pr``: ``{"precision", "recall", "thresholds", "auc", "prevalence"}``
        from ``precision_recall_curve`` (``thresholds`` is one shorter than
        ``precision``/``recall``; ``auc`` is the average precision, as
        ``pr_auc`` in :func:`classification_metrics`; ``prevalence`` is the
        fraction of dogs, the precision of a chance classifier).

    Raises
    ------
    ValueError
        For invalid inputs, or when ``y_true`` holds only one class (the curves
        are undefined then).
    """
    labels, probs = _validate(y_true, y_prob)
    if not _both_classes(labels):
        raise ValueError(
            "ROC and PR curves need both cats (0) and dogs (1) in y_true; "
            f"got only {CLASS_NAMES[int(labels[0])]}s. Evaluate on a set with both classes."
        )
    fpr, tpr, roc_thresholds = roc_curve(labels, probs)
    precision, recall, pr_thresholds = precision_recall_curve(labels, probs)
    return {
        "roc": {
            "fpr": fpr.tolist(),
            "tpr": tpr.tolist(),
            "thresholds": _finite_or_none(roc_thresholds),
            "auc": float(roc_auc_score(labels, probs)),
        },
        "pr": {
            "precision": precision.tolist(),
            "recall": recall.tolist(),
            "thresholds": pr_thresholds.tolist(),
            "auc": float(average_precision_score(labels, probs)),
            "prevalence": float(labels.mean()),
        },
    }


def calibration(y_true: ArrayLike, y_prob: ArrayLike, n_bins: int = 15) -> dict[str, Any]:
    """Expected calibration error and reliability-diagram bins.

    Uses the standard (Guo et al., 2017) definition on the confidence of the
    *predicted* class, ``max(p, 1 - p)``: ``[0, 1]`` is cut into ``n_bins``
    equal-width bins ``((m-1)/M, m/M]``, and ``ECE = sum_m |B_m| / n *
    |accuracy(B_m) - confidence(B_m)|``. Because a binary classifier's confidence
    is at least 0.5, the bins below 0.5 are always empty.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels, ``0`` = cat, ``1`` = dog.
    y_prob : array-like of shape (n,)
        Predicted probability of dog, in ``[0, 1]``; the predicted class is dog
        when ``y_prob >= 0.5``.
    n_bins : int, default 15
        Number of equal-width confidence bins.

    Returns
    -------
    dict
        ``ece`` (float, in ``[0, 1]``), ``n`` (int), ``n_bins`` (int),
        ``bin_edges`` (``n_bins + 1`` floats), and per bin: ``confidence``
        (mean predicted-class confidence), ``accuracy`` (fraction correct; both
        ``None`` for an empty bin) and ``count`` (int).
    """
    labels, probs = _validate(y_true, y_prob)
    n_bins = _check_positive_int(n_bins, "n_bins")
    predicted = (probs >= 0.5).astype(np.int64)
    confidence = np.where(predicted == 1, probs, 1.0 - probs)
    correct = (predicted == labels).astype(np.float64)

    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], confidence, side="left")  # right-closed bins
    count = np.bincount(bins, minlength=n_bins)
    mean_confidence = _safe_ratio(np.bincount(bins, confidence, n_bins), count, np.nan)
    accuracy = _safe_ratio(np.bincount(bins, correct, n_bins), count, np.nan)
    filled = count > 0
    ece = np.sum(count[filled] / labels.size * np.abs(accuracy[filled] - mean_confidence[filled]))
    return {
        "ece": float(ece),
        "n": int(labels.size),
        "n_bins": n_bins,
        "bin_edges": edges.tolist(),
        "confidence": _finite_or_none(mean_confidence),
        "accuracy": _finite_or_none(accuracy),
        "count": count.tolist(),
    }


# --------------------------------------------------------------------------- #
# Temperature scaling
# --------------------------------------------------------------------------- #
def _binary_nll(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of ``sigmoid(logits)``, computed stably."""
    return float(np.mean(np.logaddexp(0.0, logits) - labels * logits))


def fit_temperature(
    logits: ArrayLike, y_true: ArrayLike, bounds: tuple[float, float] = (1e-2, 1e2)
) -> float:
    """Temperature ``T`` minimising the NLL of ``sigmoid(logit / T)`` (temperature scaling).

    Fit it on held-out (validation) predictions, then apply it to test
    predictions with :func:`apply_temperature`. ``T > 1`` softens an
    overconfident model; ``T < 1`` sharpens an underconfident one. Dividing
    by ``T`` never changes which class is predicted, so accuracy and ROC AUC
    are unchanged.

    Parameters
    ----------
    logits : array-like of shape (n,)
        The classifier's logits for dog (before the sigmoid).
    y_true : array-like of shape (n,)
        True labels, ``0`` = cat, ``1`` = dog.
    bounds : (float, float), default (0.01, 100)
        Search interval for ``T``. The NLL is unimodal in ``log T``, so a bounded
        scalar search (``scipy.optimize.minimize_scalar``) on ``log T`` finds the
        optimum; a result at a bound (e.g. perfectly separated logits, whose NLL
        keeps falling as ``T -> 0``) is logged as a warning.

    Returns
    -------
    float
        The fitted temperature, ``T > 0``.
    """
    labels = _as_labels(y_true)
    values = _as_float(logits, "logits")
    _check_same_length(labels, values, "logits")
    low, high = (float(b) for b in bounds)
    if not 0.0 < low < high < math.inf:
        raise ValueError(f"bounds must be 0 < low < high < inf, e.g. (0.01, 100); got {bounds!r}.")

    result = minimize_scalar(
        lambda log_t: _binary_nll(values / math.exp(log_t), labels),
        bounds=(math.log(low), math.log(high)),
        method="bounded",
        options={"xatol": 1e-6},
    )
    temperature = math.exp(float(result.x))
    if math.isclose(temperature, low, rel_tol=1e-3) or math.isclose(temperature, high, rel_tol=1e-3):
        logger.warning(
            "fitted temperature %.4g is at the search bound %s; the logits may be "
            "perfectly separated or uninformative",
            temperature, bounds,
        )
    return temperature


def apply_temperature(logits: ArrayLike, temperature: float) -> np.ndarray:
    """Probabilities of dog, ``sigmoid(logits / temperature)``.

    Parameters
    ----------
    logits : array-like
        Logits for dog, any shape; all finite.
    temperature : float
        ``T > 0``, e.g. from :func:`fit_temperature`; ``1.0`` is the plain sigmoid.

    Returns
    -------
    numpy.ndarray
        Probabilities in ``[0, 1]``, the shape of ``logits``.
    """
    values = np.asarray(logits, dtype=np.float64)
    if not np.isfinite(values).all():
        raise ValueError("logits contains NaN or infinite values; check the model output.")
    if isinstance(temperature, bool) or not (
        isinstance(temperature, (int, float, np.integer, np.floating))
        and 0.0 < float(temperature) < math.inf
    ):
        raise ValueError(f"temperature must be a positive finite number; got {temperature!r}.")
    return expit(values / float(temperature))


# --------------------------------------------------------------------------- #
# Error analysis
# --------------------------------------------------------------------------- #
def most_confident_mistakes(
    y_true: ArrayLike, y_prob: ArrayLike, k: int = 12, threshold: float = 0.5
) -> np.ndarray:
    """Indices of the misclassified examples the model was most sure about.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        True labels, ``0`` = cat, ``1`` = dog.
    y_prob : array-like of shape (n,)
        Predicted probability of dog, in ``[0, 1]``.
    k : int, default 12
        At most this many indices are returned (fewer if there are fewer mistakes).
    threshold : float, default 0.5
        Decision threshold defining a mistake.

    Returns
    -------
    numpy.ndarray of int64, shape (min(k, n_mistakes),)
        Indices into ``y_true``, most confident mistake first: sorted by the
        probability given to the true class, ascending (ties keep input order).
    """
    labels, probs = _validate(y_true, y_prob)
    threshold = _check_threshold(threshold)
    k = _check_positive_int(k, "k", minimum=0)
    mistakes = np.flatnonzero((probs >= threshold).astype(np.int64) != labels)
    prob_of_truth = np.where(labels == 1, probs, 1.0 - probs)[mistakes]
    return mistakes[np.argsort(prob_of_truth, kind="stable")][:k].astype(np.int64)


__all__ = [
    "BOOTSTRAP_METRICS",
    "predict_labels",
    "classification_metrics",
    "bootstrap_ci",
    "roc_pr_curves",
    "calibration",
    "fit_temperature",
    "apply_temperature",
    "most_confident_mistakes",
]
