"""Figures of the results: confusion matrix, ROC/PR, reliability, robustness curves, CI bars,
confidence histograms."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from catsdogs.config import CLASS_NAMES
from catsdogs.plots.style import (
    BOUNDARY_COLOR,
    TRAIN_COLOR,
    as_float_array,
    check_same_length,
    figure,
    panel_grid,
    styled,
)


# --------------------------------------------------------------------------- #
# Evaluation
# --------------------------------------------------------------------------- #
@styled
def confusion_matrix_figure(
    cm: Sequence[Sequence[int]] | ArrayLike, class_names: Sequence[str] = CLASS_NAMES
) -> Figure:
    """Confusion matrix with counts and row percentages (the recall of each true class).

    Parameters
    ----------
    cm : array-like of shape (k, k)
        Counts, rows = true class, columns = predicted class; for the binary case
        ``[[tn, fp], [fn, tp]]`` as in ``classification_metrics(...)["confusion_matrix"]``.
    class_names : sequence of str, default ("cat", "dog")
        Names of the ``k`` classes in label order.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; cell colour is the row percentage.
    """
    counts = np.asarray(cm)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] != len(class_names):
        raise ValueError(
            f"cm must be a square {len(class_names)}x{len(class_names)} matrix matching "
            f"class_names {tuple(class_names)}; got shape {counts.shape}."
        )
    if (counts < 0).any():
        raise ValueError("cm must hold non-negative counts.")
    row_totals = counts.sum(axis=1, keepdims=True)
    row_percent = np.divide(100.0 * counts, row_totals, out=np.zeros(counts.shape), where=row_totals > 0)

    fig = figure(4.4, 3.8)
    ax = fig.add_subplot()
    ax.imshow(row_percent, vmin=0, vmax=100, cmap="Blues")
    for (i, j), count in np.ndenumerate(counts):
        color = "white" if row_percent[i, j] > 60 else "black"
        ax.text(j, i, f"{int(count):,}\n({row_percent[i, j]:.1f}%)", ha="center", va="center", color=color, fontsize=11)
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, class_names)
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("Confusion matrix (count, % of true class)")
    ax.grid(False)
    ax.spines[:].set_visible(False)
    return fig


@styled
def roc_pr_figure(curves: Mapping[str, Mapping[str, Any]]) -> Figure:
    """ROC and precision-recall curves side by side, the area in the legend.

    Parameters
    ----------
    curves : dict
        The output of :func:`catsdogs.evaluation.metrics.roc_pr_curves`.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: ROC (false vs true positive rate) and PR (recall vs precision),
        dog being the positive class.
    """
    if "roc" not in curves or "pr" not in curves:
        raise ValueError("curves must be the dict returned by metrics.roc_pr_curves (keys 'roc', 'pr').")
    roc, pr = curves["roc"], curves["pr"]

    fig = figure(9.0, 4.0)
    roc_ax, pr_ax = panel_grid(fig, 2, 2)
    roc_ax.plot(roc["fpr"], roc["tpr"], color=TRAIN_COLOR, label=f"model (AUC = {roc['auc']:.3f})")
    roc_ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="chance (AUC = 0.5)")
    roc_ax.set_xlabel("false positive rate (cats called dog)")
    roc_ax.set_ylabel("true positive rate (dogs found)")
    roc_ax.set_title("ROC curve")

    pr_ax.plot(
        pr["recall"], pr["precision"], color=TRAIN_COLOR, drawstyle="steps-post", label=f"model (AP = {pr['auc']:.3f})"
    )
    if pr.get("prevalence") is not None:
        pr_ax.axhline(
            pr["prevalence"], color="0.6", linestyle="--", linewidth=1, label=f"chance (AP = {pr['prevalence']:.3f})"
        )
    pr_ax.set_xlabel("recall (dogs found)")
    pr_ax.set_ylabel("precision (predicted dogs that are dogs)")
    pr_ax.set_title("Precision-recall curve")

    for ax in (roc_ax, pr_ax):
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.01)
        ax.set_aspect("equal")
        ax.legend(loc="lower left" if ax is pr_ax else "lower right")
    return fig


@styled
def reliability_diagram(calibs: Mapping[str, Mapping[str, Any]]) -> Figure:
    """Reliability diagram of one or more models, ECE in the legend.

    Parameters
    ----------
    calibs : mapping of str to dict
        Label to the output of :func:`catsdogs.evaluation.metrics.calibration`, e.g.
        ``{"before scaling": c1, "after scaling (T=1.8)": c2}``.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: accuracy vs mean confidence per non-empty bin (the diagonal is
        perfect calibration) and, below, the number of examples per bin.
    """
    if not calibs:
        raise ValueError("calibs is empty; pass {'label': metrics.calibration(y_true, y_prob)}.")

    fig = Figure(figsize=(5.0, 5.4), layout="constrained")
    diagram, histogram = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    lowest_edge = 1.0
    for i, (label, calib) in enumerate(calibs.items()):
        color = f"C{i}"
        confidence = as_float_array(calib["confidence"])
        accuracy = as_float_array(calib["accuracy"])
        filled = np.isfinite(confidence)
        edges = np.asarray(calib["bin_edges"], dtype=float)
        if filled.any():
            lowest_edge = min(lowest_edge, edges[:-1][filled].min())
        diagram.plot(
            confidence[filled], accuracy[filled], marker="o", color=color, label=f"{label} (ECE = {calib['ece']:.3f})"
        )
        histogram.stairs(calib["count"], edges, color=color, linewidth=1.5)
    diagram.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="perfect calibration")
    diagram.set_ylabel("accuracy")
    diagram.set_title("Reliability diagram (predicted-class confidence)")
    diagram.legend(loc="upper left")
    histogram.set_xlabel("confidence of the predicted class")
    histogram.set_ylabel("examples")
    histogram.set_xlim(lowest_edge, 1.0)
    diagram.set_ylim(0.0, 1.01)
    return fig


# --------------------------------------------------------------------------- #
# Robustness
# --------------------------------------------------------------------------- #
def _check_curve(corruption: str, curve: Mapping[str, Sequence[Any]], metric: str) -> None:
    if "severity" not in curve or metric not in curve:
        raise ValueError(f"results[{corruption!r}] needs 'severity' and {metric!r} lists; got keys {sorted(curve)}.")
    series = {k: curve[k] for k in ("severity", metric, f"{metric}_low", f"{metric}_high") if k in curve}
    check_same_length(**series)


@styled
def metric_vs_severity_compare(
    results_by_model: Mapping[str, Mapping[str, Mapping[str, Sequence[Any]]]],
    metric: str = "accuracy",
    ncols: int = 3,
) -> Figure:
    """A metric against corruption severity, one panel per corruption, one line per model.

    Parameters
    ----------
    results_by_model : mapping
        ``{model_label: {corruption: curve}}`` where each curve is
        ``{"severity": [...], metric: [...], metric + "_low": [...], metric + "_high": [...]}``
        (the ``_low``/``_high`` CI bounds are optional and drawn as a band).
        Corruptions are panels in order of first appearance; a model lacking a
        corruption is simply absent from that panel.
    metric : str, default "accuracy"
        The key to plot.
    ncols : int, default 3
        Panels per row.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per corruption, sharing the y axis.
    """
    if not results_by_model or not any(results_by_model.values()):
        raise ValueError("no results to plot; pass {model: {corruption: {'severity': [...], ...}}}.")
    corruptions: list[str] = []
    for results in results_by_model.values():
        for corruption, curve in results.items():
            _check_curve(corruption, curve, metric)
            if corruption not in corruptions:
                corruptions.append(corruption)

    ncols = max(1, min(ncols, len(corruptions)))
    nrows = math.ceil(len(corruptions) / ncols)
    fig = figure(3.6 * ncols, 3.0 * nrows + 0.3)
    axes = panel_grid(fig, len(corruptions), ncols, sharey=True)
    show_legend, banded = len(results_by_model) > 1, False
    for ax, corruption in zip(axes, corruptions):
        for i, (model, results) in enumerate(results_by_model.items()):
            if corruption not in results:
                continue
            curve = results[corruption]
            severity = as_float_array(curve["severity"])
            ax.plot(severity, as_float_array(curve[metric]), marker="o", color=f"C{i}", label=model)
            if f"{metric}_low" in curve and f"{metric}_high" in curve:
                banded = True
                ax.fill_between(
                    severity,
                    as_float_array(curve[f"{metric}_low"]),
                    as_float_array(curve[f"{metric}_high"]),
                    color=f"C{i}",
                    alpha=0.2,
                    linewidth=0,
                )
        ax.set_title(corruption)
        ax.set_xlabel("severity")
        ax.set_ylabel(metric.replace("_", " "))
        if show_legend:
            ax.legend(loc="lower left")
    fig.suptitle(
        f"{metric.replace('_', ' ').capitalize()} under corruption" + (" (band: CI)" if banded else ""),
        fontweight="bold",
    )
    return fig


def metric_vs_severity(
    results: Mapping[str, Mapping[str, Sequence[Any]]],
    metric: str = "accuracy",
    ncols: int = 3,
) -> Figure:
    """A metric against corruption severity for one model, one panel per corruption.

    ``results[corruption] = {"severity": [...], metric: [...], metric + "_low": [...],
    metric + "_high": [...]}``. To compare several models on the same panels use
    :func:`metric_vs_severity_compare` (``{model_label: results}``).

    Returns
    -------
    matplotlib.figure.Figure
        One axes per corruption, sharing the y axis.
    """
    return metric_vs_severity_compare({"model": results}, metric=metric, ncols=ncols)


# --------------------------------------------------------------------------- #
# Generic
# --------------------------------------------------------------------------- #
@styled
def bar_with_ci(
    labels: Sequence[str],
    estimates: Sequence[float | None],
    lows: Sequence[float | None],
    highs: Sequence[float | None],
    title: str = "",
    ylabel: str = "",
) -> Figure:
    """Bars with confidence-interval error bars, e.g. metrics from ``bootstrap_ci``.

    Parameters
    ----------
    labels : sequence of str
        One label per bar.
    estimates, lows, highs : sequence of float or None
        Point estimate and interval bounds per bar (``None``: not drawn);
        each ``low <= estimate <= high``.
    title, ylabel : str
        Axes title and y-axis label (with units).

    Returns
    -------
    matplotlib.figure.Figure
        One axes.
    """
    check_same_length(labels=labels, estimates=estimates, lows=lows, highs=highs)
    if len(labels) == 0:
        raise ValueError("nothing to plot; pass at least one label.")
    est, low, high = (as_float_array(v) for v in (estimates, lows, highs))
    with np.errstate(invalid="ignore"):
        if ((low > est) | (est > high)).any():
            raise ValueError("each interval must satisfy low <= estimate <= high.")
    errors = np.nan_to_num(np.vstack([est - low, high - est]), nan=0.0)

    fig = figure(max(4.0, 0.9 * len(labels) + 1.5), 3.6)
    ax = fig.add_subplot()
    x = np.arange(len(labels))
    bars = ax.bar(x, est, 0.6, color="#5B8DB8", yerr=errors, capsize=4, error_kw={"elinewidth": 1.2, "ecolor": "0.2"})
    ax.bar_label(
        bars, labels=["" if np.isnan(v) else f"{v:.3f}" for v in est], label_type="center", color="white", fontsize=9
    )
    ax.set_xticks(x, labels)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="x", visible=False)
    return fig


@styled
def forest_plot(
    rows: Sequence[Mapping[str, Any]],
    reference: float | None = None,
    reference_label: str = "",
    xlabel: str = "validation accuracy",
) -> Figure:
    """Intervals one above the other: each row's estimate and 95 % CI, grouped by colour,
    with a vertical reference line (e.g. the paper's figure).

    Parameters
    ----------
    rows : sequence of mappings
        Top to bottom; each with ``label``, ``estimate``, ``low``, ``high`` (fractions)
        and ``group`` (rows of a group share a colour); ``pooled=True`` draws a diamond.
    reference, reference_label : float or None, str
        Where to draw the reference line, and its legend text.
    """
    if not rows:
        raise ValueError("nothing to plot; pass at least one row.")
    groups = list(dict.fromkeys(r["group"] for r in rows))
    colours = dict(zip(groups, ("#3A7DC9", "#E07B39", "0.35", "#5BA05B", "#9467BD")))
    fig = figure(7.0, 0.32 * len(rows) + 1.4)
    ax = fig.add_subplot()
    y = np.arange(len(rows))[::-1]
    for yi, r in zip(y, rows):
        est, low, high = (100 * r[k] for k in ("estimate", "low", "high"))
        ax.errorbar(
            est,
            yi,
            xerr=[[est - low], [high - est]],
            fmt="D" if r.get("pooled") else "o",
            color=colours[r["group"]],
            markersize=7 if r.get("pooled") else 4,
            capsize=3,
            label=r["group"],
        )
    if reference is not None:
        ax.axvline(100 * reference, color=BOUNDARY_COLOR, linestyle="--", linewidth=1.2, label=reference_label)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), loc="lower left", bbox_to_anchor=(1.01, 0.0))
    ax.set_yticks(y, [r["label"] for r in rows])
    ax.set_xlabel(f"{xlabel} (%), 95 % CI")
    ax.grid(axis="y", visible=False)
    return fig


@styled
def confidence_histograms(confidences: Mapping[str, Sequence[float]], threshold: float | None = None) -> Figure:
    """Histograms of the predicted-class confidence (0.5-1) per input kind, e.g. real
    validation images versus out-of-distribution inputs, with an optional threshold line."""
    if not confidences:
        raise ValueError("confidences is empty: pass {label: [confidence, ...]}")
    fig = figure(8.0, 3.8)
    ax = fig.add_subplot(1, 1, 1)
    bins = np.linspace(0.5, 1.0, 26)
    for label, conf in confidences.items():
        ax.hist(np.asarray(conf, dtype=float), bins=bins, histtype="step", linewidth=1.8, density=True, label=label)
    if threshold is not None:
        ax.axvline(threshold, color=BOUNDARY_COLOR, linestyle="--", label=f"threshold {threshold:.3f}")
    ax.set_xlabel("confidence of the predicted class")
    ax.set_ylabel("density")
    ax.set_title("How sure the model is, by kind of input")
    ax.legend(loc="upper left", fontsize="small")
    return fig


__all__ = [
    "confusion_matrix_figure",
    "roc_pr_figure",
    "reliability_diagram",
    "metric_vs_severity",
    "metric_vs_severity_compare",
    "bar_with_ci",
    "confidence_histograms",
    "forest_plot",
]
