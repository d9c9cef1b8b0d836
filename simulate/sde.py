r"""The OU limits of eq. (8) (Theorem 5) and Theorem 9: exact sampler and steppers.

In the rescaled coordinates :math:`u = (h - e_j)/\sqrt{\eta}` each coordinate
:math:`i \ne j` of the limit is an independent Ornstein-Uhlenbeck process

.. math::

    dU^{(i)} = a_i\, U^{(i)}\,dt + b_i\, dB^{(i)}_t, \qquad
    a_i = \frac{\lambda_i - \lambda_j}{1-\mu}, \quad b_i = \frac{\alpha_{i,j}}{1-\mu},

stable at the optimum (j = 1, eq. (8)) and unstable in the directions i < j at a saddle
(j >= 2, Theorem 9). The coefficients come from :func:`theory.sde.ou_coefficients`
(wrapped by :meth:`OU.from_problem`), never retyped here. Time is in ODE units
(:math:`t = k\eta`).

Three layers, kept apart (as in diffrax):

* the **equation**: :class:`OU` (drift ``a`` and diffusion ``b``, shape (m,));
* the **noise**: Brownian increments ``dW`` of shape (n_steps, n_paths, m), from
  :func:`brownian_increments`, or jointly with the exact solution from
  :func:`exact_ou_with_increments`;
* the **stepper**: a small class with ``step(ou, u, dt, dW)`` that declares its
  ``strong_order`` and ``weak_order`` as attributes (for additive noise, which is all
  an OU has): :class:`EulerMaruyama`, :class:`DriftHeun` (what ``sdeint.itoSRI2``
  reduces to for additive noise), :class:`StochasticHeun`, :class:`ExponentialEuler`.

:func:`integrate` drives a stepper with given increments (the plain reference loop,
for pathwise comparisons); :func:`simulate_ou` draws its own noise for large ensembles,
with the exact Gaussian transition (``method="exact"``, no step error) or a stepper, in
a compiled numba loop (no noise arrays in memory) or a numpy loop over memory-bounded
chunks of noise, in parallel over blocks of paths.

Reproducibility (the **stream definition**, shared with :mod:`simulate.diffusion`): the
paths are split into consecutive blocks of :data:`PATH_BLOCK` paths (the last one may be
shorter). The caller's ``numpy.random.Generator`` is used exactly once per call, to draw a
128-bit key (two uint64 words, ``rng.integers(0, 2**64, size=2, dtype=np.uint64)``), so it
advances by the same amount whatever ``n_paths``, the engine or the thread count. Block b
draws from its own ``Generator(PCG64(SeedSequence(entropy=key, spawn_key=(b,))))`` (the
b-th child of ``SeedSequence(key).spawn``, derived by content), time-major within the
block: the same numbers as ``standard_normal((n_steps, n_paths_in_block, m))``. Blocks
are independent, so they run in parallel (``threads``) and the result is bit-identical
whatever the number of threads, the engine (numba's inline draw from a Generator is the
same stream as numpy's array fill; tested) or the memory chunk size ``block_steps``.
Whole blocks do not depend on ``n_paths``: the first ``k * PATH_BLOCK`` paths of a run are
the same for any larger ``n_paths``. :func:`brownian_increments` materialises the same
stream, so :func:`simulate_ou` is :func:`integrate` driven by
``brownian_increments(rng, t, n_paths, m)`` of an identically seeded ``rng``.
(:func:`exact_ou_with_increments`, the reference of the strong-order tests, keeps a plain
single-stream layout of its own.)

References
----------
P. E. Kloeden and E. Platen, *Numerical Solution of Stochastic Differential Equations*,
Springer, 1992 (orders of Euler-Maruyama and Heun for additive noise: Sections 10.2,
11.1, 15.1).
A. Roessler, "Runge-Kutta methods for the strong approximation of solutions of
stochastic differential equations", SIAM J. Numer. Anal. 48(3), 2010 (SRI2).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np
from numba import njit

from theory.problem import Problem
from theory.sde import ou_coefficients, ou_transition_variance
from theory.validation import check_positive_int

__all__ = [
    "PATH_BLOCK",
    "OU",
    "Stepper",
    "EulerMaruyama",
    "DriftHeun",
    "StochasticHeun",
    "ExponentialEuler",
    "STEPPERS",
    "check_time_grid",
    "brownian_increments",
    "integrate",
    "ou_exact_step",
    "simulate_ou",
    "exact_ou_with_increments",
]

#: Paths per random stream: **part of the stream definition** (changing it changes every
#: result; see the module docstring). 4096 paths x m coordinates per step keep a block's
#: state (96 KiB at m = 3) in a core's L2 cache and give 25 independent blocks for 1e5
#: paths, enough to balance a few threads; the per-block cost of deriving a Generator
#: (tens of microseconds) is negligible against 4096 paths' worth of normals.
PATH_BLOCK = 4096

#: Default memory budget (number of float64 normals) of one chunk of noise per path block
#: in the numpy engines: 2**21 doubles = 16 MiB per thread. A speed/memory trade-off only;
#: results do not depend on it.
_BLOCK_DOUBLES = 2**21


# -- validation helpers ---------------------------------------------------------------
def check_time_grid(t, name: str = "t", *, equal: bool = False, rtol: float = 1e-9) -> np.ndarray:
    """A time grid: 1-d, finite, strictly increasing, at least 2 points.

    Parameters
    ----------
    t : array_like, shape (n_t,)
        Times in ODE units (t = k * eta).
    name : str
        Parameter name used in the error message.
    equal : bool
        Also require equal steps (to relative tolerance ``rtol`` of the mean step).
    rtol : float
        Relative tolerance of the equal-steps check.

    Returns
    -------
    ndarray, shape (n_t,), float64

    Raises
    ------
    ValueError
        Message starting with ``name``.
    """
    try:
        t = np.asarray(t, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a 1-d array of times, got {t!r}") from None
    if t.ndim != 1 or t.size < 2:
        raise ValueError(f"{name} must be a 1-d array of at least 2 times, got shape {t.shape}")
    if not np.all(np.isfinite(t)):
        raise ValueError(f"{name} must be finite")
    steps = np.diff(t)
    if np.any(steps <= 0.0):
        raise ValueError(f"{name} must be strictly increasing (every step > 0), min step {steps.min():.3g}")
    if equal:
        mean = (t[-1] - t[0]) / steps.size
        if np.max(np.abs(steps - mean)) > rtol * mean:
            raise ValueError(
                f"{name} must have equal steps for this integrator "
                f"(steps range from {steps.min():.6g} to {steps.max():.6g})"
            )
    return t


def _check_real_vector(x, name: str, m: int | None = None) -> np.ndarray:
    try:
        x = np.array(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of real numbers, got {x!r}") from None
    x = np.atleast_1d(x)
    if x.ndim != 1:
        raise ValueError(f"{name} must be 1-d, got shape {x.shape}")
    if m is not None and x.size != m:
        raise ValueError(f"{name} must have length {m}, got {x.size}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} must be finite")
    return x


def _check_u0(u0, m: int, n_paths: int | None = None, name: str = "u0") -> np.ndarray:
    """u0 of shape (m,) or (n_paths, m); returns shape (n_paths, m) (a fresh array)."""
    try:
        u0 = np.array(u0, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of real numbers") from None
    if u0.ndim == 0:
        u0 = np.full(m, float(u0))
    if u0.ndim == 1:
        if u0.shape != (m,):
            raise ValueError(f"{name} must have shape ({m},) or (n_paths, {m}), got {u0.shape}")
        if n_paths is None:
            raise ValueError(f"{name} of shape ({m},) needs n_paths")
        u0 = np.broadcast_to(u0, (n_paths, m)).copy()
    elif u0.ndim == 2:
        if u0.shape[1] != m or (n_paths is not None and u0.shape[0] != n_paths):
            raise ValueError(f"{name} must have shape ({m},) or ({n_paths}, {m}), got {u0.shape}")
    else:
        raise ValueError(f"{name} must have shape ({m},) or (n_paths, {m}), got {u0.shape}")
    if not np.all(np.isfinite(u0)):
        raise ValueError(f"{name} must be finite")
    return u0


def _check_generator(rng, name: str = "rng") -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"{name} must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _phi1(x):
    """phi_1(x) = (e^x - 1)/x, = 1 at x = 0 (accurate for small |x| via expm1)."""
    x = np.asarray(x, dtype=float)
    safe = np.where(x == 0.0, 1.0, x)
    return np.where(x == 0.0, 1.0, np.expm1(x) / safe)


# -- the random stream: independent path blocks ---------------------------------------------
def _path_blocks(n_paths: int) -> list[tuple[int, int]]:
    """[lo, hi) path ranges of the blocks of :data:`PATH_BLOCK` paths (the last may be shorter)."""
    return [(lo, min(lo + PATH_BLOCK, n_paths)) for lo in range(0, n_paths, PATH_BLOCK)]


def _stream_key(rng: np.random.Generator) -> list[int]:
    """The 128-bit key of a call: the only draw from the caller's Generator (a fixed amount)."""
    return [int(w) for w in rng.integers(0, 2**64, size=2, dtype=np.uint64)]


