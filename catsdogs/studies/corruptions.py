"""The corruptions of the limitations study, declared once: name, label, levels, function.

The paper names three weaknesses without measuring them: poor lighting, partial
occlusion and grayscale inputs. Each corruption is a pure function of a batch of images
and a severity level 0..5 (0 = the image unchanged), seeded where random, so the study
is reproducible. Blur, JPEG compression and low resolution are extras; low resolution
puts PetImages at the size of the CIFAR-10 thumbnails of the generalization test.

Images are float32 ``(n, S, S, 3)`` RGB in [0, 255] in and out.

Adding a corruption is one edit: a function decorated with :func:`corruption`, giving
its name, the label tables and the model card show, and the parameter of each severity
level. The study (:mod:`catsdogs.studies.robustness`), its tables and the tests read
:data:`CORRUPTIONS`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from catsdogs.data.images import resize_image

SEVERITIES: tuple[int, ...] = (0, 1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Corruption:
    """One corruption of the study.

    Attributes
    ----------
    name : str
        Its key in records (``robustness/results.json``) and on the command line.
    label : str
        What tables and the model card call it, with the unit of ``levels``.
    levels : tuple of float
        The parameter of each severity level (index = severity; level 0 leaves the image unchanged).
    function : callable
        ``function(images, severity, seed=0) -> images``.
    """

    name: str
    label: str
    levels: tuple[float, ...]
    function: Callable[..., np.ndarray]


#: Every corruption, in the order the study runs and the tables show them.
CORRUPTIONS: dict[str, Corruption] = {}


def corruption(name: str, label: str, levels: tuple[float, ...]) -> Callable[[Callable], Callable]:
    """Register the decorated function as corruption ``name`` (see :class:`Corruption`)."""
    if len(levels) != len(SEVERITIES):
        raise ValueError(f"corruption {name!r} needs one level per severity {SEVERITIES}, got {levels}")

    def register(function: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
        CORRUPTIONS[name] = Corruption(name, label, tuple(levels), function)
        return function

    return register


def levels(name: str) -> tuple[float, ...]:
    """The parameter of each severity level of corruption ``name``."""
    return CORRUPTIONS[name].levels


#: The paper's three limitations, in the order the book shows them.
PAPER_LIMITATIONS: tuple[str, ...] = ("low_light", "occlusion", "grayscale")
#: Gamma of each low-light severity (the brightness factor is the level).
_GAMMA = (1.0, 1.2, 1.4, 1.6, 1.8, 2.0)


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


@corruption("low_light", "low light (brightness factor, gamma 2)", levels=(1.0, 0.7, 0.5, 0.35, 0.2, 0.1))
def low_light(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    images = _check(images, severity)
    return darken(images, levels("low_light")[severity], _GAMMA[severity])


@corruption(
    "low_light_noise", "low light and sensor noise (noise sigma, 0-255 scale)", levels=(0.0, 4.0, 8.0, 12.0, 16.0, 20.0)
)
def low_light_noise(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    """Low light plus sensor-like Gaussian noise (what a phone does in the dark)."""
    images = _check(images, severity)
    dark = darken(images, levels("low_light")[severity], _GAMMA[severity])
    sigma = levels("low_light_noise")[severity]
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


@corruption(
    "occlusion", "occlusion at a random position (share of the area hidden)", levels=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
)
def occlusion(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    images = _check(images, severity)
    return occlude(images, levels("occlusion")[severity], seed=seed)


@corruption(
    "occlusion_center", "occlusion at the centre (share of the area hidden)", levels=(0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
)
def occlusion_center(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    images = _check(images, severity)
    n, h, w, _ = images.shape
    centers = np.tile([h / 2, w / 2], (n, 1))
    return occlude(images, levels("occlusion_center")[severity], centers=centers)


@corruption("grayscale", "grayscale (desaturation, 1 = fully gray)", levels=(0.0, 0.2, 0.4, 0.6, 0.8, 1.0))
def grayscale(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    """Blend each image with its luma (ITU-R BT.601), replicated to 3 channels."""
    images = _check(images, severity)
    amount = levels("grayscale")[severity]
    luma = images @ np.array([0.299, 0.587, 0.114], dtype="float32")
    gray = np.repeat(luma[..., None], 3, axis=-1)
    return ((1 - amount) * images + amount * gray).astype("float32")


@corruption("blur", "blur (Gaussian sigma in pixels)", levels=(0.0, 0.5, 1.0, 1.5, 2.0, 3.0))
def blur(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    images = _check(images, severity)
    sigma = levels("blur")[severity]
    if sigma == 0:
        return images.copy()
    return gaussian_filter(images, sigma=(0, sigma, sigma, 0), mode="reflect").astype("float32")


@corruption("jpeg", "JPEG compression (quality)", levels=(100.0, 50.0, 30.0, 15.0, 8.0, 4.0))
def jpeg(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    images = _check(images, severity)
    quality = int(levels("jpeg")[severity])
    if severity == 0:
        return images.copy()
    out = np.empty_like(images)
    for i, img in enumerate(np.clip(np.round(images), 0, 255).astype("uint8")):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=quality)
        out[i] = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"), dtype="float32")
    return out


@corruption(
    "low_resolution",
    "low resolution (pixels on a side, enlarged back)",
    levels=(0.0, 112.0, 64.0, 48.0, 32.0, 24.0),
)
def low_resolution(images: np.ndarray, severity: int, seed: int = 0) -> np.ndarray:
    """Shrink each image to the level's pixels on a side and enlarge it back with the
    training resize (bilinear, antialiased), rounding to 8 bits in between as an image
    file would: a thumbnail, as a CIFAR-10 image reaches the model. Level 0 leaves the
    image unchanged, as does a level at or above the image's size."""
    images = _check(images, severity)
    side = int(levels("low_resolution")[severity])
    if side == 0 or side >= images.shape[1]:
        return images.copy()
    small = np.round(np.asarray(resize_image(images, side)))
    return np.asarray(resize_image(small, images.shape[1]), dtype="float32")


