r"""The full small-noise diffusion of Async-MSGD (beyond the paper): gradient-noise covariance.

The paper linearises the noise at each eigenvector (eq. (8), Theorems 5 and 9). One SDE
holds along the whole trajectory, from a saddle through Phase II to the optimum:

.. math::

    dV = M(V)\,dt + \frac{\sqrt{\eta}}{1-\mu}\, B(V)\, dW_t, \qquad
    M(V) = \frac{\Sigma V - V^\top\Sigma V\, V}{1-\mu}\ \text{(ODE (7))}, \qquad
    B B^\top = \mathrm{Cov}[g],

with :math:`g = (I - VV^\top) X X^\top V` the stochastic gradient of update (5) at V (the
first-order stochastic modified equation; momentum multiplies the step by
:math:`1/(1-\mu)`, so the per-step noise covariance :math:`\eta^2\mathrm{Cov}[g]/(1-\mu)^2`
accumulates over :math:`1/\eta` steps per unit time).

Eigen-coordinates (:math:`h = Q^\top V`, :math:`Y = Q^\top X`): :math:`g = P\,Y\,s`,
:math:`s = Y^\top h`, :math:`P = I - hh^\top`, so :math:`E[g] = \Lambda h - h^\top\Lambda h\, h`
(= :math:`(1-\mu) M`) and

.. math::

    \mathrm{Cov}[g] = P\,S(h)\,P^\top, \qquad
    S_{ab}(h) = \sum_{c,e} E[Y_a Y_b Y_c Y_e]\, h_c h_e - (\Lambda h)_a (\Lambda h)_b .

For the built-in distributions :math:`Y = \Lambda^{1/2}\xi` with independent, symmetric,
unit-variance :math:`\xi_a` of fourth moment :math:`m_4` (Gaussian: 3, Isserlis;
Rademacher: 1, since :math:`\xi^2 = 1`), and the fourth moments give the closed form

.. math::

    S(h) = (h^\top\Lambda h)\,\Lambda + \Lambda h h^\top \Lambda
           + (m_4 - 3)\,\mathrm{diag}(\lambda_a^2 h_a^2),

derived symbolically by :func:`gradient_covariance_symbolic` and checked as an identity
by :func:`verify_gradient_covariance`. Its linearisation at :math:`e_j`
(:func:`linearise_diffusion`) gives back eq. (8) / Theorem 9: tangent covariance
:math:`\mathrm{diag}(\lambda_i\lambda_j) = \mathrm{diag}(\alpha_{ij}^2)`, drift Jacobian
:math:`\mathrm{diag}(\lambda_i - \lambda_j)/(1-\mu)`, plus a radial direction
(:math:`-2\lambda_j/(1-\mu)`, noise-free) that the paper's tangent OU omits.

A noise factor needs no matrix square root (:func:`gradient_noise_factor`): the Wiener
chaos expansion :math:`sY - E[sY] = \sum_{a<c}\sqrt{\lambda_a\lambda_c}(h_c e_a + h_a e_c)
\xi_a\xi_c + \sum_a \lambda_a h_a e_a(\xi_a^2 - 1)` has uncorrelated unit terms, so
:math:`B = P F` with the d(d-1)/2 columns :math:`\sqrt{\lambda_a\lambda_c}(h_c e_a + h_a
e_c)` and, when :math:`m_4 > 1`, d columns :math:`\sqrt{m_4 - 1}\,\lambda_a h_a e_a`. For
a user sampler, S comes from a Monte Carlo fourth-moment tensor and B from its symmetric
square root (eigen-decomposition clipped at 0, robust to the singular direction along h).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

import numpy as np
import sympy as sp

from . import symbolic as S
from .distributions import Distribution, Gaussian, Rademacher, get_distribution
from .ode import ode_drift
from .problem import Problem
from .validation import check_eta, check_mu

__all__ = [
    "FOURTH_MOMENT",
    "h_symbols",
    "fourth_moment_tensor",
    "fourth_moment_tensor_symbolic",
    "gradient_mean",
    "gradient_covariance",
    "gradient_covariance_symbolic",
    "gradient_covariance_closed_form_symbolic",
    "gradient_covariance_lambdified",
    "verify_gradient_covariance",
    "gradient_noise_factor",
    "noise_dimension",
    "drift_jacobian",
    "Linearisation",
    "linearise_diffusion",
    "stationary_norm_excess",
]

#: E[xi^4] of the standardised coordinates xi = Lambda^{-1/2} Y of the built-ins:
#: Gaussian 3 (E z^4 = 3 for z ~ N(0, 1)); Rademacher 1 (xi^2 = 1).
FOURTH_MOMENT = {"gaussian": 3, "rademacher": 1}


def _builtin_name(dist: Distribution) -> str | None:
    if isinstance(dist, Gaussian):
        return "gaussian"
    if isinstance(dist, Rademacher):
        return "rademacher"
    return None


def _check_d(d) -> int:
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 2:
        raise ValueError(f"d must be an integer >= 2, got {d!r}")
    return int(d)


def _check_builtin(dist) -> str:
    name = _builtin_name(get_distribution(dist))
    if name is None:
        raise ValueError(f"dist must be 'gaussian' or 'rademacher' for the symbolic derivation, got {dist!r}")
    return name


# -- symbolic -----------------------------------------------------------------------------
@cache
def h_symbols(d: int) -> tuple[sp.Symbol, ...]:
    """Real symbols h_1..h_d of the state in eigen-coordinates.

    Parameters
    ----------
    d : int
        Dimension >= 2.

    Returns
    -------
    tuple of sympy.Symbol, length d
    """
    return tuple(sp.Symbol(f"h_{i}", real=True) for i in range(1, _check_d(d) + 1))


@cache
def fourth_moment_tensor_symbolic(d: int, dist: str = "gaussian") -> sp.ImmutableDenseNDimArray:
    r""":math:`K_{abce} = E[Y_a Y_b Y_c Y_e]` from first principles, for the built-ins.

    :math:`Y = \Lambda^{1/2}\xi` with independent symmetric :math:`\xi_a`, :math:`E\xi^2 = 1`,
    :math:`E\xi^4 = m_4`: the expectation of a product factorises over distinct indices
    and vanishes if any index appears an odd number of times.

    Parameters
    ----------
    d : int
        Dimension >= 2.
    dist : str
        A built-in distribution of the data (``"gaussian"``, ``"rademacher"``).

    Returns
    -------
    sympy.ImmutableDenseNDimArray, shape (d, d, d, d)
    """
    d = _check_d(d)
    m4 = sp.Integer(FOURTH_MOMENT[_check_builtin(dist)])
    lam = S.lambdas(d)
    moments = {0: sp.S.One, 1: sp.S.Zero, 2: sp.S.One, 3: sp.S.Zero, 4: m4}
    K = sp.MutableDenseNDimArray.zeros(d, d, d, d)
    for idx in np.ndindex(d, d, d, d):
        value = sp.S.One
        for a in set(idx):
            value *= moments[idx.count(a)]
        if value != 0:
            value *= sp.sqrt(sp.Mul(*[lam[a] for a in idx]))
        K[idx] = value
    return sp.ImmutableDenseNDimArray(K)


@cache
def gradient_covariance_symbolic(d: int, dist: str = "gaussian") -> sp.Matrix:
    r""":math:`\mathrm{Cov}[g] = P S P^\top` derived from the fourth-moment tensor.

    In the symbols :func:`h_symbols` and :func:`theory.symbolic.lambdas`.

    Parameters
    ----------
    d : int
        Dimension >= 2.
    dist : str
        A built-in distribution of the data (``"gaussian"``, ``"rademacher"``).

    Returns
    -------
    sympy.Matrix, shape (d, d)
    """
    d = _check_d(d)
    K = fourth_moment_tensor_symbolic(d, dist)
    h = sp.Matrix(h_symbols(d))
    lam_h = sp.Matrix([S.lambdas(d)[a] * h[a] for a in range(d)])
    Smat = sp.Matrix(
        d,
        d,
        lambda a, b: sp.expand(sum(K[a, b, c, e] * h[c] * h[e] for c in range(d) for e in range(d)))
        - lam_h[a] * lam_h[b],
    )
    P = sp.eye(d) - h * h.T
    return (P * Smat * P.T).applyfunc(sp.expand)


@cache
def gradient_covariance_closed_form_symbolic(d: int, dist: str = "gaussian") -> sp.Matrix:
    r"""The closed form of the covariance (module docstring), sympy Matrix (d, d).

    .. math::

        P\left[(h^\top\Lambda h)\Lambda + \Lambda hh^\top\Lambda
        + (m_4-3)\,\mathrm{diag}(\lambda^2h^2)\right]P^\top

    Parameters
    ----------
    d : int
        Dimension >= 2.
    dist : str
        A built-in distribution of the data (``"gaussian"``, ``"rademacher"``).

    Returns
    -------
    sympy.Matrix, shape (d, d)
    """
    d = _check_d(d)
    m4 = FOURTH_MOMENT[_check_builtin(dist)]
    h = sp.Matrix(h_symbols(d))
    Lam = sp.diag(*S.lambdas(d))
    rayleigh = (h.T * Lam * h)[0, 0]
    diag = sp.diag(*[(S.lambdas(d)[a] * h[a]) ** 2 for a in range(d)])
    Smat = rayleigh * Lam + Lam * h * h.T * Lam + (m4 - 3) * diag
    P = sp.eye(d) - h * h.T
    return P * Smat * P.T


def verify_gradient_covariance(d: int, dist: str = "gaussian") -> sp.Matrix:
    """Derived minus closed form, simplified: the zero matrix if the closed form is right.

    Parameters
    ----------
    d : int
        Dimension >= 2.
    dist : str
        A built-in distribution of the data (``"gaussian"``, ``"rademacher"``).

    Returns
    -------
    sympy.Matrix, shape (d, d)
        Zero when the closed form holds.
    """
    diff = gradient_covariance_symbolic(d, dist) - gradient_covariance_closed_form_symbolic(d, dist)
    return diff.applyfunc(lambda e: sp.simplify(sp.expand(e)))


@cache
def gradient_covariance_lambdified(d: int, dist: str = "gaussian"):
    """``f(h, lambda_) -> ndarray (d, d)``: the derived covariance through ``sympy.lambdify``.

    Parameters
    ----------
    d : int
        Dimension >= 2.
    dist : str
        A built-in distribution of the data (``"gaussian"``, ``"rademacher"``).

    Returns
    -------
    callable
        ``f(h, lambda_)`` -> ndarray of shape (d, d).
    """
    f = sp.lambdify(
        (list(h_symbols(d)), list(S.lambdas(d))), gradient_covariance_symbolic(d, dist), "numpy"
    )
    return lambda h, lambda_: np.asarray(f(list(h), list(lambda_)), dtype=float)


# -- numeric ------------------------------------------------------------------------------
def _check_h(problem: Problem, h) -> np.ndarray:
    try:
        h = np.asarray(h, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("h must be an array of real numbers") from None
    if h.ndim == 0 or h.shape[-1] != problem.d:
        raise ValueError(f"h must have shape (..., {problem.d}), got {h.shape}")
    if not np.all(np.isfinite(h)):
        raise ValueError("h must be finite")
    return h


@lru_cache(maxsize=64)
def _user_moments(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Monte Carlo E[Y Y^T] and E[Y (x) Y (x) Y (x) Y] of a user sampler (its own seed and size)."""
    dist = problem.dist
    rng = np.random.default_rng(getattr(dist, "seed", 0))
    n = int(getattr(dist, "n_mc", 200_000))
    y = dist.sample_y(rng, n, problem.lambda_, problem.Q)
    yy = (y[:, :, None] * y[:, None, :]).reshape(n, -1)
    d = problem.d
    K = (yy.T @ yy / n).reshape(d, d, d, d)
    M2 = y.T @ y / n
    return K, M2


