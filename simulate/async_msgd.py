r"""Ensembles of Async-MSGD on streaming PCA, eq. (5), over a grid of (mu, delay).

The algorithm (eq. (5) of Liu et al., 2018) is

.. math::

    v_{k+1} = v_k + \mu (v_k - v_{k-1})
              + \eta\,(I - w w^\top) X_k X_k^\top w, \qquad w = v_{k-\tau_k},
    \qquad v_{-i} = v_0 ,

run for ``runs`` independent chains per configuration. It is equivariant under rotation,
so the compiled kernels (:mod:`simulate._kernels`) run it in eigen-coordinates
:math:`h = Q^\top v` with data :math:`Y = Q^\top X`; :mod:`simulate.reference` runs it
literally in the original coordinates and the tests hold one to the other at 1e-12.

Random streams (see :mod:`simulate.seeding`)
--------------------------------------------
* data of run r: ``SeedSequence([seed, tag('data'), r])`` under common random numbers
  (every configuration with run index r sees the same X_k), or
  ``SeedSequence([seed, tag('data'), *cell_key(mu=mu, delay=model), r])`` otherwise;
  drawn sequentially with ``problem.dist.sample_y`` in chunks of steps (chunked draws
  concatenate, so the chunking does not matter);
* delays of run r under a random delay model: ``SeedSequence([seed, tag('delay'),
  *cell_key(delay=model), r])``, drawn once for the whole horizon.

Divergence
----------
A run whose squared norm exceeds ``divergence_threshold`` or turns non-finite is stopped
(its state frozen) and flagged. The test is made every :data:`CHECK_EVERY` steps and at
the last step: ``diverged_step`` is the first checked step that failed, so the actual
crossing happened in ``(diverged_step - CHECK_EVERY, diverged_step]``. The frozen state
(``h_final`` and later records) is the state at that step if finite, else the state at
the previous check (the last state known to be finite and below the threshold); in the
latter case records taken between the two checks are replaced by it too, so no output
holds a NaN or an infinity.

Memory
------
Data and delays are generated per chunk of runs (``run_chunk``) and the data per chunk
of about :data:`DATA_CHUNK_BYTES` bytes, so memory is flat in the horizon when ``record_every`` is
None, apart from random delay sequences (int64, ``n_steps`` per run of a chunk). The
ring buffers take ``(tau + 2) * d * 8`` bytes per run and configuration.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field

import numba
import numpy as np

from theory.problem import Problem
from theory.validation import (
    check_eta,
    check_mu,
    check_nonnegative_int,
    check_positive_float,
    check_positive_int,
)

from . import _kernels
from .delays import DelayModel, as_delay_models
from .seeding import cell_key, stream

__all__ = ["simulate_async_msgd", "EnsembleResult", "Staleness", "CHECK_EVERY", "DATA_CHUNK_BYTES"]

#: Divergence-check period in steps (cost ~ d flops per lane every CHECK_EVERY steps).
CHECK_EVERY = 32
#: Bytes of data generated per Python-level chunk of steps (all runs of a run chunk).
DATA_CHUNK_BYTES = 32 << 20
#: Bytes of data per cache tile in the kernels (fits the L2 cache of current x86 cores).
TILE_BYTES = 1 << 20


@dataclass(frozen=True)
class Staleness:
    """Statistics of the delays tau_k drawn by one delay model (over all runs and steps).

    The delays are the model's tau_k as drawn; in the first steps the iterate actually read
    is v_{max(k - tau_k, 0)} (v_{-i} = v_0), so the effective staleness is min(tau_k, k).

    Attributes
    ----------
    mean : float
        Mean of tau_k.
    max : int
        Largest tau_k.
    histogram : ndarray of int64, shape (max + 1,)
        ``histogram[t]`` = number of steps (all runs) with tau_k = t.
    """

    mean: float
    max: int
    histogram: np.ndarray


@dataclass(frozen=True, eq=False)
class EnsembleResult:
    """Output of :func:`simulate_async_msgd`.

    Attributes
    ----------
    mu : ndarray, shape (n_mu,)
        Momentum grid.
    delays : list of DelayModel, length n_delay
        Delay grid.
    eta : float
        Step size.
    n_steps : int
        Iterations per run.
    h_final : ndarray, shape (n_mu, n_delay, runs, d)
        Eigen-coordinates h = Q^T v at the end (for a diverged run, its frozen state).
    t : ndarray, shape (n_rec,)
        ODE times k * eta of the records (k = 0, m, 2m, ... <= n_steps), empty if none.
    records : ndarray, shape (n_mu, n_delay, runs, n_rec, d), or None
        h recorded every ``record_every`` steps (record 0 is h_0).
    diverged : ndarray of bool, shape (n_mu, n_delay, runs)
    diverged_step : ndarray of int64, shape (n_mu, n_delay, runs)
        First checked step at which the run failed the test, -1 if it did not (see the
        module docstring for the granularity).
    staleness : list of Staleness, length n_delay
    seed : int
    problem : theory.Problem
    common_random_numbers : bool
    divergence_threshold : float
    check_every : int
        Divergence-check period in steps (:data:`CHECK_EVERY`).
    """

    mu: np.ndarray
    delays: list
    eta: float
    n_steps: int
    h_final: np.ndarray
    t: np.ndarray
    records: np.ndarray | None
    diverged: np.ndarray
    diverged_step: np.ndarray
    staleness: list
    seed: int
    problem: Problem
    common_random_numbers: bool = True
    divergence_threshold: float = 1e3
    check_every: int = CHECK_EVERY

    @property
    def runs(self) -> int:
        """Number of independent runs per (mu, delay) cell."""
        return int(self.h_final.shape[2])

    @property
    def d(self) -> int:
        """Dimension d of the iterates."""
        return int(self.h_final.shape[3])

    def error(self, kind: str = "angle", diverged_value: float | None = None) -> np.ndarray:
        """Optimisation error per run, shape (n_mu, n_delay, runs); never NaN.

        Parameters
        ----------
        kind : {'angle', 'distance'}
            'angle': ``1 - h_1^2 / ||h||^2`` (sin^2 of the angle to the optimum e_1; in
            [0, 1]); 'distance': ``min(||h - e_1||^2, ||h + e_1||^2)`` (distance to the
            optimum up to sign).
        diverged_value : float, optional
            Value given to diverged runs. Default: 1 for 'angle' (the largest angle
            error); ``divergence_threshold`` for 'distance' (a diverged run has
            ``||h||^2 >= threshold``, so its distance to +-e_1 is at least
            ``(sqrt(threshold) - 1)^2``, of that order).

        Returns
        -------
        ndarray, shape (n_mu, n_delay, runs)
            The error of each run's final iterate (``kind``), diverged runs set to ``diverged_value``.

        Raises
        ------
        ValueError
            Naming ``kind``.
        """
        if kind not in ("angle", "distance"):
            raise ValueError(f"kind must be 'angle' or 'distance', got {kind!r}")
        h = self.h_final
        # frozen states of diverged runs may overflow here: they are replaced below
        with np.errstate(all="ignore"):
            if kind == "angle":
                err = 1.0 - h[..., 0] ** 2 / np.sum(h * h, axis=-1)
                default = 1.0
            else:
                e1 = np.zeros(self.d)
                e1[0] = 1.0
                err = np.minimum(np.sum((h - e1) ** 2, axis=-1), np.sum((h + e1) ** 2, axis=-1))
                default = self.divergence_threshold
        value = default if diverged_value is None else float(diverged_value)
        bad = self.diverged | ~np.isfinite(err)
        return np.where(bad, value, err)

    def mean_error(self, kind: str = "angle", diverged_value: float | None = None) -> np.ndarray:
        """Mean of :meth:`error` over runs, shape (n_mu, n_delay) (diverged runs counted as flagged).

        Parameters
        ----------
        kind : {'angle', 'distance'}
            The error of :meth:`error`.
        diverged_value : float, optional
            Value given to diverged runs (default: :meth:`error`'s).

        Returns
        -------
        ndarray, shape (n_mu, n_delay)
        """
        return self.error(kind, diverged_value).mean(axis=-1)

    def error_sem(self, kind: str = "angle", diverged_value: float | None = None) -> np.ndarray:
        """Standard error of :meth:`mean_error` (sample std / sqrt(runs)), shape (n_mu, n_delay).

        Parameters
        ----------
        kind : {'angle', 'distance'}
            The error of :meth:`error`.
        diverged_value : float, optional
            Value given to diverged runs (default: :meth:`error`'s).

        Returns
        -------
        ndarray, shape (n_mu, n_delay)
            inf with fewer than 2 runs (no spread to estimate).
        """
        e = self.error(kind, diverged_value)
        if e.shape[-1] < 2:
            return np.full(e.shape[:-1], np.inf)
        return e.std(axis=-1, ddof=1) / math.sqrt(e.shape[-1])

    @property
    def diverged_fraction(self) -> np.ndarray:
        """Fraction of diverged runs, shape (n_mu, n_delay)."""
        return self.diverged.mean(axis=-1)

    @property
    def delay_labels(self) -> list[str]:
        """The delay models' labels (the ``delay`` coordinate of :meth:`to_xarray`)."""
        return [m.label for m in self.delays]

    def to_xarray(self):
        """An ``xarray.Dataset`` with dims (mu, delay, run, time, coord).

        Variables: ``h_final`` (mu, delay, run, coord), ``records`` (mu, delay, run,
        time, coord) if recorded, ``diverged``, ``diverged_step``, ``error_angle``,
        ``staleness_mean``, ``staleness_max`` (delay). Coordinates: ``mu``, ``delay``
        (labels), ``run``, ``time`` (ODE time k * eta), ``coord`` (1-based, as in the
        paper). Attributes: eta, seed, n_steps, problem description (JSON),
        common_random_numbers, divergence_threshold, check_every.

        Returns
        -------
        xarray.Dataset
        """
        import xarray as xr

        coords = {
            "mu": self.mu,
            "delay": self.delay_labels,
            "run": np.arange(self.runs),
            "coord": np.arange(1, self.d + 1),
        }
        data = {
            "h_final": (("mu", "delay", "run", "coord"), self.h_final),
            "diverged": (("mu", "delay", "run"), self.diverged),
            "diverged_step": (("mu", "delay", "run"), self.diverged_step),
            "error_angle": (("mu", "delay", "run"), self.error("angle")),
            "staleness_mean": (("delay",), np.array([s.mean for s in self.staleness])),
            "staleness_max": (("delay",), np.array([s.max for s in self.staleness])),
        }
        if self.records is not None:
            coords["time"] = self.t
            data["records"] = (("mu", "delay", "run", "time", "coord"), self.records)
        attrs = {
            "eta": self.eta,
            "seed": self.seed,
            "n_steps": self.n_steps,
            "problem": json.dumps(self.problem.describe()),
            "problem_key": self.problem.key(),
            "common_random_numbers": int(self.common_random_numbers),
            "divergence_threshold": self.divergence_threshold,
            "check_every": self.check_every,
            "equation": "Liu et al. 2018, eq. (5), in eigen-coordinates h = Q^T v",
        }
        return xr.Dataset(data, coords=coords, attrs=attrs)


# ---------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------


def _check_mus(mu) -> np.ndarray:
    if np.ndim(mu) == 0:
        return np.array([check_mu(mu)])
    arr = list(np.asarray(mu, dtype=object).ravel()) if np.ndim(mu) == 1 else None
    if arr is None or len(arr) == 0:
        raise ValueError(f"mu must be a float in [0, 1) or a non-empty 1-d sequence of them, got {mu!r}")
    return np.array([check_mu(m.item() if isinstance(m, np.generic) else m) for m in arr])


def _check_v0(v0, d: int) -> np.ndarray:
    try:
        v = np.asarray(v0, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"v0 must be a real vector of length d = {d}, got {v0!r}") from None
    if v.shape != (d,):
        raise ValueError(f"v0 must have shape ({d},) (the problem's dimension d), got {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("v0 must be finite")
    if not np.any(v != 0):
        raise ValueError("v0 must be nonzero (v = 0 is a fixed point of eq. (5))")
    return v


def _resolve_steps(eta, n_steps, horizon) -> int:
    if (n_steps is None) == (horizon is None):
        raise ValueError(
            "n_steps and horizon: give exactly one (iterations, or ODE time T with n = round(T/eta))"
        )
    if n_steps is not None:
        return check_positive_int(n_steps, "n_steps")
    T = check_positive_float(horizon, "horizon")
    n = int(round(T / eta))
    if n < 1:
        raise ValueError(f"horizon must be at least eta / 2 (gives n = round(T/eta) = {n} steps)")
    return n


@contextlib.contextmanager
def _numba_threads(threads):
    if threads is None:
        yield
        return
    old = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        yield
    finally:
        numba.set_num_threads(old)


# ---------------------------------------------------------------------------------------
# the simulator
# ---------------------------------------------------------------------------------------


#: Constant-delay configurations advanced by one kernel call (they share a ring length).
GROUP_SIZE = 32


@dataclass
class _Group:
    """Configurations advanced by one kernel call: constant delays, or one random model."""

    cfg: list  # (i_mu, i_delay)
    model: DelayModel | None  # None: constant delays
    data_key: tuple
    state: dict = field(default_factory=dict)


def simulate_async_msgd(
    problem: Problem,
    *,
    eta,
    mu,
    delay,
    v0,
    n_steps=None,
    horizon=None,
    runs=100,
    seed=0,
    record_every=None,
    common_random_numbers=True,
    divergence_threshold=1e3,
    run_chunk=None,
    threads=None,
    progress=False,
) -> EnsembleResult:
    r"""Run ``runs`` chains of Async-MSGD, eq. (5), for every (mu, delay) on a grid.

    Parameters
    ----------
    problem : theory.Problem
        Spectrum, eigenbasis Q and data distribution (eq. (4)).
    eta : float > 0
        Step size.
    mu : float in [0, 1) or 1-d sequence of them
        Momentum (grid axis "mu").
    delay : int tau >= 0, sequence of ints, DelayModel, or sequence of DelayModels
        Delay model (grid axis "delay"); an int is :class:`~simulate.delays.Constant`.
    v0 : array_like, shape (d,)
        Nonzero start in the original coordinates; v_{-i} = v_0 (eq. (5)).
    n_steps : int >= 1, optional
        Iterations (exactly one of ``n_steps`` and ``horizon``).
    horizon : float > 0, optional
        ODE time T; n_steps = round(T / eta).
    runs : int >= 1
        Chains per configuration.
    seed : int >= 0
        Root seed (see the module docstring for the streams).
    record_every : int >= 1, optional
        Record h every this many steps (record 0 is h_0); None: only the final state.
    common_random_numbers : bool
        True: every configuration with run index r sees the same data stream.
    divergence_threshold : float > 0
        A run stops and is flagged when ||v||^2 exceeds this (or turns non-finite).
    run_chunk : int >= 1, optional
        Runs per chunk of data generation (bounds memory); results do not depend on it.
    threads : int >= 1, optional
        Numba threads (default: numba's current setting); results do not depend on it.
    progress : bool
        Show a tqdm progress bar over the chunks.

    Returns
    -------
    EnsembleResult

    Raises
    ------
    ValueError
        Naming the parameter: mu outside [0, 1), eta <= 0, negative or non-integer
        delays, v0 of the wrong length or zero, runs < 1, ...
    """
    if not isinstance(problem, Problem):
        raise ValueError(f"problem must be a theory.Problem, got {type(problem).__name__}")
    eta = check_eta(eta)
    mus = _check_mus(mu)
    models = as_delay_models(delay)
    d = problem.d
    v0 = _check_v0(v0, d)
    n = _resolve_steps(eta, n_steps, horizon)
    runs = check_positive_int(runs, "runs")
    seed = check_nonnegative_int(seed, "seed")
    m = 0 if record_every is None else check_positive_int(record_every, "record_every")
    thr = check_positive_float(divergence_threshold, "divergence_threshold")
    run_chunk = runs if run_chunk is None else check_positive_int(run_chunk, "run_chunk")
    if threads is not None:
        threads = check_positive_int(threads, "threads")
        if threads > numba.config.NUMBA_NUM_THREADS:
            raise ValueError(
                f"threads must be <= {numba.config.NUMBA_NUM_THREADS} (NUMBA_NUM_THREADS), got {threads}"
            )
    crn = bool(common_random_numbers)

    lam = problem.lambda_
    Q = problem.Q
    h0 = problem.to_eigen(v0)
    n_mu, n_delay = mus.size, len(models)
    n_rec = n // m + 1 if m else 0

    # Delay draws are per (model, run): sample them per run chunk; staleness over all runs.
    hist = [np.zeros(1, dtype=np.int64) for _ in models]
    tau_sum = np.zeros(n_delay)

    h_final = np.empty((n_mu, n_delay, runs, d))
    div_step = np.full((n_mu, n_delay, runs), -1, dtype=np.int64)
    records = np.empty((n_mu, n_delay, runs, n_rec, d)) if m else None

    # The groups of configurations that share a data stream; within a set, one kernel call
    # per group (constant delays sorted by tau in groups of GROUP_SIZE: little ring padding).
    def constant_groups(cfgs, data_key):
        cfgs = sorted(cfgs, key=lambda aj: models[aj[1]].tau)
        return [_Group(cfgs[i:i + GROUP_SIZE], None, data_key) for i in range(0, len(cfgs), GROUP_SIZE)]

    def make_groups():
        all_cfg = [(a, j) for a in range(n_mu) for j in range(n_delay)]
        if crn:  # one data stream for every configuration: a single set of groups
            groups = constant_groups([(a, j) for (a, j) in all_cfg if models[j].is_constant], ())
            for j, mdl in enumerate(models):
                if not mdl.is_constant:
                    groups.append(_Group([(a, j) for a in range(n_mu)], mdl, ()))
            return [groups]
        sets = []
        for a, j in all_cfg:
            key = cell_key(mu=float(mus[a]), delay=models[j])
            if models[j].is_constant:
                sets.append(constant_groups([(a, j)], key))
            else:
                sets.append([_Group([(a, j)], models[j], key)])
        return sets

    def step_chunk(n_lanes):
        return max(1, min(n, DATA_CHUNK_BYTES // (n_lanes * d * 8)))

    n_chunks_steps = -(-n // step_chunk(_kernels.lanes_for(min(run_chunk, runs))[0] * _kernels.lanes_for(
        min(run_chunk, runs))[1]))
    run_starts = list(range(0, runs, run_chunk))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        sets_count = 1 if crn else n_mu * n_delay
        bar = tqdm(total=len(run_starts) * sets_count * n_chunks_steps, desc="async-msgd", unit="chunk")

    with _numba_threads(threads), np.errstate(all="ignore"):
        for r0 in run_starts:
            r1 = min(r0 + run_chunk, runs)
            nr = r1 - r0
            n_blocks, B = _kernels.lanes_for(nr)
            tile = max(1, TILE_BYTES // (d * B * 8))
            # parallel jobs = (block, share of configs): at least 2 per thread (load balance)
            n_parts = max(1, -(-2 * numba.get_num_threads() // n_blocks))
            # random delays per model for this run chunk
            taus_by_model = {}
            for j, mdl in enumerate(models):
                if mdl.is_constant:
                    tau_sum[j] += mdl.tau * n * nr
                    if hist[j].size < mdl.tau + 1:
                        hist[j] = np.concatenate([hist[j], np.zeros(mdl.tau + 1 - hist[j].size, np.int64)])
                    hist[j][mdl.tau] += n * nr
                    continue
                key = cell_key(delay=mdl)
                T = np.zeros((n_blocks * B, n), dtype=np.int64)
                for r in range(r0, r1):
                    tr = np.asarray(mdl.sample(stream(seed, "delay", key, r), n), dtype=np.int64)
                    T[r - r0] = tr
                real = T[:nr]
                tau_sum[j] += float(real.sum())
                hc = np.bincount(real.ravel())
                if hist[j].size < hc.size:
                    hist[j] = np.concatenate([hist[j], np.zeros(hc.size - hist[j].size, np.int64)])
                hist[j][: hc.size] += hc
                taus_by_model[j] = np.ascontiguousarray(T.reshape(n_blocks, B, n).transpose(0, 2, 1))

            for gset in make_groups():
                data_key = gset[0].data_key
                gens = [stream(seed, "data", data_key, r) for r in range(r0, r1)]
                for g in gset:
                    _init_group(g, mus, models, taus_by_model, h0, n_blocks, B, d, n_rec, nr)
                chunk = step_chunk(n_blocks * B)
                Yr = np.empty((nr, chunk, d))
                Y = np.zeros((n_blocks, chunk, d, B))  # padding lanes: zero data, h stays h_0
                for c0 in range(0, n, chunk):
                    nc = min(chunk, n - c0)
                    for i, gen in enumerate(gens):
                        Yr[i, :nc] = problem.dist.sample_y(gen, nc, lam, Q)
                    _kernels.to_lanes(Yr, nc, Y)
                    for g in gset:
                        st = g.state
                        if g.model is None:
                            _kernels.advance_constant(
                                Y, nc, c0, n, st["mus"], st["taus"], st["ring"], eta, thr,
                                CHECK_EVERY, m, st["rec"], st["div"], st["hfin"], st["snap"], tile, n_parts)
                        else:
                            T = np.ascontiguousarray(st["T"][:, c0:c0 + nc, :])
                            _kernels.advance_random(
                                Y, T, nc, c0, n, st["mus"], st["ring"], eta, thr,
                                CHECK_EVERY, m, st["rec"], st["div"], st["hfin"], st["snap"], tile, n_parts)
                    if bar is not None:
                        bar.update(1)
                for g in gset:
                    st = g.state
                    _kernels.final_states(st["ring"], n, st["div"], st["hfin"])
                    # (n_cfg, n_blocks, d, B) -> (n_cfg, runs in chunk, d)
                    hf = st["hfin"].transpose(0, 1, 3, 2).reshape(len(g.cfg), n_blocks * B, d)[:, :nr]
                    dv = st["div"].reshape(len(g.cfg), n_blocks * B)[:, :nr]
                    for ci, (a, j) in enumerate(g.cfg):
                        h_final[a, j, r0:r1] = hf[ci]
                        div_step[a, j, r0:r1] = dv[ci]
                        if m:
                            rc = st["rec"][ci].transpose(0, 3, 1, 2).reshape(n_blocks * B, n_rec, d)[:nr]
                            records[a, j, r0:r1] = rc
                    g.state = {}
    if bar is not None:
        bar.close()

    staleness = [
        Staleness(
            mean=float(tau_sum[j] / (n * runs)), max=int(np.flatnonzero(hist[j]).max()), histogram=hist[j]
        )
        for j in range(n_delay)
    ]
    return EnsembleResult(
        mu=mus,
        delays=models,
        eta=eta,
        n_steps=n,
        h_final=h_final,
        t=np.arange(n_rec) * m * eta if m else np.zeros(0),
        records=records,
        diverged=div_step >= 0,
        diverged_step=div_step,
        staleness=staleness,
        seed=seed,
        problem=problem,
        common_random_numbers=crn,
        divergence_threshold=thr,
        check_every=CHECK_EVERY,
    )


def _init_group(g: _Group, mus, models, taus_by_model, h0, n_blocks, B, d, n_rec, nr):
    """Allocate and initialise the kernel state of a group (every ring slot holds h_0)."""
    n_cfg = len(g.cfg)
    st = {"mus": np.array([mus[a] for (a, _) in g.cfg])}
    if g.model is None:
        st["taus"] = np.array([models[j].tau for (_, j) in g.cfg], dtype=np.int64)
        L = max(int(st["taus"].max()) + 2, 3)
    else:
        st["T"] = taus_by_model[g.cfg[0][1]]
        L = max(int(st["T"].max()) + 2, 3)
    st["ring"] = np.empty((n_cfg, n_blocks, L, d, B))
    st["ring"][:] = h0[None, None, None, :, None]
    if n_rec:
        st["rec"] = np.empty((n_cfg, n_blocks, n_rec, d, B))
        st["rec"][:, :, 0] = h0[None, None, :, None]
    else:
        st["rec"] = np.empty((1, 1, 1, 1, 1))
    st["div"] = np.full((n_cfg, n_blocks, B), -1, dtype=np.int64)
    st["div"].reshape(n_cfg, n_blocks * B)[:, nr:] = 0  # padding lanes: stopped from the start
    st["hfin"] = np.zeros((n_cfg, n_blocks, d, B))
    st["snap"] = np.broadcast_to(h0[None, None, :, None], (n_cfg, n_blocks, d, B)).copy()
    g.state = st
