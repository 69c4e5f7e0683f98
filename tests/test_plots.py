"""Tests of catsdogs.plots: each function returns a Figure that saves to PNG."""

from __future__ import annotations

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
    return [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]


def test_class_counts(check_figure) -> None:
    check_figure(plots.class_counts({"cat": 12490, "dog": 12469}), 1)
    check_figure(plots.class_counts({"cat": 12490, "dog": 12469}, skipped={"cat": 11, "dog": 31}), 1)
    with pytest.raises(ValueError, match="counts is empty"):
        plots.class_counts({})


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


def test_bar_with_ci(check_figure, predictions) -> None:
    ci = bootstrap_ci(*predictions, n_samples=100)
    fig = plots.bar_with_ci(
        list(ci),
        [v["estimate"] for v in ci.values()],
        [v["low"] for v in ci.values()],
        [v["high"] for v in ci.values()],
        title="Test metrics (95% CI)",
        ylabel="score",
    )
    check_figure(fig, 1)
    check_figure(plots.bar_with_ci(["a", "b"], [0.5, None], [0.4, None], [0.6, None]), 1)
    with pytest.raises(ValueError, match="low <= estimate <= high"):
        plots.bar_with_ci(["a"], [0.5], [0.6], [0.7])
    with pytest.raises(ValueError, match="same length"):
        plots.bar_with_ci(["a", "b"], [0.5], [0.4], [0.6])
