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

This module holds the numeric coefficient functions every other package uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .problem import Problem
from .validation import check_mu

__all__ = [
    "OUCoefficients",
    "ou_coefficients",
    "ou_transition_mean",
    "ou_transition_variance",
    "ou_stationary_variance",
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
    """Drift and diffusion of the OU limit at e_j: eq. (8) for j = 1, Theorem 9 for j >= 2."""
    mu = check_mu(mu)
    if not isinstance(j, (int, np.integer)) or not 1 <= j <= problem.d:
        raise ValueError(f"j must be an integer in 1..{problem.d}, got {j!r}")
    lam = problem.eigenvalues
    coords = np.array([i for i in range(1, problem.d + 1) if i != j])
    drift = (lam[coords - 1] - lam[j - 1]) / (1.0 - mu)
    diffusion = problem.alpha[coords - 1, j - 1] / (1.0 - mu)
    return OUCoefficients(j=int(j), mu=mu, coords=coords, drift=drift, diffusion=diffusion)


def ou_transition_mean(u0, a, t):
    """E[U_t | U_0 = u0] = u0 exp(a t) (broadcasting)."""
    return np.asarray(u0) * np.exp(np.asarray(a) * np.asarray(t))


def ou_transition_variance(a, b, t):
    """Var[U_t | U_0] = b^2 (exp(2 a t) - 1) / (2 a), = b^2 t at a = 0 (broadcasting).

    Uses expm1 so it is accurate for small |a t|.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    t = np.asarray(t, dtype=float)
    at2 = 2.0 * a * t
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(a == 0.0, t, np.expm1(at2) / np.where(a == 0.0, 1.0, 2.0 * a))
    return b**2 * ratio


def ou_stationary_variance(a, b):
    """b^2 / (-2 a) for a < 0; NaN otherwise (no stationary law)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(a < 0.0, b**2 / (-2.0 * a), np.nan)
