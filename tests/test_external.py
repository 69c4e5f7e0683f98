"""Tests of the external test sets (:mod:`catsdogs.data.external`), their evaluation
(:mod:`catsdogs.evaluation.external`) and ``evaluate --external``.

Synthetic folders of tiny images made here; a colour-rule predictor whose answers are known
in advance (so every figure of a record can be counted by hand), and the tiny untrained Keras
classifier for the command line. Downloads are served from 127.0.0.1, CIFAR-10 comes from a
patched ``keras.datasets.cifar10.load_data``: nothing touches the internet.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import tarfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_config
from PIL import Image

from catsdogs.cli.main import main
from catsdogs.data import external as ext
from catsdogs.data.scan import DataError
from catsdogs.evaluation.external import evaluate_external, format_external
from catsdogs.evaluation.metrics import wilson_interval
from catsdogs.evaluation.predict import MODEL_STEM, Predictor, load_predictor, predict_files

#: The real setting, read before any test clears it (the ``real`` test uses it).
REAL_EXTERNAL_DIR = os.environ.get(ext.ENV_EXTERNAL_DIR)

RED, BLUE = (200, 50, 50), (50, 50, 200)
#: Close to grey: the colour rule answers P(dog) about 0.12 / 0.88, below a 0.95 confidence.
PALE_RED, PALE_BLUE = (135, 120, 120), (120, 120, 135)
OOD_THRESHOLD = 0.95


@pytest.fixture(autouse=True)
def isolated(isolated_env, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """No real cache, runs, data or external folder."""
    monkeypatch.delenv(ext.ENV_EXTERNAL_DIR, raising=False)
    return isolated_env


# ----------------------------------------------------------------------------- helpers


def save_image(path: Path, colour: tuple[int, int, int], mode: str = "RGB", size: int = 20) -> Path:
    """A solid-colour image at ``path``: a JPEG, or (``mode`` "P" / "RGBA") a GIF / PNG under
    the same ``.jpg`` name, as the Oxford-IIIT Pet archive has."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (size, size), colour)
    if mode == "P":
        image.convert("P", palette=Image.Palette.ADAPTIVE).save(path, format="GIF")
    elif mode == "RGBA":
        image.convert("RGBA").save(path, format="PNG")
    else:
        image.save(path, format="JPEG", quality=95)
    return path


#: The synthetic Oxford-style set: (file, colour, mode). The colour rule calls red cat and blue
#: dog with certainty, the pale colours with a confidence of about 0.88 (unsure).
OXFORD_FILES = [
    *[(f"cats/Abyssinian_{i}.jpg", RED, "RGB") for i in range(1, 5)],
    ("cats/Abyssinian_5.jpg", RED, "RGBA"),
    ("cats/Abyssinian_34.jpg", RED, "P"),
    *[(f"cats/Bengal_{i}.jpg", RED, "RGB") for i in range(1, 4)],
    ("cats/Bengal_4.jpg", BLUE, "RGB"),  # a sure mistake
    ("cats/Bengal_5.jpg", PALE_RED, "RGB"),  # right, unsure
    *[(f"dogs/american_bulldog_{i}.jpg", BLUE, "RGB") for i in range(1, 5)],
    ("dogs/american_bulldog_5.jpg", RED, "RGB"),  # a sure mistake
    ("dogs/beagle_1.jpg", BLUE, "RGB"),
    ("dogs/beagle_2.jpg", BLUE, "RGB"),
    ("dogs/beagle_3.jpg", PALE_BLUE, "RGB"),  # right, unsure
    *[(f"other/car/{i}.jpg", PALE_BLUE, "RGB") for i in range(3)],  # unsure, called dog
    ("other/car/3.jpg", BLUE, "RGB"),  # sure, called dog
    ("other/frog/0.jpg", PALE_RED, "RGB"),  # unsure, called cat
    ("other/frog/1.jpg", PALE_RED, "RGB"),
]


