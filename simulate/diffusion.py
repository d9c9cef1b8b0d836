r"""The full small-noise diffusion (beyond the paper), integrated for ensembles.

.. math::

    dH = M(H)\,dt + \frac{\sqrt{\eta}}{1-\mu}\, B(H)\, dW_t, \qquad
    M(h) = \frac{\Lambda h - h^\top\Lambda h\, h}{1-\mu}\ \text{(ODE (7))}, \qquad
    B B^\top = \mathrm{Cov}[(I - hh^\top) Y Y^\top h],

in eigen-coordinates :math:`H = Q^\top V` (so any eigenbasis Q gives the same H; V = Q H),
time in ODE units :math:`t = k\eta`. The drift is :func:`theory.ode.ode_drift`; the noise
factor :math:`B` is :func:`theory.diffusion.gradient_noise_factor` (exact chaos-expansion
columns for the built-in distributions, symmetric square root of a Monte Carlo covariance
for user samplers). Its linearisations at :math:`e_1` and at the saddles are eq. (8) and
Theorem 9 (:func:`theory.diffusion.linearise_diffusion`); unlike them it holds from the
saddle through to the optimum.

:class:`DiffusionEuler` is Euler-Maruyama (multiplicative noise: strong order 1/2, weak
order 1); :func:`integrate_diffusion` drives it with given increments (the reference
loop, comparable pathwise with sdeint); :func:`simulate_diffusion` draws its own noise for
ensembles in a compiled numba loop (built-in distributions) or a numpy loop over
memory-bounded chunks. Its random numbers follow the stream definition of
:mod:`simulate.sde`: independent blocks of :data:`simulate.sde.PATH_BLOCK` paths, each
with its own Generator derived by content from one 128-bit key drawn from the caller's
``rng``, consumed time-major within the block, so the blocks run in parallel threads. The
same seed gives the same paths whatever the chunk size or the number of threads (bit for
bit within an engine; to rounding across engines, whose summation orders differ), and
they are the paths :func:`integrate_diffusion` gives with
``simulate.sde.brownian_increments`` of an identically seeded ``rng``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from theory.diffusion import FOURTH_MOMENT, gradient_noise_factor, linearise_diffusion, noise_dimension
from theory.distributions import Gaussian, Rademacher
from theory.ode import ode_drift
from theory.problem import Problem
from theory.validation import check_eta, check_mu, check_positive_int

from .sde import (
    _BLOCK_DOUBLES,
    PATH_BLOCK,
    _block_rng,
    _check_dW,
    _check_generator,
    _check_record,
    _check_threads,
    _check_u0,
    _path_blocks,
    _run_blocks,
    _stream_key,
    check_time_grid,
)

__all__ = ["FullDiffusion", "DiffusionEuler", "integrate_diffusion", "simulate_diffusion"]


@dataclass(frozen=True)
class FullDiffusion:
    r"""The full diffusion for one (problem, mu, eta).

    Parameters
    ----------
    problem : Problem
    mu : float in [0, 1)
    eta : float > 0
        Step size of update (5); the noise scale is sqrt(eta)/(1-mu).
    """

    problem: Problem
    mu: float
    eta: float

    def __post_init__(self):
        if not isinstance(self.problem, Problem):
            raise ValueError(f"problem must be a theory.Problem, got {type(self.problem).__name__}")
        object.__setattr__(self, "mu", check_mu(self.mu))
        object.__setattr__(self, "eta", check_eta(self.eta))

    @property
    def d(self) -> int:
        """Dimension d of the data."""
        return self.problem.d

    @property
    def m(self) -> int:
        """Number of Brownian motions (:func:`theory.diffusion.noise_dimension`)."""
        return noise_dimension(self.problem)

    @property
    def noise_scale(self) -> float:
        """sqrt(eta)/(1 - mu)."""
        return float(np.sqrt(self.eta) / (1.0 - self.mu))

    def drift(self, h: np.ndarray) -> np.ndarray:
        """M(h) of ODE (7), shape (..., d): the drift of the full diffusion.

        Parameters
        ----------
        h : ndarray, shape (..., d)
            State in eigen-coordinates.

        Returns
        -------
        ndarray, shape (..., d)
            (Lambda h - (h^T Lambda h) h) / (1 - mu).
        """
        return ode_drift(h, self.problem.lambda_, self.mu)

    def diffusion_matrix(self, h: np.ndarray) -> np.ndarray:
        """sqrt(eta)/(1-mu) B(h), shape (..., d, m) (reference form, builds the matrix).

        Parameters
        ----------
        h : ndarray, shape (..., d)
            State in eigen-coordinates.

        Returns
        -------
        ndarray, shape (..., d, m)
            The diffusion coefficient (:func:`theory.diffusion.gradient_noise_factor` scaled).
        """
        return self.noise_scale * gradient_noise_factor(self.problem, h)

    def noise(self, h: np.ndarray, dW: np.ndarray) -> np.ndarray:
        r"""sqrt(eta)/(1-mu) B(h) dW without building B, shape (n, d); h, dW of shape (n, d), (n, m).

        For the built-ins, :math:`F(h)\,dW = \Lambda^{1/2} W \Lambda^{1/2} h` with W the
        symmetric matrix holding the pair increments off the diagonal and
        :math:`\sqrt{m_4 - 1}` times the square increments on it (zero for Rademacher);
        then :math:`B\,dW = P F dW`. Tested against :meth:`diffusion_matrix`.

        Parameters
        ----------
        h : ndarray, shape (n, d)
            States in eigen-coordinates.
        dW : ndarray, shape (n, m)
            Brownian increments (variance dt).

        Returns
        -------
        ndarray, shape (n, d)
            The noise increment of one step.
        """
        dist = self.problem.dist
        if not isinstance(dist, (Gaussian, Rademacher)):
            return np.einsum("nak,nk->na", self.diffusion_matrix(h), dW)
        d = self.d
        a_idx, c_idx = np.triu_indices(d, 1)
        n_pairs = a_idx.size
        W = np.zeros((h.shape[0], d, d))
        W[:, a_idx, c_idx] = dW[:, :n_pairs]
        W[:, c_idx, a_idx] = dW[:, :n_pairs]
        m4 = FOURTH_MOMENT[dist.name]
        if m4 > 1:
            idx = np.arange(d)
            W[:, idx, idx] = np.sqrt(m4 - 1.0) * dW[:, n_pairs:]
        sq = np.sqrt(self.problem.lambda_)
        f = sq * np.einsum("nac,nc->na", W, sq * h)
        f -= h * np.sum(h * f, axis=1, keepdims=True)
        return self.noise_scale * f

    def linearisation(self, j: int = 1):
        """:func:`theory.diffusion.linearise_diffusion` at e_j (eq. (8) for j = 1, Theorem 9 else).

        Parameters
        ----------
        j : int
            The critical point e_j, 1..d.

        Returns
        -------
        theory.diffusion.Linearisation
            The drift Jacobian and noise covariance at e_j, and the per-coordinate OU drift and
            diffusion of eq. (8) / Theorem 9.
        """
        return linearise_diffusion(self.problem, self.mu, j)


class DiffusionEuler:
    r"""Euler-Maruyama for the full diffusion: :math:`H_{n+1} = H_n + M(H_n)dt + \sigma B(H_n)\Delta W_n`.

    Multiplicative (non-commutative) noise: strong order 1/2, weak order 1
    (Kloeden-Platen Thms 10.2.2, 14.1.5). The drift of (7) is cubic, so EM can diverge
    when the noise is large (Hutzenthaler, Jentzen, Kloeden, Proc. R. Soc. A 467, 2011):
    at small eta (the diffusion-approximation regime) it is stable; at eta ~ 0.2 on
    coarse grids it is not. Check that the paths stay finite when pushing eta up.
    """

    name = "euler"
    strong_order = 0.5
    weak_order = 1.0

    def step(self, model: FullDiffusion, h: np.ndarray, dt: float, dW: np.ndarray) -> np.ndarray:
        """One Euler-Maruyama step of the full diffusion: h + M(h) dt + sigma B(h) dW.

        Parameters
        ----------
        model : FullDiffusion
            Drift and noise.
        h : ndarray, shape (n_paths, d)
            States in eigen-coordinates.
        dt : float
            Step > 0 (ODE units).
        dW : ndarray, shape (n_paths, m)
            Brownian increments (variance dt).

        Returns
        -------
        ndarray, shape (n_paths, d)
        """
        return h + model.drift(h) * dt + model.noise(h, dW)


def _start(model: FullDiffusion, v0, n_paths: int | None) -> np.ndarray:
    h0 = _check_u0(v0, model.d, n_paths, name="v0")
    return model.problem.to_eigen(h0)


def integrate_diffusion(model: FullDiffusion, v0, t, dW, *, reference: bool = False) -> np.ndarray:
    """Drive Euler-Maruyama with given increments.

    Parameters
    ----------
    model : FullDiffusion
    v0 : array_like, shape (d,) or (n_paths, d)
        Start in the original coordinates (V(0) = v0).
    t : array_like, shape (n_t,)
        Strictly increasing grid (ODE units).
    dW : array_like, shape (n_t - 1, n_paths, m)
    reference : bool
        Use the matrix form ``diffusion_matrix(h) @ dW`` (the plain reference, and what
        sdeint computes) instead of the fast :meth:`FullDiffusion.noise`.

    Returns
    -------
    H : ndarray, shape (n_t, n_paths, d)
        Eigen-coordinates; V = ``problem.from_eigen(H)``.
    """
    if not isinstance(model, FullDiffusion):
        raise ValueError(f"model must be a FullDiffusion, got {type(model).__name__}")
    t = check_time_grid(t)
    dW = _check_dW(dW, t.size - 1, None, model.m)
    h = _start(model, v0, dW.shape[1])
    stepper = DiffusionEuler()
    out = np.empty((t.size, h.shape[0], model.d))
    out[0] = h
    for k, dt in enumerate(np.diff(t)):
        if reference:
            h = h + model.drift(h) * dt + np.einsum("nak,nk->na", model.diffusion_matrix(h), dW[k])
        else:
            h = stepper.step(model, h, float(dt), dW[k])
        out[k + 1] = h
    return out


@njit(cache=True, nogil=True)
def _diffusion_kernel(rng, h, out, lo, hi, keep, slot, lam, sqlam, a_idx, c_idx, s4, inv1mu, scale, dts, sq):
    """Compiled EM loop of :func:`simulate_diffusion` for the built-in distributions, paths [lo, hi).

    Draws from the block's Generator ``rng``, per step and path, the m = n_pairs (+ d)
    normals in the order of ``rng.standard_normal((n_steps, hi - lo, m))`` and applies the
    same formulas as :meth:`FullDiffusion.noise` and :func:`theory.ode.ode_drift`
    (summation order differs, so it agrees with the numpy engine to rounding, not bit for
    bit). Writes only h[lo:hi] and out[:, lo:hi]; releases the GIL.
    """  # pragma: no cover - compiled
    d = h.shape[1]
    n_pairs = a_idx.size
    f = np.empty(d)
    x = np.empty(d)
    for k in range(dts.size):
        dt = dts[k]
        for p in range(lo, hi):
            for a in range(d):
                x[a] = sqlam[a] * h[p, a]
                f[a] = 0.0
            for q in range(n_pairs):
                w = rng.standard_normal() * sq[k]
                a = a_idx[q]
                c = c_idx[q]
                f[a] += w * x[c]
                f[c] += w * x[a]
            if s4 > 0.0:
                for a in range(d):
                    w = rng.standard_normal() * sq[k]
                    f[a] += s4 * w * x[a]
            hf = 0.0
            rayleigh = 0.0
            for a in range(d):
                f[a] *= sqlam[a]
                hf += h[p, a] * f[a]
                rayleigh += lam[a] * h[p, a] * h[p, a]
            for a in range(d):
                ha = h[p, a]
                drift = (lam[a] * ha - rayleigh * ha) * inv1mu
                h[p, a] = ha + drift * dt + scale * (f[a] - ha * hf)
        if keep[k + 1]:
            s = slot[k + 1]
            for p in range(lo, hi):
                for a in range(d):
                    out[s, p, a] = h[p, a]


def simulate_diffusion(
    problem: Problem,
    mu: float,
    eta: float,
    v0,
    t,
    *,
    n_paths: int,
    rng: np.random.Generator,
    record=None,
    block_steps: int | None = None,
    engine: str = "numba",
    threads: int | None = None,
) -> np.ndarray:
    """Ensemble of the full diffusion by Euler-Maruyama, drawing its own noise.

    Parameters
    ----------
    problem : Problem
    mu : float in [0, 1)
    eta : float > 0
    v0 : array_like, shape (d,) or (n_paths, d)
        Start in the original coordinates (e.g. the saddle ``problem.eigenvector(2)``).
    t : array_like, shape (n_t,)
        Strictly increasing integration grid in ODE units (one EM step per interval).
    n_paths : int >= 1
    rng : numpy.random.Generator
        Used once, for the key of the independent streams of the blocks of
        :data:`simulate.sde.PATH_BLOCK` paths; each block's stream is consumed time-major,
        (n_paths_in_block, m) standard normals per step.
    record : array_like of int, optional
        Indices into t to keep (default all).
    block_steps : int, optional
        Steps of noise drawn per chunk by the numpy engine (memory only; results do not
        depend on it).
    engine : {"numba", "numpy"}
        "numba": a compiled loop for the built-in distributions (user samplers fall back
        to numpy); "numpy": the vectorised loop. Same random numbers in the same order;
        the results agree to rounding (different summation order).
    threads : int >= 1, optional
        Path blocks run in parallel on this many threads (default
        ``numba.config.NUMBA_NUM_THREADS``). Results do not depend on it.

    Returns
    -------
    H : ndarray, shape (len(record), n_paths, d)
        Eigen-coordinates; V = ``problem.from_eigen(H)``.
    """
    model = FullDiffusion(problem, mu, eta)
    if engine not in ("numba", "numpy"):
        raise ValueError(f"engine must be 'numba' or 'numpy', got {engine!r}")
    rng = _check_generator(rng)
    t = check_time_grid(t)
    n_paths = check_positive_int(n_paths, "n_paths")
    rec = _check_record(record, t.size)
    m = model.m
    blocks = _path_blocks(n_paths)
    threads = _check_threads(threads, len(blocks))
    if block_steps is None:
        block_steps = max(1, _BLOCK_DOUBLES // (min(n_paths, PATH_BLOCK) * m))
    block_steps = check_positive_int(block_steps, "block_steps")
    h = _start(model, v0, n_paths)
    out = np.empty((rec.size, n_paths, model.d))
    keep = np.zeros(t.size, dtype=bool)
    keep[rec] = True
    slot = np.cumsum(keep) - 1
    if keep[0]:
        out[0] = h
    dts = np.diff(t)
    sq = np.sqrt(dts)
    dist = problem.dist
    key = _stream_key(rng)
    if engine == "numba" and isinstance(dist, (Gaussian, Rademacher)):
        a_idx, c_idx = (idx.astype(np.int64) for idx in np.triu_indices(model.d, 1))
        lam = problem.lambda_
        sqlam = np.sqrt(lam)
        s4 = float(np.sqrt(FOURTH_MOMENT[dist.name] - 1.0))
        inv1mu, scale = 1.0 / (1.0 - model.mu), model.noise_scale

        def work(block):
            lo, hi = blocks[block]
            _diffusion_kernel(_block_rng(key, block), h, out, lo, hi, keep, slot, lam, sqlam, a_idx, c_idx,
                              s4, inv1mu, scale, dts, sq)

    else:
        stepper = DiffusionEuler()

        def work(block):
            lo, hi = blocks[block]
            g = _block_rng(key, block)
            hb = h[lo:hi]
            for start in range(0, dts.size, block_steps):
                stop = min(start + block_steps, dts.size)
                z = g.standard_normal((stop - start, hi - lo, m))
                for k in range(start, stop):
                    dWk = z[k - start]
                    dWk *= sq[k]
                    hb = stepper.step(model, hb, float(dts[k]), dWk)
                    if keep[k + 1]:
                        out[slot[k + 1], lo:hi] = hb

    _run_blocks(work, len(blocks), threads)
    return out
