"""The compute budget of everything published: the seconds each record's run directories
recorded for their steps, summed per study, with the hardware they ran on; every training
counted once (:mod:`catsdogs.studies.trainings`), the ablations' base too, from the figures
its record keeps. Trainings that left no record (failed, repeated or replaced ones) cannot be
counted, and the table says so.

Counted: every step a run times (``timings.json``): data scan, phase-1 features and head,
phase 2, the mitigation fine-tune, predictions, exports. Not counted: steps a run took over
from another (``forked_from`` in its provenance: the ablations share their base run's
data and phase 1), a cross-validation fold that reused a run published beside the study
(counted with that run), and the chapters' own execution times (``notebook_*``), which enclose
steps already counted (a chapter that trains records the training as its own step).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from catsdogs.config import project_dir
from catsdogs.markdown import Table, duration, hardware_text, percent, table_builder
from catsdogs.provenance import recorded_hardware
from catsdogs.records import CVSummary, Provenance
from catsdogs.runs import FOLDS_FILE, Run
from catsdogs.studies.cv_report import STUDY_NAMES
from catsdogs.studies.trainings import unkept_trainings

#: Step-name prefixes of the two training phases.
PHASE_STEPS = ("phase1_", "phase2_train")
#: Step-name prefixes of the training steps (the rest of a run's steps is evaluation and export).
TRAINING_STEPS = (*PHASE_STEPS, "mitigation_train", "mitigation_control_train")


def _run_seconds(run: Run) -> tuple[float, float]:
    """Seconds a run directory recorded for its own steps: ``(training, other)``."""
    prov = run.provenance
    shared = tuple((prov.forked_from or {}).get("shared", []) if prov else ())
    training = other = 0.0
    for step, seconds in run.timings().items():
        if step.startswith("notebook_") or (shared and step.startswith(shared)):
            continue
        if step.startswith(TRAINING_STEPS):
            training += float(seconds)
        else:
            other += float(seconds)
    return training, other


@dataclass(frozen=True)
class RecordBudget:
    """What one published record cost: its trainings (``runs``; a study's folds, of which
    ``shared_folds`` are counted with the run they reused), their training and other seconds
    and the hardware they ran on."""

    record: str
    runs: int
    folds: int
    shared_folds: list[str]
    forked: bool
    is_study: bool
    training: float
    other: float
    hardware: list[str]


def record_budget(path: Path) -> RecordBudget:
    """One published record (a run, or a cross-validation study and its folds): its runs,
    their seconds and hardware."""
    runs = sorted(p for p in path.glob("fold-*") if p.is_dir()) if (path / FOLDS_FILE).is_file() else []
    # a fold that reused a run published beside the study (fold 0 = results/full) is counted there, once
    cv = CVSummary.in_dir(path)
    reused = {
        f"fold-{f.fold}": f"{f.fold}: `results/{f.reused_run}`"
        for f in (cv.per_fold if cv else [])
        if f.reused_run and (path.parent / f.reused_run / "config.json").is_file()
    }
    folds = len(runs)
    runs = [r for r in runs if r.name not in reused]
    dirs = [path, *runs]
    training = other = 0.0
    hardware = []
    for d in dirs:
        seconds = _run_seconds(Run.load(d))
        training, other = training + seconds[0], other + seconds[1]
        hw = recorded_hardware(d)
        if hw and hardware_text(hw) not in hardware:
            hardware.append(hardware_text(hw))
    prov = Provenance.in_dir(path)
    forked = bool(prov and prov.forked_from)
    n_runs = len(runs) if (path / FOLDS_FILE).is_file() else 1
    return RecordBudget(
        record=path.name,
        runs=n_runs,
        folds=folds,
        shared_folds=sorted(reused.values()),
        forked=forked,
        is_study=(path / FOLDS_FILE).is_file(),
        training=training,
        other=other,
        hardware=hardware,
    )


def _what(record: RecordBudget) -> str:
    name = record.record
    if record.is_study:
        shared = "".join(f"; fold {s}, counted there" for s in record.shared_folds)
        what = STUDY_NAMES.get(name, f"`{name}`")
        n = record.folds
        return f"cross-validation, {what} ({n} training{'s' if n != 1 else ''}{shared})"
    if name == "full":
        return "the published run (both phases, mitigation, exports)"
    return "ablation" + (" (phase 2; phase 1 shared with its base run)" if record.forked else " (both phases)")


@table_builder
def compute_budget_rows(results: Path | str | None = None) -> Table:
    """The compute budget table: one row per published record under ``results/`` and a
    total, the wall-clock time of its recorded steps (training, and the rest) with the
    hardware it ran on."""
    results = Path(results or project_dir() / "results")
    records = [record_budget(p) for p in sorted(results.iterdir()) if (p / "config.json").is_file()]
    rows: list[Mapping[str, str]] = [
        {
            "record": f"`results/{r.record}`",
            "what": _what(r),
            "training": duration(r.training),
            "other steps": duration(r.other),
            "hardware": "; ".join(r.hardware) or "not recorded",
        }
        for r in records
    ]
    unkept = unkept_trainings(results)
    rows += [
        {
            "record": f"`results/{t.record.split('/')[0]}`",
            "what": f"the ablations' base: an earlier training of the published recipe on the same split "
            f"({percent(t.accuracy, 2)}), its run directory not kept; its phase 2 as "
            "`ablation.json` records it, its phase 1 not recorded",
            "training": duration(t.seconds) if t.seconds else "not recorded",
            "other steps": "not recorded",
            "hardware": "not recorded",
        }
        for t in unkept
    ]
    train = sum(r.training for r in records) + sum(t.seconds or 0.0 for t in unkept)
    other = sum(r.other for r in records)
    runs = sum(r.runs for r in records) + len(unkept)
    rows.append(
        {
            "record": "**total**",
            "what": f"{runs} training{'s' if runs != 1 else ''}, **{duration(train + other)}** wall-clock in all; trainings that left "
            "no record (stopped, failed or replaced ones) are not in it",
            "training": f"**{duration(train)}**",
            "other steps": duration(other),
            "hardware": "",
        }
    )
    return rows


__all__ = ["PHASE_STEPS", "TRAINING_STEPS", "RecordBudget", "record_budget", "compute_budget_rows"]
