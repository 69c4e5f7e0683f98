"""Every training behind a published figure, identified once.

A *training* is one model made by both phases: its identity is the sha256 of its final
model (``phase2/result.json``'s ``model_sha256``), and its record is the one directory under
``results/`` that holds it (a cross-validation fold that *is* a published run is listed once,
under that run). Each identity says where and when it was made (host, commit, date), so a
table that shows two trainings of one recipe on one split can say which is which, and the
spread between them is what it is: training and host variance, measured.

The ablations' base is the one training whose directory was not kept: ``ablation.json`` of
the published run records its figures, and where they differ from the published run's, it is
listed as its own training with what that record holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from catsdogs.config import Config
from catsdogs.files import read_json_or_none
from catsdogs.markdown import Table, percent, table_builder
from catsdogs.records import Ablation, Hardware, PhaseResult, Provenance
from catsdogs.runs import Run, training_seconds
from catsdogs.studies.ablation import base_is_published

#: Settings that do not make another recipe: what a run *measures* after training, and the
#: training seed (two seeds of one recipe on one split are the repeated trainings this
#: module exists to find).
EVALUATION_ONLY = frozenset({"profile", "robustness_per_class", "bootstrap_samples", "mitigation_epochs", "train_seed"})

#: Where the record of the ablations' base is, for the runs whose directory was not kept.
UNKEPT_BASE = "ablation.json"


@dataclass(frozen=True)
class Training:
    """One published training: its record (relative to ``results/``), the sha256 of its final
    model (``None`` for a training whose run directory was not kept), the scored split's
    manifest sha256, fold, recipe (:func:`_recipe_key`), accuracy on its scored split, training
    seconds, and where and when it was made (CPU, machine, commit, date)."""

    record: str
    model_sha256: str | None
    split: str | None
    fold: int
    recipe: tuple
    accuracy: float
    seconds: float | None
    cpu: str = "not recorded"
    machine: str = ""
    commit: str = ""
    recorded_at: str = ""


def _host(provenance: Provenance | None) -> dict[str, str]:
    """The :class:`Training` fields saying where and when: CPU, machine, commit, date."""
    env = provenance.environment if provenance else None
    if env is None:
        return {}
    hw = env.hardware or Hardware()
    platform = hw.platform or ""
    # the kernel build in the platform string (…-fc-v1045-…) tells two machines of one CPU name apart
    machine = next((p for p in platform.split("-") if p.startswith("v") and p[1:].isdigit()), "")
    return dict(
        cpu=hw.cpu or "not recorded",
        machine=machine,
        commit=((env.git.commit if env.git else None) or "")[:7],
        recorded_at=env.recorded_at[:10],
    )


def _recipe_key(config: Mapping[str, Any]) -> tuple:
    """What makes two trainings the same recipe on the same data: every training setting but
    :data:`EVALUATION_ONLY` and locations, as a hashable key."""
    fields = Config().training_dict()
    return tuple(sorted((k, repr(config.get(k, v))) for k, v in fields.items() if k not in EVALUATION_ONLY))


def _fold(record: Path, provenance: Provenance | None) -> int:
    """The fold a training validated on: its provenance says so, else its directory's name
    (``fold-K``, ``fold-K-seed-S``: folds that shared another study's phase 1 copied that
    provenance), else 0 (a single run validates on fold 0's split)."""
    fold = ((provenance.cross_validation if provenance else None) or {}).get("fold")
    if fold is not None:
        return int(fold)
    parts = record.name.split("-")
    return int(parts[1]) if parts[0] == "fold" and len(parts) > 1 and parts[1].isdigit() else 0


def _training_identity(record: Path | str, results: Path | str) -> Training | None:
    """One published training: its record (relative to ``results``), model sha256, the
    scored split's manifest sha256 (fold 0 of a study shares the published run's), host,
    commit, date, accuracy on its scored split and training seconds; ``None`` when
    ``record`` holds no finished phase 2."""
    record = Path(record)
    result = PhaseResult.in_dir(record, "phase2")
    if not result or result.val_metrics is None:
        return None
    prov = Provenance.in_dir(record)
    config = read_json_or_none(record / "config.json") or {}
    return Training(
        record=record.relative_to(results).as_posix(),
        model_sha256=result.model_sha256,
        split=prov.data.manifest_sha256 if prov and prov.data else None,
        fold=_fold(record, prov),
        recipe=_recipe_key(config),
        accuracy=result.val_metrics.accuracy,
        seconds=training_seconds(Run.load(record)),
        **_host(prov),
    )


def published_trainings(results: Path | str) -> list[Training]:
    """Every distinct training under ``results`` (single runs, then study folds), each once:
    a fold holding the same model as a run listed earlier is that run. The ablations' base
    is added from ``ablation.json`` when its figures are not the published run's."""
    results = Path(results)
    candidates = sorted(p for p in results.iterdir() if (p / "config.json").is_file())
    records = [p for p in candidates if not (p / "folds.csv").is_file()]
    records += [f for p in candidates if (p / "folds.csv").is_file() for f in sorted(p.glob("fold-*"))]
    seen: set[str] = set()
    out = []
    for record in records:
        identity = _training_identity(record, results)
        if identity is None or identity.model_sha256 in seen:
            continue
        seen.add(identity.model_sha256)
        out.append(identity)
    out += unkept_trainings(results, out)
    return out


def unkept_trainings(results: Path | str, known: Sequence[Training] | None = None) -> list[Training]:
    """The trainings a published record names but whose run directory was not kept: the
    ablations' base, when ``ablation.json``'s figures for it are not the published run's."""
    results = Path(results)
    if known is None:
        known = [t for p in sorted(results.iterdir()) if (t := _training_identity(p, results))]
    for record in sorted(results.iterdir()):
        ablation = Ablation.in_dir(record)
        published = next((t for t in known if t.record == record.name), None)
        has_base = ablation is not None and any(e.run == ablation.published_run for e in ablation.runs)
        if not has_base or not published or base_is_published(ablation, published.accuracy):
            continue
        base = ablation.base
        return [
            replace(
                published,
                record=f"{record.name}/{UNKEPT_BASE}",
                model_sha256=None,
                split=base.manifest_sha256,
                fold=0,
                accuracy=base.final_accuracy.estimate,
                seconds=base.phase2_seconds,
                cpu="not recorded",
                machine="",
                commit="",
                recorded_at="",
            )
        ]
    return []


def spread(group: Sequence[Training]) -> float:
    """How far apart the trainings of one group landed: max − min accuracy."""
    return max(t.accuracy for t in group) - min(t.accuracy for t in group)


def repeated_trainings(trainings: Sequence[Training]) -> list[list[Training]]:
    """Groups of two or more distinct trainings of one recipe on one split, in listing order."""
    groups: dict[tuple, list[Training]] = {}
    for t in trainings:
        groups.setdefault((t.recipe, t.split), []).append(t)
    return [g for g in groups.values() if len(g) > 1]


@table_builder
def repeated_rows(groups: Sequence[Sequence[Training]], names: Mapping[str, str]) -> Table:
    """One row per training of each repeated group: which record, where and when it was made,
    its accuracy, and the group's spread (max − min) on its first row. ``names`` labels a
    group by the first record's top folder (e.g. ``{"full": "paper-faithful"}``)."""
    rows = []
    for group in groups:
        apart = spread(group)
        top = group[0].record.split("/")[0]
        for i, t in enumerate(group):
            unkept = t.model_sha256 is None  # the ablations' base: a record entry, no run directory
            made = [t.cpu.replace("(R)", "") + (f" ({t.machine})" if t.machine else ""), t.commit, t.recorded_at]
            rows.append(
                {
                    "recipe, split": f"{names.get(top, top)}, fold {t.fold}" if i == 0 else "",
                    "record": f"`results/{t.record}`" + (" (base)" if unkept else ""),
                    "made on": ", ".join(x for x in made if x and x != "not recorded")
                    or ("not recorded: its run directory was not kept" if unkept else "not recorded"),
                    "accuracy": percent(t.accuracy, 2),
                    "spread": f"{100 * apart:.2f} pp" if i == 0 else "",
                }
            )
    return rows


__all__ = [
    "EVALUATION_ONLY",
    "UNKEPT_BASE",
    "Training",
    "published_trainings",
    "unkept_trainings",
    "spread",
    "repeated_trainings",
    "repeated_rows",
]
