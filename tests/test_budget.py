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
    environment = {"recorded_at": "2026-12-01T00:00:00+00:00", "python": "3.11", "hardware": hardware}
    (path / "provenance.json").write_text(json.dumps({"environment": environment}))


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
    assert (cv.runs, cv.folds, cv.training, cv.other) == (1, 2, 50.0, 5.0)
    assert cv.shared_folds == ["0: `results/full`"]
    rows = compute_budget_rows(tmp_path)
    assert "fold 0: `results/full`, counted there" in rows[0]["what"]
    assert rows[-1]["what"].startswith("2 trainings")  # fold 1 and the published run
    assert rows[-1]["training"] == "**2 min 30 s**" and rows[-1]["other steps"] == "15.0 s"
    assert "left no record" in rows[-1]["what"], "what the total cannot count is said"


def _phase2(path: Path, accuracy: float, sha: str) -> None:
    (path / "phase2").mkdir(parents=True, exist_ok=True)
    result = {"phase": "phase2", "parameters": {}, "val_metrics": {"accuracy": accuracy}, "model_sha256": sha}
    (path / "phase2" / "result.json").write_text(json.dumps(result))


def test_the_ablations_base_is_counted_once_from_its_record(tmp_path: Path) -> None:
    """The base run of the ablations left no directory, only its entry in ``ablation.json``:
    when that entry's accuracy is not the published run's, it is another training, counted
    with its recorded phase-2 time; when it is the published run, it is not counted twice."""
    _record(tmp_path / "full", {"phase2_train": 100.0})
    _phase2(tmp_path / "full", 0.9876, "a" * 64)
    base = {
        "run": "full",
        "final_accuracy": {"estimate": 0.9878, "low": 0.9846, "high": 0.9908},
        "phase2_seconds": 60.0,
    }
    (tmp_path / "full" / "ablation.json").write_text(json.dumps({"published_run": "full", "runs": [base]}))
    rows = compute_budget_rows(tmp_path)
    assert "the ablations' base" in rows[-2]["what"] and "98.78 %" in rows[-2]["what"]
    assert rows[-1]["what"].startswith("2 trainings") and rows[-1]["training"] == "**2 min 40 s**"

    base["final_accuracy"]["estimate"] = 0.9876  # the published run itself
    (tmp_path / "full" / "ablation.json").write_text(json.dumps({"published_run": "full", "runs": [base]}))
    rows = compute_budget_rows(tmp_path)
    assert rows[-1]["what"].startswith("1 training,") and rows[-1]["training"] == "**1 min 40 s**"
