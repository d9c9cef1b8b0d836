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
    "exact_delay_law",
    "delay_law_label",
    "linearised_variance_u_law",
    "linearised_mean_path_law",
    "mean_field_impulse_response_law",
    "linearised_autocovariance_u_law",
    "linearised_decay_rate_law",
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

    Parameters
    ----------
    problem : theory.Problem
    mu : float
        Momentum in [0, 1).
    eta : float
        Step size.

    Returns
    -------
    theory.stability.StabilityThreshold
        Its ``max_stable_delay`` (-1 when no delay is stable) and ``binding_mode``.
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

    Parameters
    ----------
    mu : float
        Momentum.
    s : float
        eta c (any sign).
    tau : int
        Constant delay >= 0.

    Returns
    -------
    ndarray, shape (m, m)
    """
    m = max(int(tau) + 1, 2)
    A = np.zeros((m, m))
    A[0, 0] += 1.0 + mu
    A[0, 1] += -mu
    A[0, int(tau)] += -s
    A[1:, :-1] += np.eye(m - 1)
    return A


def ar2_variance_u(alpha: float, c: float, eta: float, mu: float) -> float:
    """Closed-form stationary variance (u units) of the tau = 0 recursion (module docstring).

    Parameters
    ----------
    alpha : float
        Noise standard deviation.
    c : float
        Mode rate > 0.
    eta : float
        Step size.
    mu : float
        Momentum in [0, 1).

    Returns
    -------
    float
        Var(x_k) / eta.
    """
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

    Parameters
    ----------
    alpha : float
        Noise standard deviation (alpha_{i1}).
    c : float
        Mode rate lambda_1 - lambda_i.
    eta : float
        Step size.
    mu : float
        Momentum in [0, 1).
    tau : int
        Constant delay >= 0.

    Returns
    -------
    float
        Var(x_k) / eta; inf when not strictly stable.
    """
    s = eta * c
    if not _is_stable(mu, s, tau):
        return float("inf")
    return float(_yule_walker_autocovariance(_ar_coefficients(mu, s, tau), (eta * alpha) ** 2)[0] / eta)


def linearised_mean_path(x0: float, c: float, eta: float, mu: float, tau: int, n_steps: int) -> np.ndarray:
    """Mean path x_0..x_{n_steps} of the linearised recursion from x_{-i} = x_0 (eq. (5)'s v_{-i} = v_0).

    Parameters
    ----------
    x0 : float
        Start (and history).
    c, eta, mu : float
        Mode rate, step size, momentum.
    tau : int
        Constant delay.
    n_steps : int

    Returns
    -------
    ndarray, shape (n_steps + 1,)
    """
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

    Parameters
    ----------
    c, eta, mu : float
        Mode rate, step size, momentum.
    tau : int
        Constant delay.
    n_steps : int

    Returns
    -------
    ndarray, shape (n_steps + 1,)
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

    Parameters
    ----------
    c, eta, mu : float
        Mode rate, step size, momentum.
    tau : int
        Constant delay (dense eigenvalues: O(tau^3), for small tau).

    Returns
    -------
    float
        Per unit ODE time; negative when unstable.
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

    Parameters
    ----------
    alpha, c, eta, mu : float
        Noise sd, mode rate, step size, momentum.
    tau : int
        Constant delay.
    n_lags : int

    Returns
    -------
    ndarray, shape (n_lags + 1,)
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


# ---------------------------------------------------------------------------------------
# random delays (issue 11): the exact law of a delay model, and the linearised predictions
# ---------------------------------------------------------------------------------------
#: Largest impulse-response length the ACF of an i.i.d. law may need (steps, 2^23: 64 MiB);
#: beyond it the mean field decays too slowly to sum (a tiny eigengap) and the ACF is NaN.
MAX_FILTER_STEPS = 1 << 23
#: The stationary ACF sums the impulse response until the energy of its last quarter is below
#: this fraction of the total (the error of the normalised ACF is of the same order).
FILTER_TAIL = 1e-14


