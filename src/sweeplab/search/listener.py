"""Who hears what happens while trials run. Progress display and tracking both listen; engines and the trial
runner only talk.

``fold`` and ``epoch`` count from 1. Every method is a no-op here, so a listener overrides only what it needs.
"""

from __future__ import annotations


class Listener:
    def trial_started(self, number: int, params: dict) -> None:
        """A trial is about to train (or to be reused: :meth:`trial_finished` follows at once)."""

    def epoch_done(self, number: int, fold: int, epoch: int, value: float) -> None:
        """``value``: the fold's validation score in the sweep's metric after ``epoch``."""

    def fold_done(self, number: int, fold: int, params: dict, score: float, measures: dict) -> None:
        """``score`` is the sweep's metric; ``measures`` has every metric of METRICS and the fold's facts."""

    def trial_finished(self, trial) -> None:
        """``trial``: a :class:`~sweeplab.search.trial.TrialResult`, whatever its state."""

    def reconcile(self, running: set) -> None:
        """Only the trials numbered in ``running`` are still in progress anywhere."""


class Listeners(Listener):
    """Several listeners as one."""

    def __init__(self, *listeners: Listener):
        self.listeners = listeners

    def _tell(self, event: str, *args) -> None:
        for listener in self.listeners:
            getattr(listener, event)(*args)

    def trial_started(self, *args) -> None:
        self._tell("trial_started", *args)

    def epoch_done(self, *args) -> None:
        self._tell("epoch_done", *args)

    def fold_done(self, *args) -> None:
        self._tell("fold_done", *args)

    def trial_finished(self, *args) -> None:
        self._tell("trial_finished", *args)

    def reconcile(self, *args) -> None:
        self._tell("reconcile", *args)