def fourth_moment_tensor(problem: Problem) -> np.ndarray:
    """E[Y_a Y_b Y_c Y_e], shape (d, d, d, d): exact for the built-ins, Monte Carlo otherwise.

    Parameters
    ----------
    problem : Problem

    Returns
    -------
    ndarray of shape (d, d, d, d)
    """
    name = _builtin_name(problem.dist)
    if name is None:
        return _user_moments(problem)[0].copy()
    lam = problem.lambda_
    d = problem.d
    eye = np.eye(d)
    L = np.diag(lam)
    # Isserlis pairings (ab)(ce) + (ac)(be) + (ae)(bc), plus the excess m4 - 3 on a = b = c = e.
    K = (
        np.einsum("ab,ce->abce", L, L)
        + np.einsum("ac,be->abce", L, L)
        + np.einsum("ae,bc->abce", L, L)
    )
    K += (FOURTH_MOMENT[name] - 3) * np.einsum("a,ab,ac,ae->abce", lam**2, eye, eye, eye)
    return K


def gradient_mean(problem: Problem, h) -> np.ndarray:
    r""":math:`E[g] = \Lambda h - h^\top\Lambda h\, h`, shape (..., d) (= (1-mu) times the drift of (7)).

    Parameters
    ----------
    problem : Problem
    h : array_like, shape (..., d)
        The state in eigen-coordinates.

    Returns
    -------
    ndarray of shape (..., d)
    """
    h = _check_h(problem, h)
    return ode_drift(h, problem.lambda_, 0.0)


