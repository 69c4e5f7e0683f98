"""Every figure the notebooks show, as functions returning a matplotlib Figure.

The functions only draw: numbers come from :mod:`catsdogs.metrics` (or the
data/training modules) and are passed in. Figures are built with
:class:`matplotlib.figure.Figure` rather than ``pyplot``, so nothing is
registered globally: a figure returned as the last expression of a notebook cell
is shown once, and a script saves it with ``fig.savefig(path)``. All figures share
one clean style (:data:`STYLE`) and the class colours :data:`CLASS_COLORS`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory
from numpy.typing import ArrayLike

from catsdogs.config import CLASS_NAMES

#: Matplotlib settings applied while each figure is drawn.
STYLE: dict[str, Any] = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "lines.linewidth": 1.8,
    "lines.markersize": 4,
    "image.cmap": "Blues",
}

#: One colour per class, used wherever classes are compared.
CLASS_COLORS: dict[str, str] = {"cat": "#E07B39", "dog": "#3A7DC9"}
TRAIN_COLOR, VAL_COLOR = "#3A7DC9", "#E07B39"
BOUNDARY_COLOR = "0.4"

_F = TypeVar("_F", bound=Callable[..., Figure])


def _styled(function: _F) -> _F:
    """Draw ``function``'s figure under :data:`STYLE`."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        with mpl.rc_context(STYLE):
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _panel_grid(fig: Figure, n_panels: int, ncols: int, **subplot_kw: Any) -> list[Axes]:
    """``n_panels`` axes on a grid ``ncols`` wide (no empty axes left over)."""
    nrows = math.ceil(n_panels / ncols)
    axes: list[Axes] = []
    for i in range(n_panels):
        share = {"sharey": axes[0]} if axes and subplot_kw.get("sharey") else {}
        kwargs = {k: v for k, v in subplot_kw.items() if k != "sharey"}
        axes.append(fig.add_subplot(nrows, ncols, i + 1, **kwargs, **share))
    return axes


def _check_same_length(**arrays: Sequence[Any]) -> int:
    lengths = {name: len(values) for name, values in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"these must have the same length, one entry per item: {lengths}.")
    return next(iter(lengths.values()))


def _as_float_array(values: Sequence[float | None] | ArrayLike) -> np.ndarray:
    """Floats with ``None`` (an undefined metric) as NaN, which matplotlib skips."""
    return np.array([np.nan if v is None else v for v in np.ravel(np.asarray(values, dtype=object))],
                    dtype=np.float64)


# --------------------------------------------------------------------------- #
# Dataset
# --------------------------------------------------------------------------- #
@_styled
def class_counts(counts: Mapping[str, int], skipped: Mapping[str, int] | None = None) -> Figure:
    """Bar chart of images per class, optionally with the files skipped as unreadable.

    Parameters
    ----------
    counts : mapping of str to int
        Usable images per class, e.g. ``{"cat": 12490, "dog": 12469}``.
    skipped : mapping of str to int, optional
        Files skipped per class (corrupt, not an image, ...), drawn as a second bar.

    Returns
    -------
    matplotlib.figure.Figure
        One axes.
    """
    if not counts:
        raise ValueError("counts is empty; pass e.g. {'cat': 12490, 'dog': 12469}.")
    classes = list(counts) + [c for c in (skipped or {}) if c not in counts]
    used = np.array([counts.get(c, 0) for c in classes])
    if (used < 0).any() or (skipped and min(skipped.values()) < 0):
        raise ValueError("counts and skipped must be non-negative image counts.")

    fig = _figure(5.6 if skipped else 4.6, 3.6)
    ax = fig.add_subplot()
    x = np.arange(len(classes))
    colors = [CLASS_COLORS.get(c, "0.5") for c in classes]
    ax.bar(x, used, 0.6, color=colors)
    labels = [f"{u:,}" for u in used]
    if skipped:
        dropped = np.array([skipped.get(c, 0) for c in classes])
        stacked = ax.bar(x, dropped, 0.6, bottom=used, color="0.75", hatch="//", edgecolor="0.4",
                         linewidth=0, label="skipped (unreadable)")
        for patch in stacked:  # a bar's base is "sticky" and would cancel the headroom for the labels
            patch.sticky_edges.y.clear()
        labels = [f"{u:,} usable\n{d:,} skipped" for u, d in zip(used, dropped)]
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    totals = used + (dropped if skipped else 0)
    for xi, total, text in zip(x, totals, labels):
        ax.annotate(text, (xi, total), xytext=(0, 3), textcoords="offset points",
                    ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x, classes)
    ax.set_ylabel("images")
    ax.set_title("Images per class")
    ax.margins(y=0.2)
    ax.grid(axis="x", visible=False)
    return fig


