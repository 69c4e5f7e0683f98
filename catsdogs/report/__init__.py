"""Stage 6, the report: the chapters' tables and figure inputs, the book build, the *Try the model* page, the notebook runner, ``verify``.

Its modules: ``address``, ``book``, ``budget``, ``figure_inputs``, ``notebooks``, ``rerun``,
``tables``, ``toolchain``, ``verify``, ``web``. Import them by name (``from catsdogs.report
import address``): the package re-exports nothing, so importing one module does not import its
neighbours (or TensorFlow).
"""
