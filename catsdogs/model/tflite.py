"""TFLite files through LiteRT: the one interpreter of the package, and the (de)quantization
of tensors. Used to read the int8 ImageNet MobileNetV2 (:mod:`catsdogs.model.weights`) and
to run the exports (:mod:`catsdogs.evaluation.predict`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np


def tflite_interpreter(path: Path | str, num_threads: int | None = None, default_delegates: bool = True) -> Any:
    """A LiteRT interpreter for ``path`` (tensors not yet allocated).

    ``default_delegates=False`` runs the reference kernels without XNNPACK (used to
    read the ImageNet model's weights exactly).
    """
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:  # LiteRT has no wheel for this platform: TensorFlow's interpreter
        import tensorflow as tf

        Interpreter, OpResolverType = tf.lite.Interpreter, tf.lite.experimental.OpResolverType
    kwargs = (
        {} if default_delegates else {"experimental_op_resolver_type": OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES}
    )
    return Interpreter(model_path=str(path), num_threads=num_threads or os.cpu_count(), **kwargs)


def quantize(values: np.ndarray, details: dict) -> np.ndarray:
    """``values`` in the dtype of a tensor: rounded and clipped with its scale and zero
    point when the tensor is integer, unchanged (as float32) otherwise."""
    scale, zero = details["quantization"]
    if details["dtype"] == np.float32 or not scale:
        return np.asarray(values, dtype="float32")
    info = np.iinfo(details["dtype"])
    return np.clip(np.round(np.asarray(values) / scale + zero), info.min, info.max).astype(details["dtype"])


def dequantize(values: np.ndarray, details: dict) -> np.ndarray:
    """A tensor's values as float32: ``(q - zero_point) * scale`` when the tensor is
    quantized (per channel along ``quantized_dimension`` when it has several scales, as
    the int8 MobileNetV2's kernels do), unchanged otherwise.

    ``details`` is the tensor's entry of ``get_tensor_details()`` /
    ``get_output_details()``. The arithmetic is float64, rounded to float32 once.
    """
    values = np.asarray(values)
    params = details.get("quantization_parameters") or {}
    scales = np.asarray(params.get("scales", ()), dtype=np.float64)
    if details["dtype"] == np.float32 or scales.size == 0:
        return values.astype("float32")
    zero_points = np.asarray(params["zero_points"], dtype=np.float64)
    axis = int(params["quantized_dimension"])
    shape = [1] * values.ndim
    if scales.size > 1:
        if scales.size != values.shape[axis]:
            raise ValueError(
                f"TFLite tensor {details.get('name')!r}: {scales.size} scales for "
                f"{values.shape[axis]} channels along axis {axis}"
            )
        shape[axis] = scales.size
    real = (values.astype(np.float64) - zero_points.reshape(shape)) * scales.reshape(shape)
    return real.astype(np.float32)
