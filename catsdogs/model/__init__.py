"""Stage 2, the model: augmentation layers, the MobileNetV2 classifier, the ImageNet weights (the int8 TFLite model dequantized) and TFLite files through LiteRT.

Every public name of the modules below is importable from here; modules load on first use
(``lazy_loader``), so importing one module does not import its neighbours (or TensorFlow).
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submodules=["augment", "classifier", "tflite", "weights"],
    submod_attrs={
        "augment": ["build_augmentation"],
        "classifier": [
            "BASE_NAME",
            "FEATURE_LAYER",
            "HEAD_LAYER",
            "build_base",
            "preprocessing_layer",
            "build_head",
            "build_classifier",
            "inference_model",
            "get_base",
            "feature_extractor",
            "copy_head",
            "freeze_base",
            "unfreeze_top",
            "parameter_counts",
            "compile_model",
            "learning_rate_schedule",
        ],
        "tflite": ["tflite_interpreter", "quantize", "dequantize"],
        "weights": [
            "ACCEPTED_WEIGHTS_FORMS",
            "WeightsInfo",
            "resolve_weights",
            "CONVERSION_FORMAT_VERSION",
            "NUM_IMAGENET_CLASSES",
            "ConvertedWeights",
            "convert_tflite_mobilenet_v2",
        ],
    },
)
