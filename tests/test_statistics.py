"""The statistics behind "how sure is this score", checked against scipy's own and against numbers by hand."""

import math

import pytest
from scipy import stats

from sweeplab.search.trial import FAIL, TrialResult
from sweeplab.statistics import corrected_interval

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
