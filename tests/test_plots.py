"""Tests of catsdogs.plots: each function returns a Figure that saves to PNG."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from catsdogs import plots  # noqa: E402
from catsdogs.evaluation import metrics
from catsdogs.evaluation.bootstrap import bootstrap_ci  # noqa: E402
from catsdogs.evaluation.calibration import reliability  # noqa: E402
from catsdogs.plots.style import MIN_TEXT_PX, shown_px_per_point  # noqa: E402


def smallest_text_px(fig: Figure) -> float:
    """The smallest visible, non-empty text of ``fig`` after drawing, in pixels as the book
    shows the figure (tick labels included: drawing creates them)."""
    fig.canvas.draw()
    sizes = [t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes, default=float("inf")) * shown_px_per_point(fig)


@pytest.fixture
def check_figure(tmp_path: Path) -> Iterator[Callable[[Figure, int], Figure]]:
    """Assert a result is a Figure with ``n_axes`` axes, save it as PNG, close it after the test."""
    figures: list[Figure] = []

    def check(fig: Figure, n_axes: int) -> Figure:
        figures.append(fig)
        assert isinstance(fig, Figure)
        assert len(fig.axes) == n_axes
        path = tmp_path / f"figure{len(figures)}.png"
        fig.savefig(path, dpi=50)
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        smallest = smallest_text_px(fig)
        assert smallest >= MIN_TEXT_PX - 1e-6, f"a text of this figure shows at {smallest:.1f} px in the book"
        return fig

    yield check
    for fig in figures:
        plt.close(fig)


@pytest.fixture(scope="module")
def predictions() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    return y, np.clip(rng.normal(0.3 + 0.4 * y, 0.2), 0, 1)


def _legend_texts(fig: Figure) -> list[str]:
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def test_class_counts(check_figure) -> None:
    check_figure(plots.class_counts({"cat": 12490, "dog": 12469}), 1)
    check_figure(plots.class_counts({"cat": 12490, "dog": 12469}, skipped={"cat": 11, "dog": 31}), 1)
    assert _legend_texts(plots.class_counts({"cat": 1, "dog": 2}, skipped={"cat": 3, "dog": 0})) == [
        "skipped (unreadable)"
    ]
    none_skipped = check_figure(plots.class_counts({"cat": 1, "dog": 2}, skipped={"cat": 0, "dog": 0}), 1)
    assert _legend_texts(none_skipped) == []  # nothing drawn, nothing in the legend
    with pytest.raises(ValueError, match="counts is empty"):
        plots.class_counts({})


def test_size_view_says_one_size_in_words(check_figure) -> None:
    text = plots.size_view([180] * 5, [180] * 5)
    assert text == "Every one of the 5 images is **180×180 pixels**: there is no spread of sizes to plot.\n"
    check_figure(plots.size_view([180, 200], [180, 150]), 3)


def test_size_distribution(check_figure) -> None:
    rng = np.random.default_rng(0)
    check_figure(plots.size_distribution(rng.integers(100, 500, 200), rng.integers(100, 500, 200)), 3)
    with pytest.raises(ValueError, match="same length"):
        plots.size_distribution([100, 200], [100])


def test_image_grid(check_figure) -> None:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(5)]
    images += [rng.uniform(0, 255, (24, 24, 3)), rng.uniform(0, 255, (24, 24))]
    titles = [f"image {i}" for i in range(len(images))]
    fig = check_figure(plots.image_grid(images, titles, ncols=3, suptitle="Samples"), 7)
    assert fig.axes[0].get_title() == "image 0"
    check_figure(plots.image_grid(images[:2]), 2)
    with pytest.raises(ValueError, match="HxWx3"):
        plots.image_grid([np.zeros((4, 4, 4))])
    with pytest.raises(ValueError, match="same length"):
        plots.image_grid(images, titles[:2])


def test_training_curves(check_figure) -> None:
    histories = {
        "phase 1": {
            "loss": [0.6, 0.4, 0.3],
            "val_loss": [0.5, 0.35, 0.3],
            "accuracy": [0.7, 0.85, 0.9],
            "val_accuracy": [0.8, 0.88, 0.9],
        },
        "phase 2": {
            "loss": [0.2, 0.15],
            "val_loss": [0.25, 0.24],
            "binary_accuracy": [0.93, 0.95],
            "val_binary_accuracy": [0.92, 0.93],
        },
    }
    fig = check_figure(plots.training_curves(histories), 2)
    loss_ax = fig.axes[0]
    train_line = loss_ax.get_lines()[0]
    np.testing.assert_array_equal(train_line.get_xdata(), [1, 2, 3, 4, 5])  # joined end to end
    boundaries = [line for line in loss_ax.get_lines() if line.get_linestyle() == "--"]
    assert len(boundaries) == 1 and boundaries[0].get_xdata()[0] == 3.5
    assert {"phase 1", "phase 2"} <= {t.get_text() for t in loss_ax.texts}
    check_figure(plots.training_curves({"phase 1": {"loss": [0.5]}}), 2)
    marked = check_figure(plots.training_curves(histories, kept={"phase 1": 2}), 2)
    rings = [line for line in marked.axes[0].get_lines() if line.get_markerfacecolor() == "none"]
    assert [list(r.get_xdata()) for r in rings] == [[2], [2]]  # on the training and validation curves
    assert "phase 2\n(from epoch 2)" in {t.get_text() for t in marked.axes[0].texts}
    assert "weights kept" in _legend_texts(marked)
    with pytest.raises(ValueError, match="kept epoch 4 of 'phase 1'"):
        plots.training_curves(histories, kept={"phase 1": 4})
    # chapter 3 draws phase 1 alone while the run also holds phase 2: its kept epoch is ignored
    check_figure(plots.training_curves({"phase 1": histories["phase 1"]}, kept={"phase 1": 2, "phase 2": 9}), 2)
    with pytest.raises(ValueError, match="no 'loss' values"):
        plots.training_curves({"phase 1": {"accuracy": [0.5]}})
    with pytest.raises(ValueError, match="val_loss has 1 values but loss has 2"):
        plots.training_curves({"phase 1": {"loss": [0.5, 0.4], "val_loss": [0.5]}})


def test_confusion_matrix_figure(check_figure, predictions) -> None:
    cm = metrics.classification_metrics(*predictions)["confusion_matrix"]
    fig = check_figure(plots.confusion_matrix_figure(cm), 1)
    assert len(fig.axes[0].texts) == 4
    check_figure(plots.confusion_matrix_figure([[0, 0], [3, 5]]), 1)  # a class never true
    with pytest.raises(ValueError, match="square 2x2"):
        plots.confusion_matrix_figure([[1, 2, 3]])


def test_roc_pr_figure(check_figure, predictions) -> None:
    fig = check_figure(plots.roc_pr_figure(metrics.roc_pr_curves(*predictions)), 2)
    assert any("AUC =" in text for text in _legend_texts(fig))
    assert any("AP =" in text for text in _legend_texts(fig))


def test_reliability_diagram(check_figure, predictions) -> None:
    y, p = predictions
    calibs = {"model": reliability(y, p), "sharpened": reliability(y, p**2)}
    fig = check_figure(plots.reliability_diagram(calibs), 2)
    assert sum("ECE =" in text for text in _legend_texts(fig)) == 2


def _curve(accuracy: list[float]) -> dict[str, list[float]]:
    return {
        "severity": list(range(len(accuracy))),
        "accuracy": accuracy,
        "accuracy_low": [a - 0.02 for a in accuracy],
        "accuracy_high": [a + 0.02 for a in accuracy],
    }


def test_metric_vs_severity(check_figure) -> None:
    results = {
        "low light": _curve([0.97, 0.9, 0.8]),
        "occlusion": _curve([0.97, 0.93, 0.85]),
        "grayscale": {"severity": [0, 1], "accuracy": [0.97, 0.95]},
    }  # no CI: no band
    check_figure(plots.metric_vs_severity(results), 3)
    check_figure(plots.metric_vs_severity(results, ncols=2), 3)
    with pytest.raises(ValueError, match="needs 'severity' and 'f1'"):
        plots.metric_vs_severity(results, metric="f1")


def test_metric_vs_severity_compare(check_figure) -> None:
    by_model = {
        "float": {"low light": _curve([0.97, 0.9]), "blur": _curve([0.97, 0.95])},
        "int8": {"low light": _curve([0.96, 0.88])},
    }
    fig = check_figure(plots.metric_vs_severity_compare(by_model), 2)
    assert {"float", "int8"} <= set(_legend_texts(fig))


def test_metric_intervals(check_figure, predictions) -> None:
    ci = bootstrap_ci(*predictions, n_samples=100)
    fig = plots.metric_intervals(
        list(ci),
        [v["estimate"] for v in ci.values()],
        [v["low"] for v in ci.values()],
        [v["high"] for v in ci.values()],
        references=[0.9] * len(ci),
        title="Test metrics (95% CI)",
        xlabel="score",
    )
    check_figure(fig, 1)
    assert "paper" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    check_figure(plots.metric_intervals(["a", "b"], [0.5, None], [0.4, None], [0.6, None], [0.55, None]), 1)
    with pytest.raises(ValueError, match="low <= estimate <= high"):
        plots.metric_intervals(["a"], [0.5], [0.6], [0.7])
    with pytest.raises(ValueError, match="same length"):
        plots.metric_intervals(["a", "b"], [0.5], [0.4], [0.6])


# --------------------------------------------------------------------------- #
# Composing: single-panel functions draw on a caller's axes
# --------------------------------------------------------------------------- #
@pytest.fixture(scope="module")
def corner_curves() -> dict:
    """ROC/PR curves of a near-perfect model (AUC about 0.999), 2,500 cats and 2,500 dogs."""
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1], 2500)
    logits = np.concatenate([rng.normal(-3.5, 1.6, 2500), rng.normal(3.5, 1.6, 2500)])
    curves = metrics.roc_pr_curves(y, 1 / (1 + np.exp(-logits)))
    assert 0.998 < curves["roc"]["auc"] < 0.9995
    return curves


def _single_panel_calls(curves: dict) -> dict[str, Callable[..., Figure]]:
    """Each single-panel function with valid synthetic inputs, still taking ``ax=``."""
    rows = [
        {"label": "fold 1", "estimate": 0.97, "low": 0.96, "high": 0.98, "group": "cv"},
        {"label": "pooled", "estimate": 0.975, "low": 0.97, "high": 0.98, "group": "cv", "pooled": True},
    ]
    rng = np.random.default_rng(0)
    return {
        "class_counts": lambda **kw: plots.class_counts({"cat": 10, "dog": 12}, {"cat": 1, "dog": 0}, **kw),
        "confusion_matrix_figure": lambda **kw: plots.confusion_matrix_figure([[40, 3], [5, 52]], **kw),
        "roc_curve_figure": lambda **kw: plots.roc_curve_figure(curves, **kw),
        "pr_curve_figure": lambda **kw: plots.pr_curve_figure(curves, **kw),
        "metric_intervals": lambda **kw: plots.metric_intervals(
            ["a", "b"], [0.5, 0.7], [0.4, 0.6], [0.6, 0.8], None, "paper", "t", "x", **kw
        ),
        "forest_plot": lambda **kw: plots.forest_plot(rows, reference=0.989, reference_label="paper", **kw),
        "confidence_histograms": lambda **kw: plots.confidence_histograms(
            {"real": rng.uniform(0.5, 1, 50), "ood": rng.uniform(0.5, 1, 50)}, 0.9, **kw
        ),
    }


SINGLE_PANEL = list(_single_panel_calls({}))


def _has_content(ax) -> bool:
    return bool(ax.lines or ax.patches or ax.images or ax.collections)


@pytest.mark.parametrize("name", SINGLE_PANEL)
def test_single_panel_draws_on_given_axes(name, predictions, check_figure) -> None:
    call = _single_panel_calls(metrics.roc_pr_curves(*predictions))[name]
    fig = Figure()
    left, right = fig.subplots(1, 2)
    out = call(ax=right)
    assert out is fig  # the caller's figure, not a new one
    assert fig.axes == [left, right]  # nothing added or replaced
    assert _has_content(right)
    assert not _has_content(left) and left.get_title() == ""
    check_figure(fig, 2)


@pytest.mark.parametrize("name", SINGLE_PANEL)
def test_single_panel_own_figure(name, predictions, check_figure) -> None:
    fig = check_figure(_single_panel_calls(metrics.roc_pr_curves(*predictions))[name](), 1)
    assert _has_content(fig.axes[0])
    assert fig.get_layout_engine() is not None  # the package's constrained figure


def test_every_single_panel_function_takes_ax() -> None:
    """The list above is complete: every public plot function either takes ``ax`` and
    is tested above, or lays out several panels itself."""
    import inspect

    multi_panel = {
        "size_distribution",
        "size_view",
        "image_grid",
        "training_curves",
        "roc_pr_figure",
        "reliability_diagram",
        "metric_vs_severity",
        "metric_vs_severity_compare",
    }
    functions = {n for n in plots.__all__ if callable(getattr(plots, n))}
    takes_ax = {n for n in functions if "ax" in inspect.signature(getattr(plots, n)).parameters}
    assert takes_ax == set(SINGLE_PANEL)
    assert functions - takes_ax == multi_panel


def test_ax_must_be_axes() -> None:
    with pytest.raises(TypeError, match="matplotlib Axes"):
        plots.confusion_matrix_figure([[1, 0], [0, 1]], ax=Figure())


# --------------------------------------------------------------------------- #
# ROC / PR through scikit-learn's displays
# --------------------------------------------------------------------------- #
@pytest.fixture
def display_calls(monkeypatch) -> dict[str, list]:
    """Record the axes each scikit-learn display's ``plot`` draws on."""
    from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay

    calls: dict[str, list] = {"roc": [], "pr": []}
    for key, cls in (("roc", RocCurveDisplay), ("pr", PrecisionRecallDisplay)):
        original = cls.plot

        @functools.wraps(original)  # the original's signature: the plots read it (curve_style)
        def spy(self, ax=None, *args, _original=original, _key=key, **kwargs):
            calls[_key].append(ax)
            return _original(self, ax, *args, **kwargs)

        monkeypatch.setattr(cls, "plot", spy)
    return calls


