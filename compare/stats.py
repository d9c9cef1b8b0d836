r"""Statistics for the comparisons: intervals, distances to a Gaussian, fitted orders, decay rates.

Every function takes plain arrays and returns plain numbers (or small frozen dataclasses),
so the comparisons stay thin and each metric is unit-tested on synthetic data with a
known answer (tests/compare/test_stats.py).

* Confidence intervals: :func:`mean_ci` (Student t), :func:`variance_ci` (chi-square,
  Gaussian data), :func:`bootstrap_ci` (percentile bootstrap, seeded), :func:`wilson_ci`
  (proportions; Wilson, 1927).
* Distance to a Gaussian :math:`N(m, s^2)`: :func:`ks_gaussian` (Kolmogorov-Smirnov
  statistic and p-value, scipy) and :func:`wasserstein_gaussian` (the exact 1-d
  Wasserstein-1 distance between the empirical law and the Gaussian, computed from the
  quantile representation :math:`W_1 = \int_0^1 |F_n^{-1}(p) - G^{-1}(p)|\,dp`).
* Fits: :func:`fit_power_law` / :func:`fitted_order` (least squares of log y on log x,
  slope with its standard error, optionally weighted by the standard errors of y).
* Time series: :func:`autocorrelation` of an ensemble of stationary paths and
  :func:`fit_decay_rate` (the rate theta of an exponential ACF :math:`e^{-\theta s}`, the
  OU law of eq. (8)).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special as _sc

# The few distribution functions used here, from scipy.special, the very calls scipy.stats makes
# (t._ppf = stdtrit, chi2._ppf = 2 gammaincinv, norm = ndtri / ndtr / exp(-x^2/2)/sqrt(2 pi)):
# importing scipy.stats costs ~1 s of every command's start-up (issue 10). Bit-identical to
# scipy.stats (tests/compare/test_stats.py); scipy.stats itself is imported by kstest_normal only.
_NORM_PDF_C = np.sqrt(2 * np.pi)


def _t_ppf(q, df):
    # stdtrit(df, 0) is +inf; scipy.stats' generic ppf maps q = 0 to the support's end, -inf
    return np.where(np.asarray(q) == 0, -np.inf, _sc.stdtrit(df, q))


def _chi2_ppf(q, df):
    return 2 * _sc.gammaincinv(df / 2, q)


def _norm_ppf(q):
    return _sc.ndtri(q)


def _norm_cdf(x):
    return _sc.ndtr(x)


def _norm_pdf(x):
    return np.exp(-(x**2) / 2.0) / _NORM_PDF_C


__all__ = [
    "Interval",
    "PowerLawFit",
    "mean_ci",
    "variance_ci",
    "bootstrap_ci",
    "wilson_ci",
    "ks_gaussian",
    "wasserstein_gaussian",
    "fit_power_law",
    "fitted_order",
    "autocorrelation",
    "fit_decay_rate",
    "extrapolate_to_zero",
    "z_score",
]


def _check_level(level: float) -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    return level


def _as_sample(x, name: str = "x", min_size: int = 2) -> np.ndarray:
    x = np.asarray(x, dtype=float).ravel()
    if x.size < min_size:
        raise ValueError(f"{name} needs at least {min_size} values, got {x.size}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite")
    return x


@dataclass(frozen=True)
class Interval:
    """An estimate with a two-sided confidence interval.

    Attributes
    ----------
    estimate : float
    lo, hi : float
        Interval bounds.
    se : float
        Standard error of the estimate (NaN where not defined).
    level : float
        Confidence level.
    """

    estimate: float
    lo: float
    hi: float
    se: float
    level: float

    def contains(self, value: float, allowance: float = 0.0) -> bool:
        """Whether ``value`` lies in the interval widened by ``allowance`` on each side.

        Parameters
        ----------
        value : float
            The value tested (e.g. a prediction).
        allowance : float, default 0
            Extra width added to both ends (e.g. a known O(eta) bias).

        Returns
        -------
        bool
            True if ``lo - allowance <= value <= hi + allowance``.
        """
        return bool(self.lo - allowance <= value <= self.hi + allowance)

    @property
    def bounds(self) -> tuple[float, float]:
        """The interval as a pair ``(lo, hi)``."""
        return (self.lo, self.hi)


def mean_ci(x, level: float = 0.95) -> Interval:
    """Mean of iid ``x`` with a Student-t interval (exact for Gaussian data, asymptotic otherwise).

    Parameters
    ----------
    x : array_like, shape (n,), n >= 2
        Finite iid sample (flattened).
    level : float, default 0.95
        Confidence level in (0, 1).

    Returns
    -------
    Interval
        ``estimate`` the sample mean, ``se = s / sqrt(n)`` (s the ddof-1 sd), bounds
        ``mean -+ t_{n-1}(1/2 + level/2) se``.
    """
    level = _check_level(level)
    x = _as_sample(x)
    n = x.size
    m = float(x.mean())
    se = float(x.std(ddof=1) / np.sqrt(n))
    q = float(_t_ppf(0.5 + level / 2, n - 1))
    return Interval(m, m - q * se, m + q * se, se, level)


def variance_ci(x, level: float = 0.95, *, mean: float | None = None) -> Interval:
    """Variance of iid Gaussian ``x`` with the chi-square interval.

    With ``mean`` given (a known mean, e.g. 0 by symmetry), the estimate is
    ``mean((x - mean)^2)`` with n degrees of freedom; otherwise the unbiased sample
    variance with n - 1. The interval is exact for Gaussian data only: for other data
    use :func:`bootstrap_ci` or :func:`mean_ci` of the squares.

    Parameters
    ----------
    x : array_like, shape (n,), n >= 2
        Finite iid sample (flattened).
    level : float, default 0.95
        Confidence level in (0, 1).
    mean : float, optional
        Known mean of the law (n degrees of freedom); estimated when None (n - 1).

    Returns
    -------
    Interval
        ``estimate`` s^2, bounds ``dof s^2 / chi2_dof(1/2 +- level/2)``, ``se = s^2 sqrt(2 / dof)``
        (the Gaussian standard error).
    """
    level = _check_level(level)
    x = _as_sample(x)
    if mean is None:
        dof = x.size - 1
        s2 = float(x.var(ddof=1))
    else:
        dof = x.size
        s2 = float(np.mean((x - mean) ** 2))
    lo = dof * s2 / float(_chi2_ppf(0.5 + level / 2, dof))
    hi = dof * s2 / float(_chi2_ppf(0.5 - level / 2, dof))
    return Interval(s2, lo, hi, s2 * np.sqrt(2.0 / dof), level)


def bootstrap_ci(
    x, statistic: Callable[[np.ndarray], float], level: float = 0.95, *, n_boot: int = 2000, seed: int = 0
) -> Interval:
    """Percentile bootstrap interval of ``statistic(x)`` resampling the first axis of ``x`` (seeded).

    ``x`` may be 2-d (e.g. runs x samples): whole rows are resampled, so the rows must be
    independent (independent runs) while the columns may be correlated.

    Parameters
    ----------
    x : array_like, shape (n, ...), n >= 2
        The data; its rows are the independent units resampled.
    statistic : callable
        ``statistic(rows) -> float`` on an array shaped like ``x``.
    level : float, default 0.95
        Confidence level in (0, 1).
    n_boot : int, default 2000
        Bootstrap resamples.
    seed : int, default 0
        Seed of the resampling (``numpy.random.default_rng``): the same seed gives the same interval.

    Returns
    -------
    Interval
        ``estimate = statistic(x)``, the ``1/2 -+ level/2`` quantiles of the finite resampled
        statistics and their sd as ``se``; lo, hi and se are NaN when fewer than 2 resamples
        are finite.
    """
    level = _check_level(level)
    x = np.asarray(x, dtype=float)
    if x.shape[0] < 2:
        raise ValueError(f"x needs at least 2 rows to bootstrap, got {x.shape[0]}")
    rng = np.random.default_rng(seed)
    est = float(statistic(x))
    idx = rng.integers(0, x.shape[0], size=(n_boot, x.shape[0]))
    boots = np.array([statistic(x[i]) for i in idx], dtype=float)
    boots = boots[np.isfinite(boots)]
    if boots.size < 2:  # the statistic is undefined on (almost) every resample
        return Interval(est, float("nan"), float("nan"), float("nan"), level)
    lo, hi = np.quantile(boots, [0.5 - level / 2, 0.5 + level / 2])
    return Interval(est, float(lo), float(hi), float(boots.std(ddof=1)), level)


def wilson_ci(k: int, n: int, level: float = 0.95) -> Interval:
    """Proportion k/n with the Wilson score interval (Wilson, JASA 22, 1927).

    Parameters
    ----------
    k : int
        Successes, 0 <= k <= n.
    n : int
        Trials, n >= 1.
    level : float, default 0.95
        Confidence level in (0, 1).

    Returns
    -------
    Interval
        ``estimate = k / n``, the Wilson bounds (exactly 0 at k = 0 and 1 at k = n) and the
        binomial ``se = sqrt(p (1 - p) / n)``.
    """
    level = _check_level(level)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"k and n must satisfy 0 <= k <= n, n >= 1; got k={k}, n={n}")
    z = float(_norm_ppf(0.5 + level / 2))
    p = k / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    lo = 0.0 if k == 0 else float(max(0.0, centre - half))  # exact edges: the Wilson bound is 0 at k = 0
    hi = 1.0 if k == n else float(min(1.0, centre + half))
    return Interval(p, lo, hi, float(np.sqrt(p * (1 - p) / n)), level)


def ks_gaussian(x, mean: float = 0.0, sd: float = 1.0) -> tuple[float, float]:
    """Kolmogorov-Smirnov statistic and p-value of iid ``x`` against N(mean, sd^2).

    Parameters
    ----------
    x : array_like, shape (n,), n >= 2
        Finite iid sample.
    mean : float, default 0
        Mean of the reference Gaussian.
    sd : float, default 1
        Its standard deviation, > 0.

    Returns
    -------
    statistic : float
        sup |F_n - Phi((. - mean) / sd)|.
    pvalue : float
        scipy's ``kstest`` p-value (exact or asymptotic by n).
    """
    x = _as_sample(x)
    if not sd > 0:
        raise ValueError(f"sd must be > 0, got {sd!r}")
    from scipy import stats as _st  # only here: its import is the slow part of scipy

    res = _st.kstest(x, "norm", args=(float(mean), float(sd)))
    return float(res.statistic), float(res.pvalue)


def wasserstein_gaussian(x, mean: float = 0.0, sd: float = 1.0) -> float:
    r"""Exact Wasserstein-1 distance between the empirical law of ``x`` and N(mean, sd^2).

    With sorted :math:`x_{(k)}` and :math:`c_k = (x_{(k)} - m)/s`, the quantile
    representation gives :math:`W_1 = s \sum_k \int_{z_{k-1}}^{z_k} |c_k - z|\,\varphi(z)\,dz`
    with :math:`z_k = \Phi^{-1}(k/n)`, and :math:`\int_a^b (c - z)\varphi(z)\,dz =
    c(\Phi(b) - \Phi(a)) + \varphi(b) - \varphi(a)`; splitting each piece at :math:`c_k`
    makes it exact (no quadrature).

    Parameters
    ----------
    x : array_like, shape (n,), n >= 1
        Finite sample.
    mean : float, default 0
        Mean m of the Gaussian.
    sd : float, default 1
        Its standard deviation s, > 0.

    Returns
    -------
    float
        W_1 in the units of ``x``.
    """
    x = np.sort(_as_sample(x, min_size=1))
    if not sd > 0:
        raise ValueError(f"sd must be > 0, got {sd!r}")
    n = x.size
    c = (x - mean) / sd
    z = _norm_ppf(np.arange(n + 1) / n)  # -inf .. +inf
    za, zb = z[:-1], z[1:]
    zc = np.clip(c, za, zb)

    def piece(lo, hi):
        return c * (_norm_cdf(hi) - _norm_cdf(lo)) + _norm_pdf(hi) - _norm_pdf(lo)

    return float(sd * np.sum(piece(za, zc) - piece(zc, zb)))


@dataclass(frozen=True)
class PowerLawFit:
    """y ~ prefactor * x^exponent fitted by least squares in log-log.

    Attributes
    ----------
    exponent, exponent_se : float
        Slope of log y on log x and its standard error (NaN with 2 points, unless weighted).
    prefactor : float
        exp(intercept).
    intercept, intercept_se : float
    r2 : float
    n : int
    weighted : bool
        True when fitted with known standard errors of y (then the standard errors are
        known-variance ones and the interval is normal).
    """

    exponent: float
    exponent_se: float
    prefactor: float
    intercept: float
    intercept_se: float
    r2: float
    n: int
    weighted: bool = False

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """Interval of the exponent (t with n - 2 dof; normal if weighted with known errors).

        Parameters
        ----------
        level : float, default 0.95
            Confidence level in (0, 1).

        Returns
        -------
        tuple of float
            ``(lo, hi) = exponent -+ q exponent_se`` (NaN bounds when the standard error is NaN).
        """
        level = _check_level(level)
        if self.weighted:
            q = float(_norm_ppf(0.5 + level / 2))
        else:
            q = float(_t_ppf(0.5 + level / 2, max(self.n - 2, 1)))
        return (self.exponent - q * self.exponent_se, self.exponent + q * self.exponent_se)

    def predict(self, x) -> np.ndarray:
        """The fitted law at ``x``.

        Parameters
        ----------
        x : array_like
            Abscissae (any shape).

        Returns
        -------
        ndarray, shape of ``x``
            ``prefactor * x ** exponent``.
        """
        return self.prefactor * np.asarray(x, dtype=float) ** self.exponent


def fit_power_law(x, y, y_se=None) -> PowerLawFit:
    """Fit y = C x^p by least squares of log y on log x.

    Parameters
    ----------
    x, y : array_like, positive, same length >= 2
    y_se : array_like, optional
        Standard errors of y. When given, the fit is weighted by 1/var(log y) with
        var(log y) = (y_se / y)^2 (delta method) and the standard errors are the
        known-variance ones (no residual rescaling), so they stay valid with 2 points.

    Returns
    -------
    PowerLawFit
        Exponent, prefactor, intercept with standard errors, r2 and n (unweighted with
        2 points: NaN standard errors).
    """
    x = _as_sample(x, "x")
    y = _as_sample(y, "y")
    if x.size != y.size:
        raise ValueError(f"x and y must have the same length, got {x.size} and {y.size}")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("x and y must be > 0 for a power-law fit")
    lx, ly = np.log(x), np.log(y)
    A = np.column_stack([np.ones_like(lx), lx])
    n = x.size
    if y_se is not None:
        y_se = np.asarray(y_se, dtype=float).ravel()
        w = 1.0 / np.maximum((y_se / y) ** 2, np.finfo(float).tiny)
        cov = np.linalg.inv(A.T @ (A * w[:, None]))
        beta = cov @ (A.T @ (w * ly))
    else:
        beta, *_ = np.linalg.lstsq(A, ly, rcond=None)
        resid = ly - A @ beta
        if n > 2:
            s2 = float(resid @ resid) / (n - 2)
            cov = s2 * np.linalg.inv(A.T @ A)
        else:
            cov = np.full((2, 2), np.nan)
    resid = ly - A @ beta
    ss_tot = float(np.sum((ly - ly.mean()) ** 2))
    r2 = 1.0 - float(resid @ resid) / ss_tot if ss_tot > 0 else float("nan")
    return PowerLawFit(
        exponent=float(beta[1]),
        exponent_se=float(np.sqrt(cov[1, 1])),
        prefactor=float(np.exp(beta[0])),
        intercept=float(beta[0]),
        intercept_se=float(np.sqrt(cov[0, 0])),
        r2=r2,
        n=n,
        weighted=y_se is not None,
    )


def fitted_order(step, error, error_se=None) -> PowerLawFit:
    """The order p of ``error ~ C step^p`` (a convergence order): :func:`fit_power_law`.

    Parameters
    ----------
    step : array_like, shape (n,), positive
        Step sizes (e.g. the eta ladder).
    error : array_like, shape (n,), positive
        The error at each step.
    error_se : array_like, shape (n,), optional
        Standard errors of ``error`` (a weighted fit with a normal interval).

    Returns
    -------
    PowerLawFit
        Its ``exponent`` is the fitted order p.
    """
    return fit_power_law(step, error, error_se)


def autocorrelation(paths, max_lag: int, *, mean: float | None = None) -> np.ndarray:
    """Autocorrelation of an ensemble of stationary paths, lags 0..max_lag.

    Parameters
    ----------
    paths : array_like, shape (runs, n_t)
        Equally spaced samples of independent stationary paths.
    max_lag : int
        Largest lag (in samples), < n_t.
    mean : float, optional
        Known mean (e.g. 0 by symmetry); the ensemble mean otherwise.

    Returns
    -------
    ndarray, shape (max_lag + 1,)
        rho(s) = C(s)/C(0), C(s) pooled over runs and time origins.
    """
    x = np.atleast_2d(np.asarray(paths, dtype=float))
    n_t = x.shape[1]
    if not 0 <= max_lag < n_t:
        raise ValueError(f"max_lag must be in [0, {n_t - 1}], got {max_lag}")
    x = x - (x.mean() if mean is None else mean)
    cov = np.array([np.mean(x[:, : n_t - s] * x[:, s:]) for s in range(max_lag + 1)])
    return cov / cov[0]


def fit_decay_rate(acf, dt: float, *, min_acf: float = 0.1, start: int = 0, intercept: bool = False) -> float:
    r"""Rate theta of :math:`\rho(s) \approx A e^{-\theta s\,dt}` fitted to an ACF (the OU law of eq. (8)).

    Least squares of log rho on the lag over lags ``start, start+1, ...`` while rho stays
    above ``min_acf`` (below it the relative noise of the estimate dominates). Through the
    origin (A = 1, the pure OU) by default; with ``intercept=True`` A is free, which is the
    right model when a fast transient (e.g. the heavy-ball's momentum root) makes
    rho(0) = 1 differ from the slow component's amplitude: start past it. Returns NaN if
    fewer than 2 lags qualify (3 with an intercept). Use :func:`bootstrap_ci` over
    independent runs for its interval.

    Parameters
    ----------
    acf : array_like, shape (n_lags,)
        rho(0), rho(1), ... (e.g. from :func:`autocorrelation`).
    dt : float
        Time between lags (ODE time).
    min_acf : float, default 0.1
        The fit stops at the first lag whose rho is not above this.
    start : int, default 0
        First lag of the fit.
    intercept : bool, default False
        Fit log A too (else A = 1).

    Returns
    -------
    float
        theta per unit of time, or NaN if too few lags qualify.
    """
    acf = np.asarray(acf, dtype=float)
    below = np.nonzero(~(acf > min_acf))[0]
    stop = below[0] if below.size else acf.size
    if stop - start < (3 if intercept else 2) or start < 0:
        return float("nan")
    s = np.arange(start, stop) * dt
    ly = np.log(acf[start:stop])
    if intercept:
        slope = np.polyfit(s, ly, 1)[0]
        return float(-slope)
    return float(-(s @ ly) / (s @ s))


def extrapolate_to_zero(step, value, value_se, level: float = 0.95) -> Interval:
    """Value at step -> 0 of ``value ~ v0 + A step`` (weighted least squares, known standard errors).

    The first-order (Richardson) extrapolation of a quantity whose finite-step bias is
    O(step): with two points it is ``2 v(h/2) - v(h)``; its standard error propagates the
    given ones (normal interval). Used to test eta -> 0 limits on an eta ladder.

    Parameters
    ----------
    step : array_like, shape (n,), n >= 2
        Step sizes (distinct).
    value : array_like, shape (n,)
        The quantity at each step.
    value_se : array_like, shape (n,), > 0
        Its standard errors (the weights 1 / se^2).
    level : float, default 0.95
        Confidence level in (0, 1).

    Returns
    -------
    Interval
        ``estimate`` v0 with its propagated standard error and the normal interval.
    """
    level = _check_level(level)
    x = _as_sample(step, "step")
    y = _as_sample(value, "value")
    se = _as_sample(value_se, "value_se")
    if not (x.size == y.size == se.size):
        raise ValueError("step, value and value_se must have the same length")
    if np.any(se <= 0):
        raise ValueError("value_se must be > 0")
    A = np.column_stack([np.ones_like(x), x])
    w = 1.0 / se**2
    cov = np.linalg.inv(A.T @ (A * w[:, None]))
    beta = cov @ (A.T @ (w * y))
    v0, v0_se = float(beta[0]), float(np.sqrt(cov[0, 0]))
    q = float(_norm_ppf(0.5 + level / 2))
    return Interval(v0, v0 - q * v0_se, v0 + q * v0_se, v0_se, level)


def z_score(observed: float, predicted: float, se: float) -> float:
    """(observed - predicted) / se (inf if se == 0 and they differ).

    Parameters
    ----------
    observed : float
        The measured value.
    predicted : float
        The prediction.
    se : float
        Standard error of ``observed`` (>= 0).

    Returns
    -------
    float
        The discrepancy in standard errors; 0 when se == 0 and they agree.
    """
    if se > 0:
        return float((observed - predicted) / se)
    return 0.0 if observed == predicted else float("inf")
