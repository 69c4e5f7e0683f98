"""Tests of catsdogs.evaluation.metrics: hand-computed cases, agreement with scikit-learn, validation."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from scipy.special import expit
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    f1_score,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from catsdogs.evaluation import bootstrap
from catsdogs.evaluation.bootstrap import bootstrap_ci
from catsdogs.evaluation.calibration import apply_temperature, fit_temperature, reliability
from catsdogs.evaluation.metrics import (
    classification_metrics,
    most_confident_mistakes,
    predict_labels,
    roc_pr_curves,
)

# Ten examples: 4 cats then 6 dogs. At threshold 0.5 the predictions are
# [0, 0, 1, 1, 1, 1, 1, 0, 0, 1]: tn = 2, fp = 2, fn = 2, tp = 4.
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
Y_PROB = np.array([0.1, 0.4, 0.6, 0.8, 0.9, 0.7, 0.55, 0.3, 0.2, 0.95])


def synthetic(n: int, seed: int = 0, sharpness: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from true probabilities; ``sharpness > 1`` makes the reported ones overconfident."""
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(0.0, 2.0, n)
    labels = (rng.random(n) < expit(true_logits)).astype(int)
    return labels, expit(sharpness * true_logits)


# --------------------------------------------------------------------------- #
# classification_metrics
# --------------------------------------------------------------------------- #
def test_hand_computed_example() -> None:
    m = classification_metrics(Y_TRUE, Y_PROB)
    assert m["n"] == 10
    assert m["threshold"] == 0.5
    assert m["confusion_matrix"] == [[2, 2], [2, 4]]
    assert m["accuracy"] == pytest.approx(6 / 10)
    assert m["precision"] == pytest.approx(4 / 6)
    assert m["recall"] == pytest.approx(4 / 6)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["per_class"]["cat"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 4})
    assert m["per_class"]["dog"]["support"] == 6
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    # 15 of the 24 (dog, cat) pairs rank the dog higher.
    assert m["roc_auc"] == pytest.approx(15 / 24)
    # Precision at each dog, ranked by score: 1, 1, 3/4, 4/6, 5/8, 6/9.
    assert m["pr_auc"] == pytest.approx((1 + 1 + 3 / 4 + 4 / 6 + 5 / 8 + 6 / 9) / 6)


