"""``python -m catsdogs``: the command-line interface.

Every subcommand takes a profile and overrides; errors caused by the user's input
(missing data, bad option, unreadable image, ...) print one ``error:`` line that
says what to do and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from catsdogs.config import PROFILES, Config, cache_dir, get_config, runs_dir

log = logging.getLogger("catsdogs")


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
    overrides = _overrides(getattr(args, "set", None))
    for name in ("data_dir", "weights", "cache_dir"):
        value = getattr(args, name, None)
        if value:
            overrides[name] = str(value)
    if getattr(args, "download", False):
        overrides["download"] = True
    return get_config(args.profile, **overrides)


def _add_common(p: argparse.ArgumentParser, run_dir: bool = True) -> None:
    p.add_argument("--profile", default="full", help=f"named preset: {', '.join(PROFILES)} (default: full, the paper's protocol)")
    p.add_argument("--data-dir", type=Path, help="PetImages folder holding Cat/ and Dog/ (default: $CATSDOGS_DATA_DIR)")
    p.add_argument("--download", action="store_true", help="download the Microsoft archive if no data is found (needs internet)")
    p.add_argument(
        "--weights",
        help='ImageNet weights: "imagenet" (Keras download), a Keras .h5 file, or the int8 MobileNetV2 .tflite '
        "(default: $CATSDOGS_WEIGHTS, else imagenet)",
    )
    p.add_argument("--cache-dir", type=Path, help="cache for converted weights and downloads (default: $CATSDOGS_CACHE_DIR or ~/.cache/catsdogs)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override any config field, e.g. --set phase2_epochs=2 (repeatable)")
    if run_dir:
        p.add_argument("--run-dir", type=Path, help="run directory (default: runs/<profile>)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m catsdogs",
        description="MobileNetV2 transfer learning on Cats vs Dogs: data, training, evaluation, reproduction.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("data", help="check (or --download) the dataset, validate every file, print counts")
    _add_common(p, run_dir=False)

    p = sub.add_parser("weights", help="resolve the ImageNet weights (converting the TFLite model if configured)")
    _add_common(p, run_dir=False)

    p = sub.add_parser("config", help="print the resolved config of a profile as JSON")
    _add_common(p, run_dir=False)

    p = sub.add_parser("train", help="run both training phases into a run directory (resumes what is done)")
    _add_common(p)
    p.add_argument("--phase", choices=["data", "1", "2", "all"], default="all", help="stop after this step (default: all)")
    p.add_argument("--from-run", type=Path, help="reuse the data split and phase 1 of this run (phase-2 ablations)")

    p = sub.add_parser("cv", help="K-fold cross-validation of the recipe over every image (resumable)")
    _add_common(p)
    p.add_argument("--folds", type=int, default=5, help="number of folds; fold 0 is the usual validation split (default 5)")
    p.add_argument("--fold0", type=Path, help="a finished run of the same recipe to use as fold 0 instead of training it")
    p.add_argument("--phase1-from", type=Path, help="another study on the same folds whose phase 1 each fold shares "
                   "(for phase-2 variants)")

    p = sub.add_parser("compare", help="paired comparison of two cross-validation studies (exact McNemar test)")
    p.add_argument("first", type=Path, help="the reference study (gets compare.json)")
    p.add_argument("second", type=Path, help="the study compared with it")

    p = sub.add_parser("evaluate", help="metrics of a run (--run-dir) or of a saved model on a folder of images (--model)")
    _add_common(p)
    p.add_argument("--model", type=Path, help="a .keras model or .tflite export to evaluate on --data-dir")

    p = sub.add_parser("predict", help="label and probability for image files")
    p.add_argument("images", nargs="+", type=Path, help="image files (JPEG, PNG, ...)")
    p.add_argument("--model", type=Path, help="a .keras model or .tflite export (default: the published model under models/)")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of a table")

    p = sub.add_parser("reproduce", help="execute the six notebooks in order with papermill, then build the book")
    _add_common(p)
    p.add_argument("--from", dest="start", default="01", help="first chapter to execute, e.g. 04 (earlier ones must be done)")
    p.add_argument("--to", dest="stop", default="06", help="last chapter to execute (default 06)")
    p.add_argument("--no-book", action="store_true", help="skip the book build")

    p = sub.add_parser("book", help="build the Jupyter Book from a run's executed notebooks")
    p.add_argument("--run-dir", type=Path, required=True, help="run whose executed notebooks to render")
    p.add_argument("--out", type=Path, help="where to assemble and build the book (default: <run-dir>/book)")

    p = sub.add_parser("ablation", help="compare runs that share a data split; record it in the published run")
    p.add_argument("--run-dir", type=Path, required=True, help="the published run (gets ablation.json)")
    p.add_argument("runs", nargs="+", type=Path, help="run directories to compare (include the published one)")

    p = sub.add_parser("audit", help="join a run's validation mistakes with the label audit (catsdogs/label_audit.csv)")
    p.add_argument("--run-dir", type=Path, required=True, help="the run to audit (gets audit.json)")

    p = sub.add_parser("publish-results", help="copy a run's JSON records into the repository, paths made portable")
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--out", type=Path, default=Path("results"), help="destination folder (default: results/)")

    p = sub.add_parser("export", help="save the final model without optimizer state and export TFLite float32/int8")
    _add_common(p)
    p.add_argument("--publish", type=Path, help="also copy the .keras and int8 .tflite into this folder (e.g. models/)")
    p.add_argument("--force", action="store_true", help="export again even if the run's exports are up to date with its final model")

    p = sub.add_parser("bench", help="latency of the Keras model and its TFLite exports on this machine")
    _add_common(p)
    p.add_argument("--repeats", type=int, default=50, help="timed single-image calls per model")
    return parser


# ----------------------------------------------------------------------------- commands


def _existing_run(args: argparse.Namespace):
    """The run of ``--run-dir`` (default ``runs/<profile>``); it must exist, nothing is created."""
    from catsdogs.config import default_run_dir
    from catsdogs.runs import Run

    config_from_args(args)  # rejects an unknown --profile or a bad --set with a clear message
    return Run.load(args.run_dir or default_run_dir(args.profile))


def _cmd_data(args) -> int:
    from catsdogs import data

    cfg = config_from_args(args)
    root = data.find_data_dir(cfg)
    report = data.scan_dataset(root, cache_dir(cfg), max_per_class=cfg.max_images_per_class, seed=cfg.seed)
    rows = data.split_manifest(report, cfg.val_fraction, cfg.test_fraction, cfg.seed)
    print(json.dumps(report.summary() | {"split": data.split_table(rows)}, indent=2))
    return 0


def _cmd_weights(args) -> int:
    from catsdogs.weights import resolve_weights

    print(json.dumps(resolve_weights(config_from_args(args)).to_dict(), indent=2))
    return 0


def _cmd_config(args) -> int:
    print(config_from_args(args).to_json())
    return 0


def _cmd_train(args) -> int:
    from catsdogs import train
    from catsdogs.runs import Run

    cfg = config_from_args(args)
    if args.from_run:
        run = train.fork_after_phase1(Run.load(args.from_run), cfg, args.run_dir or Path(f"{args.from_run}-ablation"))
    else:
        run = Run.open(cfg, args.run_dir)
    steps = {"data": [train.prepare_data], "1": [train.prepare_data, train.train_phase1]}
    for step in steps.get(args.phase, [train.prepare_data, train.train_phase1, train.train_phase2]):
        step(run)
    summary = {"run_dir": str(run.path), "timings_s": run.timings()}
    for phase in ("phase1", "phase2"):
        if run.has(phase, "result.json"):
            m = run.read_json(f"{phase}/result.json")["val_metrics"]
            summary[f"{phase}_val_accuracy"] = m["accuracy"]
    print(json.dumps(summary, indent=2))
    return 0


def _cmd_cv(args) -> int:
    from catsdogs import cv

    cfg = config_from_args(args)
    study = cv.run_cv(cfg, args.run_dir or runs_dir() / f"cv-{args.profile}", args.folds, args.fold0, args.phase1_from)
    result = study.run.read_json("cv.json")
    ci = result["pooled_ci95"]["accuracy"]
    print(f"{study.path}: pooled out-of-fold accuracy {100 * ci['estimate']:.2f} % "
          f"(95 % CI {100 * ci['low']:.2f}-{100 * ci['high']:.2f}) on {result['images']} images")
    return 0


def _cmd_compare(args) -> int:
    from catsdogs import ablation

    r = ablation.compare_dirs(args.first, args.second)
    print(f"{r['second']} vs {r['first']}: accuracy {100 * r['accuracy']['second']:.2f} % vs "
          f"{100 * r['accuracy']['first']:.2f} % ({100 * r['accuracy']['difference']:+.2f} pp), "
          f"exact McNemar p = {r['mcnemar']['p_value']:.3g}: {r['verdict']}")
    return 0


def _cmd_evaluate(args) -> int:
    from catsdogs import evaluate

    if args.model:
        cfg = config_from_args(args)
        from catsdogs.data import find_data_dir

        result = evaluate.evaluate_directory(evaluate.load_predictor(args.model), find_data_dir(cfg), cache_dir(cfg))
        result["scan"].pop("skipped_files", None)
    else:
        run = _existing_run(args)
        result = evaluate.evaluate_run(run)
        result = {k: result[k] for k in ("source", "split", "metrics", "ci95")}
    print(json.dumps(result, indent=2))
    return 0


def default_model_path() -> Path:
    from catsdogs.config import project_root

    root = project_root() or Path.cwd()
    return root / "models" / "catsdogs_mobilenetv2.keras"


def _cmd_predict(args) -> int:
    from catsdogs import evaluate

    predictor = evaluate.load_predictor(args.model or default_model_path())
    results = evaluate.predict_files(predictor, args.images)
    failed = 0
    for r in results:
        if args.json:
            print(json.dumps(r))
        elif "error" in r:
            print(f"{r['file']}\terror: {r['error']}")
        else:
            print(f"{r['file']}\t{r['label']}\tP(dog)={r['prob_dog']:.4f}")
        failed += "error" in r
    return 2 if failed == len(results) else 0


def _cmd_reproduce(args) -> int:
    from catsdogs import reproduce

    cfg = config_from_args(args)
    run_dir = reproduce.run_notebooks(cfg, args.run_dir, start=args.start, stop=args.stop)
    if not args.no_book:
        out = reproduce.build_book(run_dir)
        print(f"book: {out / 'index.html'}")
    print(f"run directory: {run_dir}")
    return 0


def _cmd_book(args) -> int:
    from catsdogs import reproduce

    out = reproduce.build_book(args.run_dir, args.out)
    print(f"book: {out / 'index.html'}")
    return 0


def _cmd_export(args) -> int:
    from catsdogs import export

    result = export.export_run(_existing_run(args), publish_dir=args.publish, force=args.force)
    summary = {k: {m: e[m] for m in ("file", "size_mb", "sha256", "agreement_with_keras")}
               | {"val_accuracy": e["val_metrics"]["accuracy"]} for k, e in result["exports"].items()}
    print(json.dumps(summary, indent=2))
    return 0


def _cmd_bench(args) -> int:
    from catsdogs import export

    run = _existing_run(args)
    result = export.bench_run(run, repeats=args.repeats)
    print(export.format_bench(result))
    return 0


def _cmd_ablation(args) -> int:
    from catsdogs import report
    from catsdogs.runs import Run

    result = report.record_ablation(Run.load(args.run_dir), [Run.load(p) for p in args.runs])
    print(report.markdown_table(report.ablation_rows(result)))
    return 0


def _cmd_audit(args) -> int:
    from catsdogs import report
    from catsdogs.audit import audit_run
    from catsdogs.runs import Run

    print(report.label_audit_markdown(audit_run(Run.load(args.run_dir))), end="")
    return 0


def _cmd_publish_results(args) -> int:
    from catsdogs.runs import Run, publish_records

    for path in publish_records(Run.load(args.run_dir), args.out):
        print(path)
    return 0


COMMANDS = {
    "cv": _cmd_cv,
    "compare": _cmd_compare,
    "ablation": _cmd_ablation,
    "audit": _cmd_audit,
    "publish-results": _cmd_publish_results,
    "data": _cmd_data,
    "weights": _cmd_weights,
    "config": _cmd_config,
    "train": _cmd_train,
    "evaluate": _cmd_evaluate,
    "predict": _cmd_predict,
    "reproduce": _cmd_reproduce,
    "book": _cmd_book,
    "export": _cmd_export,
    "bench": _cmd_bench,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from catsdogs.data import DataError
    from catsdogs.runs import RunConfigMismatch

    try:
        return COMMANDS[args.command](args)
    except (DataError, RunConfigMismatch, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume from the last finished epoch", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
