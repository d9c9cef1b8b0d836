"""Unit tests of compare.stats on synthetic data with known answers.

Coverage tests replicate an interval many times under a seeded generator and require the
empirical coverage to be within 3 binomial standard errors of the nominal level (a
correct interval fails this with probability ~0.3%; the seed makes the outcome fixed).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st
from hypothesis import given, settings
from hypothesis import strategies as hst

from compare import stats

#: Replications of each coverage experiment; binomial SE of a 95% coverage = sqrt(.95*.05/N) ~ 0.0069.
N_REP = 1000
LEVEL = 0.95


def _coverage_ok(hits: int, n: int, level: float = LEVEL) -> bool:
    se = math.sqrt(level * (1 - level) / n)
    return abs(hits / n - level) <= 3 * se


def test_mean_ci_coverage():
    rng = np.random.default_rng(1)
    hits = sum(stats.mean_ci(rng.normal(2.0, 3.0, 20), LEVEL).contains(2.0) for _ in range(N_REP))
    assert _coverage_ok(hits, N_REP)


def test_variance_ci_coverage_known_and_unknown_mean():
    rng = np.random.default_rng(2)
    hits_u = sum(stats.variance_ci(rng.normal(0.0, 2.0, 30), LEVEL).contains(4.0) for _ in range(N_REP))
    hits_k = sum(
        stats.variance_ci(rng.normal(0.0, 2.0, 30), LEVEL, mean=0.0).contains(4.0) for _ in range(N_REP)
    )
    assert _coverage_ok(hits_u, N_REP)
    assert _coverage_ok(hits_k, N_REP)


def test_wilson_ci_coverage_and_edges():
    rng = np.random.default_rng(3)
    p, n = 0.3, 60
    hits = sum(stats.wilson_ci(int(rng.binomial(n, p)), n, LEVEL).contains(p) for _ in range(N_REP))
    # Wilson intervals are slightly conservative or liberal depending on (n, p): 4 SE band
    assert abs(hits / N_REP - LEVEL) <= 4 * math.sqrt(LEVEL * (1 - LEVEL) / N_REP)
    zero = stats.wilson_ci(0, 50)
    assert zero.lo == 0.0 and 0 < zero.hi < 0.1
    full = stats.wilson_ci(50, 50)
    assert full.hi == 1.0 and 0.9 < full.lo < 1.0
    with pytest.raises(ValueError, match="^k and n"):
        stats.wilson_ci(5, 3)


def test_bootstrap_ci_of_the_mean_matches_t_interval():
    # For a large Gaussian sample the percentile bootstrap of the mean and the t interval agree
    # to O(1/n); compare their half-widths within 10% (bootstrap Monte Carlo error with 2000 draws ~3%).
    rng = np.random.default_rng(4)
    x = rng.normal(1.0, 1.0, 400)
    b = stats.bootstrap_ci(x, np.mean, LEVEL, n_boot=2000, seed=0)
    t = stats.mean_ci(x, LEVEL)
    assert b.estimate == pytest.approx(t.estimate)
    assert (b.hi - b.lo) == pytest.approx(t.hi - t.lo, rel=0.1)
    # seeded: bit-identical on repetition
    assert stats.bootstrap_ci(x, np.mean, LEVEL, n_boot=500, seed=7) == stats.bootstrap_ci(
        x, np.mean, LEVEL, n_boot=500, seed=7
    )


def test_ks_gaussian_known_answers():
    # all-zero sample vs N(0,1): the empirical CDF jumps 0 -> 1 at 0 where Phi = 1/2, so D = 1/2 exactly
    D, p = stats.ks_gaussian(np.zeros(100))
    assert D == pytest.approx(0.5)
    assert p < 1e-10
    rng = np.random.default_rng(5)
    D_ok, p_ok = stats.ks_gaussian(rng.normal(0, 2.0, 2000), 0.0, 2.0)
    assert p_ok > 0.01 and D_ok < 1.63 / math.sqrt(2000)  # 1% critical value of the KS statistic
    D_bad, p_bad = stats.ks_gaussian(rng.normal(0, 2.4, 2000), 0.0, 2.0)  # 20% too wide
    assert p_bad < 1e-4


def _w1_point_mass(c: float) -> float:
    """E|Z - c| for Z ~ N(0,1): the W1 distance between a point mass at c and N(0,1)."""
    return c * (2 * st.norm.cdf(c) - 1) + 2 * st.norm.pdf(c)


@settings(max_examples=30, deadline=None)
@given(
    c=hst.floats(min_value=-5, max_value=5, allow_nan=False),  # bounded: a point mass within 5 sd
    sd=hst.floats(min_value=0.1, max_value=10, allow_nan=False),  # bounded scale
)
def test_wasserstein_point_mass_exact(c, sd):
    # point mass at m + sd*c vs N(m, sd^2): W1 = sd * E|Z - c| exactly
    m = 1.5
    got = stats.wasserstein_gaussian(np.full(7, m + sd * c), m, sd)
    assert got == pytest.approx(sd * _w1_point_mass(c), rel=1e-9, abs=1e-12)


def test_wasserstein_shift_and_agreement_with_scipy():
    rng = np.random.default_rng(6)
    x = rng.normal(0.0, 1.0, 20000)
    # a sample of N(0,1) is O(n^-1/2) close to N(0,1); shifting it by 0.5 moves W1 to ~0.5
    assert stats.wasserstein_gaussian(x) < 0.03
    assert stats.wasserstein_gaussian(x + 0.5) == pytest.approx(0.5, abs=0.03)
    # scipy's W1 between the sample and a huge reference sample of the Gaussian (MC error ~ 1e-3)
    ref = st.norm.ppf((np.arange(200000) + 0.5) / 200000)
    y = rng.normal(0.3, 1.3, 500)
    assert stats.wasserstein_gaussian(y) == pytest.approx(st.wasserstein_distance(y, ref), abs=2e-3)


def test_power_law_exact_and_noisy():
    x = np.array([1e-3, 2e-3, 4e-3, 8e-3])
    fit = stats.fit_power_law(x, 3.0 * x**1.5)
    assert fit.exponent == pytest.approx(1.5, abs=1e-12)
    assert fit.prefactor == pytest.approx(3.0, rel=1e-10)
    assert fit.exponent_se == pytest.approx(0.0, abs=1e-10)
    rng = np.random.default_rng(7)
    x = np.geomspace(1e-3, 1e-1, 12)
    y = 2.0 * x**0.7 * np.exp(rng.normal(0, 0.05, x.size))
    f = stats.fit_power_law(x, y)
    assert abs(f.exponent - 0.7) < 3 * f.exponent_se  # within 3 standard errors of the truth
    lo, hi = f.interval(0.95)
    assert lo < f.exponent < hi


def test_fitted_order_weighted_with_two_points():
    # two points with known errors: the slope is the secant and its SE is the propagated one
    e = np.array([1e-3, 5e-4])
    err = np.array([2e-2, 1e-2])
    se = np.array([1e-3, 1e-3])
    f = stats.fitted_order(e, err, se)
    assert f.exponent == pytest.approx(1.0, abs=1e-12)
    expected_se = math.sqrt((se[0] / err[0]) ** 2 + (se[1] / err[1]) ** 2) / math.log(2.0)
    assert f.exponent_se == pytest.approx(expected_se, rel=1e-9)


def test_power_law_rejects_bad_input():
    with pytest.raises(ValueError, match="^x and y must be > 0"):
        stats.fit_power_law([1, 2], [1, -1])
    with pytest.raises(ValueError, match="^x and y must have the same length"):
        stats.fit_power_law([1, 2, 3], [1, 2])


def test_autocorrelation_and_decay_rate_of_ar1():
    # AR(1) x_{k+1} = phi x_k + noise sampled every dt is an exact discretisation of an OU with
    # rate theta = -log(phi)/dt; its ACF is phi^s exactly.
    rng = np.random.default_rng(8)
    theta, dt, runs, n = 10.0, 0.01, 200, 2000
    phi = math.exp(-theta * dt)
    x = np.empty((runs, n))
    x[:, 0] = rng.normal(0, 1, runs)
    z = rng.normal(0, math.sqrt(1 - phi**2), (runs, n))
    for k in range(1, n):
        x[:, k] = phi * x[:, k - 1] + z[:, k]
    acf = stats.autocorrelation(x, 30, mean=0.0)
    assert acf[0] == 1.0
    # ACF estimate at lag s from runs*n ~ 4e5 correlated samples: SE ~ sqrt((1+phi^2)/(1-phi^2)/N) ~ 0.007
    assert np.allclose(acf[:20], phi ** np.arange(20), atol=0.03)
    rate = stats.fit_decay_rate(acf, dt, min_acf=0.2)
    # bootstrap over runs gives the interval; the true rate must be inside it
    lags = np.stack([np.mean(x[:, : n - s] * x[:, s:], axis=1) for s in range(31)], axis=1)
    ci = stats.bootstrap_ci(
        lags, lambda r: stats.fit_decay_rate(r.mean(0) / r.mean(0)[0], dt, min_acf=0.2), n_boot=300, seed=1
    )
    assert ci.contains(theta)
    assert rate == pytest.approx(theta, rel=0.05)


def test_fit_decay_rate_exact_and_short():
    s = np.arange(50) * 0.1
    assert stats.fit_decay_rate(np.exp(-2.5 * s), 0.1, min_acf=0.01) == pytest.approx(2.5, rel=1e-12)
    assert math.isnan(stats.fit_decay_rate(np.array([1.0, 0.05, 0.01]), 0.1, min_acf=0.2))


def test_level_and_size_validation():
    with pytest.raises(ValueError, match="^level"):
        stats.mean_ci([1.0, 2.0], level=1.5)
    with pytest.raises(ValueError, match="^x"):
        stats.mean_ci([1.0])
    with pytest.raises(ValueError, match="^sd"):
        stats.ks_gaussian([0.0, 1.0], sd=0.0)


def test_fit_decay_rate_with_intercept_removes_amplitude_bias():
    # rho(s) = 1.05 exp(-3 s) beyond a fast transient: through the origin is biased, with intercept exact
    s = np.arange(60) * 0.02
    acf = 1.05 * np.exp(-3.0 * s)
    acf[0] = 1.0
    assert stats.fit_decay_rate(acf, 0.02, min_acf=0.1, start=2, intercept=True) == pytest.approx(
        3.0, rel=1e-10
    )
    assert stats.fit_decay_rate(acf, 0.02, min_acf=0.1) < 2.95


def test_extrapolate_to_zero_is_richardson():
    # two points: v0 = 2 v(h/2) - v(h), se = sqrt(4 se2^2 + se1^2)
    iv = stats.extrapolate_to_zero([1e-3, 5e-4], [1.2, 1.1], [0.01, 0.02])
    assert iv.estimate == pytest.approx(1.0)
    assert iv.se == pytest.approx(math.sqrt(4 * 0.02**2 + 0.01**2))
    # exact line through three points
    h = np.array([4.0, 2.0, 1.0])
    iv3 = stats.extrapolate_to_zero(h, 3.0 + 0.5 * h, [0.1, 0.1, 0.1])
    assert iv3.estimate == pytest.approx(3.0) and iv3.contains(3.0)
