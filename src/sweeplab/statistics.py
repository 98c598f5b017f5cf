"""How sure a cross-validated score is, and whether two are different. Fold scores of one k-fold CV are not
independent (every two training parts share (k-2)/(k-1) of their rows), so the textbook t interval over them is
too narrow; Nadeau and Bengio's corrected resampled variance (Machine Learning 52, 2003) widens it by the share
of rows held out:

    var = s² × (1/J + n_valid/n_train),   J fold scores, s² their sample variance

which is how scikit-learn's gallery compares models under grid search ("Statistical comparison of models using
grid search", ``corrected_std``) and what Bouckaert and Frank recommend for repeated CV."""

from __future__ import annotations

import functools
import math
import statistics

CONFIDENCE = 0.95


def corrected_interval(scores, folds: int, confidence: float = CONFIDENCE,
                       bounds: tuple[float, float] = (0.0, 1.0)) -> tuple[float, float]:
    """The ``confidence`` interval of the mean of ``scores`` (every fold of every repeat of a ``folds``-fold CV,
    whose validation part is 1/``folds`` of the rows), within ``bounds``, the range the score can take (accuracy
    and F1: 0 to 1; two folds give a t with one degree of freedom, whose interval is wider than that): (nan, nan)
    with fewer than two finite scores."""
    scores = [float(s) for s in scores]
    if len(scores) < 2 or folds < 2 or not all(map(math.isfinite, scores)):
        return math.nan, math.nan
    mean = statistics.fmean(scores)
    half = _t_quantile((1 + confidence) / 2, len(scores) - 1) * _corrected_spread(scores, folds)
    return max(mean - half, bounds[0]), min(mean + half, bounds[1])


@functools.lru_cache(maxsize=64)
def _t_quantile(p: float, df: int) -> float:
    """Student's t quantile, as ``scipy.stats.t.ppf`` gives it. A leaderboard has an interval per row, all with
    a handful of degrees of freedom: ``stats.t.ppf`` costs about a millisecond a call and ``scipy.stats`` half
    a second to import (with 1,200 rows, most of a 1.5 s `sweeplab leaderboard`), the special function behind it
    neither."""
    from scipy.special import stdtrit

    return float(stdtrit(df, p))


# --- Comparing two configurations on the same folds ---------------------------------------------------------------
# Two configurations cross-validated on the same folds differ fold by fold; those differences are what is tested, with
# the same correction as above (scikit-learn's gallery: ``compute_corrected_ttest``; Bouckaert and Frank 2004).

T_TEST, BAYESIAN = "t_test", "bayesian"
TESTS = (T_TEST, BAYESIAN)
EVIDENCE = {T_TEST: "p_value", BAYESIAN: "p_best_better"}  # what each test says about the best against a trial
ALPHA = 0.05
ROPE = 0.01  # a difference of accuracy this small is no difference (the gallery's region of practical equivalence)


def corrected_ttest(better, worse, folds: int) -> tuple[float, float]:
    """The corrected resampled paired t-test of ``better`` against ``worse`` (score per fold of the same
    ``folds``-fold CV, every repeat): the t statistic and the one-sided p-value of "``better`` is better". No
    spread with a mean difference: (±inf, 0 or 1); no difference at all: (0, 0.5)."""
    from scipy.special import stdtr  # the t distribution's CDF, without scipy.stats (see _t_quantile)

    differences = _differences(better, worse)
    mean, spread = statistics.fmean(differences), _corrected_spread(differences, folds)
    if spread == 0:
        t = 0.0 if mean == 0 else math.copysign(math.inf, mean)
    else:
        t = mean / spread
    return t, float(stdtr(len(differences) - 1, -t))  # the survival function, by symmetry


def bayesian_ttest(better, worse, folds: int, rope: float = ROPE) -> tuple[float, float, float]:
    """Benavoli, Corani, Demšar and Zaffalon's Bayesian correlated t-test (JMLR 18, 2017): the posterior of the
    mean difference is Student's t around the observed one, with the corrected spread above. Returns the posterior
    probabilities that ``better`` is better by more than ``rope``, that the two are within ``rope`` of each other,
    and that ``worse`` is better by more than ``rope``.

    Written on scipy rather than taken from ``baycomp`` (which computes the same): baycomp 1.0.3 installs a
    top-level ``tests`` package into site-packages, which shadows every project's own ``tests``."""
    from scipy import stats

    differences = _differences(better, worse)
    mean, spread = statistics.fmean(differences), _corrected_spread(differences, folds)
    if spread == 0:  # every fold differs by the same amount: the posterior is that point
        return float(mean > rope), float(-rope <= mean <= rope), float(mean < -rope)
    posterior = stats.t(len(differences) - 1, loc=mean, scale=spread)
    below, above = float(posterior.cdf(-rope)), float(posterior.sf(rope))
    return above, 1.0 - above - below, below


