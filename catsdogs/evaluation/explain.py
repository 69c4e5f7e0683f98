"""Grad-CAM: where in the image the classifier looks (Selvaraju et al., 2017).

Follows the keras-io "Grad-CAM class activation visualization" recipe: gradients of
the predicted class's score with respect to the last convolutional feature map
(MobileNetV2's ``out_relu``, 7x7 at 224 px), averaged into channel weights.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from catsdogs.model.classifier import FEATURE_LAYER, HEAD_LAYER, get_base


def _gradcam_model(model):
    """``image -> (last feature map, logit)`` sharing the classifier's trained layers."""

    size = model.input_shape[1]
    inputs = keras.Input((size, size, 3), name="image")
    fmap = get_base(model)(model.get_layer("preprocess")(inputs), training=False)
    logit = model.get_layer(HEAD_LAYER)(model.get_layer(FEATURE_LAYER)(fmap))
    return keras.Model(inputs, [fmap, logit], name="gradcam")


def gradcam(model, images: np.ndarray, batch_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM heatmaps for the predicted class of each image.

    Parameters
    ----------
    model
        The classifier (training or inference model).
    images
        float ``(n, S, S, 3)`` RGB in [0, 255].

    Returns
    -------
    heatmaps
        ``(n, S, S)`` in [0, 1], upsampled to the image size (bilinear).
    probs
        ``(n,)`` probability of dog.
    """

    gm = _gradcam_model(model)
    size = images.shape[1]

    # One compiled step: run eagerly, each batch's tape and activations came back as
    # fresh allocations and memory grew with the number of batches.
    @tf.function(input_signature=[tf.TensorSpec([None, size, size, 3], tf.float32)])
    def step(x):
        with tf.GradientTape() as tape:
            fmap, logit = gm(x, training=False)
            # score of the predicted class: the logit for "dog", minus it for "cat"
            score = tf.where(logit >= 0, logit, -logit)
        grads = tape.gradient(score, fmap)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        cam = tf.nn.relu(tf.reduce_sum(weights * fmap, axis=-1))
        cam = cam / (tf.reduce_max(cam, axis=(1, 2), keepdims=True) + 1e-8)
        cam = tf.image.resize(cam[..., None], (size, size), method="bilinear")[..., 0]
        return cam, tf.reshape(tf.sigmoid(logit), [-1])

    maps, probs = [], []
    # each call traces its step once, by design (it closes over that call's model): the
    # retracing hint TensorFlow logs after five is dropped (catsdogs.RetracingHintFilter)
    for start in range(0, len(images), batch_size):
        cam, prob = step(tf.convert_to_tensor(np.asarray(images[start : start + batch_size], dtype="float32")))
        maps.append(cam.numpy())
        probs.append(prob.numpy())
    return np.concatenate(maps), np.concatenate(probs)


def peak_locations(heatmaps: np.ndarray) -> np.ndarray:
    """``(n, 2)`` (row, col) of each heatmap's maximum: where to centre an occluder."""
    flat = heatmaps.reshape(len(heatmaps), -1).argmax(axis=1)
    return np.stack(np.unravel_index(flat, heatmaps.shape[1:]), axis=1)


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blend a heatmap (jet colours) over an image; uint8 ``(S, S, 3)``."""
    from matplotlib import colormaps

    colours = colormaps["jet"](np.clip(heatmap, 0, 1))[..., :3] * 255
    blended = (1 - alpha) * np.asarray(image, dtype="float32") + alpha * colours
    return np.clip(blended, 0, 255).astype("uint8")
