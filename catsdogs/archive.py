"""Extract the PetImages zip (once, safely): only the class folders, no member that
could write outside the target, and a marker recording a finished extraction so an
interrupted one is redone and a finished one is reused.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import re
import zipfile
from pathlib import Path, PurePosixPath, PureWindowsPath

from tqdm import tqdm

from catsdogs.config import ENV_DATA_DIR, PETIMAGES_URL

logger = logging.getLogger(__name__)

_CLASS_PREFIXES = ("PetImages/Cat/", "PetImages/Dog/")


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


__all__ = ["extract_petimages"]