@_styled
def size_distribution(widths: ArrayLike, heights: ArrayLike, bins: int = 40) -> Figure:
    """Histograms of image width, height (pixels) and aspect ratio (width / height).

    Parameters
    ----------
    widths, heights : array-like of shape (n,)
        Image sizes in pixels, one pair per image.
    bins : int, default 40
        Histogram bins per panel.

    Returns
    -------
    matplotlib.figure.Figure
        Three axes: width, height, aspect ratio.
    """
    w, h = np.asarray(widths, dtype=float).ravel(), np.asarray(heights, dtype=float).ravel()
    _check_same_length(widths=w, heights=h)
    if w.size == 0 or (w <= 0).any() or (h <= 0).any():
        raise ValueError("widths and heights must be non-empty positive pixel sizes, one per image.")

    fig = _figure(11.0, 3.2)
    panels = [
        (w, "width (pixels)", "Image width"),
        (h, "height (pixels)", "Image height"),
        (w / h, "aspect ratio (width / height)", "Aspect ratio"),
    ]
    for ax, (values, xlabel, title) in zip(_panel_grid(fig, 3, 3), panels):
        ax.hist(values, bins=bins, color="#5B8DB8", edgecolor="white", linewidth=0.4)
        ax.axvline(np.median(values), color="0.2", linestyle="--", linewidth=1,
                   label=f"median {np.median(values):.4g}")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("images")
        ax.set_title(title)
        ax.legend(loc="upper right")
    return fig


