r"""The theory of ``python -m compare remark7`` (:mod:`compare.remark7`): pure functions, no simulation.

* :func:`expected_update_identity`: both sides of Mitliagkas et al.'s identity (geometric
  staleness = heavy ball with :math:`\mu_L = 1 - 1/M`, step :math:`\alpha/M`, in expectation);
* :func:`warmup_lag`: heavy ball's lag from rest, :math:`\mu_L/(1-\mu_L) = M - 1` updates;
* :func:`default_epsilon`: the Phase III target of the experiment;
* :func:`linearised_stationary_excess`: the stationary error of the linearised recursions under
  each arm's staleness against heavy ball's (beyond both views).
"""

from __future__ import annotations

import numpy as np

from theory import Problem

__all__ = [
    "LINEARISED_LAWS",
    "default_epsilon",
    "warmup_lag",
    "expected_update_identity",
    "linearised_stationary_excess",
]


def default_epsilon(problem: Problem, alpha: float) -> float:
    r"""epsilon = alpha phi_eff / g: twice the eq. (8) stationary error of SGD (mu = 0) at step alpha.

    Parameters
    ----------
    problem : theory.Problem
    alpha : float
        Step size.

    Returns
    -------
    float
    """
    from theory.phases import phi_effective

    return float(alpha * phi_effective(problem) / problem.eigengap)


def warmup_lag(M: int) -> int:
    r"""Updates by which heavy ball (mu_L = 1 - 1/M, from rest) lags Async-SGD: mu_L/(1 - mu_L) = M - 1.

    Under a constant drift G, heavy ball's increments are :math:`\alpha G(1-\mu_L^{t+1})`; the
    cumulative deficit :math:`\alpha G\sum_t \mu_L^{t+1} = \alpha G\,\mu_L/(1-\mu_L)` is M - 1 updates.

    Parameters
    ----------
    M : int
        Number of workers.

    Returns
    -------
    int
        M - 1 (updates).
    """
    return int(M) - 1


def expected_update_identity(g: np.ndarray, alpha: float, M: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Both sides of Mitliagkas et al.'s identity for a sequence :math:`g_0, g_1, \dots` (shape (n, ...)).

    Left: :math:`D_t = \alpha\sum_{l\ge0}(1-\mu_L)\mu_L^l g_{\max(t-l,0)}` (geometric staleness,
    reads before 0 see :math:`v_0`). Right: the heavy-ball recursion
    :math:`D_t = \mu_L D_{t-1} + (\alpha/M) g_t` for t >= 1 from :math:`D_0 = \alpha g_0`.

    Parameters
    ----------
    g : array_like, shape (n, ...)
        Any sequence g_0, g_1, ... (the expected gradients).
    alpha : float
        Async-SGD step size.
    M : int
        Number of workers (mu_L = 1 - 1/M).

    Returns
    -------
    (left, right) : ndarray, ndarray, each shape (n, ...)
        Equal to rounding by the identity.
    """
    g = np.asarray(g, dtype=float)
    q = 1.0 - 1.0 / M
    n = g.shape[0]
    lags = np.arange(n)
    w = (1 - q) * q**lags
    left = np.empty_like(g)
    for t in range(n):
        idx = np.maximum(t - lags, 0)
        left[t] = alpha * np.tensordot(w, g[idx], axes=(0, 0)) + alpha * q**n * g[0]  # tail l >= n reads v_0
    right = np.empty_like(g)
    right[0] = alpha * g[0]
    for t in range(1, n):
        right[t] = q * right[t - 1] + (alpha / M) * g[t]
    return left, right


#: Arms with an exact linearised stationary theory, and their delay law (beyond both views).
LINEARISED_LAWS = {"pipeline": "pipeline", "iid_geometric": "geometric", "round_robin": "constant"}


def linearised_stationary_excess(problem: Problem, alpha: float, M: int, arm: str = "pipeline") -> float:
    r"""Predicted error(arm) / error(heavy ball) - 1 of the linearised recursions (beyond both views).

    Tangent coordinates i >= 2 of update (5) at :math:`e_1`, linearised, Async-SGD (mu = 0, step alpha)
    under the arm's staleness: ``pipeline`` the exact mean-square theory of M exponential workers,
    ``iid_geometric`` the geometric law with ratio 1 - 1/M (both :func:`theory.random_delays.
    stationary_variance_random`), ``round_robin`` the constant delay M - 1 (exact discrete Lyapunov
    variance, ``compare._common``); against heavy ball with :math:`\mu_L = 1 - 1/M`, step
    :math:`\alpha/M` (AR(2) closed form). The error is :math:`\sum_{i\ge2}\mathrm{Var}(h_i)` to leading
    order. All tend to :math:`\alpha\phi_{\rm eff}/(2g)` as :math:`\alpha M \to 0`: the mapping holds for
    the stationary error only to first order in :math:`\alpha M`.

    Parameters
    ----------
    problem : theory.Problem
    alpha : float
        Async-SGD step size.
    M : int
        Number of workers.
    arm : str
        One of :data:`LINEARISED_LAWS`.

    Returns
    -------
    float
        The relative excess (0 at M = 1).
    """
    from compare._common import ar2_variance_u, linearised_variance_u
    from theory.random_delays import WorkerPipelineLaw, stationary_variance_random
    from theory.stability import GeometricDelayLaw

    if arm not in LINEARISED_LAWS:
        raise ValueError(f"arm must be one of {', '.join(LINEARISED_LAWS)}, got {arm!r}")
    lam, al = problem.lambda_, problem.alpha

    def var(i):
        c = float(lam[0] - lam[i])
        if arm == "round_robin" or M == 1:
            return linearised_variance_u(float(al[i, 0]), c, alpha, 0.0, M - 1)
        law = WorkerPipelineLaw(M) if arm == "pipeline" else GeometricDelayLaw(1 - 1 / M)
        return stationary_variance_random(float(al[i, 0]), c, alpha, 0.0, law)

    asyn = sum(alpha * var(i) for i in range(1, problem.d))
    hb = sum(
        (alpha / M) * ar2_variance_u(al[i, 0], lam[0] - lam[i], alpha / M, 1 - 1 / M)
        for i in range(1, problem.d)
    )
    return float(asyn / hb - 1)
