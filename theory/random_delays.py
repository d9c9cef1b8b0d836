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

**Point mass and uniform law in closed form** (:func:`_point_mass_h2`,
:func:`_uniform_moments`): the Yule-Walker equations of G reduce, away from a few boundary
rows, to a constant-coefficient recursion with a reflected index, solved by
:math:`\lambda^h + \rho\lambda^{K'-h}` with :math:`\lambda` a root of a palindromic quartic
(point mass) or sextic (uniform, after one difference), i.e. of a quadratic in
:math:`\lambda + 1/\lambda`; two or three boundary rows fix the coefficients and the window
sums telescope, so :math:`\|G\|^2` and J cost O(1) at any delay. Mean-field stability: the
point mass is stable iff :math:`\tau \le` :func:`theory.stability.max_stable_delay`; the
uniform law by D-subdivision in s at fixed K (:func:`_uniform_mean_stable`, a handful of
crossing frequencies). The tests hold them to the Levinson path, FFT quadrature and the dense
second-moment operator.

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

import cmath
import math
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

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

    Parameters
    ----------
    kind : str
        One of :data:`RANDOM_DELAY_KINDS`.
    mean : int
        Mean delay >= 0.

    Returns
    -------
    ndarray of shape (K + 1,), GeometricDelayLaw or WorkerPipelineLaw
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
    ok, gamma = _levinson_kernel()(a[1:] / a[0])
    return (True, gamma) if ok else (False, None)


def _check_chi(chi) -> np.ndarray:
    a = np.asarray(chi, dtype=float)
    if a.ndim != 1 or a.size < 2 or a[0] == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"chi must be a finite 1-d polynomial of degree >= 1, got {chi!r}")
    return a


_KERNEL = []


def _levinson_kernel():
    """:func:`_levinson` compiled by numba on first use (cached on disk; numba loads in ~0.6 s)."""
    if not _KERNEL:
        from numba import njit

        _KERNEL.append(njit(cache=True)(_levinson))
    return _KERNEL[0]


