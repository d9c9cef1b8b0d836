r"""ode: the ensemble mean of Async-MSGD vs the closed form of ODE (7) (Theorem 3).

Theory: :func:`theory.ode.closed_form_H`, the solution after Theorem 3 of

.. math::

    \dot V = \frac{1}{1-\mu}\left[\Sigma V - V^\top\Sigma V\,V\right],\qquad
    H^{(i)}(t) \propto H^{(i)}(0)\,e^{\lambda_i t/(1-\mu)},

in time units t = k eta. Beyond the paper, the full small-noise diffusion
:math:`dV = M(V)dt + \frac{\sqrt\eta}{1-\mu}B(V)dW` (``simulate.diffusion``, when available),
whose mean carries the O(eta) noise-induced bias the ODE neglects.

Simulation: :func:`simulate.simulate_async_msgd` from ``--h0`` (eigen-coordinates,
normalised) on an eta ladder.

Checks (rules in docs/compare.md, built by :mod:`compare.ode_analysis`):

* ``mean_vs_ode_order``: the sup over t and coordinates of |ensemble mean - H(t)|, fitted
  against eta on the ladder: Theorem 3 is a statement about eta -> 0, so the discrepancy
  must shrink (the interval of the fitted order lies above 0; order 1 is expected from the
  momentum warm-up lag of mu/(1-mu) steps and the O(eta) noise bias);
* ``mean_vs_ode[eta=..]``: at each step size, the sup error's bootstrap interval, with the
  tolerance C * eta, C = the lag bound |dH/dt|_max * (mu/(1-mu) + tau) (:func:`lag_constant`,
  derived in docs/compare.md) -- i.e. the ODE holds up to its known O(eta) correction;
* ``mean_vs_diffusion``: when ``simulate.diffusion`` exists, the same sup distance to the
  diffusion's ensemble mean at the base eta (reported; same tolerance).

On the experiment engine (:mod:`compare.engine`): :class:`OdeSpec`; one :func:`rung_cell`
per rung of the ladder (the runs' paths at the records, their mean and SE) and one
:func:`diffusion_cell` (the diffusion's mean and SE on the first rung's records);
:func:`assemble` stacks the rungs along ``rung``; analysis and figure in
:mod:`compare.ode_analysis`.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compare import cli
from compare import ode_analysis as analysis
from compare import single_run as S
from compare.engine import Cell, Comparison
from compare.verdict import Verdict
from theory.validation import check_positive_float

__all__ = [
    "NAME",
    "HELP",
    "COMPARISON",
    "unit_vector",
    "OdeSpec",
    "cells",
    "estimate",
    "assemble",
    "rung_cell",
    "diffusion_cell",
    "lag_constant",
    "compare_ode",
    "spec_from_args",
    "add_arguments",
    "validate",
    "run",
    "quick_args",
    "key_params",
    "N_RECORDS",
]

NAME = "ode"
HELP = (
    "Theorem 3, eq. (7): ensemble mean trajectory vs the closed-form ODE and the full diffusion; "
    "sup error vs eta"
)

#: Records per horizon.
N_RECORDS = 200
#: Bytes of the diffusion's noise block (``simulate.diffusion``: _BLOCK_DOUBLES float64).
DIFFUSION_BLOCK_BYTES = 8 * (1 << 21)
#: Seed tag of the diffusion's noise ("dif"), as before the engine.
_DIFFUSION_TAG = 0x646966


def unit_vector(h) -> np.ndarray:
    """``h / ||h||`` without overflow or underflow: scaled by max |h_i| first (``1e300`` or
    ``1e-320`` entries would make the plain norm inf or 0 and the start all zeros).

    Parameters
    ----------
    h : array_like, shape (d,)
        Finite, not all zero.

    Returns
    -------
    ndarray, shape (d,)
    """
    h = np.asarray(h, dtype=float)
    h = h / np.max(np.abs(h))
    return h / np.linalg.norm(h)


@dataclass(frozen=True)
class OdeSpec(S.SingleRunSpec):
    """The ensemble mean on an eta ladder (fields of :class:`compare.single_run.SingleRunSpec`, plus):

    h0 : tuple of float or None
        Start in eigen-coordinates as given (normalised by :meth:`start`); None: all ones.
    horizon : float > 0
        ODE time T.
    ladder : tuple of float > 0
        The rungs' step sizes as multiples of eta.
    drift_scale : float > 0
        Multiplies the drift of the predicted ODE (7) (analysis only; 1 = the paper's): the ODE
        is autonomous, so the prediction becomes H(drift_scale * t). Any other value is a
        deliberately wrong prediction the checks must reject (issue 9).
    runs : int >= 2
        (intervals need two).
    """

    ANALYSIS = ("level", "drift_scale")
    KIND = "ode spec"
    runs: int = 400
    h0: tuple | None = None
    horizon: float = 1.0
    ladder: tuple = (1.0, 0.5, 0.25)
    drift_scale: float = 1.0

    def validate(self) -> None:
        """Validate and normalise the fields in place (ValueError naming the field).

        The shared fields, then runs >= 2, h0 (d finite entries, not all zero), horizon > 0,
        the ladder (factors > 0), drift_scale > 0, and a horizon of at least one step of the largest rung.
        """
        super().validate()
        if self.runs < 2:
            raise ValueError(f"runs must be >= 2 for intervals, got {self.runs}")
        d = len(self.eigenvalues)
        if self.h0 is not None:
            try:
                h0 = tuple(float(x) for x in (self.h0 if isinstance(self.h0, tuple) else (self.h0,)))
            except (TypeError, ValueError):
                raise ValueError(f"h0 must be a list of {d} numbers, got {self.h0!r}") from None
            if len(h0) != d or not all(math.isfinite(x) for x in h0):
                raise ValueError(f"h0 must have {d} finite entries (one per eigenvalue), got {self.h0!r}")
            if not any(x != 0 for x in h0):
                raise ValueError("h0 must be non-zero")
            self.set("h0", h0)
        self.set("horizon", check_positive_float(self.horizon, "horizon"))
        ladder = self.ladder if isinstance(self.ladder, tuple) else (self.ladder,)
        if not ladder or any(
            not isinstance(f, (int, float)) or not math.isfinite(f) or f <= 0 for f in ladder
        ):
            raise ValueError(f"ladder must be a non-empty list of factors > 0, got {self.ladder!r}")
        self.set("ladder", tuple(float(f) for f in ladder))
        if len(set(self.ladder)) != len(self.ladder):
            raise ValueError(f"ladder must have distinct factors (one rung each), got {list(self.ladder)}")
        self.set("drift_scale", check_positive_float(self.drift_scale, "drift_scale"))
        step = self.eta * max(self.ladder)
        if not self.horizon >= step:
            raise ValueError(
                f"horizon must be at least one step of the largest rung, eta x max(ladder) = {step:.3g}, "
                f"got {self.horizon!r}"
            )

    def start(self) -> np.ndarray:
        """h_0 normalised (default: all coordinates equal, away from every saddle), shape (d,).

        Returns
        -------
        ndarray, shape (d,)
        """
        d = len(self.eigenvalues)
        return np.ones(d) / math.sqrt(d) if self.h0 is None else unit_vector(self.h0)

    def etas(self) -> list[float]:
        """The step sizes of the ladder, eta x factor.

        Returns
        -------
        list of float
        """
        return [self.eta * f for f in self.ladder]


def cells(spec: OdeSpec) -> list[Cell]:
    """The plan: one cell per rung, then the diffusion on the first rung's records.

    Parameters
    ----------
    spec : OdeSpec

    Returns
    -------
    list of compare.engine.Cell
    """
    h0, dt = spec.start(), spec.horizon / N_RECORDS
    out = [
        Cell(
            NAME,
            "compare.ode:rung_cell",
            S.discrete_params(spec, h0=h0, horizon=spec.horizon, record_dt=dt, eta=eta_l),
            runs=spec.runs,
            seed=spec.seed,
        )
        for eta_l in spec.etas()
    ]
    first = out[0].params
    diff = {k: first[k] for k in ("eigenvalues", "dist", "basis", "mu", "h0", "horizon", "record_dt")}
    diff.update(eta=float(spec.eta), record_eta=first["eta"])
    out.append(Cell(NAME, "compare.ode:diffusion_cell", diff, runs=spec.runs, seed=spec.seed))
    return out


def estimate(spec: OdeSpec):
    """Peak memory and work of the plan (:class:`compare.engine.estimate.Estimate`).

    Every rung's records (runs, records, d) are kept in its Dataset and again in the assembled
    one; on top, the largest transient of one cell: a rung's simulation
    (:func:`compare.single_run.discrete_memory_bytes`) or the diffusion (its time grid and
    kept-steps mask, its records twice and its noise block). Work = runs x steps, summed over
    the rungs and the diffusion.

    Parameters
    ----------
    spec : OdeSpec

    Returns
    -------
    compare.engine.estimate.Estimate
    """
    from compare.engine.estimate import Estimate

    d = len(spec.eigenvalues)
    dt = spec.horizon / N_RECORDS
    kept, transient, steps = 0, 0, 0.0
    for eta_l in spec.etas():
        n = int(round(spec.horizon / eta_l))
        n_t = n // max(1, int(round(dt / eta_l))) + 1
        kept += 2 * spec.runs * n_t * d * 8
        transient = max(transient, S.discrete_memory_bytes(spec.runs, n, n_t, d, spec.delay))
        steps += float(spec.runs) * n
    n = int(round(spec.horizon / spec.eta))
    n_t = n // max(1, int(round(dt / spec.etas()[0]))) + 1
    transient = max(transient, 9 * (n + 1) + 2 * n_t * spec.runs * d * 8 + DIFFUSION_BLOCK_BYTES)
    steps += float(spec.runs) * n
    return Estimate(
        memory_bytes=kept + transient,
        chain_steps=steps,
        reduce=S.reduce_options(spec, kept + transient, ("--runs", "--horizon", "--ladder")),
    )


def rung_cell(params: dict, seed: int, runs: int):
    """Async-MSGD (5) from h_0 at one step size: the runs' paths at the records, their mean and SE.

    Returns
    -------
    xarray.Dataset
        ``h`` (run, record, coord): eigen-coordinates at the records (a diverged run: frozen);
        ``diverged`` (run), bool; ``mean``, ``se`` (record, coord): ensemble mean and its
        standard error over the runs that did not diverge; ``t`` (record): record times (ODE
        units); ``staleness_mean`` (), iterations; ``eta`` (), the step size.

    Parameters
    ----------
    params : dict
        The cell's parameters (:func:`cells`).
    seed : int
        Root seed.
    runs : int
        Runs.
    """
    import xarray as xr

    res, t, h = S.simulate_records(params, seed, runs)
    diverged = np.asarray(res.diverged[0], dtype=bool)
    alive = h[~diverged]
    if alive.shape[0] >= 2:
        mean = alive.mean(axis=0)
        se = alive.std(axis=0, ddof=1) / math.sqrt(alive.shape[0])
    else:  # fewer than two runs left: no mean with an error (the analysis says "not measured")
        mean = se = np.full(h.shape[1:], np.nan)
    rc = ("record", "coord")
    ds = xr.Dataset(
        {
            "h": (("run", "record", "coord"), h, {"long_name": "eigen-coordinates h = Q^T v at the records"}),
            "diverged": (("run",), diverged, {"long_name": "run diverged (left out of mean and se)"}),
            "mean": (rc, mean, {"long_name": "ensemble mean of h over the runs that did not diverge"}),
            "se": (rc, se, {"long_name": "standard error of the ensemble mean"}),
            "t": (
                ("record",),
                np.asarray(t, dtype=float),
                {"long_name": "record time t = k eta", "units": "ODE time"},
            ),
            "staleness_mean": (
                (),
                float(res.mean_staleness[0]),
                {"long_name": "measured mean delay", "units": "iterations"},
            ),
        },
        coords=_coords(runs, t.size, h.shape[2])
        | {"eta": ((), float(params["eta"]), {"long_name": "step size"})},
        attrs={"equation": "Liu et al. 2018, eq. (5); Theorem 3's ODE (7) is its eta -> 0 limit"},
    )
    return S.annotate(ds, _UNITS, _DESCRIPTIONS)


def diffusion_cell(params: dict, seed: int, runs: int):
    """The full small-noise diffusion (beyond the paper): ensemble mean and SE on the first rung's records.

    Euler-Maruyama with step eta (the base step size, the discrete algorithm's own step in ODE
    time), recorded at the grid points nearest to the records of the rung of step ``record_eta``
    (``simulate.diffusion.simulate_diffusion``, ``runs`` paths, the seed tag of the code before
    the engine). ``available`` = 0 (and NaN arrays) when ``simulate.diffusion`` is missing or
    the records do not fall on distinct grid points.

    Returns
    -------
    xarray.Dataset
        ``diffusion_mean``, ``diffusion_se`` (record, coord), eigen-coordinates;
        ``diffusion_available`` (), 1 or 0.

    Parameters
    ----------
    params : dict
        The cell's parameters (problem, mu, h0, horizon, record_dt, eta, record_eta).
    seed : int
        Root seed.
    runs : int
        Diffusion paths.
    """
    import xarray as xr

    from compare.single_run import problem_of, record_times

    problem = problem_of(params)
    eta = params["eta"]
    t = record_times(params["record_eta"], params["horizon"], params["record_dt"])
    mean = se = np.full((t.size, problem.d), np.nan)
    available = 0
    try:
        from simulate.diffusion import simulate_diffusion
    except ImportError:
        simulate_diffusion = None
    n = int(round(t[-1] / eta))
    record = np.unique(np.clip(np.rint(t / eta).astype(int), 0, n))
    if simulate_diffusion is not None and record.size == t.size:
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), _DIFFUSION_TAG]))
        v0 = problem.from_eigen(np.asarray(params["h0"], dtype=float))
        grid = np.arange(n + 1) * eta
        H = simulate_diffusion(problem, params["mu"], eta, v0, grid, n_paths=runs, rng=rng, record=record)
        mean, se, available = H.mean(axis=1), H.std(axis=1, ddof=1) / math.sqrt(H.shape[1]), 1
    rc = ("record", "coord")
    ds = xr.Dataset(
        {
            "diffusion_mean": (
                rc,
                mean,
                {"long_name": "ensemble mean of the full diffusion (eigen-coordinates)"},
            ),
            "diffusion_se": (rc, se, {"long_name": "standard error of the diffusion's ensemble mean"}),
            "diffusion_available": (
                (),
                available,
                {
                    "long_name": "1: simulated; 0: simulate.diffusion absent "
                    "or the records do not fall on the diffusion's grid"
                },
            ),
        },
        coords={k: v for k, v in _coords(runs, t.size, problem.d).items() if k != "run"},
        attrs={
            "equation": "dV = M(V) dt + sqrt(eta)/(1-mu) B(V) dW (beyond the paper), Euler-Maruyama step eta"
        },
    )
    return S.annotate(ds, _UNITS, _DESCRIPTIONS)


#: Units of the cells' variables (h is a point of the unit sphere's neighbourhood: dimensionless).
_UNITS = {
    "h": "1",
    "diverged": "1",
    "mean": "1",
    "se": "1",
    "diffusion_mean": "1",
    "diffusion_se": "1",
    "diffusion_available": "1",
    "n_records": "1",
    "run": "1",
    "record": "1",
    "coord": "1",
    "rung": "1",
    "eta": "ODE time per step",
}
_DESCRIPTIONS = {
    "run": "run index",
    "record": "record index (record k is at t[rung, k])",
    "rung": "rung of the eta ladder (eta = eta[rung])",
}


def _coords(runs: int, n_rec: int, d: int) -> dict:
    return {
        "run": ("run", np.arange(runs, dtype=np.int64)),
        "record": ("record", np.arange(n_rec, dtype=np.int64)),
        "coord": ("coord", np.arange(1, d + 1, dtype=np.int64), {"long_name": "eigen-coordinate (1-based)"}),
    }


def assemble(spec: OdeSpec, plan: list[Cell], datasets: list):
    """Rungs stacked along ``rung`` (records padded with NaN where a rung has fewer), plus the diffusion.

    ``n_records`` (rung) holds each rung's number of records.

    Parameters
    ----------
    spec : OdeSpec
    plan : list of compare.engine.Cell
    datasets : list of xarray.Dataset
        The rungs' Datasets, then the diffusion's.

    Returns
    -------
    xarray.Dataset
    """
    import xarray as xr

    rungs = [ds.expand_dims("rung") for ds in datasets[:-1]]
    n_rec = [ds.sizes["record"] for ds in datasets[:-1]]
    out = xr.concat(
        rungs,
        dim="rung",
        data_vars="all",
        coords="all",
        compat="equals",
        join="outer",
        combine_attrs="drop_conflicts",
    )
    out = out.assign_coords(rung=np.arange(len(rungs), dtype=np.int64))
    out["n_records"] = (("rung",), np.asarray(n_rec, dtype=np.int64), {"long_name": "records of the rung"})
    merged = xr.merge([out, datasets[-1]], join="outer", combine_attrs="drop_conflicts")
    return S.annotate(merged, _UNITS, _DESCRIPTIONS)


def lag_constant(problem, mu: float, h0, t, tau: int = 0) -> float:
    """C of the O(eta) tolerance: max_t |dH/dt| (sup norm) x (mu/(1-mu) + tau) (lag in steps).

    From v_{-1} = v_0 the heavy-ball velocity builds up as (1 - mu^k)/(1-mu) times the ODE's,
    so the iterate lags the ODE by sum_k mu^k - ... = mu/(1-mu) steps; a constant delay tau
    evaluates the drift tau steps late. In time that is eta (mu/(1-mu) + tau), and the mean is
    off by at most that lag times the ODE speed (to first order in eta).

    Parameters
    ----------
    problem : theory.Problem
    mu : float
    h0 : ndarray, shape (d,)
        Start (unit norm).
    t : ndarray, shape (n_t,)
        Times of the sup (ODE units).
    tau : int
        Delay (iterations).

    Returns
    -------
    float
    """
    from theory.ode import closed_form_H, ode_drift

    H = closed_form_H(h0, problem.lambda_, mu, t)
    speed = np.abs(ode_drift(H, problem.lambda_, mu))
    return float(np.max(speed) * (mu / (1 - mu) + tau))


# ---------------------------------------------------------------------------------------
# CLI and Python API
# ---------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the common options and ode's (``--h0``, ``--horizon``, ``--ladder``, ``--level``).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser.
    """
    cli.add_common_arguments(parser, runs_default=400)
    g = parser.add_argument_group("ode options")
    g.add_argument("--h0", default=None, help="start in eigen-coordinates, normalised (default all ones)")
    g.add_argument("--horizon", type=float, default=1.0, help="horizon T in ODE time (default 1)")
    cli.add_ladder_argument(g)
    cli.add_level_argument(g)


def validate(args) -> None:
    """Validate ode's options in place, before any simulation (``args.h0_vec``, ``args.ladder_factors``).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options (the common ones already validated by ``compare.cli.validate_common``).

    Raises
    ------
    ValueError
        One line naming the option.
    """
    d = len(cli.parse_float_list(args.eigenvalues, "--eigenvalues"))
    # default start (normalised): all coordinates equal, away from every saddle, so the mean is
    # not dominated by noise-driven escapes (h_1(0) = 1/sqrt(d) >> sqrt(eta) noise)
    h0 = cli.parse_float_list(args.h0 if args.h0 is not None else ",".join(["1"] * d), "--h0")
    if len(h0) != d:
        raise ValueError(f"--h0 must have {d} entries (one per eigenvalue), got {len(h0)}")
    if not any(x != 0 for x in h0):
        raise ValueError("--h0 must be non-zero")
    args.h0_vec = unit_vector(h0)
    check_positive_float(args.horizon, "--horizon")
    args.ladder_factors = cli.parse_ladder(args.ladder)  # distinct factors > 0
    step = args.eta * max(args.ladder_factors)
    if not args.horizon >= step:
        given = getattr(args, "given_options", frozenset())
        if "horizon" in given or "eta" not in given:
            raise ValueError(
                f"--horizon must be at least one step of the largest rung, --eta x max(--ladder) = "
                f"{step:.3g}, got {args.horizon!r}"
            )
        raise ValueError(
            f"--eta {args.eta:g}: one step of the largest rung (x {max(args.ladder_factors):g}) is longer "
            f"than the default --horizon {args.horizon:g}; give a longer --horizon or a smaller --eta"
        )
    cli.check_level(args.level)
    if args.runs < 2:
        raise ValueError(f"--runs must be >= 2 for intervals, got {args.runs}")
    cli.delay_from_args(args)


def quick_args() -> list[str]:
    """The ``--quick`` budget: 10 runs, horizon 0.3, two rungs.

    Returns
    -------
    list of str
        Options prepended to the user's (which win).
    """
    return ["--runs", "10", "--horizon", "0.3", "--ladder", "1,0.5", "--no-progress"]


def key_params(args) -> dict:
    """The parameters naming the default output directory.

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    dict
    """
    return {"eta": args.eta, "mu": args.mu, "tau": args.tau}


def spec_from_args(args) -> OdeSpec:
    """The spec of validated options (``h0``: the once-normalised ``--h0``, normalised again by
    :meth:`OdeSpec.start`, as the code before the engine did).

    Parameters
    ----------
    args : argparse.Namespace
        Validated options.

    Returns
    -------
    OdeSpec
    """
    return OdeSpec(
        **S.spec_fields_from_args(args),
        h0=tuple(args.h0_vec.tolist()),
        horizon=args.horizon,
        ladder=tuple(args.ladder_factors),
    )


def compare_ode(
    problem,
    *,
    eta: float,
    mu: float,
    delay,
    h0=None,
    runs: int = 400,
    seed: int = 0,
    horizon: float = 1.0,
    ladder=(1.0, 0.5, 0.25),
    level: float = 0.95,
    out_dir: Path | None = None,
    fmt: str = "png",
    progress: bool = False,
    parameters: dict | None = None,
    drift_scale: float = 1.0,
) -> Verdict:
    """Ensemble mean of (5) vs ODE (7) (and the full diffusion when available) on an eta ladder.

    ``drift_scale`` multiplies the drift of the predicted ODE (7) (1 = the paper's); the ODE
    is autonomous, so the prediction becomes H(drift_scale * t). Any other value is a
    deliberately wrong prediction, which the checks must reject (the test hook of issue 9).
    Runs :data:`COMPARISON` in-process (no store).

    Parameters
    ----------
    problem : theory.Problem
    eta, mu : float
        Base step size and momentum.
    delay : int or simulate.delays.DelayModel
    h0 : array_like, shape (d,), optional
        Start in eigen-coordinates (normalised; default all ones).
    runs, seed : int
    horizon : float
        ODE time T.
    ladder : sequence of float
        The rungs as multiples of eta.
    level : float
        Confidence level.
    out_dir : path, optional
        Where the figure goes (none when None).
    fmt : str
        Figure format.
    progress : bool
    parameters : dict, optional
        The caller's common options, recorded under the spec's own.
    drift_scale : float
        See above.

    Returns
    -------
    compare.verdict.Verdict
    """
    fields = S.spec_fields_from_problem(
        problem, eta=eta, mu=mu, delay=delay, runs=runs, seed=seed, level=level
    )
    spec = OdeSpec(
        **fields,
        h0=None if h0 is None else tuple(float(x) for x in np.asarray(h0, dtype=float).ravel()),
        horizon=horizon,
        ladder=tuple(ladder),
        drift_scale=drift_scale,
    )
    return S.run_in_process(
        COMPARISON, spec, out_dir=out_dir, fmt=fmt, progress=progress, parameters=parameters
    )


def run(args, out_dir: Path) -> Verdict:
    """Simulate (or load with --from-store), analyse, draw: through the experiment engine.

    Parameters
    ----------
    args : argparse.Namespace
        The options, validated by :func:`validate` (and ``compare.cli.validate_common``).
    out_dir : path
        Where ``verdict.json``, ``raw.nc``, the figures and the store go.

    Returns
    -------
    compare.verdict.Verdict
    """
    return S.run_cli(COMPARISON, args, out_dir)


#: The comparison as the engine runs it.
COMPARISON = Comparison(
    name=NAME,
    spec=OdeSpec,
    from_args=spec_from_args,
    cells=cells,
    analyse=analysis.analyse,
    figures=analysis.figures,
    assemble=assemble,
    estimate=estimate,
)
