"""What the terminal shows while a sweep runs: one line per finished fold, with an ETA."""

from __future__ import annotations

import statistics
import sys
import time

from sweeplab.listener import Listener

def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


def format_params(params: dict) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


class Progress(Listener):
    """Shows each finished fold with the trial's running mean, the best mean so far and an ETA."""

    def __init__(self, stream=None, clock=time.monotonic, prefix: str = "", metric: str = "accuracy"):
        self.stream = stream or sys.stderr
        self.clock = clock
        self.prefix = prefix
        self.metric = {"accuracy": "acc", "macro_f1": "f1"}.get(metric, metric)

    def say(self, text: str) -> None:
        print(self.prefix + text, file=self.stream, flush=True)

    def start(self, label: str, trials: int, folds: int, done: int = 0) -> None:
        """``trials`` in all, ``done`` of them finished before (a resumed study)."""
        self.label, self.trials, self.folds, self.remaining = label, trials, folds, max(trials - done, 0) * folds
        self.folds_done, self.scores, self.best = 0, {}, None
        self.started = self.clock()

    def fold_done(self, number: int, fold: int, params: dict, score: float, measures: dict | None = None) -> None:
        self.folds_done += 1
        scores = self.scores.setdefault(number, [])
        scores.append(score)
        if len(scores) == self.folds:
            mean = statistics.fmean(scores)
            self.best = mean if self.best is None else max(self.best, mean)
        elapsed = self.clock() - self.started
        left = max(self.remaining - self.folds_done, 0)
        best = "-" if self.best is None else f"{self.best:.3f}"
        self.say(
            f"[{self.label}] trial {number + 1}/{self.trials} fold {fold}/{self.folds}  {format_params(params)}"
            f"  {self.metric} {score:.3f} (trial mean {statistics.fmean(scores):.3f}, best {best})"
            f"  {duration(elapsed)} elapsed, ETA {duration(elapsed / self.folds_done * left)}"
        )

    def trial_finished(self, trial) -> None:
        if trial.reused_from:
            self.say(f"[{self.label}] trial {trial.number + 1}/{self.trials} {format_params(trial.params)}  "
                     f"{self.metric} {trial.mean:.3f}: reused, the store has it finished (run {trial.reused_from})")
        elif trial.note:
            self.say(f"[{self.label}] trial {trial.number + 1} {trial.state.lower()}: {trial.note}")
