"""What each ``python -m catsdogs`` subcommand does, given its parsed arguments.

:mod:`catsdogs.cli` parses the command line and calls one of :data:`COMMANDS`; each
returns the process's exit status. Output for people is a table or a line per item;
``--json`` gives machines the full record.

Each command imports the modules it uses inside its function: ``predict`` then starts
without loading matplotlib, nbformat, papermill or scikit-learn (they cost about two
seconds), and none of the imports loads TensorFlow before the CLI has quieted it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from catsdogs.config import Config, cache_dir, default_run_dir, get_config, load_recipe, project_dir, runs_dir
from catsdogs.evaluation import predict
from catsdogs.records import CVSummary, ExternalEvaluation, Interval, Metrics, PhaseResult
from catsdogs.runs import Run

#: File suffixes ``predict`` picks up inside a directory argument.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp")
#: ``predict`` shows a progress bar from this many files on.
PROGRESS_FROM = 50


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _overrides(pairs: Sequence[str]) -> dict[str, Any]:
    out = {}
    for pair in pairs or ():
        if "=" not in pair:
            raise ValueError(f"--set expects KEY=VALUE, got {pair!r} (e.g. --set phase2_epochs=2)")
        key, value = pair.split("=", 1)
        out[key.strip()] = _parse_value(value)
    return out


def config_from_args(args: argparse.Namespace) -> Config:
    recipe = getattr(args, "recipe", None)
    overrides = (load_recipe(recipe) if recipe else {}) | _overrides(getattr(args, "set", None))
    for name in ("data_dir", "weights", "cache_dir"):
        value = getattr(args, name, None)
        if value:
            overrides[name] = str(value)
    if getattr(args, "download", False):
        overrides["download"] = True
    return get_config(args.profile, **overrides)


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the block: C++ libraries write there
    directly, past Python's ``sys.stderr``."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _existing_run(args: argparse.Namespace) -> Run:
    """The run of ``--run-dir`` (default ``runs/<profile>``); it must exist, nothing is created."""
    config_from_args(args)  # rejects an unknown --profile or a bad --set with a clear message
    return Run.load(args.run_dir or default_run_dir(args.profile))


def cmd_data(args) -> int:
    from catsdogs.data import scan as data
    from catsdogs.data.split import split_manifest, split_table

    cfg = config_from_args(args)
    root = data.find_data_dir(cfg)
    report = data.scan_dataset(root, cache_dir(cfg), max_per_class=cfg.max_images_per_class, seed=cfg.seed)
    rows = split_manifest(report, cfg.val_fraction, cfg.test_fraction, cfg.seed)
    print(json.dumps(report.summary() | {"split": {s: c.to_dict() for s, c in split_table(rows).items()}}, indent=2))
    return 0


def cmd_weights(args) -> int:
    from catsdogs.model.weights import resolve_weights

    print(json.dumps(resolve_weights(config_from_args(args)).to_dict(), indent=2))
    return 0


def cmd_config(args) -> int:
    print(config_from_args(args).to_json())
    return 0


def cmd_train(args) -> int:
    from catsdogs.training import steps

    cfg = config_from_args(args)
    run_dir = args.run_dir or (Path(f"{args.from_run}-ablation") if args.from_run else None)
    run = steps.train_run(cfg, run_dir, args.from_run, until={"data": "data", "1": "phase1"}.get(args.phase, "phase2"))
    summary = {"run_dir": str(run.path), "timings_s": run.timings()}
    for phase in ("phase1", "phase2"):
        if result := run.result(phase):
            summary[f"{phase}_val_accuracy"] = result.val_metrics.accuracy
    print(json.dumps(summary, indent=2))
    return 0


def cmd_cv(args) -> int:
    from catsdogs.training import cv

    cfg = config_from_args(args)
    path = args.run_dir or runs_dir() / f"cv-{args.profile}"
    if args.prepare:
        study = cv.CrossValidation.open(cfg, path, args.folds)
        study.prepare()
        study.features()
        print(f"{study.path}: {study.n_folds} folds of {len(study.manifest())} images and their features, ready")
        return 0
    if args.merge:
        study = cv.CrossValidation.load(path)
        study.summarize()
    else:
        study = cv.run_cv(
            cfg, path, args.folds, args.fold0, args.phase1_from, folds=args.fold, seed=args.seed, merge=not args.fold
        )
    if args.fold:
        for k in args.fold:
            m = study.fold_run(k, args.seed).record(PhaseResult, "phase2").val_metrics
            print(
                f"{study.fold_dir(k, args.seed)}: accuracy on the scored fold {100 * m.accuracy:.2f} % "
                f"({m.n} images); pool the finished trainings with `cv --merge --run-dir {study.path}`"
            )
        return 0
    result = study.run.record(CVSummary)
    ci, seeds = result.accuracy, result.seed_list
    scope = (
        f"{result.trainings} training{'s' if result.trainings != 1 else ''} "
        f"(seed{'s' if len(seeds) != 1 else ''} {', '.join(map(str, seeds))})"
        if result.trainings is not None
        else f"{result.folds} folds"
    )
    partial = "" if result.is_complete else " (partial: not every fold has every seed yet)"
    print(
        f"{study.path}: pooled out-of-fold accuracy {100 * ci.estimate:.2f} % "
        f"(95 % CI {100 * ci.low:.2f}-{100 * ci.high:.2f}) on {result.images} images, {scope}{partial}"
    )
    return 0


def cmd_explore(args) -> int:
    from catsdogs.training import cv, explore

    cfg = config_from_args(args)
    if args.run_dir is None:
        raise ValueError("explore needs --run-dir: one directory per candidate, e.g. runs/explore/<name>")
    record = explore.explore(cv.CrossValidation.load(args.study), cfg, args.run_dir)
    changes = ", ".join(f"{k}={json.dumps(v)}" for k, v in record.changes.items()) or "the study's recipe"
    plain, flip = record.plain, record.flip
    print(
        f"{args.run_dir} ({changes}): accuracy on the exploration split {100 * plain.accuracy:.2f} % "
        f"({plain.errors} errors of {plain.n}; 95 % CI {100 * plain.ci95.low:.2f}-"
        f"{100 * plain.ci95.high:.2f}), with flip test-time augmentation {100 * flip.accuracy:.2f} %"
    )
    return 0


def cmd_generalization(args) -> int:
    from catsdogs.data.external import MissingExternalSet, find_external_set
    from catsdogs.report.verify import published_record
    from catsdogs.studies import generalization

    record_dir = args.record or published_record("full") or project_dir() / "results" / "full"
    models_record = predict.published_model_record(predict.default_model_path())
    if args.control:
        files = [predict.published_model_dir() / name for name in (models_record.files if models_record else {})]
        generalization.resolution_control(Run.load(record_dir), files)
    if args.duplicates:
        found = []
        for name in generalization.PET_SETS:
            try:
                found.append(find_external_set(name))
            except MissingExternalSet:  # not here: not checked, and the record says which were
                continue
        generalization.duplicate_check(Run.load(record_dir), found)
    summary = generalization.generalization_summary(record_dir, models_record)
    if args.figures is not None:
        records = generalization.external_records(record_dir)
        keras_record = next((r for f, r in records.items() if f.endswith(".keras")), None)
        sets = {}
        for name in generalization.PET_SETS:
            try:
                sets[name] = find_external_set(name)
            except MissingExternalSet:  # not here: its mistakes are left out of the gallery
                continue
        if keras_record and (
            written := generalization.mistake_gallery(
                keras_record, sets, args.figures / generalization.EXTERNAL_GALLERY_FILE
            )
        ):
            print(written)
    print(
        json.dumps(summary.to_dict(), indent=2) if args.json else generalization.generalization_markdown(summary),
        end="",
    )
    return 0


def cmd_compare(args) -> int:
    from catsdogs.studies import ablation

    result = ablation.compare_dirs(args.first, args.second, args.picked_on)  # written to <first>/compare.json
    print(
        json.dumps(result.to_dict(), indent=2) if args.json else ablation.comparison_markdown(result),
        end="\n" if args.json else "",
    )
    return 0


def _metrics_text(metrics: Metrics, ci95: dict[str, Interval] | None) -> str:
    """Metric, estimate and 95 % CI as an aligned text table, then the confusion matrix."""
    from catsdogs.evaluation.metrics import SHOWN_METRICS

    lines = [f"{'metric':<12}{'estimate':>10}   95 % CI"]
    for name in SHOWN_METRICS:
        if (value := getattr(metrics, name)) is None:
            continue
        ci = (ci95 or {}).get(name)
        interval = f"{ci.low:.4f}-{ci.high:.4f}" if ci is not None and ci.low is not None else "-"
        lines.append(f"{name:<12}{value:>10.4f}   {interval}")
    (tn, fp), (fn, tp) = metrics.confusion_matrix
    width = max(len(f"{v:,}") for v in (tn, fp, fn, tp)) + 2
    lines += [
        "",
        f"confusion matrix ({metrics.n:,} images; rows: true class, columns: predicted)",
        f"{'':<6}{'cat':>{width}}{'dog':>{width}}",
        f"{'cat':<6}{tn:>{width},}{fp:>{width},}",
        f"{'dog':<6}{fn:>{width},}{tp:>{width},}",
    ]
    return "\n".join(lines)


def _load_predictor_quietly(path: Path, verbose: bool = False) -> predict.Predictor:
    """:func:`catsdogs.evaluation.predict.load_predictor` plus one warm-up prediction, with native
    stderr silenced unless ``verbose`` (LiteRT announces its XNNPACK delegate there)."""
    with contextlib.nullcontext() if verbose else native_stderr_silenced():
        predictor = predict.load_predictor(path)
        predictor.predict(np.zeros((1, predictor.image_size, predictor.image_size, 3), dtype="float32"))
    return predictor


def _external_replacements(cfg: Config) -> dict[str, str]:
    """Machine paths of ``evaluate --external``'s record and the settings they came from."""
    from catsdogs.config import ENV_EXTERNAL_DIR

    out = {}
    for value, token in (
        (os.environ.get(ENV_EXTERNAL_DIR), f"${ENV_EXTERNAL_DIR}"),
        (str(cache_dir(cfg)), "$CATSDOGS_CACHE_DIR"),
    ):
        if value:
            out[str(Path(value).expanduser().resolve())] = token
            out[value] = token
    return out


