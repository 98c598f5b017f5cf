"""A trial: one configuration cross-validated on one dataset. Its record, its states, and its identity.

A trial's *key* hashes everything that determines its result, so a finished trial can stand in for any later
one with the same key, whichever sweep or engine asks (:mod:`sweeplab.search.trainer`).
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from dataclasses import dataclass

from sweeplab.statistics import corrected_interval

COMPLETE, PRUNED, FAIL = "COMPLETE", "PRUNED", "FAIL"
# The packages whose versions change what a fit produces: a result made under others is not reused.
TRAINING_PACKAGES = ("sweeplab", "tensorflow-cpu", "tensorflow", "keras", "scikeras", "scikit-learn", "numpy")


@dataclass(frozen=True)
class TrialResult:
    """One configuration's cross-validation: a score per finished fold (NaN where a fold failed).

    A PRUNED trial has the folds it finished before being stopped; ``note`` says where it stopped. A FAIL
    trial's ``note`` is its error. ``reused_from`` is the run of an earlier identical trial whose result this one
    took instead of training.
    """

    number: int
    params: dict
    fold_scores: tuple
    fit_time: float
    state: str = COMPLETE
    note: str | None = None
    fold_measures: tuple = ()  # per finished fold: every metric of METRICS, and facts such as a resolved maxlen
    key: str | None = None
    reused_from: str | None = None

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

    @property
    def trainable_params(self) -> float:
        """The model's size, as its first fold recorded it (NaN when it did not): what "simplest" compares."""
        from sweeplab.modeling.metrics import TRAINABLE_PARAMS

        return self.fold_measures[0].get(TRAINABLE_PARAMS, math.nan) if self.fold_measures else math.nan

    @property
    def refit_params(self) -> dict:
        """The configuration its refit trains: with early stopping, for the epochs its folds chose
        (:func:`sweeplab.modeling.pipeline.refit_configuration`)."""
        from sweeplab.modeling.pipeline import refit_configuration

        return refit_configuration(self.params, self.fold_measures)

    def interval(self, folds: int | None = None) -> tuple[float, float]:
        """The 95 % interval of :attr:`mean`, corrected for folds that share training rows
        (:func:`sweeplab.statistics.corrected_interval`); ``folds``: per repeat (default: every score is one fold)."""
        if not self.ok:
            return math.nan, math.nan
        return corrected_interval(self.fold_scores, folds or len(self.fold_scores))

    def summary(self) -> dict:
        """CV mean and std of every metric measured on all folds: ``{"cv_accuracy_mean": ..., ...}``."""
        if not self.ok or len(self.fold_measures) != len(self.fold_scores):
            return {}
        return {f"cv_{name}_{stat}": fn([fold[name] for fold in self.fold_measures])
                for name in self.fold_measures[0] for stat, fn in (("mean", statistics.fmean),
                                                                   ("std", statistics.pstdev))}


@dataclass(frozen=True)
class Finished:
    """A finished trial in the store that an identical one may reuse: its run and what it measured."""

    run_id: str
    fold_measures: tuple  # per fold: every metric of METRICS, and the fold's facts
    fit_time: float
    params: dict  # its configuration, the family under "model"


def best(trials: list[TrialResult]) -> TrialResult | None:
    """Highest CV mean among complete trials; ties go to the earlier trial."""
    finished = [t for t in trials if t.ok]
    return max(finished, key=lambda t: (t.mean, -t.number)) if finished else None


def cv_key(data_sha256: str, test_size: float, seed: int, folds: int, repeats: int = 1) -> str:
    """What every trial of one dataset's search shares: the data, the held-out split, the folds, the code."""
    from sweeplab import versions

    code = {name: version for name, version in versions.current().items() if name in TRAINING_PACKAGES}
    # One repeat is left out of the key, so the trials of sweeps from before repeats existed are still found.
    splits = {"folds": folds, **({"repeats": repeats} if repeats > 1 else {})}
    return _digest({"data": data_sha256, "test_size": test_size, "seed": seed, **splits, "code": code})


def trial_key(cv: str, configuration: dict) -> str:
    """A trial's identity: its :func:`cv_key` and its whole configuration (model, every parameter with defaults
    filled in, fit settings: :func:`sweeplab.modeling.pipeline.resolve`)."""
    return _digest({"cv": cv, "configuration": configuration})


def _digest(value: dict) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=repr).encode()).hexdigest()[:32]
