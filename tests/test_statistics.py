"""The statistics behind "how sure is this score", checked against scipy's own and against numbers by hand."""

import math

import pytest
from scipy import stats

from sweeplab.search.selection import tie_group
from sweeplab.search.trial import FAIL, TrialResult
from sweeplab.statistics import (average_ranks, bayesian_ttest, corrected_interval, corrected_ttest, friedman,
                                 iman_davenport, nemenyi_cd, smallest_friedman_p)

SCORES = [0.80, 0.85, 0.82, 0.83]  # mean 0.825, sample variance 0.00043333


def test_the_interval_is_the_t_interval_with_nadeau_and_bengio_s_variance():
    low, high = corrected_interval(SCORES, folds=4)
    # By hand: s² = 0.0013 / 3; corrected variance s² (1/4 + 1/3) = 0.000252778; se 0.0158990;
    # t(0.975, 3) = 3.182446; half width 0.050598.
    assert (low, high) == pytest.approx((0.825 - 0.050598, 0.825 + 0.050598), abs=1e-6)
    scale = math.sqrt(stats.tvar(SCORES) * (1 / 4 + 1 / 3))
    assert (low, high) == pytest.approx(stats.t.interval(0.95, 3, loc=0.825, scale=scale))


def test_the_correction_widens_the_naive_interval_by_the_held_out_share():
    low, high = corrected_interval(SCORES, folds=4)
    naive_low, naive_high = stats.t.interval(0.95, 3, loc=0.825, scale=stats.sem(SCORES))
    # sqrt((1/J + 1/(k-1)) / (1/J)) = sqrt(1 + 4/3) for 4 folds
    assert (high - low) / (naive_high - naive_low) == pytest.approx(math.sqrt(1 + 4 / 3))
    # Ten repeats of 4 folds: more scores narrow it, but the held-out term does not shrink with J, so it stays
    # sqrt(1 + 40/3) times the naive interval of the 40 scores.
    repeated = SCORES * 10
    repeated_low, repeated_high = corrected_interval(repeated, folds=4)
    naive = stats.t.interval(0.95, 39, loc=0.825, scale=stats.sem(repeated))
    assert repeated_high - repeated_low < high - low
    assert (repeated_high - repeated_low) / (naive[1] - naive[0]) == pytest.approx(math.sqrt(1 + 40 / 3))


def test_the_interval_stays_within_what_the_score_can_be():
    # Two folds: t with one degree of freedom (12.7), a half width of about 0.6 here.
    assert corrected_interval([0.64, 0.53], folds=2) == (0.0, 1.0)
    assert corrected_interval([0.64, 0.53], folds=2, bounds=(-math.inf, math.inf))[0] < 0


def test_no_interval_from_too_little_or_broken_evidence():
    assert all(math.isnan(v) for v in corrected_interval([0.8], folds=2))
    assert all(math.isnan(v) for v in corrected_interval([0.8, math.nan], folds=2))
    failed = TrialResult(0, {}, (math.nan,), 0.0, FAIL, note="boom")
    assert all(math.isnan(v) for v in failed.interval())
    trial = TrialResult(1, {}, tuple(SCORES), 1.0)
    assert trial.interval() == pytest.approx(corrected_interval(SCORES, folds=4))


# --- Paired comparisons, against scikit-learn's gallery -----------------------------------------------------------
# "Statistical comparison of models using grid search" (scikit-learn's examples, model_selection): SVC kernels on
# make_moons, 10 x 10-fold repeated stratified CV, ROC AUC. Its printed results for rbf against linear:
# corrected t 0.750, p 0.227; P(rbf better) 0.773; with a ROPE of ±0.01, P(equivalent) 0.432.

@pytest.fixture(scope="module")
def gallery_scores():
    from sklearn.datasets import make_moons
    from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
    from sklearn.svm import SVC

    X, y = make_moons(noise=0.352, random_state=1, n_samples=100)
    cv = RepeatedStratifiedKFold(n_splits=10, n_repeats=10, random_state=0)
    return {kernel: cross_val_score(SVC(kernel=kernel, random_state=0), X, y, cv=cv, scoring="roc_auc")
            for kernel in ("rbf", "linear")}


def test_the_corrected_paired_t_test_gives_the_gallery_s_numbers(gallery_scores):
    t, p = corrected_ttest(gallery_scores["rbf"], gallery_scores["linear"], folds=10)
    assert (round(t, 3), round(p, 3)) == (0.750, 0.227)
    # The other direction is the other tail.
    assert corrected_ttest(gallery_scores["linear"], gallery_scores["rbf"], folds=10)[1] == pytest.approx(1 - p)


