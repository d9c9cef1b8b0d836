r"""``python -m compare tradeoff``: the paper's Figure 1 (Section 4.1), reproduced and explained.

Section 4.1 runs Async-MSGD, update (5),

.. math::

    v_{k+1} = v_k + \mu (v_k - v_{k-1}) + \eta (I - w w^\top) X_k X_k^\top w,
    \qquad w = v_{k-\tau},

on :math:`\Sigma = \mathrm{diag}(4, 3, 2, 1)` with :math:`\eta = 5\times10^{-4}` from the saddle
:math:`v_0 = e_2`, 100 runs, :math:`\mu \in \{0.7, 0.8, 0.85, 0.9, 0.95\}`, and reads off
an *optimal delay* per momentum: 120, 80, 60, 30, 10 (Figure 1 caption). The paper gives
neither the number of iterations, nor the data distribution, nor the exact error; this
module fixes them as options (defaults: horizon :math:`T = n\eta = 10`, i.e. 20,000
iterations; Gaussian data; the error of :func:`compare.optimal_delay.horizon_error`).

The comparison on the experiment engine (:mod:`compare.engine`):

* **spec** :class:`TradeoffSpec` (from the options, a TOML file or Python);
* **cells** :func:`cells`: the mu x tau grid cut into blocks of ``cell_taus`` delays
  (all momenta in each), each a call of :func:`compare.msgd_grid.cell`; in-process the
  blocks share one simulator call (common random numbers), as before the engine;
* **analysis** :func:`compare.tradeoff_analysis.analyse`: the optimal delay per mu
  (:func:`compare.optimal_delay.optimal_delay`, bootstrap interval over runs) against the
  paper's, the exact linear-stability threshold (:mod:`theory.stability`), the paper's
  delay bounds and, for random delay models, the mean-field threshold; eq. (8)'s error at
  tau = 0;
* **figure** :func:`compare.tradeoff_analysis.figure`: mean error against tau per mu (log
  axis, 95% Student-t band), circles the simulated optimal delays, crosses the paper's,
  dashed verticals the exact stability thresholds.

Random delay models (``--delay-model uniform|geometric|pipeline``): the grid value m of
``--taus`` is the model's **mean delay** (:func:`compare.msgd_grid.delay_for_grid_value`)
and the optimal delay reported is an optimal *mean* delay. Why the optimal delays sit where
they do: docs/figure1.md.

Python API::

    from compare import tradeoff
    from compare.engine import run
    verdict, summary = run(tradeoff.COMPARISON, tradeoff.TradeoffSpec(taus=tuple(range(0, 161, 4))))
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

from compare import cli, msgd_grid
from compare import tradeoff_analysis as analysis
from compare.engine import Cell, Comparison, combine, run_command
from compare.engine.estimate import Estimate
from compare.msgd_grid import (
    ERROR_KINDS,
    GridSpec,
    analysis_bytes,
    call_bytes,
    check_mus,
    check_resources,
    check_runs,
    check_seed,
    check_taus,
    dataset_bytes,
    delay_for_grid_value,
)
from compare.optimal_delay import (
    DEFAULT_RHO,
    ERROR_CAP,
    N_BOOT,
    PAPER_MUS,
    PAPER_OPTIMAL_DELAY,
    PAPER_READING_RESOLUTION,
    STABILITY_RTOL,
    OptimalDelay,
    bootstrap_optimal_delay,
    delay_law,
    horizon_error,
    is_censored,
    mean_field_threshold,
    optimal_delay,
    saddle_start,
    stationary_error,
)
from compare.verdict import Verdict
from theory.validation import check_positive_float, check_positive_int

__all__ = [
    "NAME",
    "HELP",
    "COMPARISON",
    "TradeoffSpec",
    "cells",
    "assemble",
    "estimate",
    "spec_from_args",
    "n_steps_of",
    "PAPER_MUS",
    "PAPER_OPTIMAL_DELAY",
    "PAPER_READING_RESOLUTION",
    "DEFAULT_RHO",
    "DEFAULT_HORIZON",
    "DEFAULT_CELL_TAUS",
    "STABILITY_RTOL",
    "DEFAULT_TAUS",
    "ERROR_KINDS",
    "ERROR_CAP",
    "N_BOOT",
    "add_arguments",
    "validate",
    "run",
    "quick_args",
    "key_params",
    "horizon_error",
    "optimal_delay",
    "is_censored",
    "bootstrap_optimal_delay",
    "OptimalDelay",
    "delay_for_grid_value",
    "saddle_start",
    "parse_mus",
    "parse_taus",
    "reject_model_parameters",
    "stationary_error",
    "delay_law",
    "mean_field_threshold",
]

NAME = "tradeoff"
HELP = "Figure 1 (Section 4.1): error vs delay per momentum, optimal delays vs the stability threshold"

#: Issue 6: horizon T = n eta = 10 in ODE time units (20,000 iterations at eta = 5e-4);
#: the paper does not state its number of iterations.
DEFAULT_HORIZON = 10.0
#: Issue 6: tau = 0..160 every 1 (the paper's text says 0..100, but its optimal delay for
#: mu = 0.7 is 120, so the axis must reach past it; see the paper README's reading notes).
DEFAULT_TAUS = "0:160"
#: Delays per cell: the simulator advances 32 constant delays per kernel call
#: (``simulate.async_msgd.GROUP_SIZE``), so a block of 32 loses nothing to ring padding,
#: and Figure 1's 161 delays make 6 cells (work for a few workers; in-process the cells
#: share one call anyway).
DEFAULT_CELL_TAUS = 32
#: Quick (smoke-test) budget: see :func:`quick_args`.
_QUICK = {"mus": "0.8,0.9", "taus": "0:60:15", "runs": 6, "horizon": 1.0}


@dataclass(frozen=True)
class TradeoffSpec(GridSpec):
    """Figure 1's experiment: the grid mus x taus from the saddle e_2 (fields of GridSpec, plus):

    mus : tuple of float
        Momenta (Section 4.1's five by default).
    taus : tuple of int or str
        Delay grid, strictly increasing from 0 (``"0:160"`` or a list); with a random
        delay model, its mean delays.
    cell_taus : int
        Delays per cell (execution only: changes no number).
    """

    KIND = "tradeoff spec"
    EXECUTION = ("cell_taus",)
    mus: tuple = PAPER_MUS
    taus: tuple = tuple(range(161))
    cell_taus: int = DEFAULT_CELL_TAUS

    def validate(self) -> None:
        """Check and normalise the fields (ValueError naming the field)."""
        super().validate()
        self.set("mus", check_mus(self.mus, "mus"))
        self.set("taus", check_taus(self.taus, "taus"))
        self.set("cell_taus", check_positive_int(self.cell_taus, "cell_taus"))


def cells(spec: TradeoffSpec) -> list[Cell]:
    """The plan: blocks of ``cell_taus`` delays x every mu, one data stream (one batch group).

    Parameters
    ----------
    spec : TradeoffSpec

    Returns
    -------
    list of Cell
    """
    out = []
    for k in range(0, len(spec.taus), spec.cell_taus):
        block = spec.taus[k : k + spec.cell_taus]
        params = msgd_grid.grid_params(
            eta=spec.eta,
            mus=spec.mus,
            taus=block,
            delay_model=spec.delay_model,
            eigenvalues=spec.eigenvalues,
            dist=spec.dist,
            horizon=spec.horizon,
        )
        out.append(Cell(NAME, msgd_grid.FN, params, runs=spec.runs, seed=spec.seed, group="grid"))
    return out


def assemble(spec: TradeoffSpec, plan: list[Cell], datasets: list):
    """The cells' Datasets as one (mu, tau, run, coord) Dataset in the spec's order.

    Parameters
    ----------
    spec : TradeoffSpec
    plan : list of Cell
        :func:`cells` of ``spec``.
    datasets : list of xarray.Dataset
        The cells' Datasets, in plan order.

    Returns
    -------
    xarray.Dataset
    """
    return combine(plan, datasets, order={"mu": spec.mus, "tau": spec.taus})


def n_steps_of(eta: float, horizon: float) -> int:
    """Iterations of a run of ODE time ``horizon``: round(T / eta), at least 1 (as the cell does).

    Parameters
    ----------
    eta, horizon : float

    Returns
    -------
    int
    """
    return max(1, int(round(horizon / eta)))


def estimate(spec: TradeoffSpec) -> Estimate:
    """Peak memory and work of a tradeoff run, before any cell runs (issue 13).

    In-process the cells share one simulator call (:func:`compare.msgd_grid.call_bytes` of
    the whole grid); then the cells' Datasets, their assembly and the raw Dataset with the
    per-run error are held (4 x :func:`compare.msgd_grid.dataset_bytes`), plus the bootstrap
    of one curve (:func:`compare.msgd_grid.analysis_bytes`).

    Parameters
    ----------
    spec : TradeoffSpec

    Returns
    -------
    Estimate
        ``chain_steps`` = mus x taus x runs x iterations; ``reduce`` the options that lower
        the memory (``--horizon`` too for a random delay model, whose delay sequences are
        held for the whole run).
    """
    d = len(spec.eigenvalues)
    n = n_steps_of(spec.eta, spec.horizon)
    n_mu, n_tau = len(spec.mus), len(spec.taus)
    memory = (
        call_bytes(n_mu, spec.taus, spec.delay_model, spec.runs, n, d)
        + 4 * dataset_bytes(n_mu, n_tau, spec.runs, d)
        + analysis_bytes(n_tau, spec.runs, d)
    )
    reduce = ("--runs", "--taus (fewer or smaller delays)", "--mus")
    if spec.delay_model != "constant":
        reduce += ("--horizon",)
    return Estimate(memory_bytes=memory, chain_steps=float(n_mu * n_tau * spec.runs * n), reduce=reduce)


# ---------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Common options (without --mu/--tau) plus the Figure 1 grid options.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser.
    """
    cli.add_common_arguments(parser, include_mu=False, include_tau=False, runs_default=100)
    g = parser.add_argument_group("tradeoff options")
    g.add_argument(
        "--mus",
        default=",".join(f"{m:g}" for m in PAPER_MUS),
        help="momenta, comma separated (default 0.7,...,0.95)",
    )
    g.add_argument(
        "--taus",
        default=DEFAULT_TAUS,
        help="delay grid 'start:stop[:step]' (inclusive) or a list, starting at 0 (default 0:160)."
        " With a random --delay-model: the mean delay",
    )
    g.add_argument(
        "--horizon", type=float, default=DEFAULT_HORIZON, help="ODE time T = n eta of the run (default 10)"
    )
    g.add_argument(
        "--rho",
        type=float,
        default=DEFAULT_RHO,
        help="optimal-delay allowance: error <= (1+rho) x error at tau=0",
    )
    g.add_argument("--error", default="angle", help="error at the horizon: angle (1 - h1^2/|h|^2) | distance")
    g.add_argument(
        "--cell-taus",
        type=int,
        default=DEFAULT_CELL_TAUS,
        help=f"delays per cell of the engine (default {DEFAULT_CELL_TAUS}; changes no number)",
    )


def parse_mus(text: str, name: str = "--mus") -> tuple[list[float], list[str]]:
    """Parse ``--mus`` into floats in [0, 1) and their keys as written ("0.7").

    Parameters
    ----------
    text : str
        Comma-separated momenta.
    name : str
        Option named in the message.

    Returns
    -------
    values : list of float
    keys : list of str
    """
    values = cli.parse_float_list(text, name)
    keys = [p.strip() for p in text.split(",")]
    check_mus(values, name)
    return values, keys


def parse_taus(text: str, name: str = "--taus") -> list[int]:
    """Parse ``--taus``: a strictly increasing grid of at least ``MIN_TAUS`` delays from 0.

    Parameters
    ----------
    text : str
        ``"start:stop[:step]"`` (inclusive) or a comma-separated list.
    name : str
        Option named in the message.

    Returns
    -------
    list of int
    """
    return list(check_taus(text, name))


def reject_model_parameters(args: argparse.Namespace) -> None:
    """Refuse --tau-max, --mean-delay and --pipeline-workers: the delay grid sets each model's
    parameter, so they would be ignored (and recorded as if used).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options.
    """
    for opt in ("tau_max", "mean_delay", "pipeline_workers"):
        if getattr(args, opt, None) is not None:
            flag = "--" + opt.replace("_", "-")
            raise ValueError(
                f"{flag} is not used here: the delay grid (--taus) sets the mean delay of --delay-model"
            )


def validate(args: argparse.Namespace) -> None:
    """Validate the tradeoff options in place, before any work (ValueError naming the option).

    ``--quick`` is applied by ``compare.__main__`` (its budget only for the options the user
    did not give); nothing here overrides a value the user gave.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options; gains ``mu_values``, ``mu_keys`` and ``tau_values``.
    """
    reject_model_parameters(args)
    args.runs = check_runs(args.runs, "--runs")
    args.seed = check_seed(args.seed, "--seed")
    args.mu_values, args.mu_keys = parse_mus(args.mus)
    args.tau_values = parse_taus(args.taus)
    args.horizon = check_positive_float(args.horizon, "--horizon")
    if not math.isfinite(args.rho) or args.rho < 0:
        raise ValueError(f"--rho must be a finite number >= 0, got {args.rho!r}")
    if args.error not in ERROR_KINDS:
        raise ValueError(f"--error must be one of {', '.join(ERROR_KINDS)}, got {args.error!r}")
    args.cell_taus = check_positive_int(args.cell_taus, "--cell-taus")
    check_resources(estimate(spec_from_args(args)), args)


def quick_args() -> list[str]:
    """Extra argv of the contract test's tiny budget (2 mus x 5 taus x 6 runs, T = 1).

    Returns
    -------
    list of str
    """
    return [
        "--mus",
        _QUICK["mus"],
        "--taus",
        _QUICK["taus"],
        "--runs",
        str(_QUICK["runs"]),
        "--horizon",
        str(_QUICK["horizon"]),
    ]


def key_params(args: argparse.Namespace) -> dict:
    """Default output directory key: eta, delay model, error kind.

    Parameters
    ----------
    args : argparse.Namespace
        The validated options.

    Returns
    -------
    dict
    """
    return {"eta": args.eta, "delay": args.delay_model, "err": args.error}


def spec_from_args(args: argparse.Namespace) -> TradeoffSpec:
    """The spec of validated options.

    Parameters
    ----------
    args : argparse.Namespace
        The validated options.

    Returns
    -------
    TradeoffSpec
    """
    problem = cli.problem_from_args(args)
    return TradeoffSpec(
        eta=args.eta,
        runs=args.runs,
        seed=args.seed,
        horizon=args.horizon,
        delay_model=args.delay_model,
        eigenvalues=tuple(problem.lambda_.tolist()),
        dist=problem.dist.name,
        rho=args.rho,
        error=args.error,
        mus=tuple(args.mu_values),
        taus=tuple(args.tau_values),
        cell_taus=args.cell_taus,
    )


def simulate_grid(problem, *, eta, mus, taus, runs, horizon, seed, delay_model="constant", kind="angle"):
    """Errors at the horizon of the grid mus x taus, in memory (no store): (errors (mu, tau, run),
    the cell Dataset). A convenience for notebooks; the comparisons go through the engine."""
    params = msgd_grid.grid_params(
        eta=eta,
        mus=mus,
        taus=taus,
        delay_model=delay_model,
        eigenvalues=problem.lambda_.tolist(),
        dist=problem.dist.name,
        horizon=horizon,
    )
    ds = msgd_grid.cell(params, seed, runs)
    return horizon_error(ds["h_final"].values, ds["diverged"].values, kind), ds


def run(args: argparse.Namespace, out_dir: Path) -> Verdict:
    """Simulate the grid (or load it with --from-store), find the optimal delays, set them
    against the paper and the theory.

    Parameters
    ----------
    args : argparse.Namespace
        Validated by :func:`validate`.
    out_dir : path
        Output directory (figures; the store defaults to ``<out>/cells.zarr``).

    Returns
    -------
    Verdict
    """
    return run_command(COMPARISON, args, out_dir)


#: The comparison as the engine runs it (spec, plan, assembly, analysis, figures, printed table).
COMPARISON = Comparison(
    name=NAME,
    spec=TradeoffSpec,
    from_args=spec_from_args,
    cells=cells,
    analyse=analysis.analyse,
    figures=analysis.figures,
    assemble=assemble,
    report=lambda verdict: verdict.results["table"],
    estimate=estimate,
)
