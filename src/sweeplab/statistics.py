"""How sure a cross-validated score is. Fold scores of one k-fold CV are not independent (every two training parts
share (k-2)/(k-1) of their rows), so the textbook t interval over them is too narrow; Nadeau and Bengio's
corrected resampled variance (Machine Learning 52, 2003) widens it by the share of rows held out:

    var = s² × (1/J + n_valid/n_train),   J fold scores, s² their sample variance

which is how scikit-learn's gallery compares models under grid search ("Statistical comparison of models using
grid search", ``corrected_std``) and what Bouckaert and Frank recommend for repeated CV."""

from __future__ import annotations

import math
import statistics

CONFIDENCE = 0.95


def corrected_interval(scores, folds: int, confidence: float = CONFIDENCE,
                       bounds: tuple[float, float] = (0.0, 1.0)) -> tuple[float, float]:
    """The ``confidence`` interval of the mean of ``scores`` (every fold of every repeat of a ``folds``-fold CV,
    whose validation part is 1/``folds`` of the rows), within ``bounds``, the range the score can take (accuracy
    and F1: 0 to 1; two folds give a t with one degree of freedom, whose interval is wider than that): (nan, nan)
    with fewer than two finite scores."""
    from scipy import stats

    scores = [float(s) for s in scores]
    if len(scores) < 2 or folds < 2 or not all(map(math.isfinite, scores)):
        return math.nan, math.nan
    mean = statistics.fmean(scores)
    spread = math.sqrt(statistics.variance(scores) * (1 / len(scores) + 1 / (folds - 1)))
    half = stats.t.ppf((1 + confidence) / 2, len(scores) - 1) * spread
    return max(mean - half, bounds[0]), min(mean + half, bounds[1])
