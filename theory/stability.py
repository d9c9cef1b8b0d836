r"""Exact linear-stability threshold of the delayed heavy-ball recursion (beyond the paper).

The paper bounds the admissible delay only up to unknown constants (Lemma 1 and Theorem 3:
:math:`\tau \lesssim (1-\mu)^2/(\lambda_1\eta^{1-\gamma})`; Lemma 4, Theorems 5 and 9:
:math:`\tau \lesssim (1-\mu)^2/((\lambda_1 + C_d)\eta^{1/2-\gamma})`). This module computes the exact
delay at which the *mean* (expected) dynamics of update (5) lose linear stability at the
optimum, and its asymptotic law as :math:`\eta \to 0`.

Linearisation (eq. (5), mean increment of eq. (6))
--------------------------------------------------
In eigen-coordinates :math:`h = Q^\top v` the mean of update (5) with a constant delay
:math:`\tau` is

.. math::

    h_{k+1} = h_k + \mu (h_k - h_{k-1}) + \eta\, F(h_{k-\tau}), \qquad
    F(w) = \Lambda w - (w^\top \Lambda w)\, w .

Its Jacobian at the optimum :math:`e_1` is
:math:`\partial F(e_1) = \mathrm{diag}(-2\lambda_1, \lambda_2-\lambda_1, \dots, \lambda_d-\lambda_1)`
(:func:`mean_jacobian_expr` proves it with sympy), so the perturbation decouples into
scalar *modes* :math:`x_{k+1} = x_k + \mu (x_k - x_{k-1}) - \eta c\, x_{k-\tau}` with rate

* ``"radial"`` (the norm of the iterate, :math:`h_1 = 1 + x`): :math:`c = 2\lambda_1`;
* ``"tangent[i]"``, :math:`i = 2..d` (1-based as in the paper): :math:`c_i = \lambda_1 - \lambda_i`.

Characteristic equation (:func:`characteristic_polynomial_expr`), :math:`s = \eta c`:

.. math::

    z^{\tau+1} - (1+\mu) z^{\tau} + \mu z^{\tau-1} + s = 0
    \iff z^{\tau-1} (z-1)(z-\mu) = -s

(for :math:`\tau = 0` multiply by :math:`z`: :math:`z^2 - (1+\mu-s) z + \mu = 0`).

Boundary crossing (D-subdivision)
---------------------------------
A root on the unit circle :math:`z = e^{i\theta}` needs

* modulus: :math:`g(\theta) := |e^{i\theta}-1|\,|e^{i\theta}-\mu| = s`. Both factors increase
  on :math:`[0, \pi]` for :math:`\mu \ge 0`, so :math:`g` increases from 0 to
  :math:`g(\pi) = 2(1+\mu)`; for :math:`0 < s < 2(1+\mu)` there is a unique crossing
  frequency :math:`\theta^* \in (0, \pi)`. With :math:`y = 1-\cos\theta`,
  :math:`g^2 = 2y\,((1-\mu)^2 + 2\mu y)` is quadratic in :math:`y`, so
  :math:`\theta^*` is explicit (:func:`crossing_frequency`).
* phase: with :math:`\arg(e^{i\theta}-1) = (\pi+\theta)/2` and
  :math:`\psi(\theta) = \arg(e^{i\theta}-\mu)`,
  :math:`\Phi_\tau(\theta) := (\tau - \tfrac12)\theta + \psi(\theta) - \tfrac{\pi}{2} \in 2\pi\mathbb{Z}`.

:math:`\Phi_\tau(0^+) = -\pi/2`, :math:`\Phi_\tau(\pi) = \tau\pi` and
:math:`\Phi_\tau' = \tau - \tfrac12 + \psi' > 0` (because
:math:`\psi' = (1-\mu\cos\theta)/|e^{i\theta}-\mu|^2 > \tfrac12` iff :math:`1-\mu^2 > 0`), so the
smallest crossing frequency at delay :math:`\tau` is the root :math:`\theta_1(\tau)` of
:math:`\Phi_\tau = 0`, and it decreases as :math:`\tau` grows.

Direction of crossing. Write :math:`w = z\,\partial_z \log[z^{\tau-1}(z-1)(z-\mu)]
= \tau - 1 + z/(z-1) + z/(z-\mu)`. On the unit circle :math:`\mathrm{Re}\, w = \Phi_\tau'(\theta) > 0`
and :math:`\mathrm{Im}\, w = -\tfrac12\cot(\theta/2) - \mu\sin\theta/|z-\mu|^2 < 0`, hence

* :math:`\mathrm{Re}\, \partial_s \log z = \mathrm{Re}\,(1/(s w)) > 0`: as :math:`s` grows at fixed
  :math:`\tau` every crossing is outward, so the number of roots outside never decreases;
* :math:`\mathrm{Re}\, \partial_\tau \log z = -\theta\, \mathrm{Im}\, w / |w|^2 > 0`: as a (real) delay
  grows at fixed :math:`s` every crossing is outward too.

At :math:`s = 0^+` all roots are inside (:math:`0^{\tau-1}`, :math:`\mu`, and
:math:`1 - s/(1-\mu) + O(s^2)`), therefore delay :math:`\tau` is stable **iff**
:math:`s < g(\theta_1(\tau))` **iff** :math:`\Phi_\tau(\theta^*) < 0` **iff**
:math:`\tau < \tau_c` with the real *critical delay*

.. math::

    \tau_c(\mu, s) = \frac12 + \frac{\pi/2 - \psi(\theta^*)}{\theta^*}, \qquad
    \tau^* = \lceil \tau_c \rceil - 1 ,

and :math:`\tau^* = -1` (unstable even without delay) when :math:`s \ge 2(1+\mu)`.
For :math:`\mu = 0` this is the classical condition :math:`s < 2\sin(\pi/(2(2\tau+1)))`.
Because :math:`g(\theta_1(\tau))` does not depend on the mode, :math:`\tau^*` is non-increasing
in :math:`s = \eta c`, so the mode with the largest rate binds: always the radial mode
(:math:`2\lambda_1 > \lambda_1 - \lambda_i` since :math:`\lambda_i > 0`).

Asymptotics (:func:`asymptotic_threshold_expr`, derived with sympy by series reversion)
-------------------------------------------------------------------------------------

.. math::

    \tau_c = \frac{\pi(1-\mu)}{2\eta c} - \frac{1+\mu}{2(1-\mu)}
             - \frac{\pi(1 - 14\mu + \mu^2)}{48 (1-\mu)^3}\,\eta c
             + O\!\left(\frac{(\eta c)^2}{(1-\mu)^5}\right),

an expansion in :math:`\eta c/(1-\mu)^2`. The leading order scales like
:math:`(1-\mu)^1 \eta^{-1} \lambda_1^{-1}`, to be set against the paper's
:math:`(1-\mu)^2 \eta^{-(1-\gamma)}` (Theorem 3) and :math:`(1-\mu)^2 \eta^{-(1/2-\gamma)}` (Lemma 4).
See ``docs/stability.md``.

I.i.d. random delays (mean field)
---------------------------------
Averaging the linearised recursion over an i.i.d. delay law :math:`p_j = P(\tau_k = j)`
replaces :math:`x_{k-\tau}` by :math:`\sum_j p_j x_{k-j}`
(:func:`mean_field_spectral_radius`, :func:`mean_field_threshold`; the laws of
:func:`delay_law`, the geometric one in closed form, :class:`GeometricDelayLaw`). This is
the stability of the mean dynamics only, not mean-square stability.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from . import symbolic as _sym
from .problem import Problem
from .validation import check_eta, check_mu, check_nonnegative_int, check_positive_float

if TYPE_CHECKING:  # sympy and mpmath are imported where used (start-up time, issue 10)
    import mpmath
    import sympy as sp

__all__ = [
    "StabilityResult",
    "stability_threshold",
    "mode_rates",
    "crossing_frequency",
    "critical_delay",
    "max_stable_delay",
    "asymptotic_threshold",
    "asymptotic_threshold_expr",
    "asymptotic_threshold_latex",
    "characteristic_polynomial_expr",
    "mean_jacobian_expr",
    "crossing_expr",
    "companion_matrix",
    "spectral_radius",
    "DELAY_LAW_KINDS",
    "GeometricDelayLaw",
    "delay_law",
    "mean_field_spectral_radius",
    "mean_field_threshold",
]

#: Near-integer critical delays (relative distance below this) are re-decided in
#: :data:`_MP_DPS`-digit arithmetic: float64 rounding of tau_c is ~1e-16 relative, so a
#: 1e-9 band leaves a wide margin before the ceiling could flip.
_TIE_RTOL = 1e-9
#: Working precision (decimal digits) of the mpmath tie-break.
_MP_DPS = 50
#: Smallest s = eta c that :func:`max_stable_delay` decides: :func:`crossing_frequency` squares s,
#: which leaves float64's normal range (~2.2e-308) below ~1.5e-154.
_S_MIN = 1e-150


# ---------------------------------------------------------------------------------------
# modes
# ---------------------------------------------------------------------------------------
def mode_rates(problem: Problem) -> dict[str, float]:
    r"""Rates c of the decoupled linear modes at the optimum e_1 (linearised eq. (5)).

    Parameters
    ----------
    problem : Problem
        The spectrum lambda_1 > lambda_2 >= ... >= lambda_d > 0.

    Returns
    -------
    dict of str to float
        ``{"radial": 2 lambda_1, "tangent[2]": lambda_1 - lambda_2, ..., "tangent[d]": ...}``,
        from the Jacobian diag(-2 lambda_1, lambda_2 - lambda_1, ...) of the mean increment
        :math:`\Lambda w - (w^\top\Lambda w) w` at e_1 (see :func:`mean_jacobian_expr`).
    """
    if not isinstance(problem, Problem):
        raise ValueError(f"problem must be a theory.Problem, got {type(problem).__name__}")
    lam = problem.eigenvalues
    rates = {"radial": float(2.0 * lam[0])}
    for i in range(2, problem.d + 1):
        rates[f"tangent[{i}]"] = float(lam[0] - lam[i - 1])
    return rates


# ---------------------------------------------------------------------------------------
# numeric D-subdivision
# ---------------------------------------------------------------------------------------
def _check_s(s, name: str = "s"):
    s_arr = np.asarray(s, dtype=float)
    if not np.all(np.isfinite(s_arr)) or np.any(s_arr <= 0.0):
        raise ValueError(f"{name} (= eta * c) must be finite and > 0, got {s!r}")
    return s_arr


def _check_mu_array(mu):
    mu_arr = np.asarray(mu, dtype=float)
    if not np.all(np.isfinite(mu_arr)) or np.any((mu_arr < 0.0) | (mu_arr >= 1.0)):
        raise ValueError(f"mu must lie in [0, 1), got {mu!r}")
    return mu_arr


def crossing_frequency(mu, s):
    r"""Unit-circle crossing frequency :math:`\theta^*` solving :math:`|e^{i\theta}-1||e^{i\theta}-\mu| = s`.

    With :math:`y = 1 - \cos\theta`, :math:`g(\theta)^2 = 2y((1-\mu)^2 + 2\mu y) = s^2`, whose
    positive root is taken in the cancellation-free form
    :math:`y = s^2 / ((1-\mu)^2 + \sqrt{(1-\mu)^4 + 4\mu s^2})`, then
    :math:`\theta^* = 2\arcsin\sqrt{y/2}`.

    Parameters
    ----------
    mu : float or array_like
        Momentum in [0, 1).
    s : float or array_like
        eta * c > 0 (broadcast with ``mu``).

    Returns
    -------
    ndarray or float
        theta* in (0, pi]; ``pi`` where s >= 2 (1 + mu) (the crossing through z = -1 that
        already makes tau = 0 unstable).
    """
    mu = _check_mu_array(mu)
    s = _check_s(s)
    om2 = (1.0 - mu) ** 2
    y = s**2 / (om2 + np.sqrt(om2**2 + 4.0 * mu * s**2))
    half = np.sqrt(np.minimum(y, 2.0) / 2.0)
    theta = 2.0 * np.arcsin(np.minimum(half, 1.0))
    theta = np.where(s >= 2.0 * (1.0 + mu), math.pi, theta)
    return theta[()] if theta.ndim == 0 else theta


def _psi(theta, mu):
    """arg(e^{i theta} - mu) in (0, pi] for theta in (0, pi], mu in [0, 1)."""
    return np.arctan2(np.sin(theta), np.cos(theta) - mu)


def critical_delay(mu, s):
    r"""Real critical delay :math:`\tau_c = \tfrac12 + (\pi/2 - \psi(\theta^*))/\theta^*`.

    A constant delay :math:`\tau \in \{0, 1, \dots\}` is linearly stable for the mode with
    :math:`s = \eta c` iff :math:`\tau < \tau_c` (module docstring: D-subdivision of
    :math:`z^{\tau-1}(z-1)(z-\mu) = -s`, with outward crossings).

    Parameters
    ----------
    mu : float or array_like
        Momentum in [0, 1).
    s : float or array_like
        eta * c > 0.

    Returns
    -------
    ndarray or float
        tau_c >= 0 (iterations); 0 where s >= 2 (1 + mu) (tau = 0 already unstable).
    """
    mu = _check_mu_array(mu)
    s = _check_s(s)
    theta = np.asarray(crossing_frequency(mu, s))
    tau_c = 0.5 + (0.5 * math.pi - _psi(theta, mu)) / theta
    tau_c = np.where(s >= 2.0 * (1.0 + mu), 0.0, np.maximum(tau_c, 0.0))
    return tau_c[()] if tau_c.ndim == 0 else tau_c


def _critical_delay_mp(mu: float, s: float) -> mpmath.mpf:
    """tau_c in _MP_DPS-digit arithmetic (same formulas as :func:`critical_delay`)."""
    import mpmath

    with mpmath.workdps(_MP_DPS):
        mu_m, s_m = mpmath.mpf(mu), mpmath.mpf(s)
        om2 = (1 - mu_m) ** 2
        y = s_m**2 / (om2 + mpmath.sqrt(om2**2 + 4 * mu_m * s_m**2))
        theta = 2 * mpmath.asin(mpmath.sqrt(y / 2))
        psi = mpmath.atan2(mpmath.sin(theta), mpmath.cos(theta) - mu_m)
        return mpmath.mpf(1) / 2 + (mpmath.pi / 2 - psi) / theta


def max_stable_delay(mu: float, s: float) -> int:
    r"""Largest integer delay :math:`\tau^* = \lceil\tau_c\rceil - 1` with every root strictly inside.

    Parameters
    ----------
    mu : float
        Momentum in [0, 1).
    s : float
        eta * c > 0.

    Returns
    -------
    int
        tau*, or -1 when even tau = 0 is unstable (s >= 2 (1 + mu)). When tau_c lies within
        a relative 1e-9 of an integer (a root exactly on the circle is possible) the ceiling
        is decided in 50-digit arithmetic; exactly on the circle counts as unstable.
    """
    mu = check_mu(mu)
    s = check_positive_float(s, "s")
    if s < _S_MIN:
        raise ValueError(
            f"s must be >= {_S_MIN:g} (below it s**2 underflows in float64 and the critical delay, "
            f"~ pi (1 - mu) / (2 s), is lost), got {s!r}"
        )
    # tau = 0 is stable iff s < 2 (1 + mu), decided exactly: the float 2.0 * (1.0 + mu) is rounded
    if Fraction(s) >= 2 * (1 + Fraction(mu)):
        return -1
    tau_c = float(critical_delay(mu, s))
    nearest = round(tau_c)
    if abs(tau_c - nearest) <= _TIE_RTOL * max(1.0, tau_c):
        import mpmath

        tau_mp = _critical_delay_mp(mu, s)
        n_mp = mpmath.nint(tau_mp)
        if abs(tau_mp - n_mp) <= mpmath.mpf(10) ** (10 - _MP_DPS):
            # tau_c is an integer up to the 50-digit formulas' rounding (e.g. mu + s = 1 exactly:
            # at tau = 1 the roots of z^2 - (1 + mu) z + 1 are on the circle): unstable there
            return int(n_mp) - 1
        return int(mpmath.ceil(tau_mp)) - 1
    return max(int(math.ceil(tau_c)) - 1, -1)


# ---------------------------------------------------------------------------------------
# brute-force oracle (used by the tests; fine for small tau)
# ---------------------------------------------------------------------------------------
def companion_matrix(mu: float, s: float, tau: int) -> np.ndarray:
    r"""Companion matrix of :math:`x_{k+1} = (1+\mu)x_k - \mu x_{k-1} - s\,x_{k-\tau}`.

    State :math:`(x_k, x_{k-1}, \dots, x_{k-m+1})` with :math:`m = \max(\tau+1, 2)`.

    Parameters
    ----------
    mu : float
        Momentum in [0, 1).
    s : float
        eta * c > 0.
    tau : int
        Constant delay >= 0.

    Returns
    -------
    ndarray, shape (m, m)
    """
    mu = check_mu(mu)
    s = check_positive_float(s, "s")
    tau = check_nonnegative_int(tau, "tau")
    m = max(tau + 1, 2)
    A = np.zeros((m, m))
    A[0, 0] += 1.0 + mu
    A[0, 1] += -mu
    A[0, tau] += -s
    A[1:, :-1] += np.eye(m - 1)
    return A


def spectral_radius(mu: float, s: float, tau: int) -> float:
    """Largest |eigenvalue| of :func:`companion_matrix` (dense; an oracle for small tau).

    Parameters
    ----------
    mu : float
        Momentum in [0, 1).
    s : float
        eta * c > 0.
    tau : int
        Constant delay >= 0 (the matrix is (tau + 2)-square: O(tau^3)).

    Returns
    -------
    float
        The spectral radius; the mode recursion is stable iff it is < 1.
    """
    return float(np.max(np.abs(np.linalg.eigvals(companion_matrix(mu, s, tau)))))


# ---------------------------------------------------------------------------------------
# i.i.d. random delays: the mean-field recursion (beyond the paper)
# ---------------------------------------------------------------------------------------
#: Delay-law kinds of :func:`delay_law` (each parametrised by its mean delay).
DELAY_LAW_KINDS = ("constant", "uniform", "geometric")
#: Tolerance on sum_j p_j = 1: float rounding of a sum of K terms is ~K * 1e-16, far below
#: this for every K the compare layer uses (K <= a few thousand).
_LAW_SUM_ATOL = 1e-8


@dataclass(frozen=True)
class GeometricDelayLaw:
    r"""The geometric delay law :math:`p_j = P(\tau = j) = (1-q)q^j`, :math:`j \ge 0`.

    Its mean is :math:`q/(1-q)`. Kept in closed form (not as a truncated vector) because its
    generating function is rational, which :func:`mean_field_spectral_radius` uses exactly.

    Attributes
    ----------
    q : float
        Ratio in [0, 1).
    """

    q: float

    def __post_init__(self):
        q = float(self.q)
        if not (math.isfinite(q) and 0.0 <= q < 1.0):
            raise ValueError(f"q must lie in [0, 1), got {self.q!r}")
        object.__setattr__(self, "q", q)

    @property
    def mean(self) -> float:
        """Mean delay q / (1 - q)."""
        return self.q / (1.0 - self.q)


def delay_law(kind: str, mean: int):
    r"""Law :math:`p_j = P(\tau_k = j)` of an i.i.d. delay with integer mean ``mean``.

    Parameters
    ----------
    kind : str
        ``"constant"``: a point mass at ``mean``; ``"uniform"``: uniform on
        :math:`\{0, \dots, 2\,\mathrm{mean}\}`; ``"geometric"``: :math:`(1-q)q^j` with
        :math:`q = \mathrm{mean}/(\mathrm{mean}+1)` (so its mean is ``mean``). Mean 0 is the
        point mass at 0 (synchronous updates) for every kind.
    mean : int
        Mean delay >= 0.

    Returns
    -------
    ndarray of shape (K + 1,) or GeometricDelayLaw
        The vector :math:`(p_0, \dots, p_K)`, or the geometric law in closed form.

    Raises
    ------
    ValueError
        Naming ``kind`` or ``mean``.
    """
    m = check_nonnegative_int(mean, "mean")
    if kind not in DELAY_LAW_KINDS:
        raise ValueError(f"kind must be one of {', '.join(DELAY_LAW_KINDS)}, got {kind!r}")
    if kind == "constant" or m == 0:
        p = np.zeros(m + 1)
        p[m] = 1.0
        return p
    if kind == "uniform":
        return np.full(2 * m + 1, 1.0 / (2 * m + 1))
    return GeometricDelayLaw(m / (m + 1.0))  # mean q / (1 - q) = m


def _check_law(p):
    if isinstance(p, GeometricDelayLaw):
        return p
    try:
        arr = np.asarray(p, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"p must be a probability vector or a GeometricDelayLaw, got {p!r}") from None
    if arr.ndim != 1 or arr.size < 1:
        raise ValueError(f"p must be a non-empty 1-d probability vector, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0.0) or abs(arr.sum() - 1.0) > _LAW_SUM_ATOL:
        raise ValueError(f"p must be finite, >= 0 and sum to 1, got sum {arr.sum()!r}")
    return arr


def mean_field_spectral_radius(mu: float, s: float, p) -> float:
    r"""Spectral radius of a mode's mean recursion under i.i.d. random delays.

    Linearising update (5) at :math:`e_1` as in the module docstring (mode rate c,
    :math:`s = \eta c`) and averaging over an i.i.d. delay law :math:`p_j` independent of the
    state gives

    .. math::

        x_{k+1} = (1+\mu) x_k - \mu x_{k-1} - s \sum_{j=0}^{K} p_j\, x_{k-j},

    with characteristic polynomial
    :math:`z^{K+1} - (1+\mu) z^K + \mu z^{K-1} + s\sum_j p_j z^{K-j}`. For a point mass at
    :math:`\tau` this is the constant-delay polynomial of :func:`characteristic_polynomial_expr`.
    For the geometric law :math:`\sum_j p_j z^{-j} = (1-q)z/(z-q)`, so the characteristic
    equation :math:`(z-1)(z-\mu) + s z \sum_j p_j z^{-j} = 0` is exactly the cubic
    :math:`(z-1)(z-\mu)(z-q) + s(1-q)z^2 = 0` (no truncation). Beyond the paper, and an
    approximation: it is the stability of the *mean* dynamics, not mean-square stability of
    the random recursion.

    Parameters
    ----------
    mu : float
        Momentum in [0, 1).
    s : float
        eta * c > 0.
    p : array_like of shape (K + 1,) or GeometricDelayLaw
        The delay law :math:`(p_0, \dots, p_K)` (non-negative, summing to 1), e.g. from
        :func:`delay_law`.

    Returns
    -------
    float
        Largest root modulus; the mean recursion is stable iff it is < 1.

    Raises
    ------
    ValueError
        Naming ``mu``, ``s`` or ``p``.
    """
    mu = check_mu(mu)
    s = check_positive_float(s, "s")
    law = _check_law(p)
    if isinstance(law, GeometricDelayLaw):
        q = law.q
        c = np.polymul(np.polymul([1.0, -1.0], [1.0, -mu]), [1.0, -q])
        c[1] += s * (1.0 - q)
        return float(np.max(np.abs(np.roots(c))))
    K = max(law.size - 1, 1)
    c = np.zeros(K + 2)
    c[0], c[1], c[2] = 1.0, -(1.0 + mu), mu
    c[1 : 1 + law.size] += s * law
    return float(np.max(np.abs(np.roots(c))))


def mean_field_threshold(mu: float, s: float, kind: str, means) -> int:
    """Largest mean delay on a grid whose :func:`delay_law` keeps the mean recursion stable.

    Bisection over the grid (the radius of :func:`mean_field_spectral_radius` grows with the
    mean delay for these laws). For ``"constant"`` it equals :func:`max_stable_delay`
    restricted to the grid.

    Parameters
    ----------
    mu : float
        Momentum in [0, 1).
    s : float
        eta * c > 0.
    kind : str
        One of :data:`DELAY_LAW_KINDS`.
    means : sequence of int
        Strictly increasing grid of mean delays >= 0.

    Returns
    -------
    int
        The largest stable grid value, or -1 if even the first one is unstable.

    Raises
    ------
    ValueError
        Naming ``mu``, ``s``, ``kind`` or ``means``.
    """
    mu = check_mu(mu)
    s = check_positive_float(s, "s")
    if kind not in DELAY_LAW_KINDS:
        raise ValueError(f"kind must be one of {', '.join(DELAY_LAW_KINDS)}, got {kind!r}")
    grid = np.asarray(means)
    if grid.ndim != 1 or grid.size < 1:
        raise ValueError(f"means must be a non-empty 1-d grid, got shape {grid.shape}")
    if not np.all(np.isfinite(grid.astype(float))) or np.any(grid < 0) or np.any(grid != np.round(grid)):
        raise ValueError(f"means must be integers >= 0, got {grid.tolist()}")
    if np.any(np.diff(grid) <= 0):
        raise ValueError(f"means must be strictly increasing, got {grid.tolist()}")

    def stable(k):
        return mean_field_spectral_radius(mu, s, delay_law(kind, int(grid[k]))) < 1.0

    if not stable(0):
        return -1
    lo, hi = 0, grid.size - 1  # invariant: stable(lo)
    if stable(hi):
        return int(grid[hi])
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if stable(mid):
            lo = mid
        else:
            hi = mid
    return int(grid[lo])


# ---------------------------------------------------------------------------------------
# public result
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StabilityResult:
    """Linear-stability threshold of the mean delayed heavy-ball recursion at the optimum.

    Attributes
    ----------
    max_stable_delay : int
        Largest constant delay tau for which every mode is linearly stable (all roots
        strictly inside the unit circle); -1 if even tau = 0 is unstable. Capped at
        ``tau_max`` when that is given (see ``capped``).
    binding_mode : str
        The mode with the smallest critical delay: ``"radial"`` or ``"tangent[i]"``
        (1-based coordinate as in the paper).
    asymptotic : float
        Leading-order eta -> 0 law pi (1 - mu) / (2 eta c) of the binding mode (iterations).
    critical_delay : float
        Real crossing delay tau_c of the binding mode (``max_stable_delay = ceil(tau_c) - 1``).
    modes : dict
        Per mode name: ``{"c", "max_stable_delay", "critical_delay", "crossing_frequency",
        "asymptotic", "asymptotic_2"}`` (``asymptotic_2`` adds the O(1) correction).
    mu, eta : float
        The parameters.
    tau_max : int or None
        The cap that was asked for.
    capped : bool
        True when the uncapped threshold exceeded ``tau_max``.
    """

    max_stable_delay: int
    binding_mode: str
    asymptotic: float
    critical_delay: float
    modes: dict
    mu: float = field(default=float("nan"))
    eta: float = field(default=float("nan"))
    tau_max: int | None = None
    capped: bool = False

    def as_dict(self) -> dict:
        """A JSON-serialisable dict (plain Python numbers).

        Returns
        -------
        dict
            Every field (``modes`` as nested dicts).
        """
        return asdict(self)


def stability_threshold(
    problem: Problem, mu: float, eta: float, *, tau_max: int | None = None
) -> StabilityResult:
    r"""Exact largest constant delay keeping the mean of update (5) linearly stable at e_1.

    Every mode (radial, tangent[2..d]; see :func:`mode_rates`) is treated by the
    D-subdivision of its characteristic equation
    :math:`z^{\tau-1}(z-1)(z-\mu) = -\eta c` (module docstring), in O(1) per mode, so
    thresholds in the thousands or millions cost nothing.

    Parameters
    ----------
    problem : Problem
        Spectrum (the eigenbasis and distribution do not enter the mean linearisation).
    mu : float
        Momentum in [0, 1).
    eta : float
        Step size > 0.
    tau_max : int, optional
        Largest delay of interest (>= 0). When given, each mode's ``max_stable_delay`` and
        the overall one are capped at it and ``capped`` says whether the cap was active.

    Returns
    -------
    StabilityResult

    Raises
    ------
    ValueError
        Naming ``mu``, ``eta``, ``tau_max`` or ``problem``.
    """
    mu = check_mu(mu)
    eta = check_eta(eta)
    if tau_max is not None:
        tau_max = check_nonnegative_int(tau_max, "tau_max")
    rates = mode_rates(problem)
    modes = {}
    for name, c in rates.items():
        s = eta * c
        tau_star = max_stable_delay(mu, s)  # first: it refuses an s too small for float64
        tau_c = float(critical_delay(mu, s))
        if tau_max is not None:
            tau_star = min(tau_star, tau_max)
        modes[name] = {
            "c": c,
            "max_stable_delay": int(tau_star),
            "critical_delay": tau_c,
            "crossing_frequency": float(crossing_frequency(mu, s)),
            "asymptotic": float(asymptotic_threshold(mu, eta, c, order=1)),
            "asymptotic_2": float(asymptotic_threshold(mu, eta, c, order=2)),
        }
    # the smallest critical delay binds; exact ties (equal rates) go to the larger rate
    binding = min(modes, key=lambda k: (modes[k]["critical_delay"], -modes[k]["c"]))
    overall = min(m["max_stable_delay"] for m in modes.values())
    uncapped = min(max_stable_delay(mu, eta * c) for c in rates.values())
    return StabilityResult(
        max_stable_delay=int(overall),
        binding_mode=binding,
        asymptotic=modes[binding]["asymptotic"],
        critical_delay=modes[binding]["critical_delay"],
        modes=modes,
        mu=mu,
        eta=eta,
        tau_max=tau_max,
        capped=bool(tau_max is not None and uncapped > tau_max),
    )


# ---------------------------------------------------------------------------------------
# symbolic side
# ---------------------------------------------------------------------------------------
#: Symbols: mu and eta are the shared ones of :mod:`theory.symbolic`; the mode rate is
#: ``c_mode`` (not ``c``, which :mod:`theory.symbolic` uses for the delay bounds' unknown
#: constant); s = eta c, theta the crossing frequency, z the characteristic variable.
#: ``kappa`` = 1 - mu, positive: keeps sqrt((1-mu)^2) = 1-mu. The symbols are made on first use
#: (module ``__getattr__``), so that importing this module does not import sympy.
_SYMBOLS = {
    "c_s": ("c_mode", {"positive": True}),
    "s_s": ("s", {"positive": True}),
    "theta_s": ("theta", {"positive": True}),
    "tau_s": ("tau", {"positive": True}),
    "z_s": ("z", {"positive": True}),
    "_kappa": ("kappa", {"positive": True}),
}


def __getattr__(name: str):
    """The module's sympy symbol ``name`` (``mu_s``, ``eta_s``, ``c_s``, ...), made once on first use.

    Parameters
    ----------
    name : str
        ``mu_s`` or ``eta_s`` (the shared symbols of :mod:`theory.symbolic`) or a key of
        :data:`_SYMBOLS`.

    Returns
    -------
    sympy.Symbol
        The symbol, then kept as a plain module attribute.

    Raises
    ------
    AttributeError
        For any other name.
    """
    if name in ("mu_s", "eta_s"):
        symbol = getattr(_sym, name[:-2])
    elif name in _SYMBOLS:
        import sympy as sp

        sym_name, assumptions = _SYMBOLS[name]
        symbol = sp.Symbol(sym_name, **assumptions)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = symbol
    return symbol


def _symbols(*names: str) -> tuple:
    """The module symbols ``names`` (see :func:`__getattr__`), for use inside its functions."""
    return tuple(globals()[n] if n in globals() else __getattr__(n) for n in names)


def mean_jacobian_expr(d: int) -> tuple[sp.Matrix, sp.Matrix]:
    r"""Jacobian of the mean increment of eq. (5) at e_1, derived with sympy.

    :math:`F(w) = \Lambda w - (w^\top\Lambda w) w`, the expectation of
    :math:`(I - ww^\top)XX^\top w` (eq. (6), in eigen-coordinates).

    Parameters
    ----------
    d : int
        Dimension >= 2.

    Returns
    -------
    (J, expected) : tuple of sympy.Matrix, shape (d, d)
        The Jacobian at e_1 and diag(-2 lambda_1, lambda_2 - lambda_1, ...), which are equal
        (``(J - expected).is_zero_matrix``).
    """
    import sympy as sp

    d = check_nonnegative_int(d, "d")
    if d < 2:
        raise ValueError(f"d must be >= 2, got {d}")
    lam = _sym.lambdas(d)
    w = sp.Matrix(sp.symbols(f"w_1:{d + 1}"))
    Lam = sp.diag(*lam)
    F = Lam * w - (w.T * Lam * w)[0, 0] * w
    e1 = {w[i]: (1 if i == 0 else 0) for i in range(d)}
    J = F.jacobian(w).subs(e1)
    expected = sp.diag(-2 * lam[0], *[lam[i] - lam[0] for i in range(1, d)])
    return J, expected


def characteristic_polynomial_expr(tau: int) -> sp.Expr:
    r"""Characteristic polynomial of the delayed mode recursion (linearised eq. (5)).

    :math:`z^{\tau+1} - (1+\mu)z^\tau + \mu z^{\tau-1} + s` for tau >= 1 and
    :math:`z^2 - (1+\mu-s)z + \mu` for tau = 0, in the symbols ``z, mu, s``.

    Parameters
    ----------
    tau : int
        Constant delay >= 0.

    Returns
    -------
    sympy.Expr
        The expanded polynomial in ``z_s``, ``mu_s``, ``s_s``.
    """
    import sympy as sp

    tau = check_nonnegative_int(tau, "tau")
    z, mu, s = _symbols("z_s", "mu_s", "s_s")
    if tau == 0:
        return sp.expand(z**2 - (1 + mu - s) * z + mu)
    return sp.expand(z ** (tau + 1) - (1 + mu) * z**tau + mu * z ** (tau - 1) + s)


def crossing_expr() -> dict[str, sp.Expr]:
    r"""The D-subdivision curve as sympy expressions in ``theta`` and ``mu``.

    Returns
    -------
    dict
        ``"s"``: :math:`g(\theta) = 2\sin(\theta/2)\sqrt{1 - 2\mu\cos\theta + \mu^2}`,
        ``"psi"``: :math:`\arg(e^{i\theta}-\mu)` written as
        :math:`\operatorname{atan2}(\sin\theta, \cos\theta-\mu)`,
        ``"tau_c"``: :math:`\tfrac12 + (\pi/2 - \psi)/\theta`.
    """
    import sympy as sp

    th, mu = _symbols("theta_s", "mu_s")
    g = 2 * sp.sin(th / 2) * sp.sqrt(1 - 2 * mu * sp.cos(th) + mu**2)
    psi = sp.atan2(sp.sin(th), sp.cos(th) - mu)
    return {"s": g, "psi": psi, "tau_c": sp.Rational(1, 2) + (sp.pi / 2 - psi) / th}


@lru_cache(maxsize=8)
def _tau_c_series(order: int) -> tuple[sp.Expr, ...]:
    """Coefficients a_{-1}, a_0, ..., of tau_c = sum_k a_k s^k (k = -1 .. order - 2).

    Series reversion of s = g(theta) (odd in theta) and expansion of theta * tau_c(theta),
    regular at theta = 0 because psi(theta) = theta/(1-mu) + O(theta^3) for small theta
    (where cos(theta) - mu > 0 and atan2 = atan).
    """
    import sympy as sp

    th, s, kap, mu_s = _symbols("theta_s", "s_s", "_kappa", "mu_s")
    n = order + 2  # theta-series depth that fixes the first `order` coefficients
    mu = 1 - kap
    g = 2 * sp.sin(th / 2) * sp.sqrt(1 - 2 * mu * sp.cos(th) + mu**2)
    g_ser = sp.series(g, th, 0, n + 1).removeO()
    # theta(s) by undetermined coefficients: g(theta(s)) = s
    a = sp.symbols(f"a1:{n + 1}")
    th_ser = sum(a[k] * s ** (k + 1) for k in range(n))
    resid = sp.expand(sp.series(g_ser.subs(th, th_ser), s, 0, n + 1).removeO()) - s
    sol: dict = {}
    for k in range(1, n + 1):
        ck = sp.expand(resid.coeff(s, k).subs(sol))
        sol[a[k - 1]] = sp.simplify(sp.solve(ck, a[k - 1])[0])
    th_of_s = th_ser.subs(sol)
    psi_small = sp.atan(sp.sin(th) / (sp.cos(th) - mu))
    theta_tau = sp.series(th * sp.Rational(1, 2) + sp.pi / 2 - psi_small, th, 0, n + 1).removeO()
    tau_of_s = sp.series(theta_tau.subs(th, th_of_s) / th_of_s, s, 0, order - 1).removeO()
    tau_of_s = sp.expand(tau_of_s)
    coeffs = []
    for k in range(-1, order - 1):
        ck = tau_of_s.coeff(s, k)
        coeffs.append(sp.factor(sp.simplify(ck.subs(kap, 1 - mu_s))))
    return tuple(coeffs)


def asymptotic_threshold_expr(order: int = 1) -> sp.Expr:
    r"""Asymptotic expansion of the critical delay as :math:`\eta\to 0`, derived with sympy.

    .. math::

        \tau_c = \frac{\pi(1-\mu)}{2\eta c} - \frac{1+\mu}{2(1-\mu)}
                 - \frac{\pi(1-14\mu+\mu^2)}{48(1-\mu)^3}\eta c + \dots

    Parameters
    ----------
    order : int
        Number of terms (1 = leading order, 2 adds the O(1) correction, ...), 1..5.

    Returns
    -------
    sympy.Expr
        In the symbols ``mu``, ``eta`` (shared, :mod:`theory.symbolic`) and ``c_mode``
        (module attributes ``mu_s, eta_s, c_s``).
    """
    order = check_nonnegative_int(order, "order")
    if not 1 <= order <= 5:
        raise ValueError(f"order must be in 1..5, got {order}")
    # orders 1 and 2 share one (cheap) derivation; deeper orders are derived on demand
    eta_s, c_s = _symbols("eta_s", "c_s")
    coeffs = _tau_c_series(max(order, 2))[:order]
    s = eta_s * c_s
    return sum(ck * s**k for ck, k in zip(coeffs, range(-1, order - 1), strict=True))


@lru_cache(maxsize=8)
def _asymptotic_numeric(order: int):
    import sympy as sp

    return sp.lambdify(_symbols("mu_s", "eta_s", "c_s"), asymptotic_threshold_expr(order), modules="numpy")


def asymptotic_threshold(mu, eta, c, *, order: int = 1):
    r"""Numeric twin (``lambdify``) of :func:`asymptotic_threshold_expr`.

    Parameters
    ----------
    mu : float or array_like
        Momentum in [0, 1).
    eta : float or array_like
        Step size > 0.
    c : float or array_like
        Mode rate > 0 (``2 lambda_1`` for the binding radial mode).
    order : int
        Number of terms, 1..5.

    Returns
    -------
    float or ndarray
        The truncated expansion of tau_c (iterations); order 1 is pi (1 - mu) / (2 eta c).
    """
    mu_a = _check_mu_array(mu)
    eta_a = np.asarray(eta, dtype=float)
    if not np.all(np.isfinite(eta_a)) or np.any(eta_a <= 0):
        raise ValueError(f"eta must be finite and > 0, got {eta!r}")
    c_a = np.asarray(c, dtype=float)
    if not np.all(np.isfinite(c_a)) or np.any(c_a <= 0):
        raise ValueError(f"c must be finite and > 0, got {c!r}")
    if order <= 2:  # the closed form of the first two terms: no sympy on the common path
        out = np.asarray(_asymptotic_closed_form(mu_a, eta_a * c_a, order), dtype=float)
    else:
        out = np.asarray(_asymptotic_numeric(order)(mu_a, eta_a, c_a), dtype=float)
    return out[()] if out.ndim == 0 else out


def _asymptotic_closed_form(mu, s, order: int):
    """pi (1-mu)/(2 s) [- (1+mu)/(2(1-mu))]: the first ``order`` (1 or 2) terms of
    :func:`asymptotic_threshold_expr`, written out (``test_asymptotic_closed_form_is_the_derivation``
    checks that sympy's series reversion gives exactly these)."""
    out = math.pi * (1 - mu) / (2 * s)
    return out - (1 + mu) / (2 * (1 - mu)) if order >= 2 else out


def asymptotic_threshold_latex(order: int = 2) -> str:
    """LaTeX of :func:`asymptotic_threshold_expr` (``\\tau_c \\simeq ...``).

    Parameters
    ----------
    order : int
        Number of terms, 1..5.

    Returns
    -------
    str
    """
    import sympy as sp

    return r"\tau_c \simeq " + sp.latex(asymptotic_threshold_expr(order))
