"""What each chapter showed, stated from the run's records.

Every chapter ends with a *What this chapter showed* section whose list is the output of
:func:`chapter_findings`: the chapter's findings with the figures its records hold, so they
change with the run as the chapter's tables do. A record the chapter has not written yet is
said to be missing rather than guessed. The *Next* section that follows is the notebook's
own text.
"""

from __future__ import annotations

from collections.abc import Callable

from catsdogs.markdown import Text, and_list, percent, with_ci
from catsdogs.report.tables import mitigation_summary
from catsdogs.runs import Run
from catsdogs.studies.corruptions import PAPER_LIMITATIONS, STUDY_TITLES
from catsdogs.studies.paper import paper_figure


def _missing(what: str, chapter: str) -> str:
    return f"{what}: not recorded in this run yet (run chapter {chapter})."


def _dataset(run: Run) -> list[str]:
    scan = run.scan
    if not scan:
        return [_missing("The dataset", "01")]
    per_class, train, val = scan.per_class, scan.split["train"], scan.split["val"]
    kept = (
        f"All {scan.examined:,} files were readable images"
        if not scan.skipped
        else f"{scan.skipped:,} of {scan.examined:,} files were skipped as unreadable"
    )
    balance = "as many cats as dogs" if per_class["cat"] == per_class["dog"] else "close to balanced"
    return [
        f"{kept}: {per_class['cat']:,} cats and {per_class['dog']:,} dogs, {balance}.",
        f"The seeded, stratified split trains on {train.total:,} images and validates on "
        f"{val.total:,} ({val.cat:,} cats, {val.dog:,} dogs): each "
        "class in the same proportion in both.",
    ]


def _augmentation(run: Run) -> list[str]:
    cfg = run.config
    parts = [
        name
        for flag, name in (
            (cfg.augment_flip, "horizontal flips"),
            (cfg.augment_rotation, f"rotations of up to {cfg.augment_rotation:g} of a turn"),
            (cfg.augment_zoom, f"zooms of up to {percent(cfg.augment_zoom, 0)}"),
        )
        if flag
    ]
    lines = [
        f"Training images are augmented with {and_list(parts) or 'nothing'}, drawn anew for every "
        "image in every epoch; validation images are never augmented.",
    ]
    if not cfg.augment_robust:
        lines.append(
            "None of these transforms changes brightness or colour, or hides part of the animal: the "
            "conditions the paper names as weaknesses are not in training (chapter 6 measures them)."
        )
    return lines


def _epochs(n: int) -> str:
    return f"{n} epoch{'s' if n != 1 else ''}"


def _phase1(run: Run) -> list[str]:
    result = run.result("phase1")
    if not result:
        return [_missing("Phase 1", "03")]
    params, metrics = result.parameters, result.val_metrics
    kept = result.kept_epoch
    wrong = round((1 - metrics.accuracy) * metrics.n)
    return [
        f"With the ImageNet base frozen, training only the head ({params.trainable:,} of "
        f"{params.total:,} parameters) for {_epochs(result.epochs_run)}"
        + (f", keeping epoch {kept}'s weights," if kept else "")
        + f" reaches {percent(metrics.accuracy, 2)} validation accuracy.",
        f"{wrong:,} of the {metrics.n:,} validation images are still misclassified after phase 1; "
        "phase 2 starts from there.",
    ]


def _phase2(run: Run) -> list[str]:
    one, two = run.result("phase1"), run.result("phase2")
    if not two:
        return [_missing("Phase 2", "04")]
    unfrozen, params = two.unfrozen, two.parameters
    lines = [
        f"Fine-tuning {unfrozen.n_unfrozen} weighted layers from `{unfrozen.first_layer}` on "
        f"({params.trainable:,} trainable parameters) for {_epochs(two.epochs_run)} gives "
        f"{percent(two.val_metrics.accuracy, 2)} validation accuracy"
        + (f", from {percent(one.val_metrics.accuracy, 2)} after phase 1." if one else ".")
    ]
    if run.config.monitored_split == "val":
        lines.append(
            "The validation split also chose the epochs kept (early stopping restores the best), so "
            "these figures lean optimistic; the cross-validation page measures by how much."
        )
    else:
        lines.append(
            f"Early stopping watched the {run.config.monitored_split} split, carved from the training "
            "images, so the validation split chose nothing."
        )
    return lines


def _evaluation(run: Run) -> list[str]:
    ev = run.evaluation
    if not ev:
        return [_missing("The evaluation", "05")]
    f1 = ev.ci95["f1"]
    lines = [
        f"Validation accuracy {with_ci(ev.accuracy, 2)} on {ev.metrics.n:,} images, against the "
        f"paper's {paper_figure('accuracy')}; F1 {with_ci(f1, 2)} against its {paper_figure('f1')}.",
    ]
    export = run.export
    if export:
        int8 = export.int8
        lines.append(
            f"The int8 TFLite export is {int8.size_mb:.2f} MB and agrees with the Keras model on "
            f"{percent(int8.agreement_with_keras, 2)} of the validation images."
        )
    bench = run.bench
    if bench:
        hardware = bench.hardware
        where = f"{hardware.cpu or 'an unnamed CPU'}, {hardware.logical_cores or '?'} logical cores"
        if hardware.gpus:
            where += f", GPU {', '.join(map(str, hardware.gpus))}"
        lines.append(
            f"One image takes {bench.keras.single.median_ms:.0f} ms with Keras and "
            f"{bench.int8.single.median_ms:.0f} ms with the int8 export (medians, {where}; "
            f"the paper gives {paper_figure('latency_ms_per_image')} ms on an unnamed GPU)."
        )
    return lines


def _limitations(run: Run) -> list[str]:
    robust = run.corruption_study()
    if not robust:
        return [_missing("The corruption study", "06")]
    found = []
    for name in PAPER_LIMITATIONS:
        acc = curve.accuracy if (curve := robust.corruptions.get(name)) else None
        if acc:
            found.append(f"{STUDY_TITLES[name]} {percent(acc[0])} → {percent(acc[-1])}")
    lines = [
        f"On {robust.n_images:,} validation images, accuracy from clean to the harshest level: "
        + "; ".join(found)
        + "."
    ]
    ood = run.ood
    if ood:
        caught = min(k.share_flagged for k in ood.kinds.values())
        lines.append(
            f"The *unsure* flag (confidence below {ood.threshold:.4f}) caught at least {percent(caught)} "
            "of each kind of made-up input, and the model still answers cat or dog for all of them."
        )
    comparison = run.mitigation
    if comparison:
        lines.append(str(mitigation_summary(comparison)).strip())
    return lines


#: Each chapter's findings, from the records it writes.
FINDINGS: dict[str, Callable[[Run], list[str]]] = {
    "01": _dataset,
    "02": _augmentation,
    "03": _phase1,
    "04": _phase2,
    "05": _evaluation,
    "06": _limitations,
}


def chapter_findings(run: Run, chapter: str) -> Text:
    """What chapter ``chapter`` (``"01"`` … ``"06"``) showed, as a Markdown list stated from
    the run's records."""
    if chapter not in FINDINGS:
        raise ValueError(f"unknown chapter {chapter!r}; choose from {', '.join(FINDINGS)}")
    return Text("\n".join(f"* {line}" for line in FINDINGS[chapter](run)) + "\n")


__all__ = ["FINDINGS", "chapter_findings"]