def _displayable(image: np.ndarray) -> tuple[np.ndarray, str | None]:
    """uint8 HxWx3 (or HxW grayscale) from a uint8 or 0-255 float image."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] == 3)):
        raise ValueError(
            f"each image must be HxWx3 (or HxW grayscale); got shape {array.shape}."
        )
    if array.dtype != np.uint8:
        array = np.clip(np.rint(array.astype(np.float64)), 0, 255).astype(np.uint8)
    return array, ("gray" if array.ndim == 2 else None)


@_styled
def image_grid(
    images: Sequence[np.ndarray],
    titles: Sequence[str] | None = None,
    ncols: int = 6,
    suptitle: str | None = None,
) -> Figure:
    """Images in a grid, each with an optional title.

    Parameters
    ----------
    images : sequence of numpy.ndarray
        Each HxWx3, ``uint8`` or float in ``[0, 255]`` (values outside are clipped;
        rescale ``[0, 1]`` images by 255 first). HxW and HxWx1 show as grayscale.
    titles : sequence of str, optional
        One title per image, e.g. ``"dog (p=0.03)"``.
    ncols : int, default 6
        Images per row.
    suptitle : str, optional
        Title of the whole figure.

    Returns
    -------
    matplotlib.figure.Figure
        One axes per image.
    """
    if len(images) == 0:
        raise ValueError("images is empty; pass at least one image.")
    if titles is not None:
        _check_same_length(images=images, titles=titles)
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer; got {ncols!r}.")

    ncols = min(ncols, len(images))
    nrows = math.ceil(len(images) / ncols)
    fig = _figure(2.0 * ncols, 2.0 * nrows + (0.4 if suptitle else 0.0))
    for i, ax in enumerate(_panel_grid(fig, len(images), ncols)):
        array, cmap = _displayable(images[i])
        ax.imshow(array, cmap=cmap, vmin=0, vmax=255, interpolation="antialiased")
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(titles[i], fontsize=9, fontweight="normal")
    if suptitle:
        fig.suptitle(suptitle, fontweight="bold")
    return fig


# --------------------------------------------------------------------------- #
# Training
# --------------------------------------------------------------------------- #
_ACCURACY_KEYS = ("accuracy", "binary_accuracy", "acc")


def _series(history: Mapping[str, Sequence[float]], keys: Sequence[str]) -> list[float] | None:
    for key in keys:
        if key in history:
            return [float(v) for v in history[key]]
    return None


def _joined(
    histories: Mapping[str, Mapping[str, Sequence[float]]], keys: Sequence[str], lengths: list[int]
) -> np.ndarray | None:
    """One metric over all phases end to end (NaN where a phase did not record it)."""
    parts, found = [], False
    for (phase, history), length in zip(histories.items(), lengths):
        values = _series(history, keys)
        if values is not None and len(values) != length:
            raise ValueError(
                f"{phase!r}: {keys[0]} has {len(values)} values but loss has {length}; "
                "pass the Keras History.history dict of each phase unchanged."
            )
        found |= values is not None
        parts.append(values if values is not None else [np.nan] * length)
    return np.concatenate(parts) if found else None


@_styled
def training_curves(histories: Mapping[str, Mapping[str, Sequence[float]]]) -> Figure:
    """Loss and accuracy per epoch across training phases joined end to end.

    Parameters
    ----------
    histories : mapping of str to dict
        Phase name to that phase's Keras ``History.history`` dict, in training
        order, e.g. ``{"phase 1": h1.history, "phase 2": h2.history}``. Each needs
        ``loss``; ``val_loss`` and ``accuracy`` (or ``binary_accuracy``/``acc``,
        with their ``val_`` versions) are drawn when present.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: loss and accuracy against the global epoch (1-based), with a
        dashed line labelled by phase where each phase after the first begins.
    """
    if not histories:
        raise ValueError("histories is empty; pass {'phase 1': history.history, ...}.")
    for phase, history in histories.items():
        if not history.get("loss"):
            raise ValueError(
                f"phase {phase!r} has no 'loss' values; pass Keras History.history dicts."
            )
    lengths = [len(history["loss"]) for history in histories.values()]
    epochs = np.arange(1, sum(lengths) + 1)

    fig = _figure(10.0, 3.8)
    loss_ax, acc_ax = _panel_grid(fig, 2, 2)
    panels = [
        (loss_ax, ("loss",), "loss", "Loss"),
        (acc_ax, _ACCURACY_KEYS, "accuracy", "Accuracy"),
    ]
    for ax, keys, ylabel, title in panels:
        train = _joined(histories, keys, lengths)
        val = _joined(histories, [f"val_{k}" for k in keys], lengths)
        if train is not None:
            ax.plot(epochs, train, marker="o", color=TRAIN_COLOR, label="training")
        if val is not None:
            ax.plot(epochs, val, marker="o", color=VAL_COLOR, label="validation")
        if train is None and val is None:
            ax.text(0.5, 0.5, "not recorded", transform=ax.transAxes, ha="center", color="0.5")
        _draw_phase_boundaries(ax, list(histories), lengths)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.set_xlim(0.5, len(epochs) + 0.5)
        ax.xaxis.get_major_locator().set_params(integer=True)
        if train is not None or val is not None:
            ax.legend(loc="best")
    return fig


def _draw_phase_boundaries(ax: Axes, phases: list[str], lengths: list[int]) -> None:
    """Dashed line before the first epoch of each phase after the first, named at the top."""
    to_axes_y = blended_transform_factory(ax.transData, ax.transAxes)
    start = 0
    for i, (phase, length) in enumerate(zip(phases, lengths)):
        if i > 0:
            ax.axvline(start + 0.5, color=BOUNDARY_COLOR, linestyle="--", linewidth=1)
        ax.text(start + 0.5 + 0.1, 0.98, phase, transform=to_axes_y, ha="left", va="top",
                fontsize=8, color=BOUNDARY_COLOR)
        start += length


# --------------------------------------------------------------------------- #
# Evaluation
# --------------------------------------------------------------------------- #
@_styled
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
    row_percent = np.divide(100.0 * counts, row_totals, out=np.zeros(counts.shape),
                            where=row_totals > 0)

    fig = _figure(4.4, 3.8)
    ax = fig.add_subplot()
    ax.imshow(row_percent, vmin=0, vmax=100, cmap="Blues")
    for (i, j), count in np.ndenumerate(counts):
        color = "white" if row_percent[i, j] > 60 else "black"
        ax.text(j, i, f"{int(count):,}\n({row_percent[i, j]:.1f}%)", ha="center", va="center",
                color=color, fontsize=11)
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, class_names)
    ax.set_yticks(ticks, class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title("Confusion matrix (count, % of true class)")
    ax.grid(False)
    ax.spines[:].set_visible(False)
    return fig


@_styled
def roc_pr_figure(curves: Mapping[str, Mapping[str, Any]]) -> Figure:
    """ROC and precision-recall curves side by side, the area in the legend.

    Parameters
    ----------
    curves : dict
        The output of :func:`catsdogs.metrics.roc_pr_curves`.

    Returns
    -------
    matplotlib.figure.Figure
        Two axes: ROC (false vs true positive rate) and PR (recall vs precision),
        dog being the positive class.
    """
    if "roc" not in curves or "pr" not in curves:
        raise ValueError("curves must be the dict returned by metrics.roc_pr_curves (keys 'roc', 'pr').")
    roc, pr = curves["roc"], curves["pr"]

    fig = _figure(9.0, 4.0)
    roc_ax, pr_ax = _panel_grid(fig, 2, 2)
    roc_ax.plot(roc["fpr"], roc["tpr"], color=TRAIN_COLOR, label=f"model (AUC = {roc['auc']:.3f})")
    roc_ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="chance (AUC = 0.5)")
    roc_ax.set_xlabel("false positive rate (cats called dog)")
    roc_ax.set_ylabel("true positive rate (dogs found)")
    roc_ax.set_title("ROC curve")

    pr_ax.plot(pr["recall"], pr["precision"], color=TRAIN_COLOR, drawstyle="steps-post",
               label=f"model (AP = {pr['auc']:.3f})")
    if pr.get("prevalence") is not None:
        pr_ax.axhline(pr["prevalence"], color="0.6", linestyle="--", linewidth=1,
                      label=f"chance (AP = {pr['prevalence']:.3f})")
    pr_ax.set_xlabel("recall (dogs found)")
    pr_ax.set_ylabel("precision (predicted dogs that are dogs)")
    pr_ax.set_title("Precision-recall curve")

    for ax in (roc_ax, pr_ax):
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.01)
        ax.set_aspect("equal")
        ax.legend(loc="lower left" if ax is pr_ax else "lower right")
    return fig


@_styled
def reliability_diagram(calibs: Mapping[str, Mapping[str, Any]]) -> Figure:
    """Reliability diagram of one or more models, ECE in the legend.

    Parameters
    ----------
    calibs : mapping of str to dict
        Label to the output of :func:`catsdogs.metrics.calibration`, e.g.
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
        confidence = _as_float_array(calib["confidence"])
        accuracy = _as_float_array(calib["accuracy"])
        filled = np.isfinite(confidence)
        edges = np.asarray(calib["bin_edges"], dtype=float)
        if filled.any():
            lowest_edge = min(lowest_edge, edges[:-1][filled].min())
        diagram.plot(confidence[filled], accuracy[filled], marker="o", color=color,
                     label=f"{label} (ECE = {calib['ece']:.3f})")
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
        raise ValueError(
            f"results[{corruption!r}] needs 'severity' and {metric!r} lists; "
            f"got keys {sorted(curve)}."
        )
    series = {k: curve[k] for k in ("severity", metric, f"{metric}_low", f"{metric}_high") if k in curve}
    _check_same_length(**series)


