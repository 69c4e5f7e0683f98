"""Comparing training recipes: phase-2 ablations on one split, and the paired
comparison of two cross-validation studies.

:func:`record_ablation` compares runs that share a data split (``train --from-run``)
and stores the comparison in the published run's ``ablation.json``. Two recipes validated on the same folds give every image two out-of-fold
predictions, one per recipe. Whether one recipe is more accurate is then a paired
question, answered with the exact McNemar test on the images where exactly one
recipe is right (a two-sided binomial test of those discordant pairs against
1/2, via :func:`scipy.stats.binomtest`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import binomtest

from catsdogs.config import setting_differences
from catsdogs.evaluation.bootstrap import bootstrap_ci
from catsdogs.evaluation.metrics import THRESHOLD_METRICS
from catsdogs.markdown import (
    NOT_MEASURED,
    Table,
    Text,
    duration,
    markdown_table,
    paper_percent,
    percent,
    table_builder,
    with_ci,
)
from catsdogs.runs import OOF_FILE, CVStudy, Run, read_oof, read_predictions
from catsdogs.studies.paper import PAPER_CLAIMS

#: Significance level of the pre-declared comparison.
ALPHA = 0.05


# ----------------------------------------------------------------------------- phase-2 ablations on one split


def record_ablation(run: Run, runs: Sequence[Run]) -> dict[str, Any]:
    """Compare ``runs`` (same data split; e.g. phase-2 variants made with
    ``train --from-run``) and store the comparison in ``run``'s ``ablation.json``.

    For each run: the config fields that differ from ``run``'s, validation metrics
    of phase 1 and of the final model with bootstrap 95% CIs, and training times.
    """
    entries = []
    for other in runs:
        cfg = other.config.training_dict()
        pred = read_predictions(other.final_predictions())
        ci = bootstrap_ci(
            pred["label"],
            pred["prob"],
            n_samples=run.config.bootstrap_samples,
            seed=run.config.seed,
            metric_names=THRESHOLD_METRICS,
        )
        phase1 = other.read_json_or_none("phase1/result.json")
        history = (other.read_json_or_none("phase2/result.json") or {}).get("history", {})
        timings = other.timings()
        entries.append(
            {
                "run": other.path.name,
                "differs": {k: v for k, (_, v) in setting_differences(run.config, other.config).items()},
                "settings": {k: cfg.get(k) for k in ("image_size", "fine_tune_from", "phase2_lr", "phase2_epochs")},
                "phase1_accuracy": phase1["val_metrics"]["accuracy"] if phase1 else None,
                "final_accuracy": ci["accuracy"],
                "final_f1": ci["f1"],
                "final_precision": ci["precision"],
                "final_recall": ci["recall"],
                "phase2_epochs_run": len(history.get("epoch", [])),
                "phase2_val_accuracy_by_epoch": history.get("val_accuracy", []),
                "phase2_seconds": timings.get("phase2_train"),
                "manifest_sha256": (other.read_json_or_none("data/scan.json") or {}).get("manifest_sha256"),
            }
        )
    shas = {e["manifest_sha256"] for e in entries}
    if len(shas) > 1:
        raise ValueError(
            "the runs do not share one validation split (manifest sha256 differs); "
            "compare runs made with `train --from-run`"
        )
    result = {"published_run": run.path.name, "runs": entries}
    run.write_json("ablation.json", result)
    return result


@table_builder
def ablation_rows(ablation: Mapping[str, Any], base_label: str = "published") -> Table:
    """One row per run of the ablation; the run the others are compared with is marked
    ``base_label``."""
    rows = []
    for e in ablation["runs"]:
        s = e["settings"]
        rows.append(
            {
                "run": e["run"] + (f" ({base_label})" if e["run"] == ablation["published_run"] else ""),
                "input (px)": str(s.get("image_size", "")),
                "unfrozen from": s["fine_tune_from"],
                "phase-2 LR": f"{s['phase2_lr']:g}",
                "phase-2 epochs": str(e["phase2_epochs_run"]),
                "val. accuracy (%) per phase-2 epoch": " → ".join(
                    f"{100 * a:.2f}" for a in e.get("phase2_val_accuracy_by_epoch", [])
                )
                or "–",
                "phase 1 accuracy": percent(e["phase1_accuracy"], 2),
                "final accuracy (95% CI)": with_ci(e["final_accuracy"], 2),
                "final precision / recall / F1": " / ".join(
                    f"{e[k]['estimate']:.4f}" if e.get(k) else "–"
                    for k in ("final_precision", "final_recall", "final_f1")
                ),
                "phase-2 time": duration(e["phase2_seconds"]) if e["phase2_seconds"] else NOT_MEASURED,
            }
        )
    return rows


def ablation_summary(ablation: Mapping[str, Any]) -> str:
    """The ablation in sentences: the best configuration next to the published
    (paper-faithful) one, against the paper, and how the differences between runs
    compare with the width of their confidence intervals."""
    runs = ablation["runs"]
    published = next(e for e in runs if e["run"] == ablation["published_run"])
    best = max(runs, key=lambda e: e["final_accuracy"]["estimate"])
    paper = PAPER_CLAIMS["accuracy"]

    def described(e: Mapping[str, Any]) -> str:
        changes = ", ".join(f"`{k}={v}`" for k, v in sorted(e["differs"].items()))
        return f"**{e['run']}**" + (f" ({changes})" if changes else "")

    def scores(e: Mapping[str, Any]) -> str:
        pr = " / ".join(f"{e[k]['estimate']:.4f}" for k in ("final_precision", "final_recall") if e.get(k))
        return with_ci(e["final_accuracy"], 2) + (f", precision / recall {pr}" if pr else "")

    accs = [e["final_accuracy"]["estimate"] for e in runs]
    half = [
        (e["final_accuracy"]["high"] - e["final_accuracy"]["low"]) / 2
        for e in runs
        if e["final_accuracy"].get("low") is not None
    ]
    covering = sum(
        e["final_accuracy"]["low"] <= paper <= e["final_accuracy"]["high"]
        for e in runs
        if e["final_accuracy"].get("low") is not None
    )
    lines = [f"The paper-faithful published run, {described(published)}: {scores(published)}."]
    if best is published or best["final_accuracy"]["estimate"] == published["final_accuracy"]["estimate"]:
        lines.append("No variant is more accurate.")
    else:
        lines.append(f"The most accurate configuration, {described(best)}: {scores(best)}.")
    lines.append(
        f"{covering} of {len(runs)} intervals contain the paper's {paper_percent(paper)}. "
        f"The runs differ by at most {100 * (max(accs) - min(accs)):.2f} percentage points, "
        + (f"while each interval spans about ±{100 * float(np.mean(half)):.2f}." if half else "")
    )
    return " ".join(lines) + "\n"


def ablation_markdown(ablation: Mapping[str, Any] | None, published: Mapping[str, float] | None = None) -> Text:
    """The ablation table and its summary, from an ``ablation.json`` record.

    ``published`` is the published run's accuracy (estimate and 95 % CI). When the
    ablation's base entry has another accuracy, the variants were forked from an earlier
    run of the same recipe: the table marks that run as their base and says so, with both
    figures, instead of calling it the published run."""
    if not ablation:
        return Text("*No ablation was recorded for this run (`python -m catsdogs ablation`).*\n")
    base = next(e for e in ablation["runs"] if e["run"] == ablation["published_run"])
    if published is None or abs(base["final_accuracy"]["estimate"] - published["estimate"]) < 1e-12:
        return Text(ablation_rows(ablation).markdown() + "\n" + ablation_summary(ablation))
    note = (
        f"The variants were forked from an earlier run of the published recipe (same settings and "
        f"split), marked *base* below, at {with_ci(base['final_accuracy'], 2)}; the published run repeats "
        f"that recipe, at {with_ci(published, 2)}. "
        "Each variant shares its data split and phase 1 with the base run.\n\n"
    )
    summary = ablation_summary(ablation).replace("The paper-faithful published run,", "The paper-faithful base run,")
    return Text(note + ablation_rows(ablation, base_label="base").markdown() + "\n" + summary)


# ----------------------------------------------------------------------------- cross-validated recipes


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, Any]:
    """Exact McNemar test of paired correctness vectors.

    Returns the 2x2 table ``[[both right, only a right], [only b right, both wrong]]``,
    the discordant counts and the two-sided exact p-value (``1.0`` when no pair is
    discordant).
    """
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired correctness vectors must be 1-D and equally long, got {a.shape} and {b.shape}")
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    discordant = only_a + only_b
    p = binomtest(only_a, discordant, 0.5).pvalue if discordant else 1.0
    return {
        "table": [[int(np.sum(a & b)), only_a], [only_b, int(np.sum(~a & ~b))]],
        "only_first_right": only_a,
        "only_second_right": only_b,
        "p_value": float(p),
    }


def verdict(difference: float, p_value: float, alpha: float = ALPHA) -> str:
    """The comparison in words, for the second recipe against the first."""
    if p_value >= alpha:
        return "no detectable difference"
    return "better" if difference > 0 else "worse"


#: Fold 0's validation images are the published split, on which the ablations (and so any
#: recipe picked from them) were scored: the comparison is also made without it.
SELECTION_FOLD = 0


def _paired(right_a: np.ndarray, right_b: np.ndarray, alpha: float) -> dict[str, Any]:
    """Both recipes' accuracy on the same images, the exact McNemar test and the verdict."""
    diff = float(right_b.mean() - right_a.mean())
    test = mcnemar_exact(right_a, right_b)
    return {
        "images": int(right_a.size),
        "accuracy": {"first": float(right_a.mean()), "second": float(right_b.mean()), "difference": diff},
        "mcnemar": test | {"test": "exact McNemar (two-sided binomial test of the discordant pairs)"},
        "verdict": verdict(diff, test["p_value"], alpha),
    }