def test_threshold_is_inclusive() -> None:
    # At 0.6 the cat scored exactly 0.6 counts as predicted dog.
    m = classification_metrics(Y_TRUE, Y_PROB, threshold=0.6)
    assert m["confusion_matrix"] == [[2, 2], [3, 3]]
    assert m["threshold"] == 0.6
    np.testing.assert_array_equal(predict_labels([0.59, 0.6, 0.61], 0.6), [0, 1, 1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_scikit_learn_on_random_inputs(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 300)
    p = rng.random(300)
    pred = (p >= 0.5).astype(int)
    m = classification_metrics(y, p)
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert m["precision"] == pytest.approx(precision_score(y, pred))
    assert m["recall"] == pytest.approx(recall_score(y, pred))
    assert m["f1"] == pytest.approx(f1_score(y, pred))
    assert m["per_class"]["cat"]["f1"] == pytest.approx(f1_score(y, pred, pos_label=0))
    assert m["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro"))
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert m["pr_auc"] == pytest.approx(average_precision_score(y, p))
    assert m["confusion_matrix"] == confusion_matrix(y, pred).tolist()


def test_result_is_plain_json() -> None:
    m = classification_metrics(Y_TRUE.tolist(), Y_PROB.tolist())
    assert json.loads(json.dumps(m, allow_nan=False)) == m
    assert all(isinstance(v, int) for row in m["confusion_matrix"] for v in row)


def test_single_class_gives_none_aucs_not_a_crash() -> None:
    m = classification_metrics([1, 1, 1], [0.9, 0.2, 0.7])
    assert m["roc_auc"] is None and m["pr_auc"] is None
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["per_class"]["cat"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_accepts_a_keras_column_of_probabilities() -> None:
    assert classification_metrics(Y_TRUE, Y_PROB[:, None]) == classification_metrics(Y_TRUE, Y_PROB)


def test_accepts_boolean_labels() -> None:
    m = classification_metrics(Y_TRUE.astype(bool), Y_PROB)
    assert m["confusion_matrix"] == [[2, 2], [2, 4]]


@pytest.mark.parametrize(
    ("y_true", "y_prob", "message"),
    [
        ([0, 1, 1], [0.2, 0.8], r"inconsistent numbers of samples: \[3, 2\]"),
        ([0, 1, 2], [0.2, 0.8, 0.5], r"only 0 \(cat\) and 1 \(dog\); found 2"),
        (["cat", "dog"], [0.2, 0.8], r"only 0 \(cat\) and 1 \(dog\).*CLASS_NAMES"),
        ([0, 1], [0.2, 1.2], r"probabilities of 'dog' in \[0, 1\].*logits"),
        ([0, 1], [-0.1, 0.5], r"in \[0, 1\]"),
        ([0, 1], [0.2, np.nan], r"y_prob contains NaN"),
        ([[0, 1]], [0.2, 0.8], r"should be a 1d array"),
        ([], [], r"y_true is empty"),
    ],
)
def test_invalid_inputs_say_what_to_fix(y_true, y_prob, message) -> None:
    with pytest.raises(ValueError, match=message):
        classification_metrics(y_true, y_prob)


@pytest.mark.parametrize("threshold", [-0.1, 1.5, "0.5", None])
def test_invalid_threshold(threshold) -> None:
    with pytest.raises(ValueError, match=r"threshold must be a number in \[0, 1\]"):
        classification_metrics(Y_TRUE, Y_PROB, threshold=threshold)


# --------------------------------------------------------------------------- #
# bootstrap_ci
# --------------------------------------------------------------------------- #
def test_bootstrap_contains_estimate_and_matches_point_metrics() -> None:
    y, p = synthetic(2000, seed=3)
    ci = bootstrap_ci(y, p, n_samples=300, seed=0)
    point = classification_metrics(y, p)
    assert tuple(ci) == bootstrap.DEFAULT_INTERVALS == ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc")
    for name, interval in ci.items():
        assert set(interval) == {"estimate", "low", "high"}
        assert interval["estimate"] == pytest.approx(point[name])
        assert interval["low"] <= interval["estimate"] <= interval["high"]
        assert interval["low"] < interval["high"]
    json.dumps(ci, allow_nan=False)


def test_bootstrap_narrows_with_more_data() -> None:
    small = bootstrap_ci(*synthetic(200, seed=1), n_samples=300, metric_names=["accuracy", "roc_auc"])
    large = bootstrap_ci(*synthetic(5000, seed=1), n_samples=300, metric_names=["accuracy", "roc_auc"])
    for name in ("accuracy", "roc_auc"):
        width_small = small[name]["high"] - small[name]["low"]
        width_large = large[name]["high"] - large[name]["low"]
        assert width_large < width_small / 3  # ~ sqrt(5000 / 200) = 5 times narrower


def test_bootstrap_accuracy_width_matches_normal_approximation() -> None:
    y, p = synthetic(4000, seed=5)
    ci = bootstrap_ci(y, p, n_samples=1000, metric_names=["accuracy"])["accuracy"]
    acc = ci["estimate"]
    expected = 2 * 1.96 * np.sqrt(acc * (1 - acc) / y.size)
    assert ci["high"] - ci["low"] == pytest.approx(expected, rel=0.15)


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    y, p = synthetic(500, seed=2)
    first = bootstrap_ci(y, p, n_samples=200, seed=7)
    assert bootstrap_ci(y, p, n_samples=200, seed=7) == first
    assert bootstrap_ci(y, p, n_samples=200, seed=8) != first


def test_vectorised_resample_metrics_match_scikit_learn() -> None:
    """The bootstrap's weighted formulas equal scikit-learn with the resample counts as weights."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    p = np.round(np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1), 2)  # rounding makes ties
    weights = bootstrap._resample_counts(rng, y.size, 5)
    assert (weights.sum(axis=1) == y.size).all()
    values = bootstrap._weighted_metrics(weights, y, p, 0.5, bootstrap.BOOTSTRAP_METRICS)
    pred = (p >= 0.5).astype(int)
    for i, w in enumerate(weights):
        assert values["accuracy"][i] == pytest.approx(accuracy_score(y, pred, sample_weight=w))
        assert values["precision"][i] == pytest.approx(precision_score(y, pred, sample_weight=w))
        assert values["recall"][i] == pytest.approx(recall_score(y, pred, sample_weight=w))
        assert values["f1"][i] == pytest.approx(f1_score(y, pred, sample_weight=w))
        assert values["macro_f1"][i] == pytest.approx(f1_score(y, pred, sample_weight=w, average="macro"))
        assert values["roc_auc"][i] == pytest.approx(roc_auc_score(y, p, sample_weight=w))
        assert values["pr_auc"][i] == pytest.approx(average_precision_score(y, p, sample_weight=w))


def test_bootstrap_tolerates_single_class_resamples() -> None:
    # With 5 examples, some resamples hold one class only: their AUCs are left out.
    ci = bootstrap_ci([0, 1, 1, 1, 1], [0.2, 0.9, 0.4, 0.6, 0.7], n_samples=200)
    assert ci["roc_auc"]["low"] is not None and 0.0 <= ci["roc_auc"]["low"] <= 1.0
    only_dogs = bootstrap_ci([1, 1, 1], [0.2, 0.9, 0.6], n_samples=50)
    assert only_dogs["roc_auc"] == {"estimate": None, "low": None, "high": None}
    assert only_dogs["accuracy"]["estimate"] == pytest.approx(2 / 3)


def test_bootstrap_is_fast_enough() -> None:
    y, p = synthetic(5000, seed=0)
    start = time.perf_counter()
    bootstrap_ci(y, p, n_samples=1000)
    assert time.perf_counter() - start < 5.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"metric_names": ["accuracy", "auc"]}, r"unknown or missing metric.*roc_auc"),
        ({"n_samples": 0}, r"n_samples must be an integer >= 1"),
        ({"confidence": 95}, r"confidence must be in \(0, 1\)"),
    ],
)
def test_bootstrap_rejects_bad_options(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        bootstrap_ci(Y_TRUE, Y_PROB, **kwargs)


# --------------------------------------------------------------------------- #
# roc_pr_curves
# --------------------------------------------------------------------------- #
def test_curves_match_scikit_learn_and_are_strict_json() -> None:
    y, p = synthetic(300, seed=4)
    curves = roc_pr_curves(y, p)
    fpr, tpr, _ = roc_curve(y, p)
    precision, recall, thresholds = precision_recall_curve(y, p)
    np.testing.assert_allclose(curves["roc"]["fpr"], fpr)
    np.testing.assert_allclose(curves["roc"]["tpr"], tpr)
    np.testing.assert_allclose(curves["pr"]["precision"], precision)
    np.testing.assert_allclose(curves["pr"]["recall"], recall)
    np.testing.assert_allclose(curves["pr"]["thresholds"], thresholds)
    m = classification_metrics(y, p)
    assert curves["roc"]["auc"] == pytest.approx(m["roc_auc"])
    assert curves["pr"]["auc"] == pytest.approx(m["pr_auc"])
    assert curves["pr"]["prevalence"] == pytest.approx(y.mean())
    assert curves["roc"]["thresholds"][0] is None  # scikit-learn's +inf
    json.dumps(curves, allow_nan=False)


def test_curves_need_both_classes() -> None:
    with pytest.raises(ValueError, match="need both cats"):
        roc_pr_curves([0, 0], [0.1, 0.7])


# --------------------------------------------------------------------------- #
# calibration
# --------------------------------------------------------------------------- #
def test_calibration_hand_computed() -> None:
    # Predictions: dog, dog, cat, dog; confidences 0.9, 0.7, 0.7, 0.9; the last is wrong.
    calib = reliability([1, 1, 0, 0], [0.9, 0.7, 0.3, 0.9], n_bins=5)
    assert calib["count"] == [0, 0, 0, 2, 2]
    assert calib["confidence"][3:] == pytest.approx([0.7, 0.9])
    assert calib["accuracy"][3:] == pytest.approx([1.0, 0.5])
    assert calib["confidence"][:3] == [None, None, None]
    assert calib["ece"] == pytest.approx(0.5 * 0.3 + 0.5 * 0.4)
    assert calib["bin_edges"] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    json.dumps(calib, allow_nan=False)


def test_calibrated_data_has_small_ece_and_overconfident_large() -> None:
    calibrated = reliability(*synthetic(20000, seed=0))
    overconfident = reliability(*synthetic(20000, seed=0, sharpness=3.0))
    assert calibrated["ece"] < 0.02
    assert overconfident["ece"] > 0.08
    assert sum(calibrated["count"]) == calibrated["n"] == 20000


def test_calibration_rejects_bad_bins() -> None:
    with pytest.raises(ValueError, match="n_bins must be an integer >= 1"):
        reliability(Y_TRUE, Y_PROB, n_bins=0)


# --------------------------------------------------------------------------- #
# temperature scaling
# --------------------------------------------------------------------------- #
def _logits(n: int, seed: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(0.0, 2.0, n)
    labels = (rng.random(n) < expit(true_logits)).astype(int)
    return scale * true_logits, labels


def test_temperature_above_one_for_overconfident_logits() -> None:
    logits, y = _logits(20000, seed=0, scale=3.0)
    temperature = fit_temperature(logits, y)
    assert temperature > 1.0
    assert temperature == pytest.approx(3.0, rel=0.1)
    before = reliability(y, apply_temperature(logits, 1.0))["ece"]
    after = reliability(y, apply_temperature(logits, temperature))["ece"]
    assert after < before / 3


def test_temperature_near_one_when_calibrated_and_below_one_when_underconfident() -> None:
    assert fit_temperature(*_logits(20000, seed=1, scale=1.0)) == pytest.approx(1.0, abs=0.1)
    assert fit_temperature(*_logits(20000, seed=1, scale=0.5)) < 1.0


def test_apply_temperature() -> None:
    logits = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(apply_temperature(logits, 1.0), expit(logits))
    np.testing.assert_allclose(apply_temperature(logits, 2.0), expit(logits / 2))
    assert apply_temperature(np.array([[1e4]]), 1.0).shape == (1, 1)  # no overflow
    for bad in (0.0, -1.0, np.inf, "2"):
        with pytest.raises(ValueError, match="temperature must be a positive finite number"):
            apply_temperature(logits, bad)


def test_fit_temperature_validates_inputs() -> None:
    with pytest.raises(ValueError, match=r"inconsistent numbers of samples: \[3, 2\]"):
        fit_temperature([0.1, 0.2], [0, 1, 1])
    with pytest.raises(ValueError, match="bounds must be 0 < low < high"):
        fit_temperature([0.1, 0.2], [0, 1], bounds=(0.0, 10.0))


# --------------------------------------------------------------------------- #
# most_confident_mistakes
# --------------------------------------------------------------------------- #
def test_most_confident_mistakes_hand_computed() -> None:
    # Mistakes: 2 (cat, p=0.6), 3 (cat, 0.8), 7 (dog, 0.3), 8 (dog, 0.2); probability
    # of the true class 0.4, 0.2, 0.3, 0.2 -> most confident first, ties in input order.
    np.testing.assert_array_equal(most_confident_mistakes(Y_TRUE, Y_PROB), [3, 8, 7, 2])
    np.testing.assert_array_equal(most_confident_mistakes(Y_TRUE, Y_PROB, k=2), [3, 8])
    assert most_confident_mistakes(Y_TRUE, Y_PROB, k=0).size == 0
    assert most_confident_mistakes([0, 1], [0.1, 0.9]).size == 0
    with pytest.raises(ValueError, match="k must be an integer >= 0"):
        most_confident_mistakes(Y_TRUE, Y_PROB, k=-1)
