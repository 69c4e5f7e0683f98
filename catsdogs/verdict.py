"""The verdict of the reproduction: the cross-validation study (published records,
tables, forest plot, the verdict on the paper's 98.9 % in words) and the claim-by-claim
reproduction summary at the top of the book.

Published studies live in ``results/<study>/`` with the layout of their run directory
(:mod:`catsdogs.cv`): ``config.json``, ``folds.csv``, ``fold_seconds.json``, ``cv.json``
and ``oof_predictions.csv`` once every fold is done, ``compare.json`` in the first study
of a comparison, and ``fold-<k>/`` with each fold's records and validation predictions
(published as each fold finishes, so a study that spans sessions loses nothing). Every
sentence and number on the book's page is computed here from those files.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from catsdogs.bootstrap import bootstrap_ci
from catsdogs.cv import FOLDS_FILE, OOF_FILE, CrossValidation, training_seconds
from catsdogs.dataset_audit import GALLERY_FILE, audit_verdict_line
from catsdogs.evaluate import PAPER_CLAIMS
from catsdogs.markdown import (
    METRICS,
    NOT_MEASURED,
    Row,
    Table,
    Text,
    duration,
    millions,
    paper_percent,
    percent,
    table_builder,
    with_ci,
)
from catsdogs.predict import read_predictions
from catsdogs.runs import Run, publish_records
from catsdogs.tables import NOT_REPORTED, final_result, hardware_text

#: The two pre-declared recipes of the study, in the order the book shows them.
STUDIES: dict[str, str] = {"cv-paper": "paper-faithful recipe", "cv-lr3e-5": "phase-2 LR 3e-5, 6 epochs"}
#: The accuracy the project set itself as a target.
TARGET = 0.99
#: The name of the published gallery of confirmed label errors among the book's figures.
GALLERY_FIGURE = "cv_label_errors.jpg"


def publish_study(study: CrossValidation, out: Path | str, figures: Path | str | None = None) -> list[Path]:
    """Copy a study's records (and each finished fold's records and predictions) into
    ``out/<study name>/``, machine paths made portable (:func:`catsdogs.runs.publish_records`).
    The split manifests are left out: ``folds.csv`` says which fold holds each image.
    The gallery of confirmed label errors is a picture, not a record: it goes to
    ``figures/`` as :data:`GALLERY_FIGURE` (the book's committed figures), if ``figures`` is given."""
    out = Path(out)
    dest = out / study.path.name
    written = publish_records(study.run, out, manifest=False)  # folds.csv lists the images
    for name in (FOLDS_FILE, OOF_FILE):
        if study.run.has(name):
            written.append(Path(shutil.copy2(study.path / name, dest / name)))
    if figures is not None and study.run.has(GALLERY_FILE):
        Path(figures).mkdir(parents=True, exist_ok=True)
        written.append(Path(shutil.copy2(study.path / GALLERY_FILE, Path(figures) / GALLERY_FIGURE)))
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
    study = CrossValidation.load(path)
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
                "seconds": seconds.get(str(k)) or training_seconds(fold.timings()),
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


def _position(ci: Mapping[str, float], value: float) -> str:
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
            "inside": f"the paper's {percent(paper)} lies inside this interval: **matched**",
            "above": f"the interval lies above the paper's {percent(paper)}: **beaten**",
            "below": f"the interval lies below the paper's {percent(paper)}: **missed**",
        }[_position(ci, paper)]
        target = "reaches" if ci["estimate"] >= TARGET else "does not reach"
        lines.append(
            f"- {label}: pooled out-of-fold accuracy {with_ci(ci, 2)} on "
            f"{study['cv']['images']:,} images (±{50 * (ci['high'] - ci['low']):.2f} pp); {where}. "
            f"It {target} our {percent(TARGET)} target."
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
        )
    audited = next((s for s in studies.values() if s.get("label_audit")), None)
    if audited:
        lines.append(audit_verdict_line(audited["label_audit"], STUDIES.get(audited["name"], audited["name"])))
    return Text("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------- the paper next to ours


def _training_seconds(timings: Mapping[str, float]) -> float | None:
    steps = [s for s in ("phase1_features", "phase1_train", "phase2_train") if s in timings]
    return sum(timings[s] for s in steps) if steps else None


def _latency(bench: Mapping[str, Any] | None, model: str) -> str:
    if not bench or model not in bench.get("models", {}):
        return NOT_MEASURED
    entry = bench["models"][model]
    return (
        f"{entry['single']['median_ms']:.1f} ms single image; "
        f"{entry['batched_per_image']['median_ms']:.1f} ms/image in batches of {bench['batch_size']}"
    )


@table_builder
def comparison_rows(run: Run) -> Table:
    """The paper's claims next to this run's float Keras model and its int8 TFLite export.

    Columns: ``quantity``, ``paper``, ``this reproduction (float Keras)``,
    ``int8 TFLite export``. A cell whose measuring step has not run (evaluation,
    ``python -m catsdogs export`` / ``bench``) reads :data:`NOT_MEASURED`.
    """
    ev, final = run.read_json_or_none("eval/metrics.json"), final_result(run)
    export, bench = run.read_json_or_none("export/export.json"), run.read_json_or_none("bench/bench.json")
    prov, timings = run.read_json_or_none("provenance.json") or {}, run.timings()
    int8 = (export or {}).get("exports", {}).get("tflite_int8")
    cols = ("paper", "this reproduction (float Keras)", "int8 TFLite export")

    def row(name: str, *cells: str) -> Row:
        return {"quantity": name, **dict(zip(cols, cells))}

    data = prov.get("data", {})
    rows = [
        row(
            "images used",
            f"{PAPER_CLAIMS['images']:,}",
            f"{data['usable_images']:,}" if data else NOT_MEASURED,
            "same validation split",
        )
    ]
    for key, label in METRICS.items():
        paper = paper_percent(PAPER_CLAIMS[key]) if key in PAPER_CLAIMS else NOT_REPORTED
        ours = with_ci(ev["ci95"][key]) if ev else NOT_MEASURED
        rows.append(row(label, paper, ours, percent(int8["val_metrics"][key]) if int8 else NOT_MEASURED))
    params = final["parameters"]["total"] if final else None
    rows.append(
        row(
            "parameters",
            f"≈{millions(PAPER_CLAIMS['parameters'])}",
            millions(params) if params else NOT_MEASURED,
            millions(export["parameters"]["total"]) if export else NOT_MEASURED,
        )
    )
    rows.append(
        row(
            "model file size",
            f"{PAPER_CLAIMS['file_size_mb']:.0f} MB",
            _keras_size(run, export),
            f"{int8['size_mb']:.1f} MB" if int8 else NOT_MEASURED,
        )
    )
    rows.append(
        row(
            "latency",
            f"≈{PAPER_CLAIMS['latency_ms_per_image']:.0f} ms/image",
            _latency(bench, "keras"),
            _latency(bench, "tflite_int8"),
        )
    )
    train_s = _training_seconds(timings)
    rows.append(
        row(
            "training time",
            NOT_REPORTED,
            duration(train_s) if train_s else NOT_MEASURED,
            f"+ {duration(timings['export_convert'])} conversion" if "export_convert" in timings else NOT_MEASURED,
        )
    )
    rows.append(
        row(
            "hardware",
            PAPER_CLAIMS["latency_hardware"],
            hardware_text(prov.get("environment", {}).get("hardware")),
            hardware_text(bench["hardware"]) if bench else NOT_MEASURED,
        )
    )
    return rows


def _keras_size(run: Run, export: Mapping[str, Any] | None) -> str:
    if export:
        return f"{export['exports']['keras']['size_mb']:.1f} MB"
    for phase in ("phase2", "phase1"):
        path = run.path / phase / "model.keras"
        if path.is_file():
            return f"{path.stat().st_size / 1e6:.1f} MB (training checkpoint, with optimizer state)"
    return NOT_MEASURED


# ----------------------------------------------------------------------------- claim by claim

REPRODUCED, NOT_REPRODUCED, NOT_TESTABLE = "reproduced", "not reproduced", "not testable here"


def _claim(claim: str, paper: str, ours: str, status: str, evidence: str) -> dict[str, str]:
    return {"claim": claim, "paper": paper, "this reproduction": ours, "verdict": f"**{status}**", "evidence": evidence}


def _accuracy_evidence(run: Run, studies: Mapping[str, Mapping[str, Any]]) -> tuple[dict, str, str] | None:
    """The strongest accuracy evidence available: the pooled out-of-fold estimate of the
    paper recipe, else the run's single validation split."""
    study = studies.get("cv-paper")
    if study and study["cv"]:
        return (
            study["cv"]["pooled_ci95"],
            f"{study['cv']['images']:,} out-of-fold images",
            "[Is 98.9 % reproducible?](reproducible.md)",
        )
    ev = run.read_json_or_none("eval/metrics.json")
    return (ev["ci95"], f"{ev['metrics']['n']:,} validation images", "[Results](results.md)") if ev else None


@table_builder
def claim_rows(run: Run, studies: Mapping[str, Mapping[str, Any]]) -> list[dict]:
    """Each claim of the paper with this reproduction's figure and a verdict computed from
    the records: a figure is *reproduced* when the paper's value lies inside (or below, for
    accuracy) our 95 % CI, or equals ours at the paper's precision."""
    P, rows = PAPER_CLAIMS, []
    evidence = _accuracy_evidence(run, studies)
    if evidence:
        ci, what, link = evidence
        acc = ci["accuracy"]
        status = NOT_REPRODUCED if _position(acc, P["accuracy"]) == "below" else REPRODUCED
        rows.append(_claim("validation accuracy", percent(P["accuracy"]), f"{with_ci(acc, 2)}, {what}", status, link))
        prf = [ci[k]["estimate"] for k in ("precision", "recall", "f1")]
        same = all(round(v, 2) == P[k] for v, k in zip(prf, ("precision", "recall", "f1")))
        rows.append(
            _claim(
                "precision / recall / F1",
                f"{P['precision']} / {P['recall']} / {P['f1']}",
                " / ".join(f"{v:.4f}" for v in prf),
                REPRODUCED if same else NOT_REPRODUCED,
                link,
            )
        )
    final = final_result(run)
    if final:
        ours = final["parameters"]["total"]
        close = abs(ours - P["parameters"]) / P["parameters"] < 0.05
        rows.append(
            _claim(
                "parameters",
                f"≈{P['parameters'] / 1e6:.1f} M",
                f"{ours / 1e6:.2f} M (binary model)",
                REPRODUCED if close else NOT_REPRODUCED,
                "[Results: parameters and size](results.md)",
            )
        )
    export = run.read_json_or_none("export/export.json")
    if export:
        size = export["exports"]["keras"]["size_mb"]
        rows.append(
            _claim(
                "model file size",
                f"{P['file_size_mb']:.0f} MB",
                f"{size:.1f} MB (Keras)",
                REPRODUCED if abs(size - P["file_size_mb"]) / P["file_size_mb"] < 0.05 else NOT_REPRODUCED,
                "[Results: parameters and size](results.md)",
            )
        )
    hardware = (run.read_json_or_none("provenance.json") or {}).get("environment", {}).get("hardware", {})
    bench = run.read_json_or_none("bench/bench.json")
    cpu = f"{bench['models']['tflite_int8']['single']['median_ms']:.1f} ms/image int8 on a CPU" if bench else "–"
    rows.append(
        _claim(
            "latency",
            f"≈{P['latency_ms_per_image']:.0f} ms/image, GPU",
            cpu,
            NOT_TESTABLE if not hardware.get("gpus") else NOT_REPRODUCED,
            "[Results](results.md)",
        )
    )
    robust = run.read_json_or_none("robustness/results.json")
    for name, claim in (
        ("low_light", "weak in poor lighting"),
        ("occlusion", "weak under partial occlusion"),
        ("grayscale", "weak on grayscale images"),
    ):
        if robust and name in robust["corruptions"]:
            c = robust["corruptions"][name]
            clean = {"low": c["accuracy_low"][0], "high": c["accuracy_high"][0], "estimate": c["accuracy"][0]}
            drop = _position(clean, c["accuracy"][-1]) == "above"  # the harshest level below the clean CI
            rows.append(
                _claim(
                    claim,
                    "named, not measured",
                    f"{percent(c['accuracy'][0])} → {percent(c['accuracy'][-1])}",
                    REPRODUCED if drop else NOT_REPRODUCED,
                    "[Limitations](limitations.md)",
                )
            )
    return rows


__all__ = [
    "STUDIES",
    "TARGET",
    "GALLERY_FIGURE",
    "REPRODUCED",
    "NOT_REPRODUCED",
    "NOT_TESTABLE",
    "publish_study",
    "load_study",
    "studies_of",
    "fold_rows",
    "forest_rows",
    "verdict_markdown",
    "claim_rows",
    "comparison_rows",
]
