r"""The theory of ``python -m compare speedup`` (:mod:`compare.speedup`): pure functions, no simulation.

* :func:`theory_prediction`: Propositions 8 and 10 (derived forms, :mod:`theory.phases`), the
  median time to error epsilon from the saddle e_2;
* :func:`linearised_inflation`: the toolkit's finite-eta delay correction (beyond the paper), the
  ratio of the linearised growth rates of the saddle's unstable direction;
* :func:`predicted_floor` and :func:`breakdown_M`: the stationary error of the linearised
  recursion and the first M past (mean-square) stability or with a floor >= epsilon
  (:mod:`theory.stability`, :mod:`theory.random_delays`).
"""

from __future__ import annotations

import math

import numpy as np

from compare._common import linearised_variance_u
from theory import Problem

__all__ = [
    "NU_MEDIAN",
    "theory_prediction",
    "linearised_inflation",
    "predicted_floor",
    "breakdown_M",
]

#: Proposition 10's nu for a median escape time (P(escaped by T1) = 1 - nu = 1/2).
NU_MEDIAN = 0.5


def theory_prediction(problem: Problem, mu: float, eta: float, epsilon: float) -> dict:
    r"""Propositions 8 and 10 (derived): median time to error epsilon from e_2, T = T1(1/2) + T2.

    With :math:`\delta^2 = \epsilon` the end of Phase II, :math:`h_1^2 \ge 1 - \delta^2`, is the
    event "error <= epsilon". Returns ``{"T1", "T2", "T"}`` in ODE units; N = T / (M eta).

    Parameters
    ----------
    problem : theory.Problem
    mu : float
        Momentum.
    eta : float
        Step size.
    epsilon : float
        Target error (delta^2 = epsilon).

    Returns
    -------
    dict
        ``{"T1", "T2", "T"}`` (ODE units).
    """
    from theory.phases import T1_derived, T2_derived

    l1, l2 = float(problem.lambda_[0]), float(problem.lambda_[1])
    delta = math.sqrt(epsilon)
    T1 = T1_derived(l1, l2, mu, eta, delta, NU_MEDIAN, float(problem.alpha[0, 1]))
    T2 = T2_derived(l1, l2, mu, delta)
    return {"T1": T1, "T2": T2, "T": T1 + T2}