def _block_rng(key: list[int], block: int) -> np.random.Generator:
    """Generator of path block ``block``: PCG64 seeded by ``SeedSequence(key, spawn_key=(block,))``."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy=key, spawn_key=(block,))))


def _check_threads(threads, n_blocks: int) -> int:
    """Worker threads to use: ``threads`` (default ``numba.config.NUMBA_NUM_THREADS``), at most n_blocks."""
    if threads is None:
        threads = int(numba.config.NUMBA_NUM_THREADS)
    threads = check_positive_int(threads, "threads")
    return max(1, min(threads, n_blocks))


def _run_blocks(work: Callable[[int], object], n_blocks: int, threads: int) -> None:
    """Call ``work(b)`` for every block b, on ``threads`` threads (in the caller's thread if 1).

    The blocks touch disjoint slices of the output and own their generators, so the order
    in which they run does not matter. The compiled kernels release the GIL (``nogil``).
    """
    if threads <= 1:
        for block in range(n_blocks):
            work(block)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(work, range(n_blocks)):
            pass


# -- the equation -----------------------------------------------------------------------
@dataclass(frozen=True)
class OU:
    r"""A diagonal OU system :math:`dU = a \odot U\,dt + b \odot dW` (m independent coordinates).

    Parameters
    ----------
    drift : array_like, shape (m,)
        a_i (any sign: a_i < 0 stable, eq. (8); a_i > 0 unstable, Theorem 9).
    diffusion : array_like, shape (m,)
        b_i >= 0.
    coords : array_like of int, shape (m,), optional
        1-based labels of the coordinates (the paper's i); 1..m by default.
    """

    drift: np.ndarray
    diffusion: np.ndarray
    coords: np.ndarray | None = None

    def __post_init__(self):
        a = _check_real_vector(self.drift, "drift")
        b = _check_real_vector(self.diffusion, "diffusion", a.size)
        if np.any(b < 0):
            raise ValueError(f"diffusion must be >= 0, got {b.tolist()}")
        coords = np.arange(1, a.size + 1) if self.coords is None else np.asarray(self.coords, dtype=int)
        if coords.shape != a.shape:
            raise ValueError(f"coords must have shape {a.shape}, got {coords.shape}")
        for arr in (a, b, coords):
            arr.setflags(write=False)
        object.__setattr__(self, "drift", a)
        object.__setattr__(self, "diffusion", b)
        object.__setattr__(self, "coords", coords)

    @classmethod
    def from_problem(cls, problem: Problem, mu: float, j: int = 1) -> OU:
        """The OU limit at e_j: eq. (8) for j = 1 (Theorem 5), Theorem 9 for j >= 2.

        Coefficients from :func:`theory.sde.ou_coefficients`; the m = d - 1 coordinates are
        the i != j in increasing order.

        Parameters
        ----------
        problem : Problem
            Spectrum and distribution (alpha_ij of Theorem 5).
        mu : float
            Momentum in [0, 1).
        j : int
            The critical point e_j (1 = the optimum).

        Returns
        -------
        OU
        """
        c = ou_coefficients(problem, mu, j)
        return cls(c.drift, c.diffusion, c.coords)

    @property
    def m(self) -> int:
        """Number of coordinates (= number of Brownian motions)."""
        return int(self.drift.size)

    def transition_mean_factor(self, dt: float) -> np.ndarray:
        """exp(a dt), shape (m,): E[U_{t+dt} | U_t] = exp(a dt) U_t (the OU solution of eq. (8)).

        Parameters
        ----------
        dt : float
            Time step (ODE units).

        Returns
        -------
        ndarray, shape (m,)
        """
        return np.exp(self.drift * dt)

    def transition_std(self, dt: float) -> np.ndarray:
        """sqrt(Var[U_{t+dt} | U_t]), shape (m,), from :func:`theory.sde.ou_transition_variance`.

        Parameters
        ----------
        dt : float
            Time step (ODE units).

        Returns
        -------
        ndarray, shape (m,)
            sqrt(b^2 (exp(2 a dt) - 1) / (2 a)) (b^2 dt at a = 0).
        """
        return np.sqrt(ou_transition_variance(self.drift, self.diffusion, dt))


# -- the steppers -----------------------------------------------------------------------
class Stepper:
    """Base class of the one-step schemes for the OU system (additive noise).

    An implementer provides :meth:`step` and declares, as class attributes,

    ``strong_order``
        order p of ``E|U_N - U(T)|^2)^{1/2} = O(dt^p)`` pathwise (same Brownian path);
    ``weak_order``
        order q of ``|E g(U_N) - E g(U(T))| = O(dt^q)`` for smooth g;

    both **for additive noise** (all an OU has; for multiplicative noise Euler-Maruyama
    drops to strong order 0.5). The tests read these attributes and regress
    log(error) on log(dt) against the exact OU solution. A stepper must be a pure
    function of ``(ou, u, dt, dW)``, vectorised over paths, and must not modify ``u``.
    """

    name: str = "stepper"
    strong_order: float
    weak_order: float
    #: Scheme code of the compiled loop in :func:`simulate_ou` (0: none, use ``step``).
    #: Only set where the kernel repeats ``step``'s arithmetic operation for operation.
    _kernel: int = 0

    def step(self, ou: OU, u: np.ndarray, dt: float, dW: np.ndarray) -> np.ndarray:
        """One step of size dt.

        Parameters
        ----------
        ou : OU
        u : ndarray, shape (n_paths, m)
        dt : float > 0
        dW : ndarray, shape (n_paths, m)
            Brownian increments over the step (variance dt).

        Returns
        -------
        ndarray, shape (n_paths, m)
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class EulerMaruyama(Stepper):
    r"""Euler-Maruyama: :math:`U_{n+1} = U_n + a U_n\,dt + b\,\Delta W_n`.

    For additive noise the Milstein correction vanishes, so EM *is* Milstein: strong order
    1 (Kloeden-Platen Sec. 10.2-10.3), weak order 1. Same arithmetic as
    ``sdeint.itoEuler`` (so the two agree to rounding on shared increments).
    """

    name = "euler"
    strong_order = 1.0
    weak_order = 1.0
    _kernel = 1

    def step(self, ou, u, dt, dW):
        """U + a U dt + b dW.

        Parameters
        ----------
        ou : OU
            Drift a and diffusion b of eq. (8) (or Theorem 9).
        u : ndarray, shape (n_paths, m)
            State at the start of the step (not modified).
        dt : float
            Step > 0.
        dW : ndarray, shape (n_paths, m)
            Brownian increments over the step (variance dt).

        Returns
        -------
        ndarray, shape (n_paths, m)
            The state after the step.
        """
        return u + (ou.drift * u) * dt + ou.diffusion * dW


class DriftHeun(Stepper):
    r"""Heun in the drift only: what ``sdeint.itoSRI2`` (Roessler 2010) reduces to for additive noise.

    .. math::

        \bar U = U_n + a U_n\,dt, \qquad
        U_{n+1} = U_n + \tfrac12 (a U_n + a \bar U)\,dt + b\,\Delta W_n .

    (For additive noise SRI2's diffusion stages cancel exactly and its iterated
    integrals drop out.) Strong order 1, weak order 1: the mean is second order but
    the one-step variance :math:`b^2 dt` misses the :math:`b^2 a\,dt^2` term of the exact
    :math:`b^2(e^{2a\,dt} - 1)/(2a)`.
    """

    name = "sri2_additive"
    strong_order = 1.0
    weak_order = 1.0
    _kernel = 2

    def step(self, ou, u, dt, dW):
        """Predictor U + a U dt, then the trapezoidal drift plus b dW.

        Parameters
        ----------
        ou : OU
            Drift a and diffusion b of eq. (8) (or Theorem 9).
        u : ndarray, shape (n_paths, m)
            State at the start of the step (not modified).
        dt : float
            Step > 0.
        dW : ndarray, shape (n_paths, m)
            Brownian increments over the step (variance dt).

        Returns
        -------
        ndarray, shape (n_paths, m)
            The state after the step.
        """
        # Same order of operations as sdeint's _Roessler2010_SRK2 with constant G.
        fnh = (ou.drift * u) * dt
        fn1h = (ou.drift * (u + fnh)) * dt
        return u + 0.5 * (fnh + fn1h) + ou.diffusion * dW


class StochasticHeun(Stepper):
    r"""Stochastic Heun with the noise in the predictor (additive noise).

    .. math::

        \bar U = U_n + a U_n\,dt + b\,\Delta W_n, \qquad
        U_{n+1} = U_n + \tfrac12 (a U_n + a \bar U)\,dt + b\,\Delta W_n .

    Strong order 1; weak order 2 for additive noise (Kloeden-Platen Sec. 15.1): on the
    OU its one-step mean factor is :math:`1 + x + x^2/2` and its one-step variance
    :math:`b^2 dt (1 + x/2)^2`, both matching the exact law to :math:`O(dt^3)`, x = a dt.
    """

    name = "heun"
    strong_order = 1.0
    weak_order = 2.0
    _kernel = 3

    def step(self, ou, u, dt, dW):
        """Predictor with the noise, then the trapezoidal drift plus the same noise.

        Parameters
        ----------
        ou : OU
            Drift a and diffusion b of eq. (8) (or Theorem 9).
        u : ndarray, shape (n_paths, m)
            State at the start of the step (not modified).
        dt : float
            Step > 0.
        dW : ndarray, shape (n_paths, m)
            Brownian increments over the step (variance dt).

        Returns
        -------
        ndarray, shape (n_paths, m)
            The state after the step.
        """
        noise = ou.diffusion * dW
        f0 = ou.drift * u
        ubar = u + f0 * dt + noise
        return u + 0.5 * (f0 + ou.drift * ubar) * dt + noise


class ExponentialEuler(Stepper):
    r"""Exponential (exact-in-drift) Euler for the OU.

    .. math::

        U_{n+1} = e^{a\,dt} U_n + b\,\varphi_1(a\,dt)\,\Delta W_n, \qquad
        \varphi_1(x) = (e^x - 1)/x .

    The noise term is :math:`E[\int_0^{dt} e^{a(dt-s)}dW_s \mid \Delta W_n]`, the best
    mean-square predictor of the exact noise given the increment only: strong order 1
    (the best possible from increments alone, Clark-Cameron); the mean is exact and the
    one-step variance :math:`b^2 dt\,\varphi_1(x)^2 = b^2 dt (1 + x + 7x^2/12 + \dots)`
    matches the exact :math:`b^2 dt (1 + x + 2x^2/3 + \dots)` to :math:`O(dt^3)`: weak
    order 2. Unconditionally stable for a < 0.
    """

    name = "exponential"
    strong_order = 1.0
    weak_order = 2.0
    _kernel = 4

    def step(self, ou, u, dt, dW):
        """exp(a dt) U + b phi_1(a dt) dW.

        Parameters
        ----------
        ou : OU
            Drift a and diffusion b of eq. (8) (or Theorem 9).
        u : ndarray, shape (n_paths, m)
            State at the start of the step (not modified).
        dt : float
            Step > 0.
        dW : ndarray, shape (n_paths, m)
            Brownian increments over the step (variance dt).

        Returns
        -------
        ndarray, shape (n_paths, m)
            The state after the step.
        """
        x = ou.drift * dt
        return np.exp(x) * u + (ou.diffusion * _phi1(x)) * dW


#: The steppers by name.
STEPPERS: dict[str, type[Stepper]] = {
    cls.name: cls for cls in (EulerMaruyama, DriftHeun, StochasticHeun, ExponentialEuler)
}


def _get_stepper(method) -> Stepper:
    if isinstance(method, Stepper):
        return method
    if isinstance(method, type) and issubclass(method, Stepper):
        return method()
    if isinstance(method, str) and method in STEPPERS:
        return STEPPERS[method]()
    raise ValueError(f"method must be 'exact', one of {sorted(STEPPERS)} or a Stepper, got {method!r}")


# -- noise ------------------------------------------------------------------------------
def brownian_increments(rng: np.random.Generator, t, n_paths: int, m: int) -> np.ndarray:
    """Independent Brownian increments on the grid t, from the block stream of :func:`simulate_ou`.

    Parameters
    ----------
    rng : numpy.random.Generator
        Used once, for the 128-bit key of the path blocks (see the module docstring).
    t : array_like, shape (n_t,)
        Strictly increasing time grid (ODE units).
    n_paths, m : int >= 1
        Number of paths and of Brownian motions.

    Returns
    -------
    dW : ndarray, shape (n_t - 1, n_paths, m)
        ``sqrt(t[k+1] - t[k]) * z``; for each block of :data:`PATH_BLOCK` paths, z is its
        Generator's ``standard_normal((n_t - 1, n_paths_in_block, m))`` (time-major). The
        same numbers drive :func:`simulate_ou` and :func:`simulate.diffusion.simulate_diffusion`
        for an identically seeded ``rng``.
    """
    rng = _check_generator(rng)
    t = check_time_grid(t)
    n_paths = check_positive_int(n_paths, "n_paths")
    m = check_positive_int(m, "m")
    key = _stream_key(rng)
    z = np.empty((t.size - 1, n_paths, m))
    for block, (lo, hi) in enumerate(_path_blocks(n_paths)):
        z[:, lo:hi] = _block_rng(key, block).standard_normal((t.size - 1, hi - lo, m))
    z *= np.sqrt(np.diff(t))[:, None, None]
    return z


def _check_dW(dW, n_steps: int, n_paths: int | None, m: int, name: str = "dW") -> np.ndarray:
    try:
        dW = np.asarray(dW, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of real numbers") from None
    expected = (n_steps, n_paths if n_paths is not None else "n_paths", m)
    if dW.ndim != 3 or dW.shape[0] != n_steps or dW.shape[2] != m or (
        n_paths is not None and dW.shape[1] != n_paths
    ):
        raise ValueError(f"{name} must have shape (n_steps, n_paths, m) = {expected}, got {dW.shape}")
    if not np.all(np.isfinite(dW)):
        raise ValueError(f"{name} must be finite")
    return dW


# -- integration ------------------------------------------------------------------------
def integrate(stepper, ou: OU, u0, t, dW) -> np.ndarray:
    """Drive a stepper with given Brownian increments (pathwise; the reference loop).

    Parameters
    ----------
    stepper : Stepper, Stepper subclass or name (see :data:`STEPPERS`)
    ou : OU
    u0 : array_like, shape (m,) or (n_paths, m)
    t : array_like, shape (n_t,)
        Strictly increasing grid (steps may be unequal).
    dW : array_like, shape (n_t - 1, n_paths, m)

    Returns
    -------
    U : ndarray, shape (n_t, n_paths, m)
        ``U[0]`` is u0.
    """
    stepper = _get_stepper(stepper)
    if not isinstance(ou, OU):
        raise ValueError(f"ou must be an OU, got {type(ou).__name__}")
    t = check_time_grid(t)
    dW = _check_dW(dW, t.size - 1, None, ou.m)
    u = _check_u0(u0, ou.m, dW.shape[1])
    out = np.empty((t.size, u.shape[0], ou.m))
    out[0] = u
    dts = np.diff(t)
    for k in range(dts.size):
        u = stepper.step(ou, u, float(dts[k]), dW[k])
        out[k + 1] = u
    return out


def ou_exact_step(ou: OU, u: np.ndarray, dt: float, z: np.ndarray) -> np.ndarray:
    """One exact Gaussian transition: ``exp(a dt) u + sd(dt) z`` with z standard normal.

    Exact for any sign of a (eq. (8) stable, Theorem 9 unstable); the variance is
    :func:`theory.sde.ou_transition_variance` (expm1-accurate, = b^2 dt at a = 0).

    Parameters
    ----------
    ou : OU
        Drift a and diffusion b (eq. (8) or Theorem 9).
    u : ndarray, shape (..., m)
        State.
    dt : float
        Time step (ODE units).
    z : ndarray, shape (..., m)
        Standard normal draws.

    Returns
    -------
    ndarray, shape (..., m)
        The state dt later.
    """
    return ou.transition_mean_factor(dt) * u + ou.transition_std(dt) * z


def _check_record(record, n_t: int) -> np.ndarray:
    if record is None:
        return np.arange(n_t)
    try:
        rec = np.asarray(record)
    except (TypeError, ValueError):
        raise ValueError("record must be an array of integer indices into t") from None
    if rec.ndim == 0:
        rec = rec[None]
    if rec.ndim != 1 or rec.size == 0 or not np.issubdtype(rec.dtype, np.integer):
        raise ValueError(f"record must be a non-empty 1-d array of integer indices into t, got {record!r}")
    rec = np.where(rec < 0, rec + n_t, rec)
    if np.any(rec < 0) or np.any(rec >= n_t) or np.any(np.diff(rec) <= 0):
        raise ValueError(f"record must be strictly increasing indices in [0, {n_t}), got {record!r}")
    return rec


@njit(cache=True, nogil=True)
def _ou_kernel(rng, u, out, lo, hi, keep, slot, scheme, a, b, dts, sq, E, C):  # pragma: no cover - compiled
    """The compiled loop of :func:`simulate_ou` for the paths [lo, hi) of one block.

    One standard normal per (step, path, coordinate) from the block's Generator ``rng``,
    in the order of ``rng.standard_normal((n_steps, hi - lo, m))``; repeats, operation for
    operation, the numpy arithmetic of ``ou_exact_step`` (scheme 0) and of the built-in
    steppers' ``step`` (1 euler, 2 sri2_additive, 3 heun, 4 exponential), so it is
    bit-identical to the numpy loop (tested). E, C: per-step coefficients (exp(a dt) and
    the noise factor) for schemes 0 and 4, computed by numpy. Writes only u[lo:hi] and
    out[:, lo:hi]; releases the GIL so blocks run in parallel threads.
    """
    m = u.shape[1]
    for k in range(dts.size):
        dt = dts[k]
        for p in range(lo, hi):
            for i in range(m):
                z = rng.standard_normal()
                x = u[p, i]
                if scheme == 0:
                    x = E[k, i] * x + C[k, i] * z
                else:
                    dw = z * sq[k]
                    if scheme == 1:
                        x = x + (a[i] * x) * dt + b[i] * dw
                    elif scheme == 2:
                        fnh = (a[i] * x) * dt
                        fn1h = (a[i] * (x + fnh)) * dt
                        x = x + 0.5 * (fnh + fn1h) + b[i] * dw
                    elif scheme == 3:
                        noise = b[i] * dw
                        f0 = a[i] * x
                        xbar = x + f0 * dt + noise
                        x = x + 0.5 * (f0 + a[i] * xbar) * dt + noise
                    else:
                        x = E[k, i] * x + C[k, i] * dw
                u[p, i] = x
        if keep[k + 1]:
            s = slot[k + 1]
            for p in range(lo, hi):
                for i in range(m):
                    out[s, p, i] = u[p, i]


_KERNEL_STEPPERS = (EulerMaruyama, DriftHeun, StochasticHeun, ExponentialEuler)


def simulate_ou(
    ou: OU,
    u0,
    t,
    *,
    n_paths: int,
    rng: np.random.Generator,
    method="exact",
    record=None,
    block_steps: int | None = None,
    engine: str = "numba",
    threads: int | None = None,
) -> np.ndarray:
    """Ensemble of OU paths on the grid t, drawing its own noise.

    Parameters
    ----------
    ou : OU
        e.g. ``OU.from_problem(problem, mu, j)`` (eq. (8) for j = 1, Theorem 9 otherwise).
    u0 : array_like, shape (m,) or (n_paths, m)
        Start in u units, ``u = (h - e_j)/sqrt(eta)``.
    t : array_like, shape (n_t,)
        Strictly increasing grid in ODE units; one step per interval.
    n_paths : int >= 1
    rng : numpy.random.Generator
        Used once, for the key of the independent streams of the blocks of
        :data:`PATH_BLOCK` paths (module docstring); each block's stream is consumed
        time-major, per step (n_paths_in_block, m) standard normals in C order.
    method : 'exact' or a stepper name/instance
        'exact': the exact Gaussian transition over each interval (no step error, any
        step sizes, stable or unstable drift). Otherwise the stepper with
        ``dW = sqrt(dt) z`` from the same normals.
    record : array_like of int, optional
        Indices into t of the times to keep (default: all). Use e.g. ``[-1]`` for large
        ensembles to keep memory at O(n_paths).
    block_steps : int, optional
        Steps of noise drawn per chunk by the numpy engine (memory only).
    engine : {"numba", "numpy"}
        "numba": one compiled loop drawing each normal where it is used (no noise arrays;
        the exact sampler and the built-in steppers); "numpy": the vectorised loop over
        chunks of pre-drawn noise (any Stepper). Both give bit-identical results.
    threads : int >= 1, optional
        Path blocks run in parallel on this many threads (default
        ``numba.config.NUMBA_NUM_THREADS``, i.e. the number of cores or the
        ``NUMBA_NUM_THREADS`` environment variable). Results do not depend on it.

    Returns
    -------
    U : ndarray, shape (len(record), n_paths, m)
    """
    if not isinstance(ou, OU):
        raise ValueError(f"ou must be an OU, got {type(ou).__name__}")
    rng = _check_generator(rng)
    t = check_time_grid(t)
    n_paths = check_positive_int(n_paths, "n_paths")
    rec = _check_record(record, t.size)
    if engine not in ("numba", "numpy"):
        raise ValueError(f"engine must be 'numba' or 'numpy', got {engine!r}")
    exact = isinstance(method, str) and method == "exact"
    stepper = None if exact else _get_stepper(method)
    m = ou.m
    blocks = _path_blocks(n_paths)
    threads = _check_threads(threads, len(blocks))
    if block_steps is None:
        block_steps = max(1, _BLOCK_DOUBLES // (min(n_paths, PATH_BLOCK) * m))
    block_steps = check_positive_int(block_steps, "block_steps")
    u = _check_u0(u0, m, n_paths)
    out = np.empty((rec.size, n_paths, m))
    keep = np.zeros(t.size, dtype=bool)
    keep[rec] = True
    slot = np.cumsum(keep) - 1
    if keep[0]:
        out[0] = u
    dts = np.diff(t)
    sq = np.sqrt(dts)
    a, b = ou.drift, ou.diffusion
    # Per-step coefficients of the exact transition and of the exponential scheme.
    E = np.exp(a[None, :] * dts[:, None])
    if exact:
        C = np.sqrt(ou_transition_variance(a[None, :], b[None, :], dts[:, None]))
    else:
        C = b[None, :] * _phi1(a[None, :] * dts[:, None])
    key = _stream_key(rng)

    if engine == "numba" and (exact or type(stepper) in _KERNEL_STEPPERS):
        scheme = 0 if exact else stepper._kernel

        def work(block):
            lo, hi = blocks[block]
            _ou_kernel(_block_rng(key, block), u, out, lo, hi, keep, slot, scheme, a, b, dts, sq, E, C)

    else:

        def work(block):
            lo, hi = blocks[block]
            g = _block_rng(key, block)
            ub = u[lo:hi]
            for start in range(0, dts.size, block_steps):
                stop = min(start + block_steps, dts.size)
                z = g.standard_normal((stop - start, hi - lo, m))
                for k in range(start, stop):
                    zk = z[k - start]
                    if exact:
                        ub = E[k] * ub + C[k] * zk
                    else:
                        zk *= sq[k]
                        ub = stepper.step(ou, ub, float(dts[k]), zk)
                    if keep[k + 1]:
                        out[slot[k + 1], lo:hi] = ub

    _run_blocks(work, len(blocks), threads)
    return out


def exact_ou_with_increments(ou: OU, u0, t, *, n_paths: int, rng: np.random.Generator):
    r"""The exact OU solution on the grid t *and* the Brownian increments that drive it.

    Over each interval of length dt the pair :math:`(\Delta W, \Delta I)` with
    :math:`\Delta I = \int_0^{dt} e^{a(dt-s)}dW_s` is jointly Gaussian with
    :math:`\mathrm{Var}\,\Delta W = dt`,
    :math:`\mathrm{Cov}(\Delta W, \Delta I) = dt\,\varphi_1(a\,dt)` and
    :math:`\mathrm{Var}\,\Delta I = (e^{2a\,dt} - 1)/(2a)`; sampling it exactly gives
    :math:`U_{k+1} = e^{a\,dt}U_k + b\,\Delta I_k`, the exact solution driven by the same
    Brownian path as the increments. Coarser grids use sums of the increments. This is
    the reference of the strong-order tests.

    Parameters
    ----------
    ou : OU
    u0 : array_like, shape (m,) or (n_paths, m)
    t : array_like, shape (n_t,), strictly increasing
    n_paths : int
    rng : numpy.random.Generator
        Consumed as (n_t - 1, 2, n_paths, m) standard normals, time-major.

    Returns
    -------
    U : ndarray, shape (n_t, n_paths, m)
        Exact solution at the grid times.
    dW : ndarray, shape (n_t - 1, n_paths, m)
        The Brownian increments of the same path.
    """
    if not isinstance(ou, OU):
        raise ValueError(f"ou must be an OU, got {type(ou).__name__}")
    rng = _check_generator(rng)
    t = check_time_grid(t)
    n_paths = check_positive_int(n_paths, "n_paths")
    u = _check_u0(u0, ou.m, n_paths)
    a, b = ou.drift, ou.diffusion
    dts = np.diff(t)
    z = rng.standard_normal((dts.size, 2, n_paths, ou.m))
    U = np.empty((t.size, n_paths, ou.m))
    U[0] = u
    dW = np.empty((dts.size, n_paths, ou.m))
    for k, dt in enumerate(dts):
        x = a * dt
        cov = dt * _phi1(x)
        var_i = ou_transition_variance(a, np.ones_like(a), dt)
        # Conditional variance of Delta I given Delta W; >= 0 by Cauchy-Schwarz, clipped
        # at 0 against rounding when a dt is tiny.
        cond = np.maximum(var_i - cov**2 / dt, 0.0)
        dW[k] = np.sqrt(dt) * z[k, 0]
        dI = (cov / dt) * dW[k] + np.sqrt(cond) * z[k, 1]
        u = np.exp(x) * u + b * dI
        U[k + 1] = u
    return U, dW
