"""Tests of :mod:`catsdogs.model.weights`.

The unit tests need nothing but a temporary directory.  The real tests convert the
int8 TFLite MobileNetV2 and compare it with the TFLite interpreter on real pet
photos; they run only when both inputs are configured::

    CATSDOGS_WEIGHTS=<...>/tf2_mobilenet_v2_1.0_224_ptq.tflite \
    CATSDOGS_DATA_DIR=<...>/PetImages  pytest tests/test_weights.py
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from imagenet_reference import CAT_CLASSES, DOG_CLASSES, imagenet_labels, superclass_of, superclass_scores

from catsdogs.config import ENV_DATA_DIR, ENV_WEIGHTS, Config
from catsdogs.files import file_sha256
from catsdogs.model.weights import WeightsInfo, _cached, _output_names, convert_tflite_mobilenet_v2, resolve_weights

# ======================================================================================
# unit tests (fast, no external inputs)
# ======================================================================================


def test_file_sha256_matches_hashlib_across_chunks(tmp_path: Path) -> None:
    data = os.urandom(10_000)
    file = tmp_path / "blob.bin"
    file.write_bytes(data)
    expected = hashlib.sha256(data).hexdigest()
    assert file_sha256(file) == expected
    assert file_sha256(file, chunk_size=999) == expected  # several partial chunks


def test_resolve_imagenet_explicit_and_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = resolve_weights(Config(weights="imagenet", cache_dir=str(tmp_path)))
    assert info.keras_weights == "imagenet"
    assert info.kind == "keras-download"
    assert info.source_sha256 is None and info.converted_sha256 is None

    monkeypatch.delenv(ENV_WEIGHTS, raising=False)
    default = resolve_weights(Config(cache_dir=str(tmp_path)), include_top=True)
    assert default.kind == "keras-download" and default.include_top


def test_resolve_reads_environment_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    weights = tmp_path / "base.weights.h5"
    weights.write_bytes(b"not really hdf5")
    monkeypatch.setenv(ENV_WEIGHTS, str(weights))
    info = resolve_weights(Config(cache_dir=str(tmp_path)))
    assert info.kind == "keras-file"
    assert info.keras_weights == str(weights)


@pytest.mark.parametrize("name", ["model.h5", "model.weights.h5", "MODEL.H5"])
def test_resolve_keras_file(tmp_path: Path, name: str) -> None:
    weights = tmp_path / name
    weights.write_bytes(b"weights")
    info = resolve_weights(Config(weights=str(weights), cache_dir=str(tmp_path)))
    assert info == WeightsInfo(
        keras_weights=str(weights),
        kind="keras-file",
        source=str(weights),
        source_sha256=hashlib.sha256(b"weights").hexdigest(),
    )
    record = info.to_dict()
    assert json.loads(json.dumps(record)) == record
    assert record["kind"] == "keras-file"


@pytest.mark.parametrize("name", ["missing.tflite", "missing.weights.h5", "missing.h5"])
def test_missing_file_message_names_path_and_fix(tmp_path: Path, name: str) -> None:
    missing = tmp_path / name
    with pytest.raises(FileNotFoundError) as err:
        resolve_weights(Config(weights=str(missing), cache_dir=str(tmp_path)))
    message = str(err.value)
    assert str(missing) in message
    assert ENV_WEIGHTS in message and "--weights" in message
    assert "imagenet" in message and ".tflite" in message


def test_directory_is_not_a_weights_file(tmp_path: Path) -> None:
    folder = tmp_path / "looks_like.h5"
    folder.mkdir()
    with pytest.raises(FileNotFoundError, match="directory"):
        resolve_weights(Config(weights=str(folder), cache_dir=str(tmp_path)))


@pytest.mark.parametrize("spec", ["model.pt", "model.keras", "imagenet21k", "weights"])
def test_unknown_extension_message(tmp_path: Path, spec: str) -> None:
    path = tmp_path / spec
    path.write_bytes(b"x")
    with pytest.raises(ValueError) as err:
        resolve_weights(Config(weights=str(path), cache_dir=str(tmp_path)))
    message = str(err.value)
    assert str(path) in message
    assert ENV_WEIGHTS in message and "--weights" in message
    for accepted in ("imagenet", ".h5", ".weights.h5", ".tflite"):
        assert accepted in message


def test_tflite_needs_alpha_one(tmp_path: Path) -> None:
    fake = tmp_path / "model.tflite"
    fake.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="alpha"):
        resolve_weights(Config(weights=str(fake), cache_dir=str(tmp_path), alpha=0.5))


def test_convert_missing_source(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.tflite"):
        convert_tflite_mobilenet_v2(tmp_path / "nope.tflite", tmp_path / "out")


def test_cache_record_is_checked(tmp_path: Path) -> None:
    """A cache is reused only for the same source sha256 and unchanged files."""
    source_sha = "ab" * 32
    notop, top, meta = _output_names(source_sha)
    assert source_sha[:12] in notop and source_sha[:12] in top and source_sha[:12] in meta
    (tmp_path / notop).write_bytes(b"notop")
    (tmp_path / top).write_bytes(b"top")
    record = {
        "format_version": 1,
        "source_sha256": source_sha,
        "files": {
            "notop": {"sha256": file_sha256(tmp_path / notop)},
            "top": {"sha256": file_sha256(tmp_path / top)},
        },
    }
    (tmp_path / meta).write_text(json.dumps(record))
    assert _cached(tmp_path, source_sha) is not None

    (tmp_path / meta).write_text(json.dumps({**record, "source_sha256": "cd" * 32}))
    assert _cached(tmp_path, source_sha) is None  # record of another source

    (tmp_path / meta).write_text(json.dumps(record))
    (tmp_path / top).write_bytes(b"truncated")
    assert _cached(tmp_path, source_sha) is None  # file changed since conversion

    (tmp_path / meta).write_text("{not json")
    assert _cached(tmp_path, source_sha) is None


def test_imagenet_labels_drops_background(tmp_path: Path) -> None:
    names = [f"class {i}" for i in range(1000)]
    with_bg = tmp_path / "labels1001.txt"
    with_bg.write_text("\n".join(["background", *names]) + "\n")
    assert imagenet_labels(with_bg) == names
    assert imagenet_labels(with_bg, drop_background=False)[0] == "background"

    plain = tmp_path / "labels1000.txt"
    plain.write_text("\n".join(names))
    assert imagenet_labels(plain) == names

    short = tmp_path / "short.txt"
    short.write_text("a\nb\n")
    with pytest.raises(ValueError, match="2 labels"):
        imagenet_labels(short)


def test_superclasses() -> None:
    assert len(DOG_CLASSES) == 118 and len(CAT_CLASSES) == 5
    assert not CAT_CLASSES & DOG_CLASSES
    assert superclass_of(151) == "dog" and superclass_of(268) == "dog"
    assert superclass_of(150) is None and superclass_of(269) is None  # sea lion, timber wolf
    assert [superclass_of(i) for i in range(281, 286)] == ["cat"] * 5
    assert superclass_of(286) is None  # cougar
    assert superclass_of(np.int64(282)) == "cat"
    for bad in (-1, 1000):
        with pytest.raises(ValueError):
            superclass_of(bad)

    probs = np.zeros((2, 1000), np.float32)
    probs[0, 281], probs[0, 285], probs[0, 151] = 0.5, 0.25, 0.1
    probs[1, 200] = 0.9
    np.testing.assert_allclose(superclass_scores(probs), [[0.75, 0.1], [0.0, 0.9]])
    with pytest.raises(ValueError):
        superclass_scores(np.zeros((2, 1001)))


# ======================================================================================
# real tests: the int8 TFLite model and real pet photos
# ======================================================================================
N_PER_CLASS = 20
IMAGE_SIZE = 224


@pytest.fixture(scope="module")
def tflite_path() -> Path:
    value = os.environ.get(ENV_WEIGHTS, "")
    path = Path(value).expanduser()
    if not (value.lower().endswith(".tflite") and path.is_file()):
        pytest.skip(f"real conversion test: set {ENV_WEIGHTS} to the int8 MobileNetV2 .tflite file (now {value!r})")
    return path


@pytest.fixture(scope="module")
def pet_images_dir() -> Path:
    value = os.environ.get(ENV_DATA_DIR, "")
    path = Path(value).expanduser()
    if not (value and (path / "Cat").is_dir() and (path / "Dog").is_dir()):
        pytest.skip(
            f"real conversion test: set {ENV_DATA_DIR} to a PetImages directory with Cat/ and Dog/ (now {value!r})"
        )
    return path


@pytest.fixture(scope="module")
def converted_cache(tflite_path: Path, tmp_path_factory: pytest.TempPathFactory):
    """``(cache_dir, first ConvertedWeights)``: converted once into pytest's temp dir."""
    cache = tmp_path_factory.mktemp("catsdogs-cache")
    converted = convert_tflite_mobilenet_v2(tflite_path, cache / "weights")
    print(f"\nconversion: {converted.seconds:.1f} s")  # shown with pytest -s
    return cache, converted


