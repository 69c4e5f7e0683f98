"""The limitations study: corrupt validation images at graded severities and measure.

The paper names three weaknesses without measuring them: poor lighting, partial
occlusion and grayscale inputs. Each corruption here is a pure function of a batch
of images and a severity level 0..5 (0 = the image unchanged), seeded where random,
so the study is reproducible. Blur and JPEG compression are extras.

Images are float32 ``(n, S, S, 3)`` RGB in [0, 255] in and out. The study starts
from 8-bit images (the resized validation images rounded to integers, as a camera
or an image file would hold them), so its clean accuracy can differ by an image or
two from chapter 5's, which scores the unrounded training pipeline.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from tqdm import tqdm

from catsdogs import calibration, images
from catsdogs.bootstrap import bootstrap_ci
from catsdogs.evaluate import final_predictions_file
from catsdogs.predict import KEEP_IN_DISTRIBUTION, confidence, fit_ood_threshold, load_predictor, read_predictions
from catsdogs.split import stratified_subset
from catsdogs.train import final_model_path

log = logging.getLogger(__name__)

SEVERITIES: tuple[int, ...] = (0, 1, 2, 3, 4, 5)

#: The parameter each severity level maps to, per corruption (index = severity).
LEVELS: dict[str, tuple[float, ...]] = {
    # brightness factor (gamma grows alongside, see low_light)
    "low_light": (1.0, 0.7, 0.5, 0.35, 0.2, 0.1),
    # brightness factor as low_light, plus Gaussian sensor noise sigma (0-255 scale)
    "low_light_noise": (0.0, 4.0, 8.0, 12.0, 16.0, 20.0),
    # fraction of the image area hidden by one square patch, random position
    "occlusion": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
    # same, patch centred on the image centre (where the animal usually is)
    "occlusion_center": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5),
    # desaturation: 0 = colour, 1 = fully grayscale
    "grayscale": (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
    # Gaussian blur sigma in pixels at the model's input size
    "blur": (0.0, 0.5, 1.0, 1.5, 2.0, 3.0),
    # JPEG quality (100 at level 0 means: not re-encoded)
    "jpeg": (100.0, 50.0, 30.0, 15.0, 8.0, 4.0),
}
_GAMMA = (1.0, 1.2, 1.4, 1.6, 1.8, 2.0)

#: The paper's three limitations, in the order the book shows them.
PAPER_LIMITATIONS: tuple[str, ...] = ("low_light", "occlusion", "grayscale")
CORRUPTIONS: tuple[str, ...] = tuple(LEVELS)
#: Occlusion centred on the Grad-CAM peak of each image (needs the model, so it
#: lives in the study, not in :func:`corrupt`).
GRADCAM_OCCLUSION = "occlusion_gradcam"
STUDY: tuple[str, ...] = (*CORRUPTIONS, GRADCAM_OCCLUSION)


def _check(images: np.ndarray, severity: int) -> np.ndarray:
    images = np.asarray(images, dtype="float32")
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"expected images of shape (n, H, W, 3), got {images.shape}")
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {SEVERITIES}, got {severity!r}")
    return images


def darken(images: np.ndarray, factor: float, gamma: float) -> np.ndarray:
    """Poor lighting: ``255 * factor * (x / 255) ** gamma``."""
    return (255.0 * factor * np.power(images / 255.0, gamma)).astype("float32")


def low_light(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    images = _check(images, severity)
    return darken(images, LEVELS["low_light"][severity], _GAMMA[severity])


def low_light_noise(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    """Low light plus sensor-like Gaussian noise (what a phone does in the dark)."""
    images = _check(images, severity)
    dark = darken(images, LEVELS["low_light"][severity], _GAMMA[severity])
    sigma = LEVELS["low_light_noise"][severity]
    if sigma == 0:
        return dark
    noise = np.random.default_rng(seed).normal(0.0, sigma, size=dark.shape)
    return np.clip(dark + noise, 0, 255).astype("float32")


def occlude(
    images: np.ndarray, fraction: float, centers: np.ndarray | None = None, seed: int = 0, fill: float = 127.5
) -> np.ndarray:
    """Hide a square patch covering ``fraction`` of each image's area.

    ``centers`` ``(n, 2)`` gives each patch centre as (row, col) in pixels; ``None``
    places patches uniformly at random (seeded). Patches are clipped to the image.
    """
    out = np.array(images, dtype="float32", copy=True)
    if fraction <= 0:
        return out
    n, h, w, _ = out.shape
    side_h, side_w = max(1, round(h * fraction**0.5)), max(1, round(w * fraction**0.5))
    if centers is None:
        rng = np.random.default_rng(seed)
        tops = rng.integers(0, h - side_h + 1, size=n)
        lefts = rng.integers(0, w - side_w + 1, size=n)
    else:
        centers = np.asarray(centers)
        tops = np.clip(np.round(centers[:, 0] - side_h / 2).astype(int), 0, h - side_h)
        lefts = np.clip(np.round(centers[:, 1] - side_w / 2).astype(int), 0, w - side_w)
    for i in range(n):
        out[i, tops[i] : tops[i] + side_h, lefts[i] : lefts[i] + side_w, :] = fill
    return out


def occlusion(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    images = _check(images, severity)
    return occlude(images, LEVELS["occlusion"][severity], seed=seed)


def occlusion_center(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    images = _check(images, severity)
    n, h, w, _ = images.shape
    centers = np.tile([h / 2, w / 2], (n, 1))
    return occlude(images, LEVELS["occlusion_center"][severity], centers=centers)


def grayscale(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    """Blend each image with its luma (ITU-R BT.601), replicated to 3 channels."""
    images = _check(images, severity)
    amount = LEVELS["grayscale"][severity]
    luma = images @ np.array([0.299, 0.587, 0.114], dtype="float32")
    gray = np.repeat(luma[..., None], 3, axis=-1)
    return ((1 - amount) * images + amount * gray).astype("float32")


def blur(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    images = _check(images, severity)
    sigma = LEVELS["blur"][severity]
    if sigma == 0:
        return images.copy()
    return gaussian_filter(images, sigma=(0, sigma, sigma, 0), mode="reflect").astype("float32")


def jpeg(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    images = _check(images, severity)
    quality = int(LEVELS["jpeg"][severity])
    if severity == 0:
        return images.copy()
    out = np.empty_like(images)
    for i, img in enumerate(np.clip(np.round(images), 0, 255).astype("uint8")):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=quality)
        out[i] = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), dtype="float32")
    return out


_FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "low_light": low_light,
    "low_light_noise": low_light_noise,
    "occlusion": occlusion,
    "occlusion_center": occlusion_center,
    "grayscale": grayscale,
    "blur": blur,
    "jpeg": jpeg,
}


def corrupt(images: np.ndarray, name: str, severity: int, seed: int = 0) -> np.ndarray:
    """Apply corruption ``name`` at ``severity`` (0 = identity) to a batch of images."""
    if name not in _FUNCTIONS:
        raise ValueError(f"unknown corruption {name!r}; choose from {', '.join(CORRUPTIONS)}")
    return _FUNCTIONS[name](images, severity, seed=seed)


def example_grid(image: np.ndarray, names=PAPER_LIMITATIONS, severities=SEVERITIES, seed: int = 0):
    """One image under each corruption and level: ``(images, titles)`` for
    :func:`catsdogs.plots.image_grid` (rows = corruptions, columns = levels)."""
    images, titles = [], []
    for name in names:
        for s in severities:
            images.append(corrupt(image[None], name, s, seed=seed)[0])
            titles.append(f"{name} {s}" if s else f"{name} 0 (clean)")
    return images, titles


# ----------------------------------------------------------------------------- study


#: Default of ``per_class`` arguments: take ``config.robustness_per_class``.
FROM_CONFIG = "config"


def _per_class(run, per_class):
    return run.config.robustness_per_class if per_class == FROM_CONFIG else per_class


def evaluate_corruptions(
    run,
    names=STUDY,
    severities=SEVERITIES,
    per_class: int | None | str = FROM_CONFIG,
    model_path=None,
    tag: str = "",
) -> dict:
    """Accuracy, F1 (with bootstrap 95% CIs) and mean confidence per corruption and level.

    Uses the run's final model (or ``model_path``) on a fixed stratified subset of
    the validation split (``per_class`` images of each class; ``None``: all; by
    default the config's ``robustness_per_class``). Writes
    ``robustness/results.json`` (``results_<tag>.json`` with a ``tag``) and returns it.
    """
    per_class = _per_class(run, per_class)
    cfg = run.config
    predictor = load_predictor(model_path or final_model_path(run))
    paths, labels = run.split_paths("val")
    idx = stratified_subset(labels, per_class, cfg.seed)
    labels = labels[idx]
    clean = images.load_images([paths[i] for i in idx], predictor.image_size).astype("float32")
    unknown = [n for n in names if n not in _FUNCTIONS and n != GRADCAM_OCCLUSION]
    if unknown:
        raise ValueError(f"unknown corruption(s) {unknown}; choose from {', '.join(STUDY)}")
    results: dict = {
        "model": str(predictor.path.name),
        "n_images": int(len(idx)),
        "per_class": per_class,
        "levels": {n: list(LEVELS.get(n, LEVELS["occlusion"])) for n in names},
        "corruptions": {},
    }
    clean_probs = predictor.predict(clean)
    peaks = None
    if GRADCAM_OCCLUSION in names:
        import keras  # loads TensorFlow: only when the Grad-CAM occlusion is studied

        from catsdogs.explain import gradcam, peak_locations

        heatmaps, _ = gradcam(keras.models.load_model(predictor.path, compile=False), clean)
        peaks = peak_locations(heatmaps)
    steps = [(n, s) for n in names for s in severities]
    for name, sev in tqdm(steps, desc="corruptions", unit="level"):
        if sev == 0:
            probs = clean_probs
        elif name == GRADCAM_OCCLUSION:
            probs = predictor.predict(occlude(clean, LEVELS["occlusion"][sev], centers=peaks))
        else:
            probs = predictor.predict(corrupt(clean, name, sev, seed=cfg.seed))
        ci = bootstrap_ci(
            labels, probs, n_samples=cfg.bootstrap_samples, seed=cfg.seed, metric_names=("accuracy", "f1")
        )
        entry = results["corruptions"].setdefault(name, {"severity": []})
        entry["severity"].append(sev)
        for m in ("accuracy", "f1"):
            entry.setdefault(m, []).append(ci[m]["estimate"])
            entry.setdefault(f"{m}_low", []).append(ci[m]["low"])
            entry.setdefault(f"{m}_high", []).append(ci[m]["high"])
        entry.setdefault("mean_confidence", []).append(float(np.mean(confidence(probs))))
    run.write_json(f"robustness/results{'_' + tag if tag else ''}.json", results)
    return results


# ----------------------------------------------------------------------------- OOD

OOD_KINDS: tuple[str, ...] = ("uniform_noise", "gaussian_noise", "solid_colour", "background_crop")


def make_ood(clean: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """Images that are neither cat nor dog, made from the data's own format.

    ``uniform_noise`` / ``gaussian_noise``: pixel noise; ``solid_colour``: one random
    colour per image; ``background_crop``: a random corner of each real image,
    a quarter of its width and height (1/16 of its area, where the animal rarely
    is), upsampled back to full size -- mostly background.
    """
    rng = np.random.default_rng(seed)
    n, h, w, _ = clean.shape
    if kind == "uniform_noise":
        return rng.uniform(0, 255, clean.shape).astype("float32")
    if kind == "gaussian_noise":
        return np.clip(rng.normal(127.5, 50, clean.shape), 0, 255).astype("float32")
    if kind == "solid_colour":
        colours = rng.uniform(0, 255, (n, 1, 1, 3))
        return np.broadcast_to(colours, clean.shape).astype("float32").copy()
    if kind == "background_crop":
        ch, cw = h // 4, w // 4
        corners = rng.integers(0, 4, size=n)
        out = np.empty_like(clean, dtype="float32")
        for i, c in enumerate(corners):
            top = 0 if c in (0, 1) else h - ch
            left = 0 if c in (0, 2) else w - cw
            out[i] = images.resize_image(clean[i, top : top + ch, left : left + cw], h).numpy()
        return out
    raise ValueError(f"unknown out-of-distribution kind {kind!r}; choose from {', '.join(OOD_KINDS)}")


def ood_study(
    run, kinds=OOD_KINDS, per_class: int | None | str = FROM_CONFIG, keep_in_distribution: float = KEEP_IN_DISTRIBUTION
) -> dict:
    """What the model says on non-pet images, and whether a confidence threshold flags them.

    The threshold keeps ``keep_in_distribution`` of the real validation images
    (their confidence quantile); for each kind we report the mean confidence, the
    share called "dog", the share flagged (confidence below the threshold) and the
    AUROC of confidence for separating real from OOD images. Writes
    ``robustness/ood.json``.
    """
    cfg = run.config
    per_class = _per_class(run, per_class)
    predictor = load_predictor(final_model_path(run))
    paths, labels = run.split_paths("val")
    idx = stratified_subset(labels, per_class, cfg.seed)
    clean = images.load_images([paths[i] for i in idx], predictor.image_size).astype("float32")
    probs_id = predictor.predict(clean)
    conf_id = confidence(probs_id)
    threshold = fit_ood_threshold(probs_id, keep_in_distribution)
    result = {
        "n_images": int(len(idx)),
        "threshold": threshold,
        "keep_in_distribution": keep_in_distribution,
        "in_distribution": {"mean_confidence": float(conf_id.mean())},
        "kinds": {},
    }
    for kind in kinds:
        probs = predictor.predict(make_ood(clean, kind, seed=cfg.seed))
        conf = confidence(probs)
        y = np.r_[np.ones_like(conf_id), np.zeros_like(conf)]
        result["kinds"][kind] = {
            "mean_confidence": float(conf.mean()),
            "share_called_dog": float(np.mean(probs >= 0.5)),
            "share_flagged": float(np.mean(conf < threshold)),
            "auroc_confidence": float(roc_auc_score(y, np.r_[conf_id, conf])),
            "confidence": conf.round(4).tolist(),
        }
    result["in_distribution"]["confidence"] = conf_id.round(4).tolist()
    run.write_json("robustness/ood.json", result)
    return result


# ----------------------------------------------------------------------------- calibration


def calibration_study(run, n_bins: int = 15) -> dict:
    """Reliability and ECE of the final model, before and after temperature scaling.

    The full run trains on every training image, so the temperature is fitted by
    two-fold cross-fitting on the validation split (scikit-learn's seeded
    ``StratifiedKFold``: fit on one stratified half, apply to the other, and swap);
    every validation image is then scored by a temperature it was not used to fit.
    Writes ``robustness/calibration.json``.
    """
    p = read_predictions(final_predictions_file(run))
    y, logits = p["label"], p["logit"]
    scaled = np.empty(len(y))
    temps = []
    halves = StratifiedKFold(n_splits=2, shuffle=True, random_state=run.config.seed)
    for apply, fit in halves.split(logits, y):
        t = calibration.fit_temperature(logits[fit], y[fit])
        temps.append(t)
        scaled[apply] = calibration.apply_temperature(logits[apply], t)
    before = calibration.calibration(y, p["prob"], n_bins=n_bins)
    after = calibration.calibration(y, scaled, n_bins=n_bins)
    result = {
        "temperatures": temps,
        "before": before,
        "after": after,
        "accuracy_before": float(np.mean((p["prob"] >= 0.5) == y)),
        "accuracy_after": float(np.mean((scaled >= 0.5) == y)),
    }
    run.write_json("robustness/calibration.json", result)
    return result
