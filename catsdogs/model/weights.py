"""ImageNet weights for the MobileNetV2 base: which source to use, resolved for Keras.

Three sources are accepted (see :func:`resolve_weights`):

``"imagenet"``
    Keras downloads its own float checkpoint on first use (needs internet).
a Keras weights file (``*.h5`` / ``*.weights.h5``)
    Passed to ``keras.applications.MobileNetV2(weights=...)`` unchanged.
the int8 TFLite MobileNetV2 (``*.tflite``)
    The official post-training-quantised ``mobilenet_v2_1.0_224`` model.  It is
    dequantised once into float Keras weight files (:func:`convert_tflite_mobilenet_v2`,
    the second half of this module) and cached; later calls reuse them.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from catsdogs.config import ENV_WEIGHTS, Config, cache_dir, weights_spec
from catsdogs.files import atomic_write, file_sha256
from catsdogs.model.tflite import dequantize, tflite_interpreter

#: Accepted values of the weights setting, for error messages.
ACCEPTED_WEIGHTS_FORMS = (
    '"imagenet" (Keras downloads its checkpoint; needs internet), '
    "a Keras weights file ending in .h5 or .weights.h5, "
    "or the int8 MobileNetV2 .tflite file (converted once, then cached)"
)


WeightsKind = Literal["keras-download", "keras-file", "tflite-converted", "random"]


def _how_to_fix() -> str:
    return (
        f"Set the environment variable {ENV_WEIGHTS}, pass --weights on the command line, "
        f"or set Config.weights to one of: {ACCEPTED_WEIGHTS_FORMS}."
    )


@dataclass(frozen=True)
class WeightsInfo:
    """Where the base's ImageNet weights come from.

    Attributes
    ----------
    keras_weights
        Value for ``keras.applications.MobileNetV2(weights=...)``: ``"imagenet"``
        or the path (str) of a weights file.
    kind
        ``"keras-download"``, ``"keras-file"`` or ``"tflite-converted"``.
    source
        What the user configured: ``"imagenet"`` or the source file path.
    source_sha256
        SHA-256 of the source file (``None`` for the Keras download).
    converted_sha256
        SHA-256 of the converted file in ``keras_weights`` (``tflite-converted`` only).
    include_top
        Whether ``keras_weights`` includes the 1000-class ImageNet top.
    metadata_path
        JSON record of the conversion (``tflite-converted`` only).
    """

    keras_weights: str | None
    kind: WeightsKind
    source: str
    source_sha256: str | None = None
    converted_sha256: str | None = None
    include_top: bool = False
    metadata_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON provenance record."""
        return dataclasses.asdict(self)


def resolve_weights(config: Config, include_top: bool = False) -> WeightsInfo:
    """Resolve the configured ImageNet weights into something Keras can load.

    The setting comes from :func:`catsdogs.config.weights_spec` (``config.weights``,
    then ``$CATSDOGS_WEIGHTS``, then ``"imagenet"``).

    Parameters
    ----------
    config
        Run configuration (``weights``, ``cache_dir`` and ``alpha`` are read).
    include_top
        Return weights of the 1000-class ImageNet model (224x224) instead of the base.

    Returns
    -------
    WeightsInfo
        ``"imagenet"`` -> Keras download; ``*.h5`` / ``*.weights.h5`` -> that file;
        ``*.tflite`` -> converted (once) into ``cache_dir(config) / "weights"``.

    Raises
    ------
    ValueError
        If the setting is neither ``"imagenet"`` nor a path with a known extension,
        or a ``.tflite`` source is combined with ``config.alpha != 1.0``.
    FileNotFoundError
        If the configured file does not exist.
    """
    spec = weights_spec(config).strip()
    if spec.lower() == "none":
        # Random initialisation: for tests and ablations only, never a reproduction.
        return WeightsInfo(keras_weights=None, kind="random", source="none", include_top=include_top)
    if spec.lower() == "imagenet":
        return WeightsInfo(
            keras_weights="imagenet",
            kind="keras-download",
            source="imagenet",
            include_top=include_top,
        )

    path = Path(spec).expanduser()
    name = path.name.lower()
    if name.endswith(".h5"):
        kind: WeightsKind = "keras-file"
    elif name.endswith(".tflite"):
        kind = "tflite-converted"
    else:
        raise ValueError(
            f"unrecognised weights setting {spec!r}: expected 'imagenet' or a file ending "
            f"in .h5, .weights.h5 or .tflite. {_how_to_fix()}"
        )
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "does not exist"
        raise FileNotFoundError(f"weights file {str(path)!r} {what} (from weights setting {spec!r}). {_how_to_fix()}")

    if kind == "keras-file":
        return WeightsInfo(
            keras_weights=str(path),
            kind=kind,
            source=str(path),
            source_sha256=file_sha256(path),
            include_top=include_top,
        )

    if config.alpha != 1.0:
        raise ValueError(
            f"the TFLite weights {str(path)!r} are MobileNetV2 with alpha=1.0 but the config "
            f"asks for alpha={config.alpha}; set alpha=1.0 or use weights='imagenet'"
        )
    converted = convert_tflite_mobilenet_v2(path, cache_dir(config) / "weights")
    return WeightsInfo(
        keras_weights=str(converted.path(include_top)),
        kind=kind,
        source=str(path),
        source_sha256=converted.source_sha256,
        converted_sha256=converted.sha256(include_top),
        include_top=include_top,
        metadata_path=str(converted.metadata_path),
    )