@pytest.fixture(scope="module")
def pet_batch(pet_images_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """The first 20 cats and 20 dogs by file id, as uint8 [40, 224, 224, 3], and labels."""
    from PIL import Image

    images, labels = [], []
    for label, folder in enumerate(("Cat", "Dog")):
        files = sorted(
            (pet_images_dir / folder).glob("*.jpg"),
            key=lambda p: (int(p.stem) if p.stem.isdigit() else 10**9, p.name),
        )
        taken = 0
        for file in files:
            if taken == N_PER_CLASS:
                break
            try:
                with Image.open(file) as img:
                    rgb = img.convert("RGB").resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR)
            except OSError:
                continue  # unreadable file: take the next one
            images.append(np.asarray(rgb, dtype=np.uint8))
            labels.append(label)
            taken += 1
    if len(images) < 2 * N_PER_CLASS:
        pytest.skip(f"need {N_PER_CLASS} readable images per class in {pet_images_dir}")
    return np.stack(images), np.asarray(labels)


def test_conversion_cached_and_recorded(converted_cache, tflite_path: Path) -> None:
    cache, first = converted_cache
    assert first.notop_path.is_file() and first.top_path.is_file()
    assert first.source_sha256 == file_sha256(tflite_path)
    assert first.source_sha256[:12] in first.notop_path.name

    record = json.loads(first.metadata_path.read_text())
    assert record["source_sha256"] == first.source_sha256
    counts = record["tensor_counts"]
    assert (counts["conv2d"], counts["depthwise_conv2d"], counts["top_conv1x1"]) == (35, 17, 1)
    assert record["files"]["notop"]["sha256"] == file_sha256(first.notop_path)
    assert {"keras", "tensorflow"} <= set(record["versions"])

    again = convert_tflite_mobilenet_v2(tflite_path, cache / "weights")
    assert again.reused and not first.reused
    assert again.top_sha256 == first.top_sha256

    info = resolve_weights(Config(weights=str(tflite_path), cache_dir=str(cache)))
    assert info.kind == "tflite-converted"
    assert info.keras_weights == str(first.notop_path)
    assert info.converted_sha256 == first.notop_sha256
    assert info.source_sha256 == first.source_sha256
    top = resolve_weights(Config(weights=str(tflite_path), cache_dir=str(cache)), True)
    assert top.keras_weights == str(first.top_path)


