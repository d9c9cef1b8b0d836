r"""The cell of ``python -m compare remark7`` (:mod:`compare.remark7`): every arm on shared data streams.

A cell is one (alpha, M): the arms (:data:`ARMS`) from :math:`h_0 = (1, \dots, 1)/\sqrt{d}` (the
mean path) and from the saddle :math:`e_2` (phase times, stationary error), run r seeing the same
data at update k in every arm (common random numbers), reduced to numbers with named dimensions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from compare.remark7_theory import warmup_lag
from theory import Problem

__all__ = [
    "ARMS",
    "ASYNC_ARMS",
    "CONTROLS",
    "MEAN_DT",
    "PHASE_DT",
    "UniformComputeTimes",
    "arm_settings",
    "phase_times",
    "record_grid",
    "remark7_cell",
]

ARMS = ("pipeline", "iid_geometric", "round_robin", "uniform_times", "heavy_ball")
#: Arms compared with heavy ball: the mapping's subject first, then its hypothesis, then controls.
ASYNC_ARMS = ARMS[:4]
CONTROLS = ("round_robin", "uniform_times")
#: Record spacings (ODE time) of the mean-path and saddle runs: multiples of both default alphas
#: (0.048 = 24 x 0.002 = 6 x 0.008; 0.024 = 12 x 0.002 = 3 x 0.008), so the default horizons are
#: kept to one spacing. A record count depends on the horizon only (cells of every alpha line up);
#: the spacing in updates is round(spacing / alpha), so another alpha shifts the horizon by < half
#: an update per record (the actual horizons are in results.horizons).
MEAN_DT, PHASE_DT = 0.048, 0.024


@dataclass(frozen=True)
class UniformComputeTimes:
    """Non-memoryless compute times: i.i.d. uniform on [lo, hi] (mean 1), the (n, M) array of
    :class:`simulate.delays.WorkerPipeline`'s callable contract; content-keyed by its repr."""

    #: The seed of the arm's compute times derives from the module and the repr (``WorkerPipeline.key``):
    #: pinned to the class's public address, where it was defined when the recorded results were made.
    __module__ = "compare.remark7"

    workers: int
    lo: float = 0.5
    hi: float = 1.5

    def __call__(self, rng, n):
        return rng.uniform(self.lo, self.hi, size=(n, self.workers))


def record_grid(horizon: float, spacing: float, alpha: float) -> tuple[int, int]:
    """Records and updates between records of a run of ``horizon`` ODE time recorded every ``spacing``.

    Parameters
    ----------
    horizon : float
        ODE time of the run (> 0).
    spacing : float
        Record spacing in ODE time (:data:`MEAN_DT` or :data:`PHASE_DT`).
    alpha : float
        Step size: one update is alpha of ODE time.

    Returns
    -------
    (n_records, every) : (int, int)
        Records after the start (>= 1; the count depends on the horizon only) and updates between
        records (>= 1); the run has ``n_records * every`` updates.
    """
    return max(1, int(round(horizon / spacing))), max(1, int(round(spacing / alpha)))


def arm_settings(arm: str, alpha: float, M: int) -> tuple[float, float, object]:
    """(mu, eta, delay) of an arm at step alpha with M workers (M = 1: every arm is SGD).

    Parameters
    ----------
    arm : str
        One of :data:`ARMS`.
    alpha : float
        Async-SGD step size.
    M : int
        Number of workers.

    Returns
    -------
    (mu, eta, delay) : (float, float, int or simulate.delays model)
        Momentum, step size and delay of the arm's simulator call.
    """
    from simulate import Geometric, WorkerPipeline

    if arm == "heavy_ball":
        return 1.0 - 1.0 / M, alpha / M, 0
    if arm == "pipeline":
        return 0.0, alpha, WorkerPipeline(M, "exponential")
    if arm == "iid_geometric":
        return 0.0, alpha, Geometric(mean=M - 1.0) if M > 1 else 0
    if arm == "round_robin":
        return 0.0, alpha, WorkerPipeline(M, "constant")
    if arm == "uniform_times":
        return 0.0, alpha, WorkerPipeline(M, UniformComputeTimes(M))
    raise ValueError(f"arm must be one of {', '.join(ARMS)}, got {arm!r}")


