r"""Mean-square stability and stationary error under random staleness (beyond the paper).

The paper's update (5) has a varying delay :math:`\tau_k`, but its analysis (Lemma 1 to
Theorem 9) and :mod:`theory.stability` take it constant; the mean-field threshold of
:func:`theory.stability.mean_field_threshold` averages the delay out of the *mean*, which
says nothing about the fluctuations the random delay itself injects. This module treats a
mode of the linearised recursion (module docstring of :mod:`theory.stability`, rate c,
:math:`s = \eta c`, additive gradient noise of variance :math:`\alpha^2` as in
``compare._common.linearised_variance_u``)

.. math::

    x_{k+1} = (1+\mu) x_k - \mu x_{k-1} - s\, x_{k-\tau_k} + \eta\, \xi_k ,

exactly, for :math:`\tau_k` i.i.d. from a law :math:`p_j` (constant, uniform on
:math:`\{0..2m\}`, geometric untruncated) and for the staleness of a worker pipeline.

Martingale split (i.i.d. delays)
--------------------------------
With :math:`\mathcal F_k` the past, :math:`x_{k-\tau_k} = (p * x)_k + m_k`,
:math:`(p*x)_k = \sum_j p_j x_{k-j}`, and :math:`m_k` a martingale difference with
:math:`E[m_k^2 | \mathcal F_k] = \sum_j p_j x_{k-j}^2 - (p*x)_k^2`, uncorrelated with
:math:`\xi` and with its own past. So :math:`x` is the *mean-field* filter
:math:`G(z) = z / D(z)`, :math:`D(z) = (z-1)(z-\mu) + s z P(1/z)`,
:math:`P(w) = \sum_j p_j w^j`, driven by white noise of variance
:math:`s^2 E m_k^2 + \eta^2\alpha^2`. In a stationary state every :math:`E x_{k-j}^2 = V`:

.. math::

    E m^2 = (s^2 E m^2 + \eta^2\alpha^2)\, J, \quad
    J = \frac{1}{2\pi}\int_{-\pi}^{\pi} \frac{1 - |P(e^{i\theta})|^2}{|D(e^{i\theta})|^2}\,d\theta,
    \qquad V = \frac{\eta^2\alpha^2\, \|G\|_2^2}{1 - s^2 J},
    \quad \|G\|_2^2 = \frac{1}{2\pi}\int \frac{d\theta}{|D|^2}.

**Criterion** (:func:`mean_square_stability`): the recursion is mean-square stable iff the
mean-field recursion is stable (every root of :math:`z^K D(z)` inside the unit circle) and
the *loop gain* :math:`s^2 J < 1`. Proof: :math:`u_k = s^2 E m_k^2` solves a renewal
equation :math:`u_k = F_k + \sum_{n \ge 1} f_n u_{k-n}` with kernel
:math:`f_n = s^2[\sum_j p_j g_{n-j}^2 - (\sum_j p_j g_{n-j})^2] \ge 0` (g the impulse
response of G) and a forcing :math:`F_k` that decays with the mean field; by Parseval
:math:`\sum_n f_n = s^2 J`, and a non-negative renewal equation decays iff its kernel sums
to less than 1. More: the second moments grow or decay like :math:`\lambda^k` with
:math:`\lambda` the spectral radius of the second-moment operator, the smallest
:math:`\lambda` at which the filter scaled by :math:`r = \sqrt\lambda` is stable and
:math:`\Phi(\lambda) = \sum_n f_n \lambda^{-n} < 1` (:func:`mean_square_growth`). A point
mass has :math:`|P| = 1`, :math:`J = 0`: mean-square and deterministic stability coincide
and the threshold is :func:`theory.stability.max_stable_delay` exactly.

Exact evaluation (no quadrature): :math:`1/|D|^2 = 1/|\chi|^2` on the circle,
:math:`\chi(z) = z^K D(z)` of degree n = K + 2, is the spectral density of an AR(n) process
whose autocovariances :math:`\gamma_h` and whose stability (all reflection coefficients
inside (-1, 1)) come from the Schur-Cohn / Levinson recursion (:func:`ar_autocovariances`,
O(n^2)); then :math:`\|G\|^2 = \gamma_0` and
:math:`J = \gamma_0 - \sum_{|h| \le K} r_h \gamma_{|h|}` with :math:`r_h = \sum_j p_j p_{j+h}`
the coefficients of :math:`|P|^2`. **Geometric law** :math:`p_j = (1-q)q^j`,
untruncated: :math:`P(1/z) = (1-q)z/(z-q)`, so :math:`D = C/(z-q)` with the cubic
:math:`C(z) = (z-1)(z-\mu)(z-q) + s(1-q)z^2` and
:math:`1 - |P|^2 = q|z-1|^2/|z-q|^2`; hence :math:`J = 2q(\gamma_0 - \gamma_1)` and
:math:`\|G\|^2 = (1+q^2)\gamma_0 - 2q\gamma_1` with :math:`\gamma` those of AR(3) with
polynomial C: O(1) at any mean delay.

Worker pipeline (not i.i.d.)
----------------------------
:class:`simulate.delays.WorkerPipeline` with M equal-speed workers and Exp(1) compute
times: at every write the residual compute times are i.i.d. Exp(1) (memorylessness), so
the writer :math:`W_k` is uniform on the M workers and independent of the past. The state
:math:`(x_k, x_{k-1}, y_1..y_M)`, :math:`y_m` the value worker m read, is a Markov jump
linear system with i.i.d. modes: :math:`x_{k+1} = (1+\mu)x_k - \mu x_{k-1} - s y_{W_k} +
\eta\xi_k`, then :math:`y_{W_k} \leftarrow x_{k+1}`. Every worker starts from
:math:`v_0` and the workers are exchangeable, so the second moments live on a
7-dimensional invariant subspace (:func:`pipeline_moment_maps`): mean-square stability,
the stationary variance and the growth rate are those of a 7 x 7 matrix, O(1) in M. Its
mean is the geometric mean field with :math:`q = (M-1)/M`; its second moments differ
because consecutive staleness values are dependent.

References: O. L. V. Costa, M. D. Fragoso, R. P. Marques, *Discrete-Time Markov Jump Linear
Systems*, Springer 2005 (second-moment operators); T. Kailath, A. H. Sayed, B. Hassibi,
*Linear Estimation*, Prentice Hall 2000, ch. 4 (Levinson / Schur-Cohn recursion).
Derivation and tables: ``docs/stability.md`` section 6.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import mpmath
import numpy as np
from numba import njit
from scipy.optimize import brentq
from scipy.signal import fftconvolve

from . import stability as _st
from .validation import check_mu, check_nonnegative_int, check_positive_float, check_positive_int

__all__ = [
    "RANDOM_DELAY_KINDS",
    "WorkerPipelineLaw",
    "random_delay_law",
    "ar_autocovariances",
    "ar_autocovariances_reference",
    "MeanSquare",
    "mean_square_stability",
    "mean_square_growth",
    "pipeline_moment_maps",
    "stationary_variance_random",
]

#: Working precision (decimal digits) of the geometric law's closed form.
_MP_DPS = 40
#: Delay kinds, each parametrised by its mean delay m (the ``compare tradeoff`` grid value).
RANDOM_DELAY_KINDS = ("constant", "uniform", "geometric", "pipeline")


@dataclass(frozen=True)
class WorkerPipelineLaw:
    """The staleness of M equal-speed exponential workers (mean M - 1), see the module docstring.

    Attributes
    ----------
    workers : int
        M >= 1 (M = 1 is the synchronous run).
    """

    workers: int

    def __post_init__(self):
        object.__setattr__(self, "workers", check_positive_int(self.workers, "workers"))

    @property
    def mean(self) -> int:
        """Mean staleness M - 1."""
        return self.workers - 1


def random_delay_law(kind: str, mean: int):
    """The delay law of mean ``mean``: :func:`theory.stability.delay_law`, or the pipeline.

    ``"pipeline"`` is :class:`WorkerPipelineLaw` with M = mean + 1 workers (the mapping of
    ``compare tradeoff``); the other kinds are :func:`theory.stability.delay_law` (a point
    mass, uniform on {0..2 mean}, geometric with ratio mean/(mean + 1)).
    """
    if kind not in RANDOM_DELAY_KINDS:
        raise ValueError(f"kind must be one of {', '.join(RANDOM_DELAY_KINDS)}, got {kind!r}")
    m = check_nonnegative_int(mean, "mean")
    if kind == "pipeline":
        return WorkerPipelineLaw(m + 1)
    return _st.delay_law(kind, m)


# ---------------------------------------------------------------------------------------
# exact primitive: AR autocovariances by the Schur-Cohn / Levinson recursion
# ---------------------------------------------------------------------------------------
def ar_autocovariances(chi) -> tuple[bool, np.ndarray | None]:
    r"""Schur stability and autocovariances of the AR process with characteristic polynomial chi.

    For monic :math:`\chi(z) = z^n + a_1 z^{n-1} + \dots + a_n`, the process
    :math:`x_t + \sum_i a_i x_{t-i} = e_t`, Var e = 1, has spectral density
    :math:`1/|\chi(e^{i\theta})|^2`. Step-down: the reflection coefficients
    :math:`k_p = a^{(p)}_p`, :math:`a^{(p-1)}_i = (a^{(p)}_i - k_p a^{(p)}_{p-i})/(1-k_p^2)`;
    every root is strictly inside the unit circle iff every :math:`|k_p| < 1` (Schur-Cohn).
    Step-up: :math:`\gamma_0 = 1/\prod_p (1-k_p^2)`,
    :math:`\gamma_j = -\sum_{i<j} a^{(j-1)}_i \gamma_{j-i} - k_j E_{j-1}` with
    :math:`E_j = \gamma_0 \prod_{p \le j}(1 - k_p^2)` (Levinson-Durbin). O(n^2) time, O(n) memory.

    Parameters
    ----------
    chi : array_like, shape (n + 1,)
        Coefficients, highest power first, leading one non-zero (normalised here).

    Returns
    -------
    (stable, gamma) : (bool, ndarray of shape (n + 1,) or None)
        ``gamma[h]`` = :math:`\frac{1}{2\pi}\int e^{ih\theta}/|\chi|^2 d\theta`, h = 0..n;
        None when not stable (a root on or outside the circle).

    Notes
    -----
    The loops run compiled (:func:`_levinson`, numba); :func:`ar_autocovariances_reference`
    is the same recursion in plain numpy, the oracle the tests hold it to.
    """
    a = _check_chi(chi)
    ok, gamma = _levinson(a[1:] / a[0])
    return (True, gamma) if ok else (False, None)


def _check_chi(chi) -> np.ndarray:
    a = np.asarray(chi, dtype=float)
    if a.ndim != 1 or a.size < 2 or a[0] == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"chi must be a finite 1-d polynomial of degree >= 1, got {chi!r}")
    return a


@njit(cache=True)
def _levinson(a):
    """Compiled :func:`ar_autocovariances` on a_1..a_n (monic); returns (stable, gamma)."""
    n = a.size
    cur = a.copy()
    k = np.empty(n)
    for p in range(n, 0, -1):
        kp = cur[p - 1]
        if not abs(kp) < 1.0:
            return False, np.empty(0)
        k[p - 1] = kp
        scale = 1.0 / (1.0 - kp * kp)
        for i in range((p - 1) // 2 + (p - 1) % 2):  # a_i and a_{p-i} together, in place
            j = p - 2 - i
            ai, aj = cur[i], cur[j]
            cur[i] = (ai - kp * aj) * scale
            cur[j] = (aj - kp * ai) * scale
    gamma = np.empty(n + 1)
    E = 1.0
    for p in range(n):
        E /= 1.0 - k[p] * k[p]
    gamma[0] = E
    ap = np.zeros(n)
    for j in range(1, n + 1):
        kj = k[j - 1]
        acc = 0.0
        for i in range(j - 1):
            acc += ap[i] * gamma[j - 1 - i]
        gamma[j] = -acc - kj * E
        for i in range((j - 1) // 2 + (j - 1) % 2):
            m = j - 2 - i
            ai, am = ap[i], ap[m]
            ap[i] = ai + kj * am
            ap[m] = am + kj * ai
        ap[j - 1] = kj
        E *= 1.0 - kj * kj
    return True, gamma


def ar_autocovariances_reference(chi) -> tuple[bool, np.ndarray | None]:
    """:func:`ar_autocovariances` as plain numpy loops (the tests' oracle; O(n^2), slower)."""
    a = _check_chi(chi)
    cur = a[1:] / a[0]
    n = cur.size
    k = np.empty(n)
    for p in range(n, 0, -1):
        kp = cur[p - 1]
        if not abs(kp) < 1.0:
            return False, None
        k[p - 1] = kp
        cur = (cur[: p - 1] - kp * cur[p - 2 :: -1]) / (1.0 - kp * kp) if p > 1 else cur[:0]
    gamma = np.empty(n + 1)
    E = 1.0 / np.prod(1.0 - k * k)
    gamma[0] = E
    ap = np.zeros(0)
    for j in range(1, n + 1):
        gamma[j] = -(ap @ gamma[j - 1 : 0 : -1]) - k[j - 1] * E
        ap = np.concatenate([ap + k[j - 1] * ap[::-1], [k[j - 1]]])
        E *= 1.0 - k[j - 1] ** 2
    return True, gamma


# ---------------------------------------------------------------------------------------
# i.i.d. laws: the loop transform Phi(lambda) and ||G||^2
# ---------------------------------------------------------------------------------------
def _iid_transform(mu: float, s: float, law, lam: float = 1.0):
    r"""(stable, Phi(lambda), h2(lambda)) of an i.i.d. law (module docstring), lambda > 0.

    With :math:`r = \sqrt\lambda`, :math:`\chi_r(z) = r^{-n}\chi(rz)`,
    :math:`\hat p_j = p_j r^{-j}`, :math:`\hat r_h = \sum_j \hat p_j \hat p_{j+h}`:
    :math:`\Phi = \frac{s^2}{\lambda}[P(1/\lambda)\tilde\gamma_0 - \sum_{|h|\le K}\hat r_h
    \tilde\gamma_{|h|}]` and :math:`h_2 = \tilde\gamma_0/\lambda`, the AR autocovariances
    :math:`\tilde\gamma` of :math:`\chi_r`; at lambda = 1, Phi = s^2 J and h2 = ||G||^2.
    ``stable`` says whether every root of chi is inside the circle of radius r.
    """
    r = math.sqrt(lam)
    if isinstance(law, _st.GeometricDelayLaw):
        return _geometric_transform(mu, s, law.q, lam)
    p = law
    K = p.size - 1
    chi = np.zeros(K + 3)
    chi[:3] = 1.0, -(1.0 + mu), mu
    chi[1 : K + 2] += s * p
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        chi = chi / r ** np.arange(K + 3)
        ph = p / r ** np.arange(K + 1)
        P = float(np.sum(ph / r ** np.arange(K + 1)))  # sum_j p_j lambda^-j
    # r^-K overflows only for r far below 1: treated as unstable (mean_square_growth probes from above)
    if not (np.all(np.isfinite(chi)) and math.isfinite(P)):
        return False, math.inf, math.inf
    ok, g = ar_autocovariances(chi)
    if not ok:
        return False, math.inf, math.inf
    # rh[h] = sum_j ph_j ph_{j+h}, h = 0..K (FFT correlation: O(K log K) instead of O(K^2))
    rh = np.correlate(ph, ph, mode="full")[K:] if K < 64 else fftconvolve(ph, ph[::-1])[K:]
    phi = s * s / lam * (P * g[0] - rh[0] * g[0] - 2.0 * (rh[1:] @ g[1 : K + 1]))
    return True, max(phi, 0.0), g[0] / lam


def _geometric_transform(mu: float, s: float, q: float, lam: float):
    """:func:`_iid_transform` of the untruncated geometric law, in _MP_DPS-digit arithmetic.

    J = 2q(gamma_0 - gamma_1) and ||G||^2 = (1+q^2) gamma_0 - 2q gamma_1 cancel to
    (1 - q)^2 relative (the cubic's roots crowd z = 1 at large mean delays): in float64 they
    would lose 8 digits at mean 1e4, so the AR(3) recursion runs in mpmath (O(1) anyway).
    """
    with mpmath.workdps(_MP_DPS):
        mu_m, s_m, q_m, lam_m = (mpmath.mpf(x) for x in (mu, s, q, lam))
        r = mpmath.sqrt(lam_m)
        # C(z) = (z-1)(z-mu)(z-q) + s(1-q)z^2 = z^3 + c1 z^2 + c2 z + c3, scaled by r: c_i r^-i
        c = [-(1 + mu_m + q_m) + s_m * (1 - q_m), mu_m + q_m + mu_m * q_m, -mu_m * q_m]
        a = [c[i] / r ** (i + 1) for i in range(3)]
        k = [mpmath.mpf(0)] * 3
        cur = a
        for p in range(3, 0, -1):  # Schur-Cohn step-down
            k[p - 1] = cur[p - 1]
            if not abs(k[p - 1]) < 1:
                return False, math.inf, math.inf
            cur = [(cur[i] - k[p - 1] * cur[p - 2 - i]) / (1 - k[p - 1] ** 2) for i in range(p - 1)]
        g0 = 1 / ((1 - k[0] ** 2) * (1 - k[1] ** 2) * (1 - k[2] ** 2))
        g1 = -k[0] * g0  # Levinson: gamma_1 = -k_1 E_0
        b, P = q_m / r, (1 - q_m) / (1 - q_m / lam_m)
        phi = s_m**2 / lam_m * ((P * (1 + b * b) - (1 - q_m) ** 2) * g0 - 2 * P * b * g1)
        h2 = ((1 + b * b) * g0 - 2 * b * g1) / lam_m
        return True, float(phi), float(h2)


def _iid_grid(mu: float, s: float, p: np.ndarray):
    r"""Cheap approximation of (stable, s^2 J, ||G||^2) on a frequency grid (a search guide only).

    N >= 16 (K + 3) points: the winding number of D (2 iff the mean field is stable) and
    the rectangle rule of the two integrals. The slowest roots of a small-s mode (the real
    one near :math:`1 - s/(1-\mu)`, or the pair near the crossing frequency) make peaks of
    :math:`1/|D|^2` too narrow for the grid, so their poles are subtracted and integrated
    exactly (:func:`_slow_poles`). The guide can still misjudge other roots within ~1/N of
    the circle, so every search re-decides its answer with the exact :func:`_iid_transform`.
    """
    K = p.size - 1
    N = 1 << max(12, int(math.ceil(math.log2(16 * (K + 3)))))
    z = np.exp(2j * np.pi * np.arange(N) / N)
    P = np.fft.fft(p, N)  # P(e^{-i theta}) = sum_j p_j e^{-i j theta}
    D = (z - 1.0) * (z - mu) + s * z * P
    winding = np.sum(np.angle(np.roll(D, -1) / D)) / (2.0 * np.pi)
    gain = s * s * float(np.mean((1.0 - np.abs(P) ** 2) / np.abs(D) ** 2))
    roots = _slow_poles(mu, s, p, 1.0 - 64.0 / N) if round(winding) == 2 else []
    # 1/D = S + h, S = sum_k a_k/(z - z_k): mean |1/D|^2 = sum_kl a_k conj(a_l)/(1 - z_k conj(z_l))
    # + 2 Re sum_k a_k h(1/z_k)/z_k (residues; h(1/z) is analytic in the disc) + mean |h|^2
    a = np.array([1.0 / _D(mu, s, p, zk)[1] for zk in roots], dtype=complex)
    zk = np.asarray(roots, dtype=complex)
    S = (a[None, :] / (z[:, None] - zk[None, :])).sum(axis=1) if roots else 0.0
    h2 = float(np.mean(np.abs(1.0 / D - S) ** 2))
    for ak, zkk in zip(a, zk, strict=True):
        h_inv = 1.0 / _D(mu, s, p, 1.0 / zkk)[0] - np.sum(a / (1.0 / zkk - zk))
        h2 += float(np.real(np.sum(ak * np.conj(a) / (1.0 - zkk * np.conj(zk))) + 2.0 * ak * h_inv / zkk))
    return round(winding) == 2, gain, h2


def _D(mu: float, s: float, p: np.ndarray, z: complex):
    """D(z) = (z - 1)(z - mu) + s z P(1/z) and D'(z) at one point (O(K))."""
    j = np.arange(p.size)
    w = np.exp(-j * np.log(complex(z)))  # z^-j
    Pw, jPw = complex(p @ w), complex(p @ (j * w))
    return (z - 1.0) * (z - mu) + s * z * Pw, 2.0 * z - 1.0 - mu + s * Pw - s * jPw


def _slow_poles(mu: float, s: float, p: np.ndarray, r_min: float) -> list:
    """Roots of D with modulus in (r_min, 1) reached by Newton from the real slow root and the
    constant-delay crossing point (conjugates added); the grid guide subtracts their poles."""
    from .stability import crossing_frequency

    if s / (1.0 - mu) > 4.0 * (1.0 - r_min):  # the slow real root is resolved: nothing to do
        return []
    starts = [complex(1.0 - s / (1.0 - mu))]
    if s < 2.0 * (1.0 + mu):
        starts.append(complex(np.exp(1j * float(crossing_frequency(mu, s)))))
    found = []
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for x in starts:
            for _ in range(30):
                f, df = _D(mu, s, p, x)
                if not (np.isfinite(f) and np.isfinite(df)) or df == 0:
                    break
                step = f / df
                x -= step
                if abs(step) <= 1e-14 * abs(x):
                    break
            else:
                continue
            if not (np.isfinite(x) and r_min < abs(x) < 1.0):
                continue
            for y in ([x] if abs(x.imag) < 1e-12 else [x, x.conjugate()]):
                y = complex(y.real, 0.0) if abs(y.imag) < 1e-12 else y
                if all(abs(y - f0) > 1e-9 for f0 in found):
                    found.append(y)
    return found


# ---------------------------------------------------------------------------------------
# worker pipeline: the Markov jump linear system on its exchangeable moments
# ---------------------------------------------------------------------------------------
def pipeline_moment_maps(mu: float, s: float, workers: int):
    r"""First- and second-moment maps of the worker pipeline's mode recursion (module docstring).

    State :math:`(x_k, x_{k-1}, y_1..y_M)`; writer :math:`W_k` uniform; with a = 1 + mu,
    b = -mu, :math:`x' = a x + b x_{-1} - s y_W + \eta\xi`, then :math:`y_W \leftarrow x'`.
    Exchangeable second moments v = (A, B, C, D, E, F, H) =
    (E x^2, E x x_{-1}, E x_{-1}^2, E x y_m, E x_{-1} y_m, E y_m^2, E y_m y_n (m != n)):
    with X = a D + b E - s H (= E x' y_n given W != n),

    .. math::

        A' = a^2 A + 2ab B + b^2 C - 2as D - 2bs E + s^2 F + 1,\quad B' = aA + bB - sD,\quad C' = A,

        D' = \tfrac1M A' + \tfrac{M-1}{M} X,\quad E' = \tfrac1M B' + \tfrac{M-1}{M} D,\quad
        F' = \tfrac1M A' + \tfrac{M-1}{M} F,\quad H' = \tfrac2M X + \tfrac{M-2}{M} H

    (noise variance :math:`\eta^2\alpha^2` = 1 per step; H is absent for M = 1).

    Parameters
    ----------
    mu : float
        Momentum in [0, 1).
    s : float
        eta * c > 0.
    workers : int
        M >= 1.

    Returns
    -------
    (A1, L, b) : ndarray (3, 3), ndarray (7, 7), ndarray (7,)
        Mean map on (E x, E x_{-1}, E y); second-moment map v' = L v + b (unit noise).
    """
    mu = check_mu(mu)
    s = check_positive_float(s, "s")
    M = check_positive_int(workers, "workers")
    a, b = 1.0 + mu, -mu
    A1 = np.array([[a, b, -s], [1.0, 0.0, 0.0], [a / M, b / M, -s / M + (M - 1) / M]])
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
    noise = np.array([1.0, 0.0, 0.0, 1.0 / M, 0.0, 1.0 / M, 0.0])
    return A1, L, noise


# ---------------------------------------------------------------------------------------
# the criterion, the growth rate and the stationary variance
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MeanSquare:
    """Mean and mean-square stability of one mode under one delay law.

    Attributes
    ----------
    mean_stable : bool
        The mean (mean-field) recursion is stable.
    mean_square_stable : bool
        The second moments decay (i.i.d.: mean_stable and loop_gain < 1).
    loop_gain : float
        s^2 J (i.i.d. laws; inf when the mean is unstable; NaN for the pipeline).
    h2 : float
        ||G||^2 of the mean-field filter (inf when the mean is unstable; NaN for the pipeline).
    variance_factor : float
        Stationary Var x / (eta^2 alpha^2): h2 / (1 - loop_gain); inf when not mean-square stable.
    """

    mean_stable: bool
    mean_square_stable: bool
    loop_gain: float
    h2: float
    variance_factor: float

    def as_dict(self) -> dict:
        """A JSON-serialisable dict."""
        return asdict(self)


def _check_law(law):
    if isinstance(law, WorkerPipelineLaw):
        return law
    try:
        return _st._check_law(law)
    except ValueError:
        raise ValueError(
            f"law must be a probability vector, a GeometricDelayLaw or a WorkerPipelineLaw, got {law!r}"
        ) from None


def mean_square_stability(mu: float, s: float, law) -> MeanSquare:
    """The exact mean-square criterion of the module docstring for one mode (s = eta c).

    Parameters
    ----------
    mu : float
        Momentum in [0, 1).
    s : float
        eta * c > 0.
    law : ndarray (K + 1,), GeometricDelayLaw or WorkerPipelineLaw
        E.g. from :func:`random_delay_law`. Cost: O(K^2) for a vector, O(1) otherwise.

    Returns
    -------
    MeanSquare
    """
    mu = check_mu(mu)
    s = check_positive_float(s, "s")
    law = _check_law(law)
    if isinstance(law, WorkerPipelineLaw):
        A1, L, noise = pipeline_moment_maps(mu, s, law.workers)
        mean_ok = bool(np.max(np.abs(np.linalg.eigvals(A1))) < 1.0)
        ms_ok = bool(np.max(np.abs(np.linalg.eigvals(L))) < 1.0)
        factor = float(np.linalg.solve(np.eye(7) - L, noise)[0]) if ms_ok else math.inf
        return MeanSquare(mean_ok, ms_ok, math.nan, math.nan, factor)
    ok, gain, h2 = _iid_transform(mu, s, law)
    ms_ok = bool(ok and gain < 1.0)
    return MeanSquare(bool(ok), ms_ok, gain, h2, h2 / (1.0 - gain) if ms_ok else math.inf)


def mean_square_growth(mu: float, s: float, law, *, rtol: float = 1e-10) -> float:
    r"""Spectral radius lambda of the second-moment operator: E x_k^2 ~ lambda^k.

    Pipeline: the largest eigenvalue modulus of the 7 x 7 map. I.i.d. laws: the smallest
    lambda at which the mean field scaled by sqrt(lambda) is stable and
    :math:`\Phi(\lambda) = \sum_n f_n \lambda^{-n} < 1` (renewal equation of the module
    docstring), to relative ``rtol``: a bracket around 1, then Brent's method on
    Phi - 1 where Phi is finite on it, bisection on the scaled stability otherwise; for a
    point mass (Phi = 0) it is
    :math:`\rho^2`, rho the largest root modulus of the constant-delay polynomial.

    Returns
    -------
    float
        lambda > 0; < 1 iff mean-square stable.
    """
    mu = check_mu(mu)
    s = check_positive_float(s, "s")
    law = _check_law(law)
    if isinstance(law, WorkerPipelineLaw):
        return float(np.max(np.abs(np.linalg.eigvals(pipeline_moment_maps(mu, s, law.workers)[1]))))

    def phi(lam):  # Phi(lambda), inf where the sqrt(lambda)-scaled mean field is unstable
        ok, value, _ = _iid_transform(mu, s, law, lam)
        return value if ok else math.inf

    # bracket lambda in [lo, hi] around 1 (the rates of interest are within 1e-3 of it)
    lo, hi, delta = 1.0, 1.0, 1e-3
    if phi(1.0) < 1.0:
        while phi(lo) < 1.0 and lo > 1e-300:  # every root at 0 only in degenerate cases
            hi, lo, delta = lo, max(1.0 - delta, 0.5 * lo), 4.0 * delta
    else:
        while not phi(hi) < 1.0:
            lo, hi, delta = hi, 1.0 + delta, 4.0 * delta
    while hi - lo > rtol * hi:  # invariant: Phi(hi) < 1 <= Phi(lo)
        f_lo = phi(lo)
        if math.isfinite(f_lo):  # Phi is continuous and decreasing on [lo, hi]: Brent
            return float(brentq(lambda x: phi(x) - 1.0, lo, hi, xtol=rtol * hi, rtol=4 * np.finfo(float).eps))
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if phi(mid) < 1.0 else (mid, hi)
    return hi


def stationary_variance_random(alpha: float, c: float, eta: float, mu: float, law) -> float:
    r"""Exact stationary variance of x_k / sqrt(eta) under a random delay law (u units).

    The random-delay version of ``compare._common.linearised_variance_u``: noise
    :math:`\eta\xi_k`, Var :math:`\xi = \alpha^2`; returns
    :math:`\eta\alpha^2 \|G\|^2 / (1 - s^2 J)` (i.i.d.) or the pipeline's stationary
    E x^2 / eta; inf when not mean-square stable. For a point mass it is the Lyapunov
    solution of the constant-delay companion form.

    Parameters
    ----------
    alpha : float
        Noise standard deviation > 0 (alpha_{i1} for tangent mode i).
    c : float
        Mode rate > 0.
    eta : float
        Step size > 0.
    mu : float
        Momentum in [0, 1).
    law : ndarray, GeometricDelayLaw or WorkerPipelineLaw
    """
    alpha = check_positive_float(alpha, "alpha")
    c = check_positive_float(c, "c")
    eta = check_positive_float(eta, "eta")
    return float(eta * alpha**2 * mean_square_stability(mu, eta * c, law).variance_factor)
