r"""The cells of ``python -m compare phase3``: pure functions (params, seed, runs) -> ``xarray.Dataset``.

Each cell runs Async-MSGD, update (5),

.. math::

    v_{k+1} = v_k + \mu (v_k - v_{k-1}) + \eta (I - w w^\top) X_k X_k^\top w,
    \qquad w = v_{k-\tau_k},

(``simulate.simulate_async_msgd`` through :mod:`compare._common`) and keeps **compact
per-run statistics** of :math:`u = (h - e_1)/\sqrt{\eta}`, not the paths:

* :func:`stationary_cell`, one per eta-ladder rung, from e_1: after the burn-in, per run
  and coordinate the time average of u_i^2 and the lag-product means
  :math:`C_r(s) = \frac{1}{n-s}\sum_t u_{i,t} u_{i,t+s}` (the rows the ACF bootstrap
  resamples), the pooled KS/W1 samples (spaced 5 slowest relaxation times), |h|^2 per run,
  the last u, and the few sample paths the figure draws;
* :func:`transient_cell`, from the displaced start: the ensemble mean and standard error
  of u at every record, and five sample paths;
* :func:`sweep_cell`, the constant delays of the sweep from e_1 in one simulator call: per
  (tau, run) the time averages of u_i^2, their pooled mean and the divergence flags.

Statistics are computed on the runs that did not diverge, exactly as the comparison
did before the engine, and written back at their run index (NaN for a diverged run), so
the analysis reproduces the same numbers bit for bit. :func:`cells` is the plan of a spec,
:func:`assemble` joins the cells' Datasets into the one Dataset the analysis reads
(``raw.nc``; variables in docs/compare.md).
"""

from __future__ import annotations

import math

import numpy as np

from compare import _common as C
from compare.engine import Cell
from compare.phase3_spec import (
    SAMPLE_SPACING_RELAXATIONS,
    Phase3Spec,
    rung_seed,
    setup,
    sweep_horizon,
    transient_start,
)
from compare.single_run import discrete_params, problem_of, simulate_records

__all__ = [
    "cells",
    "assemble",
    "stationary_cell",
    "transient_cell",
    "sweep_cell",
    "sweep_taus",
    "estimate",
    "NAME",
]

NAME = "phase3"
#: Sample paths kept per rung (figure ``phase3_paths``) and their first records.
N_PATHS, N_PATH_POINTS = 3, 400
#: Sample paths kept from the transient.
N_TRANSIENT_PATHS = 5
_FN = "compare.phase3_cells:"


def _scatter(values: np.ndarray, alive: np.ndarray, axis: int = 0) -> np.ndarray:
    """Values of the alive runs put back at their run index along ``axis`` (NaN elsewhere)."""
    shape = list(values.shape)
    shape[axis] = alive.size
    out = np.full(shape, np.nan)
    index = [slice(None)] * len(shape)
    index[axis] = alive
    out[tuple(index)] = values
    return out


