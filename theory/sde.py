r"""Ornstein-Uhlenbeck limits around eigenvectors: eq. (8) (Theorem 5) and Theorem 9.

In the rescaled coordinates :math:`u = (h - e_j)/\sqrt{\eta}`, each coordinate
:math:`i \ne j` follows

.. math::

    dU^{(i)} = \frac{\lambda_i - \lambda_j}{1-\mu} U^{(i)}\,dt
             + \frac{\alpha_{i,j}}{1-\mu}\, dB_t ,

stable at the optimum j = 1 (eq. (8)) and unstable in the directions i < j at a
saddle j >= 2 (Theorem 9). Writing :math:`a` for the drift and :math:`b` for the
diffusion coefficient, the exact transition law over a time t is Gaussian with

.. math::

    E[U_t \mid U_0] = U_0 e^{a t}, \qquad
    \mathrm{Var}[U_t \mid U_0] = \frac{b^2}{2a}\left(e^{2 a t} - 1\right)
    \quad (= b^2 t \text{ if } a = 0),

and for a < 0 the stationary variance is :math:`b^2 / (-2a)`.

This module holds the numeric coefficient functions every other package uses, and the
sympy derivations behind them:

* :func:`ou_linearisation_symbolic`: the drift, by expanding the drift of ODE (7) at
  :math:`h = e_j + \sqrt{\eta}\, u` to first order in :math:`\sqrt{\eta}`;
* :func:`gradient_noise_covariance_symbolic`: the diffusion, from the covariance of the
  gradient noise :math:`(I - ww^\top)XX^\top w` at :math:`w = e_j` (coordinate i is
  :math:`Y_i Y_j`, variance :math:`E[Y_i^2 Y_j^2] = \alpha_{ij}^2`), amplified by the
  momentum factor :math:`1/(1-\mu)` of eq. (6);
* :func:`ou_transition_symbolic`: the exact transition mean/variance, proven to solve the
  moment equations, and the stationary variance;
* :func:`verify_lyapunov_symbolic` and :func:`ou_lyapunov_solution`: the stationary
  covariance solves :math:`A P + P A^\top + B B^\top = 0`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import numpy as np

from . import symbolic as S
from .ode import momentum_factor_symbolic, ode_drift_symbolic
from .validation import check_mu

if TYPE_CHECKING:
    import sympy as sp

    from .distributions import Distribution
    from .problem import Problem

__all__ = [
    "OUCoefficients",
    "ou_coefficients",
    "ou_transition_mean",
    "ou_transition_variance",
    "ou_stationary_variance",
    "ou_linearisation_symbolic",
    "gradient_noise_covariance_symbolic",
    "ou_diffusion_symbolic",
    "ou_transition_symbolic",
    "verify_ou_transition",
    "verify_lyapunov_symbolic",
    "ou_transition_lambdified",
    "ou_lyapunov_solution",
]


@dataclass(frozen=True)
class OUCoefficients:
    """Coefficients of the OU limit at the eigenvector e_j (1-based j).

    Attributes
    ----------
    j : int
        The eigenvector (1 = optimum, eq. (8); >= 2 = saddle, Theorem 9).
    coords : ndarray of int, shape (d - 1,)
        The 1-based coordinates i != j, in increasing order.
    drift : ndarray, shape (d - 1,)
        a_i = (lambda_i - lambda_j) / (1 - mu).
    diffusion : ndarray, shape (d - 1,)
        b_i = alpha_{i,j} / (1 - mu).
    """

    j: int
    mu: float
    coords: np.ndarray
    drift: np.ndarray
    diffusion: np.ndarray

    @property
    def stationary_variance(self) -> np.ndarray:
        """b_i^2 / (-2 a_i) where a_i < 0, NaN where the coordinate is not stable."""
        return ou_stationary_variance(self.drift, self.diffusion)


def ou_coefficients(problem: Problem, mu: float, j: int = 1) -> OUCoefficients:
    """Drift and diffusion of the OU limit at e_j: eq. (8) for j = 1, Theorem 9 for j >= 2.

    Parameters
    ----------
    problem : Problem
        The spectrum and noise (alpha) of the problem.
    mu : float
        Momentum in [0, 1).
    j : int
        The eigenvector e_j, 1 <= j <= d (1: the top one, eq. (8)).

    Returns
    -------
    OUCoefficients
        Drift a_i = (lambda_i - lambda_j)/(1 - mu) and diffusion alpha_ij/(1 - mu) of every
        coordinate i != j.
    """
    mu = check_mu(mu)
    if not isinstance(j, (int, np.integer)) or not 1 <= j <= problem.d:
        raise ValueError(f"j must be an integer in 1..{problem.d}, got {j!r}")
    lam = problem.eigenvalues
    coords = np.array([i for i in range(1, problem.d + 1) if i != j])
    drift = (lam[coords - 1] - lam[j - 1]) / (1.0 - mu)
    diffusion = problem.alpha[coords - 1, j - 1] / (1.0 - mu)
    return OUCoefficients(j=int(j), mu=mu, coords=coords, drift=drift, diffusion=diffusion)


def ou_transition_mean(u0, a, t):
    """E[U_t | U_0 = u0] = u0 exp(a t) (broadcasting).

    Parameters
    ----------
    u0 : array_like
        Initial value.
    a : array_like
        Drift coefficient.
    t : array_like
        Time >= 0.

    Returns
    -------
    ndarray
        The conditional mean, broadcast shape of the inputs.
    """
    return np.asarray(u0) * np.exp(np.asarray(a) * np.asarray(t))


def ou_transition_variance(a, b, t):
    """Var[U_t | U_0] = b^2 (exp(2 a t) - 1) / (2 a), = b^2 t at a = 0 (broadcasting).

    Uses expm1 so it is accurate for small |a t|.

    Parameters
    ----------
    a : array_like
        Drift coefficient.
    b : array_like
        Diffusion coefficient.
    t : array_like
        Time >= 0.

    Returns
    -------
    ndarray
        The conditional variance, broadcast shape of the inputs.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    t = np.asarray(t, dtype=float)
    at2 = 2.0 * a * t
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(a == 0.0, t, np.expm1(at2) / np.where(a == 0.0, 1.0, 2.0 * a))
    return b**2 * ratio