# -----------------------------------------------------------------------------
# The int8 TFLite MobileNetV2 dequantized into float Keras weights (cached).
#
# How the TFLite model maps onto Keras
# ------------------------------------
# The TFLite graph runs the convolutions of ``keras.applications.MobileNetV2``
# in the same order (35 ``Conv2D`` / ``DepthwiseConv2D`` ops of the base, then
# the 1x1 ``Conv2D`` top on the pooled features).  Batch normalisation is folded
# into each convolution, so every op carries a kernel and a bias.  Keras keeps
# its convolutions bias-free followed by ``BatchNormalization``; we put the
# dequantised kernel into the convolution and turn the batch-norm layer into
# add the bias": ``gamma = 1``, ``beta = bias``, ``moving_mean = 0``,
# ``moving_variance = 1 - epsilon``, so that in inference mode
# ``BN(x) = (x - 0) / sqrt(1 - eps + eps) * 1 + bias = x + bias``.
# Dequantisation is ``(q - zero_point) * scale`` per output channel for kernels
# (``int8``) and biases (``int32``).  The TFLite top has 1001 classes (index 0
# is ``background``); the Keras ``predictions`` layer gets classes 1..1000.
#
# The result is the float network the int8 model approximates; its ImageNet
# predictions agree with the int8 interpreter on most images (activations are
# not quantised in Keras, so a few near-ties flip).
#

if TYPE_CHECKING:  # pragma: no cover - typing only
    import keras  # loads TensorFlow: only when a model is built, trained or run

logger = logging.getLogger(__name__)


#: Bumped whenever the conversion changes, so that old caches are rebuilt.
CONVERSION_FORMAT_VERSION = 1


#: Number of ImageNet classes of the Keras top (the TFLite top has one more: background).
NUM_IMAGENET_CLASSES = 1000


@dataclass(frozen=True)
class _FloatConv:
    """One dequantised TFLite convolution, still in TFLite layout."""

    op: str  # "CONV_2D" or "DEPTHWISE_CONV_2D"
    name: str  # TFLite tensor name of the kernel (informative only)
    kernel: np.ndarray  # CONV_2D: [out, kh, kw, in]; DEPTHWISE: [1, kh, kw, C]
    bias: np.ndarray  # [out]


def _dequantized_parameter(tensor: dict[str, Any], values: np.ndarray) -> np.ndarray:
    """A kernel or bias of the int8 model as float32; the model stores every one quantized."""
    if np.asarray(tensor["quantization_parameters"]["scales"]).size == 0:
        raise ValueError(f"TFLite tensor {tensor['name']!r} is not quantised")
    return dequantize(values, tensor)


