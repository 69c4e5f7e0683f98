"""``python -m catsdogs``: the command-line interface.

Every subcommand takes a profile and overrides; errors caused by the user's input
(missing data, bad option, unreadable image, ...) print one ``error:`` line that
says what to do and exit with status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

# None of these imports loads TensorFlow, so main() can quiet it before a command needs it.
from catsdogs import ablation, audit, book, cv, data, evaluate, export, predict, reproduce, train, verdict, verify
from catsdogs.config import PROFILES, Config, cache_dir, default_run_dir, get_config, runs_dir
from catsdogs.data import DataError
from catsdogs.reproduce import ChapterFailed
from catsdogs.runs import Run, RunConfigMismatch, publish_records

log = logging.getLogger("catsdogs")

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
    p.add_argument("--json", action="store_true", help="print the full record as JSON instead of a table")

    p = sub.add_parser("predict", help="label and probability for image files; 'unsure' when neither cat nor dog")
    p.add_argument("images", nargs="+", type=Path, help="image files (JPEG, PNG, ...) or folders of them")
    p.add_argument("--model", type=Path, help="a .keras model or .tflite export (default: the published model under models/)")
    p.add_argument("--json", action="store_true", help="print JSON lines instead of a table")

    p = sub.add_parser("reproduce", help="execute the six notebooks in order with papermill, then build the book")
    _add_common(p)
    p.add_argument("--from", dest="start", default="01", help="first chapter to execute, e.g. 04 (earlier ones must be done)")
    p.add_argument("--to", dest="stop", default="06", help="last chapter to execute (default 06)")
    p.add_argument("--no-book", action="store_true", help="skip the book build")

    p = sub.add_parser("verify", help="compare a run's records with the published ones, figure by figure "
                       "(exit 1 when one differs beyond its 95 %% CI or a record is missing)")
    p.add_argument("--run-dir", type=Path, required=True, help="the run to check, e.g. runs/full")
    p.add_argument("--against", type=Path, help="the published record (default: results/full for a full run, "
                   "tests/fixtures/published-smoke for a smoke run)")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON instead of a table")

    p = sub.add_parser("book", help="build the Jupyter Book from a run's executed notebooks")
    p.add_argument("--run-dir", type=Path, required=True, help="run whose executed notebooks to render")
    p.add_argument("--out", type=Path, help="where to assemble and build the book (default: <run-dir>/book)")

    p = sub.add_parser("ablation", help="compare runs that share a data split; record it in the published run")
    p.add_argument("--run-dir", type=Path, required=True, help="the published run (gets ablation.json)")
    p.add_argument("runs", nargs="+", type=Path, help="run directories to compare (include the published one)")

    p = sub.add_parser("audit", help="join a run's validation mistakes with the label audit (catsdogs/label_audit.csv)")
    p.add_argument("--run-dir", type=Path, required=True, help="the run to audit (gets audit.json)")

    p = sub.add_parser("publish-results", help="copy a run's (or a cv study's) records into the repository, paths made portable")
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--out", type=Path, default=Path("results"), help="destination folder (default: results/)")

    p = sub.add_parser("export", help="save the final model without optimizer state and export TFLite float32/int8")
    _add_common(p)
    p.add_argument("--publish", type=Path, help="also copy the .keras and int8 .tflite into this folder (e.g. models/)")
    p.add_argument("--force", action="store_true", help="export again even if the run's exports are up to date with its final model")

    p = sub.add_parser("bench", help="latency of the Keras model and its TFLite exports on this machine")
    _add_common(p)
    p.add_argument("--repeats", type=int, default=50, help="timed single-image calls per model")
    p.add_argument("--json", action="store_true", help="print the full record as JSON instead of a table")
    return parser


# ----------------------------------------------------------------------------- commands


def _existing_run(args: argparse.Namespace) -> Run:
    """The run of ``--run-dir`` (default ``runs/<profile>``); it must exist, nothing is created."""
    config_from_args(args)  # rejects an unknown --profile or a bad --set with a clear message
    return Run.load(args.run_dir or default_run_dir(args.profile))


def _cmd_data(args) -> int:
    cfg = config_from_args(args)
    root = data.find_data_dir(cfg)
    report = data.scan_dataset(root, cache_dir(cfg), max_per_class=cfg.max_images_per_class, seed=cfg.seed)
    rows = data.split_manifest(report, cfg.val_fraction, cfg.test_fraction, cfg.seed)
    print(json.dumps(report.summary() | {"split": data.split_table(rows)}, indent=2))
    return 0


def _cmd_weights(args) -> int:
    from catsdogs.weights import resolve_weights  # loads TensorFlow

    print(json.dumps(resolve_weights(config_from_args(args)).to_dict(), indent=2))
    return 0


def _cmd_config(args) -> int:
    print(config_from_args(args).to_json())
    return 0


def _cmd_train(args) -> int:
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
    cfg = config_from_args(args)
    study = cv.run_cv(cfg, args.run_dir or runs_dir() / f"cv-{args.profile}", args.folds, args.fold0, args.phase1_from)
    result = study.run.read_json("cv.json")
    ci = result["pooled_ci95"]["accuracy"]
    print(f"{study.path}: pooled out-of-fold accuracy {100 * ci['estimate']:.2f} % "
          f"(95 % CI {100 * ci['low']:.2f}-{100 * ci['high']:.2f}) on {result['images']} images")
    return 0


def _cmd_compare(args) -> int:
    r = ablation.compare_dirs(args.first, args.second)
    print(f"{r['second']} vs {r['first']}: accuracy {100 * r['accuracy']['second']:.2f} % vs "
          f"{100 * r['accuracy']['first']:.2f} % ({100 * r['accuracy']['difference']:+.2f} pp), "
          f"exact McNemar p = {r['mcnemar']['p_value']:.3g}: {r['verdict']}")
    return 0


def metrics_text(metrics: dict[str, Any], ci95: dict[str, dict] | None) -> str:
    """Metric, estimate and 95 % CI as an aligned text table, then the confusion matrix."""
    lines = [f"{'metric':<12}{'estimate':>10}   95 % CI"]
    for name in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        if metrics.get(name) is None:
            continue
        ci = (ci95 or {}).get(name) or {}
        interval = f"{ci['low']:.4f}-{ci['high']:.4f}" if ci.get("low") is not None else "-"
        lines.append(f"{name:<12}{metrics[name]:>10.4f}   {interval}")
    (tn, fp), (fn, tp) = metrics["confusion_matrix"]
    width = max(len(f"{v:,}") for v in (tn, fp, fn, tp)) + 2
    lines += ["", f"confusion matrix ({metrics['n']:,} images; rows: true class, columns: predicted)",
              f"{'':<6}{'cat':>{width}}{'dog':>{width}}",
              f"{'cat':<6}{tn:>{width},}{fp:>{width},}", f"{'dog':<6}{fn:>{width},}{tp:>{width},}"]
    return "\n".join(lines)


def load_predictor_quietly(path: Path, verbose: bool = False) -> predict.Predictor:
    """:func:`catsdogs.predict.load_predictor` plus one warm-up prediction, with native
    stderr silenced unless ``verbose`` (LiteRT announces its XNNPACK delegate there)."""
    with contextlib.nullcontext() if verbose else native_stderr_silenced():
        predictor = predict.load_predictor(path)
        predictor.predict(np.zeros((1, predictor.image_size, predictor.image_size, 3), dtype="float32"))
    return predictor


def _cmd_evaluate(args) -> int:
    if args.model:
        cfg = config_from_args(args)
        predictor = load_predictor_quietly(args.model, args.verbose)
        result = evaluate.evaluate_directory(predictor, data.find_data_dir(cfg), cache_dir(cfg))
        result["scan"].pop("skipped_files", None)
        title = f"{args.model} on {result['scan']['usable']:,} images of {result['data']}"
    else:
        run = _existing_run(args)
        result = evaluate.evaluate_run(run)
        result = {k: result[k] for k in ("source", "split", "metrics", "ci95")}
        title = f"{run.path}: final model ({result['source']}) on the {result['split']} split"
    print(json.dumps(result, indent=2) if args.json else f"{title}\n\n{metrics_text(result['metrics'], result.get('ci95'))}")
    return 0


def image_files(paths: Sequence[Path]) -> list[Path]:
    """The given files, with each directory replaced by the image files under it (recursively, sorted)."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
        else:
            out.append(p)
    return out


