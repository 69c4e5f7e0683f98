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

The numbers come from scikit-learn. Bootstrap confidence intervals live in
:mod:`catsdogs.evaluation.bootstrap`, calibration and temperature scaling in
:mod:`catsdogs.evaluation.calibration`; both validate their inputs with the checks here.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)
from sklearn.utils import assert_all_finite, check_consistent_length, column_or_1d

from catsdogs.config import CLASS_NAMES
from catsdogs.records import Proportion

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- #
# Input validation (the public functions' boundary)
# --------------------------------------------------------------------------- #
def _as_float(values: ArrayLike, name: str) -> np.ndarray:
    """One finite float per example (scikit-learn's ``column_or_1d`` and
    ``assert_all_finite``: a Keras ``(n, 1)`` output is accepted and flattened)."""
    array = column_or_1d(values, warn=False)
    if array.size == 0:
        raise ValueError(f"{name} is empty; pass at least one example.")
    try:
        array = array.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric; got dtype {array.dtype}.") from error
    assert_all_finite(array, input_name=name)
    return array


def _as_labels(y_true: ArrayLike) -> np.ndarray:
    labels = column_or_1d(y_true, warn=False)
    if labels.size == 0:
        raise ValueError("y_true is empty; pass at least one example.")
    bad = ~np.isin(labels, (0, 1))
    if bad.any():
        found = sorted({str(v) for v in np.unique(labels[bad])[:5]})
        raise ValueError(
            f"y_true must hold only 0 (cat) and 1 (dog); found {', '.join(found)}. "
            "Map class names to labels with CLASS_NAMES.index(name)."
        )
    return labels.astype(np.int64)


def check_binary_inputs(y_true: ArrayLike, y_prob: ArrayLike, name: str = "y_prob") -> tuple[np.ndarray, np.ndarray]:
    """Validated ``(labels, values)``; with ``name="y_prob"`` the values must be
    probabilities of dog. Raises ``ValueError`` saying what to fix."""
    labels, values = _as_labels(y_true), _as_float(y_prob, name)
    check_consistent_length(labels, values)
    if name == "y_prob" and (values.min() < 0.0 or values.max() > 1.0):
        raise ValueError(
            "y_prob must be probabilities of 'dog' in [0, 1]; found values in "
            f"[{values.min():.4g}, {values.max():.4g}]. If these are logits, convert "
            "them with apply_temperature(logits, 1.0) (the sigmoid)."
        )
    return labels, values


def check_threshold(threshold: float) -> float:
    if not isinstance(threshold, (int, float, np.floating, np.integer)) or not (0.0 <= float(threshold) <= 1.0):
        raise ValueError(f"threshold must be a number in [0, 1] (a probability of 'dog'); got {threshold!r}.")
    return float(threshold)


def check_positive_int(value: int, name: str, minimum: int = 1) -> int:
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
    threshold = check_threshold(threshold)
    probs = _as_float(y_prob, "y_prob")
    return (probs >= threshold).astype(np.int64)


# --------------------------------------------------------------------------- #
# The metrics, declared once
# --------------------------------------------------------------------------- #
@dataclass(frozen=True)
class Metric:
    """One classification metric: its display label, its value and its bootstrap twin.

    Attributes
    ----------
    label : str
        What tables call it.
    score : callable
        ``score(labels, predicted, probs) -> float | None``: the value on a set of
        examples (scikit-learn); ``None`` when undefined for the data.
    resampled : callable
        The same metric for many example weightings at once, for the bootstrap:
        threshold metrics take the weighted confusion counts ``(tn, fp, fn, tp)``
        (arrays, one value per resample), ranking metrics (``ranking=True``) the
        weighted counts of dogs and cats at each distinct score, lowest first
        (arrays of shape (resamples, scores)). Undefined values are ``nan``.
    ranking : bool
        Computed from the scores (an area under a curve), not from predicted labels.
    shown : bool
        In the tables of the book and the terminal, the CV study and the claims.
    interval : bool
        Given a bootstrap CI by default (:func:`catsdogs.evaluation.bootstrap.bootstrap_ci`).
    """

    label: str
    score: Callable[[np.ndarray, np.ndarray, np.ndarray], float | None]
    resampled: Callable[..., np.ndarray]
    ranking: bool = False
    shown: bool = True
    interval: bool = True


def _per_class(function: Callable[..., Any]) -> Callable[[np.ndarray, np.ndarray, np.ndarray], float]:
    """A per-class scikit-learn score of the dog class (``zero_division=0``)."""
    return lambda labels, predicted, probs: float(function(labels, predicted, labels=[0, 1], zero_division=0)[1])