@_styled
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
    fig = _figure(3.6 * ncols, 3.0 * nrows + 0.3)
    axes = _panel_grid(fig, len(corruptions), ncols, sharey=True)
    show_legend, banded = len(results_by_model) > 1, False
    for ax, corruption in zip(axes, corruptions):
        for i, (model, results) in enumerate(results_by_model.items()):
            if corruption not in results:
                continue
            curve = results[corruption]
            severity = _as_float_array(curve["severity"])
            ax.plot(severity, _as_float_array(curve[metric]), marker="o", color=f"C{i}", label=model)
            if f"{metric}_low" in curve and f"{metric}_high" in curve:
                banded = True
                ax.fill_between(severity, _as_float_array(curve[f"{metric}_low"]),
                                _as_float_array(curve[f"{metric}_high"]), color=f"C{i}", alpha=0.2,
                                linewidth=0)
        ax.set_title(corruption)
        ax.set_xlabel("severity")
        ax.set_ylabel(metric.replace("_", " "))
        if show_legend:
            ax.legend(loc="lower left")
    fig.suptitle(f"{metric.replace('_', ' ').capitalize()} under corruption" + (" (band: CI)" if banded else ""),
                 fontweight="bold")
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
@_styled
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
    _check_same_length(labels=labels, estimates=estimates, lows=lows, highs=highs)
    if len(labels) == 0:
        raise ValueError("nothing to plot; pass at least one label.")
    est, low, high = (_as_float_array(v) for v in (estimates, lows, highs))
    with np.errstate(invalid="ignore"):
        if ((low > est) | (est > high)).any():
            raise ValueError("each interval must satisfy low <= estimate <= high.")
    errors = np.nan_to_num(np.vstack([est - low, high - est]), nan=0.0)

    fig = _figure(max(4.0, 0.9 * len(labels) + 1.5), 3.6)
    ax = fig.add_subplot()
    x = np.arange(len(labels))
    bars = ax.bar(x, est, 0.6, color="#5B8DB8", yerr=errors, capsize=4,
                  error_kw={"elinewidth": 1.2, "ecolor": "0.2"})
    ax.bar_label(bars, labels=["" if np.isnan(v) else f"{v:.3f}" for v in est],
                 label_type="center", color="white", fontsize=9)
    ax.set_xticks(x, labels)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="x", visible=False)
    return fig


