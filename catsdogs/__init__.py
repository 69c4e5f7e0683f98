"""catsdogs: a re-runnable reproduction of MobileNetV2 transfer learning on Cats vs Dogs."""

import logging

from catsdogs.config import CLASS_NAMES, Config, get_config

__version__ = "0.1.0"


class RetracingHintFilter(logging.Filter):
    """Drops TensorFlow's "... triggered tf.function retracing" hint, and nothing else.

    Every model this package loads (the final model, the mitigation model, Grad-CAM's
    gradient model, phase 1's feature extractor and head) traces its predict step once per
    batch shape, by design, so a chapter that loads several crosses TensorFlow's threshold
    of five traces and gets a performance hint that tells its reader nothing. Installed on
    the ``tensorflow`` logger when the package is imported (TensorFlow need not be loaded)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


logging.getLogger("tensorflow").addFilter(RetracingHintFilter())

__all__ = ["CLASS_NAMES", "Config", "get_config", "RetracingHintFilter", "__version__"]