def _if_both_classes(function: Callable[..., Any]) -> Callable[[np.ndarray, np.ndarray, np.ndarray], float | None]:
    """A ranking score, ``None`` when ``labels`` hold one class only."""
    return lambda labels, predicted, probs: float(function(labels, probs)) if _both_classes(labels) else None


def _roc_auc_resampled(dogs: np.ndarray, cats: np.ndarray) -> np.ndarray:
    # ROC AUC = P(score of a dog > score of a cat) + 0.5 P(tie) (Mann-Whitney).
    cats_below = np.cumsum(cats, axis=1) - cats
    wins = (dogs * (cats_below + 0.5 * cats)).sum(axis=1)
    return safe_ratio(wins, dogs.sum(axis=1) * cats.sum(axis=1), np.nan)


def _pr_auc_resampled(dogs: np.ndarray, cats: np.ndarray) -> np.ndarray:
    # AP = sum over thresholds (high to low) of recall increment x precision.
    dogs_desc, cats_desc = dogs[:, ::-1], cats[:, ::-1]
    tp, fp = np.cumsum(dogs_desc, axis=1), np.cumsum(cats_desc, axis=1)
    precision = safe_ratio(tp, tp + fp, 0.0)
    pr_auc = safe_ratio((dogs_desc * precision).sum(axis=1), dogs.sum(axis=1), np.nan)
    pr_auc[cats.sum(axis=1) == 0] = np.nan  # as classification_metrics: undefined with one class
    return pr_auc


def _f1_dog(tn, fp, fn, tp):
    return safe_ratio(2 * tp, 2 * tp + fp + fn, 0.0)


def _macro(label: str, score: Callable[..., Any], resampled: Callable[..., np.ndarray]) -> Metric:
    """A macro average over both classes (scikit-learn's ``average="macro"``): recorded, not
    shown in tables by default, given a CI where a study asks for one."""
    return Metric(
        label,
        lambda labels, predicted, probs: float(
            score(labels, predicted, labels=[0, 1], average="macro", zero_division=0)
        ),
        resampled,
        shown=False,
        interval=False,
    )


#: Every classification metric of the package, in the order records and tables list them.
#: Adding one here puts it in :func:`classification_metrics`, the bootstrap, the tables,
#: the cross-validation study and ``evaluate``'s output.
METRICS: dict[str, Metric] = {
    "accuracy": Metric(
        "accuracy",
        lambda labels, predicted, probs: float(accuracy_score(labels, predicted)),
        lambda tn, fp, fn, tp: (tp + tn) / (tn + fp + fn + tp),
    ),
    "precision": Metric(
        "precision (dog)",
        _per_class(lambda *a, **k: precision_recall_fscore_support(*a, **k)[0]),
        lambda tn, fp, fn, tp: safe_ratio(tp, tp + fp, 0.0),
    ),
    "recall": Metric(
        "recall (dog)",
        _per_class(lambda *a, **k: precision_recall_fscore_support(*a, **k)[1]),
        lambda tn, fp, fn, tp: safe_ratio(tp, tp + fn, 0.0),
    ),
    "f1": Metric("F1 (dog)", _per_class(lambda *a, **k: precision_recall_fscore_support(*a, **k)[2]), _f1_dog),
    "macro_precision": _macro(
        "macro precision",
        precision_score,
        lambda tn, fp, fn, tp: (safe_ratio(tp, tp + fp, 0.0) + safe_ratio(tn, tn + fn, 0.0)) / 2,
    ),
    "macro_recall": _macro(
        "macro recall",
        recall_score,
        lambda tn, fp, fn, tp: (safe_ratio(tp, tp + fn, 0.0) + safe_ratio(tn, tn + fp, 0.0)) / 2,
    ),
    "macro_f1": _macro(
        "macro F1",
        f1_score,
        lambda tn, fp, fn, tp: (_f1_dog(tn, fp, fn, tp) + safe_ratio(2 * tn, 2 * tn + fp + fn, 0.0)) / 2,
    ),
    "roc_auc": Metric("ROC AUC", _if_both_classes(roc_auc_score), _roc_auc_resampled, ranking=True),
    "pr_auc": Metric(
        "PR AUC (average precision)",
        _if_both_classes(average_precision_score),
        _pr_auc_resampled,
        ranking=True,
        shown=False,
    ),
}
#: The paper's precision / recall / F1 read two ways: for the dog class (what this package
#: reports by default) and as the macro average over both classes (what scikit-learn's
#: ``classification_report`` prints on its "macro avg" line, the likeliest source of a single "0.99").
PRF_READINGS: dict[str, tuple[str, str, str]] = {
    "dog": ("precision", "recall", "f1"),
    "macro": ("macro_precision", "macro_recall", "macro_f1"),
}
#: The metrics tables show, ``{name: label}``, in order.
SHOWN_METRICS: dict[str, str] = {name: m.label for name, m in METRICS.items() if m.shown}
#: The shown metrics computed from predicted labels (no AUC): those of a fixed threshold.
THRESHOLD_METRICS: tuple[str, ...] = tuple(name for name in SHOWN_METRICS if not METRICS[name].ranking)