def _cmd_predict(args) -> int:
    model = args.model or predict.default_model_path()
    predictor = load_predictor_quietly(model, args.verbose)
    threshold = predict.ood_threshold(model)
    if threshold is None:
        print(f"note: no out-of-distribution threshold is recorded for {model}; 'unsure' is not flagged",
              file=sys.stderr)
    files = image_files(args.images)
    if not files:
        raise ValueError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) under {', '.join(map(str, args.images))}")
    results = []
    with tqdm(total=len(files), unit="image", desc="predicting", disable=len(files) < PROGRESS_FROM,
              file=sys.stderr) as bar:
        for start in range(0, len(files), 64):
            chunk = files[start : start + 64]
            results += predict.predict_files(predictor, chunk, threshold)
            bar.update(len(chunk))
    for r in results:
        if args.json:
            print(json.dumps(r))
        elif "error" in r:
            print(f"{r['file']}\terror: {r['error']}")
        else:
            print(f"{r['file']}\t{r['label']}\tP(dog)={r['prob_dog']:.4f}" + ("\tunsure" if r.get("unsure") else ""))
    return 2 if all("error" in r for r in results) else 0


def _cmd_reproduce(args) -> int:
    cfg = config_from_args(args)
    run_dir = reproduce.run_notebooks(cfg, args.run_dir, start=args.start, stop=args.stop)
    if not args.no_book:
        out = book.build_book(run_dir)
        print(f"book: {out / 'index.html'}")
    print(f"run directory: {run_dir}")
    text, status = verify.check_after_reproduce(run_dir)
    print(text, end="")
    return status or 0


