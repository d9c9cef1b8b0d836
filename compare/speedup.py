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
import math
from dataclasses import dataclass
from pathlib import Path

from compare import cli
from compare.engine import Cell, Comparison, Spec, combine, run_command
from compare.engine.estimate import Estimate

# the parts, re-exported (``compare.speedup.X`` stays the one address; ``as`` marks a re-export)
from compare.speedup_analysis import N_BOOT as N_BOOT
from compare.speedup_analysis import _exponent as _exponent
from compare.speedup_analysis import analyse, figures
from compare.speedup_cells import N_RECORDS as N_RECORDS
from compare.speedup_cells import first_passage, record_grid, speedup_cell
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
    "describe",
    "estimate",
    "RAW_VARIABLES",
    "record_grid",
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
    "given_options",
    "DELAY_OPTIONS",
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
#: Largest target error: T2 (Prop. 8, delta^2 = epsilon) is log((1 - delta^2) / delta^2) / (2 g) x (1 - mu),
#: negative from delta^2 = 1/2 on (the target holds before the traverse ends).
MAX_EPSILON = 0.5
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
        """Check and normalise every field (ValueError starting with the field's name)."""
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
        if not 0 < self.epsilon < MAX_EPSILON:
            raise ValueError(
                f"epsilon must lie in (0, {MAX_EPSILON:g}): the traverse of Prop. 8 ends at "
                f"h_1^2 >= 1 - epsilon, past the saddle's h_1^2 = 1/2 only if epsilon < 1/2; "
                f"got {self.epsilon!r}"
            )
        self.set("runs", check_positive_int(self.runs, "runs"))
        if self.runs < 2:
            raise ValueError(f"runs must be >= 2 (bootstrap intervals), got {self.runs}")
        self.set("seed", check_nonnegative_int(self.seed, "seed"))
        if not 0 < self.level < 1:
            raise ValueError(f"level must lie in (0, 1), got {self.level!r}")
        self.problem()  # validates eigenvalues and dist
        for mu in self.mus:
            T = self.prediction(mu)["T"]
            if not (math.isfinite(T) and T > 0):
                raise ValueError(
                    f"mus {mu:g}: the predicted time to epsilon (Props 8 and 10) is {T!r}, not a positive "
                    "finite time: no horizon can be set"
                )

    def problem(self) -> Problem:
        """The streaming-PCA problem of ``eigenvalues`` and ``dist``.

        Returns
        -------
        theory.Problem
        """
        return Problem(list(self.eigenvalues), dist=self.dist)

    def prediction(self, mu: float) -> dict:
        """:func:`theory_prediction` at ``mu``: the median time to epsilon at M = 1.

        Parameters
        ----------
        mu : float
            Momentum.

        Returns
        -------
        dict
            ``{"T1", "T2", "T"}`` in ODE units.
        """
        return theory_prediction(self.problem(), mu, self.eta, self.epsilon)

    def horizon(self, mu: float) -> float:
        """ODE time of the runs at ``mu``: HORIZON_FACTOR x the predicted median time at M = 1.

        Parameters
        ----------
        mu : float
            Momentum.

        Returns
        -------
        float
            The horizon in ODE units (the cell rounds it up to whole record spacings).
        """
        return HORIZON_FACTOR * self.prediction(mu)["T"]

    def n_steps(self, mu: float) -> int:
        """Updates per run at ``mu`` (:func:`compare.speedup_cells.record_grid` of the horizon).

        Parameters
        ----------
        mu : float
            Momentum.

        Returns
        -------
        int
        """
        return record_grid(self.horizon(mu), self.eta)[1]


def cells(spec: SpeedupSpec) -> list[Cell]:
    """The plan: one cell per (mu, compute-time law) holding every M (one data draw, CRN across M).

    Parameters
    ----------
    spec : SpeedupSpec

    Returns
    -------
    list of compare.engine.Cell
        In (mu, law) order; coordinates ``mu`` and ``compute_time``.
    """
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
    """One Dataset with dims (mu, compute_time, workers, run, record) in the spec's order, described.

    Parameters
    ----------
    spec : SpeedupSpec
    plan : list of compare.engine.Cell
        :func:`cells` of ``spec``.
    datasets : list of xarray.Dataset
        The cells' Datasets (:func:`speedup_cell`), in plan order.

    Returns
    -------
    xarray.Dataset
        Every variable and coordinate with ``units`` and ``description`` attributes (the raw.nc
        layout of docs/compare.md).
    """
    ds = combine(plan, datasets, order={"mu": spec.mus, "compute_time": spec.compute_times})
    return describe(ds)


