"""Re-running the whole book in one runtime: the steps of ``notebooks/reproduce.ipynb``.

That notebook is for a Colab user (or anyone with a Jupyter kernel) who wants what
``make reproduce`` gives a batch user: the six chapters at one profile, the book built
from them and the ``verify`` table against the published record. It holds no logic;
what it calls beyond :func:`catsdogs.report.notebooks.run_notebooks`,
:func:`catsdogs.report.book.build_book` and :func:`catsdogs.report.verify.verify_run`
is here: what the runtime is, how long a re-run took when it was recorded, the dataset
(downloaded once into the cache), and the built book as one archive to download.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from pathlib import Path
from typing import Any, NamedTuple

from catsdogs.config import CHAPTERS, get_config, project_dir
from catsdogs.files import read_json_or_none
from catsdogs.markdown import Text, duration, hardware_text, table_builder
from catsdogs.provenance import hardware_info, recorded_hardware
from catsdogs.records import Hardware
from catsdogs.report.budget import PHASE_STEPS
from catsdogs.runs import Run

#: Where a notebook runs when ``google.colab`` can be imported.
COLAB_MODULE = "google.colab"


def in_colab() -> bool:
    """Whether this kernel is a Colab runtime."""
    return COLAB_MODULE in sys.modules or _importable(COLAB_MODULE)


def _importable(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package missing
        return False


@table_builder
def runtime_rows() -> list[dict[str, str]]:
    """What this runtime is: where it runs, Python, TensorFlow, the accelerator, the CPU."""
    import tensorflow as tf  # here, not at import: the notebook shows it as a step

    hw = Hardware(**hardware_info())
    gpus = ", ".join(hw.gpus) if hw.gpus else "none: TensorFlow runs on the CPU"
    return [
        {"": "runtime", "value": "Google Colab" if in_colab() else platform.node() or "this machine"},
        {"": "Python", "value": platform.python_version()},
        {"": "TensorFlow", "value": tf.__version__},
        {"": "GPU", "value": gpus},
        {"": "CPU", "value": f"{hw.cpu} ({hw.logical_cores} logical cores)"},
    ]


class RecordedSeconds(NamedTuple):
    """The seconds a published record's run spent in both training phases, and in executing
    the six chapters (``notebook_*``, which include any training a chapter did itself)."""

    training: float
    chapters: float


def recorded_seconds(record: Path | str) -> RecordedSeconds:
    """The :class:`RecordedSeconds` of the published record ``record`` (its ``timings.json``)."""
    timings = read_json_or_none(Path(record) / "timings.json") or {}
    training = sum(float(s) for k, s in timings.items() if k.startswith(PHASE_STEPS))
    chapters = sum(float(timings.get(f"notebook_{c}", 0.0)) for c in CHAPTERS)
    return RecordedSeconds(training=training, chapters=chapters)


def _profile_scope(profile: str) -> str:
    """A profile in a few words, from its settings: images, size, phase-2 epochs."""
    cfg = get_config(profile)
    images = f"{cfg.max_images_per_class:,} images per class" if cfg.max_images_per_class else "every image"
    return f"{images} at {cfg.image_size} px, {cfg.phase2_epochs} phase-2 epoch{'s' if cfg.phase2_epochs != 1 else ''}"


@table_builder
def expected_time_rows(root: Path | str | None = None) -> list[dict[str, str]]:
    """How long each profile took when its published record was made, and on what."""
    from catsdogs.report.verify import PUBLISHED_RECORD_OF_PROFILE

    root = Path(root or project_dir())
    rows = []
    for profile, where in PUBLISHED_RECORD_OF_PROFILE.items():
        record = root / where
        if not (record / "timings.json").is_file():
            continue
        seconds = recorded_seconds(record)
        rows.append(
            {
                "profile": f"`{profile}`",
                "what it runs": _profile_scope(profile),
                "training, both phases": duration(seconds.training),
                "the six chapters": duration(seconds.chapters),
                "recorded on": hardware_text(recorded_hardware(record)),
                "on a Colab GPU": "not measured",
            }
        )
    return rows


def dataset(run: Run) -> Text:
    """The run's PetImages folder: the configured one, else the cache's, else downloaded
    once into the cache (``run.config.download``); one sentence saying which."""
    from catsdogs.config import cache_dir
    from catsdogs.data.scan import CLASS_FOLDERS, find_data_dir

    cached = Path(cache_dir(run.config)) / "datasets" / "PetImages"
    had_cache = (cached / CLASS_FOLDERS[0]).is_dir()
    root = find_data_dir(run.config)
    counts = {c: sum(1 for p in (root / c).iterdir() if p.is_file()) for c in CLASS_FOLDERS}
    how = (
        "downloaded into the cache"
        if root.resolve() == cached.resolve() and not had_cache
        else "the cache's earlier download"
        if root.resolve() == cached.resolve()
        else "configured"
    )
    files = ", ".join(f"{n:,} {c}" for c, n in counts.items())
    return Text(f"Dataset: `{root}` ({how}; {files} files, checked image by image by the first chapter).\n")


def archive_book(html_dir: Path | str, dest: Path | str | None = None) -> Path:
    """The built book (an HTML folder) as one ``catsdogs-book.zip``: beside the book's
    sources for a Jupyter Book build (``<book>/_build/html`` -> ``<book>/catsdogs-book.zip``),
    else beside the folder, unless ``dest`` (a path without suffix) is given; returns the archive."""
    html_dir = Path(html_dir).resolve()
    if not (html_dir / "index.html").is_file():
        raise FileNotFoundError(f"{html_dir} holds no built book (no index.html): build it first")
    beside = html_dir.parent.parent if html_dir.parent.name == "_build" else html_dir.parent
    base = Path(dest) if dest else beside / "catsdogs-book"
    return Path(shutil.make_archive(str(base), "zip", root_dir=html_dir))


def offer_download(path: Path | str) -> Any:
    """On Colab, start the browser's download of ``path`` (returns ``None``); elsewhere, a
    link to it relative to the notebook's folder, which Jupyter serves."""
    if in_colab():
        from google.colab import files  # type: ignore[import-not-found]

        files.download(str(path))
        return None
    from IPython.display import FileLink

    return FileLink(os.path.relpath(path))


__all__ = [
    "COLAB_MODULE",
    "in_colab",
    "runtime_rows",
    "recorded_seconds",
    "expected_time_rows",
    "dataset",
    "archive_book",
    "offer_download",
]