__all__ = [
    "STYLE",
    "CLASS_COLORS",
    "class_counts",
    "size_distribution",
    "image_grid",
    "training_curves",
    "confusion_matrix_figure",
    "roc_pr_figure",
    "reliability_diagram",
    "metric_vs_severity",
    "metric_vs_severity_compare",
    "bar_with_ci",
]


@_styled
def confidence_histograms(confidences: Mapping[str, Sequence[float]], threshold: float | None = None) -> Figure:
    """Histograms of the predicted-class confidence (0.5-1) per input kind, e.g. real
    validation images versus out-of-distribution inputs, with an optional threshold line."""
    if not confidences:
        raise ValueError("confidences is empty: pass {label: [confidence, ...]}")
    fig = _figure(8.0, 3.8)
    ax = fig.add_subplot(1, 1, 1)
    bins = np.linspace(0.5, 1.0, 26)
    for label, conf in confidences.items():
        ax.hist(np.asarray(conf, dtype=float), bins=bins, histtype="step", linewidth=1.8,
                density=True, label=label)
    if threshold is not None:
        ax.axvline(threshold, color=BOUNDARY_COLOR, linestyle="--", label=f"threshold {threshold:.3f}")
    ax.set_xlabel("confidence of the predicted class")
    ax.set_ylabel("density")
    ax.set_title("How sure the model is, by kind of input")
    ax.legend(loc="upper left", fontsize="small")
    return fig
