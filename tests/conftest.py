"""Shared fixtures: synthetic PetImages folders, an isolated environment, tiny configs.

Everything here is small on purpose: 32-pixel images, random weights (``weights="none"``),
a dozen images per class, so the whole suite runs in about a minute on two CPU cores.

The real environment (``CATSDOGS_DATA_DIR``, ``CATSDOGS_WEIGHTS``) is captured when this
file is imported, *before* any test clears it, so tests marked ``real`` can still find the
real data through :func:`real_data_dir` while every other test runs isolated.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from catsdogs.config import ENV_CACHE_DIR, ENV_DATA_DIR, ENV_EXTERNAL_DIR, ENV_RUNS_DIR, ENV_WEIGHTS, Config, get_config

#: The user's real settings, read once at import (tests marked ``real`` use them).
REAL_ENV: dict[str, str | None] = {
    name: os.environ.get(name) for name in (ENV_DATA_DIR, ENV_WEIGHTS, ENV_CACHE_DIR, ENV_RUNS_DIR, ENV_EXTERNAL_DIR)
}

#: Mean RGB colour of each synthetic class: cats reddish, dogs bluish.
CLASS_COLOURS = {"Cat": (190, 70, 60), "Dog": (60, 80, 190)}


def synthetic_image(folder: str, rng: np.random.Generator, size: int = 40) -> Image.Image:
    """One learnable synthetic photo: the class colour plus Gaussian noise, RGB uint8."""
    base = np.array(CLASS_COLOURS[folder], dtype="float32")
    pixels = base + rng.normal(0.0, 25.0, size=(size, size, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype("uint8"), mode="RGB")


def write_petimages(root: Path, n_per_class: int = 12, size: int = 40, seed: int = 0, folders=("Cat", "Dog")) -> Path:
    """Write ``n_per_class`` RGB JPEGs per class into ``root/{Cat,Dog}``; return ``root``."""
    rng = np.random.default_rng(seed)
    for folder in folders:
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            synthetic_image(folder, rng, size).save(root / folder / f"{i}.jpg", format="JPEG", quality=90)
    return root


@pytest.fixture
def make_petimages(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``make_petimages(n_per_class=12, size=40, name="PetImages")`` -> the root
    folder ``<tmp>/<name>`` holding ``Cat/`` and ``Dog/`` synthetic JPEGs."""

    def factory(n_per_class: int = 12, size: int = 40, name: str = "PetImages", seed: int = 0) -> Path:
        return write_petimages(tmp_path / name, n_per_class=n_per_class, size=size, seed=seed)

    return factory


@pytest.fixture
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Point the cache and runs directories at fresh temporary folders and clear the
    data, weights and external-sets variables, so a test never touches a real cache or the user's runs.

    Returns ``{"cache": Path, "runs": Path}``.
    """
    base = tmp_path_factory.mktemp("env")
    paths = {"cache": base / "cache", "runs": base / "runs"}
    monkeypatch.setenv(ENV_CACHE_DIR, str(paths["cache"]))
    monkeypatch.setenv(ENV_RUNS_DIR, str(paths["runs"]))
    monkeypatch.delenv(ENV_DATA_DIR, raising=False)
    monkeypatch.delenv(ENV_WEIGHTS, raising=False)
    monkeypatch.delenv(ENV_EXTERNAL_DIR, raising=False)
    return paths


def tiny_config(data_dir: Path | str | None = None, **overrides) -> Config:
    """The smoke profile shrunk for tests: 32 px, batch 8, random weights, 2 + 2 epochs."""
    values = dict(
        image_size=32,
        batch_size=8,
        max_images_per_class=None,
        phase1_epochs=2,
        phase2_epochs=2,
        fine_tune_from="block_16_expand",
        weights="none",
        bootstrap_samples=50,
    )
    if data_dir is not None:
        values["data_dir"] = str(data_dir)
    values.update(overrides)
    return get_config("smoke", **values)


@pytest.fixture
def make_config() -> Callable[..., Config]:
    """Factory: ``make_config(data_dir, **overrides)`` -> :func:`tiny_config`."""
    return tiny_config


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    """The real PetImages folder from ``$CATSDOGS_DATA_DIR`` (captured before isolation);
    skips the test unless it names an existing directory."""
    value = REAL_ENV[ENV_DATA_DIR]
    if not value or not Path(value).expanduser().is_dir():
        pytest.skip(f"{ENV_DATA_DIR} does not point at an existing directory (real data needed)")
    return Path(value).expanduser()