def phase_times(ratio: np.ndarray, t: np.ndarray, delta: float, epsilon: float) -> np.ndarray:
    """T1, T2, T3 per run from records of a = h_1^2/|h|^2; NaN when not reached.

    T1: first t with a >= delta^2; T2: first t after T1 with a >= 1 - delta^2, minus T1; T3: first t
    after that with 1 - a <= epsilon, minus T1 + T2.

    Parameters
    ----------
    ratio : ndarray, shape (..., n_t)
        Records of h_1^2/|h|^2.
    t : ndarray, shape (n_t,)
        Record times (ODE units).
    delta : float
        Phase boundary (delta^2 and 1 - delta^2).
    epsilon : float
        Phase III target error.

    Returns
    -------
    ndarray, shape (3, ...)
        T1, T2, T3 in ODE units (NaN where the phase does not end within the records).
    """

    def first_after(mask, start):
        k = np.arange(mask.shape[-1])
        m = mask & (k >= start[..., None])
        return np.where(m.any(-1), m.argmax(-1), -1)

    zero = np.zeros(ratio.shape[:-1], dtype=int)
    i1 = first_after(ratio >= delta**2, zero)
    i2 = first_after(ratio >= 1 - delta**2, np.maximum(i1, 0))
    i3 = first_after(1 - ratio <= epsilon, np.maximum(i2, 0))
    i2 = np.where(i1 < 0, -1, i2)
    i3 = np.where(i2 < 0, -1, i3)
    tt = [np.where(i >= 0, t[np.maximum(i, 0)], np.nan) for i in (i1, i2, i3)]
    return np.stack([tt[0], tt[1] - tt[0], tt[2] - tt[1]])


def _run_arms(problem, arms, alpha, M, v0, n_steps, every, runs, seed):
    """h records (arm, run, time, d) of the arms; the async ones share one simulator call."""
    from simulate import simulate_async_msgd

    out = {}
    asyn = [a for a in arms if a != "heavy_ball"]
    if asyn:
        delays = [arm_settings(a, alpha, M)[2] for a in asyn]
        r = simulate_async_msgd(
            problem,
            eta=alpha,
            mu=0.0,
            delay=delays,
            v0=v0,
            n_steps=n_steps,
            runs=runs,
            seed=seed,
            record_every=every,
        )
        for j, a in enumerate(asyn):
            out[a] = (r.records[0, j], r.diverged[0, j], r.staleness[j].mean)
    if "heavy_ball" in arms:
        mu, eta, _ = arm_settings("heavy_ball", alpha, M)
        r = simulate_async_msgd(
            problem, eta=eta, mu=mu, delay=0, v0=v0, n_steps=n_steps, runs=runs, seed=seed, record_every=every
        )
        out["heavy_ball"] = (r.records[0, 0], r.diverged[0, 0], 0.0)
    return out


def _paired_shifted_difference(x, hb, t, lag):
    """Mean and SE over runs of x(t) - hb(t + lag) (linear interpolation; NaN where t + lag > t[-1]).

    x, hb : (run, time, coord) on the grid t. Returns two arrays (time, coord)."""
    keep = t + lag <= t[-1] + 1e-12
    sh = np.full_like(x, np.nan)
    for r in range(hb.shape[0]):
        for i in range(hb.shape[2]):
            sh[r, keep, i] = np.interp(t[keep] + lag, t, hb[r, :, i])
    diff = x - sh
    return diff.mean(0), diff.std(0, ddof=1) / math.sqrt(diff.shape[0])


