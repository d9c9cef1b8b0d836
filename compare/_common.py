r"""Helpers shared by the phase comparisons: the discrete runs and the linearised recursion.

The linearised recursion
------------------------
Around a stationary point :math:`e_j`, coordinate :math:`i \ne j` of update (5) in
eigen-coordinates, linearised in :math:`x = h_i`, is the delayed heavy-ball recursion

.. math::

    x_{k+1} = (1+\mu) x_k - \mu x_{k-1} - \eta c\, x_{k-\tau} + \eta\, \xi_k,
    \qquad c = \lambda_j - \lambda_i, \quad \mathrm{Var}(\xi_k) = \alpha_{ij}^2,

(:math:`\xi_k = Y_i Y_j` at :math:`w = e_j`; the same recursion whose stability
``theory.stability`` studies). Its exact (finite-eta, finite-tau) stationary variance, mean
path and slowest decay rate tend to those of the OU limit (8) / Theorem 9 as
:math:`\eta \to 0` with :math:`\tau\eta \to 0`; the differences are the O(eta) (and
O(tau eta)) gaps that an eta -> 0 theorem neglects. The comparisons use them to state
honest tolerances (docs/compare.md). For tau = 0 the variance is the AR(2) closed form
:math:`\gamma_0 = \frac{(1+\mu)\eta^2\alpha^2}{(1-\mu)\,\eta c\,(2(1+\mu) - \eta c)}`
(Box & Jenkins, *Time Series Analysis*, AR(2) autocovariances), i.e. in u units
:math:`\frac{\alpha^2}{2(1-\mu)c}\big/\big(1 - \frac{\eta c}{2(1+\mu)}\big)`.
"""

from __future__ import annotations

import time

import numpy as np

from compare.verdict import Verdict

__all__ = [
    "stability",
    "companion",
    "linearised_variance_u",
    "ar2_variance_u",
    "linearised_mean_path",
    "linearised_variance_path_u",
    "linearised_decay_rate",
    "linearised_autocovariance_u",
    "impulse_response",
    "DiscreteRuns",
    "run_discrete",
    "run_discrete_grid",
    "ou_paths",
    "assemble_verdict",
]


_STABILITY_CACHE: dict = {}


def stability(problem, mu: float, eta: float):
    """``theory.stability.stability_threshold(problem, mu, eta)``, memoised per (problem key, mu, eta).

    The threshold is needed by validation, ``--tau auto`` and the delay sweep of one run;
    computing it once keeps the CLI responsive.
    """
    from theory.stability import stability_threshold

    key = (problem.key(), float(mu), float(eta))
    if key not in _STABILITY_CACHE:
        _STABILITY_CACHE[key] = stability_threshold(problem, mu, eta)
    return _STABILITY_CACHE[key]


def companion(mu: float, s: float, tau: int) -> np.ndarray:
    r"""Companion matrix of :math:`x_{k+1} = (1+\mu)x_k - \mu x_{k-1} - s\,x_{k-\tau}` (s = eta c).

    State :math:`(x_k, \dots, x_{k-m+1})`, :math:`m = \max(\tau+1, 2)`. (Same matrix as
    ``theory.stability.companion_matrix``, rebuilt here without its positivity check on s
    so that c <= 0, the unstable saddle directions, is allowed.)
    """
    m = max(int(tau) + 1, 2)
    A = np.zeros((m, m))
    A[0, 0] += 1.0 + mu
    A[0, 1] += -mu
    A[0, int(tau)] += -s
    A[1:, :-1] += np.eye(m - 1)
    return A


def ar2_variance_u(alpha: float, c: float, eta: float, mu: float) -> float:
    """Closed-form stationary variance (u units) of the tau = 0 recursion (module docstring)."""
    s = eta * c
    return float(alpha**2 * (1 + mu) / ((1 - mu) * c * (2 * (1 + mu) - s)))