#: Units and description of every variable and coordinate of the assembled Dataset (raw.nc).
RAW_VARIABLES = {
    "mu": ("1", "momentum mu of update (5)"),
    "compute_time": (
        "1",
        "compute-time law of the worker pipeline (exponential: memoryless; constant: round robin)",
    ),
    "workers": ("1", "number M of asynchronous workers"),
    "run": ("1", "run index (common random numbers: run r sees the same data for every M)"),
    "record": ("1", "record index; record j is update j * record_every"),
    "first_passage": (
        "updates",
        "first update after which the error 1 - h_1^2/|h|^2 is <= epsilon (-1: not reached in the horizon)",
    ),
    "floor_run": ("1", "mean error 1 - h_1^2/|h|^2 over the last quarter of the records, per run"),
    "record_time": ("ODE time", "time t = k eta of record k"),
    "diverged": ("1", "1 if the run diverged (its error counts as 1 from then on), else 0"),
    "staleness_mean": ("updates", "mean staleness tau_k the pipeline produced (all runs and updates)"),
    "record_every": ("updates", "updates between two records"),
    "n_steps": ("updates", "updates per run (horizon 4 T / eta rounded up to whole record spacings)"),
    "mean_error": ("1", "error 1 - h_1^2/|h|^2 averaged over runs, per record"),
}


def describe(ds):
    """Set ``units`` and ``description`` (:data:`RAW_VARIABLES`) on every variable and coordinate.

    Parameters
    ----------
    ds : xarray.Dataset
        An assembled speedup Dataset (or a raw.nc read back).

    Returns
    -------
    xarray.Dataset
        ``ds`` (attributes set in place).
    """
    for name in list(ds.data_vars) + list(ds.coords):
        if name in RAW_VARIABLES:
            units, text = RAW_VARIABLES[name]
            ds[name].attrs.update(units=units, description=text)
    return ds


def estimate(spec: SpeedupSpec) -> Estimate:
    """Peak memory and work of a run, from the spec alone (before any cell runs).

    One cell (mu, law) runs at a time in-process; its peak holds the simulator's int64 staleness
    sequences (runs x n_steps per M, plus one being built), the pipeline's compute-time draws for
    the largest M (about n_steps + 8 M rows of doubles, and their cumulative sums), the ring buffers
    of past iterates (the largest staleness + 2 per run and M: M - 1 for round robin, about
    (M - 1) log(runs n_steps) for memoryless workers), the records (N_RECORDS + 1 per run and M,
    twice: the kernel's and the result's, and once more for the error), and the data chunks.

    Parameters
    ----------
    spec : SpeedupSpec

    Returns
    -------
    compare.engine.estimate.Estimate
        Peak bytes of the largest cell, chain-steps of all cells, the options that reduce them.
    """
    from simulate.async_msgd import DATA_CHUNK_BYTES

    R, d, nM, Mmax = spec.runs, spec.problem().d, len(spec.workers), max(spec.workers)
    peak, steps = 0.0, 0.0
    for mu in spec.mus:
        n = spec.n_steps(mu)
        for law in spec.compute_times:
            taus = 8.0 * R * n * (nM + 1)
            times = 2 * 8.0 * (n + 6.0 * math.sqrt(n * Mmax) + 8.0 * Mmax)
            spread = 1.0 if law == "constant" else math.log(R * n) + 2.0
            ring = 8.0 * R * d * sum((M - 1) * spread + 3 for M in spec.workers)
            records = 8.0 * nM * (R + 8) * (N_RECORDS + 1) * d
            data = 2 * min(DATA_CHUNK_BYTES, 8.0 * n * (R + 8) * d)
            peak = max(peak, taus + times + ring + 3 * records + data)
            steps += float(nM) * R * n
    return Estimate(
        memory_bytes=int(peak),
        chain_steps=steps,
        reduce=("--runs", "--worker-counts", "the horizon (a larger --eta or --epsilon, --mus away from 1)"),
    )


