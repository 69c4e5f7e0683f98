"""The Jupyter Book: generated pages from a run's records, the executed chapters copied
in, and the whole build.

:func:`_assemble_book` copies the book sources and a run's executed chapters (made
portable by :func:`copy_chapter`) into a folder and writes the generated pages
(``book/_generated/*.md``, :func:`write_generated_pages`), which the hand-written
pages ``{include}``; :func:`build_book` builds HTML with warnings as errors. The
book never executes a notebook.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat

from catsdogs import plots
from catsdogs.config import CHAPTERS, Config, UserError, get_config, project_dir, project_root, setting_differences
from catsdogs.evaluation import predict
from catsdogs.markdown import NOT_MEASURED, Table, bullet_list, hardware_text, markdown_table, table_builder
from catsdogs.provenance import file_first_commit
from catsdogs.records import Ablation, Evaluation, GitState, Hardware, PublishedModels, RunAudit
from catsdogs.report import budget, tables, toolchain, verify
from catsdogs.runs import Run
from catsdogs.studies import ablation, claims, cv_report, exploration, generalization, label_audit, trainings, verdicts
from catsdogs.studies.paper import PAPER

log = logging.getLogger(__name__)


#: The order of the method chapter's table of settings (data, model, phase 1, phase 2,
#: evaluation, study, seed); why each has its value is the field's ``reason`` in
#: :class:`~catsdogs.config.Config` (:meth:`Config.reasons`). Fields with a reason missing
#: here follow, in field order.
CONFIG_ROW_ORDER: tuple[str, ...] = (
    "image_size",
    "val_fraction",
    "test_fraction",
    "protocol",
    "inner_val_fraction",
    "max_images_per_class",
    "batch_size",
    "dropout",
    "augment_rotation",
    "augment_zoom",
    "phase1_epochs",
    "phase1_lr",
    "phase1_patience",
    "fine_tune_from",
    "phase2_epochs",
    "phase2_lr",
    "phase2_patience",
    "phase2_schedule",
    "label_smoothing",
    "tta_flip",
    "bootstrap_samples",
    "robustness_per_class",
    "mitigation_epochs",
    "seed",
    "train_seed",
    "deterministic",
)


@table_builder
def config_rows(config: Config) -> Table:
    """Every chosen hyper-parameter: this run's value, the ``full`` profile's, and why
    (the paper gives no epochs, learning rates or split)."""
    full = get_config("full")
    reasons = Config.reasons()
    names = [n for n in CONFIG_ROW_ORDER if n in reasons] + [n for n in reasons if n not in CONFIG_ROW_ORDER]
    return [
        {
            "setting": f"`{name}`",
            "this run": f"`{getattr(config, name)}`",
            "`full` profile": f"`{getattr(full, name)}`",
            "why": reasons[name],
        }
        for name in names
    ]


def copy_chapter(src: Path | str, dst: Path | str) -> Path:
    """Copy an executed chapter into the book, made portable.

    * the values papermill injected replace the defaults in the ``parameters`` cell
      (:func:`with_injected_values`), and the injected cell is dropped: the rendered cell
      shows what this run used;
    * stderr outputs (TensorFlow logs, warnings, progress bars) are dropped: the book
      does not show them and they hold this machine's paths;
    * absolute paths of the run directory, of the project and of the checkout papermill
      executed the chapter from are rewritten as ``runs/<name>`` and ``.``, so a
      committed notebook names no machine.
    """
    src = Path(src)
    nb = nbformat.read(src, as_version=4)
    injected = next((c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])), None)
    if injected is not None:
        nb.cells.remove(injected)
        defaults = next((c for c in nb.cells if "parameters" in c.metadata.get("tags", [])), None)
        if defaults is not None:
            defaults.source = with_injected_values(defaults.source, injected.source)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [
                o for o in cell.outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
            ]
    text = json.dumps(nb, indent=1, ensure_ascii=False)
    run_path = src.resolve().parent.parent  # <run>/notebooks/NN.ipynb
    replacements = {str(run_path): f"runs/{run_path.name}"}
    root = project_root(src.parent) or project_root()
    if root is not None:
        replacements[str(root)] = "."
    # the checkout papermill executed the chapter from (a pinned worktree, say) is "." too
    executed_from = (nb.metadata.get("papermill") or {}).get("input_path")
    if executed_from and Path(executed_from).is_absolute():
        replacements[str(Path(executed_from).parent.parent)] = "."  # <checkout>/notebooks/NN.ipynb
    for old, new in sorted(replacements.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(json.dumps(old)[1:-1], new)
    nbformat.write(nbformat.reads(text, as_version=4), dst)
    for problem in output_problems(dst):
        log.warning("%s (a reader should not see it: fix the chapter's source)", problem)
    return Path(dst)


_ASSIGNMENT = re.compile(r"^(?P<name>[A-Za-z_]\w*) = (?P<value>.*?)(?P<comment>\s+#.*)?$")


def with_injected_values(defaults: str, injected: str) -> str:
    """A ``parameters`` cell's source with the values papermill injected for this run in
    place of the defaults (their comments kept), so the rendered cell shows what ran."""
    values = {m["name"]: m["value"] for line in injected.splitlines() if (m := _ASSIGNMENT.match(line))}
    lines, shown = [], set()
    for line in defaults.splitlines():
        m = _ASSIGNMENT.match(line)
        if m and m["name"] in values:
            line = f"{m['name']} = {values[m['name']]}{m['comment'] or ''}"
            shown.add(m["name"])
        lines.append(line)
    # a value papermill set that the defaults cell does not name is shown too, not lost
    lines += [f"{name} = {value}  # set for this run" for name, value in values.items() if name not in shown]
    return "\n".join(lines)


#: What an executed chapter must not show: a traceback, TensorFlow's or absl's log lines.
_OUTPUT_JUNK = re.compile(r"Traceback \(most recent call last\)|^WARNING:tensorflow|^W\d{4} |^E\d{4} |absl::", re.M)
#: The longest stream output (lines) a chapter may show: more is a progress bar or a log.
MAX_STREAM_LINES = 30


def output_problems(notebook: Path | str) -> list[str]:
    """What in an executed notebook's outputs a reader should not see: stream outputs over
    :data:`MAX_STREAM_LINES` lines, tracebacks and TensorFlow/absl log lines (one message
    each, naming the cell)."""
    nb = nbformat.read(notebook, as_version=4)
    problems = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            text = out.get("text", "") if out.get("output_type") == "stream" else ""
            text += "\n".join(out.get("traceback", []))
            if out.get("output_type") == "stream" and text.count("\n") > MAX_STREAM_LINES:
                problems.append(f"{Path(notebook).name} cell {i}: {text.count(chr(10))} lines of {out['name']}")
            if junk := _OUTPUT_JUNK.search(text):
                problems.append(f"{Path(notebook).name} cell {i}: {junk.group(0)!r}")
    return problems


def deviations(run: Run) -> list[str]:
    """Where this run departs from the paper (or from what the paper states), from its records."""
    cfg, full = run.config, get_config("full")
    prov = run.provenance
    weights = prov.weights if prov else None
    items = [
        "The paper gives no epochs, learning rates, split or unfreeze point; ours are chosen and "
        "justified in the method chapter."
    ]
    if weights and weights.kind == "tflite-converted":
        items.append(
            "ImageNet weights: Keras' float MobileNetV2 checkpoint cannot be downloaded on the offline "
            "build machine, so the base starts from the official **int8 post-training-quantized TFLite** "
            "MobileNetV2, dequantized into the Keras model (batch norm folded into the convolutions). "
            "The starting weights carry int8 rounding error."
        )
    elif weights:
        items.append(f'ImageNet weights: `{weights.kind}` (the paper\'s Keras `weights="imagenet"`).')
    if cfg.phase1_cached_features:
        items.append(
            "Phase 1 trains the head on features computed once by the frozen base, so phase 1 "
            "sees no augmentation (augmentation is used in phase 2)."
        )
    items.append("Batch-norm layers stay frozen and in inference mode during fine-tuning (Keras guide).")
    if longest := tables.upsampled_from(run):
        items.append(
            f"No image available to this run is larger than {longest} pixels on its longer side "
            "(the Kaggle originals are mostly around 500×375): every image is upsampled to "
            f"{cfg.image_size}×{cfg.image_size}, so the model sees no more detail than "
            f"{longest} pixels carry."
        )
    if cfg.test_fraction == 0:
        items.append(
            "As in the paper, the headline figures are on the validation split, which also drives "
            "early stopping: a slightly optimistic estimate."
        )
    changed = [
        f"`{k}` = `{getattr(cfg, k)}` (full: `{getattr(full, k)}`)"
        for k in full.training_dict()
        if k not in ("profile",) and getattr(cfg, k) != getattr(full, k)
    ]
    if changed:
        items.append(f"This run uses the **{cfg.profile}** profile, not the full protocol: " + "; ".join(changed) + ".")
    hw = prov.hardware if prov else None
    if hw and not hw.gpus:
        items.append("Trained and timed on a CPU; the paper's latency is on an unspecified GPU.")
    return items


@table_builder
def environment_rows(run: Run) -> Table:
    """Python, package versions, git commit and hardware from ``provenance.json``."""
    prov = run.provenance
    env = prov.environment if prov else None
    if not env:
        return [{"item": "(no provenance recorded)", "value": ""}]
    git = env.git or GitState()
    commit = git.commit or "not a git checkout"
    rows = [{"item": "recorded at", "value": env.recorded_at}, {"item": "python", "value": env.python}]
    rows += [{"item": f"`{p}`", "value": v} for p, v in env.packages.items()]
    rows.append({"item": "git commit", "value": f"`{commit}`" + (" (with uncommitted changes)" if git.dirty else "")})
    hw = env.hardware or Hardware()
    rows += [
        {"item": "hardware", "value": hardware_text(hw)},
        {"item": "memory", "value": f"{hw.memory_gb} GB"},
        {"item": "platform", "value": hw.platform or ""},
    ]
    return rows


@table_builder
def _provenance_rows(run: Run) -> Table:
    """Data and weights provenance (hashes, counts; file names, never machine paths)."""
    prov = run.provenance
    data, weights = (prov.data, prov.weights) if prov else (None, None)
    rows = []
    if data:
        fetched = data.download
        rows += [
            {
                "item": "dataset",
                "value": "downloaded Microsoft archive" + (f" (sha256 `{fetched.sha256}`)" if fetched else "")
                if fetched
                else "a local PetImages copy",
            },
            {
                "item": "usable images",
                "value": f"{data.usable_images:,} ({', '.join(f'{c}: {n:,}' for c, n in data.per_class.items())})",
            },
            {"item": "skipped / converted files", "value": f"{data.skipped} / {data.converted}"},
            {"item": "split manifest sha256", "value": f"`{data.manifest_sha256}`"},
        ]
    if weights:
        rows += [
            {"item": "ImageNet weights", "value": f"{weights.kind}: `{Path(weights.source).name}`"},
            {"item": "weights source sha256", "value": f"`{weights.source_sha256}`"},
        ]
        if weights.converted_sha256:
            rows.append({"item": "converted Keras weights sha256", "value": f"`{weights.converted_sha256}`"})
    final = run.final_result()
    if final and final.model_sha256:
        rows.append({"item": "trained model sha256", "value": f"`{final.model_sha256}`"})
    return rows or [{"item": "(no provenance recorded)", "value": ""}]


@functools.cache
def imagenet_model() -> dict[str, Any]:
    """Parameters and float32 size of Keras's MobileNetV2 *with* its 1,000-class ImageNet
    top (built without weights), and the width of its last layer's input: the model the
    paper's "≈3.5M parameters, 14 MB" describes."""
    import keras  # loads TensorFlow: only the book build needs this one model

    top = keras.applications.MobileNetV2(weights=None, include_top=True, classes=1000)
    n_top = int(top.count_params())
    return {
        "parameters": n_top,
        "size_mb": n_top * 4 / 1e6,
        "features": int(top.get_layer("predictions").input.shape[-1]),
    }


