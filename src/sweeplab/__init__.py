"""sweeplab: declarative hyperparameter sweeps for Keras text classifiers, tracked in MLflow.

The Python API (:mod:`sweeplab.api`) is here: ``sweeplab.sweep``, ``plan``, ``join``, ``leaderboard``, ``compare``,
``export``, ``retrain``, ``load_model``, ``fetch_data``, ``open_stores``. Importing sweeplab imports none of it, and
changes nothing in the process (no environment variable, warning filter or TensorFlow setting): that happens when work
starts.

Where things are: data enters in ``data/``; a sweep file becomes a ``config.Sweep``; ``engines/`` propose
configurations; ``search/`` runs them (a queue of trials any number of processes take, the trainer cross-validating
each over a ``modeling`` pipeline); ``tracking/`` writes it all to MLflow; ``results/`` reads it back (leaderboard, compare, export); ``serving/`` turns a winner into a served model;
``cli/`` is the command.
"""

__version__ = "0.3.0"

_API = ("sweep", "plan", "join", "leaderboard", "report", "compare", "export", "retrain", "load_model", "serve",
        "fetch_data", "open_stores", "sweep_names", "resolve_sweep", "SweepResult", "ReportResult", "RetrainResult",
        "Model")
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    # The API imports its layers on first use, so that `import sweeplab` stays instant and side-effect free.
    if name in _API:
        from sweeplab import api

        return getattr(api, name)
    raise AttributeError(f"module 'sweeplab' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_API])
