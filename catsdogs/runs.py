"""Run directories: every number the book shows is read back from one of these.

Layout of a run directory::

    config.json          the Config of the run (training fields must not change on resume)
    provenance.json      versions, git commit, hardware, data and weights provenance
    timings.json         wall-clock seconds per step
    data/                scan.json (validation counts), manifest.csv (file, label, split)
    phase1/              features, history.csv, epoch_seconds.json, result.json, model.keras
    phase2/              history.csv, epoch_seconds.json, result.json, model.keras
                         (each phase, mitigation/ and mitigation_control/ too, holds backup/ + resume/
                         until its result is written)
    eval/                predictions.csv, metrics.json
    notebooks/           executed notebooks (papermill)
    results.json         the summary the book's results page is built from
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit

from catsdogs.config import (
    ENV_CACHE_DIR,
    ENV_DATA_DIR,
    ENV_WEIGHTS,
    NOT_GIVEN,
    Config,
    UserError,
    cache_dir,
    data_dir_setting,
    default_run_dir,
    get_config,
    project_root,
    setting_differences,
    weights_spec,
)
from catsdogs.files import atomic_write, csv_text, read_csv, read_json_or_none, write_csv
from catsdogs.provenance import environment_info
from catsdogs.records import (
    MANIFEST_FIELDS,
    Bench,
    CalibrationStudy,
    CorruptionStudy,
    CVSummary,
    Evaluation,
    Export,
    FoldRow,
    ManifestRow,
    MitigationComparison,
    OODStudy,
    OutOfFold,
    PhaseResult,
    Predictions,
    Provenance,
    R,
    Record,
    Scan,
    from_csv_row,
)

log = logging.getLogger(__name__)

#: A training phase's saved model and validation predictions, in its directory.
MODEL_FILE = "model.keras"
PREDICTIONS_FILE = "predictions_val.csv"

#: The environment variable of each location setting, read by the chapters (:meth:`Run.for_notebook`).
LOCATION_VARIABLES = {"data_dir": ENV_DATA_DIR, "weights": ENV_WEIGHTS, "cache_dir": ENV_CACHE_DIR}


class MissingRecord(UserError, FileNotFoundError):
    """A record the run should hold is missing: the step that writes it has not run."""


class RunConfigMismatch(UserError, ValueError):
    """The run directory was created with different training settings."""


class Run:
    """A run directory. Create with :meth:`Run.open` (creates or resumes)."""

    def __init__(self, path: Path | str, config: Config):
        self.path = Path(path)
        self.config = config

    # --------------------------------------------------------------- creation
    @classmethod
    def open(cls, config: Config, path: Path | str | None = None) -> Run:
        """Open (or create) the run directory for ``config``.

        A new directory records ``config.json``; an existing one must have been
        made with the same training settings (locations may differ), so a resumed
        run never mixes two protocols.

        Raises
        ------
        RunConfigMismatch
            If ``path`` holds a run with different training settings.
        """
        path = Path(path) if path else default_run_dir(config.profile)
        path.mkdir(parents=True, exist_ok=True)
        cfg_file = path / "config.json"
        if cfg_file.is_file():
            old = Config.from_dict(json.loads(cfg_file.read_text()))
            # Fields added to Config after the run was made are not compared.
            diff = setting_differences(old, config)
            if diff:
                raise RunConfigMismatch(
                    f"run directory {path} was made with different settings "
                    f"({', '.join(f'{k}: {a!r} there, {b!r} now' for k, (a, b) in diff.items())}); "
                    "pass another --run-dir, or delete that directory to start over"
                )
        else:
            cfg_file.write_text(config.to_json() + "\n")
        return cls(path, config)

    @classmethod
    def load(cls, path: Path | str) -> Run:
        """Open an existing run directory with the config it was made with."""
        path = Path(path)
        cfg_file = path / "config.json"
        if not cfg_file.is_file():
            raise FileNotFoundError(
                f"{path} is not a run directory (no config.json); run `python -m catsdogs train` "
                "or the notebooks first, or pass the right --run-dir"
            )
        return cls(path, Config.from_dict(json.loads(cfg_file.read_text())))

    @classmethod
    def for_notebook(
        cls,
        profile: str = "smoke",
        run_dir: Path | str | None = None,
        seed: int | None = None,
        download: bool = True,
        **locations: Any,
    ) -> Run:
        """The run a notebook works in, from its ``parameters`` cell.

        An existing run directory is reopened with the settings it was made with;
        otherwise a new run of ``profile`` is made. Data, weights and cache come from
        ``$CATSDOGS_DATA_DIR``, ``$CATSDOGS_WEIGHTS`` and ``$CATSDOGS_CACHE_DIR`` when set
        (over the run's recorded ones: the data may have moved), else from the run's own
        settings; ``locations`` (``data_dir``, ``weights``, ``cache_dir``) given here win over
        both. The dataset is downloaded when none is found, unless ``download`` is false.

        Raises
        ------
        RunConfigMismatch
            If ``run_dir`` holds a run of another profile or seed.
        """
        path = Path(run_dir) if run_dir else default_run_dir(profile)
        from_env = {k: os.environ[var] for k, var in LOCATION_VARIABLES.items() if os.environ.get(var)}
        locations = from_env | {k: v for k, v in locations.items() if v is not None} | {"download": download}
        if (path / "config.json").is_file():
            run = cls.load(path)
            for key, wanted in (("profile", profile), ("seed", seed)):
                have = getattr(run.config, key)
                if wanted is not None and have != wanted:
                    raise RunConfigMismatch(
                        f"run directory {path} holds a run with {key}={have!r}, not {wanted!r}; "
                        "pass a matching value or another run_dir"
                    )
            run.config = run.config.replace(**locations)
            return run
        return cls.open(get_config(profile, seed=NOT_GIVEN if seed is None else seed, **locations), path)

    # --------------------------------------------------------------- files
    def file(self, *parts: str) -> Path:
        p = self.path.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def has(self, *parts: str) -> bool:
        return self.path.joinpath(*parts).exists()

    def model_path(self, phase: str) -> Path:
        """Where ``phase`` (``phase1``, ``phase2``, a mitigation arm) saves its model."""
        return self.path / phase / MODEL_FILE

    def predictions_path(self, phase: str) -> Path:
        """Where ``phase`` writes its model's validation predictions (:func:`save_predictions`)."""
        return self.path / phase / PREDICTIONS_FILE

    def final_file(self, name: str) -> Path | None:
        """``<phase>/<name>`` of the run's final training phase: phase 2's if it
        exists, else phase 1's; ``None`` when neither has it."""
        for phase in ("phase2", "phase1"):
            p = self.path / phase / name
            if p.is_file():
                return p
        return None

    def final_model(self) -> Path:
        """The run's trained model: phase 2's ``model.keras`` if it exists, else phase 1's.

        Raises
        ------
        FileNotFoundError
            If neither phase has finished.
        """
        path = self.final_file(MODEL_FILE)
        if path is not None:
            return path
        raise FileNotFoundError(f"no trained model in {self.path}: run `python -m catsdogs train` first")

    def final_predictions(self) -> Path:
        """Validation predictions of the run's final model (phase 2's, else phase 1's).

        Raises
        ------
        FileNotFoundError
            If neither phase has written them.
        """
        path = self.final_file(PREDICTIONS_FILE)
        if path is not None:
            return path
        raise FileNotFoundError(
            f"no validation predictions in {self.path}: run the training chapters (03, 04) or "
            "`python -m catsdogs train` first"
        )

    def final_result(self) -> PhaseResult | None:
        """``result.json`` of the run's final phase, or ``None`` before phase 1 has finished."""
        path = self.final_file("result.json")
        return PhaseResult.read(path) if path else None

    # --------------------------------------------------------------- records
    def record(self, kind: type[R], phase: str | None = None) -> R:
        """The run's record ``kind`` (``phase``: the directory of a per-phase record, e.g.
        ``"phase2"`` for :class:`~catsdogs.records.PhaseResult`).

        Raises
        ------
        MissingRecord
            If the step that writes it has not run.
        """
        path = self.path / kind.relpath(phase)
        if not path.is_file():
            raise MissingRecord(
                f"{path} not found: the step that writes it has not run in this run directory yet "
                "(run the earlier notebooks / `python -m catsdogs train` first)"
            )
        return kind.read(path)

    def record_or_none(self, kind: type[R], phase: str | None = None) -> R | None:
        """The run's record ``kind``, or ``None`` when the step that writes it has not run."""
        return kind.in_dir(self.path, phase)

    def write_record(self, record: Record, phase: str | None = None) -> Path:
        """Write ``record`` where its class says (atomically)."""
        return self.write_json(type(record).relpath(phase), record.to_dict())

    def result(self, phase: str) -> PhaseResult | None:
        """``<phase>/result.json``, or ``None`` before the phase has finished."""
        return self.record_or_none(PhaseResult, phase)

    @property
    def scan(self) -> Scan | None:
        """``data/scan.json``, or ``None`` before the data split."""
        return self.record_or_none(Scan)

    def corruption_study(self, tag: str = "") -> CorruptionStudy | None:
        """``robustness/results.json`` (``results_<tag>.json``: a mitigation arm's), or ``None``."""
        return self.record_or_none(CorruptionStudy, CorruptionStudy.name_of(tag))

    @property
    def ood(self) -> OODStudy | None:
        """``robustness/ood.json``, or ``None`` before the out-of-distribution study."""
        return self.record_or_none(OODStudy)

    @property
    def calibration(self) -> CalibrationStudy | None:
        """``robustness/calibration.json``, or ``None`` before the calibration study."""
        return self.record_or_none(CalibrationStudy)

    @property
    def mitigation(self) -> MitigationComparison | None:
        """``robustness/mitigation.json``, or ``None`` before the mitigation study."""
        return self.record_or_none(MitigationComparison)

    @property
    def evaluation(self) -> Evaluation | None:
        """``eval/metrics.json``, or ``None`` before the evaluation has run."""
        return self.record_or_none(Evaluation)

    @property
    def export(self) -> Export | None:
        """``export/export.json``, or ``None`` before the export has run."""
        return self.record_or_none(Export)

    @property
    def provenance(self) -> Provenance | None:
        """``provenance.json``, or ``None`` before any step recorded it."""
        return self.record_or_none(Provenance)

    @property
    def bench(self) -> Bench | None:
        """``bench/bench.json``, or ``None`` before the latency bench has run."""
        return self.record_or_none(Bench)

    def manifest(self) -> list[ManifestRow]:
        """The rows of ``data/manifest.csv``."""
        return read_manifest(self.path / "data" / "manifest.csv")

    def split_files(self, split: str) -> list[str]:
        """Files of one split, relative to the data root, in manifest order."""
        return [r.file for r in select(self.manifest(), split)]

    def split_paths(self, split: str) -> tuple[list[str], np.ndarray]:
        """Absolute image paths and labels of one split of the run's manifest.

        Raises
        ------
        ValueError
            If the split is empty.
        """
        rows = select(self.manifest(), split)
        if not rows:
            raise ValueError(f"split {split!r} is empty in {self.path / 'data' / 'manifest.csv'}")
        return self.paths_of(rows), np.array([r.label for r in rows], dtype="int64")

    def paths_of(self, rows: Sequence[ManifestRow]) -> list[str]:
        """Absolute paths of manifest rows: under the configured data directory (which may
        have moved since the run was made), else where the run found the data."""
        scan = self.record(Scan)
        return resolve_paths(rows, data_dir_setting(self.config) or scan.root, scan.converted_root)

    def write_json(self, relpath: str, obj: Any) -> Path:
        return atomic_write(
            self.file(relpath), json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n"
        )

    def read_json_or_none(self, relpath: str) -> Any | None:
        """A JSON record of the run, or ``None`` when the step that writes it has not run."""
        return read_json_or_none(self.path / relpath)

    def read_json(self, relpath: str) -> Any:
        p = self.path / relpath
        if not p.is_file():
            raise FileNotFoundError(
                f"{p} not found: the step that writes it has not run in this run directory yet "
                "(run the earlier notebooks / `python -m catsdogs train` first)"
            )
        return json.loads(p.read_text())

    def update_json(self, relpath: str, **values: Any) -> dict:
        current = read_json_or_none(self.path / relpath) or {}
        current.update(values)
        self.write_json(relpath, current)
        return current

    # --------------------------------------------------------------- timings
    @contextlib.contextmanager
    def timed(self, step: str) -> Iterator[None]:
        """Record the wall time of a block in ``timings.json`` (seconds)."""
        start = time.perf_counter()
        yield
        seconds = round(time.perf_counter() - start, 2)
        self.update_json("timings.json", **{step: seconds})
        log.info("%s took %.1f s", step, seconds)

    def timings(self) -> dict[str, float]:
        return read_json_or_none(self.path / "timings.json") or {}

    # --------------------------------------------------------------- provenance
    def record_provenance(self, **sections: Any) -> dict:
        """Merge ``sections`` (e.g. ``data=...``, ``weights=...``) into ``provenance.json``,
        always refreshing the environment (versions, git, hardware)."""
        return self.update_json("provenance.json", environment=environment_info(), **sections)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot store {type(obj).__name__} in JSON")


def read_history(path: Path) -> dict[str, list[float]]:
    """A Keras ``CSVLogger`` file as a history dict ``{metric: [per-epoch values]}``."""
    rows = read_csv(path) if Path(path).is_file() else []
    hist: dict[str, list[float]] = {}
    for r in rows:
        for k, v in r.items():
            hist.setdefault(k, []).append(float(v))
    return hist


#: The JSON records of a run that are published with the repository.
PUBLISHED_RECORDS = (
    "config.json",
    "provenance.json",
    "timings.json",
    "results.json",
    "ablation.json",
    "audit.json",
    "data/scan.json",
    "phase1/result.json",
    "phase2/result.json",
    "eval/metrics.json",
    "export/export.json",
    "bench/bench.json",
    "mitigation/result.json",
    "mitigation_control/result.json",
    "robustness/results.json",
    "robustness/results_mitigation.json",
    "robustness/results_mitigation_control.json",
    "robustness/mitigation.json",
    "robustness/ood.json",
    "robustness/calibration.json",
    "cv.json",
    "compare.json",
    "fold_seconds.json",
    "label_issues.json",
    "label_audit_summary.json",
    "explore.json",
)


def portable_text(text: str, replacements: dict[str, str]) -> str:
    """``text`` with each absolute path prefix replaced by its placeholder (longest first)."""
    for old, new in sorted(replacements.items(), key=lambda kv: -len(kv[0])):
        if old and old not in ("/", "."):
            text = text.replace(old, new)
    return text


def publish_records(run: Run, out: Path | str, manifest: bool = True) -> list[Path]:
    """Copy the run's JSON records (:data:`PUBLISHED_RECORDS`) and its split manifest
    into ``out/<run name>/``, with machine-specific paths replaced by the settings
    they came from (``$CATSDOGS_DATA_DIR``, ``$CATSDOGS_WEIGHTS``, ``$CATSDOGS_CACHE_DIR``,
    ``runs/<name>``)."""
    cfg = run.config
    replacements = {str(run.path.resolve()): f"runs/{run.path.name}"}
    for value, token in (
        (data_dir_setting(cfg), "$CATSDOGS_DATA_DIR"),
        (weights_spec(cfg), "$CATSDOGS_WEIGHTS"),
        (str(cache_dir(cfg)), "$CATSDOGS_CACHE_DIR"),
    ):
        if value and value != "imagenet":
            replacements[str(Path(value).expanduser().resolve())] = token
            replacements[str(value)] = token
    prov = run.provenance
    data, weights = (prov.data, prov.weights) if prov else (None, None)
    if data and data.root:
        replacements[data.root] = "$CATSDOGS_DATA_DIR"
    if weights and weights.kind in ("tflite-converted", "keras-file"):
        replacements[weights.source] = "$CATSDOGS_WEIGHTS"
    if weights and weights.metadata_path:
        replacements[str(Path(weights.metadata_path).parent.parent)] = "$CATSDOGS_CACHE_DIR"
    root = project_root()
    if root is not None:
        replacements[str(root)] = "."
    dest = Path(out) / run.path.name
    written = []
    for rel in (*PUBLISHED_RECORDS, *(["data/manifest.csv"] if manifest else [])):
        src = run.path / rel
        if src.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(portable_text(src.read_text(), replacements))
            written.append(target)
    return written


def write_manifest(rows: Iterable[ManifestRow], path: Path) -> str:
    """Write the manifest CSV; return its sha256."""
    data = csv_text([r.to_csv() for r in rows], MANIFEST_FIELDS).encode()
    atomic_write(path, data)
    return hashlib.sha256(data).hexdigest()


def read_manifest(path: Path) -> list[ManifestRow]:
    """Read a manifest CSV written by :func:`write_manifest`."""
    if not Path(path).is_file():
        raise MissingRecord(f"manifest {path} not found: run the dataset chapter (01) or `catsdogs data` first")
    with open(path, newline="") as fh:
        return [ManifestRow.from_csv(r) for r in csv.DictReader(fh)]


def select(rows: Sequence[ManifestRow], split: str) -> list[ManifestRow]:
    return [r for r in rows if r.split == split]


def resolve_paths(rows: Sequence[ManifestRow], root: Path | str, converted_root: Path | str) -> list[str]:
    """Absolute file paths of manifest rows."""
    root, converted_root = Path(root), Path(converted_root)
    return [str((converted_root if r.source == "converted" else root) / r.file) for r in rows]


def save_predictions(path: Path, files: list[str], labels: np.ndarray, logits: np.ndarray) -> None:
    """Predictions CSV: ``file`` (relative), ``label``, ``logit``, ``prob_dog``."""
    logits = np.asarray(logits, dtype="float64").reshape(-1)
    write_csv(
        path,
        [
            {"file": f, "label": int(y), "logit": f"{z:.6f}", "prob_dog": f"{p:.6f}"}
            for f, y, z, p in zip(files, labels, logits, expit(logits))
        ],
    )


def read_predictions(path: Path) -> Predictions:
    """A predictions CSV written by :func:`save_predictions`."""
    return Predictions.from_rows(read_csv(path))


OOF_FILE = "oof_predictions.csv"


def read_oof(path: Path | str) -> OutOfFold:
    """An ``oof_predictions.csv`` of one prediction per image.

    Raises
    ------
    ValueError
        If the file pools several trainings per image (a study with training seeds): the
        label audit takes one prediction per image (:func:`read_oof_trainings` reads them all).
    """
    oof = read_oof_trainings(path)
    if oof.seeded:
        raise ValueError(
            f"{path} holds one prediction per image and training seed; the label audit reads "
            "studies of one training per fold (seed 0) only"
        )
    return oof


def read_oof_trainings(path: Path | str) -> OutOfFold:
    """Every prediction of an ``oof_predictions.csv``: one per image and training seed. A
    study of one training per fold has no ``seed`` column; its seed is 0 and ``seeded`` is
    ``False``."""
    return OutOfFold.from_rows(read_csv(Path(path)))


# ----------------------------------------------------------------------------- cross-validation records

#: Which fold holds each image, in a cross-validation study directory.
FOLDS_FILE = "folds.csv"


def read_folds(study_dir: Path) -> list[FoldRow]:
    """The rows of a study's ``folds.csv``: every image with the fold that scores it."""
    return [from_csv_row(FoldRow, r) for r in read_csv(study_dir / FOLDS_FILE)]


class CVStudy:
    """The records of a cross-validation study directory (``folds.csv``, ``fold-<k>/`` run
    directories, ``fold_seconds.json``, ``oof_predictions.csv``): what studies and the
    report read. :class:`catsdogs.training.cv.CrossValidation` adds the training.
    Open with :meth:`load`."""

    def __init__(self, run: Run, n_folds: int):
        self.run = run
        self.n_folds = n_folds

    @property
    def path(self) -> Path:
        return self.run.path

    @property
    def config(self) -> Config:
        return self.run.config

    @classmethod
    def load(cls, path: Path | str) -> CVStudy:
        """An existing CV directory, with the config and folds it was made with."""
        run = Run.load(path)
        if not run.has(FOLDS_FILE):
            raise FileNotFoundError(
                f"{path} is not a cross-validation directory (no {FOLDS_FILE}); run `python -m catsdogs cv` first"
            )
        return cls(run, len({r.fold for r in read_folds(run.path)}))

    def fold_dir(self, k: int, seed: int = 0) -> Path:
        """The run directory of fold ``k`` trained with ``train_seed`` ``seed``: ``fold-<k>``
        for seed 0 (every study before training seeds), ``fold-<k>-seed-<s>`` otherwise."""
        return self.path / (f"fold-{k}" if seed == 0 else f"fold-{k}-seed-{seed}")

    def fold_run(self, k: int, seed: int = 0) -> Run:
        return Run.load(self.fold_dir(k, seed))

    def trainings(self) -> list[tuple[int, int]]:
        """``(fold, seed)`` of every training directory present (finished or not), sorted."""
        found = []
        for path in self.path.glob("fold-*"):
            parts = path.name.split("-")
            if len(parts) == 2 and parts[1].isdigit():
                found.append((int(parts[1]), 0))
            elif len(parts) == 4 and parts[1].isdigit() and parts[2] == "seed" and parts[3].isdigit():
                found.append((int(parts[1]), int(parts[3])))
        return sorted(found)

    def manifest(self) -> list[ManifestRow]:
        """The study's images: its ``data/manifest.csv``, or, in a published study (which
        leaves the manifest out), the rows of ``folds.csv`` (fold 0 is the ``val`` split)."""
        if not self.run.has("data", "manifest.csv") and self.run.has(FOLDS_FILE):
            return [
                ManifestRow(file=r.file, label=r.label, split="val" if r.fold == 0 else "train")
                for r in read_folds(self.path)
            ]
        return self.run.manifest()

    def reused_run(self, k: int, seed: int = 0) -> str | None:
        """The name of the run that *is* this training (fold ``k`` of seed 0 reused with
        ``--fold0``), or ``None`` when the study trained it. A linked run is that run; a
        published study names it in ``cv.json``, and the name is kept only when the run beside
        the study holds the same model (phase 2's ``model_sha256``): one name, one training."""
        link = self.fold_dir(k, seed)
        if seed != 0:
            return None
        if link.is_symlink():
            return Path(os.readlink(link)).name
        cv = self.run.record_or_none(CVSummary)
        recorded = {f.fold: f.reused_run for f in (cv.per_fold if cv else []) if not f.seed}
        name = recorded.get(k)
        if not name:
            return None
        mine, theirs = (_model_sha256(d) for d in (link, self.path.parent / name))
        same = mine is not None and mine == theirs
        if not same:
            log.warning(
                "%s fold %d was recorded as the run %s, but %s holds another model: recorded as trained by the study",
                self.path.name,
                k,
                name,
                self.path.parent / name,
            )
        return name if same else None

    def folds(self) -> np.ndarray:
        """Fold of every manifest row, from ``folds.csv``.

        Raises
        ------
        ValueError
            If ``folds.csv`` does not list the images of the manifest, in order.
        """
        rows = self.manifest()
        saved = read_folds(self.path)
        if [r.file for r in saved] != [r.file for r in rows]:
            raise ValueError(
                f"{self.path / FOLDS_FILE} does not list the images of {self.path}/data/manifest.csv; "
                "delete the CV directory to start over"
            )
        return np.array([r.fold for r in saved])

    def run_done(self, k: int, seed: int = 0) -> bool:
        return (self.fold_dir(k, seed) / "phase2" / "result.json").is_file()

    def fold_seconds(self) -> dict[str, float]:
        return self.run.read_json_or_none("fold_seconds.json") or {}

    def fold_predictions(self, k: int, seed: int = 0) -> list[dict]:
        """The scored predictions of one training, fold ``k`` seed ``seed`` (rows: file,
        label, fold, prob_dog, logit).

        Raises
        ------
        ValueError
            If the training is unfinished or its predictions do not cover exactly its fold.
        """
        if not self.run_done(k, seed):
            raise ValueError(
                f"{self.fold_dir(k, seed).name} of {self.path} has not finished; rerun `python -m catsdogs cv` "
                f"with --run-dir {self.path} to resume it"
            )
        rows, folds = self.manifest(), self.folds()
        expected = [r.file for r, f in zip(rows, folds) if f == k]
        pred = read_csv(self.fold_dir(k, seed) / "phase2" / "predictions_val.csv")
        if [p["file"] for p in pred] != expected:
            raise ValueError(
                f"the predictions of {self.fold_dir(k, seed).name} do not list exactly its {len(expected)} images"
            )
        return [
            {"file": p["file"], "label": int(p["label"]), "fold": k, "prob_dog": p["prob_dog"], "logit": p["logit"]}
            for p in pred
        ]

    def out_of_fold(self, seed: int = 0) -> list[dict]:
        """Every image's prediction by the model (of training seed ``seed``) that did not
        train on it (``oof_predictions.csv`` rows: file, label, fold, prob_dog, logit).

        Raises
        ------
        ValueError
            If a fold is unfinished or its predictions do not cover exactly its images.
        """
        out: list[dict] = []
        for k in range(self.n_folds):
            out += self.fold_predictions(k, seed)
        n = len(self.manifest())
        if len(out) != n or len({r["file"] for r in out}) != n:
            raise ValueError(f"out-of-fold predictions cover {len(out)} rows, the dataset {n} images")
        return out


def _model_sha256(run_dir: Path) -> str | None:
    """Phase 2's recorded ``model_sha256`` of the run directory ``run_dir``, if it has one."""
    phase2 = PhaseResult.in_dir(run_dir, "phase2")
    return phase2.model_sha256 if phase2 else None


def phase2_seconds(run: Run) -> float:
    """Seconds of phase 2's training: the larger of its step timing, which includes loading the
    model but only covers the last invocation of a resumed phase, and the sum of its finished
    epochs, each recorded as it ended (so a killed invocation's epochs count)."""
    phase2 = run.result("phase2")
    epochs = (phase2.epoch_seconds if phase2 else None) or []
    return max(run.timings().get("phase2_train", 0.0), sum(s for s in epochs if s is not None))


def training_seconds(fold: Run) -> float:
    """Seconds recorded for the training steps of a fold (phase-1 features excluded: they
    are shared), phase 2's training counted by :func:`phase2_seconds`."""
    steps = {k: v for k, v in fold.timings().items() if k.startswith(("phase1_train", "phase2_"))}
    steps["phase2_train"] = phase2_seconds(fold)
    return round(sum(steps.values()), 1)
