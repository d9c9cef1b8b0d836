r"""Transient moments of the linearised recursion under i.i.d. random delays (issue 11, phase1).

The linearised coordinate of update (5) around a stationary point (``compare._common``'s
module docstring, rate c, :math:`s = \eta c`, gradient noise of variance :math:`\alpha^2`)
with a delay :math:`\tau_k` drawn i.i.d. from a law :math:`p_j = P(\tau_k = j)` at every step,

.. math::

    x_{k+1} = (1+\mu) x_k - \mu x_{k-1} - s\, x_{k-\tau_k} + \eta\, \xi_k,
    \qquad x_{-i} = x_0 \ (\text{eq. (5)'s } v_{-i} = v_0),

has (i) the mean path of the *mean-field* recursion (take expectations; :math:`\tau_k` is
independent of the past)

.. math::

    E x_{k+1} = (1+\mu) E x_k - \mu E x_{k-1} - s \textstyle\sum_j p_j E x_{k-j}
    \qquad (:func:`mean_path_law`),

and (ii) from :math:`x_0 = 0` (phase1's unstable coordinate at the saddle), an exact
variance path by the martingale split of :mod:`theory.random_delays`:
:math:`x_{k-\tau_k} = (p*x)_k + m_k` with :math:`m_k` a martingale difference, so
:math:`x_k = \sum_{i<k} g_{k-i} w_i` with g the impulse response of the mean-field filter
(:math:`g_1 = 1`, :math:`g_{m \le 0} = 0`) and :math:`w_i = \eta\xi_i - s m_i` uncorrelated
innovations of variance :math:`q_i`. Then, with :math:`h_m = \sum_j p_j g_{m-j}`,

.. math::

    q_k = \eta^2\alpha^2 + s^2 \sum_{i<k} \kappa_{k-i}\, q_i, \qquad
    \kappa_m = \sum_j p_j g_{m-j}^2 - h_m^2 \ \ (\ge 0,\ \text{a variance over } j),
    \qquad \mathrm{Var}(x_k) = \sum_{i<k} g_{k-i}^2\, q_i

(:func:`variance_path_law_u`): a Volterra (renewal) equation, exact at every k for any
law on {0, 1, ...} and either sign of c (c < 0 is the unstable saddle direction of
Theorem 9). A point mass has :math:`\kappa \equiv 0` and gives the constant-delay path
``compare._common.linearised_variance_path_u``. Cost O(n K) for the filter (K the law's
support, at most n) plus O(n^2) for the Volterra sums, with n the largest step: numpy
dot products, no matrix of the lifted state.

The worker pipeline (:class:`simulate.delays.WorkerPipeline`, M equal-speed workers with
exponential compute times) is not i.i.d.; its mode recursion is a Markov jump linear system
whose exchangeable second moments follow a 7 x 7 linear map (``theory.random_delays.
pipeline_moment_maps``, there for s > 0 only; :func:`pipeline_second_moment_map` is the same
map for any sign of s), so from x = 0 its variance path is exact too
(:func:`variance_path_pipeline_u`, O(n) with a 7 x 7 matrix).

Delays larger than k read :math:`x_{\max(k-\tau_k, 0)} = x_0`, as the simulator does
(``simulate.async_msgd``: effective staleness :math:`\min(\tau_k, k)`); from
:math:`x_0 = 0` that is the value :math:`g_{m \le 0} = 0` already gives, so the law may be
cut at lag n without changing any moment up to step n (:func:`law_of_delay`).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "law_of_delay",
    "mean_path_law",
    "variance_path_law_u",
    "pipeline_second_moment_map",
    "variance_path_pipeline_u",
    "TAIL_MASS",
]

#: Geometric tails beyond the lag where the remaining mass falls below this are dropped (a
#: relative change of the moments below 1e-16, i.e. at the float64 rounding level).
TAIL_MASS = 1e-17


def law_of_delay(delay: dict, n_steps: int) -> np.ndarray | None:
    """The law p_0..p_K of an i.i.d. delay model as ``simulate.delays`` draws it, cut at lag n_steps.

    Parameters
    ----------
    delay : dict
        A delay table (:func:`compare.single_run.delay_to_json`): ``constant`` (point mass at
        tau), ``uniform`` (``rng.integers(0, tau_max + 1)``: 1/(tau_max+1) on 0..tau_max),
        ``geometric`` (:math:`p(1-p)^j`, p = 1/(1 + mean), optionally ``min(tau, cap)``:
        the mass :math:`(1-p)^{cap}` at cap).
    n_steps : int >= 0
        The largest step whose moments are wanted; lags beyond it do not matter from x_0 = 0
        (module docstring), and geometric tails of mass < :data:`TAIL_MASS` are dropped.

    Returns
    -------
    ndarray, shape (K + 1,), or None
        The law (its sum is 1 minus the dropped tail), or None for a model whose delays are not
        i.i.d. (``pipeline``, ``sequence``).
    """
    if delay["model"] not in ("constant", "uniform", "geometric"):
        return None
    from compare._common import exact_delay_law  # simulate.delays' conventions, in one place

    law, n = exact_delay_law(delay), int(n_steps)
    if not isinstance(law, np.ndarray):  # the untruncated geometric law (1 - q) q^j
        q = float(law.q)
        if q == 0.0:
            return np.ones(1)
        K = min(n + 1, int(math.ceil(math.log(TAIL_MASS) / math.log(q))))
        return (1.0 - q) * q ** np.arange(K + 1)
    if delay["model"] == "geometric":  # capped: drop the tail of mass < TAIL_MASS too
        q = float(delay["mean"]) / (1.0 + float(delay["mean"]))
        if q > 0.0:
            law = law[: int(math.ceil(math.log(TAIL_MASS) / math.log(q))) + 1]
    return law[: n + 2]


def mean_path_law(x0: float, c: float, eta: float, mu: float, law, n_steps: int) -> np.ndarray:
    r"""E x_0..E x_{n_steps} of the linearised recursion under i.i.d. delays of law ``law``.

    The mean-field recursion of the module docstring from :math:`x_{-i} = x_0`, a delay
    past the start reading :math:`x_0` (the simulator's :math:`\min(\tau_k, k)`).

    Parameters
    ----------
    x0 : float
        Start (and history).
    c, eta, mu : float
        Rate of the mode, step size, momentum (s = eta c).
    law : array_like, shape (K + 1,)
        p_0..p_K (:func:`law_of_delay`); not cut, its full mass is used.
    n_steps : int

    Returns
    -------
    ndarray, shape (n_steps + 1,)
    """
    p = np.asarray(law, dtype=float)
    K = p.size - 1
    s = eta * c
    off = K + 1  # x[off + k] = E x_k; the history x_{-K-1..-1} = x_0
    x = np.empty(n_steps + 1 + off)
    x[: off + 1] = float(x0)
    rev = p[::-1]  # rev[K - j] = p_j, so rev . x[k-K..k] = sum_j p_j x_{k-j}
    for k in range(off, off + n_steps):
        x[k + 1] = (1 + mu) * x[k] - mu * x[k - 1] - s * float(rev @ x[k - K : k + 1])
    return x[off:].copy()


def _mean_field_impulse(s: float, mu: float, p: np.ndarray, n: int) -> np.ndarray:
    """g_0..g_n: the mean-field filter's response to w_0 = 1 (g_1 = 1, g_{m <= 0} = 0)."""
    K = p.size - 1
    off = K + 1  # g[off + m] = g_m; g[:off] = g_{-K-1..-1} = 0
    g = np.zeros(n + 1 + off)
    rev = p[::-1]
    for m in range(1, n + 1):
        k = off + m - 1  # g_m from g_{m-1}, g_{m-2} and sum_j p_j g_{m-1-j}
        g[k + 1] = (1 + mu) * g[k] - mu * g[k - 1] - s * float(rev @ g[k - K : k + 1]) + (m == 1)
    return g[off:]


def variance_path_law_u(alpha: float, c: float, eta: float, mu: float, law, steps) -> np.ndarray:
    r"""Var(x_k)/eta at the given steps, linearised recursion from x_{-i} = 0 under i.i.d. delays.

    The Volterra recursion of the module docstring (exact; u units, as
    ``compare._common.linearised_variance_path_u``).

    Parameters
    ----------
    alpha : float
        Noise scale, Var(xi_k) = alpha^2.
    c, eta, mu : float
        Rate of the mode (any sign), step size, momentum.
    law : array_like, shape (K + 1,)
        p_0..p_K (:func:`law_of_delay`), non-negative, summing to at most 1 (a tail beyond
        the largest step may be left out: it does not change these moments).
    steps : array_like of int >= 0, shape (n_t,)

    Returns
    -------
    ndarray, shape (n_t,)
    """
    steps = np.asarray(steps, dtype=int)
    p = np.asarray(law, dtype=float)
    if p.ndim != 1 or p.size == 0 or np.any(p < 0) or p.sum() > 1 + 1e-12:
        raise ValueError(f"law must be a non-empty vector of probabilities summing to at most 1, got {law!r}")
    if steps.size == 0:
        return np.zeros(0)
    n = int(steps.max())
    s = eta * c
    K = p.size - 1
    g = _mean_field_impulse(s, mu, p, n)  # g[m] = g_m, m = 0..n
    g2 = g**2
    gpad = np.concatenate([np.zeros(K), g])  # gpad[K + m] = g_m, zero for m < 0
    rev = p[::-1]
    # kappa_m = sum_j p_j g_{m-j}^2 - (sum_j p_j g_{m-j})^2, m = 0..n
    kappa = np.empty(n + 1)
    for m in range(n + 1):
        win = gpad[m : m + K + 1]  # g_{m-K..m}
        kappa[m] = float(rev @ (win * win)) - float(rev @ win) ** 2
    kappa = np.maximum(kappa, 0.0)  # a variance over j: negative only by rounding
    # q_k = eta^2 alpha^2 + s^2 sum_{i<k} kappa_{k-i} q_i ;  Var x_k = sum_{i<k} g_{k-i}^2 q_i
    q = np.empty(n + 1)
    base = (eta * alpha) ** 2
    kappa_rev = kappa[::-1]  # kappa_rev[n - m] = kappa_m
    for k in range(n + 1):
        q[k] = base + s * s * float(kappa_rev[n - k : n] @ q[:k]) if k else base
    g2_rev = g2[::-1]
    var = np.array([float(g2_rev[n - k : n] @ q[:k]) if k else 0.0 for k in steps])
    return var / eta


def pipeline_second_moment_map(mu: float, s: float, workers: int) -> tuple[np.ndarray, np.ndarray]:
    r"""The worker pipeline's second-moment map v' = L v + b (unit noise), for any sign of s.

    ``theory.random_delays.pipeline_moment_maps``'s map (its docstring gives the derivation:
    state :math:`(x_k, x_{k-1}, y_1..y_M)`, writer uniform on the M workers, exchangeable
    moments v = (E x^2, E x x_{-1}, E x_{-1}^2, E x y_m, E x_{-1} y_m, E y_m^2, E y_m y_n)),
    written here without its restriction to s > 0 so that the unstable saddle direction
    (s = eta c < 0, Theorem 9) is covered; the tests check that the two agree for s > 0.

    Parameters
    ----------
    mu : float
        Momentum.
    s : float
        eta c, any sign.
    workers : int >= 1
        M.

    Returns
    -------
    L : ndarray, shape (7, 7)
    b : ndarray, shape (7,)
        The noise's contribution per unit innovation variance.
    """
    M = int(workers)
    if M < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    a, b = 1.0 + mu, -mu
    rowA = np.array([a * a, 2 * a * b, b * b, -2 * a * s, -2 * b * s, s * s, 0.0])
    rowB = np.array([a, b, 0.0, -s, 0.0, 0.0, 0.0])
    rowX = np.array([0.0, 0.0, 0.0, a, b, 0.0, -s])
    eye = np.eye(7)
    L = np.array(
        [
            rowA,
            rowB,
            eye[0],
            rowA / M + (M - 1) / M * rowX,
            rowB / M + (M - 1) / M * eye[3],
            rowA / M + (M - 1) / M * eye[5],
            2.0 / M * rowX + (M - 2) / M * eye[6] if M > 1 else np.zeros(7),
        ]
    )
    return L, np.array([1.0, 0.0, 0.0, 1.0 / M, 0.0, 1.0 / M, 0.0])


def variance_path_pipeline_u(
    alpha: float, c: float, eta: float, mu: float, workers: int, steps
) -> np.ndarray:
    """Var(x_k)/eta at the given steps from x = 0 (every worker reads v_0) under the worker pipeline.

    Iterates :func:`pipeline_second_moment_map` from v = 0 (exact for M equal-speed workers with
    exponential compute times; u units, as :func:`variance_path_law_u`).

    Parameters
    ----------
    alpha : float
        Noise scale, Var(xi_k) = alpha^2.
    c, eta, mu : float
        Rate of the mode (any sign), step size, momentum.
    workers : int >= 1
    steps : array_like of int >= 0, shape (n_t,)

    Returns
    -------
    ndarray, shape (n_t,)
    """
    steps = np.asarray(steps, dtype=int)
    if steps.size == 0:
        return np.zeros(0)
    L, b = pipeline_second_moment_map(mu, eta * c, workers)
    n = int(steps.max())
    path = np.empty(n + 1)
    v = np.zeros(7)
    path[0] = 0.0
    for k in range(1, n + 1):
        v = L @ v + b
        path[k] = v[0]
    return (eta * alpha) ** 2 * path[steps] / eta
