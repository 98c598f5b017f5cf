"""Engines propose configurations; they never train. Every engine's proposals go through one queue of trials
(:mod:`sweeplab.search.queue`) that any number of processes on any number of machines work on, and the trainer
(:mod:`sweeplab.search.trainer`) trains what a process takes from it.

An engine is looked up by the name a sweep file's ``engine:`` gives. The built-in ones:

- ``random``, ``grid``: the candidates scikit-learn's RandomizedSearchCV and GridSearchCV would evaluate
  (:mod:`~sweeplab.engines.sklearn_search`);
- ``optuna``: Optuna's samplers and pruners, persistent studies (:mod:`~sweeplab.engines.optuna_search`).

Installed packages add engines by declaring entry points in the ``sweeplab.engines`` group (``name =
"package.module:EngineClass"``), as ``sweeplab.models`` does for model factories: a new engine is one module with
one :class:`Engine` subclass, and its registration.
"""

from __future__ import annotations

import importlib

from sweeplab.engines.base import Engine, Judge, Stop
from sweeplab import plugins
from sweeplab.errors import SweepLabError

__all__ = ["Engine", "Judge", "Stop", "register", "get", "names", "ENTRY_POINTS"]

ENTRY_POINTS = "sweeplab.engines"
# Imported to register the built-in engines; a module imports its heavy libraries inside its methods, so that
# reading a sweep file costs only its own engine's.
_BUILT_IN = ("sweeplab.engines.sklearn_search", "sweeplab.engines.optuna_search")

REGISTRY: dict[str, type[Engine]] = {}
_plugins: dict[str, type[Engine]] | None = None


def register(name: str):
    """``@register("name")`` on an :class:`Engine` subclass: a sweep file's ``engine: name`` runs it."""
    def add(cls: type[Engine]) -> type[Engine]:
        cls.name = name
        REGISTRY[name] = cls
        return cls

    return add


def _registry() -> dict[str, type[Engine]]:
    global _plugins
    for module in _BUILT_IN:
        importlib.import_module(module)
    if _plugins is None:
        _plugins = plugins.declared(ENTRY_POINTS, REGISTRY, lambda found: None if isinstance(found, type) and
                                    issubclass(found, Engine) else "is not a sweeplab.engines.Engine subclass")
        for name, cls in _plugins.items():
            cls.name = name
    return {**REGISTRY, **_plugins}


def names() -> tuple[str, ...]:
    """Every name ``engine:`` may take."""
    return tuple(_registry())


def get(name: str) -> type[Engine]:
    """The engine class registered as ``name``."""
    engines = _registry()
    if name not in engines:
        raise SweepLabError(f"unknown engine {name!r}, expected one of {', '.join(engines)}")
    return engines[name]
