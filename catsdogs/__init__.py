"""catsdogs: a re-runnable reproduction of MobileNetV2 transfer learning on Cats vs Dogs."""

from catsdogs.config import CLASS_NAMES, Config, get_config

__version__ = "0.1.0"

__all__ = ["CLASS_NAMES", "Config", "get_config", "__version__"]