def compare_studies(first: CVStudy, second: CVStudy, alpha: float = ALPHA) -> dict[str, Any]:
    """Paired comparison of two finished studies on the same folds; written to
    ``compare.json`` in ``first``'s directory. ``without_selection_fold`` repeats it
    without fold :data:`SELECTION_FOLD`, free of any choice made on that split.

    Raises
    ------
    ValueError
        If the studies do not hold the same images in the same folds.
    """
    a, b = (read_oof(s.path / OOF_FILE) for s in (first, second))
    if set(a["file"]) != set(b["file"]):
        raise ValueError(f"{first.path} and {second.path} do not hold the same images")
    position = {f: i for i, f in enumerate(b["file"])}
    b = {k: v[[position[f] for f in a["file"]]] for k, v in b.items()}
    if not np.array_equal(a["fold"], b["fold"]) or not np.array_equal(a["label"], b["label"]):
        raise ValueError(f"{first.path} and {second.path} do not use the same folds and labels")
    right_a = (a["prob"] >= 0.5) == (a["label"] == 1)
    right_b = (b["prob"] >= 0.5) == (b["label"] == 1)
    per_fold = []
    for k in np.unique(a["fold"]):
        sel = a["fold"] == k
        acc_a, acc_b = float(right_a[sel].mean()), float(right_b[sel].mean())
        per_fold.append({"fold": int(k), "first": acc_a, "second": acc_b, "difference": acc_b - acc_a})
    fresh = a["fold"] != SELECTION_FOLD
    result = {
        "first": first.path.name,
        "second": second.path.name,
        "first_settings": first.config.training_dict(),
        "differs": {k: v for k, (_, v) in setting_differences(first.config, second.config).items()},
        **_paired(right_a, right_b, alpha),
        "per_fold": per_fold,
        "folds_second_better": sum(f["difference"] > 0 for f in per_fold),
        "alpha": alpha,
        "without_selection_fold": {"fold": SELECTION_FOLD, **_paired(right_a[fresh], right_b[fresh], alpha)},
    }
    first.run.write_json("compare.json", result)
    return result


