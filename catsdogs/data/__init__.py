"""Stage 1, the data: find or download PetImages, validate every file, the split manifest and the folds, decoding and resizing, ``tf.data``; functions of data, none of which knows the run directory.

Its modules: ``download``, ``duplicates``, ``external``, ``images``, ``prepare``, ``scan``,
``split``. Import them by name (``from catsdogs.data import download``): the package re-exports
nothing, so importing one module does not import its neighbours (or TensorFlow).
"""
