"""The classifier: augmentation -> preprocessing -> MobileNetV2 base -> pooling -> dropout -> logit.

The model takes RGB images as float32 ``(batch, S, S, 3)`` in [0, 255] and returns
one logit per image (``sigmoid(logit)`` = probability of *dog*). The base always
runs in inference mode (``training=False``), so its batch-norm statistics stay the
ImageNet ones in both phases, as the Keras transfer-learning guide recommends.
"""

from __future__ import annotations

import logging

import keras

from catsdogs.config import Config
from catsdogs.model.augment import build_augmentation
from catsdogs.records import Parameters, Unfrozen

log = logging.getLogger(__name__)

BASE_NAME = "mobilenetv2_base"
FEATURE_LAYER = "pool"
HEAD_LAYER = "head_logit"


def build_base(config: Config, weights: str | None) -> keras.Model:
    """MobileNetV2 without its top, at ``config.image_size``.

    ``weights`` is what :func:`catsdogs.model.weights.resolve_weights` returns in
    ``keras_weights``: ``"imagenet"`` (Keras download), a weights file, or ``None``
    (random init; tests only).
    """
    size = config.image_size
    return keras.applications.MobileNetV2(
        input_shape=(size, size, 3),
        alpha=config.alpha,
        include_top=False,
        weights=weights,
        name=BASE_NAME,
    )


def preprocessing_layer() -> keras.layers.Layer:
    """``mobilenet_v2.preprocess_input`` as a layer: [0, 255] -> [-1, 1] (``x / 127.5 - 1``).

    A ``Rescaling`` layer rather than a ``Lambda`` so the saved model loads safely.
    """
    return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="preprocess")


def build_head(config: Config, feature_dim: int) -> keras.Model:
    """The new binary head alone (dropout + one logit) on pooled features ``(batch, feature_dim)``.

    Its layer names match the full classifier so weights can be copied across.
    """
    inputs = keras.Input((feature_dim,), name="features")
    x = keras.layers.Dropout(config.dropout, seed=config.training_seed, name="head_dropout")(inputs)
    outputs = keras.layers.Dense(1, name=HEAD_LAYER)(x)
    return keras.Model(inputs, outputs, name="head")


def build_classifier(config: Config, weights: str | None) -> keras.Model:
    """The full classifier with the base frozen (phase 1 state)."""
    size = config.image_size
    base = build_base(config, weights)
    base.trainable = False
    inputs = keras.Input((size, size, 3), name="image")
    x = build_augmentation(config)(inputs)
    x = preprocessing_layer()(x)
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D(name=FEATURE_LAYER)(x)
    x = keras.layers.Dropout(config.dropout, seed=config.training_seed, name="head_dropout")(x)
    outputs = keras.layers.Dense(1, name=HEAD_LAYER)(x)
    return keras.Model(inputs, outputs, name="catsdogs_mobilenetv2")


def inference_model(model: keras.Model) -> keras.Model:
    """The same trained layers without augmentation and dropout (identities at inference).

    Used for exports: the random augmentation ops have no TFLite kernels, and a
    deployed model has no use for them. Predictions equal ``model(x, training=False)``.
    """
    size = model.input_shape[1]
    inputs = keras.Input((size, size, 3), name="image")
    x = model.get_layer("preprocess")(inputs)
    x = get_base(model)(x, training=False)
    x = model.get_layer(FEATURE_LAYER)(x)
    outputs = model.get_layer(HEAD_LAYER)(x)
    return keras.Model(inputs, outputs, name="catsdogs_mobilenetv2_inference")


def get_base(model: keras.Model) -> keras.Model:
    """The MobileNetV2 sub-model of a classifier."""
    return model.get_layer(BASE_NAME)


def feature_extractor(model: keras.Model) -> keras.Model:
    """Image -> pooled base features ``(batch, 1280)`` (inference mode: no augmentation)."""
    return keras.Model(model.inputs, model.get_layer(FEATURE_LAYER).output, name="features")


def copy_head(head: keras.Model, model: keras.Model) -> None:
    """Copy the trained head's Dense weights into the classifier."""
    model.get_layer(HEAD_LAYER).set_weights(head.get_layer(HEAD_LAYER).get_weights())


def unfreeze_top(model: keras.Model, from_layer: str) -> Unfrozen:
    """Phase 2: unfreeze base layers from ``from_layer`` (inclusive) to the end.

    Batch-norm layers stay frozen (and in inference mode), following the Keras
    fine-tuning guide: updating their statistics on a small, different dataset
    would wreck what the base learned.

    Returns
    -------
    Unfrozen
        ``first_layer``, ``first_index``, ``n_layers``, ``n_unfrozen`` (layers with
        trainable weights that now train).
    """
    base = get_base(model)
    names = [layer.name for layer in base.layers]
    if from_layer not in names:
        blocks = [n for n in names if n.endswith("_expand")]  # network order: the top blocks last
        raise ValueError(
            f"fine_tune_from={from_layer!r} is not a layer of {base.name}; "
            f"use a layer name such as {', '.join(blocks[-4:])} or Conv_1"
        )
    start = names.index(from_layer)
    base.trainable = True
    n_unfrozen = 0
    for i, layer in enumerate(base.layers):
        trainable = i >= start and not isinstance(layer, keras.layers.BatchNormalization)
        layer.trainable = trainable
        n_unfrozen += int(trainable and bool(layer.weights))
    log.info("unfroze %d weighted layers of %d, from %s (index %d)", n_unfrozen, len(names), from_layer, start)
    return Unfrozen(first_layer=from_layer, first_index=start, n_layers=len(names), n_unfrozen=n_unfrozen)


def parameter_counts(model: keras.Model) -> Parameters:
    """Total / trainable / non-trainable parameter counts of ``model`` as it is now."""
    trainable = int(sum(keras.ops.size(w) for w in model.trainable_weights))
    non_trainable = int(sum(keras.ops.size(w) for w in model.non_trainable_weights))
    return Parameters(total=trainable + non_trainable, trainable=trainable, non_trainable=non_trainable)


def compile_model(
    model: keras.Model,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule,
    label_smoothing: float = 0.0,
) -> None:
    """Adam + binary cross-entropy on logits (``label_smoothing`` as Keras defines it);
    accuracy (threshold 0 on the logit) and AUC."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=label_smoothing),
        metrics=[
            keras.metrics.BinaryAccuracy(threshold=0.0, name="accuracy"),
            keras.metrics.AUC(from_logits=True, name="auc"),
        ],
    )


def learning_rate_schedule(
    schedule: str, peak: float, epochs: int, steps_per_epoch: int
) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The fine-tuning step size of :attr:`~catsdogs.config.Config.phase2_schedule`: ``peak``
    itself (``"constant"``), or Keras's ``CosineDecay`` with a linear warm-up from
    ``peak / 10`` to ``peak`` over the first epoch and a decay to zero over the others
    (``"cosine"``; one epoch: the warm-up alone)."""
    if schedule == "constant":
        return peak
    if schedule != "cosine":
        raise ValueError(f"phase2_schedule must be constant or cosine, got {schedule!r}")
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=peak / 10,
        decay_steps=max(1, (epochs - 1) * steps_per_epoch),
        alpha=0.0,
        warmup_target=peak,
        warmup_steps=steps_per_epoch,
    )
