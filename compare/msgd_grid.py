r"""The cell function of a (mu x delay) grid of Async-MSGD runs, eq. (5): tradeoff, critical and sweep.

A cell runs update (5),

.. math::

    v_{k+1} = v_k + \mu (v_k - v_{k-1}) + \eta (I - w w^\top) X_k X_k^\top w,
    \qquad w = v_{k-\tau_k},

for every (mu, grid value) of its parameters (``simulate.simulate_async_msgd``, common random
numbers: every configuration with run index r sees the same data X_k) and returns the final
iterates in eigen-coordinates. Cells that differ only in their ``mus`` and ``taus`` share that
data stream: :func:`cell_batch` computes a group of them in one simulator call, the call the
code made before the engine. The numbers of one configuration do not depend on the others
in the call (the simulator's bit-identity across grid order, grouping, threads and run
chunks), so a grid gives the same bits whether it is one cell or cut into many.

Grid values (:func:`delay_for_grid_value`): the constant delay tau, or for a random delay
model its mean delay m (uniform on {0..2m}, geometric with mean m, worker pipeline with
M = m + 1 equal-speed workers); m = 0 is the synchronous run for every model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from compare.engine.spec import Spec
from theory.validation import MAX_SEED as _MAX_SEED
from theory.validation import check_seed as _check_seed

__all__ = [
    "DELAY_MODELS",
    "DISTS",
    "ERROR_KINDS",
    "FN",
    "GRID_KEYS",
    "GridSpec",
    "grid_params",
    "delay_for_grid_value",
    "cell",
    "cell_batch",
    "check_mus",
    "check_taus",
    "check_runs",
    "MIN_RUNS",
    "MIN_TAUS",
    "call_bytes",
    "dataset_bytes",
    "analysis_bytes",
    "MAX_TAUS",
    "check_resources",
    "check_seed",
    "MAX_SEED",
]

#: The delay models of the grid (as ``compare.cli.DELAY_MODELS``).
DELAY_MODELS = ("constant", "uniform", "geometric", "pipeline")
#: Data distributions of ``theory.Problem`` (as ``compare.cli.DISTS``).
DISTS = ("gaussian", "rademacher")
#: Errors at the horizon (``compare.optimal_delay.horizon_error``).
ERROR_KINDS = ("angle", "distance")
#: Dotted path of :func:`cell` (what a Cell names).
FN = "compare.msgd_grid:cell"
#: The parameters of a cell that are grid axes (cells differing only in these share a data stream).
GRID_KEYS = ("mus", "taus")
#: Fewest runs: the 95% intervals over runs (Student-t, bootstrap) need at least two.
MIN_RUNS = 2
#: Fewest delays of a grid: tau = 0 (the reference of the optimal-delay rule) and two more, so
#: that the error can stay within the allowance at one delay and rise past it at a later one.
MIN_TAUS = 3
#: Most points of a delay grid (a range is counted before it is expanded into a list).
MAX_TAUS = 100_000


#: Seeds are stored as int64 (raw.nc attributes and coordinates): theory.validation's rule.
MAX_SEED = _MAX_SEED
check_seed = _check_seed


def check_runs(runs, name: str = "runs") -> int:
    """Runs per configuration: an integer >= :data:`MIN_RUNS` (ValueError naming ``name``).

    Parameters
    ----------
    runs : int
        Independent runs.
    name : str
        Name used in the message (``"--runs"`` on the command line).

    Returns
    -------
    int
    """
    from theory.validation import check_positive_int

    runs = check_positive_int(runs, name)
    if runs < MIN_RUNS:
        raise ValueError(
            f"{name} must be >= {MIN_RUNS} (the 95% intervals over runs need at least two), got {runs}"
        )
    return runs


def check_mus(mus, name: str = "mus") -> tuple[float, ...]:
    """Momenta: a non-empty list of distinct floats in [0, 1) (ValueError naming ``name``).

    Parameters
    ----------
    mus : float or sequence of float
        Momenta.
    name : str
        Name used in the message.

    Returns
    -------
    tuple of float
    """
    from theory.validation import check_mu

    if isinstance(mus, (int, float)):
        mus = (mus,)
    if not isinstance(mus, (list, tuple)) or not mus:
        raise ValueError(f"{name} must be a non-empty list of momenta in [0, 1), got {mus!r}")
    out = tuple(check_mu(m, name) for m in mus)
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must not repeat a value, got {list(mus)}")
    return out


def _check_range_size(text: str, name: str) -> None:
    """Refuse a ``start:stop[:step]`` range of more than :data:`MAX_TAUS` points before expanding it."""
    parts = text.split(":")
    if len(parts) not in (2, 3):
        return  # a list, or malformed: parse_int_range says so
    try:
        start, stop = int(parts[0]), int(parts[1])
        step = int(parts[2]) if len(parts) == 3 else 1
    except ValueError:
        return
    if step > 0 and stop >= start and (stop - start) // step + 1 > MAX_TAUS:
        raise ValueError(
            f"{name} must hold at most {MAX_TAUS} delays, got {(stop - start) // step + 1} ({text!r})"
        )


def check_taus(taus, name: str = "taus", min_size: int = MIN_TAUS) -> tuple[int, ...]:
    """Delay grid: ``"start:stop[:step]"`` or a list of ints, strictly increasing from 0.

    Parameters
    ----------
    taus : str or sequence of int
        The grid (inclusive range or list).
    name : str
        Name used in the message.
    min_size : int
        Fewest grid points (default :data:`MIN_TAUS`: the optimal delay is read off a rise of
        the error along the grid).

    Returns
    -------
    tuple of int
    """
    from compare.cli import parse_int_range

    if isinstance(taus, str):
        _check_range_size(taus, name)
        taus = parse_int_range(taus, name)
    if not isinstance(taus, (list, tuple)) or not taus:
        raise ValueError(f"{name} must be a non-empty list of delays or 'start:stop[:step]', got {taus!r}")
    if len(taus) > MAX_TAUS:
        raise ValueError(f"{name} must hold at most {MAX_TAUS} delays, got {len(taus)}")
    if len(taus) < min_size:
        raise ValueError(
            f"{name} must hold at least {min_size} delays (0 and {min_size - 1} more: the optimal delay "
            f"is read off a rise of the error along the grid), got {list(taus)}"
        )
    if any(not isinstance(t, int) or isinstance(t, bool) or t < 0 for t in taus):
        raise ValueError(f"{name} must hold integers >= 0, got {list(taus)}")
    if taus[0] != 0:
        raise ValueError(
            f"{name} must start at 0 (the reference of the optimal-delay rule), got {list(taus)[:5]}"
        )
    if any(b <= a for a, b in zip(taus, taus[1:], strict=False)):
        raise ValueError(f"{name} must be strictly increasing, got {list(taus)[:8]}")
    return tuple(int(t) for t in taus)


@dataclass(frozen=True)
class GridSpec(Spec):
    """Fields every spec of a grid of runs from the saddle shares (tradeoff, critical, sweep).

    eta (step size), runs, seed (root seed), horizon (ODE time T), delay_model, eigenvalues
    (spectrum of Sigma), dist (data distribution); analysis fields rho (optimal-delay
    allowance) and error (error kind at the horizon).
    """

    ANALYSIS = ("rho", "error")
    eta: float = 5e-4
    runs: int = 100
    seed: int = 0
    horizon: float = 10.0
    delay_model: str = "constant"
    eigenvalues: tuple = (4.0, 3.0, 2.0, 1.0)
    dist: str = "gaussian"
    rho: float = 0.5
    error: str = "angle"

    def validate(self) -> None:
        """Check and normalise the fields (ValueError naming the field)."""
        import math

        from theory import Problem
        from theory.validation import (
            check_eta,
            check_positive_float,
        )

        self.set("eta", check_eta(self.eta, "eta"))
        self.set("runs", check_runs(self.runs, "runs"))
        self.set("seed", check_seed(self.seed, "seed"))
        self.set("horizon", check_positive_float(self.horizon, "horizon"))
        if self.delay_model not in DELAY_MODELS:
            raise ValueError(
                f"delay_model must be one of {', '.join(DELAY_MODELS)}, got {self.delay_model!r}"
            )
        if not isinstance(self.dist, str) or self.dist.strip().lower() not in DISTS:
            raise ValueError(f"dist must be one of {', '.join(DISTS)}, got {self.dist!r}")
        self.set("dist", self.dist.strip().lower())
        if not isinstance(self.eigenvalues, (list, tuple)) or isinstance(self.eigenvalues, str):
            raise ValueError(f"eigenvalues must be a list of numbers, got {self.eigenvalues!r}")
        try:
            lam = Problem([float(x) for x in self.eigenvalues], dist=self.dist).lambda_
        except (TypeError, ValueError) as exc:
            msg = str(exc)
            raise ValueError(msg if msg.startswith("eigenvalues") else f"eigenvalues: {msg}") from None
        self.set("eigenvalues", tuple(float(x) for x in lam))
        if not isinstance(self.rho, (int, float)) or not math.isfinite(self.rho) or self.rho < 0:
            raise ValueError(f"rho must be a finite number >= 0, got {self.rho!r}")
        self.set("rho", float(self.rho))
        if self.error not in ERROR_KINDS:
            raise ValueError(f"error must be one of {', '.join(ERROR_KINDS)}, got {self.error!r}")

    def problem(self):
        """The ``theory.Problem`` of eigenvalues and dist.

        Returns
        -------
        theory.Problem
        """
        from theory import Problem

        return Problem(list(self.eigenvalues), dist=self.dist)


def grid_params(*, eta, mus, taus, delay_model, eigenvalues, dist, horizon, v0=None) -> dict:
    """The JSON parameters of a grid cell (plain floats, ints and strings).

    Parameters
    ----------
    eta : float
        Step size.
    mus : sequence of float
        Momenta of the cell.
    taus : sequence of int
        Grid values (constant delays, or mean delays of ``delay_model``).
    delay_model : str
        One of :data:`DELAY_MODELS`.
    eigenvalues : sequence of float
        Spectrum of Sigma (``theory.Problem``).
    dist : str
        Data distribution (``"gaussian"``, ``"rademacher"``).
    horizon : float
        ODE time T; n_steps = round(T / eta).
    v0 : sequence of float, optional
        Start in the original coordinates; None: Section 4.1's saddle e_2.

    Returns
    -------
    dict
    """
    return {
        "eta": float(eta),
        "mus": [float(m) for m in mus],
        "taus": [int(t) for t in taus],
        "delay_model": str(delay_model),
        "eigenvalues": [float(x) for x in eigenvalues],
        "dist": str(dist),
        "horizon": float(horizon),
        "v0": None if v0 is None else [float(x) for x in v0],
    }


def delay_for_grid_value(model: str, m: int):
    """The delay of grid value ``m``: a constant tau, or a random model with mean delay m.

    ``constant``: tau = m; ``uniform``: uniform on {0..2m}; ``geometric``: mean m;
    ``pipeline``: M = m + 1 equal-speed workers (mean staleness M - 1 = m). ``m = 0`` is the
    synchronous run (constant 0) for every model.

    Parameters
    ----------
    model : str
        One of :data:`DELAY_MODELS`.
    m : int
        Grid value, >= 0.

    Returns
    -------
    int or simulate.delays.DelayModel
    """
    m = int(m)
    if m < 0:
        raise ValueError(f"m must be >= 0, got {m}")
    if model not in DELAY_MODELS:
        raise ValueError(f"model must be one of {', '.join(DELAY_MODELS)}, got {model!r}")
    if model == "constant" or m == 0:
        return m
    from simulate import delays

    if model == "uniform":
        return delays.Uniform(2 * m)
    if model == "geometric":
        return delays.Geometric(mean=float(m))
    return delays.WorkerPipeline(workers=m + 1)


def cell(params: dict, seed: int, runs: int):
    """One grid cell: :func:`cell_batch` of one parameter set.

    Parameters
    ----------
    params : dict
        Of :func:`grid_params`.
    seed : int
        Root seed.
    runs : int
        Runs per configuration.

    Returns
    -------
    xarray.Dataset
        As one entry of :func:`cell_batch`.
    """
    return cell_batch([params], seed, runs)[0]


def _union(lists) -> list:
    out, seen = [], set()
    for values in lists:
        for v in values:
            if v not in seen:
                seen.add(v)
                out.append(v)
    return out


def cell_batch(params_list: list[dict], seed: int, runs: int) -> list:
    """Cells that share a data stream, in one simulator call; one Dataset per cell.

    Every parameter set must agree outside :data:`GRID_KEYS`; the call runs the union of
    their mus x taus and each cell gets its own sub-grid back.

    Parameters
    ----------
    params_list : list of dict
        Of :func:`grid_params`, equal outside :data:`GRID_KEYS`.
    seed : int
        Root seed (common random numbers: run r sees the same data in every configuration).
    runs : int
        Runs per configuration.

    Returns
    -------
    list of xarray.Dataset
        Per cell: ``h_final`` (mu, tau, run, coord), final iterate in eigen-coordinates
        h = Q^T v (a diverged run: its frozen state); ``diverged`` (mu, tau, run), bool;
        ``staleness_mean`` (tau), measured mean delay (iterations). Attributes ``n_steps``,
        ``eta``, ``horizon``, ``delay_model``, ``equation``.
    """
    from simulate import simulate_async_msgd
    from theory import Problem

    first = {k: v for k, v in params_list[0].items() if k not in GRID_KEYS}
    for p in params_list[1:]:
        if {k: v for k, v in p.items() if k not in GRID_KEYS} != first:
            raise ValueError("params_list: cells of one batch must differ only in mus and taus")
    mus = _union(p["mus"] for p in params_list)
    taus = _union(p["taus"] for p in params_list)
    problem = Problem(first["eigenvalues"], dist=first["dist"])
    v0 = problem.eigenvector(2) if first["v0"] is None else np.asarray(first["v0"], dtype=float)
    eta = first["eta"]
    n_steps = max(1, int(round(first["horizon"] / eta)))
    res = simulate_async_msgd(
        problem,
        eta=eta,
        mu=mus,
        delay=[delay_for_grid_value(first["delay_model"], m) for m in taus],
        v0=v0,
        n_steps=n_steps,
        runs=runs,
        seed=seed,
    )
    h = np.asarray(res.h_final, dtype=float)
    diverged = np.asarray(res.diverged, dtype=bool)
    staleness = np.array([float(s.mean) for s in res.staleness])
    out = []
    for p in params_list:
        i = [mus.index(m) for m in p["mus"]]
        j = [taus.index(t) for t in p["taus"]]
        out.append(_dataset(p, h[np.ix_(i, j)], diverged[np.ix_(i, j)], staleness[j], n_steps, problem.d))
    return out


cell.batch = cell_batch


def _attrs(description: str, units: str) -> dict:
    return {"long_name": description, "description": description, "units": units}


def _dataset(p: dict, h, diverged, staleness, n_steps: int, d: int):
    import xarray as xr

    return xr.Dataset(
        {
            "h_final": (
                ("mu", "tau", "run", "coord"),
                np.ascontiguousarray(h),
                _attrs("final iterate in eigen-coordinates h = Q^T v (diverged run: its frozen state)", "1"),
            ),
            "diverged": (
                ("mu", "tau", "run"),
                np.ascontiguousarray(diverged),
                _attrs("run stopped by the divergence test (||v||^2 > 1e3 or non-finite)", "1 (boolean)"),
            ),
            "staleness_mean": (
                ("tau",),
                np.ascontiguousarray(staleness),
                _attrs("measured mean delay tau_k of the grid value", "iterations"),
            ),
        },
        coords={
            "mu": ("mu", np.array(p["mus"], dtype=float), _attrs("momentum mu", "1")),
            "tau": (
                "tau",
                np.array(p["taus"], dtype=np.int64),
                _attrs("grid value: constant delay, or mean delay of the delay model", "iterations"),
            ),
            "run": ("run", np.arange(h.shape[2], dtype=np.int64), _attrs("run index", "1")),
            "coord": (
                "coord",
                np.arange(1, d + 1, dtype=np.int64),
                _attrs("eigen-coordinate index i of h_i (1-based, lambda_1 first)", "1"),
            ),
        },
        attrs={
            "n_steps": int(n_steps),
            "eta": float(p["eta"]),
            "horizon": float(p["horizon"]),
            "delay_model": p["delay_model"],
            "equation": "Liu et al. 2018, eq. (5), in eigen-coordinates h = Q^T v",
        },
    )


# ---------------------------------------------------------------------------------------
# Resource estimate (issue 13): what a grid call and its Dataset allocate, in bytes
# ---------------------------------------------------------------------------------------
#: The simulator's layout, mirrored so that an estimate does not import numba (a refused run
#: answers at once); tests/compare/test_tradeoff_inputs.py holds them equal to simulate's
#: ``_kernels.LANES``, ``async_msgd.GROUP_SIZE`` and ``async_msgd.DATA_CHUNK_BYTES``.
SIM_LANES = 64
SIM_GROUP_SIZE = 32
SIM_DATA_CHUNK_BYTES = 32 << 20


def _lanes_for(runs: int) -> tuple[int, int]:
    """``simulate._kernels.lanes_for``: (n_blocks, B), blocks of at most SIM_LANES lanes, B % 4 == 0."""
    n_blocks = -(-runs // SIM_LANES)
    B = -(-runs // n_blocks)
    return n_blocks, -(-B // 4) * 4


def _max_delay(model: str, m: int, samples: float) -> int:
    """A generous bound on the largest delay a model of mean ``m`` draws in ``samples`` draws
    (it sizes the ring buffer): uniform 2m; geometric (m + 1) ln(samples); pipeline 4 (m + 1)."""
    if model == "constant" or m == 0:
        return int(m)
    if model == "uniform":
        return 2 * int(m)
    if model == "geometric":
        return int(math.ceil((m + 1) * max(1.0, math.log(max(samples, 2.0)))))
    return 4 * (int(m) + 1)


def call_bytes(n_mu: int, taus, delay_model: str, runs: int, n_steps: int, d: int) -> int:
    """Peak bytes of one ``simulate_async_msgd`` call of a grid (its state and outputs).

    What ``simulate.async_msgd`` allocates at once for a call with common random numbers:
    the ring buffers of every group of configurations ((L + 2) x d doubles per lane, L the
    group's largest delay; constant delays sorted into groups of ``GROUP_SIZE``), the random
    delay sequences of every random model (int64, ``n_steps`` per lane, plus one transposed
    copy being made), two data chunks of about ``DATA_CHUNK_BYTES``, the kernel's per-lane
    state and the outputs ``h_final`` and ``diverged_step`` (and their per-cell copies).

    Parameters
    ----------
    n_mu : int
        Momenta of the call.
    taus : sequence of int
        Grid values of the call (constant delays or mean delays of ``delay_model``).
    delay_model : str
        One of :data:`DELAY_MODELS`.
    runs : int
        Runs per configuration.
    n_steps : int
        Iterations.
    d : int
        Dimension.

    Returns
    -------
    int
    """
    n_blocks, B = _lanes_for(runs)
    lanes = n_blocks * B
    taus = sorted(int(t) for t in taus)
    constant = [t for t in taus if delay_model == "constant" or t == 0]
    random_ = [t for t in taus if not (delay_model == "constant" or t == 0)]
    slots = 0  # ring slots (each d doubles per lane)
    cfgs = sorted(constant * n_mu)
    for i in range(0, len(cfgs), SIM_GROUP_SIZE):
        group = cfgs[i : i + SIM_GROUP_SIZE]
        slots += len(group) * max(group[-1] + 2, 3)
    samples = float(runs) * n_steps
    for m in random_:
        slots += n_mu * max(_max_delay(delay_model, m, samples) + 2, 3)
    n_cfg = n_mu * len(taus)
    ring = slots * lanes * d * 8
    delays = (len(random_) + 1) * lanes * n_steps * 8 if random_ else 0
    data = 3 * min(SIM_DATA_CHUNK_BYTES, n_steps * lanes * d * 8)
    lane_state = 4 * n_cfg * lanes * d * 8
    outputs = 3 * n_cfg * runs * (d * 8 + 8)
    return int(ring + delays + data + lane_state + outputs)


def dataset_bytes(n_mu: int, n_tau: int, runs: int, d: int) -> int:
    """Bytes of a grid Dataset: ``h_final`` (d doubles), ``diverged`` (bool) and the per-run
    ``error`` (a double) per (mu, tau, run).

    Parameters
    ----------
    n_mu, n_tau, runs, d : int
        Sizes of the grid.

    Returns
    -------
    int
    """
    return int(n_mu * n_tau * runs * (d * 8 + 1 + 8))


def analysis_bytes(n_tau: int, runs: int, d: int) -> int:
    """Peak bytes of the analysis of one curve (one mu): the bootstrap of the optimal delay
    (``N_BOOT`` x runs resample indices and counts, their flattened copies, and ``N_BOOT`` x
    n_tau resampled means) and the error's temporaries over (tau, run, coord).

    Parameters
    ----------
    n_tau, runs, d : int
        Sizes of the curve.

    Returns
    -------
    int
    """
    from compare.optimal_delay import N_BOOT

    return int(N_BOOT * runs * 8 * 5 + 2 * N_BOOT * n_tau * 8 + 3 * n_tau * runs * d * 8)


def check_resources(estimate, args) -> None:
    """Refuse, in ``validate`` (before the output directory or any cell), a run that does not fit.

    Parameters
    ----------
    estimate : compare.engine.estimate.Estimate
        The run's planned memory and work.
    args : argparse.Namespace
        The options (``--max-memory``, ``--max-steps``; nothing is checked with ``--from-store``).

    Raises
    ------
    ValueError
        One line giving the estimate and the options that reduce it.
    """
    from compare.engine.estimate import check_fits, memory_limit, step_limit

    if getattr(args, "from_store", None):
        return
    check_fits(
        estimate,
        memory_limit(getattr(args, "max_memory", None)),
        step_limit(getattr(args, "max_steps", None), getattr(args, "quick", False)),
    )
