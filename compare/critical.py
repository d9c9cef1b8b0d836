r"""``python -m compare critical``: how the critical delay of Figure 1 scales with eta and mu.

The paper's delay conditions (all "up to constants") predict

* Theorem 3 (ODE regime, also Lemma 1, Proposition 8):
  :math:`\tau \lesssim (1-\mu)^2/(\lambda_1 \eta^{1-\gamma})`, :math:`\gamma \in (0, 1]`: an
  exponent in :math:`\eta` in :math:`[-1, 0)` and an exponent 2 in :math:`1-\mu`;
* Lemma 4 (SDE regime, also Theorems 5 and 9, Propositions 6 and 10):
  :math:`\tau \asymp (1-\mu)^2/((\lambda_1 + C_d)\eta^{1/2-\gamma})`, :math:`\gamma \in (0, 1/2]`:
  an exponent in :math:`\eta` in :math:`[-1/2, 0)` and an exponent 2 in :math:`1-\mu`;

while the exact linear-stability threshold of the delayed heavy-ball recursion at the
optimum (:func:`theory.stability.stability_threshold`, binding radial mode
:math:`c = 2\lambda_1`) tends to :math:`\pi(1-\mu)/(2\eta c)`: exponent :math:`-1` in
:math:`\eta` and :math:`1` in :math:`1-\mu` (with corrections in :math:`\eta c/(1-\mu)^2`).

This command measures the critical delay of the simulation, the Figure 1 optimal delay of
:func:`compare.optimal_delay.optimal_delay` (largest tau whose mean error stays within
:math:`(1+\rho)` times the error at tau = 0), on two ladders:

* an **eta ladder** at fixed ``--mu`` (default 0.8; default etas 4e-3 .. 1.25e-4, halving);
* a **mu ladder** at fixed ``--eta`` (default the paper's 5e-4; default mus 0.5 .. 0.95),

each from the saddle e_2 over the horizon T = ``--horizon`` (ODE time, default 10 as in
``tradeoff``). Because the critical delay moves by two orders of magnitude across the
ladders, each cell gets its own delay grid: ``--n-taus`` points from 0 to ``--span`` times
the exact stability threshold (defaults 33 and 1.6: a 5% resolution). A critical delay at
the end of its grid is flagged as censored.

On the engine: :class:`CriticalSpec`; :func:`cells`, one :func:`compare.msgd_grid.cell` per
ladder point (a point on both ladders is one cell, computed once); :func:`assemble`, a
Dataset over ``point`` (each with its own padded delay grid); analysis, power-law fits and
figure in :mod:`compare.critical_analysis`.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compare import cli, msgd_grid
from compare import critical_analysis as analysis
from compare.critical_analysis import PREDICTED_EXPONENTS, STABILITY_EXPONENTS, exponent_check
from compare.engine import Cell, Comparison, RunnerOptions, run_cells, run_command
from compare.engine.estimate import Estimate
from compare.msgd_grid import (
    ERROR_KINDS,
    MAX_TAUS,
    GridSpec,
    analysis_bytes,
    call_bytes,
    check_mus,
    check_resources,
    check_runs,
    check_seed,
    dataset_bytes,
)
from compare.optimal_delay import DEFAULT_RHO
from compare.tradeoff import DEFAULT_HORIZON, n_steps_of, parse_mus, reject_model_parameters
from compare.verdict import Verdict
from theory import Problem
from theory.validation import check_eta, check_mu, check_positive_float, check_positive_int

__all__ = [
    "NAME",
    "HELP",
    "COMPARISON",
    "CriticalSpec",
    "cells",
    "assemble",
    "estimate",
    "spec_from_args",
    "DEFAULT_ETAS",
    "DEFAULT_MUS",
    "DEFAULT_MU",
    "DEFAULT_SPAN",
    "DEFAULT_N_TAUS",
    "PREDICTED_EXPONENTS",
    "STABILITY_EXPONENTS",
    "add_arguments",
    "validate",
    "run",
    "quick_args",
    "key_params",
    "relative_tau_grid",
    "critical_ladder",
    "exponent_check",
]

NAME = "critical"
HELP = "scaling of the critical delay in eta and 1 - mu: simulation vs Theorem 3, Lemma 4 and exact stability"

#: Eta ladder (halving from 4e-3 to 1.25e-4, brackets the paper's 5e-4 of Section 4.1).
DEFAULT_ETAS = "4e-3,2e-3,1e-3,5e-4,2.5e-4,1.25e-4"
#: Mu ladder: the paper's five momenta (Section 4.1) plus 0.5, 0.6, 0.75, 0.925 to refine it.
DEFAULT_MUS = "0.5,0.6,0.7,0.75,0.8,0.85,0.9,0.925,0.95"
#: Momentum of the eta ladder: 0.8 keeps eta c/(1-mu)^2 (the expansion parameter of
#: theory.stability) below 1 on the whole ladder, so the eta -> 0 law is approached.
DEFAULT_MU = 0.8
#: Delay grid of a cell: 0 .. DEFAULT_SPAN x the exact stability threshold ...
DEFAULT_SPAN = 1.6
#: ... in DEFAULT_N_TAUS points (spacing 5% of the threshold).
DEFAULT_N_TAUS = 33
#: Largest span: past a few times the threshold every run diverges, so a longer grid adds nothing.
MAX_SPAN = 100.0
#: Quick (smoke-test) budget: see :func:`quick_args`.
_QUICK = {"etas": "2e-3,1e-3", "mus": "0.8,0.9", "n_taus": 6, "runs": 4, "horizon": 1.0}


def relative_tau_grid(threshold: int, span: float = DEFAULT_SPAN, n: int = DEFAULT_N_TAUS) -> np.ndarray:
    """Integer delay grid 0 .. round(span x max(threshold, 1)) in at most n distinct points.

    Parameters
    ----------
    threshold : int
        The exact stability threshold of the cell (``max_stable_delay``).
    span : float
        Multiple of the threshold the grid reaches.
    n : int
        Number of points before removing duplicates (>= 2).

    Returns
    -------
    ndarray of int
        Sorted distinct delays, from 0.
    """
    top = max(1, int(round(span * max(int(threshold), 1))))
    return np.unique(np.round(np.linspace(0, top, n)).astype(int))


@dataclass(frozen=True)
class CriticalSpec(GridSpec):
    """The two ladders (fields of GridSpec, whose ``eta`` is the mu ladder's step size, plus):

    etas : tuple of float
        Eta ladder, at momentum ``mu``.
    mus : tuple of float
        Mu ladder, at step size ``eta``.
    mu : float
        Momentum of the eta ladder.
    span : float > 1
        Each cell's delay grid reaches span x its exact stability threshold ...
    n_taus : int >= 3
        ... in this many points.
    """

    KIND = "critical spec"
    etas: tuple = tuple(float(e) for e in DEFAULT_ETAS.split(","))
    mus: tuple = tuple(float(m) for m in DEFAULT_MUS.split(","))
    mu: float = DEFAULT_MU
    span: float = DEFAULT_SPAN
    n_taus: int = DEFAULT_N_TAUS

    def validate(self) -> None:
        """Check and normalise the fields (ValueError naming the field)."""
        super().validate()
        etas = (self.etas,) if isinstance(self.etas, (int, float)) else self.etas
        if not isinstance(etas, tuple) or not etas:
            raise ValueError(f"etas must be a non-empty list of step sizes, got {self.etas!r}")
        self.set("etas", tuple(check_eta(e, "etas") for e in etas))
        if len(set(self.etas)) != len(self.etas):
            raise ValueError(f"etas must not repeat a value, got {list(self.etas)}")
        self.set("mus", check_mus(self.mus, "mus"))
        self.set("mu", check_mu(self.mu, "mu"))
        if not isinstance(self.span, (int, float)) or not 1.0 < self.span <= MAX_SPAN:
            raise ValueError(
                f"span must be a number in (1, {MAX_SPAN:g}] (the grid must pass the threshold), "
                f"got {self.span!r}"
            )
        self.set("span", float(self.span))
        n = check_positive_int(self.n_taus, "n_taus")
        if not 3 <= n <= MAX_TAUS:
            raise ValueError(f"n_taus must be an integer in 3..{MAX_TAUS}, got {self.n_taus!r}")
        self.set("n_taus", n)

    def points(self) -> list[tuple[str, float, float]]:
        """(ladder, eta, mu) of every cell: the eta ladder at ``mu``, then the mu ladder at ``eta``.

        Returns
        -------
        list of (str, float, float)
        """
        return [("eta", e, self.mu) for e in self.etas] + [("mu", self.eta, m) for m in self.mus]


def cells(spec: CriticalSpec) -> list[Cell]:
    """One grid cell per ladder point, its delay grid from its exact stability threshold.

    Parameters
    ----------
    spec : CriticalSpec

    Returns
    -------
    list of Cell
    """
    return _point_cells(spec, spec.points())


def _point_cells(spec: CriticalSpec, points) -> list[Cell]:
    out = []
    for _ladder, eta, mu in points:
        taus = _point_taus(spec, eta, mu)
        params = msgd_grid.grid_params(
            eta=eta,
            mus=[mu],
            taus=taus,
            delay_model=spec.delay_model,
            eigenvalues=spec.eigenvalues,
            dist=spec.dist,
            horizon=spec.horizon,
        )
        out.append(Cell(NAME, msgd_grid.FN, params, runs=spec.runs, seed=spec.seed))
    return out


def _point_taus(spec: CriticalSpec, eta: float, mu: float) -> np.ndarray:
    from compare._common import stability

    return relative_tau_grid(stability(spec.problem(), mu, eta).max_stable_delay, spec.span, spec.n_taus)


def estimate(spec: CriticalSpec) -> Estimate:
    """Peak memory and work of a critical run, before any cell runs (issue 13).

    Every ladder point is its own simulator call (:func:`compare.msgd_grid.call_bytes` of its
    delay grid at its eta; the largest counts), then the cells' Datasets and their padded
    assembly are held (3 x :func:`compare.msgd_grid.dataset_bytes` of points x n_taus), plus
    the bootstrap of one point (:func:`compare.msgd_grid.analysis_bytes`).

    Parameters
    ----------
    spec : CriticalSpec

    Returns
    -------
    Estimate
        ``chain_steps`` = sum over points of taus x runs x iterations.
    """
    d = len(spec.eigenvalues)
    peak, steps, n_max = 0, 0.0, 0
    for _ladder, eta, mu in dict.fromkeys(spec.points()):
        taus = _point_taus(spec, eta, mu)
        n = n_steps_of(eta, spec.horizon)
        peak = max(peak, call_bytes(1, taus.tolist(), spec.delay_model, spec.runs, n, d))
        steps += float(taus.size) * spec.runs * n
        n_max = max(n_max, int(taus.size))
    points = len(spec.points())
    memory = peak + 3 * dataset_bytes(points, n_max, spec.runs, d) + analysis_bytes(n_max, spec.runs, d)
    reduce = ("--runs", "--span", "--n-taus", "--etas (fewer, or larger: smaller thresholds)", "--mus")
    if spec.delay_model != "constant":
        reduce += ("--horizon",)
    return Estimate(memory_bytes=memory, chain_steps=steps, reduce=reduce)


def assemble(spec: CriticalSpec, plan: list[Cell], datasets: list, points=None):
    """One Dataset over ``point`` (ladder order), each point's delay grid padded to ``n_taus``.

    Variables: ``h_final`` (point, tau_index, run, coord) and ``diverged`` (point, tau_index,
    run), NaN / False beyond ``n_tau``; ``tau`` (point, tau_index), -1 beyond; ``n_tau``,
    ``eta``, ``mu``, ``n_steps``, ``ladder`` ("eta" or "mu") and ``cell`` (content hash) per point.

    Parameters
    ----------
    spec : CriticalSpec
    plan : list of Cell
        The cells, one per point, in point order.
    datasets : list of xarray.Dataset
        Their Datasets.
    points : list of (str, float, float), optional
        (ladder, eta, mu) per cell; default ``spec.points()``.

    Returns
    -------
    xarray.Dataset
    """
    import xarray as xr

    pts = spec.points() if points is None else points
    n_max = max(ds.sizes["tau"] for ds in datasets)
    runs, d = datasets[0].sizes["run"], datasets[0].sizes["coord"]
    P = len(datasets)
    h = np.full((P, n_max, runs, d), np.nan)
    div = np.zeros((P, n_max, runs), dtype=bool)
    tau = np.full((P, n_max), -1, dtype=np.int64)
    n_tau = np.zeros(P, dtype=np.int64)
    for p, ds in enumerate(datasets):
        n = ds.sizes["tau"]
        h[p, :n] = ds["h_final"].values[0]
        div[p, :n] = ds["diverged"].values[0]
        tau[p, :n] = ds["tau"].values
        n_tau[p] = n

    def attrs(description, units):
        return {"long_name": description, "description": description, "units": units}

    return xr.Dataset(
        {
            "h_final": (("point", "tau_index", "run", "coord"), h, dict(datasets[0]["h_final"].attrs)),
            "diverged": (("point", "tau_index", "run"), div, dict(datasets[0]["diverged"].attrs)),
            "tau": (
                ("point", "tau_index"),
                tau,
                attrs("delay grid of the point's cell (-1: padding)", "iterations"),
            ),
            "n_tau": (("point",), n_tau, attrs("number of delays of the point's grid", "1")),
            "eta": (("point",), np.array([e for _, e, _ in pts]), attrs("step size eta of the point", "1")),
            "mu": (("point",), np.array([m for _, _, m in pts]), attrs("momentum mu of the point", "1")),
            "n_steps": (
                ("point",),
                np.array([ds.attrs["n_steps"] for ds in datasets], dtype=np.int64),
                attrs("iterations of each run, round(horizon / eta)", "iterations"),
            ),
            "ladder": (("point",), np.array([lad for lad, _, _ in pts]), attrs("ladder: eta or mu", "")),
            "cell": (("point",), np.array([c.key for c in plan]), attrs("content hash of the cell", "")),
        },
        coords={
            "point": ("point", np.arange(P), attrs("ladder point (eta ladder first, then mu ladder)", "1")),
            "tau_index": ("tau_index", np.arange(n_max), attrs("index into the point's delay grid", "1")),
            "run": ("run", np.arange(runs), attrs("run index", "1")),
            "coord": ("coord", np.arange(1, d + 1), attrs("eigen-coordinate index i of h_i (1-based)", "1")),
        },
        attrs={"equation": datasets[0].attrs["equation"], "delay_model": spec.delay_model},
    )


def critical_ladder(
    problem: Problem,
    points: list[tuple[float, float]],
    *,
    runs: int,
    horizon: float,
    seed: int,
    rho: float,
    span: float = DEFAULT_SPAN,
    n_taus: int = DEFAULT_N_TAUS,
    delay_model: str = "constant",
    kind: str = "angle",
) -> list[dict]:
    """Simulated and theoretical critical delays for each (eta, mu) point, in memory (no store).

    Returns the entries of :func:`compare.critical_analysis.ladder_entries` (eta, mu, taus,
    mean_error, simulated, stability, n_steps, seconds), one per point.

    Parameters
    ----------
    problem : theory.Problem
    points : list of (float, float)
        (eta, mu) per point.
    runs, horizon, seed, rho, span, n_taus, delay_model, kind
        As the fields of :class:`CriticalSpec` (``kind`` is its ``error``).

    Returns
    -------
    list of dict
    """
    spec = CriticalSpec(
        runs=runs,
        horizon=horizon,
        seed=seed,
        rho=rho,
        span=span,
        n_taus=n_taus,
        delay_model=delay_model,
        eigenvalues=tuple(problem.lambda_.tolist()),
        dist=problem.dist.name,
        error=kind,
    )
    pts = [("point", float(e), float(m)) for e, m in points]
    plan = _point_cells(spec, pts)
    datasets, summary = run_cells(plan, options=RunnerOptions(progress=False))
    return analysis.ladder_entries(spec, assemble(spec, plan, datasets, pts), {"summary": summary})


# ---------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Common options (with --mu for the eta ladder, without --tau) plus the ladders.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser.
    """
    cli.add_common_arguments(parser, mu_default=DEFAULT_MU, include_tau=False, runs_default=100)
    g = parser.add_argument_group("critical options")
    g.add_argument("--etas", default=DEFAULT_ETAS, help=f"eta ladder at --mu (default {DEFAULT_ETAS})")
    g.add_argument("--mus", default=DEFAULT_MUS, help=f"mu ladder at --eta (default {DEFAULT_MUS})")
    g.add_argument(
        "--horizon", type=float, default=DEFAULT_HORIZON, help="ODE time T of each run (default 10)"
    )
    g.add_argument("--rho", type=float, default=DEFAULT_RHO, help="optimal-delay allowance (default 0.5)")
    g.add_argument(
        "--span",
        type=float,
        default=DEFAULT_SPAN,
        help="delay grid of a cell reaches span x the stability threshold (default 1.6)",
    )
    g.add_argument(
        "--n-taus", type=int, default=DEFAULT_N_TAUS, help="points of each cell's delay grid (default 33)"
    )
    g.add_argument("--error", default="angle", help="error at the horizon: angle | distance")


def validate(args: argparse.Namespace) -> None:
    """Validate the ladders in place, before any work (ValueError naming the option).

    ``--quick`` is applied by ``compare.__main__`` (its budget only for the options the user
    did not give); nothing here overrides a value the user gave.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options; gains ``eta_values``, ``mu_values`` and ``mu_keys``.
    """
    reject_model_parameters(args)
    args.runs = check_runs(args.runs, "--runs")
    args.seed = check_seed(args.seed, "--seed")
    etas = cli.parse_float_list(args.etas, "--etas")
    args.eta_values = [check_eta(e, "--etas") for e in etas]
    if len(set(args.eta_values)) != len(args.eta_values):
        raise ValueError(f"--etas must not repeat a value, got {args.etas!r}")
    args.mu_values, args.mu_keys = parse_mus(args.mus, "--mus")
    args.mu = check_mu(args.mu, "--mu")
    args.horizon = check_positive_float(args.horizon, "--horizon")
    if not math.isfinite(args.rho) or args.rho < 0:
        raise ValueError(f"--rho must be a finite number >= 0, got {args.rho!r}")
    if not 1.0 < args.span <= MAX_SPAN:
        raise ValueError(
            f"--span must be a number in (1, {MAX_SPAN:g}] (the grid must pass the threshold), "
            f"got {args.span!r}"
        )
    if not 3 <= args.n_taus <= MAX_TAUS:
        raise ValueError(f"--n-taus must be an integer in 3..{MAX_TAUS}, got {args.n_taus!r}")
    if args.error not in ERROR_KINDS:
        raise ValueError(f"--error must be one of {', '.join(ERROR_KINDS)}, got {args.error!r}")
    check_resources(estimate(spec_from_args(args)), args)


def quick_args() -> list[str]:
    """Extra argv of the contract test's tiny budget (2 etas + 2 mus, 6 taus, 4 runs, T = 1).

    Returns
    -------
    list of str
    """
    return [
        "--etas",
        _QUICK["etas"],
        "--mus",
        _QUICK["mus"],
        "--n-taus",
        str(_QUICK["n_taus"]),
        "--runs",
        str(_QUICK["runs"]),
        "--horizon",
        str(_QUICK["horizon"]),
    ]


def key_params(args: argparse.Namespace) -> dict:
    """Default output directory key: eta and mu of the two ladders' fixed values.

    Parameters
    ----------
    args : argparse.Namespace
        The validated options.

    Returns
    -------
    dict
    """
    return {"eta": args.eta, "mu": args.mu, "delay": args.delay_model}


def spec_from_args(args: argparse.Namespace) -> CriticalSpec:
    """The spec of validated options.

    Parameters
    ----------
    args : argparse.Namespace
        The validated options.

    Returns
    -------
    CriticalSpec
    """
    problem = cli.problem_from_args(args)
    return CriticalSpec(
        eta=args.eta,
        runs=args.runs,
        seed=args.seed,
        horizon=args.horizon,
        delay_model=args.delay_model,
        eigenvalues=tuple(problem.lambda_.tolist()),
        dist=problem.dist.name,
        rho=args.rho,
        error=args.error,
        etas=tuple(args.eta_values),
        mus=tuple(args.mu_values),
        mu=args.mu,
        span=args.span,
        n_taus=args.n_taus,
    )


def run(args: argparse.Namespace, out_dir: Path) -> Verdict:
    """Run both ladders (or load them with --from-store), fit the power laws, and say which
    prediction the data support.

    Parameters
    ----------
    args : argparse.Namespace
        Validated by :func:`validate`.
    out_dir : path
        Output directory.

    Returns
    -------
    Verdict
    """
    return run_command(COMPARISON, args, out_dir)


def _report(verdict: Verdict) -> str:
    return verdict.results["table"] + "\n" + verdict.results["conclusion"]


#: The comparison as the engine runs it.
COMPARISON = Comparison(
    name=NAME,
    spec=CriticalSpec,
    from_args=spec_from_args,
    cells=cells,
    analyse=analysis.analyse,
    figures=analysis.figures,
    assemble=assemble,
    report=_report,
    estimate=estimate,
)
