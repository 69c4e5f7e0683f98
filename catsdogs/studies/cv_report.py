"""The verdict of the reproduction: the cross-validation study (published records,
tables, forest plot, the verdict on the paper's 98.9 % in words). The claim-by-claim
summary built on it is :mod:`catsdogs.studies.claims`.

Published studies live in ``results/<study>/`` with the layout of their run directory
(:mod:`catsdogs.training.cv`): ``config.json``, ``folds.csv``, ``fold_seconds.json``, ``cv.json``
and ``oof_predictions.csv`` once every fold is done, ``compare.json`` in the first study
of a comparison, and ``fold-<k>/`` with each fold's records and validation predictions
(published as each fold finishes, so a study that spans sessions loses nothing). Every
sentence and number on the book's page is computed from those files, here and in
:mod:`catsdogs.studies.ablation` (the paired comparison) and :mod:`catsdogs.studies.label_audit`.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from catsdogs.config import project_dir
from catsdogs.evaluation.bootstrap import bootstrap_ci
from catsdogs.markdown import Text, duration, percent, table_builder, with_ci
from catsdogs.runs import FOLDS_FILE, OOF_FILE, CVStudy, Run, publish_records, read_predictions, training_seconds
from catsdogs.studies.ablation import selection_sentence
from catsdogs.studies.label_audit import GALLERY_FILE, audit_verdict_line
from catsdogs.studies.paper import PAPER_CLAIMS
from catsdogs.studies.verdicts import REPRODUCED, judge_accuracy, paper_validation_size

#: The two pre-declared recipes of the study, in the order the book shows them.
STUDIES: dict[str, str] = {"cv-paper": "paper-faithful recipe", "cv-lr3e-5": "LR 3e-5 recipe"}


def gallery_figure(study: str) -> str:
    """The file name of a study's gallery of confirmed label errors among the book's figures."""
    return f"{study}_label_errors.jpg"


def book_figures_dir() -> Path:
    """Where the published book's generated pages and figures are committed."""
    return project_dir() / "book" / "_generated"


def publish_study(study: CVStudy, out: Path | str, figures: Path | str | None = None) -> list[Path]:
    """Copy a study's records (and each finished fold's records and predictions) into
    ``out/<study name>/``, machine paths made portable (:func:`catsdogs.runs.publish_records`).
    The split manifests are left out: ``folds.csv`` says which fold holds each image.
    The gallery of confirmed label errors is a picture, not a record: it goes to
    ``figures/`` (the book's committed figures) as :func:`gallery_figure`, if ``figures`` is given."""
    out = Path(out)
    dest = out / study.path.name
    written = publish_records(study.run, out, manifest=False)  # folds.csv lists the images
    for name in (FOLDS_FILE, OOF_FILE):
        if study.run.has(name):
            written.append(Path(shutil.copy2(study.path / name, dest / name)))
    if figures is not None and study.run.has(GALLERY_FILE):
        Path(figures).mkdir(parents=True, exist_ok=True)
        written.append(Path(shutil.copy2(study.path / GALLERY_FILE, Path(figures) / gallery_figure(study.path.name))))
    for k in range(study.n_folds):
        if study.run_done(k):
            fold = study.fold_run(k)
            written += publish_records(fold, dest, manifest=False)
            target = dest / f"fold-{k}" / "phase2" / "predictions_val.csv"
            written.append(Path(shutil.copy2(fold.path / "phase2" / "predictions_val.csv", target)))
    return written


def load_study(path: Path | str, n_samples: int = 1000, seed: int = 42) -> dict[str, Any] | None:
    """A (published or running) study: ``cv.json`` if complete, ``compare.json`` if any,
    and every finished fold's accuracy with a bootstrap 95 % CI; ``None`` when ``path``
    holds no study."""
    if not (Path(path) / FOLDS_FILE).is_file():
        return None
    study = CVStudy.load(path)
    seconds = study.fold_seconds()
    folds = []
    for k in range(study.n_folds):
        if not study.run_done(k) or not (study.fold_dir(k) / "phase2" / "predictions_val.csv").is_file():
            continue
        fold = study.fold_run(k)
        pred = read_predictions(fold.path / "phase2" / "predictions_val.csv")
        ci = bootstrap_ci(pred["label"], pred["prob"], n_samples=n_samples, seed=seed, metric_names=("accuracy",))
        folds.append(
            {
                "fold": k,
                "n": int(pred["label"].size),
                "accuracy": ci["accuracy"],
                "phase1_accuracy": (fold.read_json_or_none("phase1/result.json") or {})
                .get("val_metrics", {})
                .get("accuracy"),
                "epochs": fold.read_json("phase2/result.json")["history"].get("val_accuracy", []),
                "seconds": max(seconds.get(str(k), 0.0), training_seconds(fold)),  # the wall time misses killed runs
            }
        )
    return {
        "name": study.path.name,
        "n_folds": study.n_folds,
        "folds": folds,
        "cv": study.run.read_json_or_none("cv.json"),
        "compare": study.run.read_json_or_none("compare.json"),
        "label_audit": study.run.read_json_or_none("label_audit_summary.json"),
    }