def _cmd_verify(args) -> int:
    result = verify.verify_run(args.run_dir, args.against)
    print(result.to_json() if args.json else result.to_text(), end="")
    return result.exit_status


def _cmd_book(args) -> int:
    out = book.build_book(args.run_dir, args.out)
    print(f"book: {out / 'index.html'}")
    return 0


def _cmd_export(args) -> int:
    result = export.export_run(_existing_run(args), publish_dir=args.publish, force=args.force)
    summary = {k: {m: e[m] for m in ("file", "size_mb", "sha256", "agreement_with_keras")}
               | {"val_accuracy": e["val_metrics"]["accuracy"]} for k, e in result["exports"].items()}
    print(json.dumps(summary, indent=2))
    return 0


def _cmd_bench(args) -> int:
    result = export.bench_run(_existing_run(args), repeats=args.repeats)
    print(json.dumps(result, indent=2) if args.json else export.format_bench(result))
    return 0


def _cmd_ablation(args) -> int:
    result = ablation.record_ablation(Run.load(args.run_dir), [Run.load(p) for p in args.runs])
    print(ablation.ablation_rows(result).markdown(), end="")
    return 0


def _cmd_audit(args) -> int:
    print(audit.audit_markdown(audit.audit_run(Run.load(args.run_dir))), end="")
    return 0


def _cmd_publish_results(args) -> int:
    if (args.run_dir / cv.FOLDS_FILE).is_file():
        written = verdict.publish_study(cv.CrossValidation.load(args.run_dir), args.out)
    else:
        written = publish_records(Run.load(args.run_dir), args.out)
    for path in written:
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
    "verify": _cmd_verify,
    "book": _cmd_book,
    "export": _cmd_export,
    "bench": _cmd_bench,
}


#: Commands that run a model, so load TensorFlow.
TENSORFLOW_COMMANDS = frozenset({"weights", "train", "cv", "evaluate", "predict", "export", "bench"})


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


def quiet_tensorflow() -> None:
    """Keep TensorFlow's and Keras's start-up noise off the terminal: its log level set
    before it loads, Python warnings filtered, and the import itself made with native
    stderr silenced (TensorFlow 2.21 logs oneDNN and CPU-feature lines through absl
    before any log level applies)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    for module in ("keras", "tensorflow", "google.protobuf"):
        warnings.filterwarnings("ignore", module=module)
    with native_stderr_silenced():
        import tensorflow  # noqa: F401  (imported here only to load it quietly)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if not args.verbose and args.command in TENSORFLOW_COMMANDS:
        quiet_tensorflow()
    try:
        return COMMANDS[args.command](args)
    except (DataError, RunConfigMismatch, ChapterFailed, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume from the last finished epoch", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
