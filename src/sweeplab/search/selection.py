"""Which trial a search hands on: of the trials not distinguishable from the best by their folds (the tie group,
:func:`tie_group`), the best itself or the simplest.

On a few hundred training sentences the best of N noisy CV means is partly luck; a smaller model whose folds the
test cannot tell apart from the best is as good a bet and cheaper to serve. The rule reads plain mappings, so the
runner (on its trials) and the exporter (on trials read back from MLflow) decide the same way.
"""

from __future__ import annotations

import math

from sweeplab import statistics


def tie_group(scores: dict, folds: int, compare: dict, best=None) -> tuple[dict, dict]:
    """``scores``: key -> score per fold, on the same folds (``folds`` per repeat). The evidence that the best
    (``best``, else the highest mean) is better than each key, and the tie group: the keys whose evidence does
    not reach ``compare``'s test at its alpha, each with its evidence."""
    evidence = statistics.against_best(scores, folds, compare["test"], compare.get("rope", statistics.ROPE), best)
    tied = {key: value for key, value in evidence.items()
            if statistics.is_tied(value, compare["test"], compare["alpha"])}
    return evidence, tied


def choose(rule: str, best, tied, size: dict, fit_time: dict):
    """The key ``rule`` hands on: ``best``, or with "simplest" the tied key with the fewest trainable parameters
    (``size``), then the shortest fit (``fit_time``), then the best itself; an unknown size or time counts as
    the largest."""
    if rule == "best" or not tied:
        return best

    def known(value) -> float:
        return math.inf if value is None or not math.isfinite(value) else value

    return min(tied, key=lambda key: (known(size.get(key)), known(fit_time.get(key)), key != best))
