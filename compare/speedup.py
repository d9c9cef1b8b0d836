r"""``python -m compare speedup``: the linear speed-up of Propositions 6, 8 and 10, measured in wall-clock.

The claim
---------
Propositions 6, 8 and 10 give each phase a time :math:`T` in ODE units (:math:`t = k\eta`) that
does not depend on the delay as long as :math:`\tau` stays below the phase's bound, and conclude
that :math:`\tau` workers need only :math:`N = T/(\tau\eta)` "effective iterations": a *linear
speed-up*. Here the workers are the worker pipeline of :class:`simulate.delays.WorkerPipeline`
(M workers read, compute for a random time of mean 1, write; the staleness of each update is
what the event order gives), so M workers complete about M updates per unit of time and the
wall-clock time of update k is :math:`k/M` worker compute units (exactly the mean for
exponential compute times, whose writes form a Poisson process of rate M).

What is measured
----------------
Streaming PCA, update (5), from the saddle :math:`e_2` (Section 4.1's start), for each momentum
``--mus``, each compute-time law ``--compute-times`` (``exponential``: memoryless workers, the
staleness is geometric with mean M - 1; ``constant``: round-robin, :math:`\tau_k = M - 1`) and each
M of ``--worker-counts``:

* **time to epsilon** of a run: the first update after which the error
  :math:`1 - h_1^2/\|h\|^2` is at most :math:`\epsilon` (``--epsilon``), in wall-clock units
  k / M; the statistic is the median over runs (95% percentile bootstrap over runs, the runs
  resampled jointly across M: with common random numbers run r sees the same data for every M);
* **speed-up exponent** b: least squares of :math:`\log t_\epsilon` on :math:`\log M` over the M
  below the predicted breakdown, :math:`t_\epsilon \propto M^{-b}`; linear speed-up is b = 1;
* **error floor**: the mean error over the last quarter of the horizon (does the run *stay* at
  :math:`\epsilon` once it got there?).

Predictions
-----------
* Propositions 8 and 10 (:mod:`theory.phases`, derived forms): the error reaches
  :math:`\epsilon` when :math:`h_1^2 \ge 1 - \delta^2` with :math:`\delta^2 = \epsilon`, so the
  median time is :math:`T = T_1(\nu = 1/2) + T_2` and :math:`N = T/(M\eta)` in wall units.
* The toolkit's finite-eta correction (beyond the paper, :func:`linearised_inflation`): the delay
  slows the growth rate of the unstable direction at the saddle; the iteration count grows by
  the ratio of the linearised rates (constant delay: exact companion; exponential workers: the
  mean recursion under the geometric law). Its effect on the exponent is the **modelling
  allowance** of the exponent check, fixed before the data are seen.
* **Breakdown** (:func:`breakdown_M`): the first M at which the mean dynamics at the optimum lose
  linear stability (:func:`theory.stability.stability_threshold`, constant delays; the
  mean-field threshold of :func:`theory.stability.mean_field_threshold`, geometric law), or at
  which the predicted stationary error (tangent modes of the linearised recursion, exact
  discrete Lyapunov equation, constant delays) reaches :math:`\epsilon`.

Checks: ``time_to_epsilon_at_M1[mu]``, ``speedup_exponent[mu,law]`` and, where the grid goes past
the predicted breakdown, ``floor_past_breakdown[mu,law]``. docs/compare.md states the rules.

Modules (the experiment engine's shape, docs/architecture.md): this one holds the spec
:class:`SpeedupSpec`, the plan :func:`cells`, :func:`assemble`, the CLI and :data:`COMPARISON`;
:mod:`compare.speedup_theory` the predictions (pure functions); :mod:`compare.speedup_cells` the
cell :func:`speedup_cell`; :mod:`compare.speedup_analysis` :func:`analyse` (checks, results) and
:func:`figures`. Every name stays importable from here.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from compare import cli
from compare.engine import Cell, Comparison, Spec, combine, run_command

# the parts, re-exported (``compare.speedup.X`` stays the one address; ``as`` marks a re-export)
from compare.speedup_analysis import N_BOOT as N_BOOT
from compare.speedup_analysis import _exponent as _exponent
from compare.speedup_analysis import analyse, figures
from compare.speedup_cells import N_RECORDS as N_RECORDS
from compare.speedup_cells import first_passage, speedup_cell
from compare.speedup_theory import NU_MEDIAN as NU_MEDIAN
from compare.speedup_theory import _growth as _growth
from compare.speedup_theory import breakdown_M, linearised_inflation, predicted_floor, theory_prediction
from compare.verdict import Verdict
from theory import Problem
from theory.validation import check_eta, check_mu, check_nonnegative_int, check_positive_int

__all__ = [
    "NAME",
    "HELP",
    "COMPUTE_TIMES",
    "SpeedupSpec",
    "COMPARISON",
    "cells",
    "assemble",
    "spec_from_args",
    "spec_error",
    "speedup_cell",
    "analyse",
    "figures",
    "theory_prediction",
    "linearised_inflation",
    "breakdown_M",
    "predicted_floor",
    "first_passage",
    "reject_delay_options",
    "add_arguments",
    "validate",
    "run",
    "quick_args",
    "key_params",
]

NAME = "speedup"
HELP = "Propositions 6/8/10: wall-clock time to epsilon vs the number of workers M, and where it breaks"

COMPUTE_TIMES = ("exponential", "constant")
DEFAULT_MUS = "0,0.5,0.9"
DEFAULT_WORKERS = "1,2,4,8,16,32,64,128,256"
#: Target error 1 - h_1^2/|h|^2; above the eq. (8) floor of every default mu (0.043 at mu = 0.9).
DEFAULT_EPSILON = 0.1
#: Horizon = this x the predicted median time to epsilon at M = 1 (censoring beyond it). The
#: floor is read over the last quarter, from 3 T on: by then ~98% of the runs at M = 1 have
#: escaped (T1 at nu = 0.02 exceeds T1 at nu = 1/2 by (1-mu) log(727)/(2 g) ~ T at the defaults).
HORIZON_FACTOR = 4.0
_QUICK = {"mus": "0.9", "worker_counts": "1,4,64", "runs": 24, "compute_times": "constant"}
#: The cell function (dotted path: what Dask workers import) and the version of what it computes
#: (part of every cell's parameters: a store made by an older cell is not reused).
FN, CELL_VERSION = "compare.speedup:speedup_cell", 2


@dataclass(frozen=True)
class SpeedupSpec(Spec):
    """Every parameter of one speed-up experiment (an engine spec: frozen, validated, hashed).

    eigenvalues, dist : the problem; eta : step size; mus : momenta; workers : the M grid
    (with 1, increasing); compute_times : pipeline laws; epsilon : target error; runs, seed;
    level : confidence level (analysis only).
    """

    KIND = "speedup spec"
    ANALYSIS = ("level",)
    eigenvalues: tuple = (4.0, 3.0, 2.0, 1.0)
    dist: str = "gaussian"
    eta: float = 5e-4
    mus: tuple = (0.0, 0.5, 0.9)
    workers: tuple = (1, 2, 4, 8, 16, 32, 64, 128, 256)
    compute_times: tuple = COMPUTE_TIMES
    epsilon: float = DEFAULT_EPSILON
    runs: int = 200
    seed: int = 0
    level: float = 0.95

    def validate(self) -> None:
        self.set("eta", check_eta(self.eta, "eta"))
        if not self.mus or len(set(self.mus)) != len(self.mus):
            raise ValueError(f"mus must be a non-empty list without repeats, got {self.mus!r}")
        self.set("mus", tuple(check_mu(mu, "mus") for mu in self.mus))
        if not self.workers or any(isinstance(m, bool) or int(m) != m or m < 1 for m in self.workers):
            raise ValueError(f"workers must be integers >= 1, got {self.workers!r}")
        self.set("workers", tuple(int(m) for m in self.workers))
        if self.workers[0] != 1 or any(b <= a for a, b in zip(self.workers, self.workers[1:], strict=False)):
            raise ValueError(
                f"workers must be strictly increasing from M = 1 (the reference), got {self.workers!r}"
            )
        if not self.compute_times or any(c not in COMPUTE_TIMES for c in self.compute_times):
            raise ValueError(
                f"compute_times must be among {', '.join(COMPUTE_TIMES)}, got {self.compute_times!r}"
            )
        if not 0 < self.epsilon < 1:
            raise ValueError(f"epsilon must lie in (0, 1), got {self.epsilon!r}")
        self.set("runs", check_positive_int(self.runs, "runs"))
        if self.runs < 2:
            raise ValueError(f"runs must be >= 2 (bootstrap intervals), got {self.runs}")
        self.set("seed", check_nonnegative_int(self.seed, "seed"))
        if not 0 < self.level < 1:
            raise ValueError(f"level must lie in (0, 1), got {self.level!r}")
        self.problem()  # validates eigenvalues and dist

    def problem(self) -> Problem:
        return Problem(list(self.eigenvalues), dist=self.dist)

    def prediction(self, mu: float) -> dict:
        """:func:`theory_prediction` at ``mu``: ``{"T1", "T2", "T"}``, the median time to epsilon at M = 1."""
        return theory_prediction(self.problem(), mu, self.eta, self.epsilon)

    def horizon(self, mu: float) -> float:
        """ODE time of the runs at ``mu``: HORIZON_FACTOR x the predicted median time at M = 1."""
        return HORIZON_FACTOR * self.prediction(mu)["T"]


def cells(spec: SpeedupSpec) -> list[Cell]:
    """The plan: one cell per (mu, compute-time law) holding every M (one data draw, CRN across M)."""
    out = []
    for mu in spec.mus:
        horizon = spec.horizon(mu)
        for ct in spec.compute_times:
            params = {
                "eigenvalues": list(spec.eigenvalues),
                "dist": spec.dist,
                "eta": spec.eta,
                "mu": mu,
                "compute_time": ct,
                "workers": list(spec.workers),
                "epsilon": spec.epsilon,
                "horizon": horizon,
                "cell_version": CELL_VERSION,
            }
            out.append(
                Cell(NAME, FN, params, runs=spec.runs, seed=spec.seed, coords={"mu": mu, "compute_time": ct})
            )
    return out


def assemble(spec: SpeedupSpec, plan: list[Cell], datasets: list):
    """One Dataset with dims (mu, compute_time, workers, run, record) in the spec's order."""
    return combine(plan, datasets, order={"mu": spec.mus, "compute_time": spec.compute_times})


