"""Nested cross-validation: what the whole search delivers, estimated without its own optimism.

The best CV mean of a search is the maximum of many noisy estimates, so it promises more than the chosen
configuration delivers. Nested CV (scikit-learn's gallery: "Nested versus non-nested cross-validation"; Cawley and
Talbot, JMLR 2010) runs the whole search again inside each outer fold's training part, refits that search's winner
there and scores it on the outer fold's held-out part: the mean of those scores estimates the procedure (search,
selection rule, refit), and how often the outer winners agree says how stable the choice is. Only the training
split is used; the held-out test split stays for the one final score.

This module holds the outer loop and its record; the runner supplies the inner search, so that every engine and
selection rule runs exactly as in the sweep itself.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from sweeplab.modeling import pipeline
from sweeplab.modeling.metrics import measure_predictions


@dataclass(frozen=True)
class OuterFold:
    fold: int
    params: dict  # the inner search's winner
    inner_cv: float  # its CV mean inside the outer training part: what the search promised
    score: float  # its refit's score on the outer held-out part: what it delivered
    tied: int  # the size of the inner tie group
    trials: int  # the inner search's complete trials


@dataclass(frozen=True)
class NestedResult:
    metric: str
    folds: tuple  # of OuterFold

    @property
    def mean(self) -> float:
        return statistics.fmean(f.score for f in self.folds)

    @property
    def std(self) -> float:
        return statistics.pstdev(f.score for f in self.folds)

    @property
    def inner_mean(self) -> float:
        return statistics.fmean(f.inner_cv for f in self.folds)

    @property
    def winners(self) -> Counter:
        """How many outer folds each configuration won, by its parameters."""
        return Counter(json.dumps(f.params, sort_keys=True, default=str) for f in self.folds)

    def stability(self) -> str:
        """"the same configuration won all 3 outer folds", or "3 outer folds chose 2 configurations (the most
        common won 2)"."""
        counts, outer = self.winners, len(self.folds)
        if len(counts) == 1:
            return f"the same configuration won all {outer} outer folds"
        return (f"{outer} outer folds chose {len(counts)} configurations "
                f"(the most common won {counts.most_common(1)[0][1]})")

    def table(self):
        import pandas as pd

        return pd.DataFrame([{"outer_fold": f.fold, f"inner_cv_{self.metric}": f.inner_cv,
                              f"outer_{self.metric}": f.score, "tied": f.tied, "trials": f.trials, **f.params}
                             for f in self.folds])


def outer_folds(sweep):
    """The outer splits of the training split: stratified, shuffled by the sweep's seed + 1, so that with as many
    outer as inner folds they are not the sweep's own CV folds again."""
    from sklearn.model_selection import StratifiedKFold

    return StratifiedKFold(sweep.nested, shuffle=True, random_state=sweep.seed + 1)


def estimate(sweep, X, y, search: Callable) -> NestedResult:
    """``search(k, rows)`` runs the sweep's search on the training rows ``rows`` of outer fold ``k`` and returns
    (its winner by the sweep's rule, the size of its tie group, its complete trials)."""
    found = []
    for k, (train, held_out) in enumerate(outer_folds(sweep).split(X, y), start=1):
        winner, tied, complete = search(k, train)
        model = pipeline.for_sweep(sweep, winner.refit_params).fit(X[train], y[train])
        score = measure_predictions(y[held_out], model.predict(X[held_out]))[sweep.metric]
        found.append(OuterFold(k, dict(winner.params), winner.mean, score, tied, complete))
    return NestedResult(sweep.metric, tuple(found))
