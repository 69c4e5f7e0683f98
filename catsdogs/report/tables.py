"""The tables of the chapters and the book, built from a run directory's records.

Every number here is read from the run's files (``config.json``, ``data/scan.json``,
``phase*/result.json``, ``eval/metrics.json``, ``timings.json``, ``provenance.json``
and, when they exist, ``export/export.json``, ``bench/bench.json`` and
``robustness/*.json``); the paper's figures come from
:data:`catsdogs.studies.paper.PAPER`. Each builder returns a
:class:`~catsdogs.markdown.Table`, which a notebook shows as the cell's value and the
book writes into its generated pages.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from catsdogs.config import CLASS_NAMES, Config
from catsdogs.evaluation.metrics import SHOWN_METRICS
from catsdogs.markdown import Table, Text, and_list, duration, percent, table_builder, with_ci
from catsdogs.records import (
    Bench,
    CalibrationStudy,
    CorruptionStudy,
    Evaluation,
    Export,
    Interval,
    Metrics,
    MitigationComparison,
    OODStudy,
    PhaseResult,
    RecoveredShare,
    Scan,
    SplitCount,
    Unfrozen,
)
from catsdogs.runs import Run
from catsdogs.studies.corruptions import title as study_title
from catsdogs.studies.paper import PAPER

log = logging.getLogger(__name__)


#: Classification metrics shown in tables, in order, with their display names.


@table_builder
def scan_rows(scan: Scan) -> Table:
    """What validation did with the files: kept as is, converted (why), skipped (why).

    ``scan`` is ``data/scan.json`` (:func:`catsdogs.training.steps.prepare_data`).
    """
    kept = scan.usable - scan.converted
    rows = [{"outcome": "kept as is", "reason": "valid RGB JPEG", "files": f"{kept:,}"}]
    rows += [
        {"outcome": "converted to RGB JPEG, kept", "reason": r, "files": f"{n:,}"}
        for r, n in sorted(scan.converted_by_reason.items())
    ]
    rows += [{"outcome": "skipped", "reason": r, "files": f"{n:,}"} for r, n in sorted(scan.skipped_by_reason.items())]
    if not scan.skipped_by_reason:
        rows.append({"outcome": "skipped", "reason": "(no file needed skipping)", "files": "0"})
    rows.append({"outcome": "**examined**", "reason": "", "files": f"**{scan.examined:,}**"})
    return rows


@table_builder
def split_rows(table: Mapping[str, SplitCount]) -> Table:
    """Rows of :func:`catsdogs.data.split.split_table`'s ``{split: SplitCount}``."""
    columns = (*CLASS_NAMES, "total")
    rows = [{"split": split, **{c: f"{getattr(counts, c):,}" for c in columns}} for split, counts in table.items()]
    totals = {c: sum(getattr(counts, c) for counts in table.values()) for c in columns}
    return rows + [{"split": "**all**", **{c: f"**{n:,}**" for c, n in totals.items()}}]


@table_builder
def size_rows(widths: Sequence[int], heights: Sequence[int]) -> Table:
    """Minimum, median and maximum of image width, height (pixels) and aspect ratio."""
    w, h = np.asarray(widths, dtype=float), np.asarray(heights, dtype=float)
    series = {"width (px)": w, "height (px)": h, "aspect (w/h)": w / h}
    return [
        {"": stat, **{name: f"{fn(v):.4g}" for name, v in series.items()}}
        for stat, fn in (("min", np.min), ("median", np.median), ("max", np.max))
    ]


@table_builder
def augmentation_rows(config: Config) -> Table:
    """The augmentation layers of ``config`` with their settings, in pipeline order."""
    rows = []
    if config.augment_flip:
        rows.append({"layer": "RandomFlip", "setting": "horizontal", "range": "mirror with p = 0.5"})
    if config.augment_rotation > 0:
        deg = 360 * config.augment_rotation
        rows.append(
            {
                "layer": "RandomRotation",
                "setting": f"factor {config.augment_rotation}",
                "range": f"±{deg:.0f}°, reflected borders",
            }
        )
    if config.augment_zoom > 0:
        rows.append(
            {
                "layer": "RandomZoom",
                "setting": f"factor ±{config.augment_zoom}",
                "range": f"±{100 * config.augment_zoom:.0f} % of the side, reflected borders",
            }
        )
    return rows or [{"layer": "(none)", "setting": "augmentation disabled", "range": ""}]


