"""The one place trials train. Every engine hands the :class:`Trainer` configurations; it reuses an identical
finished trial when the store has one, or cross-validates the configuration through the fold loop
(:func:`sweeplab.search.folds.cross_validate`), telling the listener as it goes, and returns a
:class:`~sweeplab.search.trial.TrialResult` whatever happened.

Engines differ only in what they propose and in when they stop a trial: a ``judge`` (Optuna's pruner) sees every
epoch's and fold's score and may raise :class:`Stop`.
"""

from __future__ import annotations

import statistics

from sweeplab.errors import INTERRUPTED
from sweeplab.modeling import pipeline
from sweeplab.search.folds import FoldRun, VectorizedFolds, cross_validate
from sweeplab.search.trial import COMPLETE, FAIL, PRUNED, Finished, TrialResult, trial_key


def configuration_key(sweep, cv_key: str, params: dict) -> str:
    """The trial key of a whole configuration of ``sweep`` in the search whose :func:`~sweeplab.search.trial.cv_key` is
    ``cv_key``."""
    return trial_key(cv_key, pipeline.resolve(sweep.model_of(params), params))


class Stop(Exception):
    """Raised by a judge to end a trial early; the message says where (the trial is PRUNED)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or a stop signal) during a trial, with what the trial had finished by then."""

    def __init__(self, result: TrialResult):
        super().__init__()
        self.result = result


class Judge:
    """Sees a trial's scores as they come; raises :class:`Stop` to end it. This one never does."""

    def epoch(self, fold: int, epoch: int, value: float) -> None:
        """``value``: the fold's validation score in the sweep's metric after ``epoch``."""

    def fold(self, fold: int, running_mean: float) -> None:
        """``running_mean``: the mean score of the folds finished so far."""


class Trainer:
    """Runs the trials of one dataset's search. ``finished`` maps trial keys to reusable
    :class:`~sweeplab.search.trial.Finished` trials (empty with ``--fresh``)."""

    def __init__(self, ctx, finished: dict | None = None):
        self.ctx = ctx
        self.finished = finished if finished is not None else {}
        # Every trial of the search shares the folds: each fold's vectorizer and its output are made once.
        self.folds = VectorizedFolds(ctx.X, list(ctx.cv.split(ctx.X, ctx.y)))

    def run(self, number: int, chosen: dict, judge: Judge | None = None) -> TrialResult:
        """Trial ``number`` of the configuration an engine ``chosen`` (sweep names; the fixed ones are added)."""
        sweep, listener = self.ctx.sweep, self.ctx.listener
        params = sweep.configuration(chosen)
        key = configuration_key(sweep, self.ctx.cv_key, params)
        listener.trial_started(number, params)
        earlier = self.finished.get(key)
        try:
            if earlier is not None:
                result = self._reused(number, params, key, earlier)
            else:
                result = self._train(number, chosen, params, key, judge or Judge())
        except Interrupted as stopped:
            listener.trial_finished(stopped.result)
            raise
        listener.trial_finished(result)
        return result

    def _reused(self, number: int, params: dict, key: str, earlier: Finished) -> TrialResult:
        metric = self.ctx.sweep.metric
        return TrialResult(number, params, tuple(fold[metric] for fold in earlier.fold_measures), earlier.fit_time,
                           COMPLETE, None, tuple(earlier.fold_measures), key, earlier.run_id)

    def _train(self, number: int, chosen: dict, params: dict, key: str, judge: Judge) -> TrialResult:
        sweep, listener = self.ctx.sweep, self.ctx.listener
        folds = FoldRun()

        def on_epoch(fold, epoch, value):
            listener.epoch_done(number, fold, epoch, value)
            judge.epoch(fold, epoch, value)

        def on_fold(fold, value, measures):
            listener.fold_done(number, fold, chosen, value, measures)
            judge.fold(fold, statistics.fmean(folds.scores))

        def result(state: str, note: str | None = None) -> TrialResult:
            return TrialResult(number, params, tuple(folds.scores), folds.fit_time, state, note,
                               tuple(folds.measures), key)

        try:
            cross_validate(lambda: pipeline.for_sweep(sweep, params), self.ctx.X, self.ctx.y, self.ctx.cv,
                              on_epoch=on_epoch, on_fold=on_fold, run=folds, metric=sweep.metric, folds=self.folds)
        except Stop as stop:
            return result(PRUNED, str(stop))
        except KeyboardInterrupt as exc:
            raise Interrupted(result(FAIL, "interrupted")) from exc
        except Exception as exc:
            if INTERRUPTED.is_set():  # a Ctrl-C that a library turned into an ordinary error is still a Ctrl-C
                raise Interrupted(result(FAIL, "interrupted")) from exc
            return result(FAIL, f"{type(exc).__name__}: {exc}".splitlines()[0])
        return result(COMPLETE)
