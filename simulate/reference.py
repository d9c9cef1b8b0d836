r"""The plain reference implementation of Async-MSGD (eq. (5)) and the exact stationary law
of its linearisation near the optimum.

:func:`reference_async_msgd` is the obviously-correct loop the compiled kernels
(:mod:`simulate._kernels`) are tested against: one chain, a Python loop over steps, in the
*original* coordinates v with data X,

.. math::

    v_{k+1} = v_k + \mu (v_k - v_{k-1}) + \eta\,(I - w w^\top) X_k X_k^\top w,
    \qquad w = v_{k-\tau_k},\quad v_{-i} = v_0 ,

evaluated as ``s = x . w`` (summed left to right), ``v + mu * (v - v_prev) + eta * s * (x - s * w)``
(:math:`(I - ww^\top) x x^\top w = s (x - s w)`).
:func:`reference_run` re-derives one run's data and delays from the same seeded streams
as :func:`simulate.async_msgd.simulate_async_msgd` (``X = Y Q^T``).

Linearised recursion near e_1 (tau = 0)
---------------------------------------
Writing :math:`h = e_1 + x` and keeping first order terms in x, coordinate i >= 2 of
update (5) in eigen-coordinates reads

.. math::

    x_{k+1} = (1 + \mu - \eta c)\, x_k - \mu\, x_{k-1} + \eta\, \xi_k,
    \qquad c = \lambda_1 - \lambda_i, \quad \xi_k = Y_k^{(1)} Y_k^{(i)},
    \quad \mathrm{Var}(\xi_k) = \alpha_{1i}^2 ,

an AR(2) process :math:`x_{k+1} = \phi_1 x_k + \phi_2 x_{k-1} + e_k` with
:math:`\phi_1 = 1 + \mu - \eta c`, :math:`\phi_2 = -\mu`,
:math:`\sigma^2 = \eta^2 \alpha_{1i}^2`. Its stationary variance solves the Yule-Walker
equations :math:`\gamma_0 = \phi_1\gamma_1 + \phi_2\gamma_2 + \sigma^2`,
:math:`\gamma_1 = \phi_1\gamma_0 + \phi_2\gamma_1`, :math:`\gamma_2 = \phi_1\gamma_1 + \phi_2\gamma_0`
(the tests check it against sympy's solution of these and against the discrete Lyapunov
equation of the companion form):

.. math::

    \gamma_0 = \frac{(1 - \phi_2)\,\sigma^2}{(1 + \phi_2)\,\big((1 - \phi_2)^2 - \phi_1^2\big)}
             = \frac{(1 + \mu)\, \eta\, \alpha_{1i}^2}
                    {(1 - \mu)\, c\, \big(2 (1 + \mu) - \eta c\big)} ,

stationary iff :math:`0 < \eta c < 2 (1 + \mu)`. As :math:`\eta \to 0`,
:math:`\gamma_0 / \eta \to \alpha_{1i}^2 / (2 (1-\mu)(\lambda_1 - \lambda_i))`, the
stationary variance of the OU process of eq. (8) (Theorem 5) in :math:`u = x/\sqrt{\eta}`
units. The neglected terms of the linearisation (multiplicative noise of order
:math:`x`) change the variance by a relative :math:`O(\eta)`, the same order as the
difference between :math:`\gamma_0/\eta` and the OU value.
"""

from __future__ import annotations

import numpy as np

from theory.problem import Problem
from theory.validation import check_eta, check_mu, check_nonnegative_int, check_positive_int

from .delays import as_delay_models
from .seeding import cell_key, stream

__all__ = [
    "reference_async_msgd",
    "reference_run",
    "ar2_stationary_variance",
    "linearised_stationary_variance",
]


def reference_async_msgd(
    X: np.ndarray, taus: np.ndarray, *, eta: float, mu: float, v0: np.ndarray
) -> np.ndarray:
    """One chain of eq. (5), a plain loop in the original coordinates.

    Parameters
    ----------
    X : ndarray, shape (n, d)
        Data X_0..X_{n-1}.
    taus : ndarray of int, shape (n,)
        Delays tau_0..tau_{n-1} (w = v_{k - tau_k}, and v_j = v_0 for j < 0).
    eta, mu : float
        Step size and momentum.
    v0 : ndarray, shape (d,)
        Start (v_{-i} = v_0).

    Returns
    -------
    ndarray, shape (n + 1, d)
        v_0, v_1, ..., v_n.
    """
    X = np.asarray(X, dtype=float)
    n, d = X.shape
    v = np.empty((n + 1, d))
    v[0] = v0
    for k in range(n):
        j = k - int(taus[k])
        w = v[j] if j >= 0 else v[0]
        v_prev = v[k - 1] if k >= 1 else v[0]
        x = X[k]
        s = x[0] * w[0]
        for i in range(1, d):  # the same summation order as the kernels
            s += x[i] * w[i]
        v[k + 1] = v[k] + mu * (v[k] - v_prev) + eta * s * (x - s * w)
    return v


