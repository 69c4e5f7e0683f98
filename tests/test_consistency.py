"""One figure, one value, on every page that shows it: the published model's unsure threshold,
its validation accuracy and phase 2's training time, read from the published records and
looked for in the model card, the generated pages and the executed chapters."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from catsdogs.markdown import duration, percent
from catsdogs.records import Evaluation, Export
from catsdogs.runs import Run, phase2_seconds

ROOT = Path(__file__).resolve().parents[1]
FULL = ROOT / "results" / "full"
MODELS = ROOT / "models" / "catsdogs_mobilenetv2.json"


def _chapter_text(name: str) -> str:
    """Everything an executed chapter of the book shows: its Markdown and its outputs."""
    nb = nbformat.read(ROOT / "book" / "chapters" / f"{name}.ipynb", as_version=4)
    parts = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parts.append(cell.source)
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts += [str(v) for k, v in out.get("data", {}).items() if k.startswith("text/")]
    return "\n".join(parts)


def _page(name: str) -> str:
    return (ROOT / "book" / "_generated" / name).read_text()


@pytest.fixture(scope="module")
def published() -> dict:
    if not (FULL / Export.PATH).is_file():
        pytest.skip("no published export in results/full")
    return {
        "export": Export.read(FULL / Export.PATH),
        "evaluation": Evaluation.read(FULL / Evaluation.PATH),
        "models": json.loads(MODELS.read_text()),
        "ood": json.loads((FULL / "robustness" / "ood.json").read_text()),
    }


def test_one_unsure_threshold_for_the_published_files_chapter_6_and_the_model_card(published):
    keras = published["export"].exports["keras"].ood_threshold
    files = published["models"]["files"]
    assert {f["ood_threshold"] for f in files.values()} == {keras}, "every published file, one threshold"
    assert published["ood"]["threshold"] == keras, "chapter 6 flags with the published threshold"
    shown = f"{keras:.4f}"
    assert shown in (ROOT / "models" / "README.md").read_text()
    assert shown in _chapter_text("06_limitations")


def test_the_published_accuracy_reads_the_same_everywhere(published):
    accuracy = percent(published["evaluation"].metrics.accuracy, 2)
    for where, text in (
        ("models/README.md", (ROOT / "models" / "README.md").read_text()),
        ("book/_generated/ci.md", _page("ci.md")),
        ("book/_generated/comparison.md", _page("comparison.md")),
        ("chapter 5", _chapter_text("05_evaluation")),
    ):
        assert accuracy in text, f"{where} does not show the published accuracy {accuracy}"
    keras_file = published["models"]["files"]["catsdogs_mobilenetv2.keras"]
    assert keras_file["val_accuracy"] == published["evaluation"].metrics.accuracy


def test_phase_2_time_reads_the_same_on_the_timings_page_and_in_chapter_4():
    run = Run.load(FULL)
    shown = duration(run.timings()["phase2_train"])
    assert shown in _page("timings.md")
    assert shown in _chapter_text("04_phase2_fine_tuning")
    assert phase2_seconds(run) >= run.timings()["phase2_train"]
