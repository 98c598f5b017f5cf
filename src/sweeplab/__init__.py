"""sweeplab: declarative hyperparameter sweeps for Keras text classifiers, tracked in MLflow.

Where things are: data enters in ``data``; a sweep file becomes a ``space.Sweep``; ``engines`` choose and
cross-validate configurations of the ``pipeline`` (``vectorize`` + a ``models`` factory); ``sweep`` refits and
tests the winner; ``tracking`` writes it all to MLflow and ``leaderboard`` reads it back.
"""

__version__ = "0.1.0"
