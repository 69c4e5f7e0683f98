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
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Environment variables read when the matching config field is ``None``.
ENV_DATA_DIR = "CATSDOGS_DATA_DIR"
ENV_WEIGHTS = "CATSDOGS_WEIGHTS"
ENV_CACHE_DIR = "CATSDOGS_CACHE_DIR"
ENV_RUNS_DIR = "CATSDOGS_RUNS_DIR"
#: The folder holding the external test sets of the generalization study (one folder each).
ENV_EXTERNAL_DIR = "CATSDOGS_EXTERNAL_DIR"

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


class InvalidSetting(UserError, ValueError):
    """A :class:`Config` field holds a value of the wrong type or outside its allowed range;
    the message names the field, the value given and what is allowed."""


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


def setting(default: Any, reason: str | None = None, *, after_phase1: bool = False, location: bool = False) -> Any:
    """A :class:`Config` field with its metadata: ``reason``, why the default was chosen
    (the method chapter's table of settings shows it, see :meth:`Config.reasons`), and
    the :data:`AFTER_PHASE1` / :data:`LOCATION` roles."""
    metadata: dict[str, Any] = {**(AFTER_PHASE1 if after_phase1 else {}), **(LOCATION if location else {})}
    if reason is not None:
        metadata["reason"] = reason
    return field(default=default, metadata=metadata)


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
    seed: int = setting(
        42,
        reason="one seed for the split, the subset and the folds, and (with train_seed 0) for weight "
        "initialisation and shuffling",
    )
    train_seed: int = setting(
        0,
        reason="0 for the published runs; another value re-trains the same recipe on the same split "
        "with other initialisation, shuffling, augmentation and dropout draws, to measure training variance",
    )
    """Seed of the training's randomness, apart from the data: the split, the subset and the
    cross-validation folds use :attr:`seed` alone, so trainings with another ``train_seed`` see
    exactly the same images (see :attr:`training_seed`)."""
    protocol: str = setting(
        "paper",
        reason="paper: early stopping (and the restored best epoch) watch the scored validation split, "
        "as the paper most likely did; inner: they watch an inner split carved from the training "
        "images, so the scored split is predicted once, by the final model, and never chooses anything",
    )
    """``"paper"`` or ``"inner"``: which split early stopping and the restored epoch are chosen on."""
    inner_val_fraction: float = setting(
        0.1,
        reason="with protocol inner: the share of the training images held out (stratified, seeded) to "
        "choose the epoch on; 10 % of a fold's 20,000 leaves 2,000, enough to rank epochs",
    )
    deterministic: bool = setting(
        False,
        reason="off: on a CPU two runs of this TensorFlow already agree bit for bit (checked); on a GPU, "
        "true makes two runs on the same GPU agree, at a cost in speed not measured here (no GPU)",
    )
    """Call ``tf.config.experimental.enable_op_determinism()`` before training: TensorFlow's
    GPU kernels are otherwise free to sum in a different order from run to run."""

    # --- locations (None: environment variable, then default) -------------------
    data_dir: str | None = setting(None, location=True)
    """PetImages root holding ``Cat/`` and ``Dog/``; ``None``: ``$CATSDOGS_DATA_DIR``,
    then the download cache (downloaded on first use when ``download`` is true)."""
    download: bool = setting(False, location=True)
    """Download the Microsoft archive when no data directory is found."""
    weights: str | None = setting(None, location=True)
    """``"imagenet"`` (Keras download), a Keras ``.h5`` weights file, or the int8
    ``.tflite`` MobileNetV2 (converted once, then cached); ``None``:
    ``$CATSDOGS_WEIGHTS``, then ``"imagenet"``."""
    cache_dir: str | None = setting(None, location=True)
    """Where converted weights, downloads and the validated-file cache live."""

    # --- data -------------------------------------------------------------------
    max_images_per_class: int | None = setting(
        None, reason="all images (the smoke profile takes a seeded subset to run in minutes)"
    )
    """Use at most this many images of each class (a seeded, stratified subset)."""
    val_fraction: float = setting(
        0.2,
        reason="the paper gives no split; a stratified 80/20 split is the common Keras-tutorial choice "
        "and leaves thousands of validation images, so the accuracy CI is narrow",
    )
    test_fraction: float = setting(
        0.0, reason="the paper reports validation accuracy only; we follow it and say so among the deviations"
    )
    image_size: int = setting(
        224,
        reason="the input size of Keras MobileNetV2's ImageNet weights, its default (the results page's "
        "ablation tries a larger input)",
    )
    batch_size: int = setting(32, reason="the Keras default; fits a CPU or a small GPU")

    # --- model ------------------------------------------------------------------
    alpha: float = 1.0
    dropout: float = setting(0.2, reason="the head of the Keras transfer-learning guide: dropout 0.2 before one logit")
    augment_flip: bool = True
    augment_rotation: float = setting(
        0.05,
        reason="handheld photos are rarely level; larger angles mostly add reflected borders that real photos lack",
    )
    """Fraction of a full turn: 0.05 is up to +/-18 degrees."""
    augment_zoom: float = setting(0.1, reason="pets fill very different fractions of the frame")
    augment_robust: bool = setting(False, after_phase1=True)
    """Add the augmentations that target the paper's limitations (random brightness,
    contrast, grayscale and erasing); used by the mitigation experiment of chapter 06."""

    # --- phase 1: feature extraction (base frozen) ---------------------------------
    phase1_cached_features: bool = True
    """Train the head on pooled base features computed once (valid because the
    base is frozen and runs in inference mode); ``False`` trains end to end
    through the frozen base with augmentation each epoch."""
    phase1_epochs: int = setting(
        20, reason="an upper bound; early stopping on validation loss ends phase 1 when the head has converged"
    )
    phase1_lr: float = setting(1e-3, reason="Adam's default step size; only the new head (one dense logit) trains")
    phase1_patience: int = setting(
        4, reason="epochs without validation-loss improvement before phase 1 stops (best weights restored)"
    )

    # --- phase 2: fine-tuning the top of the base ----------------------------------
    fine_tune_from: str = setting(
        "block_13_expand",
        reason="unfreeze the last MobileNetV2 blocks (13-16 and the final 1×1 conv): the most "
        "task-specific features, while the generic early filters stay ImageNet's",
        after_phase1=True,
    )
    """First base layer that is unfrozen in phase 2; all layers after it train too."""
    phase2_epochs: int = setting(
        3,
        reason="a budget choice: each epoch runs the full network with augmentation, the expensive "
        "part of training on a CPU, and most of fine-tuning's gain comes in the first epochs "
        "(the results page's ablation trains longer)",
        after_phase1=True,
    )
    phase2_lr: float = setting(
        1e-5,
        reason="100× below phase 1, as in the Keras/TensorFlow fine-tuning guides: large steps would "
        "destroy the pretrained features (the results page's ablation tries larger steps)",
        after_phase1=True,
    )
    phase2_patience: int = setting(
        2, reason="stop fine-tuning early if validation loss rises (overfitting)", after_phase1=True
    )
    phase2_schedule: str = setting(
        "constant",
        reason="constant: phase 2 trains at phase2_lr throughout, as the Keras fine-tuning guide does",
        after_phase1=True,
    )
    """``"constant"``, or ``"cosine"``: a linear warm-up from a tenth of ``phase2_lr`` to it over
    the first epoch, then a cosine decay to zero by the last of ``phase2_epochs``."""
    label_smoothing: float = setting(
        0.0,
        reason="none, as in the paper's Keras recipe: phase 2 fits the 0/1 labels as given",
        after_phase1=True,
    )
    """Keras ``BinaryCrossentropy(label_smoothing=...)`` in phase 2: targets move this share of
    the way towards 0.5, so a few wrong labels pull the model less."""
    tta_flip: bool = setting(
        False,
        reason="off: the validation split is predicted once, as the paper's model would be used",
        after_phase1=True,
    )
    """Predict the validation split as the mean logit of each image and its mirror image
    (test-time augmentation); the epoch is still chosen without it."""

    # --- limitations study (chapter 06) -------------------------------------------
    mitigation_epochs: int = setting(
        1,
        reason="one more epoch of fine-tuning, with the robustness augmentation and, as its "
        "control, without it: enough to see what it recovers and what it costs",
        after_phase1=True,
    )
    """Epochs of further fine-tuning of each mitigation arm (with ``augment_robust`` and without)."""
    robustness_per_class: int | None = setting(
        200,
        reason="chapter 6 corrupts a fixed, seeded, stratified subset of the validation split "
        "(this many images per class) so that 9 corruptions × 5 levels on three models (the "
        "final one and both mitigation arms) stay affordable on a CPU",
        after_phase1=True,
    )
    """Validation images per class in the corruption study (a fixed stratified subset)."""

    # --- evaluation -------------------------------------------------------------
    bootstrap_samples: int = setting(
        1000, reason="resamples of the validation set for the 95 % confidence intervals", after_phase1=True
    )

    notes: str = setting("", location=True)

    def __post_init__(self) -> None:
        validate(self)

    @property
    def training_seed(self) -> int:
        """The seed of everything random in training (weights of the head, shuffling,
        augmentation, dropout): :attr:`seed` for ``train_seed`` 0, so the published runs are
        unchanged, else ``seed + 1000 * train_seed`` (phases add small offsets of their own)."""
        return self.seed + 1000 * self.train_seed

    @property
    def monitored_split(self) -> str:
        """The split early stopping watches and the restored epoch is chosen on: ``"val"``
        (the scored split) under the paper's protocol, ``"inner"`` under the inner one."""
        return "inner" if self.protocol == "inner" else "val"

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

    @classmethod
    def reasons(cls) -> dict[str, str]:
        """Why each chosen setting has its default, ``{field: reason}`` in field order (from the
        fields' ``reason`` metadata; fields without one are left out)."""
        return {f.name: f.metadata["reason"] for f in dataclasses.fields(cls) if "reason" in f.metadata}


