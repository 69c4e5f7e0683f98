"""ImageNet weights for the MobileNetV2 base: which source to use, resolved for Keras.

Three sources are accepted (see :func:`resolve_weights`):

``"imagenet"``
    Keras downloads its own float checkpoint on first use (needs internet).
a Keras weights file (``*.h5`` / ``*.weights.h5``)
    Passed to ``keras.applications.MobileNetV2(weights=...)`` unchanged.
the int8 TFLite MobileNetV2 (``*.tflite``)
    The official post-training-quantised ``mobilenet_v2_1.0_224`` model.  It is
    dequantised once into float Keras weight files by
    :mod:`catsdogs.tflite_weights` and cached; later calls reuse them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from catsdogs.config import ENV_WEIGHTS, Config, cache_dir, weights_spec
from catsdogs.files import file_sha256
from catsdogs.tflite_weights import convert_tflite_mobilenet_v2

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


__all__ = ["ACCEPTED_WEIGHTS_FORMS", "WeightsInfo", "resolve_weights"]