def _project(h: np.ndarray, x: np.ndarray) -> np.ndarray:
    """P x = x - h (h . x) along the second-to-last axis of x (shape (..., d, k))."""
    return x - h[..., :, None] * np.einsum("...a,...ak->...k", h, x)[..., None, :]


def _score_covariance(problem: Problem, h: np.ndarray) -> np.ndarray:
    """S(h) = Cov[(Y^T h) Y], shape (..., d, d)."""
    name = _builtin_name(problem.dist)
    lam = problem.lambda_
    if name is None:
        K, M2 = _user_moments(problem)
        m = h @ M2
        return np.einsum("abce,...c,...e->...ab", K, h, h) - m[..., :, None] * m[..., None, :]
    lh = lam * h
    rayleigh = np.sum(lh * h, axis=-1)[..., None, None]
    S_ = rayleigh * np.diag(lam) + lh[..., :, None] * lh[..., None, :]
    idx = np.arange(problem.d)
    S_[..., idx, idx] += (FOURTH_MOMENT[name] - 3) * lh**2
    return S_


def gradient_covariance(problem: Problem, h) -> np.ndarray:
    r""":math:`\mathrm{Cov}[g] = P S(h) P^\top` in eigen-coordinates, shape (..., d, d).

    Parameters
    ----------
    problem : Problem
    h : array_like, shape (..., d)
        States in eigen-coordinates (not necessarily on the sphere).

    Returns
    -------
    ndarray, shape (..., d, d)
        In the original coordinates the covariance is ``Q C Q^T``.
    """
    h = _check_h(problem, h)
    PS = _project(h, _score_covariance(problem, h))
    return np.swapaxes(_project(h, np.swapaxes(PS, -1, -2)), -1, -2)


