r"""ODE (7) of Theorem 3: closed form and numerical integration, in any eigenbasis.

.. math::

    \dot V = \frac{1}{1-\mu}\left[\Sigma V - V^\top \Sigma V\, V\right], \qquad V(0) = v_0,
    \qquad H = Q^\top V .

Two methods, which the tests require to agree to 1e-8:

``"closed_form"``
    :func:`theory.ode.closed_form_H`, the solution printed after Theorem 3 (valid on the
    unit sphere, which Theorem 3 assumes: :math:`v_0 \in \mathbb S`).
``"numerical"``
    :func:`scipy.integrate.solve_ivp` (DOP853 by default) on (7) in the *original*
    coordinates V with :math:`\Sigma = Q\Lambda Q^\top`, then rotated to H; this is an
    independent check of the closed form, of the drift :func:`theory.ode.ode_drift` and of
    the basis handling. Works for any :math:`v_0` (off the sphere too).

Time is in ODE units, :math:`t = k\eta`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from theory.ode import closed_form_H, ode_drift
from theory.problem import Problem
from theory.validation import check_mu, check_positive_float

__all__ = ["ODESolution", "solve_ode", "ode_rhs"]

#: solve_ivp methods accepted for ``method="numerical"`` (high-order explicit or implicit).
_IVP_METHODS = ("DOP853", "Radau", "RK45", "LSODA", "BDF")

#: Tolerance on |v0| = 1 for the closed form (Theorem 3 assumes v0 on the unit sphere).
_SPHERE_ATOL = 1e-9


@dataclass(frozen=True)
class ODESolution:
    """Solution of ODE (7) on a time grid.

    Attributes
    ----------
    t : ndarray, shape (n_t,)
        Times (ODE units).
    H : ndarray, shape (n_t, d)
        Eigen-coordinates H(t) = Q^T V(t).
    Q : ndarray, shape (d, d)
        The problem's eigenbasis.
    method : str
    """

    t: np.ndarray
    H: np.ndarray
    Q: np.ndarray
    method: str

    @property
    def V(self) -> np.ndarray:
        """V(t) = Q H(t) in the original coordinates, shape (n_t, d)."""
        return self.H @ self.Q.T


def ode_rhs(problem: Problem, mu: float):
    r"""Right-hand side of (7) in the original coordinates, ``f(t, v) -> dv/dt``.

    Evaluated as :math:`Q\,M(Q^\top v)` with :math:`M` = :func:`theory.ode.ode_drift`, the
    drift in eigen-coordinates (so the formula is not retyped).

    Parameters
    ----------
    problem : Problem
        Spectrum Lambda and eigenbasis Q.
    mu : float
        Momentum in [0, 1).

    Returns
    -------
    callable
        ``f(t, v)`` with v of shape (d,), returning dv/dt of shape (d,) (``t`` unused: (7) is
        autonomous).
    """
    mu = check_mu(mu)
    Q, lam = problem.Q, problem.lambda_

    def f(t, v):
        return Q @ ode_drift(Q.T @ v, lam, mu)

    return f


def _check_times(t) -> np.ndarray:
    try:
        t = np.asarray(t, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"t must be an array of times, got {t!r}") from None
    t = np.atleast_1d(t)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(f"t must be a non-empty 1-d array of times, got shape {t.shape}")
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError("t must be finite and >= 0 (ODE units, V(0) = v0)")
    if np.any(np.diff(t) <= 0):
        raise ValueError("t must be strictly increasing")
    return t


def _integrate_piecewise(f, v0, t, ivp_method, rtol, atol) -> np.ndarray:
    """solve_ivp from output time to output time, so every output is a step end point.

    (With ``t_eval`` the outputs come from the dense-output interpolant, whose error on the
    long early steps reached ~1e-8 at rtol = 1e-10, above the integrator's own step error.)
    """
    knots = t if t[0] == 0.0 else np.concatenate([[0.0], t])
    states = [v0]
    for a, b in zip(knots[:-1], knots[1:], strict=True):
        sol = solve_ivp(f, (float(a), float(b)), states[-1], method=ivp_method, rtol=rtol, atol=atol)
        if not sol.success:  # pragma: no cover - DOP853 on this smooth ODE does not fail
            raise RuntimeError(f"solve_ivp failed: {sol.message}")
        states.append(sol.y[:, -1])
    V = np.array(states)
    return V if t[0] == 0.0 else V[1:]


def solve_ode(
    problem: Problem,
    mu: float,
    v0,
    t,
    method: str = "closed_form",
    rtol: float = 1e-10,
    atol: float = 1e-12,
    ivp_method: str = "DOP853",
) -> ODESolution:
    """Solve ODE (7) from V(0) = v0 and report H(t) = Q^T V(t).

    Parameters
    ----------
    problem : Problem
        Spectrum and eigenbasis Q (any orthonormal Q).
    mu : float in [0, 1)
        Momentum (the 1/(1-mu) factor of (7)).
    v0 : array_like, shape (d,)
        Initial point in the original coordinates (unit norm for ``"closed_form"``).
    t : array_like, shape (n_t,)
        Output times in ODE units, >= 0, strictly increasing.
    method : {"closed_form", "numerical"}
    rtol, atol : float > 0
        Tolerances of solve_ivp (``"numerical"`` only).
    ivp_method : str
        solve_ivp method (``"numerical"`` only): DOP853 (default) or Radau, ...

    Returns
    -------
    ODESolution
        ``.H`` shape (n_t, d); ``.V`` = Q H.

    Raises
    ------
    ValueError
        Naming ``mu``, ``v0``, ``t``, ``method``, ``rtol``, ``atol`` or ``ivp_method``.
    """
    if not isinstance(problem, Problem):
        raise ValueError(f"problem must be a theory.Problem, got {type(problem).__name__}")
    mu = check_mu(mu)
    t = _check_times(t)
    try:
        v0 = np.asarray(v0, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"v0 must be an array of real numbers, got {v0!r}") from None
    if v0.shape != (problem.d,):
        raise ValueError(f"v0 must have shape ({problem.d},), got {v0.shape}")
    if not np.all(np.isfinite(v0)) or not np.any(v0 != 0):
        raise ValueError("v0 must be finite and non-zero")
    if method == "closed_form":
        norm = float(np.linalg.norm(v0))
        if abs(norm - 1.0) > _SPHERE_ATOL:
            raise ValueError(
                f"v0 must lie on the unit sphere for method='closed_form' (Theorem 3 assumes "
                f"v0 in S), got |v0| = {norm!r}; use method='numerical' otherwise"
            )
        H = closed_form_H(problem.to_eigen(v0), problem.lambda_, mu, t)
        H = np.atleast_2d(H)
    elif method == "numerical":
        rtol = check_positive_float(rtol, "rtol")
        atol = check_positive_float(atol, "atol")
        if ivp_method not in _IVP_METHODS:
            raise ValueError(f"ivp_method must be one of {_IVP_METHODS}, got {ivp_method!r}")
        f = ode_rhs(problem, mu)
        if t[-1] == 0.0:
            V = v0[None, :].copy()
        else:
            V = _integrate_piecewise(f, v0, t, ivp_method, rtol, atol)
        H = problem.to_eigen(V)
    else:
        raise ValueError(f"method must be 'closed_form' or 'numerical', got {method!r}")
    return ODESolution(t=t, H=np.asarray(H, dtype=float), Q=np.array(problem.Q), method=method)
