"""Tests of :mod:`catsdogs.data.scan`: validation of every kind of bad file, layout errors,
the scan cache, the split manifest and the ``tf.data`` pipeline.

Each bad input is made by the test that uses it, in a small synthetic PetImages folder.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from catsdogs import runs as runs_mod
from catsdogs.data import images as images_mod
from catsdogs.data import scan as data
from catsdogs.data import split as split_mod
from catsdogs.data.scan import DataError, ImageRecord, ScanReport
from catsdogs.records import ManifestRow
from catsdogs.runs import MissingRecord

pytestmark = pytest.mark.usefixtures("isolated_env")


# ----------------------------------------------------------------------------- makers of bad files


def _jpeg_bytes(mode: str = "RGB", size: int = 24) -> bytes:
    rng = np.random.default_rng(1)
    rgb = Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype="uint8"), "RGB")
    buf = io.BytesIO()
    rgb.convert(mode).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _image_bytes(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def make_zero_byte(folder: Path) -> Path:
    path = folder / "900.jpg"
    path.write_bytes(b"")
    return path


def make_truncated_jpeg(folder: Path) -> Path:
    whole = _jpeg_bytes(size=64)
    path = folder / "901.jpg"
    path.write_bytes(whole[: len(whole) // 2])  # header intact, pixel data cut off
    return path


def make_random_bytes(folder: Path) -> Path:
    path = folder / "902.jpg"
    path.write_bytes(np.random.default_rng(7).integers(0, 256, 2048, dtype="uint8").tobytes())
    return path


def make_thumbs_db(folder: Path) -> Path:
    path = folder / "Thumbs.db"
    # An OLE2 compound-file header followed by junk, like Windows' thumbnail cache.
    path.write_bytes(bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 512)
    return path


def make_grayscale_jpeg(folder: Path) -> Path:
    path = folder / "903.jpg"
    path.write_bytes(_jpeg_bytes("L"))
    return path


def make_cmyk_jpeg(folder: Path) -> Path:
    path = folder / "904.jpg"
    path.write_bytes(_jpeg_bytes("CMYK"))
    return path


def make_rgba_png_named_jpg(folder: Path) -> Path:
    rgba = Image.new("RGBA", (20, 16), (200, 60, 50, 255))
    rgba.putpixel((0, 0), (0, 0, 0, 0))  # one transparent pixel
    path = folder / "905.jpg"
    path.write_bytes(_image_bytes(rgba, "PNG"))
    return path


def make_gif_named_jpg(folder: Path) -> Path:
    frames = [Image.new("P", (18, 18), i) for i in (1, 2)]  # animated: two frames
    path = folder / "906.jpg"
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    path.write_bytes(buf.getvalue())
    return path


def make_palette_png(folder: Path) -> Path:
    palette = Image.new("RGB", (22, 22), (180, 70, 60)).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    path = folder / "907.png"
    path.write_bytes(_image_bytes(palette, "PNG"))
    return path


SKIPPED: list[tuple[Callable[[Path], Path], str]] = [
    (make_zero_byte, "zero-byte"),
    (make_truncated_jpeg, "undecodable"),
    (make_random_bytes, "not an image"),
    (make_thumbs_db, "not an image"),
]

CONVERTED: list[tuple[Callable[[Path], Path], str]] = [
    (make_grayscale_jpeg, "L JPEG"),
    (make_cmyk_jpeg, "CMYK JPEG"),
    (make_rgba_png_named_jpg, "PNG file with a .jpg name"),
    (make_gif_named_jpg, "GIF file with a .jpg name"),
    (make_palette_png, "PNG file with a .png name"),
]


def _ids(cases):
    return [maker.__name__.removeprefix("make_") for maker, _ in cases]


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(("maker", "reason"), SKIPPED, ids=_ids(SKIPPED))
def test_bad_file_is_skipped_and_counted(make_petimages, tmp_path: Path, maker, reason: str) -> None:
    root = make_petimages(n_per_class=3)
    bad = maker(root / "Cat")
    report = data.scan_dataset(root, tmp_path / "cache", progress=False)
    rel = f"Cat/{bad.name}"
    assert [r for f, r in report.skipped if f == rel] and all(r.startswith(reason) for f, r in report.skipped)
    assert sum(report.skipped_by_reason().values()) == 1
    assert list(report.skipped_by_reason())[0].startswith(reason)
    assert rel not in {r.file for r in report.images}
    assert report.counts() == {"cat": 3, "dog": 3}
    assert report.examined == 7
    assert report.summary()["skipped_files"] == [rel]


@pytest.mark.parametrize(("maker", "reason"), CONVERTED, ids=_ids(CONVERTED))
def test_odd_image_is_converted_to_rgb_jpeg(make_petimages, tmp_path: Path, maker, reason: str) -> None:
    import tensorflow as tf

    root = make_petimages(n_per_class=3)
    odd = maker(root / "Cat")
    with Image.open(odd) as im:
        original_size = im.size
    report = data.scan_dataset(root, tmp_path / "cache", progress=False)

    assert report.skipped == []
    assert report.counts() == {"cat": 4, "dog": 3}
    assert report.converted_by_reason() == {reason: 1}
    (record,) = report.converted
    expected = f"Cat/{odd.name}" if odd.suffix.lower() in (".jpg", ".jpeg") else f"Cat/{odd.name}.jpg"
    assert record.file == expected and record.label == 0 and record.note == reason
    assert (record.width, record.height) == original_size
    copy = report.path_of(record)
    assert copy.is_file() and Path(report.converted_root) in copy.parents
    assert tmp_path / "cache" in copy.parents  # the copy lives in the cache, not the data folder
    assert odd.read_bytes() != copy.read_bytes()  # the source was left alone
    decoded = tf.io.decode_jpeg(tf.io.read_file(str(copy)), channels=3)
    assert tuple(decoded.shape) == (original_size[1], original_size[0], 3)
    with Image.open(copy) as im:
        assert (im.format, im.mode) == ("JPEG", "RGB")


def test_every_bad_file_at_once_nothing_raises(make_petimages, tmp_path: Path) -> None:
    root = make_petimages(n_per_class=2)
    for maker, _ in SKIPPED + CONVERTED:
        maker(root / "Dog")
    report = data.scan_dataset(root, tmp_path / "cache", progress=False)
    assert report.counts() == {"cat": 2, "dog": 2 + len(CONVERTED)}
    assert len(report.skipped) == len(SKIPPED)
    by_reason = report.skipped_by_reason()
    assert by_reason["zero-byte"] == 1 and by_reason["not an image"] == 2
    assert sum(v for k, v in by_reason.items() if k.startswith("undecodable")) == 1
    assert report.converted_by_reason() == {reason: 1 for _, reason in CONVERTED}
    summary = report.summary()
    assert summary["usable"] == 4 + len(CONVERTED) and summary["converted"] == len(CONVERTED)
    assert summary["examined"] == 4 + len(SKIPPED) + len(CONVERTED)


def test_inspect_image_verdicts(tmp_path: Path) -> None:
    good = tmp_path / "good.jpg"
    good.write_bytes(_jpeg_bytes())
    assert data.inspect_image(good) == ("ok", "", 24, 24)
    assert data.inspect_image(make_zero_byte(tmp_path))[:2] == ("skip", "zero-byte")
    assert data.inspect_image(make_cmyk_jpeg(tmp_path))[:2] == ("convert", "CMYK JPEG")
    assert data.inspect_image(tmp_path / "missing.jpg")[0] == "skip"


# ----------------------------------------------------------------------------- layout errors


def _error(root: Path, tmp_path: Path) -> str:
    with pytest.raises(DataError) as info:
        data.scan_dataset(root, tmp_path / "cache", progress=False)
    return str(info.value)


def test_missing_data_dir(tmp_path: Path) -> None:
    root = tmp_path / "nowhere" / "PetImages"
    message = _error(root, tmp_path)
    assert str(root) in message and "does not exist" in message
    assert "CATSDOGS_DATA_DIR" in message and "--data-dir" in message


def test_file_instead_of_dir(tmp_path: Path) -> None:
    root = tmp_path / "PetImages.zip"
    root.write_bytes(b"PK")
    message = _error(root, tmp_path)
    assert str(root) in message and "is a file" in message and "Cat/ and Dog/" in message


def test_missing_dog_folder(make_petimages, tmp_path: Path) -> None:
    root = make_petimages(n_per_class=2)
    for f in (root / "Dog").iterdir():
        f.unlink()
    (root / "Dog").rmdir()
    message = _error(root, tmp_path)
    assert str(root) in message and "no Dog/ folder" in message
    assert "<root>/Dog/*.jpg" in message and "did you mean" not in message


def test_nested_petimages_hint(make_petimages, tmp_path: Path) -> None:
    outer = tmp_path / "kagglecatsanddogs"
    make_petimages(n_per_class=1, name="kagglecatsanddogs/PetImages")
    message = _error(outer, tmp_path)
    assert "no Cat/ folder" in message
    assert f"did you mean {outer / 'PetImages'}?" in message


def test_empty_class_folder(make_petimages, tmp_path: Path) -> None:
    root = make_petimages(n_per_class=2)
    for f in (root / "Dog").iterdir():
        f.unlink()
    message = _error(root, tmp_path)
    assert str(root / "Dog") in message and "no usable image" in message
    assert "0 files skipped" in message and "CATSDOGS_DATA_DIR" in message


def test_class_folder_with_only_bad_files(make_petimages, tmp_path: Path) -> None:
    root = make_petimages(n_per_class=2)
    for f in (root / "Cat").iterdir():
        f.unlink()
    make_zero_byte(root / "Cat")
    make_thumbs_db(root / "Cat")
    message = _error(root, tmp_path)
    assert str(root / "Cat") in message and "no usable image" in message
    assert "2 files skipped" in message and "put the class's JPEGs there" in message


def test_find_data_dir_without_any_setting_says_what_to_do(make_config) -> None:
    with pytest.raises(DataError) as info:
        data.find_data_dir(make_config())
    message = str(info.value)
    assert "CATSDOGS_DATA_DIR" in message and "--data-dir" in message and "--download" in message


def test_find_data_dir_uses_config_then_environment(make_petimages, make_config, monkeypatch) -> None:
    root = make_petimages(n_per_class=1)
    assert data.find_data_dir(make_config(root)) == root
    monkeypatch.setenv("CATSDOGS_DATA_DIR", str(root))
    assert data.find_data_dir(make_config()) == root


# ----------------------------------------------------------------------------- scan cache and subsets


def test_second_scan_is_reused(make_petimages, tmp_path: Path, monkeypatch) -> None:
    root = make_petimages(n_per_class=3)
    make_grayscale_jpeg(root / "Cat")
    first = data.scan_dataset(root, tmp_path / "cache", progress=False)

    def must_not_run(path):
        raise AssertionError(f"file {path} was inspected again")

    monkeypatch.setattr(data, "inspect_image", must_not_run)
    second = data.scan_dataset(root, tmp_path / "cache", progress=False)
    assert second == first

    # A changed folder is scanned again.
    monkeypatch.undo()
    (root / "Dog" / "0.jpg").unlink()
    third = data.scan_dataset(root, tmp_path / "cache", progress=False)
    assert third.counts() == {"cat": 4, "dog": 2}


def test_cached_scan_is_redone_when_a_converted_copy_is_gone(make_petimages, tmp_path: Path) -> None:
    root = make_petimages(n_per_class=2)
    make_cmyk_jpeg(root / "Dog")
    first = data.scan_dataset(root, tmp_path / "cache", progress=False)
    copy = first.path_of(first.converted[0])
    copy.unlink()
    second = data.scan_dataset(root, tmp_path / "cache", progress=False)
    assert second.path_of(second.converted[0]).is_file()


def test_max_per_class_is_a_deterministic_subset(make_petimages, tmp_path: Path) -> None:
    root = make_petimages(n_per_class=12)

    def subset(seed: int, cache: str) -> list[str]:
        report = data.scan_dataset(root, tmp_path / cache, max_per_class=5, seed=seed, progress=False)
        assert report.counts() == {"cat": 5, "dog": 5}
        return [r.file for r in report.images]

    a = subset(0, "c1")
    assert subset(0, "c2") == a  # same seed, fresh cache: same subset
    assert subset(1, "c3") != a  # another seed: another subset
    assert subset(0, "c1") == a  # cached
    everything = data.scan_dataset(root, tmp_path / "c1", progress=False)
    assert len(everything.images) == 24 and set(a) < {r.file for r in everything.images}


# ----------------------------------------------------------------------------- split manifest


def _report(n_cat: int, n_dog: int) -> ScanReport:
    images = [ImageRecord(f"Cat/{i}.jpg", 0, "original", 40, 30) for i in range(n_cat)]
    images += [ImageRecord(f"Dog/{i}.jpg", 1, "original", 40, 30) for i in range(n_dog)]
    return ScanReport(root="/data", converted_root="/cache/converted", images=images)


def test_split_is_deterministic_for_a_seed() -> None:
    report = _report(30, 20)
    first = split_mod.split_manifest(report, 0.2, 0.1, seed=3)
    assert split_mod.split_manifest(report, 0.2, 0.1, seed=3) == first
    assert split_mod.split_manifest(report, 0.2, 0.1, seed=4) != first
    assert [r.file for r in first] == [r.file for r in report.images]  # order kept
    assert tuple(first[0].to_csv()) == runs_mod.MANIFEST_FIELDS


@pytest.mark.parametrize(
    ("n_cat", "n_dog", "val", "test"), [(30, 20, 0.2, 0.0), (30, 20, 0.2, 0.1), (57, 43, 0.25, 0.15)]
)
def test_split_is_stratified_and_respects_fractions(n_cat: int, n_dog: int, val: float, test: float) -> None:
    rows = split_mod.split_manifest(_report(n_cat, n_dog), val, test, seed=0)
    n, p_cat = n_cat + n_dog, n_cat / (n_cat + n_dog)
    table = split_mod.split_table(rows)
    assert set(table) == ({"train", "val", "test"} if test else {"train", "val"})
    assert sum(t.total for t in table.values()) == n
    assert abs(table["val"].total - n * val) <= 1
    if test:
        assert abs(table["test"].total - n * test) <= 1
    for split, counts in table.items():
        assert abs(counts.cat - counts.total * p_cat) <= 1, (split, counts)
        assert counts.cat + counts.dog == counts.total


@pytest.mark.parametrize(("val", "test"), [(0.0, 0.0), (1.0, 0.0), (0.2, -0.1), (0.6, 0.4), (-0.2, 0.1)])
def test_bad_fractions_raise(val: float, test: float) -> None:
    with pytest.raises(ValueError, match="val_fraction"):
        split_mod.split_manifest(_report(10, 10), val, test)


def test_too_few_images_for_a_split_says_what_to_do() -> None:
    with pytest.raises(ValueError) as info:
        split_mod.split_manifest(_report(2, 2), 0.2, 0.0)
    message = str(info.value)
    assert "cannot split 4 images" in message and "{'cat': 2, 'dog': 2}" in message
    assert "max_images_per_class" in message


def test_manifest_round_trip_and_stable_sha(tmp_path: Path) -> None:
    rows = split_mod.split_manifest(_report(12, 9), 0.2, 0.1, seed=1)
    sha = runs_mod.write_manifest(rows, tmp_path / "a" / "manifest.csv")
    assert sha == hashlib.sha256((tmp_path / "a" / "manifest.csv").read_bytes()).hexdigest()
    assert runs_mod.write_manifest(rows, tmp_path / "b.csv") == sha
    assert (
        runs_mod.write_manifest(split_mod.split_manifest(_report(12, 9), 0.2, 0.1, seed=1), tmp_path / "c.csv") == sha
    )
    assert runs_mod.read_manifest(tmp_path / "a" / "manifest.csv") == rows
    first_line = (tmp_path / "b.csv").read_text().splitlines()[0]
    assert first_line == ",".join(runs_mod.MANIFEST_FIELDS)


def test_read_missing_manifest_says_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(MissingRecord, match="catsdogs data"):
        runs_mod.read_manifest(tmp_path / "manifest.csv")


def test_resolve_paths_uses_converted_root_for_converted_rows() -> None:
    rows = [
        ManifestRow(file="Cat/1.jpg", label=0, split="val", source="original"),
        ManifestRow(file="Cat/2.jpg", label=0, split="val", source="converted"),
    ]
    assert runs_mod.resolve_paths(rows, "/data", "/conv") == ["/data/Cat/1.jpg", "/conv/Cat/2.jpg"]


# ----------------------------------------------------------------------------- tf.data and single files


def test_image_dataset_shapes_ranges_and_label_order(make_petimages) -> None:
    root = make_petimages(n_per_class=3, size=40)
    files = [
        root / "Cat" / "0.jpg",
        root / "Dog" / "0.jpg",
        root / "Cat" / "1.jpg",
        root / "Dog" / "1.jpg",
        root / "Dog" / "2.jpg",
    ]
    labels = [0, 1, 0, 1, 1]
    ds = images_mod.image_dataset([str(f) for f in files], labels, image_size=32, batch_size=4)
    batches = list(ds.as_numpy_iterator())
    assert [b[0].shape for b in batches] == [(4, 32, 32, 3), (1, 32, 32, 3)]
    images = np.concatenate([b[0] for b in batches])
    got_labels = np.concatenate([b[1] for b in batches])
    assert images.dtype == np.float32 and got_labels.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 255.0 and images.max() > 1.0
    np.testing.assert_array_equal(got_labels, np.array(labels, dtype="float32"))
    # Labels travel with their images: cats are the reddish ones.
    red_minus_blue = images[..., 0].mean(axis=(1, 2)) - images[..., 2].mean(axis=(1, 2))
    assert np.all((red_minus_blue > 0) == (got_labels == 0))

    only_images = list(images_mod.image_dataset([str(f) for f in files], None, 32, 8).as_numpy_iterator())
    assert len(only_images) == 1 and only_images[0].shape == (5, 32, 32, 3)


def test_shuffled_dataset_keeps_pairs(make_petimages) -> None:
    root = make_petimages(n_per_class=4)
    paths = [str(p) for p in sorted((root / "Cat").iterdir())] + [str(p) for p in sorted((root / "Dog").iterdir())]
    labels = [0] * 4 + [1] * 4
    ds = images_mod.image_dataset(paths, labels, 16, 8, shuffle=True, seed=5)
    images, got = next(ds.as_numpy_iterator())
    assert sorted(got.tolist()) == sorted(labels)
    red_minus_blue = images[..., 0].mean(axis=(1, 2)) - images[..., 2].mean(axis=(1, 2))
    assert np.all((red_minus_blue > 0) == (got == 0))


def test_read_image_file_png_and_grayscale(tmp_path: Path) -> None:
    png = make_rgba_png_named_jpg(tmp_path)
    png = png.rename(tmp_path / "pet.png")
    image = images_mod.read_image_file(png, 32)
    assert image.shape == (32, 32, 3) and image.dtype == np.float32
    assert 0.0 <= image.min() and image.max() <= 255.0
    gray = images_mod.read_image_file(make_grayscale_jpeg(tmp_path), 32)
    assert gray.shape == (32, 32, 3)
    np.testing.assert_allclose(gray[..., 0], gray[..., 2])


def test_read_image_file_missing_or_empty_names_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.jpg"
    with pytest.raises(DataError, match="not found") as info:
        images_mod.read_image_file(missing, 32)
    assert str(missing) in str(info.value)
    empty = make_zero_byte(tmp_path)
    with pytest.raises(DataError, match="zero-byte") as info:
        images_mod.read_image_file(empty, 32)
    assert str(empty) in str(info.value)
    with pytest.raises(DataError, match="not an image"):
        images_mod.read_image_file(make_thumbs_db(tmp_path), 32)


# ----------------------------------------------------------------------------- real data


@pytest.mark.real
def test_real_images_decode_to_rgb(real_data_dir: Path) -> None:
    paths = [real_data_dir / "Cat" / "1.jpg", real_data_dir / "Dog" / "1.jpg"]
    for path in paths:
        assert images_mod.read_image_file(path, 180).shape == (180, 180, 3)
    images = images_mod.load_images([str(p) for p in paths], 180)
    assert images.shape == (2, 180, 180, 3) and images.dtype == np.uint8


@pytest.mark.real
def test_real_scan_subset(real_data_dir: Path, tmp_path: Path) -> None:
    report = data.scan_dataset(real_data_dir, tmp_path / "cache", max_per_class=5, progress=False)
    assert report.counts() == {"cat": 5, "dog": 5}
    assert len(report.images) == 10
    for record in report.images:
        assert report.path_of(record).is_file()