def remark7_cell(params: dict, seed: int, runs: int):
    """One (alpha, M) cell -> ``xarray.Dataset`` of numbers (arms and phases as integer indices).

    Time is k alpha in every arm (one update = alpha of ODE time). Fixed record counts
    (horizon / :data:`MEAN_DT`, horizon / :data:`PHASE_DT`, :func:`record_grid`) so cells of every
    alpha line up.

    Parameters
    ----------
    params : dict
        ``eigenvalues``, ``dist``, ``alpha``, ``M``, ``delta``, ``epsilon``, ``horizon``, ``burn_in``,
        ``mean_horizon``, ``cell_version``.
    seed : int
        Root seed (common random numbers across arms).
    runs : int
        Independent runs per arm.

    Returns
    -------
    xarray.Dataset
        Mean-path run from h0: ``mean_path`` (arm, record_mean, coord); ``diff_mean``, ``diff_se``:
        the paired E h_arm(t) - E h_heavy_ball(t + (M-1) alpha) and its SE; ``record_mean_time``.
        Saddle run from e_2: ``phase_time`` (phase, arm, run): T1, T2, T3 in ODE units, NaN if not
        reached; ``stationary_error`` (arm, run): mean angle error from the burn-in on;
        ``mean_error`` (arm, record); ``record_time``. ``diverged_mean_path``, ``diverged_saddle``
        (arm, run): 1 where the run diverged. ``staleness_mean`` (arm). Arms in :data:`ARMS` order,
        phases T1..T3.
    """
    problem = Problem(list(params["eigenvalues"]), dist=params["dist"])
    alpha, M = float(params["alpha"]), int(params["M"])
    d = problem.d
    h0 = np.ones(d) / math.sqrt(d)
    n_rec_mean, every_mean = record_grid(params["mean_horizon"], MEAN_DT, alpha)
    mean_run = _run_arms(
        problem, ARMS, alpha, M, problem.from_eigen(h0), every_mean * n_rec_mean, every_mean, runs, seed
    )
    n_rec, every = record_grid(params["horizon"], PHASE_DT, alpha)
    sad = _run_arms(problem, ARMS, alpha, M, problem.eigenvector(2), every * n_rec, every, runs, seed)
    t = np.arange(n_rec + 1) * every * alpha
    tm = np.arange(n_rec_mean + 1) * every_mean * alpha
    hb = mean_run["heavy_ball"][0]
    diffs = [_paired_shifted_difference(mean_run[a][0], hb, tm, warmup_lag(M) * alpha) for a in ARMS]
    saddle = [_saddle_numbers(sad[a][0], sad[a][1], t, params) for a in ARMS]
    return _cell_dataset(mean_run, sad, diffs, saddle, t, tm, d, runs)


def _saddle_numbers(h: np.ndarray, div: np.ndarray, t: np.ndarray, params: dict):
    """Phase times (3, run), stationary error (run,) and mean error (record,) of one arm's saddle run.

    h : records (run, record, d); div : diverged (run,); a diverged run counts as error 1.
    """
    with np.errstate(all="ignore"):
        ratio = h[..., 0] ** 2 / np.sum(h * h, axis=-1)
    ratio = np.where(div[:, None] | ~np.isfinite(ratio), 0.0, ratio)
    return (
        phase_times(ratio, t, params["delta"], params["epsilon"]),
        (1 - ratio)[:, t >= params["burn_in"]].mean(axis=1),
        (1 - ratio).mean(axis=0),
    )


def _cell_dataset(mean_run: dict, sad: dict, diffs: list, saddle: list, t, tm, d: int, runs: int):
    """The cell's Dataset from the arms' runs and their reductions (every list in :data:`ARMS` order)."""
    import xarray as xr

    pt, stat, merr = zip(*saddle, strict=True)
    dmean, dse = zip(*diffs, strict=True)
    arm_dims = ("arm", "record_mean", "coord")
    return xr.Dataset(
        {
            "mean_path": (arm_dims, np.stack([mean_run[a][0].mean(0) for a in ARMS])),
            "diff_mean": (arm_dims, np.stack(dmean)),
            "diff_se": (arm_dims, np.stack(dse)),
            "record_mean_time": (("record_mean",), tm),
            "phase_time": (("phase", "arm", "run"), np.stack(pt, axis=1)),
            "stationary_error": (("arm", "run"), np.stack(stat)),
            "mean_error": (("arm", "record"), np.stack(merr)),
            "record_time": (("record",), t),
            "staleness_mean": (("arm",), np.array([sad[a][2] for a in ARMS])),
            "diverged_mean_path": (("arm", "run"), np.stack([mean_run[a][1] for a in ARMS]).astype(np.int8)),
            "diverged_saddle": (("arm", "run"), np.stack([sad[a][1] for a in ARMS]).astype(np.int8)),
        },
        coords={
            "arm": np.arange(len(ARMS)),
            "run": np.arange(runs),
            "record": np.arange(t.size),
            "record_mean": np.arange(tm.size),
            "coord": np.arange(1, d + 1),
            "phase": np.arange(1, 4),
        },
        attrs={
            "arms": ",".join(ARMS),
            "phases": "T1,T2,T3",
            "equation": "eq. (5); Mitliagkas et al. 2016 Thm 3",
        },
    )