def make_oxford_folder(root: Path) -> Path:
    for name, colour, mode in OXFORD_FILES:
        save_image(root / name, colour, mode)
    (root / "cats" / "Bengal_9.jpg").write_bytes(b"not an image")  # listed, unreadable
    (root / "cats" / "Thumbs.db").write_bytes(b"ignored")
    return root


def make_cifar_folder(root: Path, n: int = 3) -> Path:
    for folder, colour in (("cats", RED), ("dogs", BLUE), ("other/airplane", PALE_BLUE), ("other/ship", PALE_RED)):
        for i in range(n):
            save_image(root / folder / f"{i:04d}.jpg", colour, size=32)
    return root


class ColourPredictor(Predictor):
    """P(dog) from colour alone: bluer than red -> dog (logit = (mean B - mean R) / 7.5)."""

    def __init__(self, path: Path, image_size: int = 16):
        super().__init__(Path(path), "keras", image_size)

    def logits(self, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
        images = np.asarray(images, dtype="float64")
        return (images[..., 2].mean(axis=(1, 2)) - images[..., 0].mean(axis=(1, 2))) / 7.5


def stub_model(folder: Path, threshold: float | None = OOD_THRESHOLD) -> Path:
    """A model file (only its name and sha256 are used) with, optionally, a publication
    record beside it holding its out-of-distribution threshold."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "stub.keras"
    path.write_bytes(b"stub model")
    if threshold is not None:
        (folder / f"{MODEL_STEM}.json").write_text(json.dumps({"files": {path.name: {"ood_threshold": threshold}}}))
    return path


@pytest.fixture(scope="module")
def keras_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained 32-pixel classifier saved as ``.keras`` (as in test_cli)."""
    from catsdogs.model.classifier import build_classifier

    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    build_classifier(tiny_config(), None).save(path)
    return path


# ----------------------------------------------------------------------------- names and listing


@pytest.mark.parametrize(
    ("name", "breed", "label"),
    [
        ("Abyssinian_12.jpg", "Abyssinian", 0),
        ("american_bulldog_100.jpg", "american_bulldog", 1),
        ("Egyptian_Mau_3.jpg", "Egyptian_Mau", 0),
        ("great_pyrenees_7.jpg", "great_pyrenees", 1),
        ("Bengal_5.png", "Bengal", 0),
    ],
)
def test_oxford_breed_and_species_from_the_file_name(name: str, breed: str, label: int) -> None:
    assert ext.oxford_breed(name) == breed
    assert ext.oxford_label(breed) == label


@pytest.mark.parametrize("name", ["Abyssinian.jpg", "12.jpg", "_12.jpg", "beagle_x.jpg"])
def test_a_name_off_the_convention_is_refused_naming_the_file(name: str) -> None:
    with pytest.raises(DataError, match=name.replace(".", r"\.")):
        ext.oxford_breed(name)


def test_listing_labels_groups_and_provenance(tmp_path: Path) -> None:
    data = ext.find_external_set("oxford-pets-sample", make_oxford_folder(tmp_path / "sample"))

    by_name = {im.name: im for im in data.images}
    assert len(data.images) == len(OXFORD_FILES) + 1  # + the unreadable file; Thumbs.db ignored
    assert by_name["cats/Abyssinian_34.jpg"].label == 0 and by_name["cats/Abyssinian_34.jpg"].group == "Abyssinian"
    assert by_name["dogs/american_bulldog_5.jpg"].label == 1
    assert by_name["dogs/american_bulldog_5.jpg"].group == "american_bulldog"
    assert by_name["other/frog/1.jpg"].label is None and by_name["other/frog/1.jpg"].group == "frog"

    prov = ext.set_provenance(data)
    assert prov["counts"] == {"cat": 12, "dog": 8, "non-pet": 6}
    assert prov["groups"]["Bengal"] == {"species": "cat", "n": 6}
    assert prov["groups"]["beagle"] == {"species": "dog", "n": 3}
    assert prov["groups"]["car"] == {"species": "non-pet", "n": 4}
    assert prov["found_through"] == "--external oxford-pets-sample=DIR" and prov["origin"] == "folder"
    assert prov["licence"].startswith("CC BY-SA 4.0") and prov["citation_url"].startswith("https://www.robots.ox.ac.uk")

    expected = hashlib.sha256(
        "".join(sorted(f"{im.name}\t{im.path.stat().st_size}\n" for im in data.images)).encode()
    ).hexdigest()
    assert prov["file_list_sha256"] == expected
    with open(by_name["cats/Bengal_1.jpg"].path, "ab") as fh:
        fh.write(b"\0")  # one byte more: another set
    again = ext.find_external_set("oxford-pets-sample", tmp_path / "sample")
    assert ext.set_provenance(again)["file_list_sha256"] != expected


def test_a_dog_breed_in_the_cats_folder_is_refused(tmp_path: Path) -> None:
    root = make_oxford_folder(tmp_path / "sample")
    save_image(root / "cats" / "beagle_9.jpg", BLUE)
    with pytest.raises(DataError, match=r"beagle_9\.jpg.*dog breed"):
        ext.find_external_set("oxford-pets-sample", root)


def test_palette_and_rgba_files_are_decoded(tmp_path: Path) -> None:
    root = make_oxford_folder(tmp_path / "sample")
    data = ext.find_external_set("oxford-pets-sample", root)
    for name in ("cats/Abyssinian_34.jpg", "cats/Abyssinian_5.jpg"):
        (image,) = [im for im in data.images if im.name == name]
        with Image.open(image.path) as im:
            assert im.mode in ("P", "RGBA")
        pixels = data.pixels(image, 24)
        assert pixels.shape == (24, 24, 3) and pixels.dtype == np.float32
        assert np.allclose(pixels.mean(axis=(0, 1)), RED, atol=3)


# ----------------------------------------------------------------------------- records


def test_record_counts_by_hand(tmp_path: Path) -> None:
    data = ext.find_external_set("oxford-pets-sample", make_oxford_folder(tmp_path / "sample"))
    model = stub_model(tmp_path / "model")

    records = evaluate_external(model, [data], n_samples=200, seed=3, predictor=ColourPredictor(model))
    r = records["oxford-pets-sample"].to_dict()  # the record as written

    assert r["model"]["file"] == "stub.keras"
    assert r["model"]["sha256"] == hashlib.sha256(b"stub model").hexdigest()
    assert r["model"]["ood_threshold"] == OOD_THRESHOLD
    assert list(r["unreadable"]) == ["cats/Bengal_9.jpg"]
    assert r["images"] == 26 and r["data"]["counts"] == {"cat": 12, "dog": 8, "non-pet": 6}

    pets = r["pets"]
    assert pets["n"] == 19
    assert pets["confusion_matrix"] == [[10, 1], [1, 7]]  # Bengal_4 and american_bulldog_5 wrong
    assert pets["accuracy"]["estimate"] == pytest.approx(17 / 19)
    for name in ("precision", "recall", "f1"):
        assert pets[name]["estimate"] == pytest.approx(7 / 8)
    for name in ("accuracy", "precision", "recall", "f1"):
        assert pets[name]["low"] <= pets[name]["estimate"] <= pets[name]["high"]
    assert (pets["unsure"]["k"], pets["unsure"]["n"]) == (2, 19)  # Bengal_5, beagle_3
    assert (pets["sure_accuracy"]["k"], pets["sure_accuracy"]["n"]) == (15, 17)
    assert list(pets["groups"]) == ["Abyssinian", "Bengal", "american_bulldog", "beagle"]
    counted = {g: (row["accuracy"]["k"], row["n"], row["unsure"]["k"]) for g, row in pets["groups"].items()}
    assert counted == {"Abyssinian": (6, 6, 0), "Bengal": (4, 5, 1), "american_bulldog": (4, 5, 0), "beagle": (3, 3, 1)}
    assert pets["groups"]["Abyssinian"]["accuracy"]["high"] == pytest.approx(1.0)
    assert pets["groups"]["Abyssinian"]["accuracy"]["low"] < 1.0  # Wilson: not a zero-width interval
    assert sorted(m["image"] for m in pets["mistakes"]) == ["cats/Bengal_4.jpg", "dogs/american_bulldog_5.jpg"]

    others = r["non_pets"]
    assert others["n"] == 6
    assert (others["unsure"]["k"], others["called_dog"]["k"]) == (5, 4)
    assert {c: (row["n"], row["unsure"]["k"], row["called_dog"]["k"]) for c, row in others["classes"].items()} == {
        "car": (4, 3, 4),
        "frog": (2, 2, 0),
    }
    again = evaluate_external(model, [data], n_samples=200, seed=3, predictor=ColourPredictor(model))
    assert again == records  # seeded: the same CIs
    json.dumps({name: record.to_dict() for name, record in records.items()})  # JSON-ready

    text = format_external(records)
    assert "oxford-pets-sample" in text and "below confidence 0.9500" in text
    assert "american_bulldog" in text and "photos of neither (6)" in text and "frog" in text


def test_record_without_a_published_threshold_says_so(tmp_path: Path) -> None:
    data = ext.find_external_set("oxford-pets-sample", make_oxford_folder(tmp_path / "sample"))
    model = stub_model(tmp_path / "model", threshold=None)

    record = evaluate_external(model, [data], n_samples=50, predictor=ColourPredictor(model))["oxford-pets-sample"]
    r = record.to_dict()

    assert r["model"]["ood_threshold"] is None and "no out-of-distribution threshold" in r["model"]["ood_note"]
    assert "unsure" not in r["pets"] and "sure_accuracy" not in r["pets"]
    assert all("unsure" not in row for row in r["pets"]["groups"].values())
    assert "unsure" not in r["non_pets"] and r["non_pets"]["called_dog"]["k"] == 4
    assert "no out-of-distribution threshold" in format_external({"oxford-pets-sample": record})


def test_wilson_interval() -> None:
    assert wilson_interval(0, 0).estimate is None
    w = wilson_interval(10, 10)
    assert w.estimate == 1.0 and w.high == pytest.approx(1.0) and 0.6 < w.low < 0.75


# ----------------------------------------------------------------------------- finding sets


def test_missing_set_names_it_and_what_to_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ext.MissingExternalSet) as info:
        ext.find_external_set("oxford-pets-sample")
    message = str(info.value)
    assert "oxford-pets-sample" in message and "CATSDOGS_EXTERNAL_DIR" in message and "now unset" in message
    assert "--external oxford-pets-sample=DIR" in message

    monkeypatch.setenv(ext.ENV_EXTERNAL_DIR, str(tmp_path))
    with pytest.raises(ext.MissingExternalSet, match=f"no {tmp_path / 'cifar10-test'}.*--download"):
        ext.find_external_set("cifar10-test")
    (tmp_path / "half" / "cats").mkdir(parents=True)
    with pytest.raises(ext.MissingExternalSet, match="--external oxford-pets-sample=.*half has no cats/, dogs/"):
        ext.find_external_set("oxford-pets-sample", tmp_path / "half")
    with pytest.raises(
        DataError, match="declared sets: oxford-pets-sample, oxford-pets-breeds, oxford-iiit-pet, cifar10-test"
    ):
        ext.parse_external_args(["oxford=DIR"])
    with pytest.raises(DataError, match="give the folder after '='"):
        ext.parse_external_args(["cifar10-test="])
    assert ext.parse_external_args(["cifar10-test", "oxford-pets-sample=x"]) == {
        "cifar10-test": None,
        "oxford-pets-sample": Path("x"),
    }


