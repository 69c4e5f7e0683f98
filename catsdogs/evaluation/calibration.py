"""Calibration: reliability bins and expected calibration error, and temperature scaling.

Temperature scaling divides the classifier's logit by one number fitted on held-out
examples (minimising the binary negative log-likelihood with
``scipy.optimize.minimize_scalar``); it changes confidence, not the predicted label.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize_scalar
from scipy.special import expit

from catsdogs.evaluation.metrics import check_binary_inputs, check_positive_int, finite_or_none, safe_ratio

logger = logging.getLogger(__name__)


def reliability(y_true: ArrayLike, y_prob: ArrayLike, n_bins: int = 15) -> dict[str, Any]:
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
    labels, probs = check_binary_inputs(y_true, y_prob)
    n_bins = check_positive_int(n_bins, "n_bins")
    predicted = (probs >= 0.5).astype(np.int64)
    confidence = np.where(predicted == 1, probs, 1.0 - probs)
    correct = (predicted == labels).astype(np.float64)

    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], confidence, side="left")  # right-closed bins
    count = np.bincount(bins, minlength=n_bins)
    mean_confidence = safe_ratio(np.bincount(bins, confidence, n_bins), count, np.nan)
    accuracy = safe_ratio(np.bincount(bins, correct, n_bins), count, np.nan)
    filled = count > 0
    ece = np.sum(count[filled] / labels.size * np.abs(accuracy[filled] - mean_confidence[filled]))
    return {
        "ece": float(ece),
        "n": int(labels.size),
        "n_bins": n_bins,
        "bin_edges": edges.tolist(),
        "confidence": finite_or_none(mean_confidence),
        "accuracy": finite_or_none(accuracy),
        "count": count.tolist(),
    }


# --------------------------------------------------------------------------- #
# Temperature scaling
# --------------------------------------------------------------------------- #
def _binary_nll(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean negative log-likelihood of ``sigmoid(logits)``, computed stably."""
    return float(np.mean(np.logaddexp(0.0, logits) - labels * logits))


def fit_temperature(logits: ArrayLike, y_true: ArrayLike, bounds: tuple[float, float] = (1e-2, 1e2)) -> float:
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
    labels, values = check_binary_inputs(y_true, logits, "logits")
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
            "fitted temperature %.4g is at the search bound %s; the logits may be perfectly separated or uninformative",
            temperature,
            bounds,
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
        isinstance(temperature, (int, float, np.integer, np.floating)) and 0.0 < float(temperature) < math.inf
    ):
        raise ValueError(f"temperature must be a positive finite number; got {temperature!r}.")
    return expit(values / float(temperature))


__all__ = ["reliability", "fit_temperature", "apply_temperature"]