@table_builder
def parameter_rows(results: Mapping[str, PhaseResult]) -> Table:
    """Total / trainable / frozen parameters per phase, from ``phase*/result.json``."""
    return [
        {
            "model": name,
            "total": f"{r.parameters.total:,}",
            "trainable": f"{r.parameters.trainable:,}",
            "frozen": f"{r.parameters.non_trainable:,}",
        }
        for name, r in results.items()
    ]


def _block_of(layer_name: str) -> str:
    """The MobileNetV2 block a base layer belongs to: ``block_3`` for ``block_3_expand``;
    the last 1x1 convolution (``Conv_1``) and the stem (the input, ``Conv1``,
    ``expanded_conv``: block 0) apart."""
    if layer_name.startswith("block_"):
        return "_".join(layer_name.split("_")[:2])
    if layer_name.startswith(("Conv_1", "out_relu")):
        return "top (Conv_1, 1x1 to 1280 channels)"
    return "stem (Conv1, block 0)"


@table_builder
def layer_rows(model: Any) -> Table:
    """The classifier layer by layer, its MobileNetV2 base one row per block (Keras's
    ``summary()`` shows the base as a single line, ``expand_nested`` as 150): parameters
    and how many of them train."""
    rows: dict[str, dict[str, int]] = {}
    for layer in model.layers:
        is_base = any(sub.name == "Conv1" for sub in getattr(layer, "layers", ()))  # MobileNetV2's stem
        parts = (
            [(f"{layer.name} / {_block_of(sub.name)}", sub) for sub in layer.layers]
            if is_base
            else [(layer.name, layer)]
        )
        for name, part in parts:
            count = rows.setdefault(name, {"parameters": 0, "trainable": 0})
            count["parameters"] += sum(int(np.prod(w.shape)) for w in part.weights)
            count["trainable"] += sum(int(np.prod(w.shape)) for w in part.trainable_weights)
    return [
        {"layer": name, "parameters": f"{c['parameters']:,}", "trainable": f"{c['trainable']:,}"}
        for name, c in rows.items()
        if c["parameters"] or "/" not in name
    ]


@table_builder
def metrics_rows(results: Mapping[str, Metrics]) -> Table:
    """Validation metrics side by side: one column per ``{name: metrics}``."""
    rows = [
        {"metric": label, **{name: percent(getattr(m, key), 2) for name, m in results.items()}}
        for key, label in SHOWN_METRICS.items()
    ]
    rows.append({"metric": "validation images", **{name: f"{m.n:,}" for name, m in results.items()}})
    return rows


@table_builder
def unfrozen_rows(unfrozen: Unfrozen) -> Table:
    """Phase 2's ``unfrozen`` (which layers of the base train) as a two-column table."""
    return [
        {"": "first unfrozen layer", "value": f"`{unfrozen.first_layer}`"},
        {"": "its index among the base's layers", "value": f"{unfrozen.first_index} of {unfrozen.n_layers}"},
        {"": "layers with weights that now train", "value": str(unfrozen.n_unfrozen)},
        {"": "batch-norm layers", "value": "kept frozen, in inference mode"},
    ]


@table_builder
def timing_rows(run: Run, steps: Sequence[str] | None = None) -> Table:
    """Wall-clock time of the run's recorded steps (``timings.json``), optionally a subset."""
    timings = run.timings()
    steps = [s for s in (steps or timings) if s in timings]
    if not steps:
        return [{"step": "(none recorded yet)", "wall time": ""}]
    return [{"step": s.replace("_", " "), "wall time": duration(timings[s])} for s in steps]