def _levinson(a):
    """:func:`ar_autocovariances` on a_1..a_n (monic), run compiled by :func:`_levinson_kernel`."""
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
    """:func:`ar_autocovariances` as plain numpy loops (the tests' oracle; O(n^2), slower).

    Parameters
    ----------
    chi : array_like, shape (n + 1,)
        Coefficients, highest power first.

    Returns
    -------
    (stable, gamma) : (bool, ndarray of shape (n + 1,) or None)
    """
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
    ``stable`` says whether every root of chi is inside the circle of radius r. At lambda = 1
    a point mass or a uniform law takes the closed forms (:func:`_closed_form`, O(1)), any
    other vector the Levinson path (:func:`_levinson_transform`, O(K^2)).
    """
    if isinstance(law, _st.GeometricDelayLaw):
        return _geometric_transform(mu, s, law.q, lam)
    if lam == 1.0:
        closed = _closed_form(mu, s, law)
        if closed is not None:
            return closed
    return _levinson_transform(mu, s, law, lam)


def _levinson_transform(mu: float, s: float, p: np.ndarray, lam: float = 1.0):
    """:func:`_iid_transform` of a probability vector by the AR autocovariances of chi_r (O(K^2))."""
    r = math.sqrt(lam)
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
    if K < 64:
        rh = np.correlate(ph, ph, mode="full")[K:]
    else:  # |FFT|^2 on >= 2K + 1 points: the linear autocorrelation, no wrap-around (numpy only)
        n = 1 << (2 * K + 1).bit_length()
        rh = np.fft.irfft(np.abs(np.fft.rfft(ph, n)) ** 2, n)[: K + 1]
    phi = s * s / lam * (P * g[0] - rh[0] * g[0] - 2.0 * (rh[1:] @ g[1 : K + 1]))
    return True, max(phi, 0.0), g[0] / lam


def _geometric_transform(mu: float, s: float, q: float, lam: float):
    """:func:`_iid_transform` of the untruncated geometric law, in _MP_DPS-digit arithmetic.

    J = 2q(gamma_0 - gamma_1) and ||G||^2 = (1+q^2) gamma_0 - 2q gamma_1 cancel to
    (1 - q)^2 relative (the cubic's roots crowd z = 1 at large mean delays): in float64 they
    would lose 8 digits at mean 1e4, so the AR(3) recursion runs in mpmath (O(1) anyway).
    """
    import mpmath

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


# ---------------------------------------------------------------------------------------
# point masses and uniform laws: closed forms, O(1) at any delay
# ---------------------------------------------------------------------------------------
#: Smallest momentum of the closed forms (their second root pair 1/lambda ~ 1/mu degenerates
#: as mu -> 0); below it, and for lambda != 1, the Levinson path.
_CLOSED_FORM_MIN_MU = 0.01


def _structure(p: np.ndarray) -> str | None:
    """``"constant"`` for a point mass at K >= 1, ``"uniform"`` for equal weights on {0..K}, K >= 2."""
    K = p.size - 1
    if K >= 1 and p[K] == 1.0 and not np.any(p[:K]):
        return "constant"
    if K >= 2 and np.all(p == p[0]):
        return "uniform"
    return None


def _cexpm1(x: complex) -> complex:
    """exp(x) - 1 for complex x without cancellation (numpy's expm1 is real only)."""
    re, im = x.real, x.imag
    if re == 0.0:
        return complex(-2.0 * math.sin(0.5 * im) ** 2, math.sin(im))
    if im == 0.0:
        return complex(math.expm1(re), 0.0)
    return complex(math.expm1(re) * math.cos(im) - 2.0 * math.sin(0.5 * im) ** 2, math.exp(re) * math.sin(im))


def _geometric_sum(ell: complex, lo: int, hi: int) -> complex:
    """sum_{i=lo}^{hi} e^{i ell} (hi >= lo - 1), by expm1 (no cancellation as ell -> 0)."""
    return cmath.exp(lo * ell) * _cexpm1((hi - lo + 1) * ell) / _cexpm1(ell)


def _root_logs(mu: float, b: float, c: float) -> list[complex]:
    r"""log(lambda) of one root of each reciprocal pair solving :math:`\mu d^2 + b d - c = 0`.

    :math:`d = 2 - \lambda - 1/\lambda` (c > 0, so one root d > 0 and one d < 0): d in
    (0, 4] is :math:`\lambda = e^{i\theta}`, :math:`d = 4\sin^2(\theta/2)`; d < 0 a real
    :math:`\lambda \in (0, 1)`; d > 4 a real :math:`\lambda \in (-1, 0)`. Cancellation-free
    quadratic formula (the small root d ~ s^2 or s/K is the one that matters).
    """
    r = math.sqrt(b * b + 4.0 * mu * c)
    out = []
    for d in (2.0 * c / (b + r), -(b + r) / (2.0 * mu)):
        if 0.0 <= d <= 4.0:
            out.append(complex(0.0, 2.0 * math.asin(0.5 * math.sqrt(d))))
        elif d < 0.0:
            e = -d  # 1/lambda = 1 + e/2 + sqrt(e + e^2/4)
            out.append(complex(-math.log1p(0.5 * e + math.sqrt(e + 0.25 * e * e)), 0.0))
        else:
            t = 2.0 - d
            out.append(complex(math.log(-0.5 * (t + math.sqrt(t * t - 4.0))), math.pi))
    return out


def _point_mass_h2(mu: float, s: float, tau: int) -> float:
    r""":math:`\|G\|^2 = \gamma_0` of a constant delay tau >= 1 in closed form (mean field stable).

    Yule-Walker equations of the unit-noise recursion, :math:`a = 1+\mu`, :math:`b = -\mu`:
    :math:`\gamma_h = a\gamma_{h-1} + b\gamma_{h-2} - s\gamma_{|h-1-\tau|}` (h >= 1) and
    :math:`\gamma_0 = a\gamma_1 + b\gamma_2 - s\gamma_{\tau+1} + 1`. For 2 <= h <= tau + 1 the
    reflected index is :math:`\tau+1-h`, and :math:`\phi(h) = \lambda^h + \rho\lambda^{\tau+1-h}`
    solves them iff :math:`\rho = -A(\lambda)/(s\lambda^2)`, :math:`A(\lambda) =
    (\lambda-1)(\lambda-\mu)`, and :math:`A(\lambda)A(1/\lambda) = s^2`, i.e.
    :math:`\mu d^2 + (1-\mu)^2 d - s^2 = 0` in :math:`d = 2 - \lambda - 1/\lambda` (the
    crossing condition :math:`|A(e^{i\theta})| = s` of :mod:`theory.stability`). One root per
    reciprocal pair spans the two-dimensional solution space; the equations at h = 1
    (:math:`\gamma_{-1} = \gamma_1`) and h = 0 fix the two coefficients. O(1).
    """
    M, g0 = [[0j, 0j], [0j, 0j]], [0j, 0j]
    for i, ell in enumerate(_root_logs(mu, (1.0 - mu) ** 2, s * s)):
        lam, lam_m1 = cmath.exp(ell), _cexpm1(ell)
        rho = -lam_m1 * (lam - mu) / (s * lam * lam)
        top = cmath.exp((tau + 1) * ell)  # lambda^(tau + 1)
        M[0][i] = -2.0 * cmath.sinh(ell) * (1.0 - rho * top)  # phi(-1) - phi(1)
        # phi(0) - a phi(1) - b phi(2) + s phi(tau + 1), with 1 - a x - b x^2 = (1 - x)(1 - mu x)
        M[1][i] = -lam_m1 * (1.0 - mu * lam) - rho * top * _cexpm1(-ell) * (1.0 - mu / lam) + s * (top + rho)
        g0[i] = 1.0 + rho * top
    det = M[0][0] * M[1][1] - M[0][1] * M[1][0]  # Cramer, right-hand side (0, 1)
    return ((M[0][0] * g0[1] - M[0][1] * g0[0]) / det).real


def _uniform_moments(mu: float, s: float, K: int) -> tuple[float, float]:
    r"""(||G||^2, loop gain s^2 J) of the uniform law on {0..K}, K >= 2, in closed form (mean field stable).

    With :math:`\sigma = s/(K+1)` the Yule-Walker equations read :math:`E_h:\ \gamma_h -
    a\gamma_{h-1} - b\gamma_{|h-2|} + \sigma\sum_{j=0}^{K}\gamma_{|h-1-j|} = 0` (h >= 1) and
    :math:`E_0` (the same with :math:`\gamma_{j+1}` in the sum, right-hand side 1). The
    differences :math:`E_h - E_{h-1}`, 3 <= h <= K + 1, are a constant-coefficient
    recursion with reflected index K + 2 - h, solved by 1 and
    :math:`\phi(h) = \lambda^h + \rho\lambda^{K+2-h}` with :math:`\rho = B(\lambda)/(\sigma\lambda^3)`,
    :math:`B(\lambda) = (\lambda-1)^2(\lambda-\mu) + \sigma\lambda^2`, :math:`B(\lambda)B(1/\lambda)
    = \sigma^2`, i.e. :math:`\mu d^2 + ((1-\mu)^2 - \sigma\mu) d - 2\sigma(1-\mu) = 0`;
    :math:`E_0, E_1, E_2` (window sums in closed form) fix the three coefficients. Then
    :math:`\sum_{|h|\le K} r_h\gamma_{|h|} = \sum_j p_j \sum_l p_l\gamma_{|j-l|}`, and
    :math:`E_{j+1}` gives each inner sum, so it telescopes (1 - a - b = 0) to
    :math:`J = \gamma_0 - [\gamma_0 - \gamma_{K+1} + \mu(\gamma_K - \gamma_1)]/(s(K+1))`. O(1).
    """
    sg = s / (K + 1)
    # column 0: the constant solution (sigma (K + 1) = s in every E_h)
    M, g0, dJ = [[s, 0j, 0j], [s, 0j, 0j], [s, 0j, 0j]], [1.0, 0j, 0j], [0.0, 0j, 0j]
    logs = _root_logs(mu, (1.0 - mu) ** 2 - sg * mu, 2.0 * sg * (1.0 - mu))
    for i, ell in enumerate(logs, start=1):
        lam, lam_m1 = cmath.exp(ell), _cexpm1(ell)
        rho = (lam_m1 * lam_m1 * (lam - mu) + sg * lam * lam) / (sg * lam**3)
        lK = cmath.exp(K * ell)

        def window(lo, hi, ell=ell, rho=rho):  # sum_{i=lo}^{hi} phi(i)
            return _geometric_sum(ell, lo, hi) + rho * _geometric_sum(ell, K + 2 - hi, K + 2 - lo)

        # E_0: phi(0) - a phi(1) - b phi(2) + sigma sum_1^{K+1} phi;  (1 - x)(1 - mu x) = 1 - a x - b x^2
        M[0][i] = -lam_m1 * (1.0 - mu * lam) - rho * lK * lam * lam * _cexpm1(-ell) * (1.0 - mu / lam)
        M[0][i] += sg * window(1, K + 1)
        # E_1: (1 + mu)(phi(1) - phi(0)) + sigma sum_0^K phi
        M[1][i] = (1.0 + mu) * lam_m1 * (1.0 - rho * lK * lam) + sg * window(0, K)
        # E_2: phi(2) - a phi(1) - b phi(0) + sigma (phi(1) + sum_0^{K-1} phi)
        M[2][i] = lam_m1 * (lam - mu) - rho * lK * lam_m1 * (1.0 - mu * lam)
        M[2][i] += sg * (lam + rho * lK * lam + window(0, K - 1))
        g0[i] = 1.0 + rho * lK * lam * lam  # phi(0)
        # phi(0) - phi(K+1) + mu (phi(K) - phi(1)) = (1 - rho lam)(1 - lam^(K+1) + mu (lam^K - lam))
        dJ[i] = (1.0 - rho * lam) * (-_cexpm1((K + 1) * ell) + mu * lam * _cexpm1((K - 1) * ell))
    # M c = (1, 0, 0): c is the first row of the cofactor matrix over det (Cramer)
    cof = (
        M[1][1] * M[2][2] - M[1][2] * M[2][1],
        M[1][2] * M[2][0] - M[1][0] * M[2][2],
        M[1][0] * M[2][1] - M[1][1] * M[2][0],
    )
    det = M[0][0] * cof[0] + M[0][1] * cof[1] + M[0][2] * cof[2]
    h2 = (sum(c * g for c, g in zip(cof, g0, strict=True)) / det).real
    dj = (sum(c * d for c, d in zip(cof, dJ, strict=True)) / det).real
    return h2, s * s * (h2 - dj / (s * (K + 1)))


def _uniform_crossings(mu: float, s: float, K: int) -> list[tuple[float, float]]:
    r"""(s_n, theta_n): the s <= ``s`` at which a root of the uniform law's mean field is on the circle.

    D-subdivision in s at fixed K: :math:`D(e^{i\theta}) = 0` iff
    :math:`s = -(e^{i\theta}-1)(e^{i\theta}-\mu)/(e^{i\theta}P(e^{-i\theta}))` is real and
    positive. With :math:`P(e^{-i\theta}) = e^{-iK\theta/2}\,\mathrm{Dk}(\theta)`,
    :math:`\mathrm{Dk} = \sin((K+1)\theta/2)/((K+1)\sin(\theta/2))`, that is
    :math:`\psi(\theta) = \arg(e^{i\theta}-\mu) + (K-1)\theta/2 - \pi/2 = n\pi` (psi increases
    from -pi/2, one theta_n per n >= 0) with :math:`(-1)^n\mathrm{Dk}(\theta_n) > 0`, at
    :math:`s_n = 2\sin(\theta_n/2)|e^{i\theta_n}-\mu|/|\mathrm{Dk}(\theta_n)|`. Since
    :math:`|\mathrm{Dk}| \le 1/((K+1)\sin(\theta/2))`, :math:`s_n \ge 2(K+1)(1-\mu)\sin^2(\theta_n/2)`:
    only theta below that bound can give s_n <= s, a handful of n (O(1) work).
    """
    x = math.sqrt(s / (2.0 * (K + 1) * (1.0 - mu)))
    theta_max = math.pi if x >= 1.0 else 2.0 * math.asin(x)

    def psi(th):
        return math.atan2(math.sin(th), math.cos(th) - mu) + 0.5 * (K - 1) * th - 0.5 * math.pi

    def dpsi(th):
        return (1.0 - mu * math.cos(th)) / (1.0 - 2.0 * mu * math.cos(th) + mu * mu) + 0.5 * (K - 1)

    out = []
    for n in range(math.floor(psi(theta_max) / math.pi) + 1):
        target, lo, hi = n * math.pi, 0.0, theta_max  # psi(lo) < target <= psi(hi)
        th = min(2.0 * (target + 0.5 * math.pi) / (K + 1), hi)
        for _ in range(200):  # Newton, safeguarded by the bracket
            f = psi(th) - target
            lo, hi = (lo, th) if f > 0 else (th, hi)
            new = th - f / dpsi(th)
            if not lo < new < hi:
                new = 0.5 * (lo + hi)
            done = abs(new - th) <= 4e-16 * th
            th = new
            if done:
                break
        dk = math.sin(0.5 * (K + 1) * th) / ((K + 1) * math.sin(0.5 * th))
        if dk * (-1.0 if n % 2 else 1.0) <= 0.0:
            continue  # that frequency is a crossing for some s < 0 only
        s_n = 2.0 * math.sin(0.5 * th) * abs(cmath.exp(1j * th) - mu) / abs(dk)
        if s_n <= s:
            out.append((s_n, th))
    return out


def _uniform_mean_stable(mu: float, s: float, K: int) -> bool:
    """Every root of the uniform law's mean field strictly inside the circle (exact D-subdivision).

    Stable iff :func:`_uniform_roots_outside` is 0 (-1, a root on the circle: not stable).
    """
    return _uniform_roots_outside(mu, s, K) == 0


def _uniform_roots_outside(mu: float, s: float, K: int) -> int:
    """Number of roots of the uniform law's mean field outside the unit circle (-1: one on it).

    As s -> 0+ every root is inside (K + 1 near 0, one at mu, one at 1 - s/(1 - mu)); each
    crossing of :func:`_uniform_crossings` below s moves a pair (one root at theta = pi) out
    or in, by the sign of :math:`\\mathrm{Re}(\\bar z\\, dz/ds)`,
    :math:`dz/ds = -zP(1/z)/D'(z)`.
    """
    outside = 0
    for s_n, th in _uniform_crossings(mu, s, K):
        if s_n == s:
            return -1
        z, w, one_w = cmath.exp(1j * th), cmath.exp(-1j * th), -_cexpm1(-1j * th)  # w = 1/z
        P = _geometric_sum(-1j * th, 0, K) / (K + 1)  # P(1/z)
        jP = (w - (K + 1) * w ** (K + 1) + K * w ** (K + 2)) / ((K + 1) * one_w * one_w)  # sum_j j p_j w^j
        dz = -z * P / (2.0 * z - 1.0 - mu + s_n * (P - jP))  # D'(z) = 2z - 1 - mu + s (P - jP)
        mult = 1 if th >= math.pi * (1.0 - 1e-12) else 2
        outside += mult if (z.conjugate() * dz).real > 0.0 else -mult
    return outside


@lru_cache(maxsize=256)
def _max_stable_delay(mu: float, s: float) -> int:
    return _st.max_stable_delay(mu, s)


def _closed_form(mu: float, s: float, p: np.ndarray):
    """(stable, loop gain, ||G||^2) of a point mass or uniform law by the closed forms, else None."""
    if p.size == 1:  # no delay: AR(2) x' = (1 + mu - s) x - mu x_-1 + e, stable iff s < 2 (1 + mu)
        if _max_stable_delay(mu, s) < 0:
            return False, math.inf, math.inf
        return True, 0.0, (1.0 + mu) / ((1.0 - mu) * s * (2.0 * (1.0 + mu) - s))
    kind = _structure(p) if mu >= _CLOSED_FORM_MIN_MU else None
    K = p.size - 1
    if kind == "constant":
        # |P| = 1: no martingale part; stable iff tau <= the deterministic threshold (exact)
        if K > _max_stable_delay(mu, s):
            return False, math.inf, math.inf
        return True, 0.0, _point_mass_h2(mu, s, K)
    if kind == "uniform":
        if not _uniform_mean_stable(mu, s, K):
            return False, math.inf, math.inf
        h2, gain = _uniform_moments(mu, s, K)
        return True, max(gain, 0.0), h2
    return None


def _D(mu: float, s: float, p: np.ndarray, z: complex):
    """D(z) = (z - 1)(z - mu) + s z P(1/z) and D'(z) at one point (O(K))."""
    j = np.arange(p.size)
    w = np.exp(-j * np.log(complex(z)))  # z^-j
    Pw, jPw = complex(p @ w), complex(p @ (j * w))
    return (z - 1.0) * (z - mu) + s * z * Pw, 2.0 * z - 1.0 - mu + s * Pw - s * jPw


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
        """A JSON-serialisable dict.

        Returns
        -------
        dict
            The five fields by name.
        """
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


def _point_mass_radius(mu: float, s: float, tau: int, rtol: float) -> float | None:
    r"""Largest root modulus of :math:`z^\tau(z-1)(z-\mu) + sz` by Newton, certified; None if not.

    A root at angle theta has modulus about :math:`(s/|A(e^{i\theta})|)^{1/(\tau-1)}`, largest
    for the smallest angle allowed by the phase condition
    :math:`(\tau-1)\theta + \arg A(e^{i\theta}) = \pi` (the branch that crosses the circle at
    :func:`theory.stability.critical_delay`), unless the real root near :math:`1 - s/(1-\mu)`
    is larger. Newton on :math:`D(z) = A(z) + s z^{1-\tau}` from both; the larger root
    :math:`\rho_*` is a lower bound, and one Schur-Cohn test of the polynomial scaled by
    :math:`\rho_*(1 + r_{tol}/4)` (every root inside) the certificate that it is the largest.
    """
    if tau < 2 or mu < _CLOSED_FORM_MIN_MU:
        return None

    def newton(z):
        for _ in range(60):
            zt = cmath.exp(-tau * cmath.log(z))  # z^-tau
            f = (z - 1.0) * (z - mu) + s * z * zt
            df = 2.0 * z - 1.0 - mu + s * (1.0 - tau) * zt
            step = f / df
            z -= step
            if abs(step) <= 1e-15 * abs(z):
                return z
        return None

    th = 0.5 * math.pi / tau
    for _ in range(60):  # the phase condition by fixed point (arg A ~ pi/2 near theta = 0)
        a = cmath.phase((cmath.exp(1j * th) - 1.0) * (cmath.exp(1j * th) - mu))
        th = (math.pi - a) / (tau - 1)
    a_mod = abs((cmath.exp(1j * th) - 1.0) * (cmath.exp(1j * th) - mu))
    starts = [(s / a_mod) ** (1.0 / (tau - 1)) * cmath.exp(1j * th), complex(1.0 - s / (1.0 - mu))]
    roots = [z for z in (newton(z0) for z0 in starts) if z is not None and abs(z) > 0.0]
    if not roots:
        return None
    rho = max(abs(z) for z in roots)
    r = rho * (1.0 + 0.25 * rtol)
    chi = np.zeros(tau + 3)
    chi[:3] = 1.0, -(1.0 + mu), mu
    chi[tau + 1] += s
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        chi = chi / r ** np.arange(tau + 3)
    if not np.all(np.isfinite(chi)) or not _schur_stable(chi):
        return None
    return rho


def _schur_stable(chi: np.ndarray) -> bool:
    """Every root of chi strictly inside the unit circle: the Schur-Cohn step-down of
    :func:`ar_autocovariances` alone, in numpy (O(n^2) flops, n vector steps; no numba to load)."""
    cur = chi[1:] / chi[0]
    for p in range(cur.size, 0, -1):
        kp = cur[p - 1]
        if not abs(kp) < 1.0:
            return False
        cur = (cur[: p - 1] - kp * cur[p - 2 :: -1]) / (1.0 - kp * kp) if p > 1 else cur[:0]
    return True


def mean_square_growth(mu: float, s: float, law, *, rtol: float = 1e-10) -> float:
    r"""Spectral radius lambda of the second-moment operator: E x_k^2 ~ lambda^k.

    Pipeline: the largest eigenvalue modulus of the 7 x 7 map. I.i.d. laws: the smallest
    lambda at which the mean field scaled by sqrt(lambda) is stable and
    :math:`\Phi(\lambda) = \sum_n f_n \lambda^{-n} < 1` (renewal equation of the module
    docstring), to relative ``rtol``: a bracket around 1, then Brent's method on
    Phi - 1 where Phi is finite on it, bisection on the scaled stability otherwise; for a
    point mass (Phi = 0) it is :math:`\rho^2`, rho the largest root modulus of the
    constant-delay polynomial (:func:`_point_mass_radius`: Newton and one certifying
    Schur-Cohn test, the bisection when the certificate fails).

    Parameters
    ----------
    mu : float
        Momentum in [0, 1).
    s : float
        eta * c > 0.
    law : ndarray (K + 1,), GeometricDelayLaw or WorkerPipelineLaw
        Cost: O(K^2) per evaluation for a vector (one to ~40 evaluations), O(1) otherwise.
    rtol : float
        Relative accuracy of lambda.

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
    if isinstance(law, np.ndarray) and _structure(law) == "constant":
        rho = _point_mass_radius(mu, s, law.size - 1, rtol)
        if rho is not None:
            return rho * rho
    from scipy.optimize import brentq

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

    Returns
    -------
    float
        Var(x_k) / eta in the stationary state (inf when not mean-square stable).
    """
    alpha = check_positive_float(alpha, "alpha")
    c = check_positive_float(c, "c")
    eta = check_positive_float(eta, "eta")
    return float(eta * alpha**2 * mean_square_stability(mu, eta * c, law).variance_factor)
