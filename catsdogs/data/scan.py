"""The PetImages dataset: locate it, validate every file, split it, feed it to Keras.

Layout expected on disk (the Microsoft download, or any copy of it)::

    <root>/Cat/*.jpg
    <root>/Dog/*.jpg

Validation rules (:func:`scan_dataset`), applied to every file in the two class folders:

* zero-byte file                      -> skipped ("zero-byte")
* not an image Pillow can identify    -> skipped ("not an image", e.g. ``Thumbs.db``)
* image whose pixel data cannot be decoded (truncated/corrupt) -> skipped ("undecodable")
* decodable, but not an RGB JPEG (grayscale, CMYK, RGBA, palette, a PNG/GIF/BMP
  with a ``.jpg`` name, ...)          -> converted once to an RGB JPEG in the cache
  and kept
* RGB JPEG                            -> kept as is

so every decodable image is kept and nothing crashes. Labels are 0 = cat, 1 = dog.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from catsdogs.config import CLASS_NAMES, Config, UserError, cache_dir, data_dir_setting
from catsdogs.data import download

log = logging.getLogger(__name__)

#: Folder name on disk for each label (label = index).
CLASS_FOLDERS: tuple[str, str] = ("Cat", "Dog")


class DataError(UserError):
    """A problem with the dataset on disk; the message says which path and what to do."""


@dataclass(frozen=True)
class ImageRecord:
    """One usable image. ``file`` is relative to the data root (``Cat/12.jpg``)."""

    file: str
    label: int
    source: str  # "original" or "converted"
    width: int
    height: int
    note: str = ""  # why it was converted, if it was


@dataclass
class ScanReport:
    """Outcome of validating a PetImages directory."""

    root: str
    converted_root: str
    images: list[ImageRecord] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    examined: int = 0

    @property
    def converted(self) -> list[ImageRecord]:
        return [r for r in self.images if r.source == "converted"]

    def counts(self) -> dict[str, int]:
        """Usable images per class name."""
        c = Counter(CLASS_NAMES[r.label] for r in self.images)
        return {name: c.get(name, 0) for name in CLASS_NAMES}

    def skipped_by_reason(self) -> dict[str, int]:
        return dict(Counter(reason for _, reason in self.skipped))

    def converted_by_reason(self) -> dict[str, int]:
        return dict(Counter(r.note for r in self.converted))

    def summary(self) -> dict:
        """JSON-friendly counts (no per-file lists)."""
        return {
            "root": self.root,
            "examined": self.examined,
            "usable": len(self.images),
            "per_class": self.counts(),
            "skipped": len(self.skipped),
            "skipped_by_reason": self.skipped_by_reason(),
            "skipped_files": [f for f, _ in self.skipped][:50],
            "converted": len(self.converted),
            "converted_by_reason": self.converted_by_reason(),
        }

    def path_of(self, record: ImageRecord) -> Path:
        base = Path(self.converted_root if record.source == "converted" else self.root)
        return base / record.file


# ----------------------------------------------------------------------------- locate


def find_data_dir(config: Config) -> Path:
    """The PetImages root to use for ``config``.

    Order: ``config.data_dir``, ``$CATSDOGS_DATA_DIR``, a previous download in the
    cache, then (only if ``config.download``) a fresh download.

    Raises
    ------
    DataError
        If no directory is configured or found; the message lists the ways to fix it.
    """
    setting = data_dir_setting(config)
    if setting:
        root = Path(setting).expanduser()
        _check_layout(root)
        return root

    cached = Path(cache_dir(config)) / "datasets" / "PetImages"
    if (cached / CLASS_FOLDERS[0]).is_dir():
        return cached
    if config.download:
        return download.fetch_petimages(cache_dir(config))
    raise DataError(
        "no dataset configured: set CATSDOGS_DATA_DIR to the PetImages folder (the one "
        "holding Cat/ and Dog/), pass --data-dir DIR, or pass --download (needs internet) "
        "to fetch the Microsoft archive into the cache"
    )


def _check_layout(root: Path) -> None:
    """Raise :class:`DataError` unless ``root`` has ``Cat/`` and ``Dog/`` folders."""
    if not root.exists():
        raise DataError(
            f"data directory {root} does not exist: point CATSDOGS_DATA_DIR or --data-dir "
            "at the PetImages folder (holding Cat/ and Dog/), or use --download"
        )
    if not root.is_dir():
        raise DataError(f"data directory {root} is a file, not a folder holding Cat/ and Dog/")
    for folder in CLASS_FOLDERS:
        if not (root / folder).is_dir():
            nested = root / "PetImages"
            hint = f" (did you mean {nested}?)" if (nested / folder).is_dir() else ""
            raise DataError(
                f"data directory {root} has no {folder}/ folder{hint}; expected the PetImages "
                "layout <root>/Cat/*.jpg and <root>/Dog/*.jpg"
            )


# ----------------------------------------------------------------------------- validate

_NUM = re.compile(r"(\d+)")


def _natural_key(name: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p.lower() for p in _NUM.split(name))


def _list_class_files(root: Path) -> list[tuple[str, int]]:
    """All regular files of the class folders as ``(relative path, label)``, sorted."""
    files: list[tuple[str, int]] = []
    for label, folder in enumerate(CLASS_FOLDERS):
        names = sorted((p.name for p in (root / folder).iterdir() if p.is_file()), key=_natural_key)
        files.extend((f"{folder}/{n}", label) for n in names)
    return files


def inspect_image(path: Path) -> tuple[str, str, int, int]:
    """Classify one file: ``(verdict, reason, width, height)``.

    ``verdict`` is ``"ok"`` (an RGB JPEG), ``"convert"`` (decodable but needs an
    RGB JPEG copy; ``reason`` says why) or ``"skip"`` (``reason`` says why).
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        return "skip", f"unreadable ({exc.strerror})", 0, 0
    if size == 0:
        return "skip", "zero-byte", 0, 0
    try:
        with Image.open(path) as im:
            fmt, mode = im.format, im.mode
            im.load()  # full decode: catches truncated / corrupt pixel data
            width, height = im.size
    except UnidentifiedImageError:
        return "skip", "not an image", 0, 0
    except (OSError, SyntaxError, ValueError) as exc:
        return "skip", f"undecodable ({type(exc).__name__})", 0, 0
    except Image.DecompressionBombError:
        return "skip", "too large (decompression bomb)", 0, 0
    if fmt != "JPEG":
        return "convert", f"{fmt} file with a .{path.suffix.lstrip('.') or '?'} name", width, height
    if mode != "RGB":
        return "convert", f"{mode} JPEG", width, height
    return "ok", "", width, height