def noise_dimension(problem: Problem) -> int:
    """Number m of Brownian motions of :func:`gradient_noise_factor`.

    d(d-1)/2 pair terms, plus d square terms when m4 > 1 (Gaussian: d(d+1)/2, Rademacher:
    d(d-1)/2); d for a user sampler (symmetric square root).

    Parameters
    ----------
    problem : Problem

    Returns
    -------
    int
    """
    d = problem.d
    name = _builtin_name(problem.dist)
    if name is None:
        return d
    return d * (d - 1) // 2 + (d if FOURTH_MOMENT[name] > 1 else 0)


def gradient_noise_factor(problem: Problem, h) -> np.ndarray:
    """A factor B(h) with B B^T = Cov[g], shape (..., d, m), m = :func:`noise_dimension`.

    Built-ins: B = P F with the chaos-expansion columns (module docstring), exact and
    with no decomposition. Columns: the pairs a < c in ``numpy.triu_indices(d, 1)`` order,
    then (Gaussian) the d squares. User samplers: P S^{1/2} with the symmetric square root
    of the Monte Carlo S (eigenvalues clipped at 0).

    Parameters
    ----------
    problem : Problem
    h : array_like, shape (..., d)
        The state in eigen-coordinates.

    Returns
    -------
    ndarray of shape (..., d, m)
    """
    h = _check_h(problem, h)
    lam = problem.lambda_
    d = problem.d
    name = _builtin_name(problem.dist)
    if name is None:
        w, U = np.linalg.eigh(_score_covariance(problem, h))
        F = (U * np.sqrt(np.clip(w, 0.0, None))[..., None, :]) @ np.swapaxes(U, -1, -2)
        return _project(h, F)
    a_idx, c_idx = np.triu_indices(d, 1)
    n_pairs = a_idx.size
    F = np.zeros((*h.shape[:-1], d, noise_dimension(problem)))
    cols = np.arange(n_pairs)
    scale = np.sqrt(lam[a_idx] * lam[c_idx])
    F[..., a_idx, cols] = scale * h[..., c_idx]
    F[..., c_idx, cols] = scale * h[..., a_idx]
    if FOURTH_MOMENT[name] > 1:
        idx = np.arange(d)
        F[..., idx, n_pairs + idx] = np.sqrt(FOURTH_MOMENT[name] - 1.0) * lam * h
    return _project(h, F)


