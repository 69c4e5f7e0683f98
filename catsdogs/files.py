"""Small file helpers shared by every module that writes or checks files.

One home for them, so the data, download, weights, run and training modules do not
import each other for a checksum or a safe write.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def file_sha256(path: Path | str, chunk_size: int = 1 << 20, progress: bool = False) -> str:
    """sha256 hex digest (64 lowercase hex characters) of a file, read ``chunk_size``
    bytes at a time; ``progress`` shows a tqdm bar in bytes (for large downloads)."""
    from tqdm import tqdm

    path = Path(path)
    h = hashlib.sha256()
    with (
        open(path, "rb") as fh,
        tqdm(
            total=path.stat().st_size,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=f"sha256 {path.name}",
            disable=not progress,
        ) as bar,
    ):
        while block := fh.read(chunk_size):
            h.update(block)
            bar.update(len(block))
    return h.hexdigest()


def atomic_write(path: Path | str, data: bytes | str) -> Path:
    """Write ``data`` to ``path`` through a temporary sibling and a rename, so a reader
    (or a run resumed after a crash) never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if isinstance(data, str):
        tmp.write_text(data)
    else:
        tmp.write_bytes(data)
    tmp.replace(path)
    return path


def save_npy(path: Path | str, array: Any) -> Path:
    """:func:`numpy.save` through :func:`atomic_write` (a resumed step never loads half an array)."""
    buf = io.BytesIO()
    np.save(buf, array)
    return atomic_write(path, buf.getvalue())


def read_json_or_none(path: Path | str) -> Any | None:
    """The JSON content of ``path``, or ``None`` when the file does not exist."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


def csv_text(rows: Iterable[dict], fields: Sequence[str]) -> str:
    """Dict rows as CSV text with a header line (``\\n`` line ends)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fields), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def write_csv(path: Path, rows: list[dict], fields: list[str] | None = None) -> None:
    """Write dict rows to CSV, atomically (fields default to the first row's keys)."""
    atomic_write(path, csv_text(rows, fields or (list(rows[0]) if rows else [])))


def read_csv(path: Path | str) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


__all__ = ["csv_text", "file_sha256", "atomic_write", "save_npy", "read_json_or_none", "write_csv", "read_csv"]