def _lag_means(u: np.ndarray, max_lag: list, alive: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per coordinate: time averages of u^2 (coord, run), lag-product means (coord, run, lag), lags used."""
    _, n_t, m = u.shape
    n_lag = np.array([min(max_lag[k], n_t - 1) + 1 for k in range(m)], dtype=np.int64)
    m2 = np.full((m, alive.size), np.nan)
    lags = np.full((m, alive.size, int(n_lag.max())), np.nan)
    for k in range(m):
        x = u[:, :, k]
        m2[k, alive] = np.mean(x**2, axis=1)  # per-run time average of u^2 (mean 0 by symmetry)
        L = int(n_lag[k]) - 1
        # per-run lag-product sums: C_r(s) = sum_t x_t x_{t+s} / (n_t - s); the bootstrap resamples runs
        lagsum = np.stack(
            [np.sum(x[:, : n_t - s] * x[:, s:], axis=1) / (n_t - s) for s in range(L + 1)], axis=1
        )
        lags[k, alive, : L + 1] = lagsum
    return m2, lags, n_lag


#: Units and meaning of every variable of the assembled Dataset (``raw.nc``): name -> (units, meaning).
VARIABLES = {
    "diverged": ("", "run diverged (non-finite iterate)"),
    "second_moment": ("u^2", "per-run time average of u_i^2 after the burn-in (NaN: diverged run)"),
    "lag_product": ("u^2", "per-run lag-product mean C_r(s) = sum_t u_t u_(t+s) / (n - s), lag s in records"),
    "n_lag": ("", "lags 0..n_lag-1 of lag_product are measured (NaN beyond)"),
    "pooled_u": ("u", f"u every {SAMPLE_SPACING_RELAXATIONS:g} slowest relaxation times (KS / W1 samples)"),
    "n_samples": ("", "pooled samples per run (NaN beyond)"),
    "norm2": ("", "per-run time average of |h|^2 = |v|^2 after the burn-in"),
    "norm_excess": ("", "E|h|^2 - 1 over the alive runs and the window"),
    "u_final": ("u", "u at the last record"),
    "path_u": ("u", "paths of the first alive runs (figure phase3_paths)"),
    "path_t": ("ODE time", "record times of path_u"),
    "mean_staleness": ("steps", "mean delay tau_k of the run"),
    "record_dt": ("ODE time", "record spacing"),
    "n_records": ("", "records in the window after the burn-in"),
    "transient_mean": ("u", "ensemble mean of u from the displaced start (alive runs)"),
    "transient_se": ("u", "standard error of transient_mean"),
    "transient_u0": ("u", "start u0 of the transient (on the unit sphere)"),
    "transient_diverged": ("", "run of the transient diverged"),
    "transient_path": ("u", "paths of the first alive runs of the transient (figure)"),
    "transient_mean_staleness": ("steps", "mean delay tau_k of the transient"),
    "sweep_diverged": ("", "run diverged at this constant delay"),
    "sweep_second_moment": ("u^2", "E[u_i^2] over the alive runs and the window, per delay"),
    "sweep_second_moment_per_run": ("u^2", "per-run time average of u_i^2, per delay (NaN: diverged)"),
    "sweep_mean_staleness": ("steps", "mean delay of the sweep's runs"),
}


#: Units and meaning of every coordinate of the assembled Dataset: name -> (units, meaning).
COORDINATES = {
    "coord": ("", "coordinate i of u (1-based: the paper's H^(i)), i = 2..d"),
    "run": ("", "independent run (its own data stream)"),
    "lag": ("records", "ACF lag s (in records of record_dt)"),
    "sample": ("", "pooled sample of a run (spaced 5 slowest relaxation times)"),
    "path": ("", "sample path (the first alive runs)"),
    "path_time": ("", "record index of path_u (times in path_t)"),
    "transient_time": ("ODE time", "record time t = k eta of the transient"),
    "transient_run": ("", "sample path of the transient (the first alive runs)"),
    "tau": ("steps", "constant delay of the sweep"),
    "rung": ("", "eta-ladder rung (0 = the base eta)"),
    "eta": ("ODE time per step", "step size of the rung"),
}


def _dataset(data: dict, coords: dict, d: int):
    """``xarray.Dataset`` of name -> (dims, values) with units and meaning from :data:`VARIABLES`."""
    import xarray as xr

    variables = {}
    for name, (dims, values) in data.items():
        units, meaning = VARIABLES[name]
        variables[name] = (dims, values, {"units": units or "1", "description": meaning})
    coords = {"coord": np.arange(2, d + 1), **coords}
    out = {}
    for name, value in coords.items():
        values = value[1] if isinstance(value, tuple) else value
        units, meaning = COORDINATES[name]
        out[name] = (name, np.asarray(values), {"units": units or "1", "description": meaning})
    return xr.Dataset(variables, coords=out)


def _run_from(params: dict, seed: int, runs: int):
    """The runs of a stationary or transient cell: (problem, DiscreteRuns, t, h)."""
    res, t, h = simulate_records(params, seed, runs)
    return problem_of(params), res, t, h


def stationary_cell(params: dict, seed: int, runs: int):
    """One eta-ladder rung: runs from ``h0`` (e_1), statistics of the window after the burn-in.

    Parameters
    ----------
    params : dict
        Those of :func:`compare.single_run.discrete_params` (``eigenvalues``, ``dist``,
        ``basis``, ``eta`` = this rung's step size, ``mu``, ``delay`` table, ``h0`` = e_1,
        ``horizon`` = burn-in + window, ``record_dt``) plus ``burn``, ``max_lag`` (per
        coordinate, records) and ``sample_spacing`` (ODE time between pooled samples).
    seed, runs : int

    Returns
    -------
    xarray.Dataset
        Dims ``coord`` (2..d), ``run``, ``lag``, ``sample``, ``path``, ``path_time``
        (variables in :data:`VARIABLES`); attrs ``eta``, ``burn``.
    """
    problem, res, t, h = _run_from(params, seed, runs)
    eta, burn = float(params["eta"]), float(params["burn"])
    keep = t >= burn - 1e-12
    alive = ~res.diverged[0]
    u = h[alive][:, keep, 1:] / math.sqrt(eta)
    dt = float(t[1] - t[0])
    m2, lags, n_lag = _lag_means(u, list(params["max_lag"]), alive)
    step = max(1, int(round(float(params["sample_spacing"]) / dt)))
    pooled = u[:, ::step, :]
    norm2 = np.sum(h[alive][:, keep, :] ** 2, axis=2)
    n_show, n_pts = min(N_PATHS, u.shape[0]), min(int(keep.sum()), N_PATH_POINTS)
    data = {
        "diverged": ("run", res.diverged[0]),
        "second_moment": (("coord", "run"), m2),
        "lag_product": (("coord", "run", "lag"), lags),
        "n_lag": ("coord", n_lag),
        "pooled_u": (("run", "sample", "coord"), _scatter(pooled, alive)),
        "n_samples": ((), int(pooled.shape[1])),
        "norm2": ("run", _scatter(norm2.mean(axis=1), alive)),
        "norm_excess": ((), float(norm2.mean() - 1) if norm2.size else np.nan),
        "u_final": (("run", "coord"), _scatter(u[:, -1, :], alive)),
        "path_u": (("path", "path_time", "coord"), u[:n_show, :n_pts, :]),
        "path_t": ("path_time", t[keep][:n_pts]),
        "mean_staleness": ((), float(res.mean_staleness[0])),
        "record_dt": ((), dt),
        "n_records": ((), int(keep.sum())),
    }
    coords = {
        "run": ("run", np.arange(runs), {"long_name": "independent run (its own data stream)"}),
        "lag": ("lag", np.arange(lags.shape[2]), {"units": "records", "long_name": "ACF lag s"}),
        "sample": ("sample", np.arange(pooled.shape[1]), {"long_name": "pooled sample of a run"}),
        "path": np.arange(n_show),
        "path_time": np.arange(n_pts),
    }
    ds = _dataset(data, coords, problem.d)
    ds.attrs.update({"eta": eta, "burn": burn})
    return ds


def transient_cell(params: dict, seed: int, runs: int):
    """The ensemble mean of u from the displaced start ``h0`` (eigen-coordinates, on the sphere).

    Parameters as :func:`stationary_cell` (``eta`` the base step size, ``horizon`` =
    TRANSIENT_RELAXATIONS slowest relaxation times; no burn-in). Returns ``transient_mean``,
    ``transient_se`` on (transient_time, coord), ``transient_u0`` (coord),
    ``transient_diverged`` (run), ``transient_path`` (transient_run, transient_time, coord).

    Parameters
    ----------
    params : dict
    seed, runs : int

    Returns
    -------
    xarray.Dataset
    """
    problem, res, t, h = _run_from(params, seed, runs)
    eta = float(params["eta"])
    alive = ~res.diverged[0]
    u = h[alive][:, :, 1:] / math.sqrt(eta)
    if u.shape[0] >= 2:
        mean = u.mean(axis=0)
        se = u.std(axis=0, ddof=1) / math.sqrt(u.shape[0])
    else:  # fewer than 2 runs survived: no mean with an error (the checks are not measured)
        mean = se = np.full(u.shape[1:], np.nan)
    u0 = (np.asarray(params["h0"], dtype=float) - np.eye(problem.d)[0])[1:] / math.sqrt(eta)
    dims = ("transient_time", "coord")
    paths = u[:N_TRANSIENT_PATHS]
    data = {
        "transient_mean": (dims, mean),
        "transient_se": (dims, se),
        "transient_u0": ("coord", u0),
        "transient_diverged": ("run", res.diverged[0]),
        "transient_path": (("transient_run", *dims), paths),
        "transient_mean_staleness": ((), float(res.mean_staleness[0])),
    }
    coords = {
        "run": np.arange(runs),
        "transient_time": ("transient_time", t, {"units": "ODE time"}),
        "transient_run": np.arange(paths.shape[0]),
    }
    return _dataset(data, coords, problem.d)


def sweep_cell(params: dict, seed: int, runs: int):
    """Constant delays ``taus`` from e_1 in one simulator call (common random numbers: the data
    X_k of run r are the same at every delay): second moments after ``burn``.

    Parameters: ``eigenvalues``, ``dist``, ``basis``, ``eta``, ``mu``, ``h0`` (e_1), ``taus``,
    ``horizon``, ``record_every`` (steps), ``burn``. Returns ``sweep_diverged`` (tau, run),
    ``sweep_second_moment`` (tau, coord), ``sweep_second_moment_per_run`` (tau, run, coord),
    ``sweep_mean_staleness`` (tau).

    Parameters
    ----------
    params : dict
    seed, runs : int

    Returns
    -------
    xarray.Dataset
    """
    problem = problem_of(params)
    eta, burn, taus = float(params["eta"]), float(params["burn"]), [int(x) for x in params["taus"]]
    res = C.run_discrete_grid(
        problem,
        eta=eta,
        mu=float(params["mu"]),
        delays=taus,
        h0=np.asarray(params["h0"], dtype=float),
        horizon=float(params["horizon"]),
        runs=runs,
        seed=seed,
        record_every=int(params["record_every"]),
    )
    keep = res.t >= burn - 1e-12
    m = problem.d - 1
    pooled = np.full((len(taus), m), np.nan)
    per_run = np.full((len(taus), runs, m), np.nan)
    for n in range(len(taus)):
        alive = ~res.diverged[n]
        hh = res.records[n][alive][:, keep, 1:] / math.sqrt(eta)
        if hh.shape[0]:
            pooled[n] = [np.mean(hh[:, :, k] ** 2) for k in range(m)]
        per_run[n, alive] = np.mean(hh**2, axis=1)
    data = {
        "sweep_diverged": (("tau", "run"), np.asarray(res.diverged)),
        "sweep_second_moment": (("tau", "coord"), pooled),
        "sweep_second_moment_per_run": (("tau", "run", "coord"), per_run),
        "sweep_mean_staleness": ("tau", np.asarray(res.mean_staleness, dtype=float)),
    }
    coords = {"run": np.arange(runs), "tau": ("tau", np.asarray(taus, dtype=np.int64), {"units": "steps"})}
    return _dataset(data, coords, problem.d)


# ---------------------------------------------------------------------------------------
# the plan and the assembly
# ---------------------------------------------------------------------------------------
def sweep_taus(spec: Phase3Spec) -> tuple[list[int], object]:
    """The swept constant delays (fractions of the exact threshold, rounded, sorted) and the threshold.

    Parameters
    ----------
    spec : Phase3Spec

    Returns
    -------
    taus : list of int
    threshold : theory.stability.StabilityThreshold
    """
    thr = C.stability(spec.problem(), spec.mu, spec.eta)
    tau_star = int(thr.max_stable_delay)
    return sorted({int(round(f * max(tau_star, 0))) for f in spec.sweep}), thr


def cells(spec: Phase3Spec) -> list[Cell]:
    """The plan: one cell per ladder rung, the transient, and (if ``sweep``) the delay sweep.

    Seeds as before the engine: rung n ``rung_seed(seed, n)``, the transient ``seed + 1``, the
    sweep ``seed`` (its own call: the delays share its data stream).

    Parameters
    ----------
    spec : Phase3Spec

    Returns
    -------
    list of compare.engine.Cell
    """
    s = setup(spec)
    e1 = np.eye(s.problem.d)[0]
    window = {
        "burn": s.burn,
        "max_lag": s.max_lag,
        "sample_spacing": SAMPLE_SPACING_RELAXATIONS / float(s.theta.min()),
    }
    out = []
    for n, eta_l in enumerate(spec.etas()):
        params = discrete_params(spec, h0=e1, horizon=s.burn + spec.horizon, record_dt=s.dt_rec, eta=eta_l)
        cell = Cell(
            NAME,
            _FN + "stationary_cell",
            {**params, **window},
            spec.runs,
            rung_seed(spec.seed, n),
            {"rung": n},
        )
        out.append(cell)
    h0, _ = transient_start(spec, s)
    params = discrete_params(spec, h0=h0, horizon=s.transient_horizon, record_dt=s.dt_rec)
    out.append(Cell(NAME, _FN + "transient_cell", params, spec.runs, spec.seed + 1))
    if spec.sweep:
        params = discrete_params(spec, h0=e1, horizon=sweep_horizon(spec, s), record_dt=s.dt_rec)
        del params["delay"], params["record_dt"]  # the sweep's delays are its own, constant
        params.update(
            taus=sweep_taus(spec)[0], record_every=max(1, int(round(s.dt_rec / spec.eta))), burn=s.burn
        )
        out.append(Cell(NAME, _FN + "sweep_cell", params, spec.runs, spec.seed))
    return out


def assemble(spec: Phase3Spec, plan: list[Cell], datasets: list):
    """One Dataset: the rungs stacked on ``rung`` (coordinate ``eta``; shorter lag/sample/path
    axes padded with NaN), merged with the transient's and the sweep's variables.

    Parameters
    ----------
    spec : Phase3Spec
    plan : list of Cell
    datasets : list of xarray.Dataset
        The cells' Datasets, in the plan's order.

    Returns
    -------
    xarray.Dataset
        ``raw.nc`` (variables and coordinates in docs/compare.md).
    """
    import xarray as xr

    def of(name):
        return [ds for c, ds in zip(plan, datasets, strict=True) if c.fn.endswith(":" + name)]

    rungs, others = of("stationary_cell"), of("transient_cell") + of("sweep_cell")
    bare = []
    for ds in rungs:  # the rung's own attrs (eta, burn) become coordinates / the Dataset's attrs
        ds = ds.copy(deep=False)
        ds.attrs = {}
        bare.append(ds)
    stacked = xr.concat(
        bare,
        dim="rung",
        join="outer",
        fill_value=np.nan,
        data_vars="all",
        coords="minimal",
        compat="override",
    )
    stacked = stacked.assign_coords(
        rung=("rung", np.arange(len(rungs)), {"units": "1", "description": COORDINATES["rung"][1]}),
        eta=(
            "rung",
            np.asarray([ds.attrs["eta"] for ds in rungs]),
            {"units": COORDINATES["eta"][0], "description": COORDINATES["eta"][1]},
        ),
    )
    # the parts share only the coordinates coord and run: any other overlap is an error
    out = xr.merge([stacked, *others], join="exact", compat="equals", combine_attrs="override")
    out.attrs.update(
        {
            "comparison": NAME,
            "spec": spec.canonical_json(),
            "burn": float(rungs[0].attrs["burn"]),
            "u": "u = (h - e_1) / sqrt(eta): eigen-coordinates of the iterate, rescaled (eq. (8))",
        }
    )
    return out


# ---------------------------------------------------------------------------------------
# the resource estimate (issue 13)
# ---------------------------------------------------------------------------------------
def _call_bytes(runs: int, n_steps: int, n_rec: int, d: int, n_cfg: int, ring: int, random: bool) -> int:
    """Peak bytes of one ``simulate_async_msgd`` call: kernel records and the returned copy, the
    rings, two data chunks, and a random model's delay sequences (int64 per lane and step, plus
    the transposed copy made for the kernel)."""
    from simulate import _kernels
    from simulate.async_msgd import DATA_CHUNK_BYTES

    n_blocks, B = _kernels.lanes_for(runs)
    lanes = n_blocks * B
    records = n_cfg * lanes * n_rec * d * 8
    chunk = max(1, min(n_steps, DATA_CHUNK_BYTES // (lanes * d * 8)))
    data = 2 * chunk * lanes * d * 8
    rings = n_cfg * lanes * (ring + 2) * d * 8
    taus = 2 * lanes * n_steps * 8 if random else 0
    return 2 * records + data + rings + taus


def estimate(spec: Phase3Spec):
    """Peak memory and work of a phase3 run, before any cell runs (issue 13).

    Per cell the simulator's peak (:func:`_call_bytes`); a stationary cell then holds its
    records, the alive runs' copy and the window's u (3 records' worth), the sweep its records
    and one delay's window; the cells' Datasets are held until assembled (3 x the assembled
    Dataset: cells, concatenation, merge).

    Parameters
    ----------
    spec : Phase3Spec

    Returns
    -------
    compare.engine.estimate.Estimate
        ``chain_steps`` = runs x steps summed over the rungs, the transient and the swept
        delays; ``reduce``: ``--runs``, ``--horizon``, ``--ladder`` (its smallest factor sets
        the longest rung), ``--sweep``.
    """
    from compare.engine.estimate import Estimate
    from compare.single_run import DELAY_OPTIONS, largest_delay, ring_bytes

    s = setup(spec)
    d, m, runs = s.problem.d, s.problem.d - 1, spec.runs
    random = spec.delay["model"] != "constant"
    ring = largest_delay(spec.delay)  # the ring holds the largest delay drawn (--tau-max 1e8: 1e8)
    peak, steps, dataset = 0, 0.0, 0
    for eta_l in spec.etas():
        n = max(1, int(round((s.burn + spec.horizon) / eta_l)))
        every = max(1, int(round(s.dt_rec / eta_l)))
        n_rec = n // every + 1
        rec = runs * n_rec * d * 8
        peak = max(peak, _call_bytes(runs, n, n_rec, d, 1, ring, random), 3 * rec)
        steps += runs * n
        n_lag = max(s.max_lag) + 1
        n_samples = int(spec.horizon * float(s.theta.min()) / SAMPLE_SPACING_RELAXATIONS) + 2
        dataset += 8 * runs * (m * n_lag + (n_samples + 1) * m + m + 2) + 8 * N_PATHS * N_PATH_POINTS * m
    n = max(1, int(round(s.transient_horizon / spec.eta)))
    every = max(1, int(round(s.dt_rec / spec.eta)))
    n_rec = n // every + 1
    peak = max(peak, _call_bytes(runs, n, n_rec, d, 1, ring, random), 3 * runs * n_rec * d * 8)
    steps += runs * n
    dataset += 8 * n_rec * m * (2 + N_TRANSIENT_PATHS) + 8 * runs
    if spec.sweep:
        taus = sweep_taus(spec)[0]
        n = max(1, int(round(sweep_horizon(spec, s) / spec.eta)))
        n_rec = n // every + 1
        one = runs * n_rec * d * 8
        peak = max(peak, _call_bytes(runs, n, n_rec, d, len(taus), max(taus), False) + 2 * one)
        steps += len(taus) * runs * n
        dataset += 8 * len(taus) * runs * (m + 1)
    reduce = ("--runs", "--horizon", "--ladder (larger factors)", "--sweep (fewer or smaller fractions)")
    if ring_bytes(runs, d, spec.delay) > (peak + 3 * dataset) / 4:  # the delay's history dominates
        reduce = (DELAY_OPTIONS[spec.delay["model"]], *reduce)
    return Estimate(memory_bytes=int(peak + 3 * dataset), chain_steps=float(steps), reduce=reduce)