def _is_stable(mu: float, s: float, tau: int) -> bool:
    """Every root of z^(tau+1) - (1+mu) z^tau + mu z^(tau-1) + s strictly inside the unit circle.

    O(1) in tau: ``theory.stability.max_stable_delay`` (D-subdivision). s <= 0 (c <= 0, a
    saddle's unstable or neutral direction) is never stable.
    """
    if not s > 0:
        return False
    from theory.stability import max_stable_delay

    return int(tau) <= max_stable_delay(mu, s)


def _ar_coefficients(mu: float, s: float, tau: int) -> np.ndarray:
    """phi_1..phi_p of the recursion as an AR(p) process, p = max(tau + 1, 2) (phi[0] unused)."""
    p = max(int(tau) + 1, 2)
    phi = np.zeros(p + 1)
    phi[1] += 1.0 + mu
    phi[2] += -mu
    phi[int(tau) + 1] += -s
    return phi


def _yule_walker_autocovariance(phi: np.ndarray, sigma2: float) -> np.ndarray:
    r"""gamma(0..p) of a stationary AR(p) process: the Yule-Walker equations, solved sparse.

    :math:`\gamma(h) - \sum_j \phi_j \gamma(|h-j|) = \sigma^2\delta_{h0}`, h = 0..p. Only three
    phi_j are nonzero here, so the (p+1)-square system has at most four entries a row and a
    sparse LU solves it in about O(p) (the dense Lyapunov equation of the companion form costs
    O(p^3): a hang at tau ~ 10^3).
    """
    import scipy.sparse
    import scipy.sparse.linalg

    p = phi.size - 1
    lags = np.nonzero(phi)[0]
    rows, cols, vals = [np.arange(p + 1)], [np.arange(p + 1)], [np.ones(p + 1)]
    for j in lags:
        h = np.arange(p + 1)
        rows.append(h)
        cols.append(np.abs(h - j))
        vals.append(np.full(p + 1, -phi[j]))
    M = scipy.sparse.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(p + 1, p + 1)
    )
    rhs = np.zeros(p + 1)
    rhs[0] = sigma2
    return np.asarray(scipy.sparse.linalg.spsolve(M, rhs), dtype=float)


def linearised_variance_u(alpha: float, c: float, eta: float, mu: float, tau: int) -> float:
    """Exact stationary variance of x_k / sqrt(eta) for the linearised delayed recursion.

    The stationary Var(x_k) is gamma(0) of the Yule-Walker equations of the recursion written as
    an AR(max(tau+1, 2)) process with innovation variance (eta alpha)^2 (the same number as the
    discrete Lyapunov equation P = A P A^T + G G^T of the companion form, P[0, 0], which the tests
    check, at O(tau) instead of O(tau^3) cost). Returns gamma(0) / eta (u units), or inf if the
    recursion is not strictly stable.
    """
    s = eta * c
    if not _is_stable(mu, s, tau):
        return float("inf")
    return float(_yule_walker_autocovariance(_ar_coefficients(mu, s, tau), (eta * alpha) ** 2)[0] / eta)


def linearised_mean_path(x0: float, c: float, eta: float, mu: float, tau: int, n_steps: int) -> np.ndarray:
    """Mean path x_0..x_{n_steps} of the linearised recursion from x_{-i} = x_0 (eq. (5)'s v_{-i} = v_0)."""
    tau = int(tau)
    m = max(tau + 1, 2)
    x = np.empty(n_steps + m)  # x[m - 1 + k] = x_k; the history x_{-m+1..-1} = x_0
    x[:m] = float(x0)
    s = eta * c
    for k in range(m - 1, m - 1 + n_steps):
        x[k + 1] = (1 + mu) * x[k] - mu * x[k - 1] - s * x[k - tau]
    return x[m - 1 :].copy()


