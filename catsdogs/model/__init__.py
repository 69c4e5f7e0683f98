"""Stage 2, the model: augmentation layers, the MobileNetV2 classifier, the ImageNet weights (the int8 TFLite model dequantized) and TFLite files through LiteRT.

Its modules: ``augment``, ``classifier``, ``tflite``, ``weights``. Import them by name (``from
catsdogs.model import augment``): the package re-exports nothing, so importing one module does
not import its neighbours (or TensorFlow).
"""