def _parameter_explanation(run: Run) -> str:
    """Where the paper's "3.5M parameters / 14 MB" comes from, computed: Keras's
    MobileNetV2 *with* its 1,000-class ImageNet top, against this run's binary model."""
    top = imagenet_model()
    n_top, base = top["parameters"], top["features"]
    final = run.final_result()
    ours = final.parameters.total if final else None
    export = run.export
    lines = [
        f"Keras's `MobileNetV2(include_top=True)` (the 1,000-class ImageNet classifier) has "
        f"**{n_top:,}** parameters, {n_top * 4 / 2**20:.1f} MiB as float32 "
        f'({n_top * 4 / 1e6:.1f} MB): the paper\'s "≈3.5M parameters, 14 MB".',
        f"Its last layer alone maps {base:,} pooled features to 1,000 classes "
        f"({base * 1000 + 1000:,} parameters). The binary model drops it for one logit "
        f"({base + 1:,} parameters)" + (f", for **{ours:,}** parameters in all." if ours else "."),
    ]
    if export:
        k, q = export.keras, export.int8
        lines.append(
            f"Saved without optimizer state the Keras file is {k.size_mb:.1f} MB; "
            f"the int8 TFLite export is {q.size_mb:.1f} MB."
        )
    return " ".join(lines) + "\n"


