"""sweeplab: declarative hyperparameter sweeps for Keras text classifiers, tracked in MLflow.

Where things are: data enters in ``data``; a sweep file becomes a ``space.Sweep``; ``engines`` propose
configurations and the ``trainer`` cross-validates each (``cv``) over the ``pipeline`` (``vectorize`` + a ``models``
factory), reusing identical finished ``trial``s; ``sweep`` refits and tests the winner; ``tracking`` writes it all
to MLflow and ``leaderboard`` reads it back.
"""

__version__ = "0.2.0"

import os

# TensorFlow's oneDNN kernels are cached per tensor shape, so a sweep that tries many shapes grows by about 1.3 MB
# a trial (bench/scaling.py: +12 % RSS from trial 10 to 100), with no speed gained on models this small. It has
# to be set before TensorFlow is imported; a user's own setting wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
