"""Advice from the evidence of one dataset's search: each rule is a small function that reads a
:class:`~sweeplab.results.report.DatasetView` and says one thing, with the numbers behind it, or nothing. The end of
a sweep prints them and the report shows them.

A rule speaks only when its evidence is plain: a handful of folds that peaked early, or a tie group of two, is
noise on 750 sentences, and advice that fires on noise teaches people to skip it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# What each rule needs before it speaks.
EARLY_PEAK_SHARE = 0.75  # of the folds, peaked by the epoch named
EARLY_PEAK_SAVING = 2.0  # the budget over the epochs early stopping would train, at least
PATIENCE = 3  # the patience the advice suggests, as `fit: {patience: 3}`
OPTIMISM_NOTE = 0.03  # CV minus test, in the sweep's metric
EDGE_SHARE = 0.05  # of a range's width (in log space for a log range): "at the edge"


@dataclass(frozen=True)
class Advice:
    rule: str  # the function's name: what the report and the tests refer to
    text: str  # one sentence, the numbers in it


def advise(view) -> list[Advice]:
    """Every rule's advice for ``view``, in the order of :data:`RULES`."""
    found = []
    for rule in RULES:
        text = rule(view)
        if text:
            found.append(Advice(rule.__name__, text))
    return found


def early_peak(view) -> str | None:
    """The folds' validation curves peaked long before the epoch budget: early stopping would train less."""
    if view.patience or not view.curves_complete():
        return None
    peaks = [curve.index(max(curve)) + 1 for trial in view.complete() for curve in trial.curves if curve]
    budget = max((len(curve) for trial in view.complete() for curve in trial.curves), default=0)
    if len(peaks) < 4 or budget < 2:
        return None
    by = sorted(peaks)[math.ceil(EARLY_PEAK_SHARE * len(peaks)) - 1]  # the epoch EARLY_PEAK_SHARE peaked by
    saving = budget / min(budget, by + PATIENCE)
    if saving < EARLY_PEAK_SAVING:
        return None
    within = sum(peak <= by for peak in peaks)
    return (f"validation {view.metric} peaked by epoch {by} in {within} of {len(peaks)} folds (of {budget} epochs "
            f"trained): `fit: {{patience: {PATIENCE}}}` would train about {saving:.0f}x less")


def all_tied(view) -> str | None:
    """Nearly every trial is tied with the best: the simplest of them would do as well, for less."""
    complete, tied = view.complete(), view.tied()
    if view.select != "best" or len(complete) < 3 or len(tied) < max(3, math.ceil(0.8 * len(complete))):
        return None
    known = [t for t in tied if t.trainable_params == t.trainable_params]
    if not known:
        return None
    simplest = min(known, key=lambda t: (t.trainable_params, t.fit_time))
    best = view.best()
    if simplest is best or simplest.trainable_params >= best.trainable_params:
        return None
    return (f"no trial differs from the best ({len(tied)} of {len(complete)} tied, {view.test_name()}): "
            f"`select: simplest` hands on {view.shown(simplest)} ({simplest.trainable_params:,.0f} trainable "
            f"parameters against the best's {best.trainable_params:,.0f})")


def baseline_wins(view) -> str | None:
    """The bag-of-words baseline scores above every trial in CV."""
    best = view.best()
    if best is None or view.baseline_cv is None or view.baseline_cv < best.mean:
        return None
    test = (f"; test {view.baseline_test:.3f} against the winner's {view.test:.3f}"
            if view.test is not None and view.baseline_test is not None else "")
    return (f"the bag-of-words baseline beats every trial on {view.source}: cv {view.metric} "
            f"{view.baseline_cv:.3f} against the best trial's {best.mean:.3f}{test}")


def optimism(view) -> str | None:
    """The winner's CV promised more than its refit scored on the held-out test split."""
    winner = view.winner()
    if winner is None or view.test is None or winner.mean - view.test < OPTIMISM_NOTE:
        return None
    return (f"the CV promised {winner.mean:.3f}, the test gave {view.test:.3f}: optimism "
            f"{winner.mean - view.test:+.3f} (the best of many noisy estimates leans high; `--nested 3` estimates "
            "the whole search without it)")


def edge_won(view) -> str | None:
    """The winner's value of a searched parameter is the space's largest or smallest: the best may lie beyond."""
    winner = view.winner()
    if winner is None or view.space is None:
        return None
    for name, param in view.searched_space().items():
        value = winner.params.get(name)
        side = _edge(param, value)
        if side:
            return (f"the search space's edge won: {name} {value} is the {side} tried; the best may lie beyond it "
                    "(widen the space there)")
    return None


def _edge(param, value) -> str | None:
    """"largest" or "smallest" when ``value`` stands at that edge of a numeric parameter with room between its
    edges (three values or more, or a range), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if param.values:
        numbers = [v for v in param.values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(set(numbers)) < 3:
            return None
        return "largest" if value == max(numbers) else "smallest" if value == min(numbers) else None
    low, high = param.low, param.high
    if low is None or high is None or high <= low:
        return None
    scale = (lambda v: math.log(v)) if param.log else (lambda v: v)
    width = scale(high) - scale(low)
    if scale(value) >= scale(high) - EDGE_SHARE * width:
        return "largest"
    if scale(value) <= scale(low) + EDGE_SHARE * width:
        return "smallest"
    return None


RULES = (early_peak, all_tied, baseline_wins, optimism, edge_won)