def _evaluate_external_sets(args) -> int:
    """``evaluate --external``: the model on each external test set; a set asked for by name
    must be found (a user error otherwise), with no names the missing sets are listed as not
    available and the others evaluated."""
    from catsdogs.data import external as external_data
    from catsdogs.evaluation import external
    from catsdogs.files import atomic_write
    from catsdogs.runs import portable_text

    cfg = config_from_args(args)
    requested = external_data.parse_external_args(args.external)
    sets, missing = external_data.find_external_sets(
        requested, cache=cache_dir(cfg), download=cfg.download, progress=True
    )
    model = args.model or predict.default_model_path()
    predictor = _load_predictor_quietly(model, args.verbose)
    records = external.evaluate_external(
        model, sets, n_samples=cfg.bootstrap_samples, seed=cfg.seed, progress=True, predictor=predictor
    )
    result = ExternalEvaluation(model=external.model_info(model, predictor), sets=records, not_available=missing)
    # the record (--json, --out) names the settings paths came from; the table, for the
    # person at this machine, keeps the paths themselves
    text = portable_text(json.dumps(result.to_dict(), indent=2), _external_replacements(cfg))
    print(text if args.json else external.format_external(records, missing), end="\n" if args.json else "")
    if args.out:
        path = atomic_write(args.out / f"{Path(model).name}.json", text + "\n")
        print(f"record written to {path}", file=sys.stderr if args.json else sys.stdout)
    return 0