def reference_run(
    problem: Problem,
    *,
    eta: float,
    mu: float,
    delay,
    v0,
    n_steps: int,
    seed: int = 0,
    run: int = 0,
    common_random_numbers: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Run ``run`` of one configuration, from the same streams as ``simulate_async_msgd``.

    Parameters
    ----------
    problem : Problem
        Spectrum, eigenbasis and data distribution (eq. (4)).
    eta : float
        Step size > 0 of eq. (5).
    mu : float
        Momentum in [0, 1).
    delay : int or DelayModel
        A single delay model (an int is a constant tau).
    v0 : array_like, shape (d,)
        Start in the original coordinates.
    n_steps : int
        Number of updates >= 1.
    seed : int
        Root seed of the streams.
    run : int
        Run index >= 0.
    common_random_numbers : bool
        Share the data stream across (mu, delay) cells (the simulator's default).

    Returns
    -------
    v : ndarray, shape (n_steps + 1, d)
        The trajectory in the original coordinates (no divergence handling).
    taus : ndarray of int64, shape (n_steps,)
    """
    eta = check_eta(eta)
    mu = check_mu(mu)
    n_steps = check_positive_int(n_steps, "n_steps")
    run = check_nonnegative_int(run, "run")
    models = as_delay_models(delay)
    if len(models) != 1:
        raise ValueError(f"delay must be a single tau or DelayModel, got {len(models)} of them")
    model = models[0]
    data_key = () if common_random_numbers else cell_key(mu=float(mu), delay=model)
    Y = problem.dist.sample_y(stream(seed, "data", data_key, run), n_steps, problem.lambda_, problem.Q)
    X = Y @ problem.Q.T
    delay_rng = stream(seed, "delay", cell_key(delay=model), run)
    taus = np.asarray(model.sample(delay_rng, n_steps), dtype=np.int64)
    return reference_async_msgd(X, taus, eta=eta, mu=mu, v0=np.asarray(v0, dtype=float)), taus


def ar2_stationary_variance(c, alpha, eta, mu):
    r"""Stationary variance of x_{k+1} = (1 + mu - eta c) x_k - mu x_{k-1} + eta xi_k, Var(xi) = alpha^2.

    .. math::

        \gamma_0 = \frac{(1 + \mu)\, \eta\, \alpha^2}{(1 - \mu)\, c\, (2 (1 + \mu) - \eta c)}

    (in h units; divide by eta for u units). See the module docstring for the
    derivation. Broadcasts over arrays; NaN where the recursion is not stationary
    (c <= 0 or eta c >= 2 (1 + mu)).

    Parameters
    ----------
    c : float or array_like
        Mode rate (lambda_1 - lambda_i for the tangent mode i at e_1).
    alpha : float or array_like
        Noise scale alpha_{1i} (Theorem 5).
    eta : float
        Step size.
    mu : float
        Momentum in [0, 1).

    Returns
    -------
    float or ndarray
        gamma_0 (h units); NaN where not stationary.
    """
    c = np.asarray(c, dtype=float)
    alpha = np.asarray(alpha, dtype=float)
    ok = (c > 0) & (eta * c < 2.0 * (1.0 + mu))
    with np.errstate(divide="ignore", invalid="ignore"):
        g = (1.0 + mu) * eta * alpha**2 / ((1.0 - mu) * c * (2.0 * (1.0 + mu) - eta * c))
    return np.where(ok, g, np.nan)


def linearised_stationary_variance(problem: Problem, *, eta: float, mu: float) -> np.ndarray:
    """Exact stationary variance of u_i = x_i / sqrt(eta), i = 2..d, of the linearised recursion at e_1.

    Parameters
    ----------
    problem : Problem
        Spectrum and alpha_{1i}.
    eta : float
        Step size > 0.
    mu : float
        Momentum in [0, 1).

    Returns
    -------
    ndarray, shape (d - 1,)
        ``ar2_stationary_variance(lambda_1 - lambda_i, alpha_{1i}, eta, mu) / eta``; tends to
        the OU stationary variance of eq. (8) as eta -> 0.
    """
    eta = check_eta(eta)
    mu = check_mu(mu)
    lam = problem.lambda_
    c = lam[0] - lam[1:]
    alpha = problem.alpha[0, 1:]
    return ar2_stationary_variance(c, alpha, eta, mu) / eta
