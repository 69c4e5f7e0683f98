"""TFLite exports of the classifier: float32 matches Keras, int8 stays close, predictors agree."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from catsdogs.config import get_config  # noqa: E402  (after the Keras check)
from catsdogs.evaluation.export import convert_to_tflite, format_bench  # noqa: E402
from catsdogs.evaluation.predict import load_predictor  # noqa: E402
from catsdogs.model.classifier import build_classifier, inference_model  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    keras.utils.set_random_seed(0)
    cfg = get_config("smoke", image_size=32, weights="none")
    model = build_classifier(cfg, None)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, size=(16, 32, 32, 3)).astype("float32")
    out = tmp_path_factory.mktemp("export")
    infer = inference_model(model)
    infer.save(out / "m.keras")
    convert_to_tflite(infer, out / "m.float32.tflite")
    convert_to_tflite(infer, out / "m.int8.tflite", representative_images=images)
    ref = 1 / (1 + np.exp(-model.predict(images, verbose=0).reshape(-1)))
    return out, images, ref


def test_inference_model_matches_training_model_at_inference(tiny):
    out, images, ref = tiny
    p = load_predictor(out / "m.keras")
    assert p.kind == "keras" and p.image_size == 32
    np.testing.assert_allclose(p.predict(images), ref, atol=1e-5)


def test_float32_tflite_matches_keras(tiny):
    out, images, ref = tiny
    p = load_predictor(out / "m.float32.tflite")
    assert p.kind == "tflite" and p.image_size == 32
    assert list(p.input["shape_signature"]) == [1, 32, 32, 3]  # static batch: what LiteRT.js accepts
    np.testing.assert_allclose(p.predict(images, batch_size=5), ref, atol=1e-4)


def test_int8_tflite_is_integer_and_close(tiny):
    out, images, ref = tiny
    predictor = load_predictor(out / "m.int8.tflite")
    assert predictor.input["dtype"] == np.uint8
    probs = predictor.predict(images)
    assert probs.shape == ref.shape
    assert np.all((probs >= 0) & (probs <= 1))
    assert np.max(np.abs(probs - ref)) < 0.15
    assert (out / "m.int8.tflite").stat().st_size < (out / "m.float32.tflite").stat().st_size


def test_load_predictor_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_predictor(tmp_path / "missing.keras")
    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"x")
    with pytest.raises(ValueError, match=".keras model or a .tflite"):
        load_predictor(bad)


def test_format_bench_table():
    from catsdogs.records import Bench, Hardware, Latency, ModelLatency

    entry = ModelLatency(
        single=Latency(median_ms=2.0, p90_ms=2.5, min_ms=1.5),
        batched_per_image=Latency(median_ms=1.0, p90_ms=1.2, min_ms=0.9),
        speedup_vs_keras_single=10.0,
        speedup_vs_keras_batched=5.0,
    )
    hardware = Hardware(cpu="X", logical_cores=2)
    text = format_bench(
        Bench(repeats=3, batch_size=8, hardware=hardware, models={"keras": entry, "tflite_int8": entry})
    )
    assert "tflite_int8" in text and "10.00" in text