def caveats(run: Run) -> list[str]:
    """The limits of this reproduction that bear on every figure, one short phrase each,
    from the run's records (the bottom line states them once; the deviations list explains)."""
    cfg, out = run.config, []
    if longest := tables.upsampled_from(run):
        sizes = {(r.width, r.height) for r in run.manifest()}
        held = (
            f"is {'×'.join(map(str, next(iter(sizes))))} pixels"
            if len(sizes) == 1
            else f"is at most {longest} px a side"
        )
        out.append(
            f"every image of [the dataset copy](method.md#the-dataset-copy) here {held}, upsampled to {cfg.image_size} px"
        )
    prov = run.provenance
    if prov and prov.weights and prov.weights.kind == "tflite-converted":
        out.append("the ImageNet weights are the official int8 TFLite model, dequantized")
    final = run.final_result()
    loss = final.loss_by_epoch if final else []
    if final and final.phase == "phase2" and len(loss) >= 2 and loss[-1] < loss[-2]:
        text = f"the published run's fine-tuning stops after {len(loss)} epochs with its validation loss still falling"
        results = project_dir() / "results"
        same_recipe = [
            s
            for name, s in cv_report.studies_of(run, results).items()
            if s.cv and not setting_differences(Run.load(results / name).config, cfg)
        ]
        best = [b for s in same_recipe for b in cv_report.best_epochs(s)]
        early = sum(b < n for b, n in best)
        if best and early:
            text += f" (in {early} of the {len(best)} cross-validation folds of its recipe, it was lowest earlier)"
        out.append(text)
    spread, seeded = None, []
    if cfg.profile == "full":  # the published records are of the full profile
        groups = trainings.repeated_trainings(trainings.published_trainings(project_dir() / "results"))
        spread = max(map(trainings.spread, groups), default=None)
        seeded = [
            s.label
            for s in cv_report.studies_of(run, project_dir() / "results").values()
            if s.cv and len(s.cv.seed_list) > 1
        ]
    once = (
        f"every training behind these figures ran once, with seed {cfg.seed} (the cross-validated ones pool one per fold)"
        if not seeded
        else f"apart from the {' and '.join(seeded)} (two training seeds per fold), every training behind "
        f"these figures ran once, with seed {cfg.seed}"
    )
    out.append(
        once
        + (
            f"; the recipes trained twice on one split moved by up to {100 * spread:.2f} pp between trainings"
            if spread is not None
            else ""
        )
    )
    return out