def test_notop_weights_load_at_other_sizes(converted_cache) -> None:
    import keras

    _, converted = converted_cache
    top = keras.applications.MobileNetV2(include_top=True, weights=str(converted.top_path), input_shape=(224, 224, 3))
    base = keras.applications.MobileNetV2(
        include_top=False, weights=str(converted.notop_path), input_shape=(128, 128, 3)
    )
    assert base.output_shape == (None, 4, 4, 1280)
    for name in ("Conv1", "bn_Conv1", "block_16_project", "Conv_1_bn"):
        for mine, theirs in zip(base.get_layer(name).get_weights(), top.get_layer(name).get_weights()):
            np.testing.assert_array_equal(mine, theirs)
    bn = base.get_layer("bn_Conv1")
    gamma, _, mean, variance = bn.get_weights()
    np.testing.assert_array_equal(gamma, 1.0)
    np.testing.assert_array_equal(mean, 0.0)
    np.testing.assert_allclose(variance + bn.epsilon, 1.0, rtol=1e-6)


def test_converted_model_agrees_with_tflite(
    converted_cache, tflite_path: Path, pet_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    import keras
    from imagenet_reference import tflite_classify

    _, converted = converted_cache
    images, labels = pet_batch
    reference = tflite_classify(tflite_path, images, drop_background=False)  # [N, 1001]
    reference_top1 = reference.argmax(axis=1) - 1  # background -> -1, never agrees

    model = keras.applications.MobileNetV2(include_top=True, weights=str(converted.top_path), input_shape=(224, 224, 3))
    inputs = keras.applications.mobilenet_v2.preprocess_input(images.astype("float32"))
    probs = model.predict(inputs, batch_size=20, verbose=0)
    keras_top1 = probs.argmax(axis=1)

    agreement = float(np.mean(keras_top1 == reference_top1))
    names = {"cat": 0, "dog": 1}
    predicted = np.array([names.get(superclass_of(i), -1) for i in keras_top1])
    superclass_accuracy = float(np.mean(predicted == labels))
    summed_accuracy = float(np.mean(superclass_scores(probs).argmax(axis=1) == labels))
    print(
        f"\ntop-1 agreement with TFLite: {agreement:.1%}; superclass accuracy "
        f"(top-1 class): {superclass_accuracy:.1%}; (summed mass): {summed_accuracy:.1%}"
    )
    assert agreement >= 0.90, f"Keras/TFLite top-1 agreement only {agreement:.1%}"
    assert superclass_accuracy >= 0.80, f"cat/dog superclass accuracy {superclass_accuracy:.1%}"