def _constant_delay_root(mu: float, s: float, tau: int) -> float:
    r"""The largest root modulus of :math:`z^{\tau+1} - (1+\mu) z^\tau + \mu z^{\tau-1} + s` for s < 0.

    Write the polynomial as :math:`z^{\tau-1}(z-1)(z-\mu) + s`. On :math:`r > 1`,
    :math:`f(r) = r^{\tau-1}(r-1)(r-\mu)` increases from 0 to infinity, so :math:`f(r^*) = -s` has one
    root :math:`r^* > 1`; and for :math:`|z| = r > r^*`, :math:`|z^{\tau-1}(z-1)(z-\mu)| \ge f(r) > -s`
    (as :math:`|z - a| \ge r - a`), so no root is larger: :math:`r^*` is the spectral radius of the
    companion matrix. Found by bisection on log f, O(1) in tau (a dense eigenvalue problem of the
    (tau+2)-square companion matrix costs O(tau^3) time and O(tau^2) memory: 75 GiB at tau = 10^5).
    """
    target = math.log(-s)

    def log_f(r: float) -> float:
        return (tau - 1) * math.log(r) + math.log(r - 1.0) + math.log(r - mu)

    lo, hi = 1.0, 2.0
    while log_f(hi) < target:
        lo, hi = hi, 2.0 * hi
    for _ in range(200):  # bisection to machine precision (each halves [lo, hi])
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if log_f(mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _growth(mu: float, s: float, law: str, M: int) -> float:
    """log of the largest root modulus of the mean recursion x+ = (1+mu)x - mu x- - s x_{k-tau}.

    Parameters
    ----------
    mu : float
        Momentum in [0, 1).
    s : float
        eta c < 0 (the saddle's unstable direction, c = lambda_2 - lambda_1).
    law : {"constant", "exponential"}
        Compute-time law: tau = M - 1, or the geometric staleness of mean M - 1.
    M : int
        Number of workers (M = 1: no delay under either law).

    Returns
    -------
    float
        Growth rate per update, > 0.
    """
    if not s < 0:
        raise ValueError(f"s must be < 0 (the unstable direction at e_2), got {s!r}")
    if M == 1 or law == "constant":
        return math.log(_constant_delay_root(mu, s, int(M) - 1))
    q = 1.0 - 1.0 / M  # geometric law of the memoryless pipeline: P(tau = j) = (1 - q) q^j
    c = np.polymul(np.polymul([1.0, -1.0], [1.0, -mu]), [1.0, -q])
    c[1] += s * (1.0 - q)  # (z-1)(z-mu)(z-q) + s(1-q) z^2 = 0 (theory.stability.mean_field_spectral_radius)
    return float(np.log(np.max(np.abs(np.roots(c)))))


def linearised_inflation(problem: Problem, mu: float, eta: float, law: str, workers) -> np.ndarray:
    r"""Predicted K(M)/K(1): ratio of the growth rates of the unstable saddle direction (beyond the paper).

    At :math:`e_2` coordinate 1 follows the linearised recursion with :math:`c = \lambda_2 - \lambda_1 < 0`
    (Theorem 9's unstable OU); escape and traverse both last about 1/(growth rate), so the
    iterations to epsilon scale like rate(M = 1)/rate(M).

    Parameters
    ----------
    problem : theory.Problem
    mu : float
        Momentum.
    eta : float
        Step size.
    law : {"constant", "exponential"}
        Compute-time law.
    workers : sequence of int
        The M grid.

    Returns
    -------
    ndarray, shape (n_M,)
        1 at M = 1.
    """
    s = eta * float(problem.lambda_[1] - problem.lambda_[0])
    r1 = _growth(mu, s, law, 1)
    return np.array([r1 / _growth(mu, s, law, int(M)) for M in workers])


def _radial_rate(problem: Problem) -> float:
    """Rate c = 2 lambda_1 of the radial mode, the one that binds stability (theory.stability)."""
    from theory.stability import mode_rates

    return float(mode_rates(problem)["radial"])


def predicted_floor(problem: Problem, mu: float, eta: float, law: str, M: int) -> float:
    r"""Stationary error :math:`\eta\sum_{i\ge2}\mathrm{Var}(u_i)` of the linearised recursion (beyond paper).

    Tangent modes i >= 2 at :math:`e_1` (rate :math:`\lambda_1 - \lambda_i`, noise :math:`\alpha_{i1}`).
    ``constant`` (round robin, :math:`\tau = M - 1`): the exact discrete Lyapunov variance
    (``compare._common.linearised_variance_u``), ``inf`` past theory.stability's threshold;
    ``exponential``: the exact mean-square theory of the worker pipeline
    (:func:`theory.random_delays.stationary_variance_random` with
    :class:`~theory.random_delays.WorkerPipelineLaw`), ``inf`` when the radial mode is not
    mean-square stable.

    Parameters
    ----------
    problem : theory.Problem
    mu : float
        Momentum.
    eta : float
        Step size.
    law : {"constant", "exponential"}
        Compute-time law.
    M : int
        Number of workers.

    Returns
    -------
    float
        The predicted error floor (inf past stability).
    """
    from compare._common import stability

    lam, al = problem.lambda_, problem.alpha
    if law == "constant":
        tau = M - 1
        if tau > stability(problem, mu, eta).max_stable_delay:
            return math.inf
        var = [
            linearised_variance_u(float(al[i, 0]), float(lam[0] - lam[i]), eta, mu, tau)
            for i in range(1, problem.d)
        ]
        return float(eta * np.sum(var))
    from theory.random_delays import WorkerPipelineLaw, mean_square_stability, stationary_variance_random

    pl = WorkerPipelineLaw(M)
    if not mean_square_stability(mu, eta * _radial_rate(problem), pl).mean_square_stable:
        return math.inf
    var = [
        stationary_variance_random(float(al[i, 0]), float(lam[0] - lam[i]), eta, mu, pl)
        for i in range(1, problem.d)
    ]
    return float(eta * np.sum(var))


def breakdown_M(problem: Problem, mu: float, eta: float, law: str, workers, epsilon: float) -> dict:
    """The first M past (mean-square) stability of the radial mode or with a predicted floor >= epsilon.

    ``constant``: theory.stability's exact threshold, M_stability = tau* + 2; ``exponential``: the
    first grid M whose pipeline law is not mean-square stable (theory.random_delays). None if none.

    Parameters
    ----------
    problem : theory.Problem
    mu : float
        Momentum.
    eta : float
        Step size.
    law : {"constant", "exponential"}
        Compute-time law.
    workers : sequence of int
        The M grid.
    epsilon : float
        Target error.

    Returns
    -------
    dict
        ``law``, ``M_stability``, ``M_floor``, ``M_b`` (None if none), ``floors`` {M: floor},
        ``stability_delay``.
    """
    from compare._common import stability

    st = stability(problem, mu, eta)
    if law == "constant":
        M_stab = st.max_stable_delay + 2  # tau = M - 1 > tau*
    else:
        from theory.random_delays import WorkerPipelineLaw, mean_square_stability

        s = eta * _radial_rate(problem)
        M_stab = next(
            (
                int(M)
                for M in workers
                if not mean_square_stability(mu, s, WorkerPipelineLaw(int(M))).mean_square_stable
            ),
            None,
        )
    floors = {int(M): predicted_floor(problem, mu, eta, law, int(M)) for M in workers}
    M_floor = next((M for M, f in floors.items() if f >= epsilon), None)
    cands = [m for m in (M_stab, M_floor) if m is not None]
    return {
        "law": law,
        "M_stability": M_stab,
        "M_floor": M_floor,
        "M_b": min(cands) if cands else None,
        "floors": floors,
        "stability_delay": st.max_stable_delay,
    }
