"""Data augmentation as Keras preprocessing layers.

Because the layers live inside the model they run on the accelerator in Colab,
are saved with the model, and are inactive at inference (``training=False``).
"""

from __future__ import annotations

import keras

from catsdogs.config import Config


def build_augmentation(config: Config, seed: int | None = None) -> keras.Sequential:
    """The training-time augmentation pipeline of ``config``.

    * horizontal flip: a cat facing left is still a cat; the dataset has no
      left/right bias worth keeping;
    * small rotation (``augment_rotation`` of a full turn): handheld photos are
      rarely level;
    * zoom in/out (``augment_zoom``): pets fill very different fractions of the frame;
    * with ``augment_robust`` (the mitigation experiment): random brightness and
      contrast (poor lighting), random grayscale (20% of images) and random erasing
      of 5-40% of the image (occlusion).

    Input and output are float images ``(batch, S, S, 3)`` in [0, 255].
    """
    seed = config.training_seed if seed is None else seed
    layers: list[keras.layers.Layer] = []
    if config.augment_flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=seed, name="flip"))
    if config.augment_rotation > 0:
        layers.append(
            keras.layers.RandomRotation(config.augment_rotation, fill_mode="reflect", seed=seed, name="rotate")
        )
    if config.augment_zoom > 0:
        layers.append(
            keras.layers.RandomZoom(
                (-config.augment_zoom, config.augment_zoom), fill_mode="reflect", seed=seed, name="zoom"
            )
        )
    if config.augment_robust:
        # What the paper's limitations call for: poor lighting, occlusion, grayscale.
        layers += [
            keras.layers.RandomBrightness(0.4, value_range=(0, 255), seed=seed, name="brightness"),
            keras.layers.RandomContrast(0.4, seed=seed, name="contrast"),
            keras.layers.RandomGrayscale(0.2, seed=seed, name="grayscale"),
            keras.layers.RandomErasing(0.5, scale=(0.05, 0.4), value_range=(0, 255), seed=seed, name="erasing"),
        ]
    return keras.Sequential(layers, name="augmentation")