def exact_delay_law(delay):
    """The exact staleness law of a delay model, in ``theory.random_delays``' terms, or None.

    Conventions of :mod:`simulate.delays` (checked against its samplers by the tests):
    ``Constant(tau)`` is the point mass at tau; ``Uniform(tau_max)`` is uniform on
    {0..tau_max}; ``Geometric(mean, cap)`` is :math:`(1-q)q^j`, q = mean / (1 + mean), in
    closed form (``theory.stability.GeometricDelayLaw``) or, with a cap, the vector of
    :math:`\\min(\\tau, cap)`; ``WorkerPipeline`` with equal-speed exponential compute times
    (``"exponential"``, or M equal means: the staleness does not depend on the time unit) is
    :class:`theory.random_delays.WorkerPipelineLaw` (not i.i.d.: its own moment maps), with
    ``"constant"`` compute times the point mass at M - 1 (the staleness after the first M
    writes). None for a law the theory does not cover (heterogeneous workers, a callable
    compute time, a ``Sequence``).

    Parameters
    ----------
    delay : int, dict or simulate.delays.DelayModel
        A constant tau, a spec's delay table (``compare.single_run.delay_to_json``) or a model.

    Returns
    -------
    ndarray of shape (K + 1,), GeometricDelayLaw, WorkerPipelineLaw or None
    """
    from simulate import delays as D
    from theory.random_delays import WorkerPipelineLaw
    from theory.stability import GeometricDelayLaw

    if isinstance(delay, dict):
        from compare.single_run import delay_from_json

        delay = delay_from_json(delay)
    if isinstance(delay, (int, np.integer)) and not isinstance(delay, bool):
        delay = D.Constant(int(delay))

    def point_mass(tau: int) -> np.ndarray:
        p = np.zeros(tau + 1)
        p[tau] = 1.0
        return p

    if isinstance(delay, D.Constant):
        return point_mass(int(delay.tau))
    if isinstance(delay, D.Uniform):
        return np.full(delay.tau_max + 1, 1.0 / (delay.tau_max + 1))
    if isinstance(delay, D.Geometric):
        q = float(delay.mean) / (1.0 + float(delay.mean))
        if delay.cap is None:
            return GeometricDelayLaw(q)
        cap = int(delay.cap)
        p = (1.0 - q) * q ** np.arange(cap + 1, dtype=float)
        p[cap] = q**cap  # P(min(tau, cap) = cap) = P(tau >= cap)
        return p
    if isinstance(delay, D.WorkerPipeline):
        ct = delay.compute_time
        if ct == "exponential" or (isinstance(ct, tuple) and len(set(ct)) == 1):
            return WorkerPipelineLaw(int(delay.workers))
        if ct == "constant":
            return point_mass(int(delay.workers) - 1)
        return None
    return None


def delay_law_label(law) -> str:
    """A short readable name of a law of :func:`exact_delay_law` (for notes and results).

    Parameters
    ----------
    law : ndarray, GeometricDelayLaw, WorkerPipelineLaw or None

    Returns
    -------
    str
        E.g. ``"uniform on {0..8}"``, ``"geometric, q = 0.8 (mean 4)"``.
    """
    from theory.random_delays import WorkerPipelineLaw
    from theory.stability import GeometricDelayLaw

    if law is None:
        return "no exact law"
    if isinstance(law, WorkerPipelineLaw):
        return f"worker pipeline, M = {law.workers} exponential workers (mean {law.mean})"
    if isinstance(law, GeometricDelayLaw):
        return f"geometric, q = {law.q:.6g} (mean {law.mean:.6g})"
    p = np.asarray(law, dtype=float)
    nz = np.flatnonzero(p)
    if nz.size == 1:
        return f"point mass at {int(nz[0])}"
    if np.allclose(p, p[0]):
        return f"uniform on {{0..{p.size - 1}}}"
    return f"i.i.d. on {{0..{p.size - 1}}} (mean {float(np.arange(p.size) @ p):.6g})"


