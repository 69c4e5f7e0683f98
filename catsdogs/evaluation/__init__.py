"""Stage 3, evaluation: the one model loader and P(dog), metrics (one table of them), bootstrap CIs, calibration, exports and latency, Grad-CAM.

Its modules: ``bootstrap``, ``calibration``, ``evaluate``, ``explain``, ``export``,
``external``, ``metrics``, ``predict``. Import them by name (``from catsdogs.evaluation import
bootstrap``): the package re-exports nothing, so importing one module does not import its
neighbours (or TensorFlow).
"""