def _read_tflite_convolutions(path: Path) -> list[_FloatConv]:
    """All CONV_2D / DEPTHWISE_CONV_2D ops of a TFLite model, in graph order, dequantised."""
    interpreter = tflite_interpreter(path, default_delegates=False)  # reference kernels: exact tensors
    interpreter.allocate_tensors()
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    convs: list[_FloatConv] = []
    for op in interpreter._get_ops_details():  # noqa: SLF001 - the only op-level API
        if op["op_name"] not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            continue
        inputs = list(op["inputs"])
        if len(inputs) != 3 or min(inputs) < 0:
            raise ValueError(
                f"{path}: op {op['index']} ({op['op_name']}) has inputs {inputs}; expected [activation, weights, bias]"
            )
        weight_t, bias_t = tensors[inputs[1]], tensors[inputs[2]]
        kernel = _dequantized_parameter(weight_t, interpreter.get_tensor(weight_t["index"]))
        bias = _dequantized_parameter(bias_t, interpreter.get_tensor(bias_t["index"]))
        convs.append(_FloatConv(op["op_name"], str(weight_t["name"]).split(";")[0], kernel, bias))
    return convs


@dataclass(frozen=True)
class ConvertedWeights:
    """The float Keras weight files made from the int8 TFLite model.

    Attributes
    ----------
    notop_path
        Weights of ``MobileNetV2(include_top=False)``; loads at any input size.
    top_path
        Weights of ``MobileNetV2(include_top=True)`` (1000 classes, 224x224 input).
    metadata_path
        JSON record: source path and sha256, tensor counts, versions, time.
    source_sha256
        SHA-256 of the ``.tflite`` file.
    notop_sha256, top_sha256
        SHA-256 of the two weight files.
    reused
        ``True`` when the files came from the cache instead of a fresh conversion.
    seconds
        Wall time of this call (conversion or cache check), in seconds.
    """

    notop_path: Path
    top_path: Path
    metadata_path: Path
    source_sha256: str
    notop_sha256: str
    top_sha256: str
    reused: bool
    seconds: float

    def path(self, include_top: bool = False) -> Path:
        """The weight file for a base without (default) or with the ImageNet top."""
        return self.top_path if include_top else self.notop_path

    def sha256(self, include_top: bool = False) -> str:
        """SHA-256 of :meth:`path` for the same ``include_top``."""
        return self.top_sha256 if include_top else self.notop_sha256


def _output_names(source_sha256: str) -> tuple[str, str, str]:
    stem = f"mobilenet_v2_1.00_tflite-{source_sha256[:12]}"
    return (
        f"{stem}_notop.weights.h5",
        f"{stem}_top224.weights.h5",
        f"{stem}.json",
    )


def _cached(out_dir: Path, source_sha256: str) -> dict[str, Any] | None:
    """The metadata of a valid cached conversion of ``source_sha256``, else ``None``."""
    notop_name, top_name, meta_name = _output_names(source_sha256)
    meta_path = out_dir / meta_name
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        logger.warning("ignoring unreadable weights cache record %s: %s", meta_path, err)
        return None
    if meta.get("source_sha256") != source_sha256:
        logger.info("cache record %s is for another source; reconverting", meta_path)
        return None
    if meta.get("format_version") != CONVERSION_FORMAT_VERSION:
        logger.info("cache record %s has an old format; reconverting", meta_path)
        return None
    for key, name in (("notop", notop_name), ("top", top_name)):
        file = out_dir / name
        expected = meta.get("files", {}).get(key, {}).get("sha256")
        if not file.is_file() or expected is None or file_sha256(file) != expected:
            logger.info("cached weight file %s is missing or changed; reconverting", file)
            return None
    return meta


@dataclass(frozen=True)
class _Assigned:
    """What :func:`_assign_tflite_weights` wrote: convolutions, depthwise convolutions and
    the 1x1 classification top (0 or 1)."""

    conv2d: int
    depthwise_conv2d: int
    top: int


