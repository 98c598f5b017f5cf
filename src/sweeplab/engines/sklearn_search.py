"""``random`` and ``grid``: the candidates of scikit-learn's RandomizedSearchCV and GridSearchCV.

scikit-learn's searches draw their candidates with two public pieces, and so does this engine:
``RandomizedSearchCV._run_search`` evaluates ``ParameterSampler(param_distributions, n_iter, random_state)`` and
``GridSearchCV._run_search`` evaluates ``ParameterGrid(param_grid)``. :func:`pipeline_space` is the
``param_distributions`` / ``param_grid`` those classes would be given over sweeplab's pipeline, so the candidates
are theirs, in their order; the trainer then scores each on the same StratifiedKFold with the same pipeline, which
gives scikit-learn's own fold scores (``tests/test_search_equivalence.py`` runs both and compares). What sweeplab
adds: the candidates shared by any number of workers through the queue, trials written live, one model per trial
reset between folds, each fold vectorized once per search, and finished trials reused.
"""

from __future__ import annotations

import warnings

import numpy as np

from sweeplab.engines import register
from sweeplab.engines.base import Engine
from sweeplab.modeling import pipeline, registry
from sweeplab.modeling.pipeline import route


class SklearnEngine(Engine):
    """The candidates of one of scikit-learn's searches (``kind``: random or grid), queued in their order."""

    def __init__(self, kind: str | None = None):
        self.kind = kind or self.name

    def planned(self, sweep) -> int:
        return len(self.proposals(sweep))

    def proposals(self, sweep) -> list[dict]:
        """The configurations this engine tries, in order: what the engine chose, under the sweep's names."""
        from sklearn.model_selection import ParameterGrid, ParameterSampler

        space, names = pipeline_space(sweep, self.kind), _names(sweep)
        if self.kind == "grid" or not space:
            candidates = ParameterGrid(space)
        else:
            with warnings.catch_warnings():
                # "The total space is smaller than n_iter": the sweep's trials are an upper bound, as in sklearn.
                warnings.simplefilter("ignore", UserWarning)
                candidates = list(ParameterSampler(space, sweep.trials, random_state=sweep.seed))
        return [{names[key]: _plain(value) for key, value in candidate.items() if key in names}
                for candidate in candidates]



@register("random")
class RandomEngine(SklearnEngine):
    """RandomizedSearchCV's candidates: ``ParameterSampler(space, trials, random_state=seed)``."""


@register("grid")
class GridEngine(SklearnEngine):
    """GridSearchCV's candidates: every point of ``ParameterGrid(space)``."""

    @classmethod
    def check_sweep(cls, sweep, fail) -> None:
        for model in sweep.models:
            for name, param in sweep.searched(model).items():
                if param.grid_values() is None:
                    where = f"space.{model}.{name}" if name in sweep.families.get(model, {}) else f"space.{name}"
                    fail(where, "the grid engine needs a list or a range with a step")


def pipeline_space(sweep, kind: str) -> dict | list[dict]:
    """What scikit-learn's search would be given over the sweep's pipeline: one mapping of pipeline parameters,
    or one per model family (``param_distributions`` for ``random``, ``param_grid`` for ``grid``).

    A family's mapping also sets the model and a fresh vectorizer of the kind it reads, with every fixed parameter
    of the family: the search starts each candidate from a pipeline that has only the shared ones.
    """
    spaces = []
    for model in sweep.models:
        space = {route(name, model): param.grid_values() if kind == "grid" else distribution(param)
                 for name, param in sweep.searched(model).items()}
        if sweep.families:
            space.update({"clf__model": [registry.get(model)], "vectorize": [pipeline.vectorizer(model)()]})
            space.update({route(name, model): [value] for name, value in sweep.fixed(model).items()})
        spaces.append(space)
    return spaces if sweep.families else spaces[0]


def _names(sweep) -> dict:
    """Pipeline parameter -> sweep name, for everything a candidate may set (a family's model: "model")."""
    names = {route(name, model): name for model in sweep.models for name in sweep.searched(model)}
    if sweep.families:
        names.update({route(name, model): name for model in sweep.models for name in sweep.fixed(model)})
        names["clf__model"] = "model"
    return names


def _plain(value):
    """A parameter as a sweep names it: a factory by its registered name, numpy scalars as Python ones."""
    if callable(value) and hasattr(value, "reads"):
        return next(name for name, factory in registry.registry().items() if factory is value)
    return value.item() if isinstance(value, np.generic) else value


def distribution(param):
    """What RandomizedSearchCV samples a parameter from: a list, or a scipy-style distribution with ``rvs``."""
    from scipy import stats

    if param.values or (param.step and not param.log):
        return param.grid_values()
    if param.integer:
        return _LogInt(param.low, param.high) if param.log else stats.randint(int(param.low), int(param.high) + 1)
    if param.log:
        return stats.loguniform(param.low, param.high)
    return stats.uniform(param.low, param.high - param.low)


class _LogInt:
    """Integers drawn log-uniformly from [low, high] (scipy has no such discrete distribution)."""

    def __init__(self, low, high):
        self.low, self.high = int(low), int(high)

    def rvs(self, random_state=None):
        from scipy import stats

        value = stats.loguniform(self.low, self.high + 1).rvs(random_state=random_state)
        return min(int(value), self.high)
