"""What the package does to other libraries' logging when imported."""

from __future__ import annotations


def test_tensorflow_retracing_hint_is_dropped_and_other_warnings_kept() -> None:
    import logging

    import tensorflow as tf

    import catsdogs  # noqa: F401  (installs the filter)

    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    logger, handler = tf.get_logger(), Keep()
    level = logger.level
    logger.setLevel(logging.WARNING)  # other code (the CLI's quiet start) may have raised it
    logger.addHandler(handler)
    try:

        @tf.function
        def double(x):
            return 2 * x

        for n in range(1, 9):  # a new shape each call: TensorFlow's real hint after five traces
            double(tf.zeros([n]))
        tf.get_logger().warning("another TensorFlow warning")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert seen == ["another TensorFlow warning"]
