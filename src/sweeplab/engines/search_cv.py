"""``random`` and ``grid``: scikit-learn's RandomizedSearchCV and GridSearchCV over the sweeplab pipeline.

The search runs sequentially with ``refit=False`` (the sweep runner refits the winner) and ``error_score=NaN``,
so a configuration that raises becomes a failed trial while the others go on. Every fold is scored with every
metric (a multi-metric search); the sweep's ``metric`` ranks.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV, ParameterGrid, ParameterSampler, RandomizedSearchCV

from sweeplab.engines.base import COMPLETE, FAIL, METRICS, Engine, TrialListener, TrialResult, measure
from sweeplab.errors import INTERRUPTED, SweepLabError
from sweeplab import models, pipeline
from sweeplab.pipeline import route


class SearchCVEngine(Engine):
    def __init__(self, kind: str):
        self.kind = kind

    def planned(self, sweep) -> int:
        return len(self.candidates(sweep))

    def candidates(self, sweep) -> list[dict]:
        """The configurations this engine will try, in order (pipeline parameter names)."""
        space = self._space(sweep)
        if self.kind == "grid" or not space:
            return list(ParameterGrid(space))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "space smaller than n_iter": planned for below
            return list(ParameterSampler(space, sweep.trials, random_state=sweep.seed))

    def search(self, ctx) -> list[TrialResult]:
        trials = self._run(ctx.sweep, ctx.unfitted, ctx.X, ctx.y, ctx.cv, ctx.listener)
        for trial in trials:
            ctx.listener.trial_finished(trial)
        return trials

    def _run(self, sweep, pipeline, X, y, cv, listener: TrialListener) -> list[TrialResult]:
        space = self._space(sweep)
        names = _names(sweep)
        scorer = _ReportingScorer(listener, sweep, cv.get_n_splits())
        common = dict(scoring=scorer, cv=cv, refit=False, error_score=np.nan, n_jobs=1)
        if self.kind == "grid" or not space:
            search = GridSearchCV(pipeline, space, **common)
        else:
            n_iter = len(self.candidates(sweep))
            search = RandomizedSearchCV(pipeline, space, n_iter=n_iter, random_state=sweep.seed, **common)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", FitFailedWarning)
            try:
                search.fit(X, y)
            except ValueError as exc:
                if "fits failed" not in str(exc):
                    raise
                # scikit-learn raises when every fit failed: every candidate is a failed trial.
                return self._all_failed(sweep, names, cv, _first_errors(str(exc)))
        if INTERRUPTED.is_set():  # a Ctrl-C that scikit-learn recorded as a failed fit
            raise KeyboardInterrupt
        errors = _first_errors("".join(str(w.message) for w in caught if w.category is FitFailedWarning))
        _rewarn(w for w in caught if w.category is not FitFailedWarning and not _about_failed_scores(w))
        return _trials(search.cv_results_, names, sweep, cv.get_n_splits(), errors)

    def _space(self, sweep) -> dict | list[dict]:
        """What scikit-learn searches: one mapping of pipeline parameters, or one per model family.

        A family's mapping also sets the model and a fresh vectorizer of the kind it reads, with every fixed
        parameter of the family: the search starts each candidate from a pipeline that has only the shared ones.
        """
        spaces = []
        for model in sweep.models:
            space = {}
            for name, param in sweep.searched(model).items():
                values = param.grid_values() if self.kind == "grid" else param.distribution()
                if values is None:
                    raise SweepLabError(
                        f"{sweep.path}: space.{name}: the grid engine needs a list or a range with a step"
                    )
                space[route(name, model)] = values
            if sweep.families:
                space.update({"clf__model": [models.get(model)], "vectorize": [pipeline.vectorizer(model)()]})
                space.update({route(name, model): [value] for name, value in sweep.fixed(model).items()})
            spaces.append(space)
        return spaces if sweep.families else spaces[0]

    def _all_failed(self, sweep, names, cv, errors) -> list[TrialResult]:
        folds = cv.get_n_splits()
        return [
            TrialResult(i, _sweep_params(candidate, names, sweep), (math.nan,) * folds, 0.0, FAIL, errors)
            for i, candidate in enumerate(self.candidates(sweep))
        ]


class _ReportingScorer:
    """Every metric of one fitted fold, reported to the listener as it happens (sklearn gives no other hook).

    scikit-learn runs the candidates one after another, each through all folds, so counting calls gives the
    trial and fold numbers (they drift only after a fold that failed, which the final results correct).
    """

    def __init__(self, listener: TrialListener, sweep, folds: int):
        self.listener, self.sweep, self.folds = listener, sweep, folds
        self.calls = 0

    def __call__(self, estimator, X, y) -> dict:
        measures = measure(estimator, X, y)
        params = estimator.get_params()
        trial, fold = divmod(self.calls, self.folds)
        self.calls += 1
        model = _plain(params["clf__model"]) if self.sweep.families else self.sweep.model
        shown = [*self.sweep.searched(model), *self.sweep.families.get(model, {})]
        chosen = {**({"model": model} if self.sweep.families else {}),
                  **{name: _plain(params[route(name, model)]) for name in shown}}
        self.listener.fold_done(trial, fold + 1, chosen, measures[self.sweep.metric], measures)
        return measures


def _trials(results: dict, names: dict, sweep, folds: int, errors: str | None) -> list[TrialResult]:
    trials = []
    for i, candidate in enumerate(results["params"]):
        measures = tuple({m: float(results[f"split{k}_test_{m}"][i]) for m in _measured(results)}
                         for k in range(folds))
        scores = tuple(fold[sweep.metric] for fold in measures)
        failed = not all(math.isfinite(s) for s in scores)
        fit_time = float(results["mean_fit_time"][i]) * folds
        trials.append(TrialResult(i, _sweep_params(candidate, names, sweep), scores, fit_time,
                                  FAIL if failed else COMPLETE, (errors or "a fold failed") if failed else None,
                                  () if failed else measures))
    return trials


def _measured(results: dict) -> list[str]:
    """What the scorer returned: METRICS first, then facts (present only when every fold of some trial had them)."""
    found = [key[len("split0_test_"):] for key in results if key.startswith("split0_test_")]
    return [m for m in METRICS if m in found] + [f for f in found if f not in METRICS]


def _names(sweep) -> dict:
    """Pipeline parameter -> sweep name, for everything a candidate may set (a family's model: "model")."""
    names = {route(name, model): name for model in sweep.models for name in sweep.searched(model)}
    if sweep.families:
        names.update({route(name, model): name for model in sweep.models for name in sweep.fixed(model)})
        names["clf__model"] = "model"
    return names


def _sweep_params(candidate: dict, names: dict, sweep) -> dict:
    """Searched values under their sweep names, plus the fixed ones: the whole configuration."""
    return sweep.configuration({names[key]: _plain(value) for key, value in candidate.items() if key in names})


def _plain(value):
    """A parameter as a sweep names it: a factory by its name, numpy scalars as Python ones."""
    if callable(value) and hasattr(value, "reads"):
        return value.__name__
    return value.item() if isinstance(value, np.generic) else value


def _first_errors(summary: str) -> str | None:
    """The exception lines of scikit-learn's fit-failure summary ('N fits failed with the following error: ...')."""
    found = []
    for block in summary.split("fits failed with the following error:")[1:]:
        lines = block.strip("-\n").splitlines()
        frames = [i for i, line in enumerate(lines) if line.startswith("  File ")]
        after = lines[frames[-1] + 1:] if frames else lines
        exception = next((line for line in after if line and not line.startswith(" ")), lines[-1] if lines else "")
        found.append(re.sub(r"\s+", " ", exception).strip())
    return "; ".join(dict.fromkeys(found)) or None


def _about_failed_scores(record) -> bool:
    """scikit-learn's 'test scores are non-finite' warning: the failed trials already say so."""
    return str(record.message).startswith("One or more of the test scores are non-finite")


def _rewarn(records) -> None:
    for record in records:
        warnings.warn_explicit(record.message, record.category, record.filename, record.lineno)