def test_the_bayesian_correlated_t_test_gives_the_gallery_s_posterior(gallery_scores):
    better, same, worse = bayesian_ttest(gallery_scores["rbf"], gallery_scores["linear"], folds=10, rope=0)
    assert (round(better, 3), same, round(worse, 3)) == (0.773, 0.0, 0.227)
    found = bayesian_ttest(gallery_scores["rbf"], gallery_scores["linear"], folds=10, rope=0.01)
    assert round(found[1], 3) == 0.432
    # baycomp 1.0.3's two_on_single(rbf, linear, rope=0.01, runs=10) on these scores, run once by hand (it is not a
    # dependency: it installs a top-level "tests" package).
    assert found == pytest.approx((0.5, 0.4316824582427, 0.06831754175730043), abs=1e-9)


def tied_with_best(scores, folds, test="t_test", alpha=0.05, rope=0.01):
    return tie_group(scores, folds, {"test": test, "alpha": alpha, "rope": rope})[1]


def test_tied_with_best_keeps_what_the_test_cannot_tell_apart():
    folds = [0.80, 0.85, 0.82, 0.83]
    scores = {"best": folds, "close": [s - 0.01 + d for s, d in zip(folds, (0.01, -0.01, 0.0, 0.005))],
              "far": [s - 0.10 + d for s, d in zip(folds, (0.01, -0.01, 0.0, 0.005))], "same": list(folds)}
    tied = tied_with_best(scores, folds=4)
    assert set(tied) == {"best", "close", "same"}
    assert tied["close"] == pytest.approx(corrected_ttest(scores["best"], scores["close"], 4)[1])
    assert tied["close"] >= 0.05 > corrected_ttest(scores["best"], scores["far"], 4)[1]
    # A stricter alpha ties more; the Bayesian test with a wide ROPE ties "far" too.
    assert set(tied_with_best(scores, folds=4, alpha=1e-9)) == set(scores)
    assert set(tied_with_best(scores, folds=4, test="bayesian", rope=0.2)) == set(scores)
    assert set(tied_with_best(scores, folds=4, test="bayesian")) == {"best", "close", "same"}
    assert tied_with_best({}, folds=4) == {}


def test_a_paired_test_refuses_unpaired_or_broken_scores():
    with pytest.raises(ValueError):
        corrected_ttest([0.8, 0.9], [0.8], folds=2)
    with pytest.raises(ValueError):
        corrected_ttest([0.8, math.nan], [0.8, 0.7], folds=2)


# --- Across datasets, against Demšar (JMLR 7, 2006), section 3.2.2 ------------------------------------------------
# Four variants of C4.5 on 14 data sets: average ranks 3.143, 2.000, 2.893 and 1.964; Friedman chi-square 9.28,
# Iman-Davenport F 3.69; the Nemenyi critical difference at alpha 0.05 is 1.25 (q 2.569).

def test_friedman_and_the_critical_difference_give_demsar_s_numbers():
    ranks, n, k = [3.143, 2.000, 2.893, 1.964], 14, 4
    chi2 = 12 * n / (k * (k + 1)) * (sum(r * r for r in ranks) - k * (k + 1) ** 2 / 4)  # his formula
    assert round(chi2, 2) == 9.28 and round(iman_davenport(chi2, n, k), 2) == 3.69
    assert round(nemenyi_cd(4, 14), 2) == 1.25
    assert nemenyi_cd(4, 14, alpha=0.10) < nemenyi_cd(4, 14)


def test_ranks_and_friedman_agree_with_the_formula_when_nothing_ties():
    scores = [[0.80, 0.70, 0.75, 0.60], [0.82, 0.71, 0.79, 0.65], [0.78, 0.74, 0.70, 0.61]]  # 3 datasets x 4
    assert average_ranks(scores) == pytest.approx([1.0, 8 / 3, 7 / 3, 4.0])
    found = friedman(scores)
    ranks = average_ranks(scores)
    chi2 = 12 * 3 / (4 * 5) * (sum(r * r for r in ranks) - 4 * 25 / 4)
    assert found["chi2"] == pytest.approx(chi2) and found["p"] == pytest.approx(stats.chi2.sf(chi2, 3))
    assert found["f"] == pytest.approx(iman_davenport(chi2, 3, 4))
    # Three datasets ranking four configurations the same way is the strongest evidence there can be: p 0.029.
    assert smallest_friedman_p(3, 4) == pytest.approx(stats.chi2.sf(9, 3))
    assert friedman([[0.9, 0.8, 0.7, 0.6]] * 3)["p"] == pytest.approx(smallest_friedman_p(3, 4))
