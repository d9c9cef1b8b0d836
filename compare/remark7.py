r"""``python -m compare remark7``: is asynchrony momentum? Remark 7 against Mitliagkas et al. (2016).

The two views
-------------
Mitliagkas, Zhang, Hadjis, Ré, "Asynchrony begets momentum, with an application to deep
learning" (Allerton 2016, arXiv:1605.09774): if the staleness is i.i.d. geometric,
:math:`P(\tau = l) = (1-\mu_L)\mu_L^l`, which is what M workers with memoryless (exponential)
compute times give (:class:`simulate.delays.WorkerPipeline`, mean staleness M - 1), with
:math:`\mu_L = 1 - 1/M`, then the *expected* update of Async-SGD with step :math:`\alpha`,
:math:`E\Delta_t = \alpha\sum_l p_l E F(v_{t-l})`, obeys

.. math::

    E\Delta_t = \mu_L\, E\Delta_{t-1} + (1-\mu_L)\,\alpha\, E F(v_t), \qquad t \ge 1,

the expected update of heavy ball with momentum :math:`\mu_L` and step :math:`\alpha/M`
(:func:`expected_update_identity` proves it on any sequence). Liu et al. (2018), Remark 7: delay
is *not* momentum, because Async-SGD's Phase III count :math:`\widehat N_3` (tau workers) is
smaller than MSGD's :math:`\widetilde N_3` (:func:`theory.phases.iteration_counts`).

What is measured (streaming PCA, update (5), common random numbers)
-------------------------------------------------------------------
For each step ``--alphas`` and each M of ``--worker-counts``, the arms (:data:`ARMS`), all on the
same data streams (run r sees the same :math:`X_k` at update k in every arm; one update of every
arm is :math:`\alpha` of ODE time, since heavy ball's :math:`(\alpha/M)/(1-\mu_L) = \alpha`):

* ``pipeline``: Async-SGD (mu = 0, step alpha), M workers with exponential compute times;
* ``heavy_ball``: synchronous MSGD with mu = 1 - 1/M, step alpha / M (the mapping's prediction);
* ``iid_geometric``: Async-SGD with i.i.d. geometric staleness of mean M - 1 (the model's exact
  hypothesis: separates the pipeline's serial dependence from the law);
* controls that the mapping does not cover: ``round_robin`` (constant compute times, tau = M - 1)
  and ``uniform_times`` (compute times uniform on [0.5, 1.5]: not memoryless).

Quantities: the **mean path** E[h(t)] from h0 = (1, ..., 1)/sqrt(d) (which the identity covers);
from the saddle e_2 the **phase times** T1 (first h_1^2/|h|^2 >= delta^2), T2 (then >= 1 - delta^2),
T3 (then error <= epsilon) and the **stationary error** (mean of 1 - h_1^2/|h|^2 after
``--burn-in``), which it does not cover; and the paper's Phase III counts.

Initial condition. With :math:`v_{-i} = v_0` every early read is :math:`v_0`, so Async-SGD moves at
full speed :math:`\alpha F` from the first update, while heavy ball from rest reaches it after
about M updates: to first order in a slowly varying drift its path lags by exactly
:math:`\mu_L/(1-\mu_L) = M - 1` updates (:func:`warmup_lag`). The mean-path check compares
E h_pipeline(t) with E h_heavy_ball(t + (M-1) alpha), and T1's prediction is -(M - 1) alpha.

Modules (the experiment engine's shape, docs/architecture.md): this one holds the spec
:class:`Remark7Spec`, the plan :func:`cells`, :func:`assemble`, the CLI and :data:`COMPARISON`;
:mod:`compare.remark7_theory` the identity, the warm-up lag and the linearised stationary theory
(pure functions); :mod:`compare.remark7_cells` the arms and the cell :func:`remark7_cell`;
:mod:`compare.remark7_analysis` :func:`analyse` (statistics, checks, verdict lines) and
:func:`figures`. Every name stays importable from here.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

from compare import cli
from compare.engine import Cell, Comparison, Spec, combine, run_command

# the parts, re-exported (``compare.remark7.X`` stays the one address; ``as`` marks a re-export)
from compare.remark7_analysis import N_BOOT as N_BOOT
from compare.remark7_analysis import PHASE_III_NOTE as PHASE_III_NOTE
from compare.remark7_analysis import WARMUP_UPDATES as WARMUP_UPDATES
from compare.remark7_analysis import analyse, figures
from compare.remark7_analysis import compare_arm as compare_arm
from compare.remark7_cells import ARMS, CONTROLS, UniformComputeTimes, arm_settings, phase_times, remark7_cell
from compare.remark7_cells import ASYNC_ARMS as ASYNC_ARMS
from compare.remark7_cells import MEAN_DT as MEAN_DT
from compare.remark7_cells import PHASE_DT as PHASE_DT
from compare.remark7_cells import _paired_shifted_difference as _paired_shifted_difference
from compare.remark7_theory import LINEARISED_LAWS as LINEARISED_LAWS
from compare.remark7_theory import (
    default_epsilon,
    expected_update_identity,
    linearised_stationary_excess,
    warmup_lag,
)
from compare.verdict import Verdict
from theory import Problem
from theory.validation import check_eta, check_nonnegative_int, check_positive_float, check_positive_int

__all__ = [
    "NAME",
    "HELP",
    "ARMS",
    "CONTROLS",
    "Remark7Spec",
    "COMPARISON",
    "cells",
    "assemble",
    "spec_from_args",
    "UniformComputeTimes",
    "arm_settings",
    "linearised_stationary_excess",
    "expected_update_identity",
    "warmup_lag",
    "default_epsilon",
    "phase_times",
    "remark7_cell",
    "analyse",
    "figures",
    "add_arguments",
    "validate",
    "run",
    "quick_args",
    "key_params",
]

NAME = "remark7"
HELP = "Remark 7 vs Mitliagkas et al.: Async-SGD with M workers against MSGD(1 - 1/M, alpha/M)"

DEFAULT_ALPHAS = "0.002,0.008"
DEFAULT_WORKERS = "1,2,4,8,16"
#: Phase boundaries: delta = 0.5 keeps 1 - delta^2 = 0.75 well above the stationary fluctuation
#: (error ~ 0.07 at alpha = 0.008), which a delta ~ sqrt(alpha) would not (docs/compare.md, phase2).
DEFAULT_DELTA = 0.5
DEFAULT_HORIZON = 20.0
DEFAULT_BURN_IN = 10.0
#: Mean-path window (ODE units); the record spacings are remark7_cells.MEAN_DT and PHASE_DT.
DEFAULT_MEAN_HORIZON = 8.0
#: The cell function (dotted path: what Dask workers import) and the version of what it computes
#: (part of every cell's parameters: a store made by an older cell is not reused).
FN, CELL_VERSION = "compare.remark7:remark7_cell", 2
_QUICK = [
    "--alphas",
    "0.008",
    "--worker-counts",
    "1,4",
    "--runs",
    "16",
    "--horizon",
    "6",
    "--burn-in",
    "4",
    "--mean-horizon",
    "3",
]


@dataclass(frozen=True)
class Remark7Spec(Spec):
    """Every parameter of one Remark 7 experiment (an engine spec: frozen, validated, hashed).

    eigenvalues, dist; alphas (Async-SGD steps); workers (the M grid); runs, seed; delta, epsilon
    (phase boundaries; epsilon None = :func:`default_epsilon` per alpha); horizon, burn_in (saddle
    runs, stationary error from burn_in); mean_horizon (mean-path runs); level (analysis only).
    """

    KIND = "remark7 spec"
    ANALYSIS = ("level",)
    eigenvalues: tuple = (4.0, 3.0, 2.0, 1.0)
    dist: str = "gaussian"
    alphas: tuple = (0.002, 0.008)
    workers: tuple = (1, 2, 4, 8, 16)
    runs: int = 300
    seed: int = 0
    delta: float = DEFAULT_DELTA
    epsilon: float | None = None
    horizon: float = DEFAULT_HORIZON
    burn_in: float = DEFAULT_BURN_IN
    mean_horizon: float = DEFAULT_MEAN_HORIZON
    level: float = 0.95

    def validate(self) -> None:
        if not self.alphas or len(set(self.alphas)) != len(self.alphas):
            raise ValueError(f"alphas must be a non-empty list of distinct step sizes, got {self.alphas!r}")
        self.set("alphas", tuple(check_eta(a, "alphas") for a in self.alphas))
        if not self.workers or any(isinstance(m, bool) or int(m) != m or m < 1 for m in self.workers):
            raise ValueError(f"workers must be integers >= 1, got {self.workers!r}")
        self.set("workers", tuple(sorted({int(m) for m in self.workers})))
        self.set("runs", check_positive_int(self.runs, "runs"))
        if self.runs < 2:
            raise ValueError(f"runs must be >= 2 (paired intervals), got {self.runs}")
        self.set("seed", check_nonnegative_int(self.seed, "seed"))
        if not 0 < self.delta < 1 / math.sqrt(2):
            raise ValueError(
                f"delta must lie in (0, 1/sqrt(2)) so that delta^2 < 1 - delta^2, got {self.delta!r}"
            )
        if self.epsilon is not None and not 0 < self.epsilon < self.delta**2:
            raise ValueError(f"epsilon must lie in (0, delta^2), got {self.epsilon!r}")
        check_positive_float(self.horizon, "horizon")
        if not 0 < self.burn_in < self.horizon:
            raise ValueError(f"burn_in must lie in (0, horizon), got {self.burn_in!r}")
        check_positive_float(self.mean_horizon, "mean_horizon")
        if not 0 < self.level < 1:
            raise ValueError(f"level must lie in (0, 1), got {self.level!r}")
        self.problem()  # validates eigenvalues and dist

    def problem(self) -> Problem:
        return Problem(list(self.eigenvalues), dist=self.dist)

    def epsilon_at(self, alpha: float) -> float:
        return float(self.epsilon) if self.epsilon is not None else default_epsilon(self.problem(), alpha)


def cells(spec: Remark7Spec) -> list[Cell]:
    """The plan: one cell per (alpha, M), every arm and both starts in it (shared data streams)."""
    base = {k: getattr(spec, k) for k in ("dist", "delta", "horizon", "burn_in", "mean_horizon")}
    base["cell_version"] = CELL_VERSION
    return [
        Cell(
            NAME,
            FN,
            {
                **base,
                "eigenvalues": list(spec.eigenvalues),
                "alpha": a,
                "M": M,
                "epsilon": spec.epsilon_at(a),
            },
            runs=spec.runs,
            seed=spec.seed,
            coords={"alpha": a, "M": M},
        )
        for a in spec.alphas
        for M in spec.workers
    ]


def assemble(spec: Remark7Spec, plan: list[Cell], datasets: list):
    """One Dataset with dims (alpha, M, arm, run, record, record_mean, coord, phase)."""
    return combine(plan, datasets, order={"alpha": spec.alphas, "M": spec.workers})


# ---------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    cli.add_common_arguments(parser, include_mu=False, include_tau=False, runs_default=300)
    g = parser.add_argument_group("remark7 options")
    g.add_argument(
        "--alphas", default=DEFAULT_ALPHAS, help=f"Async-SGD step sizes alpha (default {DEFAULT_ALPHAS})"
    )
    g.add_argument(
        "--worker-counts", default=DEFAULT_WORKERS, help=f"M grid, integers >= 1 (default {DEFAULT_WORKERS})"
    )
    g.add_argument(
        "--delta", type=float, default=DEFAULT_DELTA, help=f"phase boundary delta (default {DEFAULT_DELTA})"
    )
    g.add_argument(
        "--epsilon", type=float, default=None, help="Phase III target (default alpha phi_eff / gap)"
    )
    g.add_argument(
        "--horizon", type=float, default=DEFAULT_HORIZON, help="ODE time of the saddle runs (default 20)"
    )
    g.add_argument(
        "--burn-in", type=float, default=DEFAULT_BURN_IN, help="stationary error from this time (default 10)"
    )
    g.add_argument(
        "--mean-horizon",
        type=float,
        default=DEFAULT_MEAN_HORIZON,
        help="ODE time of the mean-path runs (default 8)",
    )
    cli.add_level_argument(g)


def validate(args: argparse.Namespace) -> None:
    """Parse and validate into ``args.spec`` (ValueError naming the option)."""
    from compare.speedup import reject_delay_options, spec_error

    reject_delay_options(args, NAME, "the arms fix the delays (--worker-counts)")
    if args.eta != cli.DEFAULT_ETA:
        raise ValueError("--eta is not used by remark7: the Async-SGD step sizes are --alphas")
    alphas = cli.parse_float_list(args.alphas, "--alphas")
    workers = cli.parse_float_list(args.worker_counts, "--worker-counts")
    cli.check_level(args.level)
    kw = dict(
        eigenvalues=tuple(cli.problem_from_args(args).lambda_.tolist()),
        dist=args.dist,
        alphas=tuple(alphas),
        workers=tuple(workers),
        runs=args.runs,
        seed=args.seed,
        delta=args.delta,
        epsilon=args.epsilon,
        horizon=args.horizon,
        burn_in=args.burn_in,
        mean_horizon=args.mean_horizon,
        level=args.level,
    )
    try:
        args.spec = Remark7Spec(**kw)
    except ValueError as exc:
        raise spec_error(exc, {"workers": "--worker-counts"}) from None


def spec_from_args(args: argparse.Namespace) -> Remark7Spec:
    """The spec of validated options (:func:`validate` built it)."""
    return args.spec


def quick_args() -> list[str]:
    """Tiny budget: alpha = 0.008, M in {1, 4}, 24 runs, horizon 8."""
    return list(_QUICK)


def key_params(args: argparse.Namespace) -> dict:
    return {"alphas": args.alphas.replace(",", "_")}


def run(args: argparse.Namespace, out_dir: Path) -> Verdict:
    """Through the experiment engine: plan, compute (or --from-store), assemble, analyse, draw."""
    return run_command(COMPARISON, args, out_dir)


#: The comparison as the engine runs it (the verdict lines are printed before the table).
COMPARISON = Comparison(
    name=NAME,
    spec=Remark7Spec,
    from_args=spec_from_args,
    cells=cells,
    analyse=analyse,
    figures=figures,
    assemble=assemble,
    report=lambda v: "\n".join(v.results["verdict"]),
)