def _mean_field_filter(mu: float, s: float, law) -> tuple[np.ndarray, np.ndarray]:
    r"""(b, a) of the mean-field recursion as a ``scipy.signal.lfilter`` transfer function.

    :math:`y_{n} = (1+\mu) y_{n-1} - \mu y_{n-2} - s\sum_j p_j y_{n-1-j} + u_{n-1}`: for a vector law
    a = (1, -(1+mu) + s p_0, mu + s p_1, s p_2, .., s p_K), b = (0, 1). The geometric law (and
    the worker pipeline, whose mean recursion is the geometric one with q = (M-1)/M,
    ``theory.random_delays`` module docstring) multiplies through by (1 - q z^-1):
    a = (1, -(1+mu), mu) * (1, -q) + (0, s(1-q), 0, 0), b = (0, 1, -q): O(1) per step.
    """
    from theory.random_delays import WorkerPipelineLaw
    from theory.stability import GeometricDelayLaw

    if isinstance(law, WorkerPipelineLaw):
        law = GeometricDelayLaw((law.workers - 1) / law.workers)
    if isinstance(law, GeometricDelayLaw):
        q = law.q
        a = np.polymul([1.0, -(1.0 + mu), mu], [1.0, -q])
        a[1] += s * (1.0 - q)
        return np.array([0.0, 1.0, -q]), a
    p = np.asarray(law, dtype=float)
    a = np.zeros(max(p.size + 1, 3))
    a[0], a[1], a[2] = 1.0, -(1.0 + mu), mu
    a[1 : p.size + 1] += s * p
    return np.array([0.0, 1.0]), a


def _check_law(law):
    from theory.random_delays import _check_law as check

    if law is None:
        raise ValueError("law: no exact delay law (exact_delay_law returned None)")
    return check(law)


def linearised_variance_u_law(alpha: float, c: float, eta: float, mu: float, law) -> float:
    r"""Exact stationary variance (u units) of the linearised recursion under a random delay law.

    The random-delay version of :func:`linearised_variance_u` (issue 11, Theory item 2):
    :math:`x_{k+1} = (1+\mu)x_k - \mu x_{k-1} - \eta c\,x_{k-\tau_k} + \eta\xi_k`, tau_k from
    ``law``; ``theory.random_delays.stationary_variance_random`` (the martingale split for
    i.i.d. laws, the 7-dimensional moment map for the worker pipeline), divided by eta.

    Parameters
    ----------
    alpha : float
        Noise standard deviation (alpha_{i1}); 0 gives 0.
    c : float
        Mode rate lambda_1 - lambda_i; c <= 0 (never stable) gives inf.
    eta : float
        Step size > 0.
    mu : float
        Momentum in [0, 1).
    law : ndarray (K + 1,), GeometricDelayLaw or WorkerPipelineLaw
        E.g. :func:`exact_delay_law`. Cost O(K^2) for a vector, O(1) otherwise.

    Returns
    -------
    float
        Var(x_k) / eta; inf when the recursion is not mean-square stable.
    """
    from theory.random_delays import mean_square_stability

    law = _check_law(law)
    s = eta * c
    if not (np.isfinite(s) and s > 0):
        return float("inf")
    factor = mean_square_stability(mu, s, law).variance_factor
    if not np.isfinite(factor):
        return float("inf")
    return float(eta * alpha**2 * factor)