# ---------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Common options (without --mu/--tau) plus the speed-up grid."""
    cli.add_common_arguments(parser, include_mu=False, include_tau=False, runs_default=200)
    g = parser.add_argument_group("speedup options")
    g.add_argument("--mus", default=DEFAULT_MUS, help=f"momenta in [0, 1) (default {DEFAULT_MUS})")
    g.add_argument(
        "--worker-counts",
        default=DEFAULT_WORKERS,
        help=f"M grid, integers >= 1 with 1 (default {DEFAULT_WORKERS})",
    )
    g.add_argument(
        "--compute-times",
        default=",".join(COMPUTE_TIMES),
        help="pipeline compute-time laws: exponential,constant",
    )
    g.add_argument(
        "--epsilon", type=float, default=DEFAULT_EPSILON, help=f"target error (default {DEFAULT_EPSILON})"
    )
    cli.add_level_argument(g)


def reject_delay_options(args: argparse.Namespace, command: str, why: str) -> None:
    """Refuse the common delay options, which ``command`` would ignore (ValueError naming the option)."""
    for opt in ("tau_max", "mean_delay", "pipeline_workers"):
        if getattr(args, opt, None) is not None:
            raise ValueError(f"--{opt.replace('_', '-')} is not used by {command}: {why}")
    if args.delay_model != "constant":
        raise ValueError(f"--delay-model is not used by {command}: {why}")


