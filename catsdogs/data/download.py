"""Download and extract the Microsoft "PetImages" (Kaggle Cats and Dogs) archive.

For machines with internet access (Colab, a laptop). Offline machines point the
package at an existing ``PetImages`` folder instead (``$CATSDOGS_DATA_DIR`` or
``--data-dir``); nothing here is needed then.

The archive (about 787 MiB) holds::

    PetImages/Cat/*.jpg   (12,500 files, plus Thumbs.db)
    PetImages/Dog/*.jpg   (12,500 files, plus Thumbs.db)
    readme[1].txt, MSR-LA - 3467.docx   (readme and licence, top level)

Layout of the cache directory (see :func:`catsdogs.config.cache_dir`)::

    <cache_dir>/downloads/kagglecatsanddogs_5340.zip
    <cache_dir>/downloads/fetch_record.json      provenance: url, sha256, size, time
    <cache_dir>/datasets/PetImages/{Cat,Dog}/    returned by :func:`fetch_petimages`

Typical use::

    from catsdogs.config import cache_dir, get_config
    root = fetch_petimages(cache_dir(get_config("smoke")))
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import http.client
import json
import logging
import os
import re
import shutil
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from tqdm import tqdm

from catsdogs.config import ENV_DATA_DIR, PETIMAGES_URL, UserError
from catsdogs.files import file_sha256
from catsdogs.records import FetchRecord, RecordError

logger = logging.getLogger(__name__)

FETCH_RECORD_NAME = "fetch_record.json"
"""File beside the downloaded archive that records where it came from."""

_CHUNK_BYTES = 1 << 20  # 1 MiB
_USER_AGENT = "catsdogs (python urllib)"
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_CLASS_PREFIXES = ("PetImages/Cat/", "PetImages/Dog/")


# --------------------------------------------------------------------------- hashing


def _normalise_sha256(value: str | None) -> str | None:
    """Lower-case, stripped ``value``; ``ValueError`` if it is not 64 hex digits."""
    if value is None:
        return None
    cleaned = value.strip().lower()
    if not _SHA256_RE.match(cleaned):
        raise ValueError(
            f"expected_sha256={value!r} is not a sha256 digest; pass 64 hex characters "
            "(e.g. the output of `sha256sum FILE`) or None to skip verification"
        )
    return cleaned


# --------------------------------------------------------------------------- download


def _manual_download_hint(url: str) -> str:
    return (
        f"Download {url} by hand (a browser, or `curl -L -O {url}`), extract it, and "
        f"set {ENV_DATA_DIR} to the extracted PetImages folder (or pass --data-dir)."
    )


def _stream_to_part(url: str, dest: Path, part: Path, progress: bool, timeout: float) -> tuple[str, int]:
    """Stream ``url`` into ``part``; return ``(sha256, size_bytes)``.

    Network failures become ``RuntimeError`` with the manual-download hint; the
    partial file is removed on any failure.
    """
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    digest = hashlib.sha256()
    received = 0
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length_header = response.headers.get("Content-Length")
            total = int(length_header) if length_header and length_header.isdigit() else None
            if total is not None:
                free = shutil.disk_usage(part.parent).free
                if free < total:
                    raise OSError(
                        f"not enough disk space in {part.parent} to download {url}: "
                        f"need {total / 2**20:.0f} MiB, {free / 2**20:.0f} MiB free; "
                        "free some space or set CATSDOGS_CACHE_DIR to another disk"
                    )
            logger.info("downloading %s -> %s (%s bytes)", url, dest, total or "unknown")
            with (
                part.open("wb") as fh,
                tqdm(
                    total=total,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=dest.name,
                    disable=not progress,
                ) as bar,
            ):
                for chunk in iter(lambda: response.read(_CHUNK_BYTES), b""):
                    fh.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            if total is not None and received != total:
                raise UserError(
                    f"download of {url} was cut short: received {received} of {total} "
                    f"bytes. Try again, or: {_manual_download_hint(url)}"
                )
    except (
        urllib.error.URLError,
        http.client.HTTPException,
        TimeoutError,
        ConnectionError,
    ) as exc:
        part.unlink(missing_ok=True)
        if isinstance(exc, urllib.error.HTTPError):
            exc.close()  # an HTTPError holds the open response
        raise UserError(f"could not download {url}: {exc}. {_manual_download_hint(url)}") from exc
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return digest.hexdigest(), received


def _download(
    url: str,
    dest: Path,
    expected_sha256: str | None,
    progress: bool,
    timeout: float,
) -> tuple[Path, str | None, bool]:
    """Core of :func:`download_file`; returns ``(dest, sha256 or None, downloaded)``.

    The sha256 is ``None`` only when an existing file was reused without a hash to check.
    """
    dest = Path(dest)
    expected = _normalise_sha256(expected_sha256)

    if dest.is_file():
        if expected is None:
            logger.info("using existing %s (no sha256 given to verify it)", dest)
            return dest, None, False
        actual = file_sha256(dest, progress=progress)
        if actual == expected:
            logger.info("using existing %s (sha256 verified)", dest)
            return dest, actual, False
        logger.warning("existing %s has sha256 %s, expected %s; downloading it again", dest, actual, expected)

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_suffix(dest.suffix + ".part")
    actual, size = _stream_to_part(url, dest, part, progress, timeout)

    if expected is not None and actual != expected:
        part.unlink(missing_ok=True)
        raise ValueError(
            f"sha256 mismatch for {dest.name} downloaded from {url}: expected {expected}, "
            f"got {actual} ({size} bytes). The partial file was deleted. Check the "
            "expected hash; if it is right the download was corrupted or the server "
            f"changed the file: try again, or {_manual_download_hint(url)}"
        )
    os.replace(part, dest)  # atomic on the same file system
    logger.info("saved %s (%d bytes, sha256 %s)", dest, size, actual)
    return dest, actual, True


def download_file(
    url: str,
    dest: Path,
    expected_sha256: str | None = None,
    progress: bool = True,
    timeout: float = 60,
) -> Path:
    """Download ``url`` to ``dest``, verifying its sha256 when one is given.

    The body is streamed to ``<dest>.part`` and renamed into place only once it is
    complete (and verified), so ``dest`` never holds a partial file. If ``dest``
    already exists it is reused: as is when ``expected_sha256`` is ``None``, after
    checking its hash otherwise (a mismatching file is downloaded again).

    Parameters
    ----------
    url : str
        Address to fetch (``http``, ``https``, anything ``urllib`` opens).
    dest : Path
        Final file path; parent directories are created.
    expected_sha256 : str or None
        64 hex characters to verify the file against; ``None`` skips verification.
    progress : bool
        Show a tqdm bar in bytes (total from ``Content-Length`` when sent).
    timeout : float
        Seconds to wait for the connection and for each read.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    RuntimeError
        The server could not be reached, answered with an HTTP error, or the
        transfer was cut short. The message says how to download by hand and point
        ``CATSDOGS_DATA_DIR`` (or ``--data-dir``) at the data.
    ValueError
        ``expected_sha256`` is malformed, or the downloaded file does not match it
        (the partial file is deleted).
    """
    path, _, _ = _download(url, Path(dest), expected_sha256, progress, timeout)
    return path


# --------------------------------------------------------------------------- fetch + provenance


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _archive_name(url: str) -> str:
    name = PurePosixPath(urllib.parse.urlparse(url).path).name
    return name or "petimages.zip"


def _record_path(cache_dir: Path) -> Path:
    return Path(cache_dir) / "downloads" / FETCH_RECORD_NAME


def fetch_record(cache_dir: Path) -> FetchRecord | None:
    """Provenance of the downloaded archive, as written by :func:`fetch_petimages`.

    Parameters
    ----------
    cache_dir : Path
        The cache directory given to :func:`fetch_petimages`.

    Returns
    -------
    FetchRecord or None
        ``url``, ``archive``, ``sha256``, ``size_bytes``, ``fetched_at`` (an ISO-8601 UTC
        time) and ``downloaded`` (false when an archive already in place, e.g. copied there
        by hand, was adopted). ``None`` if nothing was fetched into this cache or the record
        is unreadable (a warning is logged then).
    """
    path = _record_path(cache_dir)
    if not path.is_file():
        return None
    try:
        return FetchRecord.from_dict(json.loads(path.read_text()), str(path))
    except (OSError, json.JSONDecodeError, RecordError) as exc:
        logger.warning("ignoring unreadable fetch record %s (%s); delete it to rewrite it", path, exc)
        return None


def fetch_petimages(
    cache_dir: Path,
    url: str = PETIMAGES_URL,
    expected_sha256: str | None = None,
) -> Path:
    """Download (once) and extract (once) the PetImages dataset; return its root.

    The archive goes to ``<cache_dir>/downloads/``, the images to
    ``<cache_dir>/datasets/PetImages/``. A JSON ``fetch_record.json`` beside the
    archive records its url, sha256, size and download time for provenance (read
    it with :func:`fetch_record`). Later calls reuse the archive and extraction;
    if the archive was deleted after a finished extraction, the extraction is
    reused without downloading again.

    Parameters
    ----------
    cache_dir : Path
        Cache root, e.g. :func:`catsdogs.config.cache_dir`.
    url : str
        Where to download the archive from.
    expected_sha256 : str or None
        Verify the archive against this digest (64 hex characters).

    Returns
    -------
    Path
        The ``PetImages`` directory holding ``Cat/`` and ``Dog/``.

    Raises
    ------
    RuntimeError
        The download failed (the message says how to download by hand).
    ValueError
        Hash mismatch, or the archive is not a valid PetImages zip.
    """
    cache_dir = Path(cache_dir)
    expected = _normalise_sha256(expected_sha256)
    downloads = cache_dir / "downloads"
    datasets = cache_dir / "datasets"
    archive = downloads / _archive_name(url)
    record = fetch_record(cache_dir)

    if (
        not archive.is_file()
        and record is not None
        and record.archive == archive.name
        and (expected is None or record.sha256 == expected)
    ):
        marker = _marker_path(archive, datasets)
        root = _completed_extraction(marker, archive_size=record.size_bytes)
        if root is not None:
            logger.info("archive %s was removed; reusing the extraction at %s", archive, root)
            return root

    _, sha256, downloaded = _download(url, archive, expected, progress=True, timeout=60)
    size = archive.stat().st_size

    record_matches = (
        record is not None
        and record.archive == archive.name
        and record.size_bytes == size
        and (sha256 is None or record.sha256 == sha256)
    )
    if downloaded or not record_matches:
        if sha256 is None:
            sha256 = file_sha256(archive, progress=True)
        new_record = FetchRecord(
            url=url, archive=archive.name, sha256=sha256, size_bytes=size, fetched_at=_now_iso(), downloaded=downloaded
        )
        path = _record_path(cache_dir)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(new_record.to_dict(), indent=2) + "\n")
        os.replace(tmp, path)

    return extract_petimages(archive, datasets)


# -----------------------------------------------------------------------------
# Extract the PetImages zip (once, safely): only the class folders, no member that
# could write outside the target, and a marker recording a finished extraction so an
# interrupted one is redone and a finished one is reused.
#


def _unsafe_member_reason(name: str) -> str | None:
    """Why a zip member name could write outside the target directory, or ``None``."""
    if name.startswith(("/", "\\")) or PureWindowsPath(name).drive:
        return "is an absolute path"
    parts = re.split(r"[\\/]", name)
    if ".." in parts:
        return "contains '..'"
    return None


def _marker_path(archive: Path, dest_dir: Path) -> Path:
    return dest_dir / f".{archive.name}.extracted.json"


def _completed_extraction(marker: Path, archive_size: int | None) -> Path | None:
    """PetImages root of a finished extraction recorded by ``marker``, or ``None``.

    ``archive_size`` (bytes) must match the recorded one unless it is ``None``.
    """
    if not marker.is_file():
        return None
    try:
        info = json.loads(marker.read_text())
    except (OSError, json.JSONDecodeError):
        logger.warning("ignoring unreadable extraction marker %s", marker)
        return None
    if archive_size is not None and info.get("archive_size") != archive_size:
        return None
    root = marker.parent / info.get("root", "PetImages")
    if (root / "Cat").is_dir() and (root / "Dog").is_dir():
        return root
    return None


def extract_petimages(archive: Path, dest_dir: Path) -> Path:
    """Check and extract the PetImages zip; return the ``PetImages`` root.

    Every member is extracted (images, ``Thumbs.db``, readme and licence); filtering
    of unreadable images is the data module's job. A finished extraction is marked
    with ``<dest_dir>/.<archive name>.extracted.json`` and reused on later calls
    while the archive keeps the same size.

    Parameters
    ----------
    archive : Path
        The downloaded ``.zip``.
    dest_dir : Path
        Directory to extract into (created); ``PetImages/`` appears inside it.

    Returns
    -------
    Path
        ``dest_dir / "PetImages"``, holding ``Cat/`` and ``Dog/``.

    Raises
    ------
    FileNotFoundError
        ``archive`` does not exist.
    ValueError
        ``archive`` is not a readable zip, fails its CRC check, lacks
        ``PetImages/Cat/`` or ``PetImages/Dog/`` members, or has a member with an
        absolute path or ``..`` (nothing is extracted then).
    """
    archive = Path(archive)
    dest_dir = Path(dest_dir)
    if not archive.is_file():
        raise FileNotFoundError(
            f"archive {archive} does not exist; download it first (fetch_petimages) or "
            f"set {ENV_DATA_DIR} to an extracted PetImages folder"
        )
    marker = _marker_path(archive, dest_dir)
    reused = _completed_extraction(marker, archive.stat().st_size)
    if reused is not None:
        logger.info("using PetImages already extracted at %s", reused)
        return reused

    redownload = f"delete {archive} and download it again"
    if not zipfile.is_zipfile(archive):
        raise ValueError(f"{archive} is not a zip archive; {redownload}")
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            names = [m.filename for m in members]
            for name in names:
                reason = _unsafe_member_reason(name)
                if reason:
                    raise ValueError(
                        f"refusing to extract {archive}: member {name!r} {reason}, so it "
                        f"could write outside {dest_dir}. This is not the Microsoft "
                        f"PetImages archive; {redownload} from {PETIMAGES_URL}"
                    )
            missing = [p for p in _CLASS_PREFIXES if not any(n.startswith(p) for n in names)]
            if missing:
                raise ValueError(
                    f"{archive} has no {' or '.join(missing)} members, so it is not the "
                    f"PetImages archive (expected PetImages/Cat/*.jpg and PetImages/Dog/*.jpg); "
                    f"{redownload} from {PETIMAGES_URL}"
                )
            logger.info("checking CRCs of %d members of %s", len(members), archive)
            bad = zf.testzip()
            if bad is not None:
                raise ValueError(f"{archive} is corrupt: member {bad!r} fails its CRC check; {redownload}")

            dest_dir.mkdir(parents=True, exist_ok=True)
            marker.unlink(missing_ok=True)
            resolved_dest = dest_dir.resolve()
            for member in tqdm(members, desc=f"extracting {archive.name}", unit="file"):
                target = (dest_dir / PurePosixPath(member.filename.replace("\\", "/"))).resolve()
                if target != resolved_dest and resolved_dest not in target.parents:
                    raise ValueError(
                        f"refusing to extract {archive}: member {member.filename!r} resolves "
                        f"to {target}, outside {dest_dir}; {redownload}"
                    )
                zf.extract(member, dest_dir)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{archive} is not a readable zip archive ({exc}); {redownload}") from exc

    root = dest_dir / "PetImages"
    marker.write_text(
        json.dumps(
            {
                "archive": archive.name,
                "archive_size": archive.stat().st_size,
                "members": len(members),
                "root": root.name,
                "extracted_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            },
            indent=2,
        )
    )
    logger.info("extracted %d members of %s into %s", len(members), archive.name, dest_dir)
    return root


__all__ = [
    "PETIMAGES_URL",
    "FETCH_RECORD_NAME",
    "download_file",
    "extract_petimages",
    "fetch_petimages",
    "fetch_record",
]
