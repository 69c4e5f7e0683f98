"""ImageNet reference helpers used only by the weights tests: class names, the cat and dog
superclasses of the 1000 ImageNet classes, and the int8 TFLite classifier itself."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np

from catsdogs.model.tflite import tflite_interpreter
from catsdogs.model.weights import NUM_IMAGENET_CLASSES

#: Keras (1000-class) indices of the ImageNet dog breeds (Chihuahua .. Mexican hairless).
DOG_CLASSES: frozenset[int] = frozenset(range(151, 269))


#: Keras indices of the domestic cats: tabby, tiger cat, Persian, Siamese, Egyptian cat.
CAT_CLASSES: frozenset[int] = frozenset(range(281, 286))


def imagenet_labels(path: str | os.PathLike[str], drop_background: bool = True) -> list[str]:
    """ImageNet class names, one per line of ``path``, in Keras (1000-class) order.

    Parameters
    ----------
    path
        Text file with 1000 names, or 1001 with ``background`` first (the TFLite labels).
    drop_background
        Drop a leading ``background`` line so that index ``i`` is Keras class ``i``.

    Returns
    -------
    list of str
        Class names (1000, or 1001 when ``drop_background=False`` and it is present).

    Raises
    ------
    ValueError
        If the file does not have 1000 or 1001 (background first) non-empty lines.
    """
    file = Path(path).expanduser()
    labels = [line.strip() for line in file.read_text(encoding="utf-8").splitlines()]
    while labels and not labels[-1]:
        labels.pop()
    has_background = len(labels) == NUM_IMAGENET_CLASSES + 1 and labels[0].lower() == "background"
    if len(labels) != NUM_IMAGENET_CLASSES and not has_background:
        raise ValueError(
            f"{file} has {len(labels)} labels; expected {NUM_IMAGENET_CLASSES}, or "
            f"{NUM_IMAGENET_CLASSES + 1} starting with 'background'"
        )
    return labels[1:] if has_background and drop_background else labels


def superclass_of(class_index: int) -> Literal["cat", "dog"] | None:
    """``"cat"``, ``"dog"`` or ``None`` for a Keras ImageNet class index (0..999).

    Cats are the five domestic cats (281-285), dogs the 118 breeds (151-268); wild
    cats and wolves/foxes are neither.
    """
    index = int(class_index)
    if not 0 <= index < NUM_IMAGENET_CLASSES:
        raise ValueError(f"ImageNet class index must be in 0..999, got {class_index}")
    if index in CAT_CLASSES:
        return "cat"
    if index in DOG_CLASSES:
        return "dog"
    return None


def superclass_scores(probabilities: np.ndarray) -> np.ndarray:
    """Summed ImageNet probability of the cat and of the dog classes.

    Parameters
    ----------
    probabilities
        ``[N, 1000]`` softmax outputs of the Keras ImageNet top.

    Returns
    -------
    numpy.ndarray
        ``[N, 2]``: column 0 the cat mass, column 1 the dog mass (label order of
        :data:`catsdogs.config.CLASS_NAMES`).
    """
    probs = np.asarray(probabilities)
    if probs.ndim != 2 or probs.shape[1] != NUM_IMAGENET_CLASSES:
        raise ValueError(f"expected [N, 1000] probabilities, got shape {probs.shape}")
    cats = probs[:, sorted(CAT_CLASSES)].sum(axis=1)
    dogs = probs[:, sorted(DOG_CLASSES)].sum(axis=1)
    return np.stack([cats, dogs], axis=1)


def tflite_classify(
    tflite_path: str | os.PathLike[str], images: np.ndarray, drop_background: bool = True
) -> np.ndarray:
    """Run the int8 TFLite classifier on uint8 images (reference for the conversion).

    Parameters
    ----------
    tflite_path
        The int8 TFLite MobileNetV2.
    images
        ``[N, 224, 224, 3]`` uint8 RGB pixels (0..255); the model does its own
        ``x / 127.5 - 1`` scaling through its input quantisation.
    drop_background
        Drop output 0 (background) so column ``i`` is Keras class ``i``.

    Returns
    -------
    numpy.ndarray
        ``[N, 1000]`` (or ``[N, 1001]``) float32 dequantised softmax outputs.
    """
    batch = np.asarray(images)
    interpreter = tflite_interpreter(Path(tflite_path).expanduser(), default_delegates=False)
    interpreter.allocate_tensors()
    (inp,) = interpreter.get_input_details()
    (outp,) = interpreter.get_output_details()
    if batch.ndim != 4 or tuple(batch.shape[1:]) != tuple(inp["shape"][1:]):
        raise ValueError(f"expected images [N, {', '.join(map(str, inp['shape'][1:]))}], got {batch.shape}")
    if batch.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {batch.dtype}")
    scale, zero_point = outp["quantization"]
    outputs = []
    for image in batch:
        interpreter.set_tensor(inp["index"], image[None])
        interpreter.invoke()
        raw = interpreter.get_tensor(outp["index"])[0].astype(np.float32)
        outputs.append((raw - zero_point) * scale if scale else raw)
    probs = np.stack(outputs).astype(np.float32)
    return probs[:, 1:] if drop_background and probs.shape[1] == NUM_IMAGENET_CLASSES + 1 else probs