def _assign_tflite_weights(model: keras.Model, convs: Sequence[_FloatConv]) -> _Assigned:
    """Write the dequantised TFLite convolutions into a Keras MobileNetV2 (in place), and
    count what was assigned."""
    import keras  # loads TensorFlow: only when a model is built, trained or run

    conv_types = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)
    keras_convs = [layer for layer in model.layers if isinstance(layer, conv_types)]
    batch_norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    bn_after = {}
    for bn in batch_norms:
        for conv in keras_convs:
            if bn.input is conv.output:
                bn_after[conv.name] = bn
    n_base = len(keras_convs)
    if len(convs) not in (n_base, n_base + 1):
        raise ValueError(
            f"the TFLite model has {len(convs)} convolutions but Keras MobileNetV2 has "
            f"{n_base} (+1 for the top); is it MobileNetV2 with alpha=1.0?"
        )

    for tfl, layer in zip(convs, keras_convs):
        expected_op = "DEPTHWISE_CONV_2D" if isinstance(layer, keras.layers.DepthwiseConv2D) else "CONV_2D"
        if tfl.op != expected_op:
            raise ValueError(
                f"TFLite op {tfl.name!r} is {tfl.op} but Keras layer {layer.name!r} "
                f"is {type(layer).__name__}; the graphs do not line up"
            )
        # CONV_2D [out, kh, kw, in] -> [kh, kw, in, out];
        # DEPTHWISE_CONV_2D [1, kh, kw, C] -> [kh, kw, C, 1]: the same transpose.
        kernel = np.transpose(tfl.kernel, (1, 2, 3, 0))
        (keras_kernel,) = layer.get_weights()  # MobileNetV2 convolutions have no bias
        if kernel.shape != keras_kernel.shape:
            raise ValueError(
                f"TFLite kernel {tfl.name!r} has shape {kernel.shape} (Keras layout) but "
                f"layer {layer.name!r} expects {keras_kernel.shape}"
            )
        layer.set_weights([kernel])
        bn = bn_after.get(layer.name)
        if bn is None:
            raise ValueError(f"no BatchNormalization follows Keras layer {layer.name!r}")
        channels = tfl.bias.shape[0]
        if bn.gamma.shape != (channels,):
            raise ValueError(
                f"bias of {tfl.name!r} has {channels} channels but {bn.name!r} has {tuple(bn.gamma.shape)}"
            )
        ones = np.ones(channels, np.float32)
        variance = np.float32(1.0) - np.float32(bn.epsilon)
        bn.set_weights([ones, tfl.bias, np.zeros(channels, np.float32), np.full(channels, variance)])

    base = convs[:n_base]
    depthwise = sum(tfl.op != "CONV_2D" for tfl in base)

    top_layers = [layer for layer in model.layers if layer.name == "predictions"]
    if top_layers:
        if len(convs) != n_base + 1:
            raise ValueError("the TFLite model has no classification top to convert")
        top = convs[n_base]
        dense = top_layers[0]
        n_classes = top.kernel.shape[0] - 1  # drop class 0 = background
        kernel = top.kernel.reshape(top.kernel.shape[0], -1)[1:].T  # [1280, 1000]
        bias = top.bias[1:]
        expected = [tuple(w.shape) for w in dense.get_weights()]
        if [kernel.shape, bias.shape] != expected or n_classes != NUM_IMAGENET_CLASSES:
            raise ValueError(
                f"TFLite top {top.name!r} gives {kernel.shape}/{bias.shape}; Keras 'predictions' expects {expected}"
            )
        dense.set_weights([kernel, bias])
    return _Assigned(conv2d=len(base) - depthwise, depthwise_conv2d=depthwise, top=int(bool(top_layers)))


