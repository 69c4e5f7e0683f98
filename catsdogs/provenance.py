"""Provenance of a run: package versions, the git commit of the checkout and the hardware,
recorded in every run's ``provenance.json`` (see :meth:`catsdogs.runs.Run.record_provenance`)."""

from __future__ import annotations

import ast
import contextlib
import datetime as _dt
import inspect
import os
import platform
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from catsdogs.config import project_root
from catsdogs.records import Hardware, Provenance


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def git_info() -> dict[str, Any]:
    """Commit and dirty flag of the project checkout (``None`` outside a git checkout)."""
    head, status = _git("rev-parse", "HEAD"), _git("status", "--porcelain", "--untracked-files=no")
    if head is None or status is None:
        return {"commit": None, "dirty": None}
    return {"commit": head.stdout.strip() or None, "dirty": bool(status.stdout.strip())}


def _git(*args: str) -> subprocess.CompletedProcess | None:
    """``git args`` in the project checkout, or ``None`` outside one (or without git)."""
    root = project_root()
    if root is None:
        return None
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None


@dataclass(frozen=True)
class FirstCommit:
    """The commit that first added a file, and when (ISO 8601)."""

    commit: str
    committed_at: str


def file_first_commit(path: Path | str) -> FirstCommit | None:
    """The commit that first added ``path`` (relative to the checkout) to its history, or
    ``None`` when it is not committed or this is no git checkout."""
    done = _git("log", "--diff-filter=A", "--format=%H %cI", "--", str(path))
    lines = done.stdout.split() if done is not None and done.returncode == 0 else []
    return FirstCommit(commit=lines[-2], committed_at=lines[-1]) if len(lines) >= 2 else None


def source_at(obj: Any, commit: str) -> str | None:
    """The source of function or class ``obj`` as it stood at ``commit`` of this checkout
    (``None`` when that cannot be told: no checkout, an unknown commit, a file or name not
    there then)."""
    root = project_root()
    try:
        relative = Path(inspect.getsourcefile(obj) or "").resolve().relative_to(root.resolve())
    except (TypeError, ValueError, AttributeError):
        return None
    done = _git("show", f"{commit}:{relative.as_posix()}")
    if done is None or done.returncode != 0:
        return None
    nodes = ast.parse(done.stdout).body
    for name in obj.__qualname__.split("."):
        found = [n for n in nodes if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == name]
        if not found:
            return None
        node, nodes = found[0], found[0].body
    return textwrap.dedent(ast.get_source_segment(done.stdout, node, padded=True) or "")


def is_ancestor(older: str, newer: str) -> bool | None:
    """Whether commit ``older`` is in the history of ``newer`` (``None``: unknown here)."""
    done = _git("merge-base", "--is-ancestor", older, newer)
    return None if done is None or done.returncode not in (0, 1) else done.returncode == 0


def hardware_info() -> dict[str, Any]:
    """CPU model, logical cores, memory and visible GPUs."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gb = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024**2, 1)
    gpus: list[str] = []
    if "tensorflow" in sys.modules:
        import tensorflow as tf

        # the model name (e.g. "Tesla T4") where TensorFlow reports it, else the device name
        gpus = [
            tf.config.experimental.get_device_details(d).get("device_name", d.name)
            for d in tf.config.list_physical_devices("GPU")
        ]
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "gpus": gpus,
        "platform": platform.platform(),
    }


def environment_info() -> dict[str, Any]:
    """Versions, git commit and hardware, for ``provenance.json``."""
    packages = [
        "catsdogs",
        "tensorflow",
        "tensorflow-cpu",
        "keras",
        "numpy",
        "scikit-learn",
        "pillow",
        "matplotlib",
        "papermill",
        "jupyter-book",
    ]
    return {
        "recorded_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "packages": {p: v for p in packages if (v := _version(p))},
        "git": git_info(),
        "hardware": hardware_info(),
    }


def recorded_hardware(run_dir: Path | str) -> Hardware | None:
    """The hardware a run directory (or a published record) recorded in its ``provenance.json``."""
    prov = Provenance.in_dir(run_dir)
    return prov.hardware if prov else None