def cmd_evaluate(args) -> int:
    from catsdogs.data import scan as data
    from catsdogs.evaluation import evaluate

    if args.external is not None:
        return _evaluate_external_sets(args)
    if args.out:
        raise ValueError("--out writes the record of --external: add --external (or leave out --out)")
    if args.model:
        cfg = config_from_args(args)
        predictor = _load_predictor_quietly(args.model, args.verbose)
        result = evaluate.evaluate_directory(predictor, data.find_data_dir(cfg), cache_dir(cfg))
        result["scan"].pop("skipped_files", None)
        title = f"{args.model} on {result['scan']['usable']:,} images of {result['data']}"
        shown, ci95 = Metrics.from_dict(result["metrics"]), None
    else:
        run = _existing_run(args)
        evaluation = evaluate.evaluate_run(run)  # written to eval/metrics.json; --json prints all of it
        title = f"{run.path}: final model ({evaluation.source}) on the {evaluation.split} split"
        result, shown, ci95 = evaluation.to_dict(), evaluation.metrics, evaluation.ci95
    print(json.dumps(result, indent=2) if args.json else f"{title}\n\n{_metrics_text(shown, ci95)}")
    return 0


def _image_files(paths: Sequence[Path]) -> list[Path]:
    """The given files, with each directory replaced by the image files under it (recursively, sorted)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        else:
            out.append(p)
    return out


def cmd_predict(args) -> int:
    model = args.model or predict.default_model_path()
    predictor = _load_predictor_quietly(model, args.verbose)
    threshold = predict.ood_threshold(model)
    if threshold is None:
        print(
            f"note: no out-of-distribution threshold is recorded for {model}; 'unsure' is not flagged", file=sys.stderr
        )
    files = _image_files(args.images)
    if not files:
        raise ValueError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) under {', '.join(map(str, args.images))}")
    results = predict.predict_files(predictor, files, threshold, progress=len(files) >= PROGRESS_FROM)
    for r in results:
        if args.json:
            print(json.dumps(r.to_dict()))
        elif r.error is not None:
            print(f"{r.file}\terror: {r.error}")
        else:
            print(f"{r.file}\t{r.label}\tP(dog)={r.prob_dog:.4f}" + ("\tunsure" if r.unsure else ""))
    return _predict_exit_status(results)


def _predict_exit_status(results: Sequence[predict.FilePrediction]) -> int:
    """``predict``'s exit status: 0 when every image was labelled, 1 when some could not be
    read, 2 (a user error, like every other) when none could; for 1 and 2 one ``error:``
    line on stderr counts the failures (each file's own line above says why)."""
    failed = sum(r.error is not None for r in results)
    if failed:
        print(f"error: {failed} of {len(results)} files could not be read (see their lines above)", file=sys.stderr)
    return 0 if not failed else 2 if failed == len(results) else 1


def cmd_reproduce(args) -> int:
    from catsdogs.report import book, notebooks, verify

    cfg = config_from_args(args)
    run_dir = notebooks.run_notebooks(cfg, args.run_dir, start=args.start, stop=args.stop)
    if not args.no_book:
        out = book.build_book(run_dir)
        print(f"book: {out / 'index.html'}")
    print(f"run directory: {run_dir}")
    text, status = verify.check_after_reproduce(run_dir)
    print(text, end="")
    return status or 0


def cmd_verify(args) -> int:
    from catsdogs.report import verify

    result = verify.verify_run(args.run_dir, args.against)
    print(result.to_json() if args.json else result.to_text(), end="")
    return result.exit_status


def cmd_book(args) -> int:
    from catsdogs.report import book

    out = book.build_book(args.run_dir, args.out)
    print(f"book: {out / 'index.html'}")
    return 0


def cmd_export(args) -> int:
    from catsdogs.evaluation import export

    result = export.export_run(_existing_run(args), publish_dir=args.publish, force=args.force)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    print(f"{'export':<16}{'size MB':>9}{'val accuracy':>14}{'same label as Keras':>21}{'OOD threshold':>15}  file")
    for name, e in result.exports.items():
        threshold = f"{e.ood_threshold:.4f}" if e.ood_threshold is not None else "-"
        print(
            f"{name:<16}{e.size_mb:>9.3f}{e.val_metrics.accuracy:>14.4f}"
            f"{e.agreement_with_keras:>21.4f}{threshold:>15}  {e.file}"
        )
    return 0


def cmd_bench(args) -> int:
    from catsdogs.evaluation import export

    with contextlib.nullcontext() if args.verbose else native_stderr_silenced():  # LiteRT's delegate line
        result = export.bench_run(_existing_run(args), repeats=args.repeats, force=True)
    print(json.dumps(result.to_dict(), indent=2) if args.json else export.format_bench(result))
    return 0


def cmd_ablation(args) -> int:
    from catsdogs.studies import ablation

    result = ablation.record_ablation(Run.load(args.run_dir), [Run.load(p) for p in args.runs])
    print(ablation.ablation_rows(result).markdown(), end="")
    return 0


def cmd_audit(args) -> int:
    from catsdogs.studies import label_audit

    if args.cv:
        summary = label_audit.audit_study(args.cv)
        if args.json:
            print(json.dumps(summary.to_dict(), indent=2))
        else:
            print(f"contact sheets of the images to look at: {args.cv / 'contact_sheets'}\n")
            print(label_audit.dataset_audit_markdown(summary), end="")
        return 0
    result = label_audit.audit_run(Run.load(args.run_dir))
    print(
        json.dumps(result.to_dict(), indent=2) if args.json else label_audit.audit_markdown(result),
        end="\n" if args.json else "",
    )
    return 0


def cmd_publish_results(args) -> int:
    from catsdogs.runs import FOLDS_FILE, CVStudy, publish_records
    from catsdogs.studies import cv_report

    if (args.run_dir / FOLDS_FILE).is_file():
        figures = args.figures
        if figures is None and args.out.resolve() == (project_dir() / "results").resolve():
            figures = cv_report.book_figures_dir()
        written = cv_report.publish_study(CVStudy.load(args.run_dir), args.out, figures)
    else:
        written = publish_records(Run.load(args.run_dir), args.out)
    for path in written:
        print(path)
    return 0


def cmd_address(args) -> int:
    from catsdogs.report import address

    root = project_dir()
    if args.url:
        changed = address.set_repository_address(args.url, root)
        for path in changed:
            print(f"rewrote {path.relative_to(root)}")
        print(f"the repository address is {args.url} in {len(changed)} files")
    elif args.check:
        address.check_repository(args.check, root)
        print(f"the repository address matches {args.check}")
    else:
        print(address.configured_address(root))
    problems = address.address_mismatches(root)
    for problem in problems:
        print(f"mismatch: {problem}", file=sys.stderr)
    return 1 if problems else 0


COMMANDS = {
    "address": cmd_address,
    "generalization": cmd_generalization,
    "cv": cmd_cv,
    "explore": cmd_explore,
    "compare": cmd_compare,
    "ablation": cmd_ablation,
    "audit": cmd_audit,
    "publish-results": cmd_publish_results,
    "data": cmd_data,
    "weights": cmd_weights,
    "config": cmd_config,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
    "predict": cmd_predict,
    "reproduce": cmd_reproduce,
    "verify": cmd_verify,
    "book": cmd_book,
    "export": cmd_export,
    "bench": cmd_bench,
}
