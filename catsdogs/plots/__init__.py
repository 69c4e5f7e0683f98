"""Every figure the notebooks show, as functions returning a matplotlib Figure.

The functions only draw: numbers come from :mod:`catsdogs.evaluation.metrics` (or the
data/training modules) and are passed in. Figures are built with
:class:`matplotlib.figure.Figure` rather than ``pyplot``, so nothing is
registered globally: a figure returned as the last expression of a notebook cell
is shown once, and a script saves it with ``fig.savefig(path)``. All figures share
one clean style (:data:`STYLE`) and the class colours :data:`CLASS_COLORS`.

Single-panel functions compose: each takes ``ax=None``; given an axes (e.g. a panel
of a caller's figure) it draws there and returns ``ax.figure``. Functions that lay
out several panels themselves (``image_grid``, ``roc_pr_figure``, ...) always make
their own figure. ROC and PR curves are drawn with scikit-learn's displays.

:mod:`~catsdogs.plots.data` draws the data and training, :mod:`~catsdogs.plots.results`
the results; both are importable from here (``plots.training_curves(...)``).
"""

from catsdogs.plots.data import class_counts, image_grid, size_distribution, size_view, training_curves
from catsdogs.plots.results import (
    confidence_histograms,
    confusion_matrix_figure,
    forest_plot,
    metric_intervals,
    metric_vs_severity,
    metric_vs_severity_compare,
    pr_curve_figure,
    reliability_diagram,
    roc_curve_figure,
    roc_pr_figure,
)
from catsdogs.plots.style import CLASS_COLORS, STYLE

__all__ = [
    "STYLE",
    "CLASS_COLORS",
    "class_counts",
    "size_distribution",
    "size_view",
    "image_grid",
    "training_curves",
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
