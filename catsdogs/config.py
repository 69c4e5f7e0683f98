"""Every knob of a run in one frozen dataclass, plus named profiles.

A profile is a named preset of :class:`Config`; any field can be overridden::

    cfg = get_config("smoke", image_size=160)

Nothing else in the package reads global state: functions take a ``Config``.
Locations (data, weights, cache, runs) default to ``None`` and are resolved at
run time from environment variables so that committed files never hold a
machine-specific path (see :func:`resolve_path_settings`).
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Environment variables read when the matching config field is ``None``.
ENV_DATA_DIR = "CATSDOGS_DATA_DIR"
ENV_WEIGHTS = "CATSDOGS_WEIGHTS"
ENV_CACHE_DIR = "CATSDOGS_CACHE_DIR"
ENV_RUNS_DIR = "CATSDOGS_RUNS_DIR"

#: The project's public repository: the one place its address is written in the
#: package (the notebooks' Colab badges and install line, and the book's
#: ``_config.yml``, are checked against it by ``tests/test_book.py``).
REPOSITORY_URL = "https://github.com/catsdogs-reproduction/catsdogs"

PETIMAGES_URL = (
    "https://download.microsoft.com/download/3/E/1/3E1C3F21-ECDB-4869-8368-6DEBA77B919F/kagglecatsanddogs_5340.zip"
)
"""The public Microsoft PetImages archive (the one the Keras examples use)."""


class UserError(RuntimeError):
    """A problem the user can fix (missing data, a bad option, a failed chapter, no npm):
    the CLI prints its message as one ``error:`` line instead of a traceback."""


#: The chapters, in order: ``notebooks/<name>.ipynb``, executed into ``<run>/notebooks/``.
CHAPTERS: tuple[str, ...] = (
    "01_dataset_exploration",
    "02_augmentation",
    "03_phase1_feature_extraction",
    "04_phase2_fine_tuning",
    "05_evaluation",
    "06_limitations",
)

#: Field metadata: where files live or a free-text note, not what a run computes.
LOCATION = {"location": True}
#: Field metadata: what a run computes, but only after phase 1.
AFTER_PHASE1 = {"after_phase1": True}


class _NotGiven:
    """Sentinel of :func:`get_config` overrides: "not given" (``None`` is a value)."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: Any = _NotGiven()

CLASS_NAMES: tuple[str, str] = ("cat", "dog")
"""Label 0 is ``cat`` and label 1 is ``dog`` everywhere in the package."""