def ou_stationary_variance(a, b):
    """b^2 / (-2 a) for a < 0; NaN otherwise (no stationary law).

    Parameters
    ----------
    a : array_like
        Drift coefficient.
    b : array_like
        Diffusion coefficient.

    Returns
    -------
    ndarray
        b^2 / (-2 a) where a < 0, NaN elsewhere (broadcast shape).
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a < 0.0, b**2 / (-2.0 * a), np.nan)


# -- sympy derivations -------------------------------------------------------------------------
def _check_j(j, d: int) -> int:
    if isinstance(j, bool) or not isinstance(j, (int, np.integer)) or not 1 <= j <= d:
        raise ValueError(f"j must be an integer in 1..{d}, got {j!r}")
    return int(j)


@cache
def ou_linearisation_symbolic(d: int, j: int = 1) -> tuple[sp.Matrix, tuple[sp.Symbol, ...]]:
    r"""Drift matrix of the OU limit at :math:`e_j`, from ODE (7) under the sqrt(eta) rescaling.

    With :math:`h = e_j + \sqrt{\eta}\, u` and time :math:`t = k\eta`, the mean motion of u
    is :math:`M(h)/\sqrt{\eta}` (M the drift of (7)); as :math:`\eta \to 0` this tends to
    :math:`A u` with A returned here. Result: :math:`A_{ii} = (\lambda_i - \lambda_j)/(1-\mu)`
    for :math:`i \ne j` (eq. (8) at j = 1, Theorem 9 at j >= 2), :math:`A_{jj} =
    -2\lambda_j/(1-\mu)` (the radial direction, absent on the sphere), off-diagonal 0.

    Parameters
    ----------
    d : int
        Dimension >= 2.
    j : int
        The eigenvector e_j, 1 <= j <= d.

    Returns
    -------
    A : sympy.Matrix, shape (d, d)
        The Jacobian of the limiting drift in u.
    u : tuple of sympy.Symbol
        The u symbols.
    """
    import sympy as sp

    _s = sp.Symbol("s", positive=True)  # sqrt(eta), the small parameter of u = (h - e_j)/sqrt(eta)
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d!r}")
    j = _check_j(j, d)
    drift, H = ode_drift_symbolic(d)
    u = S.u_symbols(d)
    h = [(1 if i == j - 1 else 0) + _s * u[i] for i in range(d)]
    scaled = (drift.subs({H[i]: h[i] for i in range(d)}, simultaneous=True) / _s).applyfunc(sp.cancel)
    limit = scaled.subs(_s, 0)
    return sp.simplify(limit.jacobian(list(u))), u


def _fourth_moment_oracle(m4: sp.Matrix, idx: tuple[int, ...]) -> sp.Expr:
    """E[Y_a Y_b Y_c Y_e] for coordinates that are sign-symmetric and independent in pairs.

    Non-zero only when every index appears an even number of times; then it is
    E[Y_i^2 Y_k^2] = m4[i, k] (including i = k: E[Y_i^4] = m4[i, i]).
    """
    import sympy as sp

    counts = {a: idx.count(a) for a in set(idx)}
    if any(c % 2 for c in counts.values()):
        return sp.S.Zero
    keys = sorted(counts)
    if len(keys) == 1:
        return m4[keys[0], keys[0]]
    return m4[keys[0], keys[1]]


@cache
def gradient_noise_covariance_symbolic(
    d: int, j: int = 1, dist: str | Distribution = "gaussian"
) -> sp.Matrix:
    r"""Covariance of the gradient noise :math:`(I - ww^\top) Y Y^\top w` at :math:`w = e_j`.

    In eigen-coordinates the noise at :math:`w = e_j` has coordinates :math:`Y_i Y_j`
    (:math:`i \ne j`) and 0 (:math:`i = j`); its mean :math:`E[Y_i Y_j] = \Lambda_{ij} = 0`.
    The covariance entries :math:`E[Y_i Y_j Y_k Y_j]` are taken from the distribution's
    ``fourth_moments_symbolic`` (:math:`E[Y_i^2 Y_j^2]`), the odd mixed moments being zero.

    Parameters
    ----------
    d : int
    j : int
        1-based eigenvector index.
    dist : str or Distribution
        Must provide ``fourth_moments_symbolic``.

    Returns
    -------
    sympy.Matrix, shape (d, d)
        Diagonal with :math:`\alpha_{ij}^2 = E[Y_i^2 Y_j^2]` at (i, i), i != j, and 0 at (j, j).

    Notes
    -----
    The zero odd moments (:math:`E[Y_i Y_k Y_j^2] = 0`, :math:`i \ne k`) hold for the
    built-in Gaussian and Rademacher distributions, whose eigen-coordinates are
    independent and sign-symmetric; a user distribution without that symmetry can have
    off-diagonal noise covariance, which eq. (8) ignores.
    """
    import sympy as sp

    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d!r}")
    j = _check_j(j, d)
    from .distributions import get_distribution

    dist = get_distribution(dist)
    m4 = dist.fourth_moments_symbolic(S.lambdas(d))
    if m4 is None:
        raise ValueError(f"dist {dist!r} has no symbolic fourth moments")
    y = sp.Matrix(sp.symbols(f"Y_1:{d + 1}", real=True))
    e_j = sp.Matrix([1 if i == j - 1 else 0 for i in range(d)])
    noise = ((sp.eye(d) - e_j * e_j.T) * y * y.T * e_j).applyfunc(sp.expand)

    def expect(expr):
        poly = sp.Poly(sp.expand(expr), *y)
        total = sp.S.Zero
        for monom, coeff in poly.terms():
            idx = tuple(a for a, p in enumerate(monom) for _ in range(p))
            if len(idx) == 2:
                total += coeff * (S.lambdas(d)[idx[0]] if idx[0] == idx[1] else 0)
            elif len(idx) == 4:
                total += coeff * _fourth_moment_oracle(m4, idx)
            elif len(idx):
                raise AssertionError("unexpected moment order in the gradient noise")
            else:
                total += coeff
        return total

    mean = noise.applyfunc(expect)
    second = (noise * noise.T).applyfunc(expect)
    return sp.simplify(second - mean * mean.T)


@cache
def ou_diffusion_symbolic(d: int, j: int = 1, dist: str | Distribution = "gaussian") -> sp.Matrix:
    r"""Diffusion covariance :math:`B B^\top` of the OU limit at :math:`e_j` (eq. (8), Theorem 9).

    The u-noise per step is :math:`\eta\, \xi_k / \sqrt{\eta} = \sqrt{\eta}\, \xi_k`, so
    over a unit of time (:math:`1/\eta` steps) it accumulates covariance
    :math:`\mathrm{Cov}(\xi)`; the momentum filter of eq. (6) multiplies each impulse's
    long-run displacement by :math:`\sum_i \mu^i = 1/(1-\mu)`, hence

    .. math:: B B^\top = \mathrm{Cov}(\xi) / (1-\mu)^2,

    diagonal with :math:`\alpha_{ij}^2/(1-\mu)^2`, i.e. diffusion coefficient
    :math:`\alpha_{ij}/(1-\mu)`.

    Parameters
    ----------
    d : int
        Dimension >= 2.
    j : int
        The eigenvector e_j, 1 <= j <= d.
    dist : str or Distribution
        Distribution of the data X (its fourth moments give Cov(xi)).

    Returns
    -------
    sympy.Matrix, shape (d, d)
    """
    _, factor = momentum_factor_symbolic()
    return gradient_noise_covariance_symbolic(d, j, dist) * factor**2


@cache
def _law_symbols() -> tuple:
    """The symbols a (real), b (positive), u_0 (real) of the one-coordinate OU law."""
    import sympy as sp

    return sp.Symbol("a", real=True), sp.Symbol("b", positive=True), sp.Symbol("u_0", real=True)


@cache
def ou_transition_symbolic() -> dict[str, sp.Expr | sp.Symbol]:
    r"""Exact transition law of :math:`dU = a U dt + b dB` (eq. (8) / Theorem 9, one coordinate).

    Returns
    -------
    dict
        ``"mean"`` :math:`u_0 e^{at}`; ``"variance"`` :math:`b^2 (e^{2at} - 1)/(2a)`;
        ``"stationary_variance"`` :math:`-b^2/(2a)` (for a < 0); and the symbols ``"a"``,
        ``"b"``, ``"u0"``, ``"t"``.
    """
    import sympy as sp

    _a, _b, _u0 = _law_symbols()
    mean = _u0 * sp.exp(_a * S.t)
    variance = _b**2 * (sp.exp(2 * _a * S.t) - 1) / (2 * _a)
    return {
        "mean": mean,
        "variance": variance,
        "stationary_variance": -(_b**2) / (2 * _a),
        "a": _a,
        "b": _b,
        "u0": _u0,
        "t": S.t,
    }


@cache
def verify_ou_transition() -> dict[str, sp.Expr]:
    r"""Residuals (all zero) proving :func:`ou_transition_symbolic`.

    The mean solves :math:`m' = a m`, :math:`m(0) = u_0`; the variance solves
    :math:`v' = 2 a v + b^2`, :math:`v(0) = 0` (Ito's formula for :math:`U^2`); for
    :math:`a < 0` the variance tends to the stationary one as :math:`t \to \infty`.

    Returns
    -------
    dict
        ``{"mean_ode", "mean_initial", "variance_ode", "variance_initial", "stationary_limit"}``:
        residuals, each a sympy expression that simplifies to 0.
    """
    import sympy as sp

    _a, _b, _u0 = _law_symbols()
    law = ou_transition_symbolic()
    m, v = law["mean"], law["variance"]
    a_neg = sp.Symbol("a_neg", negative=True)
    limit = sp.limit(v.subs(_a, a_neg), S.t, sp.oo)
    return {
        "mean_ode": sp.simplify(m.diff(S.t) - _a * m),
        "mean_initial": sp.simplify(m.subs(S.t, 0) - _u0),
        "variance_ode": sp.simplify(v.diff(S.t) - (2 * _a * v + _b**2)),
        "variance_initial": sp.simplify(v.subs(S.t, 0)),
        "stationary_limit": sp.simplify(limit - law["stationary_variance"].subs(_a, a_neg)),
    }


@cache
def verify_lyapunov_symbolic(d: int, dist: str | Distribution = "gaussian") -> sp.Matrix:
    r"""Residual :math:`A P + P A^\top + B B^\top` of eq. (8)'s stationary covariance (zero).

    A and :math:`BB^\top` come from :func:`ou_linearisation_symbolic` and
    :func:`ou_diffusion_symbolic` at j = 1 restricted to the tangent coordinates
    2..d, and P = diag of ``stationary_variance`` of :func:`ou_transition_symbolic`.

    Parameters
    ----------
    d : int
        Dimension >= 2.
    dist : str or Distribution
        Distribution of the data X.

    Returns
    -------
    sympy.Matrix, shape (d - 1, d - 1)
        The residual, a zero matrix when eq. (8)'s stationary covariance holds.
    """
    import sympy as sp

    _a, _b, _u0 = _law_symbols()
    A_full, _ = ou_linearisation_symbolic(d, 1)
    BB_full = ou_diffusion_symbolic(d, 1, dist)
    A = A_full[1:, 1:]
    BB = BB_full[1:, 1:]
    law = ou_transition_symbolic()
    P = sp.diag(
        *[law["stationary_variance"].subs({_a: A[i, i], _b: sp.sqrt(BB[i, i])}) for i in range(d - 1)]
    )
    return sp.simplify(A * P + P * A.T + BB)


@cache
def ou_transition_lambdified():
    """Numeric twins of :func:`ou_transition_symbolic`: ``(mean(u0,a,t), variance(a,b,t), stationary(a,b))``.

    Made with ``sympy.lambdify``; the hand-written :func:`ou_transition_mean`,
    :func:`ou_transition_variance` and :func:`ou_stationary_variance` are tested against them
    (the latter add the a = 0 limit and expm1 accuracy).

    Returns
    -------
    (callable, callable, callable)
        ``mean(u0, a, t)``, ``variance(a, b, t)``, ``stationary(a, b)``.
    """
    import sympy as sp

    _a, _b, _u0 = _law_symbols()
    law = ou_transition_symbolic()
    mean = sp.lambdify((_u0, _a, S.t), law["mean"], "numpy")
    variance = sp.lambdify((_a, _b, S.t), law["variance"], "numpy")
    stationary = sp.lambdify((_a, _b), law["stationary_variance"], "numpy")
    return mean, variance, stationary


def ou_lyapunov_solution(problem: Problem, mu: float) -> np.ndarray:
    r"""Stationary covariance of eq. (8) in u units by ``scipy.linalg.solve_continuous_lyapunov``.

    Solves :math:`A P + P A^\top = -B B^\top` for the tangent coordinates 2..d with
    :math:`A = \mathrm{diag}((\lambda_i - \lambda_1)/(1-\mu))`,
    :math:`B = \mathrm{diag}(\alpha_{i1}/(1-\mu))`.

    Parameters
    ----------
    problem : Problem
        The spectrum and noise (alpha) of the problem.
    mu : float
        Momentum in [0, 1).

    Returns
    -------
    ndarray, shape (d - 1, d - 1)
        Equals ``diag(ou_coefficients(problem, mu).stationary_variance)``.
    """
    from scipy.linalg import solve_continuous_lyapunov

    coef = ou_coefficients(problem, mu, 1)
    A = np.diag(coef.drift)
    BBt = np.diag(coef.diffusion**2)
    return solve_continuous_lyapunov(A, -BBt)
