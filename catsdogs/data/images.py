"""Images into the model: decode and resize (one resize for training, evaluation and
prediction alike), the ``tf.data`` pipeline of a split, arrays of images, and any image
file a user passes to ``predict``.

Images are RGB, float32 in [0, 255] (the model does its own preprocessing); TensorFlow
is imported inside the functions, so listing and validating files never loads it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from catsdogs.data.scan import DataError, inspect_image


def _load_image(path, image_size: int):
    """Read, decode and resize one image: float32 tensor ``(S, S, 3)`` in [0, 255]."""
    import tensorflow as tf

    raw = tf.io.read_file(path)
    return resize_image(tf.io.decode_jpeg(raw, channels=3), image_size)


def resize_image(image, image_size: int):
    """Resize an RGB image ``(H, W, 3)`` (uint8 or float, 0-255) to float32 ``(S, S, 3)``.

    The one resize used for training, evaluation and prediction alike.
    """
    import tensorflow as tf

    img = tf.image.resize(image, (image_size, image_size), method="bilinear", antialias=True)
    return tf.clip_by_value(img, 0.0, 255.0)


def image_dataset(
    paths: Sequence[str],
    labels: Sequence[int] | None,
    image_size: int,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 42,
    cache: bool = False,
):
    """A batched, prefetched ``tf.data.Dataset`` of ``(images, labels)``.

    Images are float32 ``(batch, S, S, 3)`` RGB in [0, 255] (the model does its own
    preprocessing); labels are float32 ``(batch,)`` with 0 = cat, 1 = dog. With
    ``labels=None`` the dataset yields images only.
    """
    import tensorflow as tf

    paths = list(paths)
    if labels is None:
        ds = tf.data.Dataset.from_tensor_slices(paths)
        ds = ds.map(lambda p: _load_image(p, image_size), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        ds = tf.data.Dataset.from_tensor_slices((paths, np.asarray(labels, dtype="float32")))
        if shuffle:
            ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
        ds = ds.map(lambda p, y: (_load_image(p, image_size), y), num_parallel_calls=tf.data.AUTOTUNE)
    if cache:
        ds = ds.cache()
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def load_images(paths: Sequence[str], image_size: int, exact: bool = False) -> np.ndarray:
    """Decode and resize images into an array ``(n, S, S, 3)``.

    By default 8-bit (uint8, rounded): what a camera or an image file holds; used for
    figures, the corruption study and int8 calibration. With ``exact=True`` the
    float32 output of the training pipeline itself, unrounded, so a model scores
    exactly what it scored during training (used to evaluate exports).
    """
    import tensorflow as tf

    if exact:
        out = [_load_image(p, image_size).numpy() for p in paths]
        return np.stack(out) if out else np.zeros((0, image_size, image_size, 3), np.float32)
    out = [tf.cast(tf.round(_load_image(p, image_size)), tf.uint8).numpy() for p in paths]
    return np.stack(out) if out else np.zeros((0, image_size, image_size, 3), np.uint8)


def read_image_file(path: Path | str, image_size: int) -> np.ndarray:
    """Load any image file Pillow can read (for ``predict``), as float32 ``(S, S, 3)`` in [0, 255].

    Raises
    ------
    DataError
        If the file is missing, empty or cannot be decoded; the message names it.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"image {path} not found")
    verdict, reason, _, _ = inspect_image(path)
    if verdict == "skip":
        raise DataError(f"cannot read image {path}: {reason}; pass a JPEG/PNG/GIF/BMP file")
    with Image.open(path) as im:
        im.seek(0)
        # upright as a photo viewer (and the browser page) shows it: phones store the
        # rotation in the EXIF orientation tag
        rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    return resize_image(rgb, image_size).numpy()


__all__ = ["resize_image", "image_dataset", "load_images", "read_image_file"]