@dataclass(frozen=True)
class Config:
    """Everything that defines a run.

    Sizes are in pixels, learning rates are Adam step sizes, fractions are of the
    whole labelled set.
    """

    profile: str = "full"
    seed: int = 42

    # --- locations (None: environment variable, then default) -------------------
    data_dir: str | None = field(default=None, metadata=LOCATION)
    """PetImages root holding ``Cat/`` and ``Dog/``; ``None``: ``$CATSDOGS_DATA_DIR``,
    then the download cache (downloaded on first use when ``download`` is true)."""
    download: bool = field(default=False, metadata=LOCATION)
    """Download the Microsoft archive when no data directory is found."""
    weights: str | None = field(default=None, metadata=LOCATION)
    """``"imagenet"`` (Keras download), a Keras ``.h5`` weights file, or the int8
    ``.tflite`` MobileNetV2 (converted once, then cached); ``None``:
    ``$CATSDOGS_WEIGHTS``, then ``"imagenet"``."""
    cache_dir: str | None = field(default=None, metadata=LOCATION)
    """Where converted weights, downloads and the validated-file cache live."""

    # --- data -------------------------------------------------------------------
    max_images_per_class: int | None = None
    """Use at most this many images of each class (a seeded, stratified subset)."""
    val_fraction: float = 0.2
    test_fraction: float = 0.0
    image_size: int = 224
    batch_size: int = 32

    # --- model ------------------------------------------------------------------
    alpha: float = 1.0
    dropout: float = 0.2
    augment_flip: bool = True
    augment_rotation: float = 0.05
    """Fraction of a full turn: 0.05 is up to +/-18 degrees."""
    augment_zoom: float = 0.1
    augment_robust: bool = field(default=False, metadata=AFTER_PHASE1)
    """Add the augmentations that target the paper's limitations (random brightness,
    contrast, grayscale and erasing); used by the mitigation experiment of chapter 06."""

    # --- phase 1: feature extraction (base frozen) ---------------------------------
    phase1_cached_features: bool = True
    """Train the head on pooled base features computed once (valid because the
    base is frozen and runs in inference mode); ``False`` trains end to end
    through the frozen base with augmentation each epoch."""
    phase1_epochs: int = 20
    phase1_lr: float = 1e-3
    phase1_patience: int = 4

    # --- phase 2: fine-tuning the top of the base ----------------------------------
    fine_tune_from: str = field(default="block_13_expand", metadata=AFTER_PHASE1)
    """First base layer that is unfrozen in phase 2; all layers after it train too."""
    phase2_epochs: int = field(default=3, metadata=AFTER_PHASE1)
    phase2_lr: float = field(default=1e-5, metadata=AFTER_PHASE1)
    phase2_patience: int = field(default=2, metadata=AFTER_PHASE1)

    # --- limitations study (chapter 06) -------------------------------------------
    mitigation_epochs: int = field(default=1, metadata=AFTER_PHASE1)
    """Epochs of further fine-tuning with ``augment_robust`` augmentation."""
    robustness_per_class: int | None = field(default=200, metadata=AFTER_PHASE1)
    """Validation images per class in the corruption study (a fixed stratified subset)."""

    # --- evaluation -------------------------------------------------------------
    bootstrap_samples: int = field(default=1000, metadata=AFTER_PHASE1)

    notes: str = field(default="", metadata=LOCATION)

    def replace(self, **overrides: Any) -> Config:
        """Return a copy with ``overrides`` applied (unknown names raise)."""
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ValueError(
                f"unknown config option(s) {unknown}; valid options: "
                f"{', '.join(f.name for f in dataclasses.fields(self))}"
            )
        return dataclasses.replace(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Config:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def training_dict(self) -> dict[str, Any]:
        """The fields that change what a run computes (not where files live, nor notes)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if not f.metadata.get("location")}

    @classmethod
    def after_phase1_fields(cls) -> frozenset[str]:
        """Fields that change nothing up to the end of phase 1 (data, split, phase 1):
        runs differing only in these can share a phase 1."""
        return frozenset(f.name for f in dataclasses.fields(cls) if f.metadata.get("after_phase1"))


PROFILES: dict[str, dict[str, Any]] = {
    # A few hundred real images at a small size: minutes on 2 CPU cores.
    "smoke": dict(
        profile="smoke",
        max_images_per_class=150,
        image_size=128,
        batch_size=32,
        phase1_epochs=10,  # epochs on cached features cost well under a second each
        phase1_lr=1e-3,
        phase2_epochs=1,
        phase2_lr=1e-5,
        robustness_per_class=None,
        bootstrap_samples=200,
    ),
    # The paper's protocol on all 24,998 images.
    "full": dict(profile="full"),
}


#: Config fields that say where files live (or hold a note), not what a run computes.
LOCATION_FIELDS = frozenset(f.name for f in dataclasses.fields(Config) if f.metadata.get("location"))


def setting_differences(a: Config | dict[str, Any], b: Config | dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The settings that change what a run computes and differ between ``a`` and ``b``
    (configs or their ``config.json`` dicts), as ``{field: (a's value, b's value)}``;
    locations, notes and fields only one side records are left out."""
    a, b = (c.training_dict() if isinstance(c, Config) else c for c in (a, b))
    return {k: (v, b[k]) for k, v in a.items() if k not in LOCATION_FIELDS and k in b and b[k] != v}


def get_config(profile: str = "full", **overrides: Any) -> Config:
    """Config of a named profile with ``overrides`` applied.

    An override of :data:`NOT_GIVEN` is ignored; ``None`` is applied like any value
    (``--set max_images_per_class=null`` means "all images").

    Raises
    ------
    ValueError
        If ``profile`` is not one of :data:`PROFILES` or an override is unknown.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of: {', '.join(sorted(PROFILES))}")
    overrides = {k: v for k, v in overrides.items() if v is not NOT_GIVEN}
    return Config().replace(**PROFILES[profile]).replace(**overrides)


def cache_dir(config: Config) -> Path:
    """Cache directory: ``config.cache_dir``, ``$CATSDOGS_CACHE_DIR`` or ``~/.cache/catsdogs``."""
    value = config.cache_dir or os.environ.get(ENV_CACHE_DIR)
    path = Path(value).expanduser() if value else Path.home() / ".cache" / "catsdogs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def weights_spec(config: Config) -> str:
    """The configured weights source: field, then ``$CATSDOGS_WEIGHTS``, then ``imagenet``."""
    return config.weights or os.environ.get(ENV_WEIGHTS) or "imagenet"


def data_dir_setting(config: Config) -> str | None:
    """The configured data directory: field, then ``$CATSDOGS_DATA_DIR`` (may be ``None``)."""
    return config.data_dir or os.environ.get(ENV_DATA_DIR) or None


def project_root(start: Path | None = None) -> Path | None:
    """The nearest directory above ``start`` (default: cwd) holding ``pyproject.toml``
    of this project, or ``None`` (e.g. in Colab after a pip install)."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "pyproject.toml").is_file() and (candidate / "catsdogs").is_dir():
            return candidate
    return None


def project_dir() -> Path:
    """The project checkout (``notebooks/``, ``book/``, ``results/``, ``models/``), found
    from the working directory, else from this package's location.

    Raises
    ------
    FileNotFoundError
        Outside a clone of the repository (e.g. after a plain pip install).
    """
    root = project_root() or project_root(Path(__file__).resolve().parent)
    if root is None:
        raise FileNotFoundError(
            "cannot find the catsdogs project (pyproject.toml + notebooks/): run this from a clone of the repository"
        )
    return root


def runs_dir() -> Path:
    """Where run directories go: ``$CATSDOGS_RUNS_DIR``, else ``<project>/runs``, else ``./runs``."""
    value = os.environ.get(ENV_RUNS_DIR)
    if value:
        return Path(value).expanduser()
    root = project_root()
    return (root or Path.cwd()) / "runs"


def default_run_dir(profile: str) -> Path:
    """Run directory used when none is given: ``<runs_dir>/<profile>``."""
    return runs_dir() / profile


__all__ = [
    "REPOSITORY_URL",
    "PETIMAGES_URL",
    "CLASS_NAMES",
    "CHAPTERS",
    "UserError",
    "Config",
    "PROFILES",
    "get_config",
    "LOCATION_FIELDS",
    "setting_differences",
    "NOT_GIVEN",
    "LOCATION",
    "AFTER_PHASE1",
    "cache_dir",
    "weights_spec",
    "data_dir_setting",
    "project_root",
    "project_dir",
    "runs_dir",
    "default_run_dir",
]