def drift_jacobian(problem: Problem, mu: float, h) -> np.ndarray:
    r"""Jacobian of the drift M of (7) in eigen-coordinates, shape (..., d, d).

    .. math::

        \partial M/\partial h = \left[\Lambda - (h^\top\Lambda h) I
        - 2 h (\Lambda h)^\top\right]/(1-\mu).

    Parameters
    ----------
    problem : Problem
    mu : float
        Momentum in [0, 1).
    h : array_like, shape (..., d)
        The state in eigen-coordinates.

    Returns
    -------
    ndarray of shape (..., d, d)
    """
    mu = check_mu(mu)
    h = _check_h(problem, h)
    lam = problem.lambda_
    lh = lam * h
    rayleigh = np.sum(lh * h, axis=-1)[..., None, None]
    J = np.diag(lam) - rayleigh * np.eye(problem.d) - 2.0 * h[..., :, None] * lh[..., None, :]
    return J / (1.0 - mu)


@dataclass(frozen=True)
class Linearisation:
    """The full diffusion linearised at e_j, in u = (h - e_j)/sqrt(eta) units.

    Attributes
    ----------
    j : int
        1-based eigenvector.
    jacobian : ndarray, shape (d, d)
        Drift Jacobian of (7) at e_j.
    covariance : ndarray, shape (d, d)
        Cov[g](e_j) / (1 - mu)^2, the diffusion matrix of u.
    coords : ndarray of int, shape (d - 1,)
        1-based tangent coordinates i != j.
    drift : ndarray, shape (d - 1,)
        Tangent block of the Jacobian (diagonal): eq. (8)/Theorem 9 drift.
    diffusion : ndarray, shape (d - 1,)
        Square roots of the tangent diagonal of ``covariance``: eq. (8)/Theorem 9 diffusion.
    radial_drift : float
        Jacobian along e_j, -2 lambda_j/(1 - mu) (noise-free; absent from the paper's OU).
    """

    j: int
    jacobian: np.ndarray
    covariance: np.ndarray
    coords: np.ndarray
    drift: np.ndarray
    diffusion: np.ndarray
    radial_drift: float


