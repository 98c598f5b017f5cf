"""A process's part of the queue: take waiting trials, train them through the trainer, tell the study how each
ended; until none waits and none runs elsewhere.

Trials are taken with ``study.ask()``, which pops the oldest WAITING trial atomically on every Optuna storage, so
any number of processes share the queue and each trial is taken once. A process that took a trial owns it until
it tells the study its end. If two processes race for the last slots, the loser's trial is closed at once as FAIL
(user attribute ``sweeplab.surplus``) without training; so is a trial whose candidate another process already
took (two sweeps that queued the same search at once).

**Killed workers.** Trials send a heartbeat. A process with no trial left to take waits while other trials are
RUNNING: one whose heartbeat stops (its process was killed, its machine lost) is marked FAIL and queued again
(Optuna's retry callback copies its candidate), and whichever process is free runs it. A trial records which
``host:pid`` ran it (user attribute ``sweeplab.worker``). On a loaded machine a live trial's heartbeat can come
late and another process declare it dead: the process still training it stops it at its next report, closes its
run as FAILED with that note, and goes on.
"""

from __future__ import annotations

import contextlib
import statistics
import time
import warnings

from sweeplab.engines import Judge
from sweeplab.errors import disk_full, held_stop
from sweeplab.processes import this_process
from sweeplab.search.queue.storage import optuna, watches_heartbeats
from sweeplab.search.queue.study import real
from sweeplab.search.trial import FAIL, PRUNED, TrialResult
from sweeplab.tags import CANDIDATE, CHOSEN, FIT_TIME, FOLD_MEASURES, FOLD_SCORES, NOTE, SLOT, SURPLUS, WORKER


class SurplusTrial(Exception):
    """This process lost the race for a slot."""


class TrialFailed(Exception):
    """A trial's fit failed; the message is its error (the study records the trial as FAIL)."""


class TrialLost(Exception):
    """The study ended this trial while it trained here (:meth:`Taker.lost`); it stops, recorded as FAIL."""


def work(entries: list, storage, engine, heartbeat: int, deadline: float | None = None, until_first: bool = True
         ) -> None:
    """Run waiting trials of the ``(study, ctx)`` ``entries`` (the datasets of one sweep, in order), always from the
    first that has some. With ``until_first`` (the sweep's own process), until the first study has none waiting
    and none running elsewhere: while its last trials run elsewhere, this process takes the next datasets' trials
    rather than wait. Otherwise (a helper), until no study has any. Or until ``deadline`` (a
    ``time.monotonic()``) passes."""
    takers, watches = [Taker(ctx, found, engine) for found, ctx in entries], watches_heartbeats(storage)
    while deadline is None or time.monotonic() < deadline:
        if watches:  # a dead process's trial is queued again before this one asks for work
            for taker in takers:
                optuna().storages.fail_stale_trials(taker.study)
        if until_first and not real(takers[0].study, "WAITING", "RUNNING"):
            return
        waiting = next(((t, n) for t in takers if (n := len(real(t.study, "WAITING")))), None)
        if waiting is not None:
            taker, count = waiting
            taker.run(min(taker.ctx.sweep.fuse, count))
        elif watches and any(real(t.study, "RUNNING") for t in takers):
            # Another process's trial: if that process died, its heartbeat stops and the trial is queued again.
            time.sleep(min(heartbeat, 5))
        else:
            return