@table_builder
def ci_rows(evaluation: Evaluation) -> Table:
    """Point estimate and bootstrap 95 % CI of each metric, from ``eval/metrics.json``."""
    return [
        {
            "metric": label,
            "estimate": percent(evaluation.ci95[key].estimate, 2),
            "95 % CI": _interval(evaluation.ci95[key]),
        }
        for key, label in SHOWN_METRICS.items()
        if key in evaluation.ci95
    ]


def _interval(ci: Interval) -> str:
    if ci.low is None:
        return "undefined"
    return f"{100 * ci.low:.2f} – {100 * ci.high:.2f} %"


def ci_series(evaluation: Evaluation) -> dict[str, list]:
    """``labels, estimates, lows, highs, references`` of the metrics for
    :func:`catsdogs.plots.metric_intervals`; the references are the paper's figures
    (``None`` for a metric it does not report)."""
    ci = evaluation.ci95
    keys = [k for k in SHOWN_METRICS if k in ci]
    return {
        "labels": [SHOWN_METRICS[k] for k in keys],
        "estimates": [ci[k].estimate for k in keys],
        "lows": [ci[k].low for k in keys],
        "highs": [ci[k].high for k in keys],
        "references": [getattr(PAPER, k) if PAPER.has(k) else None for k in keys],
    }


@table_builder
def export_rows(export: Export) -> Table:
    """One row per export (Keras, TFLite float32, int8): size, validation accuracy and F1,
    agreement with the Keras model, from ``export/export.json``."""
    names = {
        "keras": "Keras .keras (no optimizer)",
        "tflite_float32": "TFLite float32",
        "tflite_int8": "TFLite int8 (full integer)",
    }
    keras_acc = export.keras.val_metrics.accuracy
    return [
        {
            "model": names.get(key, key),
            "file size": f"{e.size_mb:.2f} MB",
            "val accuracy": percent(e.val_metrics.accuracy, 2),
            "F1": f"{e.val_metrics.f1:.4f}",
            "vs Keras": f"{100 * (e.val_metrics.accuracy - keras_acc):+.2f} pp",
            "same label as Keras": percent(e.agreement_with_keras, 2),
        }
        for key, e in export.exports.items()
    ]


@table_builder
def bench_rows(bench: Bench) -> Table:
    """Median latency per model, single image and batched, with speed-ups over Keras; the
    columns name the machine, and a "batch" of a model with a static batch of one says it
    is one call per image."""
    machine = f"{bench.hardware.cpu or 'this CPU'}, {bench.hardware.logical_cores or '?'} cores"
    return [
        {
            "model": name,
            f"single image ({machine})": f"{e.single.median_ms:.2f} ms",
            f"{bench.batch_size} images": f"{e.batched_per_image.median_ms:.2f} ms/image"
            + (" (one call per image)" if e.batched_mode else " (one batched call)"),
            "speed-up (single)": f"{e.speedup_vs_keras_single:.1f}x",
            "speed-up (batched)": f"{e.speedup_vs_keras_batched:.1f}x",
        }
        for name, e in bench.models.items()
    ]


@table_builder
def robustness_rows(results: CorruptionStudy) -> Table:
    """Accuracy with its 95 % CI on clean images and at the harshest severity, per
    corruption, with the change in percentage points and, where recorded, the images the
    corruption made wrong and right (paired, with the exact McNemar p-value), from
    ``robustness/results.json``; the clean column names the subset of validation images the
    study corrupts."""
    rows = []
    n = results.n_images
    for name, curve in results.corruptions.items():
        acc, sev = curve.accuracy, curve.severity

        def ci(i: int, curve=curve) -> str:
            return with_ci(curve.interval(i))

        rows.append(
            {
                "corruption": study_title(name),
                f"clean ({n:,} validation images)" if n else f"severity {sev[0]} (clean)": ci(0),
                "harshest severity": f"{ci(-1)} (level {sev[-1]})",
                "change": f"{100 * (acc[-1] - acc[0]):+.1f} pp",
                **(
                    {
                        "same images: made wrong / made right (paired p)": f"{curve.lost[-1]} / "
                        f"{curve.gained[-1]} ({curve.paired_p[-1]:.2g})"
                    }
                    if curve.paired_p is not None
                    else {}
                ),
            }
        )
    return rows