def test_every_set_lists_the_missing_ones_unless_none_is_found(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(ext.MissingExternalSet, match="no external test set found.*CATSDOGS_EXTERNAL_DIR"):
        ext.find_external_sets()
    make_cifar_folder(tmp_path / "external" / "cifar10-test")
    monkeypatch.setenv(ext.ENV_EXTERNAL_DIR, str(tmp_path / "external"))

    found, missing = ext.find_external_sets()

    assert [d.name for d in found] == ["cifar10-test"] and found[0].found_through == "$CATSDOGS_EXTERNAL_DIR"
    assert list(missing) == ["oxford-pets-sample", "oxford-pets-breeds", "oxford-iiit-pet"]
    assert all("CATSDOGS_EXTERNAL_DIR" in why for why in missing.values())


# ----------------------------------------------------------------------------- CIFAR-10 arrays


def fake_cifar(monkeypatch: pytest.MonkeyPatch, per_class: int = 3) -> np.ndarray:
    """Patch ``keras.datasets.cifar10.load_data`` with ``per_class`` images of each class
    (class = index mod 10); returns the test images."""
    import keras

    rng = np.random.default_rng(0)
    labels = np.tile(np.arange(10), per_class).reshape(-1, 1)
    images = rng.integers(0, 256, size=(len(labels), 32, 32, 3), dtype=np.uint8)
    train = (np.zeros((1, 32, 32, 3), np.uint8), np.zeros((1, 1), np.int64))

    def load_data():
        return train, (images, labels)

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", load_data)
    return images


def test_cifar_from_keras_arrays(monkeypatch: pytest.MonkeyPatch, isolated) -> None:
    images = fake_cifar(monkeypatch)

    data = ext.find_external_set("cifar10-test", cache=isolated["cache"], download=True)

    assert data.origin == "keras arrays" and data.found_through == "--download"
    assert [im.name for im in data.images] == [f"test[{i}]" for i in range(30)]
    assert [im.label for im in data.images[:10]] == [None, None, None, 0, None, 1, None, None, None, None]
    assert [im.group for im in data.images[:4]] == ["airplane", "automobile", "bird", "cat"]
    prov = ext.set_provenance(data)
    assert prov["counts"] == {"cat": 3, "dog": 3, "non-pet": 24}
    assert "not JPEG copies" in prov["arrays"] and "arrays_sha256" in prov and "file_list_sha256" not in prov
    import tensorflow as tf

    expected = tf.image.resize(images[5], (16, 16), antialias=True).numpy()
    assert np.allclose(data.pixels(data.images[5], 16), expected, atol=1e-3)

    few = ext.load_cifar10_test(per_other_class=1)
    assert [im.name for im in few.images] == [f"test[{i}]" for i in range(10)] + [
        "test[13]",
        "test[15]",
        "test[23]",
        "test[25]",
    ]
    assert ext.set_provenance(few)["counts"] == {"cat": 3, "dog": 3, "non-pet": 8}


def test_cifar_without_internet_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, isolated) -> None:
    import keras

    def offline():
        raise OSError("no route to host")

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    with pytest.raises(ext.MissingExternalSet, match="load_data.*no route to host.*CATSDOGS_EXTERNAL_DIR"):
        ext.find_external_set("cifar10-test", cache=isolated["cache"], download=True)