def studies_of(run: Run, root: Path | str) -> dict[str, dict[str, Any]]:
    """The published studies of the run's profile under ``root`` (the project's
    ``results/``): only the full profile has them."""
    if run.config.profile != "full":
        return {}
    loaded = {name: load_study(Path(root) / name, run.config.bootstrap_samples, run.config.seed) for name in STUDIES}
    return {name: s for name, s in loaded.items() if s is not None}


@table_builder
def fold_rows(studies: Mapping[str, Mapping[str, Any]]) -> list[dict[str, str]]:
    rows = []
    for name, study in studies.items():
        for f in study["folds"]:
            rows.append(
                {
                    "recipe": STUDIES.get(name, name),
                    "fold": str(f["fold"]),
                    "images": f"{f['n']:,}",
                    "phase 1": percent(f["phase1_accuracy"], 2),
                    "after each phase-2 epoch (%)": " → ".join(f"{100 * a:.2f}" for a in f["epochs"]),
                    "final accuracy (95 % CI)": with_ci(f["accuracy"], 2),
                    "wall time": duration(f["seconds"]) if f["seconds"] else "–",
                }
            )
        missing = study["n_folds"] - len(study["folds"])
        if missing:
            rows.append(
                {
                    "recipe": STUDIES.get(name, name),
                    "fold": f"{missing} more",
                    "final accuracy (95 % CI)": "not finished yet",
                }
            )
    return rows


def forest_rows(studies: Mapping[str, Mapping[str, Any]], published: Mapping[str, Any] | None) -> list[dict]:
    """Rows of :func:`catsdogs.plots.forest_plot`: the published single-split run, then
    each study's folds and its pooled out-of-fold estimate."""
    rows = []
    if published:
        rows.append(
            {
                "label": "published run (fold 0's split)",
                "group": "published single split",
                **published["ci95"]["accuracy"],
            }
        )
    for name, study in studies.items():
        group = STUDIES.get(name, name)
        rows += [{"label": f"{group}: fold {f['fold']}", "group": group, **f["accuracy"]} for f in study["folds"]]
        if study["cv"]:
            rows.append(
                {
                    "label": f"{group}: pooled, {study['cv']['images']:,} images",
                    "group": group,
                    "pooled": True,
                    **study["cv"]["pooled_ci95"]["accuracy"],
                }
            )
    return rows


def ci_position(ci: Mapping[str, float], value: float) -> str:
    """Where the interval lies relative to ``value``: ``inside``, ``below`` or ``above``."""
    if ci["low"] <= value <= ci["high"]:
        return "inside"
    return "below" if ci["high"] < value else "above"


def verdict_markdown(studies: Mapping[str, Mapping[str, Any]]) -> Text:
    """The verdict in plain words, or what is still missing for it."""
    paper = PAPER_CLAIMS["accuracy"]
    if not studies:
        return Text(
            "*No cross-validation study is published for this profile (`python -m catsdogs cv --profile full`).*\n"
        )
    lines = []
    for name, study in studies.items():
        label = f"**{STUDIES.get(name, name)}**"
        if not study["cv"]:
            lines.append(
                f"- {label}: {len(study['folds'])} of {study['n_folds']} folds finished; no pooled estimate yet."
            )
            continue
        ci = study["cv"]["pooled_ci95"]["accuracy"]
        where = {
            "inside": f"the paper's {percent(paper)} lies inside this interval",
            "above": f"the interval lies above the paper's {percent(paper)}",
            "below": f"the interval lies below the paper's {percent(paper)}",
        }[ci_position(ci, paper)]
        fair, _, diff = judge_accuracy(ci, paper, paper_validation_size())
        lines.append(
            f"- {label}: pooled out-of-fold accuracy {with_ci(ci, 2)} on "
            f"{study['cv']['images']:,} images (±{50 * (ci['high'] - ci['low']):.2f} pp); {where}. "
            f"Against the paper's own sampling error ({paper_validation_size():,} validation images "
            f"assumed) the difference is {100 * diff['estimate']:+.2f} pp (95 % CI "
            f"{100 * diff['low']:+.2f} to {100 * diff['high']:+.2f}): **{fair}**"
            + ("" if fair == REPRODUCED else ", ours is significantly lower")
            + "."
        )
    compare = next((s["compare"] for s in studies.values() if s["compare"]), None)
    if compare:
        m = compare["mcnemar"]
        lines.append(
            f"- **Paired comparison** ({compare['second']} against {compare['first']}, the same "
            f"{compare['images']:,} images): {100 * compare['accuracy']['difference']:+.2f} pp, "
            f"{m['only_second_right']} images right only with the second recipe and "
            f"{m['only_first_right']} only with the first; exact McNemar p = {m['p_value']:.3g}: "
            f"**{compare['verdict']}** at α = {compare['alpha']}."
            + (
                f" {selection_sentence(compare, 'the first recipe', 'the second recipe')}"
                if "without_selection_fold" in compare
                else ""
            )
        )
    audited = next((s for s in studies.values() if s.get("label_audit")), None)
    if audited:
        lines.append(audit_verdict_line(audited["label_audit"], STUDIES.get(audited["name"], audited["name"])))
    return Text("\n".join(lines) + "\n")


__all__ = [
    "STUDIES",
    "gallery_figure",
    "book_figures_dir",
    "publish_study",
    "load_study",
    "studies_of",
    "fold_rows",
    "forest_rows",
    "ci_position",
    "verdict_markdown",
]
