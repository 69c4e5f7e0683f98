"""Stage 4, training: the two phases' fits (``train``, functions of data), the steps that run them in
a run directory (``steps``, the one layer that takes a run), exact resumption, cross-validation.

Its modules: ``cv``, ``explore``, ``resume``, ``steps``, ``train``. Import them by name (``from
catsdogs.training import cv``): the package re-exports nothing, so importing one module does not
import its neighbours (or TensorFlow).
"""