def upsampled_from(run: Run) -> int | None:
    """The longest image side in the run's manifest when it is below the model's input size
    (every image is then upsampled), else ``None``."""
    if not run.has("data", "manifest.csv"):
        return None
    longest = max((max(r.width, r.height) for r in run.manifest()), default=0)
    return longest if 0 < longest < run.config.image_size else None


def run_summary(run: Run) -> Text:
    """One Markdown sentence saying which run the numbers come from (from its config)."""
    cfg = run.config
    scope = (
        f"at most {cfg.max_images_per_class:,} images per class" if cfg.max_images_per_class else "every usable image"
    )
    warning = (
        ""
        if cfg.profile == "full"
        else f" The **{cfg.profile}** profile is a quick check of the pipeline on a subset, at reduced "
        "size and epochs: its figures are not the reproduction's results."
    )
    size = f"{cfg.image_size}×{cfg.image_size} pixels"
    if longest := upsampled_from(run):
        size += f" (upsampled from at most {longest} px a side)"
    return Text(
        f"Built from a run of the **{cfg.profile}** profile (seed {cfg.seed}) on {scope}, at {size}.{warning}\n"
    )


@table_builder
def calibration_rows(calib: CalibrationStudy) -> Table:
    """ECE and accuracy before/after temperature scaling, from ``robustness/calibration.json``."""
    temps = ", ".join(f"{t:.2f}" for t in calib.temperatures)
    return [
        {
            "model": "as trained",
            "ECE": f"{calib.before.ece:.4f}",
            "accuracy": percent(calib.accuracy_before, 2),
            "temperature": "1",
        },
        {
            "model": "temperature-scaled (cross-fitted)",
            "ECE": f"{calib.after.ece:.4f}",
            "accuracy": percent(calib.accuracy_after, 2),
            "temperature": temps,
        },
    ]


@table_builder
def ood_rows(ood: OODStudy) -> Table:
    """Per out-of-distribution kind: confidence, share called dog, share flagged by the
    threshold that keeps most real images, AUROC of confidence; from ``robustness/ood.json``."""
    rows = [
        {
            "input": "real validation images",
            "mean confidence": f"{ood.in_distribution.mean_confidence:.3f}",
            "called dog": "",
            # measured where recorded (the published threshold is fitted on the whole split)
            "flagged": percent(
                flagged if (flagged := ood.in_distribution.share_flagged) is not None else 1 - ood.keep_in_distribution
            ),
            "AUROC": "",
        }
    ]
    for kind, k in ood.kinds.items():
        rows.append(
            {
                "input": kind.replace("_", " "),
                "mean confidence": f"{k.mean_confidence:.3f}",
                "called dog": percent(k.share_called_dog),
                "flagged": percent(k.share_flagged),
                "AUROC": f"{k.auroc_confidence:.3f}",
            }
        )
    return rows


def ood_confidences(ood: OODStudy) -> dict[str, list[float]]:
    """``{input kind: confidences}`` for :func:`catsdogs.plots.confidence_histograms`."""
    out = {"real validation images": ood.in_distribution.confidence}
    out.update({k.replace("_", " "): v.confidence for k, v in ood.kinds.items()})
    return out


#: What the Limitations page and chapter 6 say of the mitigation while its controlled study
#: has no record (a run made before the control existed).
MITIGATION_UNCONTROLLED = (
    "The published run made that round without a control that fine-tunes as long without "
    "them, so it does not show what the remedy itself is worth."
)