def impulse_response(c: float, eta: float, mu: float, tau: int, n_steps: int) -> np.ndarray:
    r"""y_0..y_{n_steps}: the recursion's response to a unit innovation at step 0 (y_1 = 1, y_{j<=0} = 0).

    From :math:`x_{-i} = 0`, :math:`x_k = \sum_{j<k} y_{k-j}\,\eta\xi_j`, so
    :math:`\mathrm{Var}(x_k) = \eta^2\alpha^2\sum_{m=1}^{k} y_m^2` (used by
    :func:`linearised_variance_path_u`).
    """
    tau = int(tau)
    m = max(tau + 1, 2)
    y = np.zeros(n_steps + m)  # y[m - 1 + k] = y_k
    s = eta * c
    for k in range(m - 1, m - 1 + n_steps):
        y[k + 1] = (1 + mu) * y[k] - mu * y[k - 1] - s * y[k - tau] + (1.0 if k == m - 1 else 0.0)
    return y[m - 1 :].copy()


def linearised_decay_rate(c: float, eta: float, mu: float, tau: int) -> float:
    """Slowest decay rate (per unit ODE time) of the linearised recursion: -log(rho)/eta.

    rho is the largest root modulus of the characteristic polynomial (spectral radius of
    :func:`companion`); as eta -> 0 this tends to c / (1 - mu), the OU drift of eq. (8).
    """
    rho = float(np.max(np.abs(np.linalg.eigvals(companion(mu, eta * c, tau)))))
    return float(-np.log(rho) / eta)


def linearised_autocovariance_u(
    alpha: float, c: float, eta: float, mu: float, tau: int, n_lags: int
) -> np.ndarray:
    r"""Stationary autocovariance :math:`\gamma(h) = E[x_{k+h}x_k]/\eta`, h = 0..n_lags, linearised.

    For :math:`h \ge 1` the noise :math:`\xi_{k+h-1}` is independent of :math:`x_k`, so
    :math:`\gamma(h) = (1+\mu)\gamma(h-1) - \mu\gamma(h-2) - \eta c\,\gamma(h-1-\tau)` with
    :math:`\gamma(-h) = \gamma(h)` (Yule-Walker); the first p + 1 = max(tau+1, 2) + 1 values
    solve the Yule-Walker system (:func:`linearised_variance_u`). u units. NaN if the recursion
    is not strictly stable.
    """
    s = eta * c
    if not _is_stable(mu, s, tau):
        return np.full(n_lags + 1, np.nan)
    phi = _ar_coefficients(mu, s, tau)
    p = phi.size - 1
    g = np.empty(max(n_lags + 1, p + 1))
    g[: p + 1] = _yule_walker_autocovariance(phi, (eta * alpha) ** 2) / eta
    for h in range(p + 1, n_lags + 1):
        g[h] = (1 + mu) * g[h - 1] - mu * g[h - 2] - s * g[abs(h - 1 - int(tau))]
    return g[: n_lags + 1]


class DiscreteRuns:
    """The part of ``simulate.EnsembleResult`` the comparisons use, for one mu and a list of delays.

    Attributes
    ----------
    t : ndarray, shape (n_rec,)
        Record times (ODE units).
    records : ndarray, shape (n_delay, runs, n_rec, d)
        Eigen-coordinates h at the record times.
    diverged : ndarray of bool, shape (n_delay, runs)
    mean_staleness : list of float, one per delay
    """

    def __init__(self, t, records, diverged, mean_staleness):
        self.t = t
        self.records = records
        self.diverged = diverged
        self.mean_staleness = mean_staleness


