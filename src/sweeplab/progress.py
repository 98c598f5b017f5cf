"""What the terminal shows while a sweep runs: one line per finished fold, with an ETA."""

from __future__ import annotations

import statistics
import sys
import time


def duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else \
        f"{seconds // 60}:{seconds % 60:02d}"


def format_params(params: dict) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


class Progress:
    """Counts finished folds of one dataset's search; trials run their folds in order, one trial at a time."""

    def __init__(self, stream=None, clock=time.monotonic):
        self.stream = stream or sys.stderr
        self.clock = clock

    def say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def start(self, label: str, trials: int, folds: int) -> None:
        self.label, self.trials, self.folds = label, trials, folds
        self.done, self.trial_scores, self.best = 0, [], None
        self.started = self.clock()

    def fold_done(self, params: dict, score: float) -> None:
        self.done += 1
        trial, fold = divmod(self.done - 1, self.folds)
        self.trial_scores.append(score)
        running = statistics.fmean(self.trial_scores)
        if fold + 1 == self.folds:
            self.best = running if self.best is None else max(self.best, running)
            self.trial_scores = []
        elapsed = self.clock() - self.started
        remaining = max(self.trials * self.folds - self.done, 0)
        best = "-" if self.best is None else f"{self.best:.3f}"
        self.say(
            f"[{self.label}] trial {trial + 1}/{self.trials} fold {fold + 1}/{self.folds}  {format_params(params)}"
            f"  acc {score:.3f} (trial mean {running:.3f}, best {best})"
            f"  {duration(elapsed)} elapsed, ETA {duration(elapsed / self.done * remaining)}"
        )
