"""Tables and pages built from a run directory, for the notebooks and the book.

Every number here is read from the run's files (``config.json``,
``data/scan.json``, ``phase*/result.json``, ``eval/metrics.json``,
``timings.json``, ``provenance.json`` and, when they exist, ``export/export.json``,
``bench/bench.json`` and ``robustness/results.json``); the paper's figures come
from :data:`catsdogs.evaluate.PAPER_CLAIMS`. Tables are lists of row dicts
(column name -> text) turned into Markdown by :func:`markdown_table`, so the
notebooks show them with ``IPython.display.Markdown`` and the book includes the
same Markdown through MyST ``{include}``; nothing needs pandas.

:func:`write_generated_pages` writes the book's generated includes
(``book/_generated/*.md``); :func:`reproduce.assemble_book` calls it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from catsdogs.config import CLASS_NAMES, REPOSITORY_URL, Config, get_config
from catsdogs.runs import Run

log = logging.getLogger(__name__)

#: What a cell says when the step that measures it has not run in this run directory.
NOT_MEASURED = "not measured in this run"
NOT_REPORTED = "not reported"

#: Classification metrics shown in tables, in order, with their display names.
METRICS: dict[str, str] = {
    "accuracy": "accuracy",
    "precision": "precision (dog)",
    "recall": "recall (dog)",
    "f1": "F1 (dog)",
    "roc_auc": "ROC AUC",
}

Row = dict[str, str]


# ----------------------------------------------------------------------------- formatting


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """A GitHub/MyST Markdown table of ``rows`` (dicts sharing their keys).

    ``columns`` picks and orders the columns (default: the first row's keys).
    Cells are converted with ``str``; ``|`` inside a cell is escaped.

    Raises
    ------
    ValueError
        If ``rows`` is empty (there is no header to write).
    """
    if not rows:
        raise ValueError("markdown_table needs at least one row (a dict column -> value)")
    columns = list(columns or rows[0])

    def cell(value: Any) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def bullet_list(items: Sequence[str]) -> str:
    """Markdown bullet list, one item per line."""
    return "".join(f"- {item}\n" for item in items)


def percent(value: float | None, digits: int = 1) -> str:
    """``0.989`` -> ``"98.9 %"``; ``None`` -> ``"undefined"``."""
    return "undefined" if value is None else f"{100 * value:.{digits}f} %"


def paper_percent(value: float) -> str:
    """A paper figure as a percentage with no more digits than the paper gave: ``0.99`` -> ``"99 %"``."""
    return f"{100 * value:.4g} %"


def with_ci(interval: Mapping[str, float | None], digits: int = 1) -> str:
    """``{"estimate", "low", "high"}`` -> ``"95.0 % (95 % CI 90.0-100.0)"``."""
    text = percent(interval["estimate"], digits)
    if interval.get("low") is None or interval.get("high") is None:
        return text
    return f"{text} (95 % CI {100 * interval['low']:.{digits}f}–{100 * interval['high']:.{digits}f})"


def millions(count: float) -> str:
    """``2259265`` -> ``"2.26 M"``."""
    return f"{count / 1e6:.2f} M"


def duration(seconds: float) -> str:
    """``75.3`` -> ``"1 min 15 s"``; under a minute: ``"12.3 s"``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def colab_url(notebook: str) -> str:
    """The Colab address of source notebook ``notebooks/<notebook>.ipynb`` on ``main``."""
    path = REPOSITORY_URL.removeprefix("https://github.com/")
    return f"https://colab.research.google.com/github/{path}/blob/main/notebooks/{notebook}.ipynb"


def _maybe_json(run: Run, relpath: str) -> Any | None:
    return run.read_json(relpath) if run.has(relpath) else None


# ----------------------------------------------------------------------------- chapter 01: data


def scan_rows(scan: Mapping[str, Any]) -> list[Row]:
    """What validation did with the files: kept as is, converted (why), skipped (why).

    ``scan`` is ``data/scan.json`` (:func:`catsdogs.train.prepare_data`).
    """
    kept = scan["usable"] - scan["converted"]
    rows = [{"outcome": "kept as is", "reason": "valid RGB JPEG", "files": f"{kept:,}"}]
    rows += [{"outcome": "converted to RGB JPEG, kept", "reason": r, "files": f"{n:,}"}
             for r, n in sorted(scan["converted_by_reason"].items())]
    rows += [{"outcome": "skipped", "reason": r, "files": f"{n:,}"}
             for r, n in sorted(scan["skipped_by_reason"].items())]
    if not scan["skipped_by_reason"]:
        rows.append({"outcome": "skipped", "reason": "(no file needed skipping)", "files": "0"})
    rows.append({"outcome": "**examined**", "reason": "", "files": f"**{scan['examined']:,}**"})
    return rows


def split_rows(table: Mapping[str, Mapping[str, int]]) -> list[Row]:
    """Rows of :func:`catsdogs.data.split_table`'s ``{split: {cat, dog, total}}``."""
    rows = [{"split": split, **{c: f"{counts[c]:,}" for c in (*CLASS_NAMES, "total")}}
            for split, counts in table.items()]
    totals = {c: sum(counts[c] for counts in table.values()) for c in (*CLASS_NAMES, "total")}
    return rows + [{"split": "**all**", **{c: f"**{n:,}**" for c, n in totals.items()}}]


def size_rows(widths: Sequence[int], heights: Sequence[int]) -> list[Row]:
    """Minimum, median and maximum of image width, height (pixels) and aspect ratio."""
    import numpy as np

    w, h = np.asarray(widths, dtype=float), np.asarray(heights, dtype=float)
    series = {"width (px)": w, "height (px)": h, "aspect (w/h)": w / h}
    return [{"": stat, **{name: f"{fn(v):.4g}" for name, v in series.items()}}
            for stat, fn in (("min", np.min), ("median", np.median), ("max", np.max))]


# ----------------------------------------------------------------------------- chapters 02-04: model


def augmentation_rows(config: Config) -> list[Row]:
    """The augmentation layers of ``config`` with their settings, in pipeline order."""
    rows = []
    if config.augment_flip:
        rows.append({"layer": "RandomFlip", "setting": "horizontal", "range": "mirror with p = 0.5"})
    if config.augment_rotation > 0:
        deg = 360 * config.augment_rotation
        rows.append({"layer": "RandomRotation", "setting": f"factor {config.augment_rotation}",
                     "range": f"±{deg:.0f}°, reflected borders"})
    if config.augment_zoom > 0:
        rows.append({"layer": "RandomZoom", "setting": f"factor ±{config.augment_zoom}",
                     "range": f"±{100 * config.augment_zoom:.0f} % of the side, reflected borders"})
    return rows or [{"layer": "(none)", "setting": "augmentation disabled", "range": ""}]


def parameter_rows(results: Mapping[str, Mapping[str, Any]]) -> list[Row]:
    """Total / trainable / frozen parameters per phase, from ``phase*/result.json``."""
    return [
        {"model": name, "total": f"{r['parameters']['total']:,}",
         "trainable": f"{r['parameters']['trainable']:,}",
         "frozen": f"{r['parameters']['non_trainable']:,}"}
        for name, r in results.items()
    ]


def metrics_rows(results: Mapping[str, Mapping[str, Any]]) -> list[Row]:
    """Validation metrics side by side: one column per ``{name: classification_metrics}``."""
    rows = [{"metric": label, **{name: percent(m.get(key), 2) for name, m in results.items()}}
            for key, label in METRICS.items()]
    rows.append({"metric": "validation images", **{name: f"{m['n']:,}" for name, m in results.items()}})
    return rows


def unfrozen_rows(unfrozen: Mapping[str, Any]) -> list[Row]:
    """Phase 2's ``result.json["unfrozen"]`` as a two-column table."""
    return [
        {"": "first unfrozen layer", "value": f"`{unfrozen['first_layer']}`"},
        {"": "its index among the base's layers", "value": f"{unfrozen['first_index']} of {unfrozen['n_layers']}"},
        {"": "layers with weights that now train", "value": str(unfrozen["n_unfrozen"])},
        {"": "batch-norm layers", "value": "kept frozen, in inference mode"},
    ]


def timing_rows(run: Run, steps: Sequence[str] | None = None) -> list[Row]:
    """Wall-clock time of the run's recorded steps (``timings.json``), optionally a subset."""
    timings = run.timings()
    steps = [s for s in (steps or timings) if s in timings]
    if not steps:
        return [{"step": "(none recorded yet)", "wall time": ""}]
    return [{"step": s.replace("_", " "), "wall time": duration(timings[s])} for s in steps]


# ----------------------------------------------------------------------------- chapter 05: evaluation


def ci_rows(evaluation: Mapping[str, Any]) -> list[Row]:
    """Point estimate and bootstrap 95 % CI of each metric, from ``eval/metrics.json``."""
    return [
        {"metric": label, "estimate": percent(evaluation["ci95"][key]["estimate"], 2),
         "95 % CI": _interval(evaluation["ci95"][key])}
        for key, label in METRICS.items() if key in evaluation["ci95"]
    ]


def _interval(ci: Mapping[str, float | None]) -> str:
    if ci.get("low") is None:
        return "undefined"
    return f"{100 * ci['low']:.2f} – {100 * ci['high']:.2f} %"


def ci_series(evaluation: Mapping[str, Any]) -> dict[str, list]:
    """``labels, estimates, lows, highs`` of the metrics for :func:`catsdogs.plots.bar_with_ci`."""
    keys = [k for k in METRICS if k in evaluation["ci95"]]
    ci = evaluation["ci95"]
    return {"labels": [METRICS[k] for k in keys], "estimates": [ci[k]["estimate"] for k in keys],
            "lows": [ci[k]["low"] for k in keys], "highs": [ci[k]["high"] for k in keys]}


def _final_result(run: Run) -> dict[str, Any] | None:
    path = run.final_file("result.json")
    return _maybe_json(run, str(path.relative_to(run.path))) if path else None


def _training_seconds(timings: Mapping[str, float]) -> float | None:
    steps = [s for s in ("phase1_features", "phase1_train", "phase2_train") if s in timings]
    return sum(timings[s] for s in steps) if steps else None


def _hardware(hw: Mapping[str, Any] | None) -> str:
    if not hw:
        return NOT_MEASURED
    gpus = f", GPU: {', '.join(hw['gpus'])}" if hw.get("gpus") else ", no GPU"
    return f"{hw['cpu']} ({hw['logical_cores']} logical cores){gpus}"


def _latency(bench: Mapping[str, Any] | None, model: str) -> str:
    if not bench or model not in bench.get("models", {}):
        return NOT_MEASURED
    entry = bench["models"][model]
    return (f"{entry['single']['median_ms']:.1f} ms single image; "
            f"{entry['batched_per_image']['median_ms']:.1f} ms/image in batches of {bench['batch_size']}")


def comparison_rows(run: Run) -> list[Row]:
    """The paper's claims next to this run's float Keras model and its int8 TFLite export.

    Columns: ``quantity``, ``paper``, ``this reproduction (float Keras)``,
    ``int8 TFLite export``. A cell whose measuring step has not run (evaluation,
    ``python -m catsdogs export`` / ``bench``) reads :data:`NOT_MEASURED`.
    """
    from catsdogs.evaluate import PAPER_CLAIMS

    ev, final = _maybe_json(run, "eval/metrics.json"), _final_result(run)
    export, bench = _maybe_json(run, "export/export.json"), _maybe_json(run, "bench/bench.json")
    prov, timings = _maybe_json(run, "provenance.json") or {}, run.timings()
    int8 = (export or {}).get("exports", {}).get("tflite_int8")
    cols = ("paper", "this reproduction (float Keras)", "int8 TFLite export")

    def row(name: str, *cells: str) -> Row:
        return {"quantity": name, **dict(zip(cols, cells))}

    data = prov.get("data", {})
    rows = [row("images used", f"{PAPER_CLAIMS['images']:,}",
                f"{data['usable_images']:,}" if data else NOT_MEASURED, "same validation split")]
    for key, label in METRICS.items():
        paper = paper_percent(PAPER_CLAIMS[key]) if key in PAPER_CLAIMS else NOT_REPORTED
        ours = with_ci(ev["ci95"][key]) if ev else NOT_MEASURED
        rows.append(row(label, paper, ours, percent(int8["val_metrics"][key]) if int8 else NOT_MEASURED))
    params = final["parameters"]["total"] if final else None
    rows.append(row("parameters", f"≈{millions(PAPER_CLAIMS['parameters'])}",
                    millions(params) if params else NOT_MEASURED,
                    millions(export["parameters"]["total"]) if export else NOT_MEASURED))
    rows.append(row("model file size", f"{PAPER_CLAIMS['file_size_mb']:.0f} MB", _keras_size(run, export),
                    f"{int8['size_mb']:.1f} MB" if int8 else NOT_MEASURED))
    rows.append(row("latency", f"≈{PAPER_CLAIMS['latency_ms_per_image']:.0f} ms/image",
                    _latency(bench, "keras"), _latency(bench, "tflite_int8")))
    train_s = _training_seconds(timings)
    rows.append(row("training time", NOT_REPORTED, duration(train_s) if train_s else NOT_MEASURED,
                    f"+ {duration(timings['export_convert'])} conversion" if "export_convert" in timings
                    else NOT_MEASURED))
    rows.append(row("hardware", PAPER_CLAIMS["latency_hardware"],
                    _hardware(prov.get("environment", {}).get("hardware")),
                    _hardware(bench["hardware"]) if bench else NOT_MEASURED))
    return rows


def _keras_size(run: Run, export: Mapping[str, Any] | None) -> str:
    if export:
        return f"{export['exports']['keras']['size_mb']:.1f} MB"
    for phase in ("phase2", "phase1"):
        path = run.path / phase / "model.keras"
        if path.is_file():
            return f"{path.stat().st_size / 1e6:.1f} MB (training checkpoint, with optimizer state)"
    return NOT_MEASURED


# ----------------------------------------------------------------------------- chapter 05: exports


def export_rows(export: Mapping[str, Any]) -> list[Row]:
    """One row per export (Keras, TFLite float32, int8): size, validation accuracy and F1,
    agreement with the Keras model, from ``export/export.json``."""
    names = {"keras": "Keras .keras (no optimizer)", "tflite_float32": "TFLite float32",
             "tflite_int8": "TFLite int8 (full integer)"}
    keras_acc = export["exports"]["keras"]["val_metrics"]["accuracy"]
    rows = []
    for key, e in export["exports"].items():
        m = e["val_metrics"]
        rows.append({"model": names.get(key, key), "file size": f"{e['size_mb']:.2f} MB",
                     "val accuracy": percent(m["accuracy"], 2), "F1": f"{m['f1']:.4f}",
                     "vs Keras": f"{100 * (m['accuracy'] - keras_acc):+.2f} pp",
                     "same label as Keras": percent(e["agreement_with_keras"], 2)})
    return rows


def bench_rows(bench: Mapping[str, Any]) -> list[Row]:
    """Median latency per model, single image and batched, with speed-ups over Keras."""
    return [{"model": name,
             "single image": f"{e['single']['median_ms']:.2f} ms",
             f"batch of {bench['batch_size']}": f"{e['batched_per_image']['median_ms']:.2f} ms/image",
             "speed-up (single)": f"{e['speedup_vs_keras_single']:.1f}x",
             "speed-up (batched)": f"{e['speedup_vs_keras_batched']:.1f}x"}
            for name, e in bench["models"].items()]


# ----------------------------------------------------------------------------- chapter 06: robustness


def robustness_rows(results: Mapping[str, Any]) -> list[Row]:
    """Accuracy on clean images and at the harshest severity, per corruption, with the
    change in percentage points, from ``robustness/results.json``."""
    rows = []
    for name, curve in results["corruptions"].items():
        acc, sev = curve["accuracy"], curve["severity"]
        rows.append({
            "corruption": name.replace("_", " "),
            f"severity {sev[0]} (clean)": percent(acc[0]),
            "harshest severity": f"{percent(acc[-1])} (level {sev[-1]})",
            "change": f"{100 * (acc[-1] - acc[0]):+.1f} pp",
        })
    return rows


# ----------------------------------------------------------------------------- book pages

#: Why each chosen setting has its value (the paper gives no epochs, learning rates or split).
RATIONALE: dict[str, str] = {
    "image_size": "the input size of Keras MobileNetV2's ImageNet weights, its default (the results page's "
                  "ablation tries a larger input)",
    "val_fraction": "the paper gives no split; a stratified 80/20 split is the common Keras-tutorial choice "
                    "and leaves thousands of validation images, so the accuracy CI is narrow",
    "test_fraction": "the paper reports validation accuracy only; we follow it and say so among the deviations",
    "max_images_per_class": "all images (the smoke profile takes a seeded subset to run in minutes)",
    "batch_size": "the Keras default; fits a CPU or a small GPU",
    "dropout": "the head of the Keras transfer-learning guide: dropout 0.2 before one logit",
    "augment_rotation": "handheld photos are rarely level; larger angles mostly add reflected borders that real photos lack",
    "augment_zoom": "pets fill very different fractions of the frame",
    "phase1_epochs": "an upper bound; early stopping on validation loss ends phase 1 when the head has converged",
    "phase1_lr": "Adam's default step size; only the new head (one dense logit) trains",
    "phase1_patience": "epochs without validation-loss improvement before phase 1 stops (best weights restored)",
    "fine_tune_from": "unfreeze the last MobileNetV2 blocks (13-16 and the final 1×1 conv): the most "
                      "task-specific features, while the generic early filters stay ImageNet's",
    "phase2_epochs": "a budget choice: each epoch runs the full network with augmentation, the expensive "
                     "part of training on a CPU, and most of fine-tuning's gain comes in the first epochs "
                     "(the results page's ablation trains longer)",
    "phase2_lr": "100× below phase 1, as in the Keras/TensorFlow fine-tuning guides: large steps would "
                 "destroy the pretrained features (the results page's ablation tries larger steps)",
    "phase2_patience": "stop fine-tuning early if validation loss rises (overfitting)",
    "bootstrap_samples": "resamples of the validation set for the 95 % confidence intervals",
    "robustness_per_class": "chapter 6 corrupts a fixed, seeded, stratified subset of the validation split "
                            "(this many images per class) so that 8 corruptions × 5 levels, the mitigation "
                            "fine-tune and its re-evaluation fit the chapter's 45-minute CPU budget",
    "mitigation_epochs": "one more epoch of fine-tuning with the robustness augmentation: enough to see "
                         "what it recovers and what it costs, within chapter 6's budget",
    "seed": "one seed for the split, the subset, weight initialisation and shuffling",
}


def config_rows(config: Config) -> list[Row]:
    """Every chosen hyper-parameter: this run's value, the ``full`` profile's, and why."""
    full = get_config("full")
    return [
        {"setting": f"`{name}`", "this run": f"`{getattr(config, name)}`",
         "`full` profile": f"`{getattr(full, name)}`", "why": why}
        for name, why in RATIONALE.items()
    ]


def claims_rows() -> list[Row]:
    """The paper's headline figures (:data:`catsdogs.evaluate.PAPER_CLAIMS`)."""
    from catsdogs.evaluate import PAPER_CLAIMS as P

    return [
        {"claim": "images (PetImages, both classes)", "paper": f"{P['images']:,}"},
        {"claim": "validation accuracy", "paper": paper_percent(P["accuracy"])},
        {"claim": "precision / recall / F1", "paper": f"{P['precision']} / {P['recall']} / {P['f1']}"},
        {"claim": "parameters", "paper": f"≈{millions(P['parameters'])}"},
        {"claim": "model file size", "paper": f"{P['file_size_mb']:.0f} MB"},
        {"claim": "inference latency", "paper": f"≈{P['latency_ms_per_image']:.0f} ms/image, {P['latency_hardware']}"},
    ]


def run_summary(run: Run) -> str:
    """One Markdown sentence saying which run the numbers come from (from its config)."""
    cfg = run.config
    scope = (f"at most {cfg.max_images_per_class:,} images per class" if cfg.max_images_per_class
             else "every usable image")
    warning = ("" if cfg.profile == "full" else
               f" The **{cfg.profile}** profile is a quick check of the pipeline on a subset, at reduced "
               "size and epochs: its figures are not the reproduction's results.")
    return (f"Built from a run of the **{cfg.profile}** profile (seed {cfg.seed}) on {scope}, at "
            f"{cfg.image_size}×{cfg.image_size} pixels.{warning}\n")


def copy_chapter(src: Path | str, dst: Path | str) -> Path:
    """Copy an executed chapter into the book, made portable.

    * papermill's injected-parameters cell is hidden from the rendering (the
      ``parameters`` cell above it shows the knobs; the run summary names the run);
    * stderr outputs (TensorFlow logs, warnings, progress bars) are dropped: the book
      does not show them and they hold this machine's paths;
    * absolute paths of the run directory and the project are rewritten as
      ``runs/<name>`` and ``.``, so a committed notebook names no machine.
    """
    import json

    import nbformat

    from catsdogs.config import project_root

    src = Path(src)
    nb = nbformat.read(src, as_version=4)
    for cell in nb.cells:
        tags = cell.metadata.get("tags", [])
        if "injected-parameters" in tags and "remove-cell" not in tags:
            cell.metadata["tags"] = [*tags, "remove-cell"]
        if cell.cell_type == "code":
            cell.outputs = [o for o in cell.outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
    text = json.dumps(nb, indent=1, ensure_ascii=False)
    run_path = src.resolve().parent.parent  # <run>/notebooks/NN.ipynb
    replacements = {str(run_path): f"runs/{run_path.name}"}
    root = project_root(src.parent) or project_root()
    if root is not None:
        replacements[str(root)] = "."
    for old, new in sorted(replacements.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(json.dumps(old)[1:-1], new)
    nbformat.write(nbformat.reads(text, as_version=4), dst)
    return Path(dst)


def deviations(run: Run) -> list[str]:
    """Where this run departs from the paper (or from what the paper states), from its records."""
    cfg, full = run.config, get_config("full")
    prov = _maybe_json(run, "provenance.json") or {}
    weights = prov.get("weights", {})
    items = ["The paper gives no epochs, learning rates, split or unfreeze point; ours are chosen and "
             "justified in the method chapter."]
    if weights.get("kind") == "tflite-converted":
        items.append("ImageNet weights: Keras' float MobileNetV2 checkpoint cannot be downloaded on the offline "
                     "build machine, so the base starts from the official **int8 post-training-quantized TFLite** "
                     "MobileNetV2, dequantized into the Keras model (batch norm folded into the convolutions). "
                     "The starting weights carry int8 rounding error.")
    elif weights.get("kind"):
        items.append(f"ImageNet weights: `{weights['kind']}` (the paper's Keras `weights=\"imagenet\"`).")
    if cfg.phase1_cached_features:
        items.append("Phase 1 trains the head on features computed once by the frozen base, so phase 1 "
                     "sees no augmentation (augmentation is used in phase 2).")
    items.append("Batch-norm layers stay frozen and in inference mode during fine-tuning (Keras guide).")
    if run.has("data", "manifest.csv"):
        from catsdogs.data import read_manifest

        rows = read_manifest(run.path / "data" / "manifest.csv")
        longest = max((max(int(r["width"]), int(r["height"])) for r in rows), default=0)
        if 0 < longest < cfg.image_size:
            items.append(f"No image available to this run is larger than {longest} pixels on its longer side "
                         "(the Kaggle originals are mostly around 500×375): every image is upsampled to "
                         f"{cfg.image_size}×{cfg.image_size}, so the model sees no more detail than "
                         f"{longest} pixels carry.")
    if cfg.test_fraction == 0:
        items.append("As in the paper, the headline figures are on the validation split, which also drives "
                     "early stopping: a slightly optimistic estimate.")
    changed = [f"`{k}` = `{getattr(cfg, k)}` (full: `{getattr(full, k)}`)" for k in full.training_dict()
               if k not in ("profile",) and getattr(cfg, k) != getattr(full, k)]
    if changed:
        items.append(f"This run uses the **{cfg.profile}** profile, not the full protocol: " + "; ".join(changed) + ".")
    hw = prov.get("environment", {}).get("hardware", {})
    if hw and not hw.get("gpus"):
        items.append("Trained and timed on a CPU; the paper's latency is on an unspecified GPU.")
    return items


def environment_rows(run: Run) -> list[Row]:
    """Python, package versions, git commit and hardware from ``provenance.json``."""
    env = (_maybe_json(run, "provenance.json") or {}).get("environment", {})
    if not env:
        return [{"item": "(no provenance recorded)", "value": ""}]
    git = env.get("git", {})
    commit = git.get("commit") or "not a git checkout"
    rows = [{"item": "recorded at", "value": env["recorded_at"]},
            {"item": "python", "value": env["python"]}]
    rows += [{"item": f"`{p}`", "value": v} for p, v in env.get("packages", {}).items()]
    rows.append({"item": "git commit", "value": f"`{commit}`" + (" (with uncommitted changes)" if git.get("dirty") else "")})
    hw = env.get("hardware", {})
    rows += [{"item": "hardware", "value": _hardware(hw)},
             {"item": "memory", "value": f"{hw.get('memory_gb')} GB"},
             {"item": "platform", "value": hw.get("platform", "")}]
    return rows


def provenance_rows(run: Run) -> list[Row]:
    """Data and weights provenance (hashes, counts; file names, never machine paths)."""
    prov = _maybe_json(run, "provenance.json") or {}
    data, weights = prov.get("data", {}), prov.get("weights", {})
    rows = []
    if data:
        fetched = data.get("download")
        rows += [
            {"item": "dataset", "value": "downloaded Microsoft archive" + (f" (sha256 `{fetched.get('sha256')}`)" if fetched else "")
             if fetched else "a local PetImages copy"},
            {"item": "usable images", "value": f"{data['usable_images']:,} "
             f"({', '.join(f'{c}: {n:,}' for c, n in data['per_class'].items())})"},
            {"item": "skipped / converted files", "value": f"{data['skipped']} / {data['converted']}"},
            {"item": "split manifest sha256", "value": f"`{data['manifest_sha256']}`"},
        ]
    if weights:
        rows += [
            {"item": "ImageNet weights", "value": f"{weights['kind']}: `{Path(weights['source']).name}`"},
            {"item": "weights source sha256", "value": f"`{weights.get('source_sha256')}`"},
        ]
        if weights.get("converted_sha256"):
            rows.append({"item": "converted Keras weights sha256", "value": f"`{weights['converted_sha256']}`"})
    final = _final_result(run)
    if final and final.get("model_sha256"):
        rows.append({"item": "trained model sha256", "value": f"`{final['model_sha256']}`"})
    return rows or [{"item": "(no provenance recorded)", "value": ""}]


# ----------------------------------------------------------------------------- ablation


def record_ablation(run: Run, runs: Sequence[Run]) -> dict[str, Any]:
    """Compare ``runs`` (same data split; e.g. phase-2 variants made with
    ``train --from-run``) and store the comparison in ``run``'s ``ablation.json``.

    For each run: the config fields that differ from ``run``'s, validation metrics
    of phase 1 and of the final model with bootstrap 95% CIs, and training times.
    """
    from catsdogs import metrics
    from catsdogs.evaluate import final_predictions_file
    from catsdogs.train import read_predictions

    base = run.config.training_dict()
    entries = []
    for other in runs:
        cfg = other.config.training_dict()
        pred = read_predictions(final_predictions_file(other))
        ci = metrics.bootstrap_ci(pred["label"], pred["prob"], n_samples=run.config.bootstrap_samples,
                                  seed=run.config.seed, metric_names=("accuracy", "precision", "recall", "f1"))
        phase1 = _maybe_json(other, "phase1/result.json")
        history = (_maybe_json(other, "phase2/result.json") or {}).get("history", {})
        timings = other.timings()
        entries.append({
            "run": other.path.name,
            "differs": {k: v for k, v in cfg.items() if k in base and base[k] != v},
            "settings": {k: cfg.get(k) for k in ("image_size", "fine_tune_from", "phase2_lr", "phase2_epochs")},
            "phase1_accuracy": phase1["val_metrics"]["accuracy"] if phase1 else None,
            "final_accuracy": ci["accuracy"], "final_f1": ci["f1"],
            "final_precision": ci["precision"], "final_recall": ci["recall"],
            "phase2_epochs_run": len(history.get("epoch", [])),
            "phase2_val_accuracy_by_epoch": history.get("val_accuracy", []),
            "phase2_seconds": timings.get("phase2_train"),
            "manifest_sha256": (_maybe_json(other, "data/scan.json") or {}).get("manifest_sha256"),
        })
    shas = {e["manifest_sha256"] for e in entries}
    if len(shas) > 1:
        raise ValueError("the runs do not share one validation split (manifest sha256 differs); "
                         "compare runs made with `train --from-run`")
    result = {"published_run": run.path.name, "runs": entries}
    run.write_json("ablation.json", result)
    return result


def ablation_rows(ablation: Mapping[str, Any]) -> list[Row]:
    rows = []
    for e in ablation["runs"]:
        s = e["settings"]
        rows.append({
            "run": e["run"] + (" (published)" if e["run"] == ablation["published_run"] else ""),
            "input (px)": str(s.get("image_size", "")),
            "unfrozen from": s["fine_tune_from"], "phase-2 LR": f"{s['phase2_lr']:g}",
            "phase-2 epochs": str(e["phase2_epochs_run"]),
            "validation accuracy (%) after each phase-2 epoch": " → ".join(
                f"{100 * a:.2f}" for a in e.get("phase2_val_accuracy_by_epoch", [])) or "–",
            "phase 1 accuracy": percent(e["phase1_accuracy"], 2),
            "final accuracy (95% CI)": with_ci(e["final_accuracy"], 2),
            "final precision / recall / F1": " / ".join(
                f"{e[k]['estimate']:.4f}" if e.get(k) else "–" for k in ("final_precision", "final_recall", "final_f1")),
            "phase-2 time": duration(e["phase2_seconds"]) if e["phase2_seconds"] else NOT_MEASURED,
        })
    return rows


def ablation_summary(ablation: Mapping[str, Any]) -> str:
    """The ablation in sentences: the best configuration next to the published
    (paper-faithful) one, against the paper, and how the differences between runs
    compare with the width of their confidence intervals."""
    from catsdogs.evaluate import PAPER_CLAIMS

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
    half = [(e["final_accuracy"]["high"] - e["final_accuracy"]["low"]) / 2 for e in runs
            if e["final_accuracy"].get("low") is not None]
    covering = sum(e["final_accuracy"]["low"] <= paper <= e["final_accuracy"]["high"] for e in runs
                   if e["final_accuracy"].get("low") is not None)
    lines = [f"The paper-faithful published run, {described(published)}: {scores(published)}."]
    if best is published or best["final_accuracy"]["estimate"] == published["final_accuracy"]["estimate"]:
        lines.append("No variant is more accurate.")
    else:
        lines.append(f"The most accurate configuration, {described(best)}: {scores(best)}.")
    lines.append(
        f"{sum(a >= 0.99 for a in accs)} of {len(runs)} runs reach 99.0 %; "
        f"{covering} of {len(runs)} intervals contain the paper's {paper_percent(paper)}. "
        f"The runs differ by at most {100 * (max(accs) - min(accs)):.2f} percentage points, "
        + (f"while each interval spans about ±{100 * float(np.mean(half)):.2f}." if half else "")
    )
    return " ".join(lines) + "\n"


def ablation_markdown(run: Run) -> str:
    ablation = _maybe_json(run, "ablation.json")
    if not ablation:
        return "*No ablation was recorded for this run (`python -m catsdogs ablation`).*\n"
    return markdown_table(ablation_rows(ablation)) + "\n" + ablation_summary(ablation)


def label_audit_markdown(audit: Mapping[str, Any] | None) -> str:
    """The label audit of the final model's mistakes (``audit.json``, ``python -m catsdogs
    audit``): a sentence with the counts and both accuracies, then the mistakes whose
    image is not a genuine model mistake."""
    from catsdogs.audit import NO_ANSWER, VERDICTS

    if not audit:
        return f"*{NOT_MEASURED}: run `python -m catsdogs audit --run-dir <run>`.*\n"
    c = audit["counts"]
    if c.get("not_audited", 0) == audit["n_errors"]:
        return (f"None of this run's {audit['n_errors']} validation mistakes is in the audit file, "
                "which covers the mistakes of the published full run; nothing to adjust.\n")
    text = (
        f"Of the **{audit['n_errors']}** validation images the final model gets wrong, looked at "
        f"one by one: **{c['label_ok']}** show the animal their folder names (genuine mistakes), "
        f"{c['other_class']} the other animal, {c['no_pet']} no cat or dog at all, "
        f"{c['both']} both animals and {c['unclear']} cannot be judged by eye"
        + (f"; {c['not_audited']} are not in the audit file" if c.get("not_audited") else "")
        + f". Dropping the {sum(c[k] for k in NO_ANSWER)} images with no right answer and "
        f"relabelling the mislabelled ones gives **{percent(audit['accuracy_adjusted'], 2)}** on "
        f"{audit['n_adjusted']:,} images, against {percent(audit['accuracy'], 2)} on the folder "
        f"labels ({audit['n_images']:,} images). Only mistakes were audited, so the adjusted "
        "figure is an upper bound.\n\n"
    )
    rows = [{
        "file": f"`{e['file']}`", "folder": CLASS_NAMES[e["label"]],
        "P(dog)": f"{e['prob_dog']:.2f}", "verdict": e["verdict"], "what it shows": e["note"],
    } for e in audit["errors"] if e["verdict"] != "label_ok"]
    legend = "; ".join(f"*{k}*: {v}" for k, v in VERDICTS.items())
    return text + (markdown_table(rows) + "\n" if rows else "") + f"Verdicts: {legend}.\n"


def parameter_explanation(run: Run) -> str:
    """Where the paper's "3.5M parameters / 14 MB" comes from, computed: Keras's
    MobileNetV2 *with* its 1,000-class ImageNet top, against this run's binary model."""
    import keras

    top = keras.applications.MobileNetV2(weights=None, include_top=True, classes=1000)
    n_top = int(top.count_params())
    base = int(top.get_layer("predictions").input.shape[-1])
    final = _final_result(run)
    ours = final["parameters"]["total"] if final else None
    export = _maybe_json(run, "export/export.json")
    lines = [
        f"Keras's `MobileNetV2(include_top=True)` (the 1,000-class ImageNet classifier) has "
        f"**{n_top:,}** parameters, {n_top * 4 / 2**20:.1f} MiB as float32 "
        f"({n_top * 4 / 1e6:.1f} MB): the paper's \"≈3.5M parameters, 14 MB\".",
        f"Its last layer alone maps {base:,} pooled features to 1,000 classes "
        f"({base * 1000 + 1000:,} parameters). The binary model drops it for one logit "
        f"({base + 1:,} parameters)"
        + (f", for **{ours:,}** parameters in all." if ours else "."),
    ]
    if export:
        k, q = export["exports"]["keras"], export["exports"]["tflite_int8"]
        lines.append(f"Saved without optimizer state the Keras file is {k['size_mb']:.1f} MB; "
                     f"the int8 TFLite export is {q['size_mb']:.1f} MB.")
    return " ".join(lines) + "\n"


def write_generated_pages(run: Run, out_dir: Path | str) -> list[Path]:
    """Write the Markdown the book's pages ``{include}`` into ``out_dir``; return the files.

    Files: ``run.md``, ``claims.md``, ``comparison.md``, ``ci.md``, ``hyperparameters.md``,
    ``deviations.md``, ``timings.md``, ``environment.md``, ``provenance.md``,
    ``robustness.md``, ``ablation.md``, ``label_audit.md``, ``parameters.md``. A page whose record is missing says which step writes it.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ev, robust = _maybe_json(run, "eval/metrics.json"), _maybe_json(run, "robustness/results.json")
    pages = {
        "run.md": run_summary(run),
        "claims.md": markdown_table(claims_rows()),
        "comparison.md": markdown_table(comparison_rows(run)),
        "ci.md": markdown_table(ci_rows(ev)) if ev else f"*{NOT_MEASURED}: run chapter 05.*\n",
        "hyperparameters.md": markdown_table(config_rows(run.config)),
        "deviations.md": bullet_list(deviations(run)),
        "timings.md": markdown_table(timing_rows(run)),
        "environment.md": markdown_table(environment_rows(run)),
        "provenance.md": markdown_table(provenance_rows(run)),
        "robustness.md": markdown_table(robustness_rows(robust)) if robust
        else f"*{NOT_MEASURED}: run chapter 06.*\n",
        "ablation.md": ablation_markdown(run),
        "label_audit.md": label_audit_markdown(_maybe_json(run, "audit.json")),
        "parameters.md": parameter_explanation(run),
    }
    written = []
    for name, text in pages.items():
        path = out_dir / name
        path.write_text(text)
        written.append(path)
    return written


__all__ = [
    "NOT_MEASURED",
    "METRICS",
    "markdown_table",
    "bullet_list",
    "percent",
    "paper_percent",
    "with_ci",
    "duration",
    "colab_url",
    "scan_rows",
    "split_rows",
    "size_rows",
    "augmentation_rows",
    "parameter_rows",
    "metrics_rows",
    "unfrozen_rows",
    "timing_rows",
    "ci_rows",
    "ci_series",
    "comparison_rows",
    "robustness_rows",
    "config_rows",
    "claims_rows",
    "run_summary",
    "copy_chapter",
    "deviations",
    "environment_rows",
    "provenance_rows",
    "write_generated_pages",
    "label_audit_markdown",
    "ablation_rows",
    "ablation_summary",
    "record_ablation",
]


def calibration_rows(calib: Mapping[str, Any]) -> list[Row]:
    """ECE and accuracy before/after temperature scaling, from ``robustness/calibration.json``."""
    temps = ", ".join(f"{t:.2f}" for t in calib["temperatures"])
    return [
        {"model": "as trained", "ECE": f"{calib['before']['ece']:.4f}",
         "accuracy": percent(calib["accuracy_before"], 2), "temperature": "1"},
        {"model": "temperature-scaled (cross-fitted)", "ECE": f"{calib['after']['ece']:.4f}",
         "accuracy": percent(calib["accuracy_after"], 2), "temperature": temps},
    ]


def ood_rows(ood: Mapping[str, Any]) -> list[Row]:
    """Per out-of-distribution kind: confidence, share called dog, share flagged by the
    threshold that keeps most real images, AUROC of confidence; from ``robustness/ood.json``."""
    rows = [{"input": "real validation images", "mean confidence": f"{ood['in_distribution']['mean_confidence']:.3f}",
             "called dog": "", "flagged": percent(1 - ood["keep_in_distribution"]), "AUROC": ""}]
    for kind, k in ood["kinds"].items():
        rows.append({"input": kind.replace("_", " "), "mean confidence": f"{k['mean_confidence']:.3f}",
                     "called dog": percent(k["share_called_dog"]), "flagged": percent(k["share_flagged"]),
                     "AUROC": f"{k['auroc_confidence']:.3f}"})
    return rows


def ood_confidences(ood: Mapping[str, Any]) -> dict[str, list[float]]:
    """``{input kind: confidences}`` for :func:`catsdogs.plots.confidence_histograms`."""
    out = {"real validation images": ood["in_distribution"]["confidence"]}
    out.update({k.replace("_", " "): v["confidence"] for k, v in ood["kinds"].items()})
    return out


def mitigation_rows(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Row]:
    """Accuracy per corruption at its harshest level and averaged over levels 1-5, for the
    final model and the mitigation model, and the share of the drop recovered."""
    rows = []
    for name, b in before["corruptions"].items():
        a = after["corruptions"].get(name)
        if a is None:
            continue
        drop_b = b["accuracy"][0] - float(np.mean(b["accuracy"][1:]))
        drop_a = a["accuracy"][0] - float(np.mean(a["accuracy"][1:]))
        rows.append({
            "corruption": name.replace("_", " "),
            "clean: final / mitigated": f"{percent(b['accuracy'][0])} / {percent(a['accuracy'][0])}",
            "mean over levels 1-5": f"{percent(np.mean(b['accuracy'][1:]))} / {percent(np.mean(a['accuracy'][1:]))}",
            "harshest level": f"{percent(b['accuracy'][-1])} / {percent(a['accuracy'][-1])}",
            "drop recovered": percent(1 - drop_a / drop_b) if drop_b > 1e-9 else "no drop",
        })
    return rows
