"""Every corruption: shape, dtype, range, severity 0 = identity, monotone effect."""

import numpy as np
import pytest

from catsdogs.data.split import stratified_subset
from catsdogs.studies import corruptions as C
from catsdogs.studies import robustness as R


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    rng = np.random.default_rng(0)
    # smooth colourful images (blur and JPEG act on structure, not on iid noise alone)
    yy, xx = np.mgrid[0:128, 0:128] / 127.0  # larger than every low_resolution level
    base = np.stack([yy, xx, 1 - yy * xx], axis=-1) * 200 + 20
    imgs = np.stack([base + rng.normal(0, 15, base.shape) for _ in range(4)])
    return np.clip(imgs, 0, 255).astype("float32")


def _change(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a - b)))


@pytest.mark.parametrize("name", C.CORRUPTIONS)
def test_contract(images, name):
    for severity in C.SEVERITIES:
        out = C.corrupt(images, name, severity, seed=1)
        assert out.shape == images.shape
        assert out.dtype == np.float32
        assert out.min() >= 0 and out.max() <= 255
    np.testing.assert_allclose(C.corrupt(images, name, 0), images, atol=1e-4)


@pytest.mark.parametrize("name", C.CORRUPTIONS)
def test_effect_grows_with_severity(images, name):
    changes = [_change(C.corrupt(images, name, s, seed=3), images) for s in C.SEVERITIES]
    assert changes[0] < 1e-3
    assert all(b >= a - 1e-3 for a, b in zip(changes, changes[1:])), changes
    assert changes[-1] > changes[1] > 0


@pytest.mark.parametrize("name", C.CORRUPTIONS)
def test_deterministic_for_a_seed(images, name):
    np.testing.assert_array_equal(C.corrupt(images, name, 3, seed=5), C.corrupt(images, name, 3, seed=5))


def test_specific_meanings(images):
    dark = C.corrupt(images, "low_light", 5)
    assert dark.mean() < 0.2 * images.mean()
    gray = C.corrupt(images, "grayscale", 5)
    np.testing.assert_allclose(gray[..., 0], gray[..., 1], atol=1e-3)
    np.testing.assert_allclose(gray[..., 1], gray[..., 2], atol=1e-3)
    for severity, fraction in enumerate(C.levels("occlusion")):
        occluded = C.corrupt(images, "occlusion", severity)
        hidden = np.mean(np.all(occluded == 127.5, axis=-1) & ~np.all(images == 127.5, axis=-1))
        assert abs(hidden - fraction) < 0.03
    center = C.corrupt(images, "occlusion_center", 3)
    assert np.all(center[:, 64, 64] == 127.5)


def test_low_resolution_keeps_only_a_thumbnail_of_detail():
    checker = np.indices((48, 48)).sum(axis=0) % 2 * 255.0  # 1-pixel detail
    images = np.repeat(checker[None, ..., None], 3, axis=-1).astype("float32")
    sharp_detail = images.std()
    for severity, side in enumerate(C.levels("low_resolution")):
        out = C.corrupt(images, "low_resolution", severity)
        assert out.shape == images.shape
        if side == 0 or side >= 48:
            np.testing.assert_array_equal(out, images)
        else:  # the checkerboard cannot survive a shrink: it averages to mid-grey
            assert out.std() < 0.5 * sharp_detail
            assert abs(out.mean() - images.mean()) < 2.0


def test_bad_inputs(images):
    with pytest.raises(ValueError, match="unknown corruption"):
        C.corrupt(images, "fog", 1)
    with pytest.raises(ValueError, match="severity"):
        C.corrupt(images, "blur", 9)
    with pytest.raises(ValueError, match="shape"):
        C.corrupt(images[0], "blur", 1)


def test_example_grid_and_subset(images):
    imgs, titles = C.example_grid(images[0], names=("low_light", "grayscale"), severities=(0, 2, 5))
    assert len(imgs) == len(titles) == 6
    labels = np.array([0] * 10 + [1] * 30)
    idx = stratified_subset(labels, 5, seed=0)
    assert len(idx) == 10 and (labels[idx] == 0).sum() == 5
    np.testing.assert_array_equal(idx, stratified_subset(labels, 5, seed=0))
    assert len(stratified_subset(labels, None, seed=0)) == 40


def test_gradcam_shapes_and_peaks():
    keras = pytest.importorskip("keras")
    from catsdogs.config import get_config
    from catsdogs.evaluation.explain import gradcam, overlay, peak_locations
    from catsdogs.model.classifier import build_classifier

    keras.utils.set_random_seed(0)
    model = build_classifier(get_config("smoke", image_size=32, weights="none"), None)
    imgs = np.random.default_rng(0).uniform(0, 255, (3, 32, 32, 3)).astype("float32")
    maps, probs = gradcam(model, imgs)
    assert maps.shape == (3, 32, 32) and probs.shape == (3,)
    assert maps.min() >= 0 and maps.max() <= 1 + 1e-6
    peaks = peak_locations(maps)
    assert peaks.shape == (3, 2) and peaks.max() < 32
    assert overlay(imgs[0], maps[0]).dtype == np.uint8


@pytest.mark.parametrize("kind", R.OOD_KINDS)
def test_ood_images(images, kind):
    out = R.make_ood(images, kind, seed=0)
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 255
    np.testing.assert_array_equal(out, R.make_ood(images, kind, seed=0))
    with pytest.raises(ValueError, match="unknown"):
        R.make_ood(images, "cartoon")
