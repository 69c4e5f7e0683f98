"""Figures of the data and of training: class counts, image sizes, image grids, training curves."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.transforms import blended_transform_factory
from numpy.typing import ArrayLike

from catsdogs.markdown import Text
from catsdogs.plots.style import (
    BOUNDARY_COLOR,
    CLASS_COLORS,
    TRAIN_COLOR,
    VAL_COLOR,
    check_same_length,
    figure,
    figure_and_axes,
    panel_grid,
    styled,
)


# --------------------------------------------------------------------------- #
# Dataset
# --------------------------------------------------------------------------- #
@styled
def class_counts(
    counts: Mapping[str, int], skipped: Mapping[str, int] | None = None, *, ax: Axes | None = None
) -> Figure:
    """Bar chart of images per class, optionally with the files skipped as unreadable.

    Parameters
    ----------
    counts : mapping of str to int
        Usable images per class, e.g. ``{"cat": 12490, "dog": 12469}``.
    skipped : mapping of str to int, optional
        Files skipped per class (corrupt, not an image, ...), stacked hatched on each
        class's bar when any was skipped.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on, e.g. a panel of a larger figure; by default a new figure.

    Returns
    -------
    matplotlib.figure.Figure
        One axes; with ``ax``, the figure ``ax`` belongs to (``ax.figure``).
    """
    if not counts:
        raise ValueError("counts is empty; pass e.g. {'cat': 12490, 'dog': 12469}.")
    classes = list(counts) + [c for c in (skipped or {}) if c not in counts]
    used = np.array([counts.get(c, 0) for c in classes])
    if (used < 0).any() or (skipped and min(skipped.values()) < 0):
        raise ValueError("counts and skipped must be non-negative image counts.")
    if skipped and not any(skipped.values()):
        skipped = None  # nothing skipped: no empty bar, no legend entry for it

    fig, ax = figure_and_axes(ax, 5.6 if skipped else 4.6, 3.6)
    x = np.arange(len(classes))
    colors = [CLASS_COLORS.get(c, "0.5") for c in classes]
    ax.bar(x, used, 0.6, color=colors)
    labels = [f"{u:,}" for u in used]
    if skipped:
        dropped = np.array([skipped.get(c, 0) for c in classes])
        stacked = ax.bar(
            x,
            dropped,
            0.6,
            bottom=used,
            color="0.75",
            hatch="//",
            edgecolor="0.4",
            linewidth=0,
            label="skipped (unreadable)",
        )
        for patch in stacked:  # a bar's base is "sticky" and would cancel the headroom for the labels
            patch.sticky_edges.y.clear()
        labels = [f"{u:,} usable\n{d:,} skipped" for u, d in zip(used, dropped)]
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    totals = used + (dropped if skipped else 0)
    for xi, total, text in zip(x, totals, labels):
        ax.annotate(text, (xi, total), xytext=(0, 3), textcoords="offset points", ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x, classes)
    ax.set_ylabel("images")
    ax.set_title("Images per class")
    ax.margins(y=0.2)
    ax.grid(axis="x", visible=False)
    return fig


def size_view(widths: ArrayLike, heights: ArrayLike) -> Figure | Text:
    """The images' sizes as a reader should see them: histograms of width, height and aspect
    ratio (:func:`size_distribution`) when they vary, one sentence when every
    image has the same size (histograms of one value are single spikes)."""
    sizes = set(zip(np.asarray(widths).ravel().tolist(), np.asarray(heights).ravel().tolist()))
    if len(sizes) == 1:
        (w, h), n = sizes.pop(), len(widths)
        return Text(f"Every one of the {n:,} images is **{w}×{h} pixels**: there is no spread of sizes to plot.\n")
    return size_distribution(widths, heights)


@styled
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
    check_same_length(widths=w, heights=h)
    if w.size == 0 or (w <= 0).any() or (h <= 0).any():
        raise ValueError("widths and heights must be non-empty positive pixel sizes, one per image.")

    fig = figure(11.0, 3.2)
    panels = [
        (w, "width (pixels)", "Image width"),
        (h, "height (pixels)", "Image height"),
        (w / h, "aspect ratio (width / height)", "Aspect ratio"),
    ]
    for ax, (values, xlabel, title) in zip(panel_grid(fig, 3, 3), panels):
        ax.hist(values, bins=bins, color="#5B8DB8", edgecolor="white", linewidth=0.4)
        ax.axvline(np.median(values), color="0.2", linestyle="--", linewidth=1, label=f"median {np.median(values):.4g}")
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
        raise ValueError(f"each image must be HxWx3 (or HxW grayscale); got shape {array.shape}.")
    if array.dtype != np.uint8:
        array = np.clip(np.rint(array.astype(np.float64)), 0, 255).astype(np.uint8)
    return array, ("gray" if array.ndim == 2 else None)


@styled
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
        check_same_length(images=images, titles=titles)
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer; got {ncols!r}.")

    ncols = min(ncols, len(images))
    nrows = math.ceil(len(images) / ncols)
    fig = figure(2.0 * ncols, 2.0 * nrows + (0.4 if suptitle else 0.0))
    for i, ax in enumerate(panel_grid(fig, len(images), ncols)):
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


@styled
def training_curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]], kept: Mapping[str, int] | None = None
) -> Figure:
    """Loss and accuracy per epoch across training phases joined end to end.

    Parameters
    ----------
    histories : mapping of str to dict
        Phase name to that phase's Keras ``History.history`` dict, in training
        order, e.g. ``{"phase 1": h1.history, "phase 2": h2.history}``. Each needs
        ``loss``; ``val_loss`` and ``accuracy`` (or ``binary_accuracy``/``acc``,
        with their ``val_`` versions) are drawn when present.
    kept : mapping of str to int, optional
        Phase name to the epoch (1-based, within the phase) whose weights the phase kept,
        e.g. the one early stopping restored. It is ringed on every curve, and the next
        phase's label says it starts from there. Phases not drawn are ignored.

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
            raise ValueError(f"phase {phase!r} has no 'loss' values; pass Keras History.history dicts.")
    lengths = [len(history["loss"]) for history in histories.values()]
    epochs = np.arange(1, sum(lengths) + 1)
    offsets = dict(zip(histories, np.cumsum([0, *lengths[:-1]]).tolist()))
    kept = {phase: epoch for phase, epoch in (kept or {}).items() if phase in histories}
    for phase, epoch in kept.items():
        if not 1 <= epoch <= len(histories[phase]["loss"]):
            raise ValueError(f"kept epoch {epoch!r} of {phase!r} is not an epoch of that phase's history.")
    kept_at = [offsets[phase] + epoch for phase, epoch in kept.items()]  # global, 1-based

    fig = figure(10.0, 3.8)
    loss_ax, acc_ax = panel_grid(fig, 2, 2)
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
        for i, series in enumerate(s for s in (train, val) if s is not None and kept_at):
            ax.plot(
                kept_at,
                [series[e - 1] for e in kept_at],
                linestyle="none",
                marker="o",
                markersize=11,
                markerfacecolor="none",
                markeredgecolor=BOUNDARY_COLOR,
                label="weights kept" if i == 0 and kept_at else None,
            )
        _draw_phase_boundaries(ax, list(histories), lengths, kept)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.set_xlim(0.5, len(epochs) + 0.5)
        ax.xaxis.get_major_locator().set_params(integer=True)
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + 0.25 * (high - low))  # a band at the top for the phase names
        if ylabel == "accuracy":  # no tick above 1 in the band
            ax.set_yticks([t for t in ax.get_yticks() if low <= t <= 1.0])
    handles, labels = loss_ax.get_legend_handles_labels()
    if handles:  # one legend for both panels, below them, clear of every curve
        fig.legend(handles, labels, loc="outside lower center", ncols=len(handles))
    return fig


def _draw_phase_boundaries(ax: Axes, phases: list[str], lengths: list[int], kept: Mapping[str, int]) -> None:
    """Dashed line before the first epoch of each phase after the first, named at the top
    (with the epoch it starts from when the phase before kept an earlier one)."""
    to_axes_y = blended_transform_factory(ax.transData, ax.transAxes)
    start = 0
    for i, (phase, length) in enumerate(zip(phases, lengths)):
        name = phase
        if i > 0:
            ax.axvline(start + 0.5, color=BOUNDARY_COLOR, linestyle="--", linewidth=1)
            before = phases[i - 1]
            if before in kept and kept[before] < lengths[i - 1]:
                name = f"{phase}\n(from epoch {start - lengths[i - 1] + kept[before]})"
        ax.text(start + 0.5 + 0.1, 0.98, name, transform=to_axes_y, ha="left", va="top", color=BOUNDARY_COLOR)
        start += length


__all__ = ["class_counts", "size_view", "size_distribution", "image_grid", "training_curves"]
