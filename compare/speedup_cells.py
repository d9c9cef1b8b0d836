r"""The cell of ``python -m compare speedup`` (:mod:`compare.speedup`): update (5) from e_2 for every M.

A cell is one (mu, compute-time law): every M of the grid in one simulator call, with common
random numbers (run r sees the same data for every M), reduced to numbers (first passages,
error floors) with named dimensions.
"""

from __future__ import annotations

import math

import numpy as np

from theory import Problem

__all__ = ["N_RECORDS", "first_passage", "record_grid", "speedup_cell"]

#: Records per run (time resolution of the first passage: horizon / N_RECORDS).
N_RECORDS = 600


def record_grid(horizon: float, eta: float) -> tuple[int, int]:
    """The record spacing and the number of updates of a cell: the horizon rounded up to N_RECORDS spacings.

    Parameters
    ----------
    horizon : float
        ODE time of the runs (> 0).
    eta : float
        Step size (> 0).

    Returns
    -------
    (record_every, n_steps) : (int, int)
        Updates between records (>= 1) and ``record_every * N_RECORDS``.
    """
    every = max(1, math.ceil(horizon / eta / N_RECORDS))
    return every, every * N_RECORDS


def first_passage(err: np.ndarray, epsilon: float) -> np.ndarray:
    """Index of the first record with ``err <= epsilon`` along the last axis, -1 if none.

    Parameters
    ----------
    err : ndarray, shape (..., n_records)
        Error records.
    epsilon : float
        Target error.

    Returns
    -------
    ndarray of int, shape (...)
        Record index of the first passage, -1 where the target is never reached.
    """
    below = err <= epsilon
    return np.where(below.any(axis=-1), below.argmax(axis=-1), -1)


def speedup_cell(params: dict, seed: int, runs: int):
    """One (mu, compute-time law) cell: update (5) from e_2 for every M, with common random numbers.

    Exactly N_RECORDS records after the start (the horizon rounded up to a whole record spacing,
    :func:`record_grid`), so cells of different mu line up on the ``record`` dimension. Error:
    1 - h_1^2/|h|^2, 1 from a divergence on.

    Parameters
    ----------
    params : dict
        ``eigenvalues``, ``dist``, ``eta``, ``mu``, ``compute_time``, ``workers`` (the M grid),
        ``epsilon``, ``horizon`` (ODE time), ``cell_version``.
    seed : int
        Root seed.
    runs : int
        Independent runs (common random numbers across M).

    Returns
    -------
    xarray.Dataset
        ``first_passage`` (workers, run), the first update with error <= epsilon (-1: censored);
        ``floor_run`` (workers, run), the mean error over the last quarter of the records;
        ``mean_error`` (workers, record); ``record_time`` (record, ODE units); ``diverged``
        (workers, run); ``staleness_mean`` (workers); scalars ``record_every``, ``n_steps``.
    """
    import xarray as xr

    from simulate import WorkerPipeline, simulate_async_msgd

    problem = Problem(list(params["eigenvalues"]), dist=params["dist"])
    eta, workers = float(params["eta"]), [int(M) for M in params["workers"]]
    every, n_steps = record_grid(params["horizon"], eta)
    res = simulate_async_msgd(
        problem,
        eta=eta,
        mu=params["mu"],
        delay=[WorkerPipeline(M, params["compute_time"]) for M in workers],
        v0=problem.eigenvector(2),
        n_steps=n_steps,
        runs=runs,
        seed=seed,
        record_every=every,
    )
    h = res.records[0]  # (workers, run, record, d)
    with np.errstate(all="ignore"):
        err = 1.0 - h[..., 0] ** 2 / np.sum(h * h, axis=-1)
    k = np.arange(h.shape[2]) * every
    dead = res.diverged[0][..., None] & (k[None, None, :] >= res.diverged_step[0][..., None])
    err = np.where(dead | ~np.isfinite(err), 1.0, err)
    fp = first_passage(err, params["epsilon"])
    tail = err[..., -(N_RECORDS // 4) :]
    return xr.Dataset(
        {
            "first_passage": (("workers", "run"), np.where(fp >= 0, fp * every, -1)),
            "floor_run": (("workers", "run"), tail.mean(axis=-1)),
            "mean_error": (("workers", "record"), err.mean(axis=1)),
            "record_time": (("record",), k * eta),
            "diverged": (("workers", "run"), res.diverged[0].astype(np.int8)),
            "staleness_mean": (("workers",), np.array([s.mean for s in res.staleness])),
            "record_every": ((), every),
            "n_steps": ((), n_steps),
        },
        coords={"workers": workers, "run": np.arange(runs), "record": np.arange(k.size)},
        attrs={"equation": "eq. (5) from e_2, worker-pipeline staleness", "epsilon": params["epsilon"]},
    )