def _corrected_spread(values: list, folds: int) -> float:
    """The standard error of the mean of ``values`` (one per fold of every repeat of a ``folds``-fold CV), with
    Nadeau and Bengio's correction."""
    return math.sqrt(statistics.variance(values) * (1 / len(values) + 1 / (folds - 1)))


def _differences(better, worse) -> list[float]:
    differences = [float(a) - float(b) for a, b in zip(better, worse, strict=True)]
    if len(differences) < 2 or not all(map(math.isfinite, differences)):
        raise ValueError(f"a paired test needs two or more finite scores per side, got {len(differences)}")
    return differences


def against_best(scores: dict, folds: int, test: str = T_TEST, rope: float = ROPE, best=None) -> dict:
    """For every key of ``scores`` (key -> score per fold, all on the same folds), the evidence that the best
    (``best``, else the highest mean, the first on a tie) is better: the t-test's one-sided p-value, or the Bayesian
    posterior probability that it is better by more than ``rope``. The best against itself: p 1, probability 0."""
    if not scores:
        return {}
    if best is None:
        best = max(scores, key=lambda key: statistics.fmean(scores[key]))
    evidence = {}
    for key, candidate in scores.items():
        if key == best:
            evidence[key] = 1.0 if test == T_TEST else 0.0
        elif test == T_TEST:
            evidence[key] = corrected_ttest(scores[best], candidate, folds)[1]
        else:
            evidence[key] = bayesian_ttest(scores[best], candidate, folds, rope)[0]
    return evidence


def is_tied(evidence: float, test: str = T_TEST, alpha: float = ALPHA) -> bool:
    """Not told apart from the best: a p-value of ``alpha`` or more, or a posterior probability that the best is
    better below 1 − ``alpha``."""
    return evidence >= alpha if test == T_TEST else evidence < 1 - alpha



# --- Comparing configurations across datasets ---------------------------------------------------------------------
# Demšar (JMLR 7, 2006): rank the configurations within each dataset, test whether their average ranks differ
# (Friedman, with Iman and Davenport's less conservative F), and call two configurations different when their
# average ranks are further apart than the Nemenyi critical difference.


def average_ranks(scores) -> list[float]:
    """``scores``: one row per dataset, one column per configuration (higher is better). Each configuration's mean
    rank over the datasets, 1 = best, ties sharing their average rank."""
    import numpy as np
    from scipy import stats

    table = np.asarray(scores, dtype=float)
    return [float(r) for r in np.mean([stats.rankdata(-row) for row in table], axis=0)]


def friedman(scores) -> dict:
    """The Friedman test over ``scores`` (datasets x configurations, three configurations or more): scipy's
    chi-square (corrected for ties) and its p-value, and Iman and Davenport's F on (k − 1, (k − 1)(N − 1)) degrees
    of freedom with its p-value."""
    import numpy as np
    from scipy import stats

    table = np.asarray(scores, dtype=float)
    n, k = table.shape
    chi2, p = stats.friedmanchisquare(*table.T)
    f = iman_davenport(float(chi2), n, k)
    return {"chi2": float(chi2), "p": float(p), "f": f, "f_p": float(stats.f.sf(f, k - 1, (k - 1) * (n - 1)))}


def iman_davenport(chi2: float, n: int, k: int) -> float:
    """Iman and Davenport's F from Friedman's chi-square over ``n`` datasets and ``k`` configurations."""
    return (n - 1) * chi2 / (n * (k - 1) - chi2) if n * (k - 1) != chi2 else math.inf


def nemenyi_cd(k: int, n: int, alpha: float = ALPHA) -> float:
    """The Nemenyi critical difference of average ranks for ``k`` configurations on ``n`` datasets:
    q_alpha √(k(k+1)/(6N)), q_alpha the studentized range quantile over √2."""
    from scipy import stats

    q = stats.studentized_range.ppf(1 - alpha, k, math.inf) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6 * n)))


def smallest_friedman_p(n: int, k: int) -> float:
    """The smallest p-value the Friedman test can give on ``n`` datasets and ``k`` configurations: every dataset
    ranking them the same way (chi-square N(k − 1)). With three datasets it says how little the test can show."""
    from scipy import stats

    return float(stats.chi2.sf(n * (k - 1), k - 1))