class Taker:
    """Takes waiting trials, asks the engine what each is, lets the trainer run them as one group, reports
    their steps to the engine's judge, and tells the study how each ended. Run here rather than by
    ``study.optimize``, which runs one trial at a time and cannot be told that the study no longer wants a result
    (see :meth:`lost`)."""

    def __init__(self, ctx, study, engine):
        self.ctx, self.study, self.engine = ctx, study, engine

    def run(self, size: int) -> None:
        """Up to ``size`` waiting trials taken at once and run as one group, which the trainer fuses where the
        models share a batch stream (``fuse``). An engine that proposes as it goes proposes them all before
        hearing of any: the price of training them together. Each trial sends the heartbeat ``study.optimize``
        would send."""
        from optuna.trial import TrialState

        sweep, trials, chosen = self.ctx.sweep, [], []
        for _ in range(size):
            with warnings.catch_warnings():
                # The heartbeats below are the ones optimize would run, which the warning asks for.
                warnings.filterwarnings("ignore", "Heartbeat of storage", UserWarning)
                trial = self.study.ask()
            try:
                self._claim(trial)
                configuration = self.engine.choose(sweep, trial)
            except SurplusTrial:
                trial.set_user_attr(SURPLUS, True)
                self.study.tell(trial, state=TrialState.FAIL)
                break
            if CHOSEN not in trial.user_attrs:
                with held_stop():
                    trial.set_user_attr(CHOSEN, configuration)
            trials.append(trial)
            chosen.append(configuration)
        if not trials:
            return
        with contextlib.ExitStack() as beating:
            for trial in trials:
                beating.enter_context(_heartbeat(self.study, trial))
            try:
                results = self.ctx.trainer.run_group(list(zip((t.number for t in trials), chosen)),
                                                     [_Watched(self.engine.judge(sweep, t)) for t in trials])
            except KeyboardInterrupt as stopped:
                for trial in trials:
                    if getattr(stopped, "result", None) is not None and stopped.result.number == trial.number:
                        _record(trial, stopped.result)
                    self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
                raise
            except Exception as error:  # as study.optimize(catch=Exception) does: these trials fail, the rest run
                if disk_full(error):  # so would every trial after them: the sweep stops here
                    raise
                note = f"{type(error).__name__}: {error}".splitlines()[0]
                for trial in trials:
                    _record(trial, TrialResult(trial.number, {}, (), 0.0, FAIL, note))
                    self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
                    self._replace_failed()
                return
            for trial, result in zip(trials, results):
                if self.lost(trial):
                    continue
                try:
                    self.study.tell(trial, self._outcome(trial, result), skip_if_finished=True)
                except optuna().TrialPruned:
                    self.study.tell(trial, state=TrialState.PRUNED, skip_if_finished=True)
                except TrialFailed:
                    self.study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)

    def lost(self, trial) -> bool:
        """Whether another process ended this trial meanwhile: on a loaded machine a heartbeat can come late, and
        a process that sees it late declares the trial dead and queues it again (the retry callback). The study
        then holds the retry, not this result, which only the trial's MLflow run keeps."""
        # Optuna's public API reads a trial's state back only through study.get_trials(), which loads them all.
        return self.study._storage.get_trial(trial._trial_id).state.is_finished()  # noqa: SLF001

    def _claim(self, trial) -> None:
        """Take the trial, or raise :class:`SurplusTrial` when it is not ours to run: not a queued slot, or a
        candidate another process took first (the lowest-numbered live trial of a candidate runs it)."""
        attrs = trial.user_attrs
        if SLOT not in attrs:
            raise SurplusTrial("every queued trial was taken by another worker")
        if CANDIDATE in attrs:
            others = [t for t in real(self.study, "RUNNING", "COMPLETE", "PRUNED")
                      if t.number < trial.number and t.user_attrs.get(CANDIDATE) == attrs[CANDIDATE]]
            if others:
                raise SurplusTrial(f"trial {others[0].number} runs the same candidate")
        with held_stop():
            trial.set_user_attr(WORKER, this_process())

    def _outcome(self, trial, result: TrialResult) -> float:
        """Record a finished trial on the study; its CV mean, or TrialPruned / TrialFailed."""
        _record(trial, result)
        if result.state == PRUNED:
            raise optuna().TrialPruned(result.note)
        if result.state == FAIL:
            self._replace_failed()
            raise TrialFailed(result.note)
        if result.reused_from:  # a pruner compares trials step by step: give it the reused one's folds
            judge = self.engine.judge(self.ctx.sweep, trial)
            for fold in range(1, len(result.fold_scores) + 1):
                with contextlib.suppress(Exception):
                    judge.fold(fold, statistics.fmean(result.fold_scores[:fold]))
        return result.mean

    def _replace_failed(self) -> None:
        sweep = self.ctx.sweep
        if self.engine.replaces_failures(sweep) and len(real(self.study, "FAIL")) < sweep.trials:
            self.study.enqueue_trial({}, user_attrs={SLOT: True})


class _Watched(Judge):
    """The engine's judge, stopping the trial when the study refuses its reports: another process ended it."""

    def __init__(self, judge: Judge | None):
        self.judge = judge or Judge()

    def epoch(self, fold: int, epoch: int, value: float) -> None:
        self._guarded(self.judge.epoch, fold, epoch, value)

    def fold(self, fold: int, running_mean: float) -> None:
        self._guarded(self.judge.fold, fold, running_mean)

    @staticmethod
    def _guarded(call, *args) -> None:
        try:
            call(*args)
        except optuna().exceptions.UpdateFinishedTrialError:
            raise TrialLost("another worker saw its heartbeat late, declared it dead and queued it again") from None


def _heartbeat(study, trial):
    """The heartbeat thread ``study.optimize`` runs around a trial. Optuna has no public way to send a trial's
    heartbeat outside optimize(), which this loop cannot use (see :class:`Taker`): the private helper is pinned by
    tests/test_queue.py (a trial's heartbeat is recorded while it trains)."""
    from optuna.storages._heartbeat import get_heartbeat_thread

    return get_heartbeat_thread(trial._trial_id, study._storage)  # noqa: SLF001


def _record(trial, result: TrialResult | None) -> None:
    """What a worker joining later (or the sweep, reading the study back) needs of a trial."""
    if result is None:
        return
    # A trial the study ended meanwhile (Taker.lost) refuses updates; it keeps what the study holds.
    with held_stop(), contextlib.suppress(optuna().exceptions.UpdateFinishedTrialError):
        trial.set_user_attr(FOLD_SCORES, list(result.fold_scores))
        trial.set_user_attr(FOLD_MEASURES, list(result.fold_measures))
        trial.set_user_attr(FIT_TIME, result.fit_time)
        if result.note:
            trial.set_user_attr(NOTE, result.note)
