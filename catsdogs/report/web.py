"""The book's *Try the model* page: the files it needs in the built book.

The page (``book/try.md`` with ``book/web/try-model.js`` and ``.css``) runs the published
int8 TFLite model in the reader's browser with LiteRT.js (``@litertjs/core`` from npm,
WebAssembly + XNNPACK); nothing is uploaded. :func:`install_try_page` puts everything it
loads under ``_static/try-model/`` of a built book:

- the runtime: ``@litertjs/core`` (its ES module and the two WebAssembly builds it picks
  from: relaxed-SIMD and the compatible one) and ``@litertjs/wasm-utils``, installed from
  the pinned ``package.json`` / ``package-lock.json`` with ``npm ci`` (Node is needed only
  for this, i.e. only to build the book);
- the published int8 model and ``try-model.json``: its input quantization, its
  out-of-distribution threshold (the ``unsure`` rule of ``predict``), the sample images;
- a few validation images of the published run (when the data directory is configured),
  so a reader can try the model without a photo of their own.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from catsdogs.config import CLASS_NAMES, ENV_DATA_DIR, UserError, project_dir
from catsdogs.evaluation.predict import MODEL_STEM, ood_threshold, published_file, published_model_record
from catsdogs.files import atomic_write, file_sha256, read_json_or_none
from catsdogs.model.tflite import tflite_interpreter
from catsdogs.runs import read_manifest

log = logging.getLogger(__name__)

#: Where the page's files go inside the built HTML.
STATIC_SUBDIR = Path("_static") / "try-model"
#: The page's own script and style (in the book sources).
PAGE_ASSETS = ("try-model.js", "try-model.css")
#: Files of each npm package the page loads, relative to ``node_modules/<package>/``.
#: ``@litertjs/core`` picks ``litert_wasm_internal`` where the browser has relaxed SIMD,
#: else ``litert_wasm_compat_internal``; the threaded and JSPI builds are not used.
RUNTIME_FILES = {
    "@litertjs/core": (
        "package.json",
        "dist/index.js",
        "wasm/litert_wasm_internal.js",
        "wasm/litert_wasm_internal.wasm",
        "wasm/litert_wasm_compat_internal.js",
        "wasm/litert_wasm_compat_internal.wasm",
        "wasm/litert_wasm_threaded_internal.js",
        "wasm/litert_wasm_threaded_internal.wasm",
    ),
    "@litertjs/wasm-utils": ("package.json", "dist/index.js"),
}
#: Makes the page cross-origin isolated where the host sends no such headers (GitHub Pages), so
#: LiteRT.js may use threads. A service worker may only be registered for what lies at or below
#: its own folder, and the threaded runtime's workers live in ``_static``: it is copied to the
#: book's root, and ``book/try.md`` registers it for the Try page and ``_static/try-model/`` only.
COI_SERVICE_WORKER = ("coi-serviceworker", "coi-serviceworker.min.js")
MODEL_FILE = f"{MODEL_STEM}.int8.tflite"
SAMPLE_SUFFIXES = (".jpg", ".jpeg", ".png")


# ----------------------------------------------------------------------------- npm


def _installed_matches_lock(root: Path) -> bool:
    """Whether ``node_modules`` holds every package of ``package-lock.json`` at its version."""
    lock = json.loads((root / "package-lock.json").read_text())
    for key, entry in lock.get("packages", {}).items():
        if not key:
            continue
        installed = read_json_or_none(root / key / "package.json")
        if not installed or installed.get("version") != entry.get("version"):
            return False
    return True


def npm_install(root: Path | None = None) -> Path:
    """``npm ci`` in ``root`` (default: the checkout) unless ``node_modules`` already
    matches ``package-lock.json``; returns the ``node_modules`` folder.

    Raises
    ------
    RuntimeError
        If Node/npm is missing (the message says it is needed only to build the book) or
        ``npm ci`` fails (with the tail of its output).
    """
    root = Path(root) if root else project_dir()
    for name in ("package.json", "package-lock.json"):
        if not (root / name).is_file():
            raise FileNotFoundError(f"{root / name} not found: the book is built from a checkout of the repository")
    if _installed_matches_lock(root):
        return root / "node_modules"
    npm = shutil.which("npm")
    if npm is None:
        raise UserError(
            "npm not found: Node.js (18 or newer, with npm) is needed only to build the book, whose "
            "'Try the model' page runs LiteRT.js from npm; install it (e.g. `apt-get install nodejs npm` "
            "or https://nodejs.org) and build the book again"
        )
    log.info("installing the book's JavaScript dependencies (npm ci)")
    proc = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or not _installed_matches_lock(root):
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-20:])
        raise UserError(f"`npm ci` in {root} failed (exit {proc.returncode}); its output ends with:\n{tail}")
    return root / "node_modules"


# ----------------------------------------------------------------------------- model record


def model_record(model_path: Path | str) -> dict[str, Any]:
    """What the page needs to know about an int8 export: file, size, sha256, input size
    and quantization, output quantization and the out-of-distribution threshold.

    Raises
    ------
    ValueError
        If the model's input is not one uint8 image ``[1, S, S, 3]`` (LiteRT.js needs a
        static batch of 1), or its publication record has no ``ood_threshold``.
    """

    model_path = Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(
            f"model file {model_path} not found: publish the int8 export into models/ "
            "(`python -m catsdogs export --run-dir RUN --publish models`)"
        )
    interp = tflite_interpreter(model_path, num_threads=1)
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    shape = [int(d) for d in inp["shape_signature"]]
    if shape[0] != 1 or len(shape) != 4 or shape[3] != 3 or inp["dtype"].__name__ != "uint8":
        raise ValueError(
            f"{model_path} takes {inp['dtype'].__name__} input of shape {shape}: the book's 'Try the model' "
            "page needs one uint8 image [1, S, S, 3] (LiteRT.js rejects a dynamic batch); re-export the "
            "model with a static batch of 1 (`python -m catsdogs export --run-dir RUN --publish models`)"
        )
    threshold = ood_threshold(model_path)
    if threshold is None:
        raise ValueError(
            f"{model_path.with_name(MODEL_STEM + '.json')} records no 'ood_threshold' for "
            f"{model_path.name}: the 'Try the model' page flags unsure predictions with it, as `predict` "
            "does; re-publish the model so its record holds the threshold"
        )
    entry = published_file(model_path)

    def quant(details: dict) -> dict[str, Any]:
        scale, zero = details["quantization"]
        return {"dtype": details["dtype"].__name__, "scale": float(scale), "zero_point": int(zero)}

    return {
        "file": model_path.name,
        "bytes": model_path.stat().st_size,
        "sha256": file_sha256(model_path),
        "image_size": shape[1],
        "input": quant(inp),
        "output": quant(out),
        "ood_threshold": float(threshold),
        "val_accuracy": entry.val_accuracy,
    }


# ----------------------------------------------------------------------------- samples


def _try_page_samples(manifest: Path, data_dir: Path | str, per_class: int = 3) -> list[tuple[Path, str]]:
    """The first ``per_class`` validation images of each class in a run's manifest (in
    manifest order) that exist under ``data_dir``: ``[(path, class name), ...]``."""
    picked: list[tuple[Path, str]] = []
    counts = dict.fromkeys(CLASS_NAMES, 0)
    for row in read_manifest(manifest):
        name = row.class_name
        path = Path(data_dir) / row.file
        if (
            row.split == "val"
            and row.source == "original"
            and counts[name] < per_class
            and path.suffix.lower() in SAMPLE_SUFFIXES
            and path.is_file()
        ):
            picked.append((path, name))
            counts[name] += 1
    return picked


def published_results(model_path: Path | str) -> Path | None:
    """``results/<run>/`` of the run the published model came from (``None`` if absent)."""
    model_path = Path(model_path)
    record = published_model_record(model_path)
    run = record.run if record else None
    path = project_dir() / "results" / str(run)
    return path if run and path.is_dir() else None


def download_bytes(static_dir: Path) -> dict[str, int]:
    """What a reader's browser downloads for the page (beyond the book's own files), in
    bytes, for each of the runtime's two WebAssembly builds (it loads one)."""
    common = [
        p
        for p in static_dir.rglob("*")
        if p.is_file() and "wasm" not in p.parent.name and p.parent.name != "samples" and p.name != "package.json"
    ]
    base = sum(p.stat().st_size for p in common)
    wasm = static_dir / "litertjs" / "core" / "wasm"
    return {
        build: base + sum(p.stat().st_size for p in wasm.glob(f"litert_wasm_{stem}.*"))
        for build, stem in (
            ("relaxed_simd", "internal"),
            ("compat", "compat_internal"),
            ("threaded", "threaded_internal"),
        )
    }