def classification_metrics(y_true: ArrayLike, y_prob: ArrayLike, threshold: float = 0.5) -> dict[str, Any]:
    """Every metric of :data:`METRICS`, per-class scores and the confusion matrix.

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

        ``n`` (int), ``threshold`` (float), one per metric of :data:`METRICS`
        (``accuracy``, ``precision``, ``recall``, ``f1`` with dog the positive class,
        ``macro_f1``, the unweighted mean of the two classes' F1, ``roc_auc`` and
        ``pr_auc``, average precision, the step-wise area under the PR curve; both
        ``None`` when ``y_true`` holds a single class), ``per_class``
        (``{"cat": {"precision", "recall", "f1", "support"}, "dog": {...}}``) and
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
    labels, probs = check_binary_inputs(y_true, y_prob)
    threshold = check_threshold(threshold)
    predicted = (probs >= threshold).astype(np.int64)

    precision, recall, f1, support = precision_recall_fscore_support(labels, predicted, labels=[0, 1], zero_division=0)
    scores = [(name, metric.score(labels, predicted, probs)) for name, metric in METRICS.items()]
    after_dog = list(METRICS).index("f1") + 1  # records have always listed per_class after the dog-class scores
    return {
        "n": int(labels.size),
        "threshold": threshold,
        **dict(scores[:after_dog]),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(CLASS_NAMES)
        },
        **dict(scores[after_dog:]),
        "confusion_matrix": confusion_matrix(labels, predicted, labels=[0, 1]).tolist(),
    }


def wilson_interval(k: int, n: int, confidence_level: float = 0.95) -> Proportion:
    """A proportion ``k / n`` with its Wilson score interval (``scipy.stats.binomtest``).

    For small subsets that are often at 100 %, where a percentile bootstrap collapses to a
    zero-width interval (the external sets' breeds, ``verify``'s proportions).

    Returns
    -------
    Proportion
        ``k``, ``n``, ``estimate``, ``low``, ``high``; the last three ``None`` when ``n == 0``.
    """
    k, n = int(k), int(n)
    if n == 0:
        return Proportion(k=0, n=0)
    from scipy.stats import binomtest  # scipy.stats: only where a proportion needs its interval

    ci = binomtest(k, n).proportion_ci(confidence_level=confidence_level, method="wilson")
    return Proportion(k=k, n=n, estimate=k / n, low=float(ci.low), high=float(ci.high))


# --------------------------------------------------------------------------- #
# Curves
# --------------------------------------------------------------------------- #
def finite_or_none(values: np.ndarray) -> list[float | None]:
    """Floats for JSON, ``None`` where a value is not finite."""
    return [float(v) if math.isfinite(v) else None for v in values]


def safe_ratio(numerator: np.ndarray, denominator: np.ndarray, undefined: float) -> np.ndarray:
    """``numerator / denominator`` elementwise, ``undefined`` where the denominator is 0."""
    out = np.full(numerator.shape, undefined, dtype=np.float64)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


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
    labels, probs = check_binary_inputs(y_true, y_prob)
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
            "thresholds": finite_or_none(roc_thresholds),
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


# --------------------------------------------------------------------------- #
# Error analysis
# --------------------------------------------------------------------------- #
def most_confident_mistakes(y_true: ArrayLike, y_prob: ArrayLike, k: int = 12, threshold: float = 0.5) -> np.ndarray:
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
    labels, probs = check_binary_inputs(y_true, y_prob)
    threshold = check_threshold(threshold)
    k = check_positive_int(k, "k", minimum=0)
    mistakes = np.flatnonzero((probs >= threshold).astype(np.int64) != labels)
    prob_of_truth = np.where(labels == 1, probs, 1.0 - probs)[mistakes]
    return mistakes[np.argsort(prob_of_truth, kind="stable")][:k].astype(np.int64)


__all__ = [
    "Metric",
    "METRICS",
    "SHOWN_METRICS",
    "PRF_READINGS",
    "THRESHOLD_METRICS",
    "check_binary_inputs",
    "check_threshold",
    "check_positive_int",
    "finite_or_none",
    "safe_ratio",
    "predict_labels",
    "classification_metrics",
    "roc_pr_curves",
    "most_confident_mistakes",
    "wilson_interval",
]
