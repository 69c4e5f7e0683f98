"""The records of a run directory, declared once.

Every JSON file a step writes into a run directory is a frozen dataclass here: its fields in
the order the file holds them, each with its type and, where ``verify`` judges it, how
(:data:`EXACT`, :data:`WITHIN_CI`, :data:`FINGERPRINT`, :data:`SHOWN`) as field metadata,
the way :class:`~catsdogs.config.Config` carries each setting's reason. A record class knows
its path inside the run directory (:attr:`Record.PATH`); :class:`~catsdogs.runs.Run` reads
and writes records through it, so no other code spells a record's path or its keys.

The file formats are those the steps have always written: :meth:`Part.from_dict` reads every
published record under ``results/`` and ``tests/fixtures/`` (a test checks that
:meth:`Part.to_dict` gives each back key for key, in order). A field the file may lack (older
records, or a phase that does not write it) is ``None`` and left out when written, unless it
is declared :func:`kept` (written as ``null``).

Why by hand rather than a validation library: the project's records are plain JSON whose key
order is part of the published bytes, and stdlib dataclasses with about fifty lines of
conversion keep that order and add no dependency.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

import numpy as np

from catsdogs.config import CLASS_NAMES, UserError

#: How ``verify`` compares a field of a published record with the same field of a run.
EXACT = "exact"  # equal, or another experiment was run (data counts, parameters, epochs)
WITHIN_CI = "ci"  # inside the published value's 95 % interval
FINGERPRINT = "fingerprint"  # bit-identical or not; shown, never failing
SHOWN = "shown"  # timings and latency: shown, never judged


class RecordError(UserError, ValueError):
    """A record file that does not have the fields its declaration gives."""


#: :func:`judged`'s default for a field every record must hold.
REQUIRED = dataclasses.MISSING


def judged(how: str, default: Any = None, *, factory: Any = None, keep: bool = False) -> Any:
    """A field ``verify`` compares as ``how`` (one of :data:`EXACT`, :data:`WITHIN_CI`,
    :data:`FINGERPRINT`, :data:`SHOWN`); for every value beneath it too (the entries of a
    list or dict field). ``default`` :data:`REQUIRED`: no default; ``factory``: a default
    made anew (``list``); ``keep``: written even when ``None``, as :func:`kept`."""
    metadata = {"judged": how} | ({"kept": True} if keep else {})
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def kept(default: Any = None, *, beside: str | None = None) -> Any:
    """A field written even when ``None`` (the file holds ``null``); with ``beside``, only
    in records where that other field is written (a group of fields added together)."""
    return field(default=default, metadata={"kept": beside or True})


def judged_at(cls: type, keys: Sequence[Any]) -> str | None:
    """How ``verify`` compares the value at ``keys`` (field names, dict keys, list indices)
    of a record of class ``cls``: the :func:`judged` declaration nearest to that value on
    its path (a field's own, else that of the field holding it), ``None`` when the path
    passes no judged field or leaves the declared types."""
    kind, how = cls, None
    for key in keys:
        origin = typing.get_origin(kind)
        if origin in (typing.Union, types.UnionType):
            (kind,) = [a for a in typing.get_args(kind) if a is not type(None)]
            origin = typing.get_origin(kind)
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            declared = {f.name: f for f in dataclasses.fields(kind)}.get(key)
            if declared is None:
                return None
            how = declared.metadata.get("judged", how)
            kind = _hints(kind)[key]
        elif origin in (dict, list):
            kind = typing.get_args(kind)[-1]
        else:
            return None
    return how


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(kind: Any, value: Any, where: str) -> Any:
    """``value`` (from JSON) as the declared type ``kind``: dataclasses, ``X | None``,
    ``dict[str, X]`` and ``list[X]`` are converted; anything else is kept as it is."""
    if value is None:
        return None
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        (inner,) = [a for a in typing.get_args(kind) if a is not type(None)] or [Any]
        return _build(inner, value, where)
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return kind.from_dict(value, where)
    if origin is dict:
        _, inner = typing.get_args(kind)
        return {k: _build(inner, v, f"{where}.{k}") for k, v in value.items()}
    if origin is list:
        (inner,) = typing.get_args(kind)
        return [_build(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _dump(value: Any) -> Any:
    if isinstance(value, Part):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dump(v) for v in value]
    return value


@dataclass(frozen=True, kw_only=True)
class Part:
    """A JSON object of a record, read by field name and type and written back in order."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str | None = None) -> Self:
        """Build from a JSON object.

        Raises
        ------
        RecordError
            If ``data`` is not an object, has a key the class does not declare, or lacks a
            field without default (``where`` names the file and key in the message).
        """
        where = where or cls.__name__
        if not isinstance(data, Mapping):
            raise RecordError(f"{where}: expected a JSON object, found {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [k for k in data if k not in names]
        if unknown:
            raise RecordError(
                f"{where}: unknown field(s) {', '.join(unknown)} for {cls.__name__}; "
                "the record was written by another version of catsdogs"
            )
        hints = _hints(cls)
        try:
            return cls(**{k: _build(hints[k], v, f"{where}.{k}") for k, v in data.items()})
        except TypeError as err:
            raise RecordError(f"{where}: {err}") from err

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, fields in declaration order; ``None`` fields left out unless kept."""
        return {
            f.name: _dump(v)
            for f in dataclasses.fields(self)
            if (v := getattr(self, f.name)) is not None or self._kept(f)
        }

    def _kept(self, f: dataclasses.Field) -> bool:
        beside = f.metadata.get("kept")
        return beside is True or (isinstance(beside, str) and getattr(self, beside) is not None)

    def replace(self, **changes: Any) -> Self:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, kw_only=True)
class Record(Part):
    """A JSON file of a run directory (or, for :class:`PublishedModels`, of ``models/``).
    :attr:`PATH` is its path inside that directory; a record written once per phase
    (``phase1/``, ``phase2/``, ``mitigation/``, ...) or per model has ``{name}`` in it."""

    PATH: ClassVar[str]

    @classmethod
    def relpath(cls, name: str | None = None) -> str:
        """The record's path inside a run directory; ``name`` fills a per-phase (or per-model) path."""
        return cls.PATH.format(name=name) if name else cls.PATH

    @classmethod
    def in_dir(cls, directory: Path | str, name: str | None = None) -> Self | None:
        """The record in run (or record) directory ``directory``, ``None`` when it has none."""
        path = Path(directory) / cls.relpath(name)
        return cls.read(path) if path.is_file() else None

    @classmethod
    def read(cls, path: Path | str) -> Self:
        """The record in file ``path``.

        Raises
        ------
        FileNotFoundError
            If there is no such file.
        RecordError
            If it is not valid JSON or not this record.
        """
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise RecordError(f"{path} is not valid JSON ({err}); delete it and rerun the step that writes it") from err
        return cls.from_dict(data, str(path))


#: Any record class, for functions that read one kind or another.
R = TypeVar("R", bound=Record)
T = TypeVar("T")


# ----------------------------------------------------------------------------- shared parts


@dataclass(frozen=True, kw_only=True)
class Parameters(Part):
    """Parameter counts of a model."""

    total: int = judged(EXACT)
    trainable: int = judged(EXACT)
    non_trainable: int = judged(EXACT)


@dataclass(frozen=True, kw_only=True)
class ClassScores(Part):
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, kw_only=True)
class Metrics(Part):
    """:func:`~catsdogs.evaluation.metrics.classification_metrics` of one set of predictions."""

    n: int = judged(EXACT)
    threshold: float = 0.5
    accuracy: float = judged(WITHIN_CI)
    precision: float = judged(WITHIN_CI)
    recall: float = judged(WITHIN_CI)
    f1: float = judged(WITHIN_CI)
    per_class: dict[str, ClassScores] = field(default_factory=dict)
    macro_precision: float | None = None
    macro_recall: float | None = None
    macro_f1: float | None = None
    roc_auc: float | None = judged(WITHIN_CI, keep=True)
    pr_auc: float | None = kept()
    #: verify: equal, else judged through the accuracy, precision and recall it implies
    confusion_matrix: list[list[int]] = judged(EXACT, factory=list)


@dataclass(frozen=True, kw_only=True)
class Interval(Part):
    """A point estimate with its 95 % interval."""

    estimate: float | None = kept()
    low: float | None = kept()
    high: float | None = kept()


@dataclass(frozen=True, kw_only=True)
class GitState(Part):
    """The commit a record was made at (:func:`~catsdogs.provenance.git_info`)."""

    commit: str | None = kept()
    dirty: bool | None = kept()


# ----------------------------------------------------------------------------- provenance


@dataclass(frozen=True, kw_only=True)
class Hardware(Part):
    """:func:`~catsdogs.provenance.hardware_info`."""

    cpu: str | None = kept()
    logical_cores: int | None = kept()
    memory_gb: float | None = kept()
    gpus: list[str] = field(default_factory=list)
    platform: str | None = kept()


@dataclass(frozen=True, kw_only=True)
class Environment(Part):
    """:func:`~catsdogs.provenance.environment_info`: where and with what a step last ran."""

    recorded_at: str
    python: str
    packages: dict[str, str] = field(default_factory=dict)
    git: GitState | None = None
    hardware: Hardware | None = None


@dataclass(frozen=True, kw_only=True)
class FetchRecord(Part):
    """``fetch_record.json`` of a PetImages download (:func:`~catsdogs.data.download.fetch_record`):
    where from, the archive, its sha256 and size, when, and whether it was downloaded (false:
    an archive already in place was adopted)."""

    url: str | None = None
    archive: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    fetched_at: str | None = None
    downloaded: bool | None = None


@dataclass(frozen=True, kw_only=True)
class DataProvenance(Part):
    """The dataset a run used: where, how many usable images, the split manifest's sha256."""

    root: str
    usable_images: int
    per_class: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    converted: int = 0
    manifest_sha256: str
    download: FetchRecord | None = kept()


@dataclass(frozen=True, kw_only=True)
class WeightsProvenance(Part):
    """:class:`~catsdogs.model.weights.WeightsInfo`: the ImageNet weights a run started from."""

    keras_weights: str | None = kept()
    kind: str
    source: str
    source_sha256: str | None = kept()
    converted_sha256: str | None = kept()
    include_top: bool = False
    metadata_path: str | None = kept()


@dataclass(frozen=True, kw_only=True)
class Provenance(Record):
    """``provenance.json``: versions, git commit and hardware of the last step, and the data,
    weights and (for a fold, an exploration, an ablation or a restored run) where the run
    came from."""

    PATH: ClassVar[str] = "provenance.json"

    environment: Environment | None = None
    data: DataProvenance | None = None
    cross_validation: dict[str, Any] | None = None
    exploration: dict[str, Any] | None = None
    weights: WeightsProvenance | None = None
    forked_from: dict[str, Any] | None = None
    restored: dict[str, Any] | None = None

    @property
    def hardware(self) -> Hardware | None:
        """The hardware the environment recorded, ``None`` when it recorded none."""
        return self.environment.hardware if self.environment else None


# ----------------------------------------------------------------------------- training


def from_csv_row(cls: type[T], row: Mapping[str, str]) -> T:
    """The CSV row ``row`` (strings, e.g. from :func:`~catsdogs.files.read_csv`) as the flat
    dataclass ``cls``, each declared field converted by its declared type (``str``, ``int``,
    ``float``); columns ``cls`` does not declare are ignored, every declared one must be there."""
    hints = _hints(cls)
    return cls(**{f.name: hints[f.name](row[f.name]) for f in dataclasses.fields(cls)})


@dataclass(frozen=True, kw_only=True)
class FoldRow:
    """One image of a cross-validation study's ``folds.csv``: its file, label and the fold
    that scores it."""

    file: str
    label: int
    fold: int


#: The columns of ``data/manifest.csv``, in order (:class:`ManifestRow`).
MANIFEST_FIELDS = ("file", "label", "class", "split", "source", "width", "height")


@dataclass(frozen=True, kw_only=True)
class ManifestRow:
    """One image of ``data/manifest.csv``: its file relative to the data root (``source``
    ``converted``: to the converted copies' root), its label, split and size on disk."""

    file: str
    label: int
    split: str
    source: str = "original"
    width: int = 0
    height: int = 0

    @property
    def class_name(self) -> str:
        """The label's name (the CSV's ``class`` column)."""
        return CLASS_NAMES[self.label]

    def moved_to(self, split: str) -> ManifestRow:
        """The same image in ``split``."""
        return dataclasses.replace(self, split=split)

    def to_csv(self) -> dict[str, Any]:
        """The CSV row (:data:`MANIFEST_FIELDS`)."""
        return dict(
            zip(
                MANIFEST_FIELDS,
                (self.file, self.label, self.class_name, self.split, self.source, self.width, self.height),
            )
        )

    @classmethod
    def from_csv(cls, row: Mapping[str, str]) -> ManifestRow:
        """A row read from the CSV (strings), its class name implied by its label."""
        return from_csv_row(cls, row)


@dataclass(frozen=True, kw_only=True)
class SplitCount(Part):
    """Images of one split, per class and in all."""

    cat: int
    dog: int
    total: int


@dataclass(frozen=True, kw_only=True)
class Scan(Record):
    """``data/scan.json``: what validating the files found and how they were split
    (:func:`~catsdogs.training.steps.prepare_data`)."""

    PATH: ClassVar[str] = "data/scan.json"

    root: str | None = None
    examined: int = judged(EXACT, 0)
    usable: int = judged(EXACT, 0)
    per_class: dict[str, int] = judged(EXACT, factory=dict)
    skipped: int = judged(EXACT, 0)
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    skipped_files: list[str] = field(default_factory=list)
    converted: int = judged(EXACT, 0)
    converted_by_reason: dict[str, int] = field(default_factory=dict)
    converted_root: str | None = kept()
    #: exact: another manifest is another experiment (other images, or another split)
    manifest_sha256: str | None = judged(EXACT)
    split: dict[str, SplitCount] = judged(EXACT, factory=dict)
    #: ``[file, reason]`` of each skipped file, ``[file, note]`` of each converted one
    skipped_detail: list[list[str]] = field(default_factory=list)
    converted_detail: list[list[str]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Unfrozen(Part):
    """Which layers of the base phase 2 fine-tunes."""

    first_layer: str
    first_index: int
    n_layers: int
    n_unfrozen: int


@dataclass(frozen=True, kw_only=True)
class PhaseResult(Record):
    """``<phase>/result.json``: a finished training phase (phase 1, phase 2, or a mitigation
    arm's fine-tuning), its history and its validation metrics."""

    PATH: ClassVar[str] = "{name}/result.json"

    phase: str
    parameters: Parameters
    epochs_run: int = judged(EXACT)
    #: each epoch's figure within its interval
    history: dict[str, list[float]] = judged(WITHIN_CI, factory=dict)
    #: one per epoch of the history (``None`` for an epoch trained before epochs were timed)
    epoch_seconds: list[float | None] | None = judged(SHOWN)
    val_metrics: Metrics | None = None
    code: GitState | None = None
    cached_features: bool | None = None
    unfrozen: Unfrozen | None = None
    source_model: str | None = None
    source_sha256: str | None = None
    learning_rate: float | None = None
    augment_robust: bool | None = None
    monitored_split: str | None = None
    #: not compared: the ``.keras`` zip stores its save time
    model_sha256: str | None = None

    @property
    def kept_epoch(self) -> int | None:
        """The epoch (1-based) whose weights the phase kept (:func:`kept_epoch`)."""
        return kept_epoch(self.history)

    @property
    def accuracy_by_epoch(self) -> list[float]:
        """Keras's per-epoch accuracy on the split the phase watched (``val_accuracy``)."""
        return self.history.get("val_accuracy", [])

    @property
    def loss_by_epoch(self) -> list[float]:
        """Keras's per-epoch loss on the split the phase watched (``val_loss``)."""
        return self.history.get("val_loss", [])

    @property
    def epochs_logged(self) -> int:
        """Epochs in the history (its ``epoch`` column)."""
        return len(self.history.get("epoch", []))


def kept_epoch(history: Mapping[str, list[float]]) -> int | None:
    """The epoch (1-based) whose weights a phase kept: early stopping with
    ``restore_best_weights`` restores the first epoch of lowest ``val_loss`` (the loss it
    watched) at the end of training. ``None`` when no validation loss was recorded."""
    losses = history.get("val_loss") or []
    return min(range(len(losses)), key=losses.__getitem__) + 1 if losses else None


# ----------------------------------------------------------------------------- evaluation


@dataclass(frozen=True, kw_only=True)
class Reliability(Part):
    """:func:`~catsdogs.evaluation.calibration.reliability`: the reliability diagram's bins."""

    ece: float = judged(FINGERPRINT)
    n: int = 0
    n_bins: int = 0
    bin_edges: list[float] = field(default_factory=list)
    confidence: list[float | None] = field(default_factory=list)
    accuracy: list[float | None] = field(default_factory=list)
    count: list[int] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Evaluation(Record):
    """``eval/metrics.json``: the final model on the validation split, with bootstrap CIs."""

    PATH: ClassVar[str] = "eval/metrics.json"

    source: str
    split: str
    metrics: Metrics
    ci95: dict[str, Interval] = field(default_factory=dict)
    calibration: Reliability | None = None

    @property
    def accuracy(self) -> Interval:
        """The accuracy with its bootstrap 95 % interval."""
        return self.ci95["accuracy"]


# ----------------------------------------------------------------------------- export and latency


@dataclass(frozen=True, kw_only=True)
class ExportedFile(Part):
    """One exported model file and how it scores on the validation split."""

    file: str
    size_mb: float = judged(FINGERPRINT)
    sha256: str = judged(FINGERPRINT)
    val_metrics: Metrics | None = None
    ood_threshold: float | None = judged(FINGERPRINT)
    ood_keep_in_distribution: float | None = None
    ood_flagged_val: float | None = None
    agreement_with_keras: float | None = None
    max_abs_prob_diff: float | None = None


@dataclass(frozen=True, kw_only=True)
class Export(Record):
    """``export/export.json``: the final model saved for inference and converted to TFLite."""

    PATH: ClassVar[str] = "export/export.json"

    source_model: str
    source_sha256: str
    parameters: Parameters
    calibration_images: int
    exports: dict[str, ExportedFile] = field(default_factory=dict)

    @property
    def keras(self) -> ExportedFile:
        """The Keras file (the reference every export is measured against)."""
        return self.exports["keras"]

    @property
    def int8(self) -> ExportedFile | None:
        """The int8 TFLite file (the browser's), ``None`` in a record without it."""
        return self.exports.get("tflite_int8")


@dataclass(frozen=True, kw_only=True)
class Latency(Part):
    """Milliseconds per call, over the bench's repeats."""

    median_ms: float = judged(SHOWN)
    p90_ms: float = judged(SHOWN)
    min_ms: float = judged(SHOWN)


@dataclass(frozen=True, kw_only=True)
class ModelLatency(Part):
    single: Latency
    batched_per_image: Latency
    batched_mode: str | None = None
    speedup_vs_keras_single: float | None = None
    speedup_vs_keras_batched: float | None = None


@dataclass(frozen=True, kw_only=True)
class Bench(Record):
    """``bench/bench.json``: latency of the Keras model and its TFLite exports."""

    PATH: ClassVar[str] = "bench/bench.json"

    repeats: int
    batch_size: int
    hardware: Hardware
    sha256: dict[str, str] = field(default_factory=dict)
    models: dict[str, ModelLatency] = field(default_factory=dict)

    @property
    def keras(self) -> ModelLatency:
        return self.models["keras"]

    @property
    def int8(self) -> ModelLatency:
        return self.models["tflite_int8"]


@dataclass(frozen=True, kw_only=True)
class PublishedFile(Part):
    """One published model file: its size, sha256, validation accuracy and F1, and the
    unsure threshold ``predict`` and the browser page flag with."""

    size_mb: float | None = None
    sha256: str | None = None
    val_accuracy: float | None = None
    val_f1: float | None = None
    ood_threshold: float | None = None
    ood_keep_in_distribution: float | None = None
    ood_flagged_val: float | None = None


@dataclass(frozen=True, kw_only=True)
class PublishedModels(Record):
    """``models/catsdogs_mobilenetv2.json``, beside the published model files: the run they
    come from, its settings, and each file (:func:`~catsdogs.evaluation.export.publish`)."""

    PATH: ClassVar[str] = "catsdogs_mobilenetv2.json"

    run: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    files: dict[str, PublishedFile] = field(default_factory=dict)

    def file(self, name: str) -> PublishedFile:
        """The entry of the model file ``name`` (empty when the record does not list it)."""
        return (self.files or {}).get(name) or PublishedFile()


# ----------------------------------------------------------------------------- cross-validation


@dataclass(frozen=True, kw_only=True)
class CVTraining(Part):
    """One training of a cross-validation study (fold ``fold``, training seed ``seed``),
    scored on its fold."""

    fold: int
    n: int = judged(EXACT)
    accuracy: float = judged(WITHIN_CI)
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    roc_auc: float | None = kept()
    confusion_matrix: list[list[int]] = field(default_factory=list)
    phase1_accuracy: float | None = None
    #: per-epoch accuracy on the split early stopping watched: the scored fold ...
    phase2_val_accuracy_by_epoch: list[float] | None = None
    #: ... or the inner split carved from the fold's training images
    phase2_inner_accuracy_by_epoch: list[float] | None = None
    reused_run: str | None = kept()
    wall_seconds: float | None = kept()
    training_seconds: float | None = judged(SHOWN)
    seed: int | None = None
    monitored_split: str | None = None

    @property
    def accuracy_by_epoch(self) -> list[float]:
        """Phase 2's per-epoch accuracy on whichever split chose its epoch."""
        return self.phase2_val_accuracy_by_epoch or self.phase2_inner_accuracy_by_epoch or []


@dataclass(frozen=True, kw_only=True)
class Pooled(Part):
    """Metrics of the out-of-fold predictions pooled over every training."""

    accuracy: float = judged(WITHIN_CI)
    precision: float | None = judged(WITHIN_CI)
    recall: float | None = judged(WITHIN_CI)
    f1: float | None = judged(WITHIN_CI)
    roc_auc: float | None = judged(WITHIN_CI, keep=True)
    macro_precision: float | None = None
    macro_recall: float | None = None
    macro_f1: float | None = None
    confusion_matrix: list[list[int]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Spread(Part):
    """Mean and standard deviation (ddof 1; ``None`` for one value) across folds."""

    mean: float
    sd: float | None = kept()


@dataclass(frozen=True, kw_only=True)
class SeedSpread(Part):
    """One fold trained with several seeds: each seed's accuracy and their spread."""

    fold: int
    accuracy_by_seed: dict[str, float]
    spread: float
    sd: float


@dataclass(frozen=True, kw_only=True)
class TrainingVariance(Part):
    """How much re-training one recipe on one fold moves its accuracy."""

    per_fold: list[SeedSpread]
    within_fold_sd: float
    max_spread: float = judged(SHOWN, REQUIRED)


@dataclass(frozen=True, kw_only=True)
class CVSummary(Record):
    """``cv.json`` of a cross-validation study: each training, the pooled out-of-fold
    metrics with their bootstrap CIs, the spread across folds and, with several training
    seeds, the training variance."""

    PATH: ClassVar[str] = "cv.json"

    folds: int = judged(EXACT)
    images: int = judged(EXACT)
    per_fold: list[CVTraining] = field(default_factory=list)
    pooled: Pooled | None = None
    pooled_ci95: dict[str, Interval] = field(default_factory=dict)
    across_folds: dict[str, Spread] = field(default_factory=dict)
    oof_sha256: str | None = judged(FINGERPRINT)
    protocol: str | None = judged(EXACT)
    seeds: list[int] | None = judged(EXACT)
    trainings: int | None = judged(EXACT)
    complete: bool | None = None
    dataset_images: int | None = None
    training_variance: TrainingVariance | None = kept(beside="dataset_images")

    @property
    def accuracy(self) -> Interval:
        """The pooled out-of-fold accuracy with its bootstrap 95 % interval."""
        return self.pooled_ci95["accuracy"]

    @property
    def seed_list(self) -> list[int]:
        """The training seeds pooled (``[0]`` for a study from before seeds existed)."""
        return self.seeds or [0]

    @property
    def n_trainings(self) -> int:
        """Trainings pooled (one per fold before seeds existed)."""
        return self.trainings if self.trainings is not None else self.folds

    @property
    def is_complete(self) -> bool:
        """Whether every fold has every seed (studies before seeds existed always do)."""
        return self.complete is not False


# ----------------------------------------------------------------------------- exploration


@dataclass(frozen=True, kw_only=True)
class ExploredScore(Part):
    """A candidate recipe on the exploration split: accuracy, its errors of ``n``, Wilson 95 %
    interval and log loss."""

    accuracy: float = judged(WITHIN_CI, REQUIRED)
    errors: int
    n: int
    ci95: Proportion
    log_loss: float = judged(FINGERPRINT, REQUIRED)


@dataclass(frozen=True, kw_only=True)
class Exploration(Record):
    """``explore.json``: a candidate recipe trained on fold ``fold``'s training part of
    ``study`` and scored on the exploration split, plain and with flip test-time augmentation."""

    PATH: ClassVar[str] = "explore.json"

    study: str = judged(EXACT, REQUIRED)
    fold: int = judged(EXACT, REQUIRED)
    splits: dict[str, SplitCount] = judged(EXACT, REQUIRED)
    changes: dict[str, Any] = judged(EXACT, REQUIRED)
    epochs_run: int = judged(EXACT, REQUIRED)
    phase2_seconds: float = judged(SHOWN, REQUIRED)
    plain: ExploredScore
    flip: ExploredScore


# ----------------------------------------------------------------------------- ablation and comparison


@dataclass(frozen=True, kw_only=True)
class AblationRun(Part):
    """One run of a phase-2 ablation on the published run's split: what it changes, its
    accuracy after phase 1 and at the end with bootstrap 95 % CIs, its phase-2 curve and time."""

    run: str
    differs: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    phase1_accuracy: float | None = kept()
    final_accuracy: Interval
    final_f1: Interval | None = None
    final_precision: Interval | None = None
    final_recall: Interval | None = None
    phase2_epochs_run: int | None = None
    phase2_val_accuracy_by_epoch: list[float] = field(default_factory=list)
    phase2_seconds: float | None = kept()
    manifest_sha256: str | None = kept()


@dataclass(frozen=True, kw_only=True)
class Ablation(Record):
    """``ablation.json``: phase-2 variants of the published run, on its split."""

    PATH: ClassVar[str] = "ablation.json"

    published_run: str
    runs: list[AblationRun]

    @property
    def base(self) -> AblationRun:
        """The entry the variants are compared with (the published run's recipe)."""
        return next(e for e in self.runs if e.run == self.published_run)


@dataclass(frozen=True, kw_only=True)
class PairedAccuracy(Part):
    """Both recipes' accuracy on the same images, and the second's minus the first's."""

    first: float
    second: float
    difference: float


@dataclass(frozen=True, kw_only=True)
class SignTest(Part):
    second_better: int
    of: int
    p_value: float


@dataclass(frozen=True, kw_only=True)
class FoldTest(Part):
    """:func:`~catsdogs.studies.ablation.corrected_fold_test` over the folds ``fold_ids``."""

    test: str
    folds: int
    mean_difference: float
    test_train_ratio: float
    t: float | None = kept()
    df: int
    p_value: float | None = kept()
    smallest_significant_difference: float | None = None
    paired_t_p_value: float | None = None
    sign_test: SignTest | None = None
    fold_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class McNemar(Part):
    """The exact McNemar test of pooled predictions, each trained model taken as fixed."""

    table: list[list[int]]
    only_first_right: int
    only_second_right: int
    p_value: float
    test: str
    verdict: str


@dataclass(frozen=True, kw_only=True)
class WithoutSelection(Part):
    """The comparison without the images the second recipe was picked on (fold ``fold``, or
    the images ``excluded`` names): the verdict's basis, with each recipe's interval there."""

    fold: int | None = kept()
    excluded: str | None = None
    images: int
    accuracy: PairedAccuracy
    fold_test: FoldTest
    mcnemar: McNemar
    verdict: str
    accuracy_ci95: dict[str, Interval] = field(default_factory=dict)

    @property
    def excluded_text(self) -> str:
        """What was left out: ``fold 0`` (records before ``excluded``) or the images named."""
        return self.excluded or f"fold {self.fold}"

    @property
    def over_folds_text(self) -> str:
        """``over the folds other than fold 0``, or ``over the folds without`` the images left out."""
        if self.fold is not None:
            return f"over the folds other than fold {self.fold}"
        return f"over the folds without {self.excluded_text}"


@dataclass(frozen=True, kw_only=True)
class FoldDifference(Part):
    fold: int
    first: float
    second: float
    difference: float


@dataclass(frozen=True, kw_only=True)
class Comparison(Record):
    """``compare.json``: two finished studies on the same folds, paired image by image; its
    verdict is the corrected t-test over the folds without the images the second recipe was
    picked on (:class:`WithoutSelection`)."""

    PATH: ClassVar[str] = "compare.json"

    first: str
    second: str
    first_settings: dict[str, Any] = field(default_factory=dict)
    differs: dict[str, Any] = field(default_factory=dict)
    seeds: dict[str, list[int]] | None = None
    images: int
    accuracy: PairedAccuracy
    fold_test: FoldTest
    mcnemar: McNemar
    verdict: str
    verdict_every_fold: str
    verdict_basis: str
    per_fold: list[FoldDifference]
    folds_second_better: int
    alpha: float
    without_selection_fold: WithoutSelection


# ----------------------------------------------------------------------------- label audits


@dataclass(frozen=True, kw_only=True)
class Verdict(Part):
    """One image's by-eye verdict in the audit file: ``verdict`` (one of the label audit's
    ``VERDICTS``), what the image shows, and who judged it."""

    verdict: str
    note: str = ""
    by: str | None = None


@dataclass(frozen=True, kw_only=True)
class VerdictCounts(Part):
    """How many images got each verdict (``not_audited``: mistakes without one)."""

    label_ok: int = 0
    other_class: int = 0
    no_pet: int = 0
    both: int = 0
    unclear: int = 0
    not_audited: int | None = None

    @property
    def mislabelled(self) -> int:
        """Images whose folder label is wrong: the other animal, or no pet at all."""
        return self.other_class + self.no_pet

    @property
    def no_answer(self) -> int:
        """Images with no one right answer (no pet, both animals, unclear)."""
        return self.no_pet + self.both + self.unclear


@dataclass(frozen=True, kw_only=True)
class AuditedError(Part):
    """A validation mistake of the final model with its verdict."""

    file: str
    label: int
    prob_dog: float
    verdict: str
    note: str = ""
    by: str | None = None


@dataclass(frozen=True, kw_only=True)
class RunAudit(Record):
    """``audit.json``: the final model's validation mistakes, looked at one by one, and the
    accuracy with the mislabelled images relabelled and those without an answer dropped."""

    PATH: ClassVar[str] = "audit.json"

    n_images: int
    n_errors: int
    errors: list[AuditedError]
    counts: VerdictCounts
    accuracy: float | None = kept()
    n_adjusted: int
    accuracy_adjusted: float | None = kept()
    source: str | None = None
    audit_file: str | None = None
    audit_sha256: str | None = None
    method: str | None = None
    verdicts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class FlaggedImage(Part):
    """An image cleanlab flags as likely mislabelled, with its rank and audit group
    (``ranked`` and ``sampled`` are looked at, ``unaudited`` not)."""

    rank: int
    file: str
    label: int
    prob_dog: float
    fold: int
    audit: str


@dataclass(frozen=True, kw_only=True)
class LabelIssues(Record):
    """``label_issues.json`` of a study: every image cleanlab flags, ranked."""

    PATH: ClassVar[str] = "label_issues.json"

    method: str
    cleanlab: str
    rows: list[FlaggedImage]


@dataclass(frozen=True, kw_only=True)
class DatasetAudit(Record):
    """``label_audit_summary.json`` of a study: what the verdicts say about PetImages."""

    PATH: ClassVar[str] = "label_audit_summary.json"

    flagged: int
    audited: int
    with_verdict: int
    counts: VerdictCounts
    precision: float | None = kept()
    unaudited: int
    estimated_wrong_among_unaudited: int | None = kept()
    mistakes: int
    flagged_mistakes: int
    mistakes_with_verdict: int
    mistake_counts: VerdictCounts
    without_verdict: int
    verdicts_by: dict[str, int] = field(default_factory=dict)
    accuracy_folder_labels: float
    right_with_other_verdicts: int | None = None
    accuracy_audited_labels: float
    images_audited_labels: int
    accuracy_answerable: float
    images_answerable: int
    method: str | None = None
    audit_sha256: str | None = None


# ----------------------------------------------------------------------------- corruption curves


@dataclass(frozen=True, kw_only=True)
class CorruptionCurve(Part):
    """One corruption level by level (level 0 the clean image): accuracy and F1 with their
    bootstrap 95 % CIs, mean confidence and, paired with the clean images, the images the
    corruption made wrong and right with the exact McNemar p-value."""

    sha256: str | None = None
    severity: list[float] = field(default_factory=list)
    accuracy: list[float] = judged(WITHIN_CI, factory=list)
    accuracy_low: list[float] = field(default_factory=list)
    accuracy_high: list[float] = field(default_factory=list)
    f1: list[float] = field(default_factory=list)
    f1_low: list[float] = field(default_factory=list)
    f1_high: list[float] = field(default_factory=list)
    mean_confidence: list[float] = field(default_factory=list)
    #: each level's outcome per image, one character each (``"1"``: right), for paired comparisons
    correct: list[str] | None = None
    lost: list[int] | None = None
    gained: list[int] | None = None
    paired_p: list[float] | None = None

    def interval(self, level: int) -> Interval:
        """Accuracy at level index ``level`` (``-1``: the harshest) with its 95 % CI."""
        return Interval(estimate=self.accuracy[level], low=self.accuracy_low[level], high=self.accuracy_high[level])


@dataclass(frozen=True, kw_only=True)
class CorruptionStudy(Record):
    """``robustness/results.json`` (``results_<tag>.json`` for a mitigation arm's model): a
    model on the same validation subset, every corruption level by level."""

    PATH: ClassVar[str] = "robustness/{name}.json"

    model: str
    model_sha256: str | None = None
    n_images: int = judged(EXACT)
    per_class: int | None = kept()
    levels: dict[str, list[float]] = field(default_factory=dict)
    corruptions: dict[str, CorruptionCurve] = field(default_factory=dict)
    smallest_detectable_drop: float | None = None
    paired_with: str | None = None

    @staticmethod
    def name_of(tag: str = "") -> str:
        """The record's name in :attr:`PATH`: ``results`` (the final model's study) or
        ``results_<tag>`` (a mitigation arm's)."""
        return f"results_{tag}" if tag else "results"


@dataclass(frozen=True, kw_only=True)
class OODKind(Part):
    """Made-up inputs of one kind against the real validation photos."""

    mean_confidence: float
    share_called_dog: float
    share_flagged: float = judged(WITHIN_CI)
    auroc_confidence: float
    confidence: list[float] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class InDistribution(Part):
    mean_confidence: float
    share_flagged: float | None = None
    confidence: list[float] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class OODStudy(Record):
    """``robustness/ood.json``: how the *unsure* flag treats made-up inputs, with the one
    published threshold."""

    PATH: ClassVar[str] = "robustness/ood.json"

    n_images: int
    threshold: float = judged(FINGERPRINT)
    threshold_source: str | None = None
    threshold_n_images: int | None = None
    keep_in_distribution: float
    in_distribution: InDistribution
    kinds: dict[str, OODKind] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CalibrationStudy(Record):
    """``robustness/calibration.json``: reliability before and after temperature scaling."""

    PATH: ClassVar[str] = "robustness/calibration.json"

    temperatures: list[float]
    before: Reliability
    after: Reliability
    accuracy_before: float = judged(WITHIN_CI)
    accuracy_after: float = judged(WITHIN_CI)


@dataclass(frozen=True, kw_only=True)
class ArmAccuracy(Part):
    clean: float
    corrupted: float


@dataclass(frozen=True, kw_only=True)
class RecoveredShare(Part):
    estimate: float
    low: float | None = kept()
    high: float | None = kept()
    undefined_resamples: float


@dataclass(frozen=True, kw_only=True)
class MitigationEffect(Part):
    """One corruption: both arms, the gain, the clean cost, the control's drop and the share
    of it recovered (defined only where the drop's interval lies above zero)."""

    plain: ArmAccuracy
    robust: ArmAccuracy
    gain: Interval = judged(SHOWN, REQUIRED)
    clean_cost: Interval
    plain_drop: Interval
    recovered_share: RecoveredShare | None = kept()


@dataclass(frozen=True, kw_only=True)
class MitigationComparison(Record):
    """``robustness/mitigation.json``: the robust augmentation against its same-epochs control."""

    PATH: ClassVar[str] = "robustness/mitigation.json"

    n_images: int
    n_resamples: int
    corruptions: dict[str, MitigationEffect] = field(default_factory=dict)
    epochs: int | None = None
    source_sha256: str | None = None


# ----------------------------------------------------------------------------- external test sets


@dataclass(frozen=True, kw_only=True)
class Proportion(Part):
    """``k`` of ``n`` with its Wilson 95 % interval."""

    k: int
    n: int
    estimate: float | None = kept()
    low: float | None = kept()
    high: float | None = kept()


@dataclass(frozen=True, kw_only=True)
class ModelRef(Part):
    """The model file a record was made with, and its published unsure threshold."""

    file: str
    sha256: str
    ood_threshold: float | None = kept()
    kind: str | None = None
    image_size: int | None = None
    ood_note: str | None = None


@dataclass(frozen=True, kw_only=True)
class GroupSize(Part):
    species: str
    n: int


@dataclass(frozen=True, kw_only=True)
class SetDescription(Part):
    """Where an external set came from and what it holds
    (:func:`~catsdogs.data.external.set_provenance`)."""

    name: str
    title: str
    source: str
    licence: str
    citation_url: str
    layout: str
    origin: str
    location: str
    found_through: str
    images: int
    counts: dict[str, int] = field(default_factory=dict)
    groups: dict[str, GroupSize] = field(default_factory=dict)
    file_list_sha256: str | None = None
    arrays_sha256: str | None = None
    content_hash_of: str | None = None
    #: what a set loaded from arrays or downloaded adds (:attr:`~catsdogs.data.external.ExternalData.details`)
    arrays: str | None = None
    selection: str | None = None
    download: dict[str, Any] | None = None


@dataclass(frozen=True, kw_only=True)
class GroupScore(Part):
    """One breed (or class) of a set: its accuracy and its share flagged unsure."""

    species: str
    n: int
    accuracy: Proportion | None = None
    unsure: Proportion | None = None


@dataclass(frozen=True, kw_only=True)
class ExternalMistake(Part):
    image: str
    group: str
    label: str
    prob_dog: float


@dataclass(frozen=True, kw_only=True)
class PetScores(Part):
    """The model on a set's cats and dogs: metrics with bootstrap CIs, the unsure share and
    the accuracy when sure, per group, and every mistake."""

    n: int
    accuracy: Interval
    precision: Interval
    recall: Interval
    f1: Interval
    confusion_matrix: list[list[int]] = field(default_factory=list)
    unsure: Proportion | None = None
    sure_accuracy: Proportion | None = None
    groups: dict[str, GroupScore] = field(default_factory=dict)
    mistakes: list[ExternalMistake] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class NonPetShares(Part):
    """How the model answers photos of neither cats nor dogs (all, then per class)."""

    n: int
    called_dog: Proportion
    unsure: Proportion | None = None
    classes: dict[str, NonPetShares] | None = None


@dataclass(frozen=True, kw_only=True)
class SetResult(Part):
    """One model on one external set (:func:`~catsdogs.evaluation.external.evaluate_external_set`)."""

    set: str
    data: SetDescription
    model: ModelRef
    decision_threshold: float
    intervals: dict[str, Any] = field(default_factory=dict)
    images: int
    unreadable: dict[str, str] = field(default_factory=dict)
    pets: PetScores | None = kept()
    non_pets: NonPetShares | None = kept()


@dataclass(frozen=True, kw_only=True)
class ExternalEvaluation(Record):
    """``external/<model file>.json`` of a published record: one model on every external
    test set found, and the sets that were not."""

    PATH: ClassVar[str] = "external/{name}.json"

    model: ModelRef
    sets: dict[str, SetResult] = field(default_factory=dict)
    not_available: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ResolutionControl(Record):
    """``external/low_resolution.json``: the published models on validation photos shrunk
    to thumbnail sizes, level by level."""

    PATH: ClassVar[str] = "external/low_resolution.json"

    corruption: str
    levels: list[float]
    note: str | None = None
    models: dict[str, CorruptionCurve] = field(default_factory=dict)
    n_images: int | None = None
    per_class: int | None = kept(beside="n_images")

    def at(self, model_file: str, side: int) -> Interval | None:
        """A model's accuracy on the photos shrunk to ``side`` pixels, if measured."""
        curve, sides = self.models.get(model_file), [int(v) for v in self.levels]
        return curve.interval(sides.index(side)) if curve and side in sides else None


@dataclass(frozen=True, kw_only=True)
class DuplicateCheck(Part):
    """Perceptual-hash pairs between PetImages (``a``) and one external set (``b``)."""

    hash: str
    max_distance: int
    images: list[int]
    pairs: list[dict[str, Any]] = field(default_factory=list)
    images_of_b_with_a_pair: int


@dataclass(frozen=True, kw_only=True)
class NearDuplicates(Record):
    """``external/near_duplicates.json``: whether any external image is a PetImages image again."""

    PATH: ClassVar[str] = "external/near_duplicates.json"

    petimages: int
    sets: dict[str, DuplicateCheck] = field(default_factory=dict)


# ----------------------------------------------------------------------------- predictions


@dataclass(frozen=True, kw_only=True)
class Predictions:
    """A predictions CSV (``<phase>/predictions_val.csv``) as arrays, one entry per image:
    ``file`` (relative to the data root), ``label`` (0 cat, 1 dog), ``logit`` and ``prob``
    (the probability of dog)."""

    file: np.ndarray
    label: np.ndarray
    logit: np.ndarray
    prob: np.ndarray

    #: Each array's CSV column and type (the probability is the CSV's ``prob_dog``).
    COLUMNS: ClassVar[dict[str, tuple[str, type]]] = {
        "file": ("file", str),
        "label": ("label", int),
        "logit": ("logit", float),
        "prob": ("prob_dog", float),
    }

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, str]], **fields: Any) -> Self:
        """The arrays of CSV ``rows`` (strings), one per :attr:`COLUMNS` entry; ``fields``
        are passed on (the further arrays of a subclass)."""
        arrays = {name: np.array([kind(r[column]) for r in rows]) for name, (column, kind) in cls.COLUMNS.items()}
        return cls(**arrays, **fields)

    def __len__(self) -> int:
        return int(self.label.size)

    @property
    def right(self) -> np.ndarray:
        """Whether each prediction (dog at ``prob >= 0.5``) matches its label."""
        return (self.prob >= 0.5) == (self.label == 1)