# ---------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Common options (without --mu/--tau) plus the speed-up grid.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser.
    """
    cli.add_common_arguments(parser, include_mu=False, include_tau=False, runs_default=200)
    g = parser.add_argument_group("speedup options")
    g.add_argument("--mus", default=DEFAULT_MUS, help=f"momenta in [0, 1) (default {DEFAULT_MUS})")
    g.add_argument(
        "--worker-counts",
        default=DEFAULT_WORKERS,
        help=f"M grid: increasing integers from 1, at least two (default {DEFAULT_WORKERS})",
    )
    g.add_argument(
        "--compute-times",
        default=",".join(COMPUTE_TIMES),
        help="pipeline compute-time laws: exponential,constant",
    )
    g.add_argument(
        "--epsilon",
        type=float,
        default=DEFAULT_EPSILON,
        help=f"target error in (0, {MAX_EPSILON:g}) (default {DEFAULT_EPSILON})",
    )
    cli.add_level_argument(g)


def given_options(args: argparse.Namespace) -> frozenset:
    """The argparse dests the user typed (``args.given_options``; empty when it is not set).

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    frozenset of str
    """
    return frozenset(getattr(args, "given_options", None) or ())


#: Common options that a comparison with its own delays does not use (dest -> flag).
DELAY_OPTIONS = {
    "delay_model": "--delay-model",
    "tau_max": "--tau-max",
    "mean_delay": "--mean-delay",
    "pipeline_workers": "--pipeline-workers",
}


def reject_delay_options(args: argparse.Namespace, command: str, why: str) -> None:
    """Refuse the common delay options, which ``command`` would ignore (ValueError naming the option).

    An option counts if the user typed it (``args.given_options``) or if it differs from its
    default (for a Namespace built without ``given_options``).

    Parameters
    ----------
    args : argparse.Namespace
    command : str
        Subcommand name (for the message).
    why : str
        Where the command's delays come from instead.
    """
    given = given_options(args)
    for dest, flag in DELAY_OPTIONS.items():
        default = "constant" if dest == "delay_model" else None
        if dest in given or getattr(args, dest, default) != default:
            raise ValueError(f"{flag} is not used by {command}: {why}")


def spec_error(exc: ValueError, flags: dict) -> ValueError:
    """A spec's ValueError ("field ...") renamed to its option ("--option ...").

    Parameters
    ----------
    exc : ValueError
        Raised by a spec's validate (message starting with the field name).
    flags : dict
        Field -> option for fields whose option is not ``--`` + the field with dashes.

    Returns
    -------
    ValueError
    """
    name, _, rest = str(exc).partition(" ")
    return ValueError(f"{flags.get(name, '--' + name.replace('_', '-'))} {rest}")


def validate(args: argparse.Namespace) -> None:
    """Parse and validate the options into ``args.spec`` (ValueError naming the option), before any work.

    Refuses the delay options (the staleness comes from the worker pipeline), a worker grid
    without a second M (no slope), and anything :class:`SpeedupSpec` refuses.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options; ``args.spec`` is set.
    """
    reject_delay_options(
        args, NAME, "the staleness comes from the worker pipeline (--worker-counts, --compute-times)"
    )
    mus = cli.parse_float_list(args.mus, "--mus")
    workers = cli.parse_float_list(args.worker_counts, "--worker-counts")
    if len(workers) < 2:
        raise ValueError(
            f"--worker-counts needs M = 1 and at least one more M (the speed-up is a slope in M), "
            f"got {args.worker_counts!r}"
        )
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
    """The spec of validated options (:func:`validate` built it).

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    SpeedupSpec
    """
    return args.spec


def quick_args() -> list[str]:
    """Tiny budget: mu = 0.9, M in {1, 4, 64}, 24 runs, round-robin only (64 is past its breakdown).

    Returns
    -------
    list of str
        Options parsed before the user's own (which win).
    """
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
    """The parameters naming the default output directory.

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    dict
        ``{"eta", "eps"}``.
    """
    return {"eta": args.eta, "eps": args.epsilon}


def run(args: argparse.Namespace, out_dir: Path) -> Verdict:
    """Through the experiment engine: plan, compute (or --from-store), assemble, analyse, draw.

    Parameters
    ----------
    args : argparse.Namespace
        Validated options (:func:`validate`).
    out_dir : path
        Output directory.

    Returns
    -------
    compare.verdict.Verdict
    """
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
    estimate=estimate,
)
