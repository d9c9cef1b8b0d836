r"""The ODE limit of Async-MSGD: eqs. (5)-(7), Theorem 3 and its closed-form solution.

Update (5) with :math:`w = v_{k-\tau_k}`,

.. math::

    v_{k+1} = v_k + \mu (v_k - v_{k-1}) + \eta (I - w w^\top) X_k X_k^\top w ,

has mean gradient step :math:`E[(I - ww^\top) X X^\top w] = \Sigma w - w^\top \Sigma w\, w`
(:func:`mean_increment_symbolic`). Unrolling the momentum (the sum :math:`m_{k+1}` of
eq. (6)) multiplies a slowly varying step by the geometric sum
:math:`\sum_{i \ge 0} \mu^i = 1/(1-\mu)` (:func:`momentum_factor_symbolic`), so in time
:math:`t = k\eta` the iterate follows ODE (7),

.. math::

    \dot V = \frac{1}{1-\mu}\left[\Sigma V - V^\top \Sigma V\, V\right],

whose solution in eigen-coordinates :math:`H = Q^\top V` is (after Theorem 3)

.. math::

    H^{(i)}(t) = \frac{H^{(i)}(0)\, e^{\lambda_i t/(1-\mu)}}
                 {\left(\sum_k \left[H^{(k)}(0)\, e^{\lambda_k t/(1-\mu)}\right]^2\right)^{1/2}} .

:func:`verify_closed_form` proves with sympy that this solves (7) and stays on the unit
sphere. Numeric twins: :func:`ode_drift`, :func:`closed_form_H` (overflow-safe, vectorised)
and :func:`traverse_time` (the general-d Phase II time, a root of the closed form).
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from . import symbolic as S
from .validation import check_mu, check_nonnegative_int, check_probability

if TYPE_CHECKING:
    import sympy as sp

__all__ = [
    "mean_increment_symbolic",
    "momentum_factor_symbolic",
    "ode_drift_symbolic",
    "ode_from_update_symbolic",
    "closed_form_symbolic",
    "verify_closed_form",
    "ode_drift",
    "ode_drift_lambdified",
    "closed_form_H",
    "closed_form_lambdified",
    "traverse_time",
]


def _check_d(d) -> int:
    d = check_nonnegative_int(d, "d")
    if d < 2:
        raise ValueError(f"d must be >= 2, got {d}")
    return d


# -- eq. (5)-(6): mean increment and momentum factor -----------------------------------------
@cache
def mean_increment_symbolic(d: int) -> tuple[sp.Matrix, sp.Matrix, sp.Matrix]:
    r"""Mean of the stochastic step of update (5), by taking E[X X^T] = Sigma term by term.

    The step :math:`g = (I - ww^\top) X X^\top w` is a quadratic form in X; its expectation
    replaces every monomial :math:`X_a X_b` by :math:`\Sigma_{ab}` (Assumption 2:
    :math:`E[XX^\top] = \Sigma`), with :math:`\Sigma` a general symmetric matrix of symbols.

    Parameters
    ----------
    d : int
        Dimension (>= 2).

    Returns
    -------
    expectation : sympy.Matrix, shape (d, 1)
        E[g] as derived by the substitution.
    Sigma : sympy.Matrix, shape (d, d)
        The symmetric covariance symbols used.
    w : sympy.Matrix, shape (d, 1)
        The (delayed) iterate symbols.

    Notes
    -----
    The derivation is exact for any distribution with covariance Sigma: :math:`E[g] =
    \Sigma w - (w^\top \Sigma w) w`, the bracket of ODE (7).
    """
    import sympy as sp

    d = _check_d(d)
    x = sp.Matrix(sp.symbols(f"X_1:{d + 1}", real=True))
    w = sp.Matrix(sp.symbols(f"w_1:{d + 1}", real=True))
    Sigma = sp.Matrix(d, d, lambda a, b: sp.Symbol(f"Sigma_{min(a, b) + 1}{max(a, b) + 1}", real=True))
    g = (sp.eye(d) - w * w.T) * x * x.T * w
    expectation = []
    for comp in g:
        poly = sp.Poly(sp.expand(comp), *x)
        total = sp.S.Zero
        for monom, coeff in poly.terms():
            idx = [a for a, p in enumerate(monom) for _ in range(p)]
            if len(idx) != 2:  # every term of g is exactly quadratic in X
                raise AssertionError("non-quadratic term in the Hebbian step")
            total += coeff * Sigma[idx[0], idx[1]]
        expectation.append(sp.expand(total))
    return sp.Matrix(expectation), Sigma, w


@cache
def momentum_factor_symbolic() -> tuple[sp.Expr, sp.Expr]:
    r"""The momentum factor of eq. (6): partial and infinite geometric sums of :math:`\mu^i`.

    Unrolling :math:`v_{k+1} - v_k = \mu (v_k - v_{k-1}) + \eta g_k` from
    :math:`v_0 = v_{-1}` gives :math:`v_{k+1} - v_k = \eta \sum_{i=0}^{k} \mu^i g_{k-i}`
    (the :math:`m_{k+1}` of eq. (6)); for a slowly varying :math:`g` the weight is

    Returns
    -------
    partial : sympy.Expr
        :math:`\sum_{i=0}^{k} \mu^i = (1 - \mu^{k+1})/(1-\mu)`.
    limit : sympy.Expr
        :math:`\sum_{i \ge 0} \mu^i = 1/(1-\mu)` (valid for :math:`|\mu| < 1`).
    """
    import sympy as sp

    i, k = sp.symbols("i k", integer=True, nonnegative=True)
    partial = sp.Sum(S.mu**i, (i, 0, k)).doit()
    # sympy returns Piecewise((k + 1, mu == 1), ((1 - mu^(k+1))/(1 - mu), True)); mu < 1 here
    partial = sp.simplify(partial.args[-1][0] if isinstance(partial, sp.Piecewise) else partial)
    infinite = sp.Sum(S.mu**i, (i, 0, sp.oo)).doit()
    # sympy returns Piecewise((1/(1 - mu), |mu| < 1), (Sum, True)); the paper has mu in [0, 1)
    limit = infinite.args[0][0] if isinstance(infinite, sp.Piecewise) else infinite
    return partial, sp.simplify(limit)


@cache
def ode_drift_symbolic(d: int) -> tuple[sp.Matrix, sp.Matrix]:
    r"""Drift of ODE (7) in eigen-coordinates: :math:`(\Lambda H - H^\top \Lambda H\, H)/(1-\mu)`.

    Parameters
    ----------
    d : int
        Dimension >= 2.

    Returns
    -------
    drift : sympy.Matrix, shape (d, 1)
    H : sympy.Matrix, shape (d, 1)
        The state symbols ``H_1..H_d``.
    """
    import sympy as sp

    d = _check_d(d)
    lam = sp.diag(*S.lambdas(d))
    H = sp.Matrix(sp.symbols(f"H_1:{d + 1}", real=True))
    drift = (lam * H - (H.T * lam * H)[0, 0] * H) / (1 - S.mu)
    return drift, H


@cache
def ode_from_update_symbolic(d: int) -> sp.Matrix:
    r"""ODE (7) assembled from update (5): momentum factor times the mean increment.

    In time :math:`t = k\eta` the displacement per unit time is
    :math:`(v_{k+1} - v_k)/\eta \to \frac{1}{1-\mu} E[g]`. Evaluated at
    :math:`\Sigma = \Lambda` (eigen-coordinates) and :math:`w = H` this must equal
    :func:`ode_drift_symbolic` (tested as an identity).

    Parameters
    ----------
    d : int
        Dimension >= 2.

    Returns
    -------
    sympy.Matrix, shape (d, 1)
        The right-hand side of (7) derived from (5), in the symbols of
        :func:`ode_drift_symbolic`.
    """
    expectation, Sigma, w = mean_increment_symbolic(d)
    _, factor = momentum_factor_symbolic()
    _, H = ode_drift_symbolic(d)
    lam = S.lambdas(d)
    subs = {Sigma[a, b]: (lam[a] if a == b else 0) for a in range(d) for b in range(d)}
    subs.update({w[a]: H[a] for a in range(d)})
    return (factor * expectation).subs(subs)


# -- Theorem 3: closed form --------------------------------------------------------------------
@cache
def closed_form_symbolic(d: int) -> tuple[sp.Matrix, tuple[sp.Symbol, ...]]:
    r"""The closed-form solution H(t) printed after Theorem 3.

    Parameters
    ----------
    d : int
        Dimension >= 2.

    Returns
    -------
    H : sympy.Matrix, shape (d, 1)
        :math:`H^{(i)}(t)` in the symbols ``t``, ``mu``, ``lambda_i``, ``H0_i``.
    H0 : tuple of sympy.Symbol
        The initial-condition symbols.
    """
    import sympy as sp

    d = _check_d(d)
    lam = S.lambdas(d)
    H0 = S.h0_symbols(d)
    growth = [H0[i] * sp.exp(lam[i] * S.t / (1 - S.mu)) for i in range(d)]
    norm = sp.sqrt(sum(g**2 for g in growth))
    return sp.Matrix([g / norm for g in growth]), H0


@cache
def verify_closed_form(d: int) -> dict[str, sp.Expr | sp.Matrix]:
    r"""Prove that the closed form after Theorem 3 solves ODE (7) and keeps :math:`\|H\| = 1`.

    Parameters
    ----------
    d : int
        Dimension >= 2.

    Returns
    -------
    dict
        ``"ode_residual"``: simplified :math:`\dot H - M(H)` (a zero Matrix if the claim
        holds); ``"norm_residual"``: simplified :math:`\sum_i H_i^2 - 1` (zero);
        ``"initial_residual"``: :math:`H(0) - H_0` on the sphere :math:`\sum H_0^2 = 1`.

    Notes
    -----
    Both identities hold for every non-zero :math:`H_0`; :math:`H(0) = H_0/\|H_0\|`, so the
    closed form meets the initial condition exactly when :math:`H_0 \in \mathbb{S}`.
    """
    import sympy as sp

    H, H0 = closed_form_symbolic(d)
    drift, Hs = ode_drift_symbolic(d)
    rhs = drift.subs({Hs[i]: H[i] for i in range(d)}, simultaneous=True)
    lhs = H.diff(S.t)
    ode_residual = sp.simplify(lhs - rhs)
    norm_residual = sp.simplify(sum(h**2 for h in H) - 1)
    at0 = H.subs(S.t, 0)
    on_sphere = {H0[-1] ** 2: 1 - sum(h**2 for h in H0[:-1])}
    initial_residual = sp.simplify((at0 - sp.Matrix(H0)).subs(on_sphere))
    # H0[-1] is real, so sqrt(H0_d^2) = |H0_d|; the residual is zero for H0_d >= 0 and, by the
    # symmetry H -> -H of (7), the same holds for H0_d < 0.
    initial_residual = sp.simplify(initial_residual.subs(sp.Abs(H0[-1]), H0[-1]))
    return {
        "ode_residual": ode_residual,
        "norm_residual": norm_residual,
        "initial_residual": initial_residual,
    }


# -- numeric twins -----------------------------------------------------------------------------
def ode_drift(h, lambda_, mu):
    r"""Numeric drift of ODE (7) in eigen-coordinates, :math:`(\Lambda h - h^\top\Lambda h\, h)/(1-\mu)`.

    Parameters
    ----------
    h : array_like, shape (..., d)
        States in eigen-coordinates.
    lambda_ : array_like, shape (d,)
        Eigenvalues.
    mu : float
        Momentum in [0, 1).

    Returns
    -------
    ndarray, shape (..., d)
    """
    mu = check_mu(mu)
    h = np.asarray(h, dtype=float)
    lam = np.asarray(lambda_, dtype=float)
    rayleigh = np.sum(lam * h * h, axis=-1, keepdims=True)
    return (lam * h - rayleigh * h) / (1.0 - mu)


@cache
def ode_drift_lambdified(d: int):
    """``f(H, lambda_, mu) -> ndarray (d,)``: :func:`ode_drift_symbolic` through ``sympy.lambdify``.

    Parameters
    ----------
    d : int
        Dimension >= 2.

    Returns
    -------
    callable
        ``f(H, lambda_, mu)`` -> ndarray of shape (d,).
    """
    import sympy as sp

    drift, H = ode_drift_symbolic(d)
    f = sp.lambdify((list(H), list(S.lambdas(d)), S.mu), list(drift), "numpy")
    return lambda h, lambda_, mu: np.asarray(f(list(h), list(lambda_), mu), dtype=float)


@cache
def closed_form_lambdified(d: int):
    """``f(H0, lambda_, mu, t) -> ndarray (d,)``: :func:`closed_form_symbolic` through lambdify.

    Parameters
    ----------
    d : int
        Dimension >= 2.

    Returns
    -------
    callable
        ``f(H0, lambda_, mu, t)`` -> ndarray of shape (d,).
    """
    import sympy as sp

    H, H0 = closed_form_symbolic(d)
    f = sp.lambdify((list(H0), list(S.lambdas(d)), S.mu, S.t), list(H), "numpy")
    return lambda h0, lambda_, mu, t: np.asarray(f(list(h0), list(lambda_), mu, t), dtype=float)


def closed_form_H(h0, lambda_, mu, t):
    r"""Numeric closed-form solution of ODE (7) (after Theorem 3), overflow-safe.

    Parameters
    ----------
    h0 : array_like, shape (d,)
        Initial state in eigen-coordinates, non-zero; normalised to the unit sphere.
    lambda_ : array_like, shape (d,)
        Eigenvalues.
    mu : float
        Momentum in [0, 1).
    t : float or array_like, shape (n_t,)
        Times in ODE units (t = k eta), >= 0.

    Returns
    -------
    ndarray, shape (d,) for scalar t, else (n_t, d)

    Notes
    -----
    Computed as :math:`H_i \propto H_i(0) e^{(\lambda_i - \lambda_{\max}) t/(1-\mu)}` over the
    coordinates with :math:`H_i(0) \ne 0`, which is the printed formula divided through by
    the largest exponential (no overflow for large t).
    """
    mu = check_mu(mu)
    h0 = np.asarray(h0, dtype=float)
    lam = np.asarray(lambda_, dtype=float)
    if h0.shape != lam.shape:
        raise ValueError(f"h0 must have shape {lam.shape} to match lambda_, got {h0.shape}")
    if not np.all(np.isfinite(h0)) or not np.any(h0 != 0):
        raise ValueError("h0 must be finite and non-zero")
    t_arr = np.asarray(t, dtype=float)
    if np.any(~np.isfinite(t_arr)) or np.any(t_arr < 0):
        raise ValueError("t must be finite and >= 0")
    h0 = h0 / np.linalg.norm(h0)
    lam_top = np.max(lam[h0 != 0])
    expo = np.multiply.outer(np.atleast_1d(t_arr), lam - lam_top) / (1.0 - mu)
    growth = h0 * np.exp(expo)
    out = growth / np.linalg.norm(growth, axis=-1, keepdims=True)
    return out[0] if t_arr.ndim == 0 else out


def traverse_time(h0, lambda_, mu, delta) -> float:
    r"""General-d Phase II time: first t with :math:`H^{(1)}(t)^2 \ge 1 - \delta^2` on the closed form.

    From the closed form, :math:`H^{(1)}(t)^2 = 1/(1 + R(t))` with
    :math:`R(t) = \sum_{k \ge 2} (H_k(0)/H_1(0))^2 e^{-2(\lambda_1 - \lambda_k)t/(1-\mu)}`
    decreasing in t, so the time is the root of :math:`\log R(t) = \log(\delta^2/(1-\delta^2))`,
    found by bracketing (``brentq``) in log space. In d = 2 with :math:`H_1(0)^2 = \delta^2`
    it equals :func:`theory.phases.T2_derived`.

    Parameters
    ----------
    h0 : array_like, shape (d,)
        Start in eigen-coordinates; needs :math:`H_1(0) \ne 0` (else the ODE never leaves
        the saddle set and the time is infinite).
    lambda_ : array_like, shape (d,)
    mu : float
    delta : float in (0, 1)

    Returns
    -------
    float
        The time in ODE units; 0.0 if the start already satisfies the target, ``inf`` if
        :math:`H_1(0) = 0`.
    """
    mu = check_mu(mu)
    delta = check_probability(delta, "delta")
    h0 = np.asarray(h0, dtype=float)
    lam = np.asarray(lambda_, dtype=float)
    if h0.shape != lam.shape:
        raise ValueError(f"h0 must have shape {lam.shape} to match lambda_, got {h0.shape}")
    if not np.all(np.isfinite(h0)) or not np.any(h0 != 0):
        raise ValueError("h0 must be finite and non-zero")
    if h0[0] == 0.0:
        return float("inf")
    rest = h0[1:] != 0
    if not np.any(rest):
        return 0.0
    log_c = 2.0 * np.log(np.abs(h0[1:][rest] / h0[0]))
    rates = 2.0 * (lam[0] - lam[1:][rest]) / (1.0 - mu)
    target = np.log(delta**2 / (1.0 - delta**2))

    def log_r(time):
        return float(np.logaddexp.reduce(log_c - rates * time)) - target

    if log_r(0.0) <= 0.0:
        return 0.0
    if np.any(rates <= 0.0):
        raise ValueError("lambda_ need lambda_1 > lambda_k for the coordinates of h0 that are non-zero")
    # R(t) <= e^{max log_c} * n e^{-min_rate t}, so this upper end brackets the root
    hi = (np.max(log_c) + np.log(log_c.size) - target) / np.min(rates) + 1.0
    from scipy.optimize import brentq

    return float(brentq(log_r, 0.0, hi, xtol=1e-13, rtol=4 * np.finfo(float).eps))