def spec_error(exc: ValueError, flags: dict) -> ValueError:
    """A spec's ValueError ("field ...") renamed to its option ("--option ...")."""
    name, _, rest = str(exc).partition(" ")
    return ValueError(f"{flags.get(name, '--' + name.replace('_', '-'))} {rest}")


def validate(args: argparse.Namespace) -> None:
    """Parse and validate the options into ``args.spec`` (ValueError naming the option)."""
    reject_delay_options(
        args, NAME, "the staleness comes from the worker pipeline (--worker-counts, --compute-times)"
    )
    mus = cli.parse_float_list(args.mus, "--mus")
    workers = cli.parse_float_list(args.worker_counts, "--worker-counts")
    laws = [c.strip() for c in args.compute_times.split(",")]
    cli.check_level(args.level)
    kw = dict(
        eigenvalues=tuple(cli.problem_from_args(args).lambda_.tolist()),
        dist=args.dist,
        eta=args.eta,
        mus=tuple(mus),
        workers=tuple(workers),
        compute_times=tuple(laws),
        epsilon=args.epsilon,
        runs=args.runs,
        seed=args.seed,
        level=args.level,
    )
    try:
        args.spec = SpeedupSpec(**kw)
    except ValueError as exc:
        raise spec_error(exc, {"workers": "--worker-counts", "runs": "--runs"}) from None


def spec_from_args(args: argparse.Namespace) -> SpeedupSpec:
    """The spec of validated options (:func:`validate` built it)."""
    return args.spec


def quick_args() -> list[str]:
    """Tiny budget: mu = 0.9, M in {1, 4, 64}, 24 runs, round-robin only (64 is past its breakdown)."""
    return [
        "--mus",
        _QUICK["mus"],
        "--worker-counts",
        _QUICK["worker_counts"],
        "--runs",
        str(_QUICK["runs"]),
        "--compute-times",
        _QUICK["compute_times"],
    ]


def key_params(args: argparse.Namespace) -> dict:
    return {"eta": args.eta, "eps": args.epsilon}


def run(args: argparse.Namespace, out_dir: Path) -> Verdict:
    """Through the experiment engine: plan, compute (or --from-store), assemble, analyse, draw."""
    return run_command(COMPARISON, args, out_dir)


#: The comparison as the engine runs it.
COMPARISON = Comparison(
    name=NAME,
    spec=SpeedupSpec,
    from_args=spec_from_args,
    cells=cells,
    analyse=analyse,
    figures=figures,
    assemble=assemble,
)
