"""Chapter endings (catsdogs.report.summaries) and the unsure threshold chapter 6 uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catsdogs.config import get_config
from catsdogs.markdown import percent
from catsdogs.report.summaries import FINDINGS, chapter_findings
from catsdogs.runs import Run

ROOT = Path(__file__).resolve().parents[1]
FULL = ROOT / "results" / "full"


def _record(rel: str) -> dict:
    return json.loads((FULL / rel).read_text())


def test_every_chapter_states_its_figures_from_the_published_records():
    run = Run.load(FULL)
    scan, phase1 = _record("data/scan.json"), _record("phase1/result.json")
    phase2, ev = _record("phase2/result.json"), _record("eval/metrics.json")
    expected = {
        "01": [f"{scan['per_class']['cat']:,} cats", f"{scan['split']['val']['total']:,}"],
        "02": ["horizontal flips"],
        "03": [percent(phase1["val_metrics"]["accuracy"], 2), f"{phase1['epochs_run']} epochs"],
        "04": [percent(phase2["val_metrics"]["accuracy"], 2), f"`{phase2['unfrozen']['first_layer']}`"],
        "05": [percent(ev["ci95"]["accuracy"]["estimate"], 2), "98.9 %"],
        "06": [f"{_record('robustness/ood.json')['threshold']:.4f}"],
    }
    assert set(expected) == set(FINDINGS)
    for chapter, figures in expected.items():
        text = chapter_findings(run, chapter)
        assert text.startswith("* ") and text.endswith("\n")
        for figure in figures:
            assert figure in text, f"chapter {chapter}'s ending lacks {figure!r}: {text}"


def test_a_chapter_not_yet_run_says_what_is_missing(tmp_path):
    run = Run.open(get_config("smoke"), tmp_path / "fresh")
    assert "not recorded in this run yet (run chapter 03)" in chapter_findings(run, "03")
    assert "run chapter 06" in chapter_findings(run, "06")
    with pytest.raises(ValueError, match="unknown chapter '07'"):
        chapter_findings(run, "07")


def test_the_unsure_threshold_is_the_current_exports(tmp_path, monkeypatch):
    from catsdogs.records import Export
    from catsdogs.studies import robustness

    run = Run.open(get_config("smoke"), tmp_path / "exported")
    record = Export.from_dict(
        {
            "source_model": "phase2/model.keras",
            "source_sha256": "0" * 64,
            "parameters": {},
            "calibration_images": 8,
            "exports": {"keras": {"file": "m.keras", "ood_threshold": 0.9726, "val_metrics": {"n": 5000}}},
        }
    )
    monkeypatch.setattr(robustness, "current_export", lambda r: record if r is run else None)
    assert robustness.unsure_threshold(run) == robustness.UnsureThreshold(0.9726, robustness.EXPORTED_THRESHOLD, 5000)
