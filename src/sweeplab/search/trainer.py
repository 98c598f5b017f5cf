"""The one place trials train. Every engine hands the :class:`Trainer` configurations; it reuses an identical
finished trial when the store has one, or cross-validates the configuration through the fold loop
(:func:`sweeplab.search.folds.cross_validate`), telling the listener as it goes, and returns a
:class:`~sweeplab.search.trial.TrialResult` whatever happened.

Engines differ only in what they propose and in when they stop a trial: a ``judge`` (Optuna's pruner) sees every
epoch's and fold's score and may raise :class:`sweeplab.engines.Stop`.
"""

from __future__ import annotations

import statistics

from sweeplab.engines import Judge, Stop
from sweeplab.errors import INTERRUPTED, disk_full
from sweeplab.modeling import pipeline
from sweeplab.search.folds import FoldRun, Member, NotFused, VectorizedFolds, cross_validate, cross_validate_fused
from sweeplab.search.trial import COMPLETE, FAIL, PRUNED, Finished, TrialResult, trial_key


def configuration_key(sweep, cv_key: str, params: dict) -> str:
    """The trial key of a whole configuration of ``sweep`` in the search whose :func:`~sweeplab.search.trial.cv_key` is
    ``cv_key``."""
    return trial_key(cv_key, pipeline.resolve(sweep.model_of(params), params))


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or a stop signal) during a trial, with what the trial had finished by then."""

    def __init__(self, result: TrialResult):
        super().__init__()
        self.result = result


class Trainer:
    """Runs the trials of one dataset's search. ``finished`` maps trial keys to reusable
    :class:`~sweeplab.search.trial.Finished` trials (empty with ``--fresh``), as the search opened; ``lookup``
    (a key -> Finished or None) finds one finished since, by this process or another worker, so that a
    configuration proposed again inside one search is not trained twice. Without a lookup (a search that is not
    logged: nested CV's inner ones) the trials finished here are remembered instead."""

    def __init__(self, ctx, finished: dict | None = None, lookup=None):
        self.ctx, self.lookup = ctx, lookup
        self.finished = dict(finished) if finished is not None else {}
        # Every trial of the search shares the folds: each fold's vectorizer and its output are made once.
        self.folds = VectorizedFolds(ctx.X, list(ctx.cv.split(ctx.X, ctx.y)))

    def earlier(self, key: str) -> Finished | None:
        """A finished trial with this key that this one may reuse."""
        found = self.finished.get(key)
        if found is None and self.lookup is not None:
            found = self.lookup(key)
            if found is not None:
                self.finished[key] = found
        return found

    def _remember(self, result: TrialResult) -> TrialResult:
        if self.lookup is None and result.ok and result.key and not result.reused_from:
            self.finished[result.key] = Finished(f"trial {result.number} of this search", result.fold_measures,
                                                 result.fit_time, result.params)
        return result

    def run(self, number: int, chosen: dict, judge: Judge | None = None) -> TrialResult:
        """Trial ``number`` of the configuration an engine ``chosen`` (sweep names; the fixed ones are added)."""
        sweep, listener = self.ctx.sweep, self.ctx.listener
        params = sweep.configuration(chosen)
        key = configuration_key(sweep, self.ctx.cv_key, params)
        listener.trial_started(number, params)
        earlier = self.earlier(key)
        try:
            if earlier is not None:
                result = self._reused(number, params, key, earlier)
            else:
                result = self._train(number, chosen, params, key, judge or Judge())
        except Interrupted as stopped:
            listener.trial_finished(stopped.result)
            raise
        listener.trial_finished(result)
        return self._remember(result)

    def run_group(self, proposals: list[tuple], judges: list | None = None) -> list[TrialResult]:
        """Several trials, ``proposals`` as ``(number, chosen)`` pairs, each with its judge: the ones the store has
        are reused, those whose models can share one batch stream train as one fused model
        (:mod:`sweeplab.modeling.fused`), the rest alone. Results in the order proposed."""
        judges = judges or [None] * len(proposals)
        sweep, results, together, again, keys = self.ctx.sweep, {}, {}, [], set()
        for (number, chosen), judge in zip(proposals, judges):
            params = sweep.configuration(chosen)
            key = configuration_key(sweep, self.ctx.cv_key, params)
            if key in keys:  # the same configuration twice in one group: trained once, then reused
                again.append((number, chosen, judge))
                continue
            keys.add(key)
            if len(proposals) == 1 or self.earlier(key) is not None:
                results[number] = self.run(number, chosen, judge)
                continue
            from sweeplab.modeling.fused import fusion_key

            pipe = pipeline.for_sweep(sweep, params)
            stream = fusion_key(pipe.named_steps["clf"], pipe.named_steps["vectorize"])
            together.setdefault(stream if stream is not None else ("alone", number), []).append(
                (number, chosen, params, key, judge or Judge()))
        for group in together.values():
            if len(group) == 1:
                number, chosen, _, _, judge = group[0]
                results[number] = self.run(number, chosen, judge)
            else:
                results.update(self._train_fused(group))
        for number, chosen, judge in again:
            results[number] = self.run(number, chosen, judge)
        return [results[number] for number, _ in proposals]

    def _train_fused(self, group: list[tuple]) -> dict[int, TrialResult]:
        sweep, listener = self.ctx.sweep, self.ctx.listener
        members = []
        for number, chosen, params, key, judge in group:
            listener.trial_started(number, params)
            member = Member(lambda params=params: pipeline.for_sweep(sweep, params))

            def on_epoch(fold, epoch, value, number=number, judge=judge):
                listener.epoch_done(number, fold, epoch, value)
                judge.epoch(fold, epoch, value)

            def on_fold(fold, value, measures, number=number, chosen=chosen, judge=judge, run=member.run):
                listener.fold_done(number, fold, chosen, value, measures)
                judge.fold(fold, statistics.fmean(run.scores))

            member.on_epoch, member.on_fold = on_epoch, on_fold
            members.append(member)

        def result(entry, member, state: str, note: str | None = None) -> TrialResult:
            number, _, params, key, _ = entry
            run = member.run
            return TrialResult(number, params, tuple(run.scores), run.fit_time, state, note, tuple(run.measures), key)

        try:
            cross_validate_fused(members, self.ctx.X, self.ctx.y, metric=sweep.metric, folds=self.folds)
        except NotFused:  # raised before any report: each trains alone, as started
            return self._train_each(group)
        except KeyboardInterrupt as exc:
            stopped = [result(entry, member, FAIL, "interrupted") for entry, member in zip(group, members)]
            for trial in stopped[1:]:
                listener.trial_finished(trial)
            listener.trial_finished(stopped[0])
            raise Interrupted(stopped[0]) from exc
        found = {}
        for entry, member in zip(group, members):
            problem = member.stopped
            if problem is not None and disk_full(problem):
                raise problem
            if problem is None:
                found[entry[0]] = result(entry, member, COMPLETE)
            elif isinstance(problem, Stop):
                found[entry[0]] = result(entry, member, PRUNED, str(problem))
            else:
                found[entry[0]] = result(entry, member, FAIL, f"{type(problem).__name__}: {problem}".splitlines()[0])
            listener.trial_finished(found[entry[0]])
            self._remember(found[entry[0]])
        return found

    def _train_each(self, group: list[tuple]) -> dict[int, TrialResult]:
        found = {}
        for at, (number, chosen, params, key, judge) in enumerate(group):
            try:
                found[number] = self._train(number, chosen, params, key, judge)
            except Interrupted as stopped:
                for later in group[at + 1:]:
                    self.ctx.listener.trial_finished(TrialResult(later[0], later[2], (), 0.0, FAIL, "interrupted",
                                                                 (), later[3]))
                self.ctx.listener.trial_finished(stopped.result)
                raise
            self.ctx.listener.trial_finished(found[number])
            self._remember(found[number])
        return found

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
            if disk_full(exc):  # not the trial's failure: no trial after it could be recorded either
                raise
            return result(FAIL, f"{type(exc).__name__}: {exc}".splitlines()[0])
        return result(COMPLETE)