def _convert_to_rgb_jpeg(src: Path, dest: Path, quality: int = 95) -> None:
    """Write ``src`` (any mode/format Pillow decodes; first frame) as an RGB JPEG."""
    with Image.open(src) as im:
        im.seek(0)
        if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            rgb = Image.new("RGB", rgba.size, (255, 255, 255))
            rgb.paste(rgba, mask=rgba.split()[-1])
        else:
            rgb = im.convert("RGB")
    dest.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    rgb.save(buf, format="JPEG", quality=quality)
    tmp = dest.with_suffix(dest.suffix + ".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(dest)


def _scan_cache_key(root: Path, files: Sequence[tuple[str, int]]) -> str:
    h = hashlib.sha256(str(root.resolve()).encode())
    for rel, _ in files:
        st = (root / rel).stat()
        h.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def scan_dataset(
    root: Path | str,
    cache: Path | str,
    max_per_class: int | None = None,
    seed: int = 42,
    progress: bool = True,
) -> ScanReport:
    """Validate the files under ``root`` (see module docstring for the rules).

    Parameters
    ----------
    root
        PetImages folder holding ``Cat/`` and ``Dog/``.
    cache
        Folder for converted copies and the cached scan result (re-scans of an
        unchanged folder are instant).
    max_per_class
        Stop after this many usable images per class, taken in a seeded random
        order (a reproducible subset; ``None`` scans everything).
    seed
        Seed of that order.

    Raises
    ------
    DataError
        Missing folder, or a class folder with no usable image.
    """
    from tqdm import tqdm

    root = Path(root).expanduser()
    _check_layout(root)
    files = _list_class_files(root)
    if max_per_class is not None:
        rng = np.random.default_rng(seed)
        files = [files[i] for i in rng.permutation(len(files))]

    cache = Path(cache)
    key = _scan_cache_key(root, files) + (f"-max{max_per_class}-seed{seed}" if max_per_class else "")
    cache_file = cache / "scans" / f"{key}.json"
    converted_root = cache / "converted" / hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    if cache_file.is_file():
        report = _load_scan(cache_file)
        if all(report.path_of(r).is_file() for r in report.converted):
            log.info("using cached scan of %s (%d usable images)", root, len(report.images))
            return report

    report = ScanReport(root=str(root), converted_root=str(converted_root))
    kept = Counter()
    for rel, label in tqdm(files, desc=f"validating {root.name}", unit="file", disable=not progress):
        if max_per_class is not None and kept[label] >= max_per_class:
            if all(kept[c] >= max_per_class for c in range(len(CLASS_FOLDERS))):
                break
            continue
        report.examined += 1
        verdict, reason, w, h = inspect_image(root / rel)
        if verdict == "skip":
            log.warning("skipping %s: %s", root / rel, reason)
            report.skipped.append((rel, reason))
            continue
        source = "original"
        if verdict == "convert":
            # keep the full original name so x.png and x.gif cannot collide
            out_rel = rel if rel.lower().endswith((".jpg", ".jpeg")) else f"{rel}.jpg"
            _convert_to_rgb_jpeg(root / rel, converted_root / out_rel)
            source = "converted"
            rel = out_rel
        report.images.append(ImageRecord(rel, label, source, w, h, reason))
        kept[label] += 1

    for label, folder in enumerate(CLASS_FOLDERS):
        if kept[label] == 0:
            raise DataError(
                f"class folder {root / folder} has no usable image "
                f"({sum(1 for f, _ in report.skipped if f.startswith(folder + '/'))} files skipped); "
                "put the class's JPEGs there or point CATSDOGS_DATA_DIR/--data-dir elsewhere"
            )
    report.images.sort(key=lambda r: (r.label, _natural_key(r.file)))
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    cache_file.write_text(json.dumps(_dump_scan(report)))
    if report.skipped or report.converted:
        log.warning(
            "%s: %d usable, %d skipped %s, %d converted %s",
            root,
            len(report.images),
            len(report.skipped),
            report.skipped_by_reason(),
            len(report.converted),
            report.converted_by_reason(),
        )
    return report


def _dump_scan(report: ScanReport) -> dict:
    d = asdict(report)
    d["images"] = [asdict(r) for r in report.images]
    return d


def _load_scan(path: Path) -> ScanReport:
    d = json.loads(path.read_text())
    return ScanReport(
        root=d["root"],
        converted_root=d["converted_root"],
        images=[ImageRecord(**r) for r in d["images"]],
        skipped=[tuple(s) for s in d["skipped"]],
        examined=d["examined"],
    )


__all__ = [
    "CLASS_FOLDERS",
    "DataError",
    "ImageRecord",
    "ScanReport",
    "find_data_dir",
    "inspect_image",
    "scan_dataset",
]