def corrupt(images: np.ndarray, name: str, severity: int, seed: int = 0) -> np.ndarray:
    """Apply corruption ``name`` at ``severity`` (0 = identity) to a batch of images."""
    if name not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {name!r}; choose from {', '.join(CORRUPTIONS)}")
    return CORRUPTIONS[name].function(images, severity, seed=seed)


def example_grid(image: np.ndarray, names=PAPER_LIMITATIONS, severities=SEVERITIES, seed: int = 0):
    """One image under each corruption and level: ``(images, titles)`` for
    :func:`catsdogs.plots.image_grid` (rows = corruptions, columns = levels; the first
    column's titles name the row's corruption)."""
    images, titles = [], []
    for name in names:
        for s in severities:
            images.append(corrupt(image[None], name, s, seed=seed)[0])
            titles.append(f"level {s}" if s else f"{STUDY_TITLES[name]}\nclean")
    return images, titles


#: Occlusion centred on the Grad-CAM peak of each image, at occlusion's levels: it needs the
#: model, so :mod:`catsdogs.studies.robustness` runs it rather than :func:`corrupt`.
GRADCAM_OCCLUSION = "occlusion_gradcam"
#: Every condition of the study, in order, with the label tables and the model card show.
STUDY_LABELS: dict[str, str] = {name: c.label for name, c in CORRUPTIONS.items()} | {
    GRADCAM_OCCLUSION: "occlusion at the model's Grad-CAM peak (share of the area hidden)"
}
STUDY: tuple[str, ...] = tuple(STUDY_LABELS)
#: Each condition's short name in words, for figure panels and table rows (a condition
#: without one here is titled by its label, without the unit).
_SHORT_TITLES = {
    "low_light_noise": "low light + noise",
    "occlusion": "random occlusion",
    "occlusion_center": "central occlusion",
    "jpeg": "JPEG",
    GRADCAM_OCCLUSION: "occlusion at Grad-CAM peak",
}
STUDY_TITLES: dict[str, str] = {
    name: _SHORT_TITLES.get(name, label.split(" (")[0]) for name, label in STUDY_LABELS.items()
}


def title(name: str) -> str:
    """Condition ``name`` in words (:data:`STUDY_TITLES`; an unknown name with spaces)."""
    return STUDY_TITLES.get(name, name.replace("_", " "))


def titled(by_name: dict) -> dict:
    """``{condition name: value}`` keyed by the conditions' titles instead
    (:data:`STUDY_TITLES`), in the same order, for figure panels."""
    return {title(name): value for name, value in by_name.items()}