def test_roc_curve_uses_sklearn_display(display_calls, predictions) -> None:
    curves = metrics.roc_pr_curves(*predictions)
    fig = Figure()
    ax = fig.add_subplot()
    plots.roc_curve_figure(curves, ax=ax)
    assert display_calls == {"roc": [ax], "pr": []}
    model, chance = ax.get_lines()
    np.testing.assert_allclose(model.get_xdata(), curves["roc"]["fpr"])
    np.testing.assert_allclose(model.get_ydata(), curves["roc"]["tpr"])
    assert model.get_label() == f"model (AUC = {curves['roc']['auc']:.3f})"
    assert chance.get_label() == "chance (AUC = 0.5)"
    assert ax.get_xlabel() == "false positive rate (cats called dog)"  # ours, not sklearn's
    assert ax.get_xscale() == "linear"  # AUC 0.91 does not hug the corner


def test_pr_curve_uses_sklearn_display(display_calls, predictions) -> None:
    curves = metrics.roc_pr_curves(*predictions)
    fig = Figure()
    ax = fig.add_subplot()
    plots.pr_curve_figure(curves["pr"], ax=ax)  # the "pr" entry alone also works
    assert display_calls == {"roc": [], "pr": [ax]}
    model, chance = ax.get_lines()
    np.testing.assert_allclose(model.get_xdata(), curves["pr"]["recall"])
    assert model.get_drawstyle() == "steps-post"
    assert model.get_label() == f"model (AP = {curves['pr']['auc']:.3f})"
    np.testing.assert_allclose(chance.get_ydata(), curves["pr"]["prevalence"])
    assert ax.get_ylabel() == "precision (predicted dogs that are dogs)"
    no_prevalence = {k: v for k, v in curves["pr"].items() if k != "prevalence"}
    ax2 = Figure().add_subplot()
    plots.pr_curve_figure(no_prevalence, ax=ax2)
    assert len(ax2.get_lines()) == 1