def _save_weights_atomically(model: keras.Model, path: Path) -> None:
    tmp = path.with_name(f".{path.name[: -len('.weights.h5')]}.tmp{os.getpid()}.weights.h5")
    try:
        model.save_weights(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def convert_tflite_mobilenet_v2(
    tflite_path: str | os.PathLike[str], out_dir: str | os.PathLike[str]
) -> ConvertedWeights:
    """Dequantise the int8 TFLite MobileNetV2 into float Keras weight files (cached).

    Parameters
    ----------
    tflite_path
        The ``mobilenet_v2_1.0_224`` int8 TFLite model (per-channel int8 kernels,
        int32 biases, batch norm folded in, 1001 classes with 0 = background).
    out_dir
        Directory for the outputs (created if needed).  Files are named after the
        first 12 hex characters of the source sha256, so several sources can share it.

    Returns
    -------
    ConvertedWeights
        Paths and hashes of the no-top and with-top ``.weights.h5`` files and of the
        JSON record.  When the record exists, names the same source sha256 and both
        files still hash as recorded, nothing is converted again (``reused=True``).

    Raises
    ------
    FileNotFoundError
        If ``tflite_path`` is not a file.
    ValueError
        If the TFLite graph does not line up with ``keras.applications.MobileNetV2``.
    """
    start = time.perf_counter()
    source = Path(tflite_path).expanduser()
    if not source.is_file():
        raise FileNotFoundError(f"TFLite weights file not found: {source}; point CATSDOGS_WEIGHTS or --weights at it")
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    source_sha = file_sha256(source)
    notop_name, top_name, meta_name = _output_names(source_sha)

    meta = _cached(out, source_sha)
    if meta is not None:
        result = ConvertedWeights(
            notop_path=out / notop_name,
            top_path=out / top_name,
            metadata_path=out / meta_name,
            source_sha256=source_sha,
            notop_sha256=meta["files"]["notop"]["sha256"],
            top_sha256=meta["files"]["top"]["sha256"],
            reused=True,
            seconds=time.perf_counter() - start,
        )
        logger.info("reusing converted MobileNetV2 weights in %s (source sha256 %s)", out, source_sha[:12])
        return result

    logger.info("converting int8 TFLite MobileNetV2 %s -> float Keras weights in %s", source, out)
    import keras  # loads TensorFlow: only when a conversion is needed
    import tensorflow as tf

    convs = _read_tflite_convolutions(source)
    logger.info("read %d dequantised convolutions from %s", len(convs), source.name)

    top_model = keras.applications.MobileNetV2(
        input_shape=(224, 224, 3), alpha=1.0, include_top=True, weights=None, classes=1000
    )
    counts = _assign_tflite_weights(top_model, convs)
    notop_model = keras.applications.MobileNetV2(input_shape=(224, 224, 3), alpha=1.0, include_top=False, weights=None)
    copied = 0
    for layer in notop_model.layers:
        if layer.weights:
            layer.set_weights(top_model.get_layer(layer.name).get_weights())
            copied += 1

    _save_weights_atomically(notop_model, out / notop_name)
    _save_weights_atomically(top_model, out / top_name)
    notop_sha, top_sha = file_sha256(out / notop_name), file_sha256(out / top_name)
    seconds = time.perf_counter() - start

    record = {
        "format_version": CONVERSION_FORMAT_VERSION,
        "description": "float Keras MobileNetV2 (alpha 1.0) weights dequantised from an "
        "int8 TFLite model; batch-norm layers hold the folded biases "
        "(gamma=1, beta=bias, mean=0, variance=1-epsilon); top drops class 0 (background)",
        "source_path": str(source.resolve()),
        "source_name": source.name,
        "source_sha256": source_sha,
        "source_bytes": source.stat().st_size,
        "tensor_counts": {
            "tflite_convolutions": len(convs),
            "conv2d": counts.conv2d,
            "depthwise_conv2d": counts.depthwise_conv2d,
            "top_conv1x1": counts.top,
            "dequantized_tensors": 2 * len(convs),
            "keras_layers_with_weights_notop": copied,
        },
        "files": {
            "notop": {"name": notop_name, "sha256": notop_sha, "bytes": (out / notop_name).stat().st_size},
            "top": {
                "name": top_name,
                "sha256": top_sha,
                "bytes": (out / top_name).stat().st_size,
                "input_size": 224,
                "classes": NUM_IMAGENET_CLASSES,
            },
        },
        "versions": {
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "conversion_seconds": round(seconds, 3),
    }
    meta_path = atomic_write(out / meta_name, json.dumps(record, indent=2, sort_keys=True) + "\n")
    logger.info(
        "converted %d convolutions (%d conv, %d depthwise, %d top) in %.1f s",
        len(convs),
        counts.conv2d,
        counts.depthwise_conv2d,
        counts.top,
        seconds,
    )
    return ConvertedWeights(
        notop_path=out / notop_name,
        top_path=out / top_name,
        metadata_path=meta_path,
        source_sha256=source_sha,
        notop_sha256=notop_sha,
        top_sha256=top_sha,
        reused=False,
        seconds=seconds,
    )


__all__ = [
    "ACCEPTED_WEIGHTS_FORMS",
    "WeightsInfo",
    "resolve_weights",
    "CONVERSION_FORMAT_VERSION",
    "NUM_IMAGENET_CLASSES",
    "ConvertedWeights",
    "convert_tflite_mobilenet_v2",
]