# ----------------------------------------------------------------------------- validation

#: Every MobileNetV2 width multiplier with ImageNet weights in Keras.
MOBILENET_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
#: The smallest input side Keras's MobileNetV2 accepts.
MIN_IMAGE_SIZE = 32
#: Training seeds: ``seed + 1000 * train_seed`` (:attr:`Config.training_seed`) must stay a seed.
MAX_TRAIN_SEED = 999
#: Seeds must fit NumPy's legacy seeding (``seed + fold`` and :attr:`Config.training_seed`
#: included): below 2**31.
MAX_SEED = 2**31 - 1 - 1000 * (MAX_TRAIN_SEED + 1)
#: Which split chooses the epoch (:attr:`Config.protocol`).
PROTOCOLS = ("paper", "inner")
#: Phase 2's learning-rate schedules (:attr:`Config.phase2_schedule`).
SCHEDULES = ("constant", "cosine")


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _flag(value: Any) -> bool:
    return isinstance(value, bool)


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


def _rule(allowed: str, check: Callable[[Any], bool]) -> tuple[str, Callable[[Any], bool]]:
    return allowed, check


#: What each :class:`Config` field accepts: ``{field: (what is allowed, in words; check)}``.
#: :func:`validate` applies them; every field has one (``tests/test_config.py`` checks).
RULES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "profile": _rule("a non-empty name (text)", lambda v: _text(v) and v != ""),
    "seed": _rule(f"an integer from 0 to {MAX_SEED}", lambda v: _integer(v) and 0 <= v <= MAX_SEED),
    "train_seed": _rule(f"an integer from 0 to {MAX_TRAIN_SEED}", lambda v: _integer(v) and 0 <= v <= MAX_TRAIN_SEED),
    "protocol": _rule(f"one of {', '.join(PROTOCOLS)}", lambda v: v in PROTOCOLS),
    "inner_val_fraction": _rule("a number strictly between 0 and 1", lambda v: _number(v) and 0 < v < 1),
    "deterministic": _rule("true or false", _flag),
    "data_dir": _rule("a folder path (text) or null", _optional(_text)),
    "download": _rule("true or false", _flag),
    "weights": _rule("text (imagenet, none or a weights file) or null", _optional(_text)),
    "cache_dir": _rule("a folder path (text) or null", _optional(_text)),
    "max_images_per_class": _rule(
        "an integer >= 1, or null for all images", _optional(lambda v: _integer(v) and v >= 1)
    ),
    "val_fraction": _rule("a number strictly between 0 and 1", lambda v: _number(v) and 0 < v < 1),
    "test_fraction": _rule(
        "a number from 0 (no test split) up to, not including, 1", lambda v: _number(v) and 0 <= v < 1
    ),
    "image_size": _rule(
        f"an integer >= {MIN_IMAGE_SIZE} (pixels; the smallest input MobileNetV2 accepts)",
        lambda v: _integer(v) and v >= MIN_IMAGE_SIZE,
    ),
    "batch_size": _rule("an integer >= 1", lambda v: _integer(v) and v >= 1),
    "alpha": _rule(
        f"one of the MobileNetV2 widths {', '.join(map(str, MOBILENET_ALPHAS))}",
        lambda v: _number(v) and v in MOBILENET_ALPHAS,
    ),
    "dropout": _rule("a number from 0 up to, not including, 1", lambda v: _number(v) and 0 <= v < 1),
    "augment_flip": _rule("true or false", _flag),
    "augment_rotation": _rule("a number >= 0 (a fraction of a full turn)", lambda v: _number(v) and v >= 0),
    "augment_zoom": _rule(
        "a number from 0 up to, not including, 1 (Keras's RandomZoom range)", lambda v: _number(v) and 0 <= v < 1
    ),
    "augment_robust": _rule("true or false", _flag),
    "phase1_cached_features": _rule("true or false", _flag),
    "phase1_epochs": _rule("an integer >= 1", lambda v: _integer(v) and v >= 1),
    "phase1_lr": _rule("a number > 0", lambda v: _number(v) and v > 0),
    "phase1_patience": _rule("an integer >= 0 (epochs)", lambda v: _integer(v) and v >= 0),
    "fine_tune_from": _rule("a layer name of MobileNetV2 (non-empty text)", lambda v: _text(v) and v != ""),
    "phase2_epochs": _rule("an integer >= 0 (0: no fine-tuning)", lambda v: _integer(v) and v >= 0),
    "phase2_lr": _rule("a number > 0", lambda v: _number(v) and v > 0),
    "phase2_patience": _rule("an integer >= 0 (epochs)", lambda v: _integer(v) and v >= 0),
    "phase2_schedule": _rule(f"one of {', '.join(SCHEDULES)}", lambda v: v in SCHEDULES),
    "label_smoothing": _rule("a number from 0 up to, not including, 1", lambda v: _number(v) and 0 <= v < 1),
    "tta_flip": _rule("true or false", _flag),
    "mitigation_epochs": _rule("an integer >= 0", lambda v: _integer(v) and v >= 0),
    "robustness_per_class": _rule(
        "an integer >= 1, or null for the whole validation split", _optional(lambda v: _integer(v) and v >= 1)
    ),
    "bootstrap_samples": _rule("an integer >= 1", lambda v: _integer(v) and v >= 1),
    "notes": _rule("text", _text),
}