# ----------------------------------------------------------------------------- Oxford archive


def _jpeg_bytes(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (12, 12), colour).save(buf, format="JPEG")
    return buf.getvalue()


def make_oxford_archive(path: Path, colour: tuple[int, int, int] = RED) -> Path:
    """A tiny ``images.tar.gz``: three images, a ``.mat`` file, two ``..`` members and a link."""
    members = {
        "images/Abyssinian_1.jpg": _jpeg_bytes(colour),
        "images/Abyssinian_2.jpg": _jpeg_bytes(colour),
        "images/beagle_1.jpg": _jpeg_bytes(BLUE),
        "images/Abyssinian_1.mat": b"not an image",
        "../evil.jpg": b"escaped",
        "images/../evil2.jpg": b"escaped",
    }
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        link = tarfile.TarInfo("images/link.jpg")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
    return path


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


class _QuietHandler(SimpleHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self.server.request_log.append(self.path)  # type: ignore[attr-defined]
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str, list[str]]]:
    """``(folder, base url, requests)``: ``folder`` served on 127.0.0.1 holding ``images.tar.gz``."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    root = tmp_path / "served"
    root.mkdir()
    make_oxford_archive(root / "images.tar.gz")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    httpd.request_log = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        host, port = httpd.server_address[:2]
        yield root, f"http://{host}:{port}", httpd.request_log  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def test_oxford_download_extracts_only_the_images_once(served, tmp_path: Path, monkeypatch) -> None:
    root, base, requests = served
    cache = tmp_path / "cache"
    md5 = _md5(root / "images.tar.gz")

    dest = ext.fetch_oxford_pets(cache, f"{base}/images.tar.gz", md5, progress=False)

    assert sorted(p.name for p in (dest / "images").iterdir()) == [
        "Abyssinian_1.jpg",
        "Abyssinian_2.jpg",
        "beagle_1.jpg",
    ]
    assert not list(cache.rglob("evil*")) and not list(cache.rglob("link.jpg")) and not list(cache.rglob("*.mat"))
    assert ext.fetch_oxford_pets(cache, f"{base}/images.tar.gz", md5, progress=False) == dest
    assert requests == ["/images.tar.gz"]  # the second call reused the extraction

    monkeypatch.setattr(ext, "OXFORD_PETS_MD5", md5)  # the tiny archive stands for the real one
    cached = ext.find_external_set("oxford-iiit-pet", cache=cache)
    assert cached.found_through == "the cache" and cached.origin == "downloaded archive"
    prov = ext.set_provenance(cached)
    assert prov["counts"] == {"cat": 2, "dog": 1, "non-pet": 0}
    assert set(prov["groups"]) == {"Abyssinian", "beagle"}
    assert prov["download"]["md5"] == md5 and prov["download"]["images_extracted"] == 3

    monkeypatch.setattr(ext, "OXFORD_PETS_URL", f"{base}/images.tar.gz")
    fresh = ext.find_external_set("oxford-iiit-pet", cache=tmp_path / "other-cache", download=True)
    assert fresh.found_through == "--download" and len(fresh.images) == 3


def test_a_tampered_archive_is_refused(served, tmp_path: Path) -> None:
    root, base, _ = served
    good_md5 = _md5(root / "images.tar.gz")
    make_oxford_archive(root / "images.tar.gz", colour=(0, 255, 0))  # same names, other bytes
    cache = tmp_path / "cache"

    with pytest.raises(ValueError, match=f"md5 mismatch.*expected {good_md5}"):
        ext.fetch_oxford_pets(cache, f"{base}/images.tar.gz", good_md5, progress=False)

    assert not list((cache / "downloads").iterdir())  # deleted, no .part left
    assert not (cache / "datasets" / "oxford-iiit-pet").exists()


def test_archive_checks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected_md5"):
        ext.fetch_oxford_pets(tmp_path, "http://127.0.0.1:9/x", "abc")
    page = tmp_path / "page.tar.gz"
    page.write_text("<html>not an archive</html>")
    with pytest.raises(ValueError, match=r"page\.tar\.gz is not a readable \.tar\.gz"):
        ext.extract_oxford_images(page, tmp_path / "out")
    other = tmp_path / "other.tar.gz"
    with tarfile.open(other, "w:gz") as tar:
        info = tarfile.TarInfo("annotations/list.txt")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(ValueError, match="no images/\\*.jpg"):
        ext.extract_oxford_images(other, tmp_path / "out")


# ----------------------------------------------------------------------------- command line


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_cli_table_json_and_out(keras_model: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    sample = make_oxford_folder(tmp_path / "sample")
    external = tmp_path / "external"
    make_cifar_folder(external / "cifar10-test")
    monkeypatch.setenv(ext.ENV_EXTERNAL_DIR, str(external))
    out = tmp_path / "results"
    argv = ["evaluate", "--model", str(keras_model), "--external", f"oxford-pets-sample={sample}", "cifar10-test"]

    assert main([*argv, "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "tiny.keras" in table and "no out-of-distribution threshold" in table
    assert "oxford-pets-sample: Oxford-IIIT Pet sample" in table and "cifar10-test: CIFAR-10" in table
    for row in ("accuracy", "precision (dog)", "recall (dog)", "F1 (dog)", "Abyssinian", "beagle", "airplane"):
        assert row in table
    written = out / "tiny.keras.json"
    assert f"record written to {written}" in table

    assert main([*argv, "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record == json.loads(written.read_text())
    assert record["sets"]["cifar10-test"]["data"]["location"] == "$CATSDOGS_EXTERNAL_DIR/cifar10-test"
    assert str(external) not in written.read_text()

    # the accuracy is the hand count of the model's own predictions, file by file
    files = sorted((sample / "cats").glob("*.jpg")) + sorted((sample / "dogs").glob("*.jpg"))
    predictions = predict_files(load_predictor(keras_model), files)
    readable = [(p, r) for p, r in zip(files, predictions) if r.error is None]
    correct = sum(r.label == ("cat" if p.parent.name == "cats" else "dog") for p, r in readable)
    pets = record["sets"]["oxford-pets-sample"]["pets"]
    assert pets["n"] == len(readable) == 19
    assert pets["accuracy"]["estimate"] == pytest.approx(correct / 19)


def test_cli_missing_sets(keras_model: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    def error(argv: list[str]) -> str:
        assert main(argv) == 2
        (line,) = _error_lines(capsys.readouterr().err)
        return line

    line = error(["evaluate", "--model", str(keras_model), "--external"])
    assert "no external test set found" in line and "CATSDOGS_EXTERNAL_DIR" in line
    line = error(["evaluate", "--model", str(keras_model), "--external", f"oxford-pets-sample={tmp_path / 'nope'}"])
    assert "oxford-pets-sample" in line and "--external oxford-pets-sample=DIR" in line
    assert "--external" in error(["evaluate", "--model", str(keras_model), "--out", str(tmp_path)])

    external = tmp_path / "external"
    make_cifar_folder(external / "cifar10-test", n=2)
    monkeypatch.setenv(ext.ENV_EXTERNAL_DIR, str(external))
    assert main(["evaluate", "--model", str(keras_model), "--external"]) == 0
    table = capsys.readouterr().out
    assert "cifar10-test: CIFAR-10" in table
    assert "not available: oxford-pets-sample" in table and "not available: oxford-iiit-pet" in table


# ----------------------------------------------------------------------------- the real sets


@pytest.mark.real
def test_the_shared_external_sets(monkeypatch: pytest.MonkeyPatch) -> None:
    if not REAL_EXTERNAL_DIR or not Path(REAL_EXTERNAL_DIR).is_dir():
        pytest.skip(f"{ext.ENV_EXTERNAL_DIR} does not point at an existing directory (real data needed)")
    monkeypatch.setenv(ext.ENV_EXTERNAL_DIR, REAL_EXTERNAL_DIR)

    found, missing = ext.find_external_sets()

    sets = {d.name: d for d in found}
    assert set(sets) == {"oxford-pets-sample", "oxford-pets-breeds", "cifar10-test"} and list(missing) == [
        "oxford-iiit-pet"
    ]
    oxford = ext.set_provenance(sets["oxford-pets-sample"])
    assert oxford["counts"] == {"cat": 380, "dog": 190, "non-pet": 0}
    assert {g: row["n"] for g, row in oxford["groups"].items()} == {
        "Abyssinian": 190,
        "Bengal": 190,
        "american_bulldog": 190,
    }
    cifar = ext.set_provenance(sets["cifar10-test"])
    assert cifar["counts"] == {"cat": 1000, "dog": 1000, "non-pet": 1600}
    assert sorted(g for g, row in cifar["groups"].items() if row["species"] == "non-pet") == [
        c for c in ext.CIFAR10_CLASSES if c not in ("cat", "dog")
    ]
    for name in ("cats/Abyssinian_34.jpg", "cats/Abyssinian_5.jpg"):  # the palette and the RGBA file
        (image,) = [im for im in sets["oxford-pets-sample"].images if im.name == name]
        assert sets["oxford-pets-sample"].pixels(image, 224).shape == (224, 224, 3)
