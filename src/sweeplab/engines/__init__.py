"""Engines choose which configurations to try and run each through stratified k-fold CV on the training split.

An engine gets an unfitted pipeline, the sweep, the training data and the CV splitter, and returns one
:class:`~sweeplab.engines.base.TrialResult` per configuration. It never sees the test split and knows nothing
about where results are stored: the sweep runner refits, scores and logs.
"""

from __future__ import annotations

from sweeplab.engines.base import METRICS  # the metrics every engine scores folds with

ENGINES = ("random", "grid", "optuna")
__all__ = ["ENGINES", "METRICS", "get"]


def get(name: str, **options):
    """The engine called ``name``; ``options`` are the Optuna engine's (storage, fresh, workers, heartbeat,
    local_dir) and are not used by the others."""
    if name == "optuna":
        from sweeplab.engines.optuna_search import OptunaEngine

        return OptunaEngine(**options)
    from sweeplab.engines.search_cv import SearchCVEngine

    if name not in ENGINES:
        raise KeyError(name)
    return SearchCVEngine(name)