@dataclass(frozen=True, kw_only=True)
class OutOfFold(Predictions):
    """A study's ``oof_predictions.csv``: every image's prediction by the model that did not
    train on it, with its ``fold`` and training ``seed`` (one row per image and seed);
    ``seeded`` says whether the file names seeds at all (studies before seeds did not)."""

    fold: np.ndarray
    seed: np.ndarray
    seeded: bool = False

    COLUMNS: ClassVar[dict[str, tuple[str, type]]] = Predictions.COLUMNS | {"fold": ("fold", int)}

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, str]], **fields: Any) -> Self:
        """The arrays of ``oof_predictions.csv`` rows: a file without a ``seed`` column (a
        study of one training per fold) has seed 0 throughout and ``seeded`` ``False``."""
        seeded = bool(rows) and "seed" in rows[0]
        seeds = [int(r["seed"]) if seeded else 0 for r in rows]
        return super().from_rows(rows, seed=np.array(seeds), seeded=seeded, **fields)

    def subset(self, rows: np.ndarray) -> OutOfFold:
        """The predictions of ``rows`` (a boolean mask or indices)."""
        return dataclasses.replace(
            self,
            **{name: getattr(self, name)[rows] for name in ("file", "label", "logit", "prob", "fold", "seed")},
        )


#: Every record class with a fixed path, by path.
RECORDS: dict[str, type[Record]] = {
    cls.PATH: cls
    for cls in (
        Scan,
        Provenance,
        Evaluation,
        Export,
        Bench,
        CVSummary,
        Ablation,
        Comparison,
        Exploration,
        RunAudit,
        LabelIssues,
        DatasetAudit,
        ResolutionControl,
        NearDuplicates,
        OODStudy,
        CalibrationStudy,
        MitigationComparison,
    )
}
