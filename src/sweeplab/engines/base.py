"""What engines return, what they report while running, and the one metric they rank by."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Protocol

COMPLETE, PRUNED, FAIL = "COMPLETE", "PRUNED", "FAIL"
# Every fold is scored with each; a sweep's ``metric:`` picks the one trials are ranked and pruned by.
METRICS = ("accuracy", "macro_f1")


@dataclass(frozen=True)
class TrialResult:
    """One configuration's cross-validation: a score per finished fold (NaN where a fold failed).

    A PRUNED trial has the folds it finished before being stopped; ``note`` says where it stopped. A FAIL
    trial's ``note`` is its error.
    """

    number: int
    params: dict
    fold_scores: tuple
    fit_time: float
    state: str = COMPLETE
    note: str | None = None
    fold_measures: tuple = ()  # per finished fold: every metric of METRICS, and facts such as a resolved maxlen

    @property
    def ok(self) -> bool:
        return self.state == COMPLETE and bool(self.fold_scores) and all(map(math.isfinite, self.fold_scores))

    @property
    def error(self) -> str | None:
        return self.note if self.state == FAIL else None

    @property
    def mean(self) -> float:
        return statistics.fmean(self.fold_scores) if self.ok else math.nan

    @property
    def std(self) -> float:
        return statistics.pstdev(self.fold_scores) if self.ok else math.nan

    def summary(self) -> dict:
        """CV mean and std of every metric measured on all folds: ``{"cv_accuracy_mean": ..., ...}``."""
        if not self.ok or len(self.fold_measures) != len(self.fold_scores):
            return {}
        return {f"cv_{name}_{stat}": fn([fold[name] for fold in self.fold_measures])
                for name in self.fold_measures[0] for stat, fn in (("mean", statistics.fmean),
                                                                   ("std", statistics.pstdev))}


@dataclass
class SearchContext:
    """Everything an engine needs for one dataset: the training split, the folds and whom to tell."""

    sweep: object
    dataset: str
    unfitted: object  # the Pipeline with the sweep's fixed parameters set
    X: object
    y: object
    cv: object
    listener: object
    worker_args: tuple = ()  # command-line options a helper process needs to report to the same place


class Engine:
    """The narrow interface the sweep runner uses. The defaults describe an engine that cannot resume."""

    def planned(self, sweep) -> int:
        """How many trials a full search of this sweep has."""
        raise NotImplementedError

    def check(self) -> None:
        """Fail before any training if the engine's own storage cannot be used."""

    def open(self, sweep, dataset) -> str | None:
        """Prepare the search of ``dataset``; a resumable engine returns a key that identifies it across runs."""
        return None

    def finished(self, sweep, dataset_name: str) -> int:
        """Trials already finished by earlier runs of the same search."""
        return 0

    def search(self, ctx: SearchContext) -> list[TrialResult]:
        raise NotImplementedError

    def figures(self, sweep, dataset_name: str) -> dict:
        """Diagnostic plots by file name."""
        return {}


class TrialListener(Protocol):
    """Told what happens while an engine runs. Progress display and tracking both listen; engines only talk.

    ``fold`` and ``epoch`` count from 1. Engines that cannot see inside a fit (scikit-learn's searches) never
    call ``trial_started`` or ``epoch_done``.
    """

    def trial_started(self, number: int, params: dict) -> None: ...

    def epoch_done(self, number: int, fold: int, epoch: int, value: float) -> None: ...

    def fold_done(self, number: int, fold: int, params: dict, score: float, measures: dict) -> None:
        """``score`` is the sweep's metric; ``measures`` has every metric of METRICS."""

    def trial_finished(self, trial: TrialResult) -> None: ...

    def reconcile(self, running: set) -> None:
        """Only the trials numbered in ``running`` are still in progress anywhere."""


class Listeners:
    """Several listeners as one; each is told only the events it has a method for."""

    def __init__(self, *listeners):
        self.listeners = listeners

    def __getattr__(self, event):
        def tell_all(*args):
            for listener in self.listeners:
                method = getattr(listener, event, None)
                if method is not None:
                    method(*args)

        return tell_all


def best(trials: list[TrialResult]) -> TrialResult | None:
    """Highest CV mean among complete trials; ties go to the earlier trial."""
    finished = [t for t in trials if t.ok]
    return max(finished, key=lambda t: (t.mean, -t.number)) if finished else None


def measure(estimator, X, y) -> dict:
    """Every metric of METRICS for one prediction of ``X``, and the facts a fitted pipeline learnt from its data
    (see :func:`sweeplab.pipeline.facts`)."""
    from sweeplab.pipeline import facts

    return {**measure_predictions(y, estimator.predict(X)), **facts(estimator)}


def measure_predictions(y_true, y_pred) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0))}


def class_report(y_true, y_pred, classes: list, as_dict: bool = False):
    """Per-class precision, recall and F1 under the original label names (text, or a dict with ``as_dict``)."""
    from sklearn.metrics import classification_report

    return classification_report(y_true, y_pred, labels=range(len(classes)), target_names=[str(c) for c in classes],
                                 digits=3, zero_division=0, output_dict=as_dict)