# ----------------------------------------------------------------------------- install


def install_try_page(
    html_dir: Path | str,
    model_path: Path | str | None = None,
    data_dir: Path | str | None = None,
    samples_per_class: int = 3,
) -> Path:
    """Copy what the *Try the model* page loads into ``<html_dir>/_static/try-model/``, and
    the cross-origin isolation service worker (:data:`COI_SERVICE_WORKER`) to ``html_dir``.

    Parameters
    ----------
    html_dir
        The built book (``_build/html``).
    model_path
        The int8 export (default: the published ``models/catsdogs_mobilenetv2.int8.tflite``).
    data_dir
        The PetImages folder for the sample images (default: ``$CATSDOGS_DATA_DIR``); without
        one the page offers upload only.

    Returns the folder written. Runs ``npm ci`` first when ``node_modules`` is missing or
    does not match ``package-lock.json``.
    """
    root = project_dir()
    model_path = Path(model_path) if model_path else root / "models" / MODEL_FILE
    record = model_record(model_path)
    node_modules = npm_install(root)
    out = Path(html_dir) / STATIC_SUBDIR
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    runtime = {}
    for package, files in RUNTIME_FILES.items():
        for rel in files:
            dst = out / "litertjs" / package.split("/")[1] / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(node_modules / package / rel, dst)
        runtime[package] = json.loads((node_modules / package / "package.json").read_text())["version"]
    for name in PAGE_ASSETS:
        shutil.copyfile(root / "book" / "web" / name, out / name)
    package, script = COI_SERVICE_WORKER
    shutil.copyfile(node_modules / package / script, Path(html_dir) / script)
    shutil.copyfile(model_path, out / record["file"])

    samples = []
    data_dir = data_dir or os.environ.get(ENV_DATA_DIR)
    results = published_results(model_path)
    manifest = results / "data" / "manifest.csv" if results else None
    if data_dir and manifest and manifest.is_file() and Path(data_dir).is_dir():
        (out / "samples").mkdir()
        for path, name in _try_page_samples(manifest, data_dir, samples_per_class):
            rel = f"samples/{name}-{path.stem}{path.suffix.lower()}"
            shutil.copyfile(path, out / rel)
            samples.append({"file": rel, "label": name})
    else:
        log.info("no data directory configured (%s): the 'Try the model' page offers upload only", ENV_DATA_DIR)

    page = {
        "model": record,
        "classes": list(CLASS_NAMES),
        "runtime": runtime,
        "samples": samples,
        "download_bytes": download_bytes(out),
    }
    # The browser test's record for this very file (tests/test_browser.py), if one is published.
    checked = read_json_or_none(results / "web" / "browser_bench.json") if results else None
    if checked and checked.get("model_sha256") == record["sha256"]:
        page["checked"] = checked
    atomic_write(out / "try-model.json", json.dumps(page, indent=2) + "\n")
    return out


__all__ = [
    "RUNTIME_FILES",
    "STATIC_SUBDIR",
    "download_bytes",
    "install_try_page",
    "model_record",
    "npm_install",
    "published_results",
]