def _shown(value: Any) -> str:
    """A value as the user wrote it: JSON (``null``, ``true``, numbers), text quoted."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def validate(config: Config) -> None:
    """Check every field of ``config`` against :data:`RULES` (and that the validation and
    test fractions leave a training split).

    Raises
    ------
    InvalidSetting
        Naming each bad field, the value given and what it accepts, in one line.
    """
    problems = [
        f"{name} must be {allowed}, got {_shown(getattr(config, name))}"
        for name, (allowed, check) in RULES.items()
        if not check(getattr(config, name))
    ]
    if not {"val_fraction", "test_fraction"} & {p.split(" ", 1)[0] for p in problems}:
        if not config.val_fraction + config.test_fraction < 1:
            problems.append(
                f"val_fraction + test_fraction must be below 1 to leave images to train on, got "
                f"{_shown(config.val_fraction)} + {_shown(config.test_fraction)}"
            )
    if problems:
        raise InvalidSetting("invalid setting: " + "; ".join(problems))


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


def load_recipe(path: Path | str) -> dict[str, Any]:
    """The settings of a declared recipe file: JSON with ``name``, ``settings`` (config fields
    and values) and ``why`` (the reason for each setting), committed before the recipe's study
    runs so that git shows it was fixed first.

    Raises
    ------
    UserError
        Naming the file, if it is missing, not JSON, lacks ``settings`` or a ``why`` for each
        setting, or names an unknown config field.
    """
    path = Path(path)
    try:
        recipe = json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"no recipe file {path}; pass a file such as recipes/<name>.json") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"recipe {path} is not valid JSON ({exc}); fix the file") from None
    settings = recipe.get("settings") if isinstance(recipe, dict) else None
    if not isinstance(settings, dict) or not settings:
        raise UserError(f'recipe {path} needs a "settings" object of config fields and values')
    known = {f.name for f in dataclasses.fields(Config)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise UserError(f"recipe {path} sets unknown config field(s) {unknown}; valid: {', '.join(sorted(known))}")
    unexplained = sorted(set(settings) - set(recipe.get("why") or {}))
    if unexplained:
        raise UserError(
            f'recipe {path} gives no reason ("why") for {", ".join(unexplained)}; a declared recipe says why'
        )
    return settings


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
    "ENV_EXTERNAL_DIR",
    "PETIMAGES_URL",
    "CLASS_NAMES",
    "CHAPTERS",
    "UserError",
    "InvalidSetting",
    "Config",
    "setting",
    "RULES",
    "MOBILENET_ALPHAS",
    "validate",
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
