"""What engines return and what they report while running."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TrialResult:
    """One configuration's cross-validation: a score per fold (NaN where the fold failed)."""

    number: int
    params: dict
    fold_scores: tuple
    fit_time: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(math.isfinite(s) for s in self.fold_scores)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.fold_scores) if self.ok else math.nan

    @property
    def std(self) -> float:
        return statistics.pstdev(self.fold_scores) if self.ok else math.nan


class FoldListener(Protocol):
    """Told about every finished fold, as it finishes (for progress display)."""

    def fold_done(self, params: dict, score: float) -> None: ...


def best(trials: list[TrialResult]) -> TrialResult | None:
    """Highest CV mean; ties go to the earlier trial."""
    finished = [t for t in trials if t.ok]
    return max(finished, key=lambda t: (t.mean, -t.number)) if finished else None


def score(estimator, X, y) -> float:
    """The one metric trials are ranked by and the refit is tested with: accuracy."""
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(y, estimator.predict(X)))