def test_roc_pr_figure_composes_the_panels(display_calls, check_figure, corner_curves) -> None:
    fig = check_figure(plots.roc_pr_figure(corner_curves), 2)
    roc_ax, pr_ax = fig.axes
    assert display_calls == {"roc": [roc_ax], "pr": [pr_ax]}
    assert roc_ax.get_title() == "ROC curve" and pr_ax.get_title() == "Precision-recall curve"


def test_roc_log_fpr_when_hugging_the_corner(check_figure, corner_curves, predictions) -> None:
    fig = check_figure(plots.roc_curve_figure(corner_curves), 1)
    ax = fig.axes[0]
    fpr = np.asarray(corner_curves["roc"]["fpr"])
    assert ax.get_xscale() == "log"
    assert ax.get_xlim() == pytest.approx((fpr[fpr > 0].min(), 1.0))  # one false positive in 2,500 cats
    assert ax.get_xlim()[0] == pytest.approx(1 / 2500)
    chance = ax.get_lines()[1]
    assert len(chance.get_xdata()) > 50  # follows y = x on the log axis
    np.testing.assert_allclose(chance.get_ydata(), chance.get_xdata())
    assert "log scale" in ax.get_xlabel()
    # forced either way
    assert check_figure(plots.roc_curve_figure(corner_curves, log_fpr=False), 1).axes[0].get_xscale() == "linear"
    moderate = metrics.roc_pr_curves(*predictions)
    assert check_figure(plots.roc_curve_figure(moderate, log_fpr=True), 1).axes[0].get_xscale() == "log"
    assert check_figure(plots.roc_pr_figure(moderate), 2).axes[0].get_xscale() == "linear"


