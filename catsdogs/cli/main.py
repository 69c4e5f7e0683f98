"""``python -m catsdogs``: the command-line interface.

Every subcommand takes a profile and overrides; errors caused by the user's input
(missing data, bad option, unreadable image, ...) print one ``error:`` line that
says what to do and exit with status 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from catsdogs.cli.commands import COMMANDS, config_from_args, native_stderr_silenced
from catsdogs.config import PROFILES, UserError

log = logging.getLogger("catsdogs")


def _add_common(p: argparse.ArgumentParser, run_dir: bool = True) -> None:
    p.add_argument(
        "--profile", default="full", help=f"named preset: {', '.join(PROFILES)} (default: full, the paper's protocol)"
    )
    p.add_argument("--data-dir", type=Path, help="PetImages folder holding Cat/ and Dog/ (default: $CATSDOGS_DATA_DIR)")
    p.add_argument(
        "--download",
        action="store_true",
        help="download the Microsoft archive (with evaluate --external: the external test sets) if no data is found (needs internet)",
    )
    p.add_argument(
        "--weights",
        help='ImageNet weights: "imagenet" (Keras download), a Keras .h5 file, or the int8 MobileNetV2 .tflite '
        "(default: $CATSDOGS_WEIGHTS, else imagenet)",
    )
    p.add_argument(
        "--cache-dir",
        type=Path,
        help="cache for converted weights and downloads (default: $CATSDOGS_CACHE_DIR or ~/.cache/catsdogs)",
    )
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override any config field, e.g. --set phase2_epochs=2 (repeatable)",
    )
    if run_dir:
        p.add_argument("--run-dir", type=Path, help="run directory (default: runs/<profile>)")


def _add_recipe(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--recipe",
        type=Path,
        help="a declared recipe file (recipes/<name>.json): its settings apply first, then any --set",
    )


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
    p.add_argument(
        "--phase", choices=["data", "1", "2", "all"], default="all", help="stop after this step (default: all)"
    )
    p.add_argument("--from-run", type=Path, help="reuse the data split and phase 1 of this run (phase-2 ablations)")

    p = sub.add_parser("cv", help="K-fold cross-validation of the recipe over every image (resumable)")
    _add_common(p)
    p.add_argument(
        "--folds", type=int, default=5, help="number of folds; fold 0 is the usual validation split (default 5)"
    )
    p.add_argument(
        "--fold0", type=Path, help="a finished run of the same recipe to use as fold 0 instead of training it"
    )
    p.add_argument(
        "--phase1-from",
        type=Path,
        help="another study on the same folds whose phase 1 each fold shares (for phase-2 variants)",
    )
    p.add_argument(
        "--fold",
        type=int,
        action="append",
        metavar="K",
        help="train only fold K (repeatable): one training = one command, e.g. one job of a cluster array",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="training seed (init, shuffling, augmentation; the folds stay the same): re-trains the "
        "recipe to measure training variance (default 0)",
    )
    _add_recipe(p)
    step = p.add_mutually_exclusive_group()
    step.add_argument(
        "--prepare",
        action="store_true",
        help="only scan the data, write the folds and the frozen-base features: run once before parallel --fold jobs",
    )
    step.add_argument(
        "--merge",
        action="store_true",
        help="only pool every finished training (any folds and seeds) into cv.json; refuses mixed recipes",
    )

    p = sub.add_parser(
        "explore",
        help="train a candidate recipe on fold 0's training part of a CV study and score it on a "
        "held-out share of that part (never on a scored fold)",
    )
    _add_common(p)
    p.add_argument(
        "--study", type=Path, required=True, help="the cross-validation study (`cv --prepare`) whose fold 0 is explored"
    )
    _add_recipe(p)

    p = sub.add_parser(
        "generalization",
        help="the verdict on 'strong generalization' from the external records (evaluate --external) of the published models",
    )
    p.add_argument("--record", type=Path, help="the published record holding external/ (default: results/full)")
    p.add_argument(
        "--control",
        action="store_true",
        help="first measure the resolution control: the record's validation photos shrunk to thumbnail size "
        "(needs $CATSDOGS_DATA_DIR), for both published models",
    )
    p.add_argument(
        "--duplicates",
        action="store_true",
        help="first check every external image against every PetImages image by perceptual hash "
        "(needs $CATSDOGS_DATA_DIR and the sets)",
    )
    p.add_argument(
        "--figures", type=Path, help="write the gallery of the most confident external mistakes here (needs the sets)"
    )
    p.add_argument("--json", action="store_true", help="print the summary record instead of tables")

    p = sub.add_parser(
        "compare",
        help="paired comparison of two cross-validation studies (corrected t-test over folds; McNemar secondary)",
    )
    p.add_argument("first", type=Path, help="the reference study (gets compare.json)")
    p.add_argument("second", type=Path, help="the study compared with it")
    p.add_argument(
        "--picked-on",
        choices=("fold0", "exploration"),
        default="fold0",
        help="the images the second recipe was chosen on, left out of the verdict: fold0 (a recipe picked "
        "from the ablations, the default) or exploration (a declared recipe chosen on the first study's "
        "exploration split)",
    )
    p.add_argument("--json", action="store_true", help="print the record written (compare.json) instead of a table")

    p = sub.add_parser(
        "evaluate", help="metrics of a run (--run-dir) or of a saved model on a folder of images (--model)"
    )
    _add_common(p)
    p.add_argument(
        "--model",
        type=Path,
        help="a .keras model or .tflite export to evaluate on --data-dir (with --external: default the published model)",
    )
    p.add_argument(
        "--external",
        nargs="*",
        metavar="NAME=DIR",
        help="evaluate --model on independent test sets instead (test data only, nothing is tuned on them): "
        "each NAME=DIR (or NAME, found in $CATSDOGS_EXTERNAL_DIR) must be found, exit 2 otherwise; no value: "
        "every declared set in $CATSDOGS_EXTERNAL_DIR, those missing listed as not available; "
        "with --download, missing sets are fetched from their official sources",
    )
    p.add_argument(
        "--out", type=Path, help="with --external: write the record to OUT/<model file name>.json, paths made portable"
    )
    p.add_argument("--json", action="store_true", help="print the full record as JSON instead of a table")

    p = sub.add_parser(
        "predict",
        help="label and probability for image files; 'unsure' when neither cat nor dog",
        epilog="exit status: 0 when every image was labelled; 1 when some could not be read (each gets a line "
        "naming the file and why, the others are still labelled); 2 when none could be read, or on a user "
        "error such as a missing model or no image files",
    )
    p.add_argument("images", nargs="+", type=Path, help="image files (JPEG, PNG, ...) or folders of them")
    p.add_argument(
        "--model", type=Path, help="a .keras model or .tflite export (default: the published model under models/)"
    )
    p.add_argument("--json", action="store_true", help="print JSON lines instead of a table")

    p = sub.add_parser("reproduce", help="execute the six notebooks in order with papermill, then build the book")
    _add_common(p)
    p.add_argument(
        "--from", dest="start", default="01", help="first chapter to execute, e.g. 04 (earlier ones must be done)"
    )
    p.add_argument("--to", dest="stop", default="06", help="last chapter to execute (default 06)")
    p.add_argument("--no-book", action="store_true", help="skip the book build")

    p = sub.add_parser(
        "verify",
        help="compare a run's records with the published ones, figure by figure "
        "(exit 1 when one differs beyond its 95 %% CI or a record is missing)",
    )
    p.add_argument("--run-dir", type=Path, required=True, help="the run to check, e.g. runs/full")
    p.add_argument(
        "--against",
        type=Path,
        help="the published record (default: results/full for a full run, "
        "tests/fixtures/published-smoke for a smoke run)",
    )
    p.add_argument("--json", action="store_true", help="print the comparison as JSON instead of a table")

    p = sub.add_parser("book", help="build the Jupyter Book from a run's executed notebooks")
    p.add_argument("--run-dir", type=Path, required=True, help="run whose executed notebooks to render")
    p.add_argument("--out", type=Path, help="where to assemble and build the book (default: <run-dir>/book)")

    p = sub.add_parser("ablation", help="compare runs that share a data split; record it in the published run")
    p.add_argument("--run-dir", type=Path, required=True, help="the published run (gets ablation.json)")
    p.add_argument("runs", nargs="+", type=Path, help="run directories to compare (include the published one)")

    p = sub.add_parser(
        "audit", help="join a run's validation mistakes with the label audit (catsdogs/studies/label_audit.csv)"
    )
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--run-dir", type=Path, help="the run to audit (gets audit.json)")
    target.add_argument(
        "--cv",
        type=Path,
        help="a finished cross-validation study: rank suspected label errors of "
        "every image with cleanlab, draw contact sheets, summarise the verdicts so far",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the record written (audit.json, or the --cv summary) as JSON instead of text",
    )

    p = sub.add_parser(
        "publish-results", help="copy a run's (or a cv study's) records into the repository, paths made portable"
    )
    p.add_argument("--run-dir", type=Path, required=True)
    p.add_argument("--out", type=Path, default=Path("results"), help="destination folder (default: results/)")
    p.add_argument(
        "--figures",
        type=Path,
        help="where a cv study's gallery of confirmed label errors goes, a book figure "
        "(default: the project's book/_generated/ when --out is its results/, else nowhere)",
    )

    p = sub.add_parser("export", help="save the final model without optimizer state and export TFLite float32/int8")
    _add_common(p)
    p.add_argument("--publish", type=Path, help="also copy the .keras and int8 .tflite into this folder (e.g. models/)")
    p.add_argument(
        "--force",
        action="store_true",
        help="export again even if the run's exports are up to date with its final model",
    )
    p.add_argument("--json", action="store_true", help="print the full export record as JSON instead of a table")

    p = sub.add_parser("bench", help="latency of the Keras model and its TFLite exports on this machine")
    _add_common(p)
    p.add_argument("--repeats", type=int, default=50, help="timed single-image calls per model")
    p.add_argument("--json", action="store_true", help="print the full record as JSON instead of a table")

    p = sub.add_parser(
        "address",
        help="the repository's address: print it, --set it everywhere it appears, or --check a build's repository",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--set", dest="url", metavar="URL", help="https://github.com/<owner>/<name>: write it everywhere"
    )
    group.add_argument(
        "--check", metavar="OWNER/NAME", help="fail unless this checkout's address is OWNER/NAME (the deploy workflow)"
    )
    return parser


#: Commands that run a model, so load TensorFlow (``compare`` too: the exploration split of
#: ``--picked-on exploration`` is drawn by :mod:`catsdogs.training.explore`, which loads Keras).
TENSORFLOW_COMMANDS = frozenset(
    {"weights", "train", "cv", "evaluate", "predict", "export", "bench", "audit", "generalization", "compare"}
)


def _quiet_tensorflow() -> None:
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
    try:
        if hasattr(args, "profile"):
            config_from_args(args)  # a bad --set or --profile fails here, before TensorFlow loads
        if not args.verbose and args.command in TENSORFLOW_COMMANDS:
            _quiet_tensorflow()
        return COMMANDS[args.command](args)
    except (UserError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to resume from the last finished epoch", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