def linearise_diffusion(problem: Problem, mu: float, j: int = 1) -> Linearisation:
    """Linearise the full diffusion at e_j; reproduces eq. (8) (j = 1) and Theorem 9 (j >= 2).

    Parameters
    ----------
    problem : Problem
    mu : float
        Momentum in [0, 1).
    j : int
        The eigenvector e_j, 1 <= j <= d.

    Returns
    -------
    Linearisation
        Jacobian, covariance and the tangent drift / diffusion at e_j.
    """
    mu = check_mu(mu)
    if isinstance(j, bool) or not isinstance(j, (int, np.integer)) or not 1 <= j <= problem.d:
        raise ValueError(f"j must be an integer in 1..{problem.d}, got {j!r}")
    e = np.eye(problem.d)[j - 1]
    J = drift_jacobian(problem, mu, e)
    C = gradient_covariance(problem, e) / (1.0 - mu) ** 2
    coords = np.array([i for i in range(1, problem.d + 1) if i != j])
    tangent = coords - 1
    return Linearisation(
        j=int(j),
        jacobian=J,
        covariance=C,
        coords=coords,
        drift=np.diag(J)[tangent].copy(),
        diffusion=np.sqrt(np.clip(np.diag(C)[tangent], 0.0, None)),
        radial_drift=float(J[j - 1, j - 1]),
    )


def stationary_norm_excess(problem: Problem, mu: float, eta: float) -> float:
    r"""Leading-order stationary :math:`E|h|^2 - 1` of the full diffusion at the optimum.

    Neither ODE (7) nor eq. (8) sees it: (7) keeps :math:`|h| = 1` and (8) lives in the
    tangent space. With :math:`\varepsilon = |h|^2 - 1` and :math:`\sigma = \sqrt\eta/(1-\mu)`,
    Ito's formula gives :math:`d\varepsilon = 2h^\top M\,dt + 2\sigma h^\top B\,dW +
    \sigma^2\mathrm{tr}\,\mathrm{Cov}[g]\,dt`, with :math:`2h^\top M = -2(h^\top\Lambda h)
    \varepsilon/(1-\mu)` and :math:`h^\top B = -\varepsilon\,h^\top F`; at stationarity near
    :math:`e_1` (:math:`h^\top\Lambda h \approx \lambda_1`,
    :math:`\mathrm{tr}\,\mathrm{Cov}[g](e_1) = \sum_{i \ne 1}\alpha_{i1}^2`)

    .. math::

        E|h|^2 - 1 \approx \frac{\eta \sum_{i \ne 1} \alpha_{i1}^2}{2\lambda_1 (1-\mu)}
        = \frac{\eta\,(\phi - \alpha_{11}^2)}{2\lambda_1(1-\mu)},

    with relative corrections :math:`O(\eta\,\mathrm{Var}\,u)`. For the built-ins
    :math:`\alpha_{i1}^2 = \lambda_i\lambda_1`, so it is :math:`\eta\sum_{i\ge2}\lambda_i/(2(1-\mu))`.
    The discrete iterates of update (5) drift off the sphere the same way (the step is
    tangent only to first order).

    Parameters
    ----------
    problem : Problem
    mu : float
        Momentum in [0, 1).
    eta : float
        Step size > 0.

    Returns
    -------
    float
        E|h|^2 - 1 at leading order.
    """
    mu = check_mu(mu)
    eta = check_eta(eta)
    alpha = problem.alpha
    return float(eta * np.sum(alpha[1:, 0] ** 2) / (2.0 * problem.lambda_[0] * (1.0 - mu)))