def run_discrete_grid(problem, *, eta, mu, delays, h0, horizon, runs, seed, record_every, progress=False):
    """Run Async-MSGD (5) for one mu and a list of delays from eigen-coordinates h0, with records.

    Parameters
    ----------
    delays : list of int or simulate.delays models
    h0 : ndarray, shape (d,)
        Start in eigen-coordinates (v0 = Q h0; v_{-i} = v_0).
    horizon : float
        ODE time T (n = round(T / eta) steps).
    record_every : int >= 1
        Record h every this many steps (record 0 is h_0).

    Returns
    -------
    DiscreteRuns
    """
    from simulate import simulate_async_msgd

    v0 = problem.from_eigen(np.asarray(h0, dtype=float))
    kw = dict(eta=eta, mu=mu, delay=list(delays), v0=v0, horizon=horizon, progress=progress)
    res = simulate_async_msgd(problem, runs=runs, seed=seed, record_every=record_every, **kw)
    return DiscreteRuns(
        np.asarray(res.t),
        np.asarray(res.records[0]),
        np.asarray(res.diverged[0]),
        [s.mean for s in res.staleness],
    )


def run_discrete(problem, *, eta, mu, delay, h0, horizon, runs, seed, record_dt, progress=False):
    """One delay: :func:`run_discrete_grid` with records every ``record_dt`` of ODE time.

    Returns
    -------
    res : DiscreteRuns
    t : ndarray, shape (n_rec,)
    h : ndarray, shape (runs, n_rec, d)
    """
    record_every = max(1, int(round(record_dt / eta)))
    res = run_discrete_grid(
        problem,
        eta=eta,
        mu=mu,
        delays=[delay],
        h0=h0,
        horizon=horizon,
        runs=runs,
        seed=seed,
        record_every=record_every,
        progress=progress,
    )
    return res, res.t, res.records[0]


def ou_paths(problem, mu: float, j: int, u0, t, n_paths: int, seed: int, diffusion_scale: float = 1.0):
    """Exact OU sample paths of eq. (8) (j = 1) / Theorem 9 (j >= 2) on the grid t.

    Returns ndarray, shape (n_t, n_paths, d - 1), coordinates i != j in increasing order
    (uses ``simulate.sde.simulate_ou`` with the exact Gaussian transition).
    """
    from simulate.sde import OU, simulate_ou

    base = OU.from_problem(problem, mu, j)
    ou = OU(base.drift, base.diffusion * diffusion_scale, base.coords)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x6F75]))  # tag "ou"
    return simulate_ou(ou, u0, t, n_paths=n_paths, rng=rng, method="exact")


def linearised_variance_path_u(alpha: float, c: float, eta: float, mu: float, tau: int, steps) -> np.ndarray:
    r"""Var(x_k)/eta at the given steps for the linearised recursion started at x_{-i} = 0.

    :math:`\eta\alpha^2\sum_{m=1}^{k} y_m^2` with y the impulse response
    (:func:`impulse_response`): O(max step) for any tau and any sign of c (c < 0 is an
    unstable saddle direction, Theorem 9). u units.
    """
    steps = np.asarray(steps, dtype=int)
    y = impulse_response(c, eta, mu, tau, int(steps.max()))
    cum = np.concatenate([[0.0], np.cumsum(y[1:] ** 2)])
    return eta * alpha**2 * cum[steps]


def assemble_verdict(
    command: str,
    problem,
    *,
    parameters: dict | None,
    own: dict,
    seed: int,
    checks,
    figures,
    results: dict,
    start_time: float,
    raw=None,
) -> Verdict:
    """The :class:`compare.verdict.Verdict` of a single-run comparison (phase1/2/3, ode).

    ``parameters`` (the common options) updated with the comparison's ``own`` parameters and
    the problem's ``eigenvalues`` and ``dist``; ``elapsed_s`` is measured from ``start_time``
    (a ``time.perf_counter()`` value).
    """
    params = dict(parameters or {})
    params.update({**own, "eigenvalues": problem.lambda_.tolist(), "dist": problem.dist.name})
    return Verdict(
        command=command,
        parameters=params,
        seed=seed,
        checks=checks,
        figures=figures,
        results=results,
        elapsed_s=time.perf_counter() - start_time,
        raw=raw,
    )