def test_roc_pr_bad_input() -> None:
    with pytest.raises(ValueError, match="roc_pr_curves"):
        plots.roc_pr_figure({"roc": {}})
    with pytest.raises(ValueError, match="'fpr', 'tpr', 'auc'"):
        plots.roc_curve_figure({"pr": {}})
    with pytest.raises(ValueError, match="same length"):
        plots.roc_curve_figure({"fpr": [0, 1], "tpr": [0], "auc": 0.5})
    with pytest.raises(ValueError, match="nonzero false positive rate"):
        plots.roc_curve_figure({"fpr": [0.0, 0.0], "tpr": [0.0, 1.0], "auc": 1.0}, log_fpr=True)


def test_curve_style_follows_the_installed_scikit_learn() -> None:
    from catsdogs.plots.results import curve_style

    def plot_1_6(ax=None, *, name=None, **kwargs): ...  # Colab's scikit-learn 1.6: matplotlib keywords

    def plot_1_7(ax=None, *, name=None, curve_kwargs=None): ...  # 1.7 on: curve_kwargs

    assert curve_style(plot_1_6, color="r") == {"color": "r"}
    assert curve_style(plot_1_7, color="r") == {"curve_kwargs": {"color": "r"}}


def test_legible_raises_small_text_and_the_check_sees_it() -> None:
    from catsdogs.plots.style import figure, legible

    fig = figure(12.0, 3.0)  # wider than the column: shown scaled down
    ax = fig.add_subplot()
    ax.set_title("tiny", fontsize=6)
    ax.plot([0, 1], [0, 1])
    assert smallest_text_px(fig) < MIN_TEXT_PX
    assert smallest_text_px(legible(fig)) >= MIN_TEXT_PX - 1e-6
    plt.close(fig)