def comparison_markdown(compare: Mapping[str, Any] | None, names: Mapping[str, str] | None = None) -> Text:
    """The paired comparison (``compare.json``) as a table, each fold and the pooled
    out-of-fold accuracy of both studies and their difference, then the McNemar test and
    the verdict in words. ``names`` maps a study's directory name to what to call it."""
    if not compare:
        return Text("*No paired comparison yet: `python -m catsdogs compare <first> <second>` once both are done.*\n")
    name = {k: (names or {}).get(compare[k], compare[k]) for k in ("first", "second")}

    def row(fold: str, first: float, second: float) -> dict[str, str]:
        return {
            "fold": fold,
            name["first"]: percent(first, 2),
            name["second"]: percent(second, 2),
            "difference": f"{100 * (second - first):+.2f} pp",
        }

    rows = [row(str(f["fold"]), f["first"], f["second"]) for f in compare["per_fold"]]
    acc, m = compare["accuracy"], compare["mcnemar"]
    rows.append(row(f"**pooled** ({compare['images']:,} images)", acc["first"], acc["second"]))
    return Text(
        markdown_table(rows)
        + f"\n{name['second']} is better on {compare['folds_second_better']} of {len(compare['per_fold'])} folds. "
        + _discordant(m, name["first"], name["second"])
        + f" Verdict for {name['second']} against {name['first']} at α = {compare['alpha']}: **{compare['verdict']}**."
        + (
            f" {selection_sentence(compare, name['first'], name['second'])}"
            if "without_selection_fold" in compare
            else ""
        )
        + "\n"
    )


def _discordant(mcnemar: Mapping[str, Any], first: str, second: str) -> str:
    return (
        f"Images right with one recipe only: {mcnemar['only_second_right']} with {second}, "
        f"{mcnemar['only_first_right']} with {first}; exact McNemar p = {mcnemar['p_value']:.3g}."
    )


def selection_sentence(compare: Mapping[str, Any], first: str = "the first", second: str = "the second") -> str:
    """The comparison without the fold the ablations were scored on, in a few sentences."""
    fresh = compare["without_selection_fold"]
    return (
        f"Without fold {fresh['fold']}, the published split on which the ablations were scored "
        f"({fresh['images']:,} images): {100 * fresh['accuracy']['difference']:+.2f} pp. "
        + _discordant(fresh["mcnemar"], first, second)
        + f" Verdict there: **{fresh['verdict']}**."
    )


def compare_dirs(first: Path | str, second: Path | str) -> dict[str, Any]:
    return compare_studies(CVStudy.load(first), CVStudy.load(second))


__all__ = [
    "record_ablation",
    "ablation_rows",
    "ablation_summary",
    "ablation_markdown",
    "ALPHA",
    "mcnemar_exact",
    "verdict",
    "SELECTION_FOLD",
    "compare_studies",
    "selection_sentence",
    "compare_dirs",
    "comparison_markdown",
]