def linearised_mean_path_law(x0: float, c: float, eta: float, mu: float, law, n_steps: int) -> np.ndarray:
    r"""Mean path E x_0..E x_{n_steps} under a random delay law, from x_{-i} = x_0 (v_{-i} = v_0).

    tau_k is independent of the state, so the mean obeys the mean-field recursion exactly:
    :math:`E x_{k+1} = (1+\mu)E x_k - \mu E x_{k-1} - \eta c\sum_j p_j E x_{k-j}` (the worker
    pipeline: its 3 x 3 mean map, the geometric recursion with q = (M-1)/M). Written for
    d_k = x_k - x_0, zero history, driven by -eta c x_0 (``scipy.signal.lfilter``, O(n K)).
    For a point mass at tau it is :func:`linearised_mean_path` (the tests check it).

    Parameters
    ----------
    x0 : float
        Start (and history).
    c, eta, mu : float
        Mode rate, step size, momentum.
    law : ndarray, GeometricDelayLaw or WorkerPipelineLaw
    n_steps : int

    Returns
    -------
    ndarray, shape (n_steps + 1,)
    """
    from scipy.signal import lfilter

    law = _check_law(law)
    b, a = _mean_field_filter(mu, eta * c, law)
    u = np.full(int(n_steps) + 1, -eta * c * float(x0))
    return float(x0) + lfilter(b, a, u)


def mean_field_impulse_response_law(c: float, eta: float, mu: float, law, n_steps: int) -> np.ndarray:
    r"""g_0..g_{n_steps}: the mean-field filter's response to a unit input at step 0 (g_0 = 0, g_1 = 1).

    The random-delay version of :func:`impulse_response`: the linear filter
    :math:`G(z) = z^{-1}/(1 - (1+\mu)z^{-1} + \mu z^{-2} + \eta c\,z^{-1}P(z^{-1}))`,
    :math:`P(w) = \sum_j p_j w^j`.

    Parameters
    ----------
    c, eta, mu : float
    law : ndarray, GeometricDelayLaw or WorkerPipelineLaw
    n_steps : int

    Returns
    -------
    ndarray, shape (n_steps + 1,)
    """
    from scipy.signal import lfilter

    law = _check_law(law)
    b, a = _mean_field_filter(mu, eta * c, law)
    x = np.zeros(int(n_steps) + 1)
    x[0] = 1.0
    return lfilter(b, a, x)


