"""Stage 4, training: the two phases in a run directory, exact resumption, cross-validation.

Its modules: ``cv``, ``explore``, ``resume``, ``train``. Import them by name (``from
catsdogs.training import cv``): the package re-exports nothing, so importing one module does not
import its neighbours (or TensorFlow).
"""
