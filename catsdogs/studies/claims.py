"""The paper's claims next to this reproduction's figures: the comparison table of the
results page (:func:`comparison_rows`) and the claim-by-claim reproduction summary at the
top of the book (:func:`claim_rows`), each verdict computed from the published records
(the run, and the cross-validation studies of :mod:`catsdogs.studies.cv_report`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from catsdogs.evaluation.metrics import SHOWN_METRICS
from catsdogs.markdown import (
    NOT_MEASURED,
    NOT_REPORTED,
    Row,
    Table,
    duration,
    hardware_text,
    millions,
    paper_percent,
    percent,
    table_builder,
    with_ci,
)
from catsdogs.runs import Run
from catsdogs.studies.cv_report import STUDIES, ci_position
from catsdogs.studies.generalization import NOT_TESTABLE, claim_status
from catsdogs.studies.paper import PAPER_CLAIMS

# ----------------------------------------------------------------------------- the paper next to ours


@table_builder
def paper_claim_rows() -> Table:
    """The paper's headline figures (:data:`catsdogs.studies.paper.PAPER_CLAIMS`)."""
    P = PAPER_CLAIMS
    return [
        {"claim": "images (PetImages, both classes)", "paper": f"{P['images']:,}"},
        {"claim": "validation accuracy", "paper": paper_percent(P["accuracy"])},
        {"claim": "precision / recall / F1", "paper": f"{P['precision']} / {P['recall']} / {P['f1']}"},
        {"claim": "parameters", "paper": f"≈{millions(P['parameters'])}"},
        {"claim": "model file size", "paper": f"{P['file_size_mb']:.0f} MB"},
        {"claim": "inference latency", "paper": f"≈{P['latency_ms_per_image']:.0f} ms/image, {P['latency_hardware']}"},
    ]


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
    ev, final = run.read_json_or_none("eval/metrics.json"), run.final_result()
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
    for key, label in SHOWN_METRICS.items():
        paper = paper_percent(PAPER_CLAIMS[key]) if key in PAPER_CLAIMS else NOT_REPORTED
        # a metric added after a record was made is "not measured" there, not an error
        ours = with_ci(ev["ci95"][key]) if ev and key in ev["ci95"] else NOT_MEASURED
        theirs = percent(int8["val_metrics"][key]) if int8 and key in int8["val_metrics"] else NOT_MEASURED
        rows.append(row(label, paper, ours, theirs))
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

REPRODUCED, NOT_REPRODUCED = "reproduced", "not reproduced"


def _claim(claim: str, paper: str, ours: str, status: str, evidence: str) -> dict[str, str]:
    return {"claim": claim, "paper": paper, "this reproduction": ours, "verdict": f"**{status}**", "evidence": evidence}


def _accuracy_evidence(run: Run, studies: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, dict, str, str]]:
    """The strongest accuracy evidence available, as (recipe, CIs, images, link): the pooled
    out-of-fold estimate of each finished study (the paper-faithful recipe first), else the
    run's single validation split."""
    link = "[Is 98.9 % reproducible?](reproducible.md)"
    compare = next((s["compare"] for s in studies.values() if s["compare"]), None) or {}
    fresh = compare.get("without_selection_fold")

    def images(name: str, study: Mapping[str, Any]) -> str:
        what = f"{study['cv']['images']:,} out-of-fold images"
        if fresh and name == compare["second"]:  # a recipe picked on fold 0: the figure without it too
            what += f" ({percent(fresh['accuracy']['second'], 2)} without fold {fresh['fold']}, where it was picked)"
        return what

    pooled = [
        (STUDIES.get(name, name), s["cv"]["pooled_ci95"], images(name, s), link)
        for name, s in studies.items()
        if s["cv"]
    ]
    if pooled:
        return pooled
    ev = run.read_json_or_none("eval/metrics.json")
    return [("", ev["ci95"], f"{ev['metrics']['n']:,} validation images", "[Results](results.md)")] if ev else []


@table_builder
def claim_rows(
    run: Run, studies: Mapping[str, Mapping[str, Any]], generalization: Mapping[str, Any] | None = None
) -> list[dict]:
    """Each claim of the paper with this reproduction's figure and a verdict computed from
    the records: a figure is *reproduced* when the paper's value lies inside (or below, for
    accuracy) our 95 % CI, or equals ours at the paper's precision. The paper gives no
    learning rate or epochs, so each pre-declared recipe of the study gets its own accuracy
    and precision / recall / F1 rows. ``generalization`` is the published models'
    :func:`~catsdogs.studies.generalization.generalization_summary` (its rule in that module)."""
    P, rows = PAPER_CLAIMS, []
    for recipe, ci, what, link in _accuracy_evidence(run, studies):
        acc, of = ci["accuracy"], f" ({recipe})" if recipe else ""
        status = NOT_REPRODUCED if ci_position(acc, P["accuracy"]) == "below" else REPRODUCED
        rows.append(
            _claim(f"validation accuracy{of}", percent(P["accuracy"]), f"{with_ci(acc, 2)}, {what}", status, link)
        )
        prf = [ci[k]["estimate"] for k in ("precision", "recall", "f1")]
        same = all(round(v, 2) == P[k] for v, k in zip(prf, ("precision", "recall", "f1")))
        rows.append(
            _claim(
                f"precision / recall / F1{of}",
                f"{P['precision']} / {P['recall']} / {P['f1']}",
                " / ".join(f"{v:.4f}" for v in prf),
                REPRODUCED if same else NOT_REPRODUCED,
                link,
            )
        )
    final = run.final_result()
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
    if generalization is not None:
        ours, status = claim_status(generalization)
        rows.append(
            _claim(
                "strong generalization",
                "claimed, not measured",
                ours,
                status,
                "[Beyond PetImages](generalization.md)",
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
            drop = ci_position(clean, c["accuracy"][-1]) == "above"  # the harshest level below the clean CI
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
    "REPRODUCED",
    "NOT_REPRODUCED",
    "paper_claim_rows",
    "comparison_rows",
    "claim_rows",
]
