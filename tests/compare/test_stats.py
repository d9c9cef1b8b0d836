"""Unit tests of compare.stats on synthetic data with known answers.

Endpoint tests hold every interval to scipy's closed form at rounding level (Student t with
n - 1 dof, chi-square with n - 1 or n dof, scipy's Wilson interval, numpy's weighted least
squares, the exact bootstrap law of a binary mean): they tell t from z and n from n - 1, which
coverage cannot at these sizes. Coverage tests replicate an interval many times under a
seeded generator and require the empirical coverage to be within 3 binomial standard errors
of the nominal level (a correct interval fails this with probability ~0.3%; the seed makes
the outcome fixed).
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
    # at k = 0 and k = n the score interval has an exact edge; the other end is z^2 / (n + z^2)
    z2 = st.norm.ppf(0.975) ** 2
    zero = stats.wilson_ci(0, 50)
    assert zero.lo == 0.0 and zero.hi == pytest.approx(z2 / (50 + z2), rel=1e-12)
    full = stats.wilson_ci(50, 50)
    assert full.hi == 1.0 and full.lo == pytest.approx(50 / (50 + z2), rel=1e-12)
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
    assert iv3.estimate == pytest.approx(3.0)


# -- endpoints against scipy's closed forms ---------------------------------------------------------
# Coverage tests cannot tell a t quantile from a z quantile, or n from n - 1 degrees of freedom,
# at the sample sizes the comparisons use; endpoints can, exactly. Small n makes the wrong
# choices far apart (n = 5: t_4 = 2.78 vs z = 1.96; sqrt(n / (n - 1)) = 1.12; chi2(4) vs chi2(5)
# quantiles differ by 20-40%), and the comparisons below are at rounding level (rel 1e-9).

#: Sample sizes at which the distinctions are large.
SMALL_N = (3, 5, 12)
#: Two levels, so that a level hard-wired to 95% fails too.
LEVELS = (0.9, 0.95)
#: Relative agreement with scipy: the same closed form evaluated twice (ppf vs cdf round trip).
CLOSED = 1e-9


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("n", SMALL_N)
def test_mean_ci_endpoints_are_student_t_with_n_minus_1_dof(n, level):
    x = np.random.default_rng(n).normal(1.0, 2.0, n)
    iv = stats.mean_ci(x, level)
    sem = st.sem(x)  # sample sd with ddof = 1, over sqrt(n)
    lo, hi = st.t.interval(level, n - 1, loc=x.mean(), scale=sem)
    assert iv.estimate == pytest.approx(x.mean(), rel=CLOSED)
    assert iv.se == pytest.approx(sem, rel=CLOSED)
    assert iv.lo == pytest.approx(lo, rel=CLOSED) and iv.hi == pytest.approx(hi, rel=CLOSED)
    # the defining property: the upper end is the (1 + level)/2 quantile of the t pivot
    assert st.t.cdf((iv.hi - x.mean()) / sem, n - 1) == pytest.approx(0.5 + level / 2, rel=CLOSED)
    assert iv.level == level


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("n", SMALL_N)
def test_variance_ci_endpoints_invert_the_chi_square_pivot(n, level):
    x = np.random.default_rng(100 + n).normal(0.5, 1.5, n)
    lo_p, hi_p = 0.5 - level / 2, 0.5 + level / 2
    # unknown mean: (n - 1) s^2 / sigma^2 ~ chi2(n - 1), s^2 the unbiased sample variance
    iv = stats.variance_ci(x, level)
    s2 = x.var(ddof=1)
    assert iv.estimate == pytest.approx(s2, rel=CLOSED)
    assert st.chi2.cdf((n - 1) * s2 / iv.hi, n - 1) == pytest.approx(lo_p, rel=CLOSED)
    assert st.chi2.cdf((n - 1) * s2 / iv.lo, n - 1) == pytest.approx(hi_p, rel=CLOSED)
    assert iv.se == pytest.approx(s2 * math.sqrt(2 / (n - 1)), rel=CLOSED)  # sd of s^2 for Gaussian data
    # known mean m: sum (x - m)^2 / sigma^2 ~ chi2(n)
    ss = float(np.sum((x - 0.5) ** 2))
    ivk = stats.variance_ci(x, level, mean=0.5)
    assert ivk.estimate == pytest.approx(ss / n, rel=CLOSED)
    assert st.chi2.cdf(ss / ivk.hi, n) == pytest.approx(lo_p, rel=CLOSED)
    assert st.chi2.cdf(ss / ivk.lo, n) == pytest.approx(hi_p, rel=CLOSED)
    assert ivk.se == pytest.approx(ss / n * math.sqrt(2 / n), rel=CLOSED)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("n", [1, 7, 30])
def test_wilson_ci_endpoints_are_scipys_wilson_interval(n, level):
    for k in range(n + 1):
        iv = stats.wilson_ci(k, n, level)
        ref = st.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
        assert iv.lo == pytest.approx(ref.low, rel=CLOSED, abs=1e-15), (k, n)
        assert iv.hi == pytest.approx(ref.high, rel=CLOSED, abs=1e-15), (k, n)
        p = k / n
        assert iv.estimate == p and iv.se == pytest.approx(math.sqrt(p * (1 - p) / n), abs=1e-15)


@pytest.mark.parametrize("level", [0.8, 0.95])
def test_bootstrap_ci_of_a_binary_mean_is_the_binomial_percentile(level):
    """The bootstrap law of the mean of a 0/1 sample with k ones is exactly Binomial(n, k/n)/n.

    The percentile interval must sit at its (1 -+ level)/2 quantiles. Monte Carlo error of an
    empirical quantile with 4000 resamples: sqrt(q (1 - q)/4000) / pmf ~ 0.12 atom (1/n) here, so
    one atom of slack is ~8 standard errors; 0.8 vs 0.95 quantiles differ by 3 atoms.
    """
    n, k, n_boot = 100, 30, 4000
    x = np.zeros(n)
    x[:k] = 1.0
    iv = stats.bootstrap_ci(x, np.mean, level, n_boot=n_boot, seed=3)
    p = k / n
    assert iv.estimate == p
    assert abs(iv.lo - st.binom.ppf(0.5 - level / 2, n, p) / n) <= 1 / n
    assert abs(iv.hi - st.binom.ppf(0.5 + level / 2, n, p) / n) <= 1 / n
    # its spread is the binomial sd sqrt(p (1 - p)/n); relative MC error 1/sqrt(2 n_boot) = 1.1%: 5 SE
    assert iv.se == pytest.approx(math.sqrt(p * (1 - p) / n), rel=5 / math.sqrt(2 * n_boot))


def test_bootstrap_ci_resamples_whole_rows():
    # two identical columns: a statistic comparing them is 0 on every resample iff rows stay whole
    col = np.random.default_rng(11).normal(size=40)
    x = np.column_stack([col, col])
    iv = stats.bootstrap_ci(x, lambda r: float(r[:, 0].mean() - r[:, 1].mean()), n_boot=200, seed=0)
    assert iv.lo == 0.0 and iv.hi == 0.0


@pytest.mark.parametrize("level", LEVELS)
def test_extrapolate_to_zero_is_numpys_weighted_fit_with_a_normal_interval(level):
    h = np.array([4e-3, 2e-3, 1e-3, 5e-4])
    rng = np.random.default_rng(12)
    se = np.array([0.02, 0.03, 0.05, 0.08])
    v = 1.0 + 30.0 * h + se * rng.standard_normal(h.size)
    iv = stats.extrapolate_to_zero(h, v, se, level)
    # numpy's weighted least squares (weights 1/se, covariance from the known errors, unscaled)
    coef, cov = np.polyfit(h, v, 1, w=1 / se, cov="unscaled")
    assert iv.estimate == pytest.approx(coef[1], rel=CLOSED)
    assert iv.se == pytest.approx(math.sqrt(cov[1, 1]), rel=CLOSED)
    # known errors: the normal quantile, not Student's t (t_2 = 4.30 would be 2.2x wider here)
    half = st.norm.ppf(0.5 + level / 2) * iv.se
    assert iv.lo == pytest.approx(iv.estimate - half, rel=CLOSED)
    assert iv.hi == pytest.approx(iv.estimate + half, rel=CLOSED)


def test_power_law_fit_is_scipys_linregress_in_log_log():
    rng = np.random.default_rng(13)
    x = np.geomspace(1e-3, 1e-1, 6)
    y = 2.0 * x**0.7 * np.exp(rng.normal(0, 0.05, x.size))
    f = stats.fit_power_law(x, y)
    ref = st.linregress(np.log(x), np.log(y))
    assert f.exponent == pytest.approx(ref.slope, rel=CLOSED)
    assert f.exponent_se == pytest.approx(ref.stderr, rel=CLOSED)
    assert f.intercept == pytest.approx(ref.intercept, rel=CLOSED)
    assert f.intercept_se == pytest.approx(ref.intercept_stderr, rel=CLOSED)
    assert f.prefactor == pytest.approx(math.exp(ref.intercept), rel=CLOSED)
    assert f.r2 == pytest.approx(ref.rvalue**2, rel=CLOSED)
    assert f.n == x.size
    for level in LEVELS:  # residual variance estimated: t with n - 2 degrees of freedom
        lo, hi = f.interval(level)
        half = st.t.ppf(0.5 + level / 2, x.size - 2) * ref.stderr
        assert lo == pytest.approx(ref.slope - half, rel=CLOSED)
        assert hi == pytest.approx(ref.slope + half, rel=CLOSED)
    assert stats.fitted_order(x, y) == f


def test_weighted_power_law_fit_is_numpys_weighted_fit():
    x = np.array([1e-3, 2e-3, 4e-3, 8e-3])
    rng = np.random.default_rng(14)
    y_se = np.array([1e-4, 2e-4, 2e-4, 5e-4])
    y = 3.0 * x + y_se * rng.standard_normal(x.size)
    f = stats.fitted_order(x, y, y_se)
    # var(log y) = (y_se / y)^2 (delta method): weights y / y_se on log y, known variances
    coef, cov = np.polyfit(np.log(x), np.log(y), 1, w=y / y_se, cov="unscaled")
    assert f.exponent == pytest.approx(coef[0], rel=CLOSED)
    assert f.exponent_se == pytest.approx(math.sqrt(cov[0, 0]), rel=CLOSED)
    assert f.intercept == pytest.approx(coef[1], rel=CLOSED)
    assert f.intercept_se == pytest.approx(math.sqrt(cov[1, 1]), rel=CLOSED)


def test_weighted_power_law_interval_is_normal():
    x, y, y_se = np.array([1e-3, 5e-4]), np.array([2e-2, 1e-2]), np.array([1e-3, 1e-3])
    f = stats.fitted_order(x, y, y_se)
    lo, hi = f.interval(0.95)
    half = st.norm.ppf(0.975) * f.exponent_se
    assert lo == pytest.approx(f.exponent - half, rel=CLOSED)
    assert hi == pytest.approx(f.exponent + half, rel=CLOSED)


def test_distribution_functions_equal_scipy_stats_bit_for_bit():
    """compare.stats computes t/chi2/norm quantiles with scipy.special (scipy.stats costs ~1 s of
    start-up): they must be the numbers scipy.stats gives, to the bit, on and off the edges."""
    q = np.concatenate([[0.0, 1e-300, 1e-12, 0.025, 0.5, 0.975, 1 - 1e-12, 1.0], np.linspace(0, 1, 1001)])
    for df in (1, 2, 3, 7, 30, 199, 1e4):
        assert np.array_equal(stats._t_ppf(q, df), st.t.ppf(q, df), equal_nan=True), df
        assert np.array_equal(stats._chi2_ppf(q, df), st.chi2.ppf(q, df), equal_nan=True), df
    assert np.array_equal(stats._norm_ppf(q), st.norm.ppf(q))
    x = np.concatenate([[-np.inf, -40.0, -1e-9, 0.0, 3.0, np.inf], np.linspace(-9, 9, 1001)])
    assert np.array_equal(stats._norm_cdf(x), st.norm.cdf(x))
    assert np.array_equal(stats._norm_pdf(x), st.norm.pdf(x))
