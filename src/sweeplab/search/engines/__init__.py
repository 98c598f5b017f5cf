"""Engines propose configurations; :class:`sweeplab.search.trainer.Trainer` trains them. An engine decides which
configurations to try and, for Optuna, when to stop one early; it never sees the test split and knows nothing of
where results are stored.

- ``random``, ``grid``: the candidates scikit-learn's RandomizedSearchCV and GridSearchCV would evaluate
  (:mod:`~sweeplab.search.engines.sklearn_search`);
- ``optuna``: Optuna's samplers and pruners, persistent studies, workers
  (:mod:`~sweeplab.search.engines.optuna_search`).
"""

from __future__ import annotations

from sweeplab.config.parse import ENGINES

__all__ = ["ENGINES", "get", "engine_class"]


def engine_class(name: str):
    if name == "optuna":
        from sweeplab.search.engines.optuna_search import OptunaEngine

        return OptunaEngine
    if name not in ENGINES:
        raise KeyError(name)
    from sweeplab.search.engines.sklearn_search import SklearnEngine

    return SklearnEngine


def get(name: str, **options):
    """The engine called ``name``; ``options`` are the Optuna engine's (storage, fresh, workers, heartbeat,
    local_dir) and are not used by the others."""
    cls = engine_class(name)
    return cls(**options) if name == "optuna" else cls(name)