def write_generated_pages(run: Run, out_dir: Path | str) -> list[Path]:
    """Write the Markdown the book's pages ``{include}`` into ``out_dir``; return the files.

    Files: ``run.md``, ``claims.md``, ``comparison.md``, ``ci.md``, ``hyperparameters.md``,
    ``deviations.md``, ``timings.md``, ``environment.md``, ``provenance.md``,
    ``robustness.md``, ``mitigation.md``, ``ablation.md``, ``label_audit.md``, ``parameters.md``,
    ``published_environment.md`` (:mod:`catsdogs.report.verify`), and from the published
    cross-validation studies ``claims_summary.md``, ``cv_verdict.md``, ``cv_headline.md`` and ``cv_forest.md`` (+ ``.png``),
    ``cv_compare.md``, ``cv_folds.md``, ``cv_explore.md``, ``cv_label_audit.md`` (+ the study's gallery), and from
    the published models' external records ``generalization.md`` (+ its gallery) and
    ``generalization_breeds.md``.
    A page whose record is missing says which step writes it.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ev, robust = run.evaluation, run.corruption_study()
    pages = {
        "run.md": tables.run_summary(run),
        "claims.md": markdown_table(claims.paper_claim_rows()),
        "comparison.md": markdown_table(claims.comparison_rows(run)),
        "ci.md": markdown_table(tables.ci_rows(ev)) if ev else f"*{NOT_MEASURED}: run chapter 05.*\n",
        "hyperparameters.md": markdown_table(config_rows(run.config)),
        "deviations.md": bullet_list(deviations(run)),
        "timings.md": markdown_table(tables.timing_rows(run)),
        "environment.md": markdown_table(environment_rows(run)),
        "provenance.md": markdown_table(_provenance_rows(run)),
        "robustness.md": markdown_table(tables.robustness_rows(robust))
        if robust
        else f"*{NOT_MEASURED}: run chapter 06.*\n",
        "mitigation.md": tables.mitigation_summary(run.mitigation),
        "ablation.md": ablation.ablation_markdown(run.record_or_none(Ablation), ev.accuracy if ev else None),
        "label_audit.md": label_audit.audit_markdown(run.record_or_none(RunAudit)),
        "parameters.md": _parameter_explanation(run),
        "compute_budget.md": budget.compute_budget_rows().markdown(),
        "published_environment.md": verify.published_environment_markdown(run, environment_rows),
    }
    pages.update(_verdict_pages(run, out_dir, ev))
    written = []
    for name, text in pages.items():
        path = out_dir / name
        path.write_text(text)
        written.append(path)
    return written


def _exploration_page() -> str:
    """The table of the explored candidates (``results/explore``), naming the candidate
    recipes of ``recipes/candidates`` that have no record yet."""
    root = project_dir()
    records = exploration.load_explorations(root / "results" / "explore")
    pending = sorted(p.stem for p in (root / "recipes" / "candidates").glob("*.json") if p.stem not in records)
    return exploration.exploration_markdown(records, pending)


def _declared_page(studies: Mapping[str, cv_report.StudyReport]) -> str:
    """Each declared recipe (``recipes/*.json``): when it was fixed against when its study
    started, its settings and why, and its comparison with the headline study once made."""
    root, parts = project_dir(), []
    for name, recipe in exploration.declared_recipes(root).items():
        study = exploration.study_name(name)
        declared = file_first_commit(f"recipes/{name}.json")
        text = exploration.declared_markdown(
            name,
            recipe,
            exploration.declaration_text(name, declared, exploration.first_training(root / "results" / study)),
        )
        compare = cv_report.comparison_of(studies, study)
        if study in studies and (target := cv_report.target_sentence(studies[study])):
            text += "\n" + target + "\n"
        text += "\n" + (
            ablation.comparison_markdown(compare, cv_report.STUDIES)
            if compare
            else f"*Its comparison with the headline study comes once every training of `{study}` has finished "
            f"(`python -m catsdogs compare runs/cv-inner-paper runs/{study} --picked-on exploration`).*\n"
        )
        parts.append(text)
    return "\n".join(parts) or "*No recipe has been declared yet (`recipes/<name>.json`).*\n"


def _published_record() -> Path:
    """The published run's records (``results/full``): the generalization study belongs
    to the published models, as the cross-validation studies do."""
    return verify.published_record("full") or project_dir() / "results" / "full"


def _models_record() -> PublishedModels | None:
    """The published models' record (``models/catsdogs_mobilenetv2.json``), if any."""
    return predict.published_model_record(predict.default_model_path())


def _generalization_figure(out_dir: Path) -> str:
    """The committed gallery of external mistakes (``generalization --figures``), if any."""
    published = cv_report.book_figures_dir() / generalization.EXTERNAL_GALLERY_FILE
    if not published.is_file():
        return ""
    target = out_dir / generalization.EXTERNAL_GALLERY_FILE
    if target.resolve() != published.resolve():  # not the published book itself
        shutil.copy2(published, target)
    return (
        f"\n```{{figure}} _generated/{generalization.EXTERNAL_GALLERY_FILE}\n:name: external-mistakes\n\nThe Keras model's most "
        "confident mistakes on each independent set: the image, its class, and the model's P(dog).\n```\n"
    )


def _breed_tables() -> str:
    """Per breed (or class) of each set of pet photos, for the Keras model."""
    records = generalization.external_records(_published_record())
    record = next((r for f, r in records.items() if f.endswith(".keras")), None)
    if record is None:
        return f"*{NOT_MEASURED}: run `python -m catsdogs evaluate --external`.*\n"
    parts = []
    for name in generalization.PET_SETS:
        rows = generalization.breed_rows(record, name)
        if rows:
            parts.append(f"**{record.sets[name].data.title}**\n\n{markdown_table(rows)}")
    return "\n".join(parts)


def _verdict_pages(run: Run, out_dir: Path, ev: Evaluation | None) -> dict[str, str]:
    """The reproduction summary and the cross-validation page's pieces (with the forest plot)."""
    studies = cv_report.studies_of(run, project_dir() / "results")
    rows = cv_report.forest_rows(studies, ev if studies else None)
    if rows:
        fig = plots.forest_plot(rows, reference=PAPER.accuracy, reference_label="the paper's 98.9 %")
        fig.savefig(out_dir / "cv_forest.png", dpi=120)
    headline = cv_report.headline_rows(studies, ev)
    if headline:
        fig = plots.forest_plot(headline, reference=PAPER.accuracy, reference_label="the paper's 98.9 %", legend=False)
        fig.savefig(out_dir / "cv_headline.png", dpi=120)
    folds = cv_report.fold_rows(studies)
    audited = next((s for s in studies.values() if s.label_audit), None)
    # The gallery is a committed book figure (publish-results), not a record in results/.
    name = cv_report.gallery_figure(audited.name) if audited else ""
    published_gallery = cv_report.book_figures_dir() / name
    gallery = ""
    if audited and not published_gallery.is_file():
        log.warning("%s has a label audit but no gallery %s: publish-results writes it", audited.name, name)
    elif audited:
        if (out_dir / name).resolve() != published_gallery.resolve():  # not the published book itself
            shutil.copy2(published_gallery, out_dir / name)
        gallery = (
            f"\n```{{figure}} _generated/{name}\n:name: cv-label-errors\n\nEvery confirmed label "
            "error among the images looked at: the folder's label, and what the image shows.\n```\n"
        )
    compare = next((c for c in cv_report.comparisons(studies) if c.first == "cv-paper"), None)
    external = generalization.generalization_summary(_published_record(), _models_record())
    found = claims.judge_claims(run, studies, external, imagenet_model())
    return {
        "generalization.md": generalization.generalization_markdown(external) + _generalization_figure(out_dir),
        "generalization_breeds.md": _breed_tables(),
        "cv_compare.md": ablation.comparison_markdown(compare, cv_report.STUDIES),
        "cv_label_audit.md": label_audit.dataset_audit_markdown(audited.label_audit if audited else None) + gallery,
        "claims_summary.md": markdown_table([c.row() for c in found]),
        "bottom_line.md": claims.bottom_line(found, caveats(run)),
        "verdict_rules.md": verdicts.verdict_rules(),
        "cv_verdict.md": cv_report.verdict_markdown(studies),
        "cv_selection.md": cv_report.epoch_choice_markdown(studies),
        "cv_trainings.md": _repeated_trainings_markdown(run),
        "cv_folds.md": folds.markdown() if folds else "*No fold has finished.*\n",
        "cv_explore.md": _exploration_page(),
        "cv_declared.md": _declared_page(studies),
        "cv_headline.md": (
            "```{figure} _generated/cv_headline.png\n:alt: Pooled out-of-fold accuracy "
            "of each cross-validated recipe and the published run's single split, with 95 % intervals, "
            "against the paper's 98.9 %.\n\nThe headline first: the paper-faithful recipe under the inner "
            "protocol, which chose nothing on the images it scores, each fold trained with two seeds. Below "
            "it, the figures whose epoch was chosen on the scored fold (paper protocol), and the published "
            "run's one split. 95 % bootstrap intervals; the dashed line is the paper's 98.9 %.\n```\n"
        )
        if headline
        else "*No cross-validation study has finished yet.*\n",
        "cv_forest.md": (
            "```{figure} _generated/cv_forest.png\n:name: cv-forest\n:alt: Accuracy of every training "
            "on its scored fold and each recipe's pooled estimate, with 95 % intervals.\n\nEvery training "
            "of each recipe on its scored fold (dot) and the recipe's pooled out-of-fold estimate "
            "(diamond), with 95 % bootstrap CIs; the dashed line is the paper's 98.9 %.\n```\n"
        )
        if rows
        else "*Nothing to plot yet.*\n",
    }


#: What the repeated-trainings table calls a group, by the top folder of its first record.
TRAINING_GROUPS = {
    "full": cv_report.STUDIES["cv-paper"],
    "full-lr3e-5": cv_report.STUDIES["cv-lr3e-5"],
    "cv-inner-paper": cv_report.STUDIES["cv-inner-paper"],
}


def _repeated_trainings_markdown(run: Run, results: Path | str | None = None) -> str:
    """Every recipe trained more than once on one split, each training named by its record,
    host and commit (:mod:`catsdogs.studies.trainings`), with the spread between them; the
    published records are of the full profile, so a book of another profile says so."""
    if run.config.profile != "full":
        return (
            f"*The published trainings are of the full profile; this book was built from a {run.config.profile} run.*\n"
        )
    groups = trainings.repeated_trainings(trainings.published_trainings(Path(results or project_dir() / "results")))
    if not groups:
        return "*No recipe has been trained twice on one split among the published records.*\n"

    one_host = [g for g in groups if len({t.machine for t in g}) == 1 and g[0].machine]
    across = [g for g in groups if g not in one_host]
    parts = []
    if one_host:
        parts.append(
            f"on one host, with another training seed, by up to {100 * max(map(trainings.spread, one_host)):.2f} "
            f"percentage points ({len(one_host)} pair{'s' if len(one_host) > 1 else ''}: training variance alone)"
        )
    if across:
        parts.append(
            f"on different hosts by up to {100 * max(map(trainings.spread, across)):.2f} points ({len(across)} "
            f"pair{'s' if len(across) > 1 else ''}: training and host variance, not told apart)"
        )
    return (
        trainings.repeated_rows(groups, TRAINING_GROUPS).markdown()
        + "\nThe same recipe on the same images, trained again, moved accuracy "
        + " and ".join(parts)
        + ". Differences of that size between two single trainings say nothing about their recipes.\n"
    )


def _assemble_book(run_dir: Path | str, out: Path | str) -> Path:
    """Copy the book sources and the run's executed chapters into ``out``; write the
    generated pages. Returns ``out``. ``out`` may be the project root itself (the
    published book), in which case only ``book/chapters`` and generated pages change."""
    run = Run.load(run_dir)
    root, out = project_dir(), Path(out)
    if out.resolve() != root.resolve():
        out.mkdir(parents=True, exist_ok=True)
        for name in ("_config.yml", "_toc.yml"):
            shutil.copy2(root / name, out / name)
        if (out / "book").exists():
            shutil.rmtree(out / "book")
        shutil.copytree(root / "book", out / "book", ignore=shutil.ignore_patterns("chapters", "_generated"))
        # the method page shows the library's own source (literalinclude ../catsdogs/...)
        if (out / "catsdogs").exists():
            shutil.rmtree(out / "catsdogs")
        shutil.copytree(root / "catsdogs", out / "catsdogs", ignore=shutil.ignore_patterns("__pycache__"))
    chapters = out / "book" / "chapters"
    chapters.mkdir(parents=True, exist_ok=True)
    missing = [c for c in CHAPTERS if not (run.path / "notebooks" / f"{c}.ipynb").is_file()]
    if missing:
        raise FileNotFoundError(
            f"run {run.path} has no executed notebook for {', '.join(missing)}: run "
            f"`python -m catsdogs reproduce --run-dir {run.path}` first"
        )
    for c in CHAPTERS:
        copy_chapter(run.path / "notebooks" / f"{c}.ipynb", chapters / f"{c}.ipynb")
    write_generated_pages(run, out / "book" / "_generated")
    return out


def build_book(run_dir: Path | str, out: Path | str | None = None) -> Path:
    """Assemble and build the book (HTML, warnings as errors); return the HTML folder."""
    out = Path(out) if out else Path(run_dir) / "book"
    _assemble_book(run_dir, out)
    jb = toolchain.jupyter_book(Run.load(run_dir).config)
    cmd = [str(jb), "build", str(out), "--warningiserror", "--nitpick", "--keep-going"]
    log.info("building the book: %s", " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise UserError(f"jupyter-book build of {out} failed (warnings are errors):\n{tail}")
    html = out / "_build" / "html"  # the Try page's files: book/_ext/try_model_page.py
    (html / "build_record.json").write_text(json.dumps({"run_dir": str(Path(run_dir).resolve())}) + "\n")
    return html
