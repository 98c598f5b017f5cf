"""What a person sees while a sweep runs: in a terminal and in logs, one line per finished fold with an ETA
(:class:`Progress`); in a notebook, a progress bar per dataset (:class:`BarProgress`)."""

from __future__ import annotations

import statistics
import sys
import time

from sweeplab.search.listener import Listener


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
        self.folds_done, self.scores, self.best, self.running = 0, {}, None, set()
        self.started = self.clock()

    def trial_started(self, number: int, params: dict) -> None:
        self.running.add(number)

    def eta(self) -> float:
        """Seconds left for the dataset. The trials of a fused group end each fold together but report one by one:
        the fold a running trial has reached counts as reached by every trial running beside it, so the first
        member's line does not count its group's round as one fold (each member's ETA differed up to 6x)."""
        reached = max((len(self.scores.get(n, [])) for n in self.running), default=0)
        done = self.folds_done + sum(reached - len(self.scores.get(n, [])) for n in self.running)
        elapsed = self.clock() - self.started
        return elapsed / max(done, 1) * max(self.remaining - done, 0)

    def _count(self, number: int, score: float) -> list:
        """Record a fold's score; the trial's scores so far."""
        self.folds_done += 1
        scores = self.scores.setdefault(number, [])
        scores.append(score)
        if len(scores) == self.folds:
            mean = statistics.fmean(scores)
            self.best = mean if self.best is None else max(self.best, mean)
        return scores

    def fold_done(self, number: int, fold: int, params: dict, score: float, measures: dict | None = None) -> None:
        scores = self._count(number, score)
        elapsed = self.clock() - self.started
        best = "-" if self.best is None else f"{self.best:.3f}"
        self.say(
            f"[{self.label}] trial {number + 1}/{self.trials} fold {fold}/{self.folds}  {format_params(params)}"
            f"  {self.metric} {score:.3f} (trial mean {statistics.fmean(scores):.3f}, best {best})"
            f"  {duration(elapsed)} elapsed, ETA {duration(self.eta())}"
        )

    def trial_finished(self, trial) -> None:
        self.running.discard(trial.number)
        if trial.reused_from:
            self.say(f"[{self.label}] trial {trial.number + 1}/{self.trials} {format_params(trial.params)}  "
                     f"{self.metric} {trial.mean:.3f}: reused, the store has it finished (run {trial.reused_from})")
        elif trial.note:
            self.say(f"[{self.label}] trial {trial.number + 1} {trial.state.lower()}: {trial.note}")


class BarProgress(Progress):
    """A progress bar per dataset (``tqdm.auto``: a widget in a notebook, text elsewhere) advancing fold by fold,
    its postfix the best mean so far; the header and summary lines print above it."""

    def __init__(self, stream=None, clock=time.monotonic, prefix: str = "", metric: str = "accuracy"):
        super().__init__(stream or sys.stdout, clock, prefix, metric)
        self.bar = None

    def say(self, text: str) -> None:
        if self.bar is not None and text.startswith("== "):  # the dataset's summary: its bar is done
            self.bar.close()
            self.bar = None
        super().say(text)

    def start(self, label: str, trials: int, folds: int, done: int = 0) -> None:
        from tqdm.auto import tqdm

        super().start(label, trials, folds, done)
        self.bar = tqdm(total=self.remaining, desc=f"{self.prefix}{label}", unit="fold", file=self.stream,
                        leave=True)

    def fold_done(self, number: int, fold: int, params: dict, score: float, measures: dict | None = None) -> None:
        self._count(number, score)
        if self.bar is not None:
            self.bar.set_postfix_str(f"trial {number + 1}/{self.trials}, best {self.metric} "
                                     + ("-" if self.best is None else f"{self.best:.3f}"), refresh=False)
            self.bar.update(1)


class Silent(Listener):
    """Shows nothing."""

    def say(self, text: str) -> None:
        pass

    def start(self, label: str, trials: int, folds: int, done: int = 0) -> None:
        pass


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel (where a widget shows better than lines on stderr)."""
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    return get is not None and type(get()).__name__ == "ZMQInteractiveShell"
