"""Figures of the results: confusion matrix, ROC/PR, reliability, robustness curves, CI bars,
confidence histograms."""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter
from numpy.typing import ArrayLike
from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay

from catsdogs.config import CLASS_NAMES
from catsdogs.plots.style import (
    BOUNDARY_COLOR,
    TRAIN_COLOR,
    as_float_array,
    as_mapping,
    check_same_length,
    figure,
    figure_and_axes,
    panel_grid,
    styled,
)


# --------------------------------------------------------------------------- #
# Evaluation
# --------------------------------------------------------------------------- #
@styled
def confusion_matrix_figure(
    cm: Sequence[Sequence[int]] | ArrayLike, class_names: Sequence[str] = CLASS_NAMES, *, ax: Axes | None = None
) -> Figure:
    """Confusion matrix with counts and row percentages (the recall of each true class).

    Parameters
    ----------
    cm : array-like of shape (k, k)
        Counts, rows = true class, columns = predicted class; for the binary case
        ``[[tn, fp], [fn, tp]]`` as in ``classification_metrics(...)["confusion_matrix"]``.
    class_names : sequence of str, default ("cat", "dog")
        Names of the ``k`` classes in label order.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on, e.g. a panel of a larger figure; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; cell colour is the row percentage. With ``ax``, the figure ``ax``
        belongs to (``ax.figure``).
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

    fig, ax = figure_and_axes(ax, 4.4, 3.8)
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


#: The ROC's false-positive-rate axis is drawn logarithmic by default from this AUC on.
LOG_FPR_MIN_AUC = 0.99
#: ... and when the curve has an operating point at or below this false positive rate.
LOG_FPR_MAX_FIRST_FPR = 0.01


def _curve_part(curves: Mapping[str, Any], key: str, fields: Sequence[str]) -> Mapping[str, Any]:
    """``curves[key]`` of :func:`~catsdogs.evaluation.metrics.roc_pr_curves`, or ``curves``
    itself when it is that entry already."""
    part = curves.get(key, curves) if isinstance(curves, Mapping) else None
    if not isinstance(part, Mapping) or any(field not in part for field in fields):
        raise ValueError(
            f"curves must be the dict returned by metrics.roc_pr_curves (or its {key!r} entry, "
            f"with keys {', '.join(map(repr, fields))})."
        )
    return part


def _curve_arrays(part: Mapping[str, Any], x: str, y: str) -> tuple[np.ndarray, np.ndarray]:
    """The two coordinates of a curve as float arrays (scikit-learn's displays read a
    list as several curves)."""
    xs, ys = np.asarray(part[x], dtype=float).ravel(), np.asarray(part[y], dtype=float).ravel()
    check_same_length(**{x: xs, y: ys})
    if xs.size == 0:
        raise ValueError(f"the curve is empty: {x!r} and {y!r} hold no points.")
    return xs, ys


@styled
def roc_curve_figure(curves: Mapping[str, Any], *, log_fpr: bool | None = None, ax: Axes | None = None) -> Figure:
    """ROC curve (false vs true positive rate, dog being the positive class), the AUC in
    the legend, drawn with scikit-learn's :class:`~sklearn.metrics.RocCurveDisplay`.

    Parameters
    ----------
    curves : dict
        The output of :func:`catsdogs.evaluation.metrics.roc_pr_curves`, or its
        ``"roc"`` entry (``fpr``, ``tpr``, ``auc``).
    log_fpr : bool, optional
        Draw the false positive rate on a logarithmic axis. By default (``None``)
        only when that is clearly more readable: the curve hugs the top-left corner
        (AUC >= :data:`LOG_FPR_MIN_AUC`, 0.99) and has an operating point at a false
        positive rate of at most :data:`LOG_FPR_MAX_FIRST_FPR` (1 %), so a linear
        axis would squeeze the whole curve into the corner. The log axis runs from
        the smallest nonzero false positive rate (about one false positive,
        1 / number of cats) to 1; the points at a false positive rate of 0 cannot
        be drawn on it. Otherwise the axes are linear, 0 to 1.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on, e.g. a panel of a larger figure; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One axes, with the chance diagonal dashed; with ``ax``, the figure ``ax``
        belongs to (``ax.figure``).
    """
    roc = _curve_part(curves, "roc", ("fpr", "tpr", "auc"))
    fpr, tpr = _curve_arrays(roc, "fpr", "tpr")
    auc = float(roc["auc"])
    nonzero_fpr = fpr[fpr > 0]
    if log_fpr is None:
        log_fpr = auc >= LOG_FPR_MIN_AUC and nonzero_fpr.size > 0 and nonzero_fpr.min() <= LOG_FPR_MAX_FIRST_FPR
    elif log_fpr and nonzero_fpr.size == 0:
        raise ValueError("log_fpr=True needs a nonzero false positive rate on the curve; pass log_fpr=False.")

    fig, ax = figure_and_axes(ax, 4.5, 4.0)
    display = RocCurveDisplay(fpr=fpr, tpr=tpr, roc_auc=auc)
    display.plot(ax=ax, **curve_style(display.plot, color=TRAIN_COLOR, label=f"model (AUC = {auc:.3f})"))
    # The chance diagonal is drawn here rather than by the display: on a log axis it
    # needs many points to follow y = x.
    lowest_fpr = float(nonzero_fpr.min()) if log_fpr else 0.0
    chance = np.geomspace(lowest_fpr, 1.0, 200) if log_fpr else np.array([0.0, 1.0])
    ax.plot(chance, chance, color="0.6", linestyle="--", linewidth=1, label="chance (AUC = 0.5)")
    ax.set_xlabel("false positive rate (cats called dog)" + (", log scale" if log_fpr else ""))
    ax.set_ylabel("true positive rate (dogs found)")
    ax.set_title("ROC curve")
    ax.set_ylim(-0.01, 1.01)
    if log_fpr:
        ax.set_xscale("log")
        ax.set_xlim(lowest_fpr, 1.0)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_aspect("auto")
        ax.set_box_aspect(1)
    else:
        ax.set_xlim(-0.01, 1.01)
        ax.set_aspect("equal")
    # On the log axis the chance curve rises through the lower right; let matplotlib
    # find the empty corner.
    ax.legend(loc="best" if log_fpr else "lower right")
    return fig


def curve_style(plot: Callable, **style: Any) -> dict[str, Any]:
    """The curve's matplotlib style as a scikit-learn display's ``plot`` takes it: as
    ``curve_kwargs`` from scikit-learn 1.7 on (where keyword arguments are deprecated), as
    keyword arguments before (Colab ships 1.6)."""
    return {"curve_kwargs": style} if "curve_kwargs" in inspect.signature(plot).parameters else style


@styled
def pr_curve_figure(curves: Mapping[str, Any], *, ax: Axes | None = None) -> Figure:
    """Precision-recall curve (dog being the positive class), the average precision in
    the legend, drawn with scikit-learn's :class:`~sklearn.metrics.PrecisionRecallDisplay`.

    Parameters
    ----------
    curves : dict
        The output of :func:`catsdogs.evaluation.metrics.roc_pr_curves`, or its
        ``"pr"`` entry (``precision``, ``recall``, ``auc`` and optionally
        ``prevalence``, the precision of chance, drawn dashed).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on, e.g. a panel of a larger figure; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; with ``ax``, the figure ``ax`` belongs to (``ax.figure``).
    """
    pr = _curve_part(curves, "pr", ("precision", "recall", "auc"))
    recall, precision = _curve_arrays(pr, "recall", "precision")
    average_precision = float(pr["auc"])
    prevalence = pr.get("prevalence")

    fig, ax = figure_and_axes(ax, 4.5, 4.0)
    chance: dict[str, Any] = {}
    if prevalence is not None:
        chance = {
            "plot_chance_level": True,
            "chance_level_kw": {
                "color": "0.6",
                "linestyle": "--",
                "linewidth": 1,
                "label": f"chance (AP = {prevalence:.3f})",
            },
        }
    display = PrecisionRecallDisplay(
        precision=precision,
        recall=recall,
        average_precision=average_precision,
        prevalence_pos_label=None if prevalence is None else float(prevalence),
    )
    display.plot(  # a step curve (sklearn's default), as average precision sums it
        ax=ax,
        **curve_style(display.plot, color=TRAIN_COLOR, label=f"model (AP = {average_precision:.3f})"),
        **chance,
    )
    ax.set_xlabel("recall (dogs found)")
    ax.set_ylabel("precision (predicted dogs that are dogs)")
    ax.set_title("Precision-recall curve")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.legend(loc="lower left")
    return fig


@styled
def roc_pr_figure(curves: Mapping[str, Mapping[str, Any]], *, log_fpr: bool | None = None) -> Figure:
    """ROC and precision-recall curves side by side, the area in the legend: the panels
    of :func:`roc_curve_figure` and :func:`pr_curve_figure`.

    Parameters
    ----------
    curves : dict
        The output of :func:`catsdogs.evaluation.metrics.roc_pr_curves`.
    log_fpr : bool, optional
        Logarithmic false-positive-rate axis for the ROC; by default only when the
        curve hugs the corner (AUC >= 0.99), see :func:`roc_curve_figure`.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: ROC (false vs true positive rate) and PR (recall vs precision),
        dog being the positive class.
    """
    if not isinstance(curves, Mapping) or "roc" not in curves or "pr" not in curves:
        raise ValueError("curves must be the dict returned by metrics.roc_pr_curves (keys 'roc', 'pr').")

    fig = figure(9.0, 4.0)
    roc_ax, pr_ax = panel_grid(fig, 2, 2)
    roc_curve_figure(curves, log_fpr=log_fpr, ax=roc_ax)
    pr_curve_figure(curves, ax=pr_ax)
    return fig


@styled
def reliability_diagram(calibs: Mapping[str, Mapping[str, Any]]) -> Figure:
    """Reliability diagram of one or more models, ECE in the legend.

    Parameters
    ----------
    calibs : mapping of str to dict
        Label to the output of :func:`catsdogs.evaluation.calibration.reliability`, e.g.
        ``{"before scaling": c1, "after scaling (T=1.8)": c2}``.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: accuracy vs mean confidence per non-empty bin (the diagonal is
        perfect calibration) and, below, the number of examples per bin.
    """
    if not calibs:
        raise ValueError("calibs is empty; pass {'label': calibration.reliability(y_true, y_prob)}.")

    fig = Figure(figsize=(5.0, 5.4), layout="constrained")
    diagram, histogram = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    lowest_edge = 1.0
    for i, (label, calib) in enumerate(calibs.items()):
        color, calib = f"C{i}", as_mapping(calib)
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
    results_by_model = {m: {c: as_mapping(v) for c, v in r.items()} for m, r in results_by_model.items()}
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
def metric_intervals(
    labels: Sequence[str],
    estimates: Sequence[float | None],
    lows: Sequence[float | None],
    highs: Sequence[float | None],
    references: Sequence[float | None] | None = None,
    reference_label: str = "paper",
    title: str = "",
    xlabel: str = "",
    *,
    ax: Axes | None = None,
) -> Figure:
    """Dot-and-whisker: each metric's estimate and confidence interval on one zoomed axis,
    with a reference value per metric (e.g. the paper's) marked beside it.

    Parameters
    ----------
    labels : sequence of str
        One label per metric, drawn top to bottom.
    estimates, lows, highs : sequence of float or None
        Point estimate and interval bounds per metric (``None``: not drawn);
        each ``low <= estimate <= high``.
    references : sequence of float or None, optional
        A reference value per metric (``None``: none for that one), drawn as a hollow diamond.
    reference_label : str, default "paper"
        Legend text of the references.
    title, xlabel : str
        Axes title and x-axis label (with units).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on, e.g. a panel of a larger figure; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One axes, zoomed to the intervals and references; with ``ax``, the figure ``ax``
        belongs to (``ax.figure``).
    """
    references = list(references) if references is not None else [None] * len(labels)
    check_same_length(labels=labels, estimates=estimates, lows=lows, highs=highs, references=references)
    if len(labels) == 0:
        raise ValueError("nothing to plot; pass at least one label.")
    est, low, high, ref = (as_float_array(v) for v in (estimates, lows, highs, references))
    with np.errstate(invalid="ignore"):
        if ((low > est) | (est > high)).any():
            raise ValueError("each interval must satisfy low <= estimate <= high.")
    errors = np.nan_to_num(np.vstack([est - low, high - est]), nan=0.0)

    fig, ax = figure_and_axes(ax, 6.4, 0.45 * len(labels) + 1.3)
    y = np.arange(len(labels))[::-1]
    ax.errorbar(est, y, xerr=errors, fmt="o", color="#3A7DC9", capsize=4, markersize=6, label="this run, 95 % CI")
    for yi, e, h in zip(y, est, high):
        if not np.isnan(e):
            ax.annotate(f"{e:.4f}", (h, yi), xytext=(6, 0), textcoords="offset points", va="center", fontsize=8)
    if not np.isnan(ref).all():
        ax.plot(ref, y, "D", markerfacecolor="none", markeredgecolor="#C0392B", markersize=7, label=reference_label)
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.6, len(labels) - 0.4)
    ax.margins(x=0.15)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="y", visible=False)
    ax.legend(loc="lower left", bbox_to_anchor=(1.01, 0.0))
    return fig


@styled
def forest_plot(
    rows: Sequence[Mapping[str, Any]],
    reference: float | None = None,
    reference_label: str = "",
    xlabel: str = "validation accuracy",
    *,
    legend: bool = True,
    ax: Axes | None = None,
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
    xlabel : str, default "validation accuracy"
        The metric, labelled on the x axis with " (%), 95 % CI" appended.
    legend : bool, default True
        The groups' legend, outside on the right; off when the row labels already say it all
        (the reference line is then labelled on the plot).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on, e.g. a panel of a larger figure; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One axes, the legend below it; with ``ax``, the figure ``ax``
        belongs to (``ax.figure``).
    """
    if not rows:
        raise ValueError("nothing to plot; pass at least one row.")
    groups = list(dict.fromkeys(r["group"] for r in rows))
    colours = dict(zip(groups, ("#3A7DC9", "#E07B39", "0.35", "#5BA05B", "#9467BD")))
    fig, ax = figure_and_axes(ax, 7.0, 0.32 * len(rows) + 1.4)
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
    if legend:
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles))
        ax.legend(unique.values(), unique.keys(), loc="upper center", bbox_to_anchor=(0.5, -0.08))
    elif reference is not None:
        ax.annotate(
            reference_label,
            (100 * reference, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -3),
            textcoords="offset points",
            va="top",
            fontsize="small",
        )
    ax.set_yticks(y, [r["label"] for r in rows])
    ax.set_xlabel(f"{xlabel} (%), 95 % CI")
    ax.grid(axis="y", visible=False)
    return fig


@styled
def confidence_histograms(
    confidences: Mapping[str, Sequence[float]], threshold: float | None = None, *, ax: Axes | None = None
) -> Figure:
    """Histograms of the predicted-class confidence (0.5-1) per input kind, e.g. real
    validation images versus out-of-distribution inputs, with an optional threshold line.

    Parameters
    ----------
    confidences : mapping of str to sequence of float
        Input kind to the confidence of the predicted class of each input, in
        ``[0.5, 1]``; one step histogram (a density) per kind.
    threshold : float, optional
        A confidence threshold, drawn as a dashed vertical line.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on, e.g. a panel of a larger figure; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; with ``ax``, the figure ``ax`` belongs to (``ax.figure``).
    """
    if not confidences:
        raise ValueError("confidences is empty: pass {label: [confidence, ...]}")
    fig, ax = figure_and_axes(ax, 8.0, 3.8)
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
    "roc_curve_figure",
    "pr_curve_figure",
    "roc_pr_figure",
    "reliability_diagram",
    "metric_vs_severity",
    "metric_vs_severity_compare",
    "metric_intervals",
    "confidence_histograms",
    "forest_plot",
]