def linearised_autocovariance_u_law(
    alpha: float, c: float, eta: float, mu: float, law, n_lags: int
) -> np.ndarray:
    r"""Stationary autocovariance gamma(h) = E[x_{k+h} x_k] / eta, h = 0..n_lags, under a random delay law.

    I.i.d. laws: :math:`x_{k-\tau_k} = (p*x)_k + m_k` with :math:`m_k` a martingale difference
    (``theory.random_delays``), so x is the mean-field filter G driven by the *white* noise
    :math:`-\eta c\,m_k + \eta\xi_k`: :math:`\gamma(h) = V\sum_n g_n g_{n+h} / \sum_n g_n^2`,
    V = :func:`linearised_variance_u_law`, g = :func:`mean_field_impulse_response_law` summed
    until its tail energy is below :data:`FILTER_TAIL` (FFT correlation). Worker pipeline: its
    writer is independent of the past, so :math:`E[S_{k+h} | \mathcal F_k] = A_1^h S_k` for the
    state S = (x, x_{-1}, mean of the workers' reads) and :math:`\gamma(h) = [A_1^h (A, B, D)]_0`
    with (A, B, D) = (E x^2, E x x_{-1}, E x y_m) of the stationary second-moment map
    (``theory.random_delays.pipeline_moment_maps``): exact. u units.

    Parameters
    ----------
    alpha, c, eta, mu : float
    law : ndarray, GeometricDelayLaw or WorkerPipelineLaw
    n_lags : int

    Returns
    -------
    ndarray, shape (n_lags + 1,)
        NaN when not mean-square stable (or the filter does not decay within
        :data:`MAX_FILTER_STEPS` steps).
    """
    from scipy.signal import fftconvolve

    from theory.random_delays import WorkerPipelineLaw, pipeline_moment_maps

    law = _check_law(law)
    n_lags = int(n_lags)
    nan = np.full(n_lags + 1, np.nan)
    V = linearised_variance_u_law(alpha, c, eta, mu, law)
    if not np.isfinite(V):
        return nan
    s = eta * c
    if isinstance(law, WorkerPipelineLaw):
        A1, L, noise = pipeline_moment_maps(mu, s, law.workers)
        v = np.linalg.solve(np.eye(7) - L, noise) * eta * alpha**2  # (E x^2, ..)/eta: u units
        w = np.array([v[0], v[1], v[3]])
        out = np.empty(n_lags + 1)
        for h in range(n_lags + 1):
            out[h] = w[0]
            w = A1 @ w
        return out
    n = max(4096, 2 * (n_lags + 1))
    while True:
        g = mean_field_impulse_response_law(c, eta, mu, law, n)
        e = g * g
        total = float(e.sum())
        if np.isfinite(total) and total > 0 and float(e[3 * n // 4 :].sum()) <= FILTER_TAIL * total:
            break
        if n >= MAX_FILTER_STEPS:
            return nan
        n = min(2 * n, MAX_FILTER_STEPS)
    corr = fftconvolve(g, g[::-1])[g.size - 1 : g.size + n_lags]
    return V * corr / total


def linearised_decay_rate_law(c: float, eta: float, mu: float, law) -> float:
    """Slowest decay rate (per unit ODE time) of the mean-field recursion: -log(rho) / eta.

    rho: ``theory.stability.mean_field_spectral_radius`` (the cubic of the geometric law and of
    the worker pipeline's mean map, q = (M-1)/M; the roots of the degree K + 1 polynomial of a
    vector law). The random-delay version of :func:`linearised_decay_rate` (for a point mass
    the same root); the mean and the ACF decay at this rate, the second moments at
    ``theory.random_delays.mean_square_growth``.

    Parameters
    ----------
    c, eta, mu : float
    law : ndarray (K + 1,), GeometricDelayLaw or WorkerPipelineLaw

    Returns
    -------
    float
        Negative when the mean is unstable.
    """
    from theory.random_delays import WorkerPipelineLaw
    from theory.stability import GeometricDelayLaw, mean_field_spectral_radius

    law = _check_law(law)
    if isinstance(law, WorkerPipelineLaw):
        law = GeometricDelayLaw((law.workers - 1) / law.workers)
    return float(-np.log(mean_field_spectral_radius(mu, eta * c, law)) / eta)


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
    problem : theory.Problem
    eta, mu : float
        Step size and momentum of eq. (5).
    delays : list of int or simulate.delays models
    h0 : ndarray, shape (d,)
        Start in eigen-coordinates (v0 = Q h0; v_{-i} = v_0).
    horizon : float
        ODE time T (n = round(T / eta) steps).
    runs, seed : int
        Independent runs and the root seed.
    record_every : int >= 1
        Record h every this many steps (record 0 is h_0).
    progress : bool
        Show a progress bar.

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

    Parameters
    ----------
    problem : theory.Problem
    eta, mu : float
        Step size and momentum.
    delay : int or simulate.delays model
    h0 : ndarray, shape (d,)
        Start in eigen-coordinates.
    horizon : float
        ODE time.
    runs, seed : int
    record_dt : float
        ODE time between records.
    progress : bool
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

    Parameters
    ----------
    problem : theory.Problem
    mu : float
    j : int
        The stationary point e_j (1-based).
    u0 : array_like, shape (n_paths, d - 1) or (d - 1,)
        Starts.
    t : ndarray, shape (n_t,)
        Time grid.
    n_paths, seed : int
    diffusion_scale : float
        Multiplies the diffusion (1 = the paper's).

    Returns
    -------
    ndarray, shape (n_t, n_paths, d - 1)
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

    Parameters
    ----------
    alpha, c, eta, mu : float
        Noise sd, mode rate (any sign), step size, momentum.
    tau : int
        Constant delay.
    steps : array_like of int
        Steps at which the variance is wanted.

    Returns
    -------
    ndarray, shape of ``steps``
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

    Parameters
    ----------
    command : str
    problem : theory.Problem
    parameters : dict or None
        The common options.
    own : dict
        The comparison's own parameters.
    seed : int
    checks : list of Check
    figures : list of str
    results : dict
    start_time : float
        ``time.perf_counter()`` at the start.
    raw : xarray.Dataset, optional

    Returns
    -------
    Verdict
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
