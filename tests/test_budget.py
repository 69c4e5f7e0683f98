"""The compute budget (:mod:`catsdogs.report.budget`) from synthetic records."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import tiny_config

from catsdogs.report.budget import compute_budget_rows, record_budget
from catsdogs.runs import FOLDS_FILE


def _record(path: Path, timings: dict[str, float], cpu: str = "Test CPU") -> None:
    path.mkdir(parents=True)
    (path / "config.json").write_text(tiny_config().to_json())
    (path / "timings.json").write_text(json.dumps(timings))
    hardware = {"cpu": cpu, "logical_cores": 2, "gpus": []}
    (path / "provenance.json").write_text(json.dumps({"environment": {"hardware": hardware}}))


def test_a_fold_that_reused_a_published_run_is_counted_once(tmp_path: Path) -> None:
    _record(tmp_path / "full", {"phase2_train": 100.0, "export_convert": 10.0, "notebook_05_evaluation": 99.0})
    study = tmp_path / "cv-paper"
    _record(study, {"data_scan": 5.0})
    (study / FOLDS_FILE).write_text("file,label,fold\n")
    per_fold = [{"fold": 0, "reused_run": "full"}, {"fold": 1, "reused_run": None}]
    (study / "cv.json").write_text(json.dumps({"per_fold": per_fold}))
    _record(study / "fold-0", {"phase2_train": 100.0, "export_convert": 10.0})  # the published copy of `full`
    _record(study / "fold-1", {"phase1_train": 20.0, "phase2_train": 30.0})

    cv = record_budget(study)
    assert (cv["runs"], cv["folds"], cv["training"], cv["other"]) == (1, 2, 50.0, 5.0)
    assert cv["shared_folds"] == ["0: `results/full`"]
    rows = compute_budget_rows(tmp_path)
    assert "fold 0: `results/full`, counted there" in rows[0]["what"]
    assert rows[-1]["what"].startswith("2 training runs")  # fold 1 and the published run
    assert rows[-1]["training"] == "**2 min 30 s**" and rows[-1]["other steps"] == "15.0 s"
