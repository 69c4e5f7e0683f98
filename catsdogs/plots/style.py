"""The one look of every figure: matplotlib settings, class colours and small helpers."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import matplotlib as mpl
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text
from numpy.typing import ArrayLike

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

#: Where figures are read: the book's text column is this many CSS pixels wide at a
#: 1280-pixel window, and the theme scales a wider figure down to it; notebooks render
#: figures at matplotlib's default dpi, which the inline backend keeps.
COLUMN_PX, SHOWN_DPI = 688, 100
#: The smallest text, in pixels as the book shows a figure, that a figure may hold.
MIN_TEXT_PX = 10

_F = TypeVar("_F", bound=Callable[..., Figure])


def shown_px_per_point(fig: Figure) -> float:
    """How many pixels one point of text takes where the book shows ``fig``: rendered at
    :data:`SHOWN_DPI`, then scaled down to :data:`COLUMN_PX` when wider."""
    width_px = fig.get_figwidth() * SHOWN_DPI
    return SHOWN_DPI / 72 * min(1.0, COLUMN_PX / width_px)


def legible(fig: Figure) -> Figure:
    """Raise every text of ``fig`` (titles, labels, tick labels, legends, annotations) that
    the book would show smaller than :data:`MIN_TEXT_PX` to that size; returns ``fig``."""
    min_pt = MIN_TEXT_PX / shown_px_per_point(fig)
    for ax in fig.axes:
        for axis, ticks in (("x", ax.xaxis), ("y", ax.yaxis)):
            majors = ticks.get_major_ticks()
            if majors and majors[0].label1.get_fontsize() < min_pt:
                ax.tick_params(axis=axis, which="both", labelsize=min_pt)
    for text in fig.findobj(Text):
        if text.get_text() and text.get_fontsize() < min_pt:
            text.set_fontsize(min_pt)
    return fig


def styled(function: _F) -> _F:
    """Draw ``function``'s figure under :data:`STYLE`, with every text :func:`legible`."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        with mpl.rc_context(STYLE):
            return legible(function(*args, **kwargs))

    return wrapper  # type: ignore[return-value]


def figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def figure_and_axes(ax: Axes | None, width: float, height: float) -> tuple[Figure, Axes]:
    """The figure and axes a single-panel function draws on.

    With ``ax=None`` a new ``width`` x ``height`` inch :func:`figure` with one axes;
    otherwise ``ax`` and the figure it belongs to (``ax.figure``), so the caller's
    layout and size are kept.
    """
    if ax is None:
        fig = figure(width, height)
        return fig, fig.add_subplot()
    if not isinstance(ax, Axes):
        raise TypeError(f"ax must be a matplotlib Axes (e.g. fig.add_subplot()); got {type(ax).__name__}.")
    return ax.figure, ax


def panel_grid(fig: Figure, n_panels: int, ncols: int, **subplot_kw: Any) -> list[Axes]:
    """``n_panels`` axes on a grid ``ncols`` wide (no empty axes left over)."""
    nrows = math.ceil(n_panels / ncols)
    axes: list[Axes] = []
    for i in range(n_panels):
        share = {"sharey": axes[0]} if axes and subplot_kw.get("sharey") else {}
        kwargs = {k: v for k, v in subplot_kw.items() if k != "sharey"}
        axes.append(fig.add_subplot(nrows, ncols, i + 1, **kwargs, **share))
    return axes


def check_same_length(**arrays: Sequence[Any]) -> int:
    lengths = {name: len(values) for name, values in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"these must have the same length, one entry per item: {lengths}.")
    return next(iter(lengths.values()))


def as_mapping(values: Any) -> Mapping[str, Any]:
    """A record part (anything with ``to_dict``, e.g. a
    :class:`~catsdogs.records.CorruptionCurve`) as its JSON object; a mapping as it is. The
    figures read their series by name, as the records name them."""
    return values.to_dict() if hasattr(values, "to_dict") else values


def as_float_array(values: Sequence[float | None] | ArrayLike) -> np.ndarray:
    """Floats with ``None`` (an undefined metric) as NaN, which matplotlib skips."""
    return np.array([np.nan if v is None else v for v in np.ravel(np.asarray(values, dtype=object))], dtype=np.float64)


__all__ = [
    "STYLE",
    "CLASS_COLORS",
    "TRAIN_COLOR",
    "VAL_COLOR",
    "BOUNDARY_COLOR",
    "COLUMN_PX",
    "SHOWN_DPI",
    "MIN_TEXT_PX",
    "shown_px_per_point",
    "legible",
    "styled",
    "figure",
    "figure_and_axes",
    "panel_grid",
    "check_same_length",
    "as_float_array",
    "as_mapping",
]