def mitigation_summary(comparison: MitigationComparison | None) -> Text:
    """What the controlled mitigation study found, in a few sentences read from
    ``robustness/mitigation.json``: under which corruptions the robust augmentation beat its
    same-epochs control (gain interval above zero), did worse (below zero) or could not be
    told from it; under which the control itself showed no drop to recover (its drop's
    interval reaching zero); and the cost on clean images."""
    if not comparison:
        return Text(MITIGATION_UNCONTROLLED + "\n")
    epochs = comparison.epochs if comparison.epochs is not None else 1
    extra = "extra epoch" if epochs == 1 else f"{epochs} extra epochs"
    gained, unclear, worse, nothing = [], [], [], []
    for name, c in comparison.corruptions.items():
        title, gain, share = study_title(name), c.gain, c.recovered_share
        if gain.low > 0:
            of_drop = f", {_percent0(share.estimate)} of the drop" if share else ""
            gained.append(f"{title} ({_signed(gain.estimate)} pp{of_drop})")
        elif gain.high < 0:
            worse.append(f"{title} ({_signed(gain.estimate)} pp)")
        else:
            unclear.append(title)
        if share is None:
            nothing.append(title)
    sentences = [
        f"Against a control that fine-tuned for the same {extra} without that augmentation, on the "
        f"same {comparison.n_images:,} images, the limitation-aimed augmentation "
        + (
            f"raised the mean accuracy over levels 1-5 under {and_list(gained)}."
            if gained
            else "raised the mean accuracy over levels 1-5 detectably under none of the corruptions."
        )
    ]
    if worse:
        sentences.append(f"Under {and_list(worse)} it did worse than the control.")
    if unclear:
        sentences.append(f"Under {and_list(unclear)} its effect could not be told from zero (95 % interval across it).")
    if nothing:
        sentences.append(
            f"Under {and_list(nothing)} the control's own drop could not be told from zero: there was no "
            "measurable drop to recover."
        )
    costs = [c.clean_cost for c in comparison.corruptions.values()]
    if costs:
        clean_cost = costs[0]  # the clean images are the same for every corruption
        sentences.append(
            f"On clean images it changed accuracy by {_signed(-clean_cost.estimate)} pp "
            f"(95 % CI {_signed(-clean_cost.high)} to {_signed(-clean_cost.low)})."
        )
    return Text(" ".join(sentences) + "\n")


def _signed(value: float, scale: float = 100, digits: int = 1) -> str:
    """``value * scale`` with its sign, never "-0.0"."""
    return f"{scale * value + 0.0:+.{digits}f}"


def _percent0(value: float) -> str:
    """A share in whole percent, never "-0 %"."""
    return f"{100 * value + 0.0:.0f} %"


def _points(interval: Interval, digits: int = 1) -> str:
    """A difference of two rates in percentage points with its 95 % interval."""
    lo, hi = _signed(interval.low, digits=digits), _signed(interval.high, digits=digits)
    return f"{_signed(interval.estimate, digits=digits)} pp ({lo} to {hi})"


def _share(interval: RecoveredShare) -> str:
    """A share in whole percent with its 95 % interval, written with "to" (it may be negative);
    an interval left open (too many resamples without a drop) says so."""
    if interval.low is None or interval.high is None:
        return f"{_percent0(interval.estimate)} (interval unbounded)"
    return f"{_percent0(interval.estimate)} ({_percent0(interval.low)[:-2]} to {_percent0(interval.high)})"


@table_builder
def mitigation_rows(comparison: MitigationComparison) -> Table:
    """The robust augmentation against its same-epochs control, per corruption, from
    ``robustness/mitigation.json`` (:func:`catsdogs.studies.mitigation.compare_mitigation`):
    each arm's mean accuracy over the corrupted levels, the gain with its paired 95 %
    interval, the share of the control's drop recovered (undefined where that drop's interval
    reaches zero) and the cost on the clean images."""
    rows = []
    for name, c in comparison.corruptions.items():
        share = c.recovered_share
        rows.append(
            {
                "corruption": study_title(name),
                "mean accuracy, levels 1-5: plain / robust": f"{percent(c.plain.corrupted)} / "
                f"{percent(c.robust.corrupted)}",
                "gain (95 % CI)": _points(c.gain),
                "share of the drop recovered (95 % CI)": (
                    _share(share) if share is not None else f"no measurable drop: {_points(c.plain_drop)}"
                ),
                "clean cost (95 % CI)": _points(c.clean_cost),
            }
        )
    return rows
