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
from compare.engine.estimate import Estimate

# the parts, re-exported (``compare.remark7.X`` stays the one address; ``as`` marks a re-export)
from compare.remark7_analysis import N_BOOT as N_BOOT
from compare.remark7_analysis import PHASE_III_NOTE as PHASE_III_NOTE
from compare.remark7_analysis import WARMUP_UPDATES as WARMUP_UPDATES
from compare.remark7_analysis import analyse, figures
from compare.remark7_analysis import compare_arm as compare_arm
from compare.remark7_cells import (
    ARMS,
    CONTROLS,
    UniformComputeTimes,
    arm_settings,
    phase_times,
    record_grid,
    remark7_cell,
)
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
    "describe",
    "estimate",
    "RAW_VARIABLES",
    "record_grid",
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
#: Version 3: the cell also returns which runs diverged (``diverged_mean_path``, ``diverged_saddle``).
FN, CELL_VERSION = "compare.remark7:remark7_cell", 3
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
        """Check and normalise every field (ValueError starting with the field's name)."""
        if not self.alphas or len(set(self.alphas)) != len(self.alphas):
            raise ValueError(f"alphas must be a non-empty list of distinct step sizes, got {self.alphas!r}")
        self.set("alphas", tuple(check_eta(a, "alphas") for a in self.alphas))
        if not self.workers or any(isinstance(m, bool) or int(m) != m or m < 1 for m in self.workers):
            raise ValueError(f"workers must be integers >= 1, got {self.workers!r}")
        self.set("workers", tuple(sorted({int(m) for m in self.workers})))
        if max(self.workers) < 2:
            raise ValueError(
                f"workers must include an M > 1 (at M = 1 every arm is SGD: nothing to compare), "
                f"got {list(self.workers)}"
            )
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
        if self.epsilon is None:
            for a in self.alphas:
                eps = default_epsilon(self.problem(), a)
                if not eps < self.delta**2:
                    raise ValueError(
                        f"alphas {a:g}: the default Phase III target epsilon = alpha phi_eff / g = "
                        f"{eps:.3g} is not below delta^2 = {self.delta**2:.3g} (the end of Phase II); "
                        "give a smaller alpha, a larger --delta or --epsilon"
                    )

    def problem(self) -> Problem:
        """The streaming-PCA problem of ``eigenvalues`` and ``dist``.

        Returns
        -------
        theory.Problem
        """
        return Problem(list(self.eigenvalues), dist=self.dist)

    def epsilon_at(self, alpha: float) -> float:
        """The Phase III target at step ``alpha``: ``epsilon``, or :func:`default_epsilon` when None.

        Parameters
        ----------
        alpha : float
            Async-SGD step size.

        Returns
        -------
        float
        """
        return float(self.epsilon) if self.epsilon is not None else default_epsilon(self.problem(), alpha)


def cells(spec: Remark7Spec) -> list[Cell]:
    """The plan: one cell per (alpha, M), every arm and both starts in it (shared data streams).

    Parameters
    ----------
    spec : Remark7Spec

    Returns
    -------
    list of compare.engine.Cell
        In (alpha, M) order; coordinates ``alpha`` and ``M``.
    """
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
    """One Dataset with dims (alpha, M, arm, run, record, record_mean, coord, phase), described.

    Parameters
    ----------
    spec : Remark7Spec
    plan : list of compare.engine.Cell
        :func:`cells` of ``spec``.
    datasets : list of xarray.Dataset
        The cells' Datasets (:func:`remark7_cell`), in plan order.

    Returns
    -------
    xarray.Dataset
        Every variable and coordinate with ``units`` and ``description`` (docs/compare.md, remark7).
    """
    return describe(combine(plan, datasets, order={"alpha": spec.alphas, "M": spec.workers}))


#: Units and description of every variable and coordinate of the assembled Dataset (raw.nc).
RAW_VARIABLES = {
    "alpha": ("1", "Async-SGD step size alpha (one update is alpha of ODE time in every arm)"),
    "M": ("1", "number M of asynchronous workers"),
    "arm": ("1", "arm index into the attribute 'arms' (" + ", ".join(ARMS) + ")"),
    "run": ("1", "run index (common random numbers: run r sees the same data in every arm)"),
    "record": ("1", "record index of the saddle runs (spacing PHASE_DT of ODE time)"),
    "record_mean": ("1", "record index of the mean-path runs (spacing MEAN_DT of ODE time)"),
    "coord": ("1", "eigen-coordinate i of h = Q^T v (1-based)"),
    "phase": ("1", "phase index: 1 = T1 (escape), 2 = T2 (traverse), 3 = T3 (convergence)"),
    "mean_path": ("1", "E h_i(t) over runs, from h0 = (1, ..., 1)/sqrt(d)"),
    "diff_mean": ("1", "paired mean over runs of h_arm,i(t) - h_heavy_ball,i(t + (M-1) alpha)"),
    "diff_se": ("1", "standard error over runs of that paired difference"),
    "record_mean_time": ("ODE time", "time t = k alpha of each mean-path record"),
    "phase_time": ("ODE time", "duration of each phase from the saddle e_2 (NaN: not reached)"),
    "stationary_error": ("1", "mean error 1 - h_1^2/|h|^2 from the burn-in on, per run (diverged: 1)"),
    "mean_error": ("1", "error 1 - h_1^2/|h|^2 averaged over runs, per saddle record"),
    "record_time": ("ODE time", "time t = k alpha of each saddle record"),
    "staleness_mean": ("updates", "mean staleness tau_k of the arm's delays (saddle run)"),
    "diverged_mean_path": ("1", "1 if the mean-path run diverged, else 0"),
    "diverged_saddle": ("1", "1 if the saddle run diverged, else 0"),
}


def describe(ds):
    """Set ``units`` and ``description`` (:data:`RAW_VARIABLES`) on every variable and coordinate.

    Parameters
    ----------
    ds : xarray.Dataset
        An assembled remark7 Dataset.

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


def estimate(spec: Remark7Spec) -> Estimate:
    """Peak memory and work of a run, from the spec alone (before any cell runs).

    One cell (alpha, M) runs at a time in-process. A simulator call holds the int64 staleness
    sequences of its random arms (runs x updates each), the compute-time draws of the pipeline arms
    (``uniform_times`` draws all (updates, M) times at once, memoryless workers about updates + 8 M
    rows), the ring buffers (the largest staleness + 2 per run), the records (kernel's and result's)
    and the data chunks; the saddle call runs while the mean-path records are still held.

    Parameters
    ----------
    spec : Remark7Spec

    Returns
    -------
    compare.engine.estimate.Estimate
        Peak bytes of the largest cell, chain-steps of all cells, the options that reduce them.
    """
    from simulate.async_msgd import DATA_CHUNK_BYTES

    R, d = spec.runs, spec.problem().d
    n_arms = len(ARMS)

    def call(n: int, n_rec: int, M: int) -> float:
        taus = 8.0 * R * n * (n_arms - 1 + 1)  # random arms' sequences + one being built
        times = 16.0 * n * M + 16.0 * (n + 6.0 * math.sqrt(n * M) + 8.0 * M)
        ring = 8.0 * R * d * (M * (math.log(R * n + 1.0) + 2.0) * 3 + M + 8)
        records = 8.0 * (R + 8) * (n_rec + 1) * d * n_arms * 2
        return taus + times + ring + records + 2 * min(DATA_CHUNK_BYTES, 8.0 * n * (R + 8) * d)

    peak, steps = 0.0, 0.0
    for a in spec.alphas:
        n_rm, e_m = record_grid(spec.mean_horizon, MEAN_DT, a)
        n_rs, e_s = record_grid(spec.horizon, PHASE_DT, a)
        for M in spec.workers:
            kept = 8.0 * R * (n_rm + 1) * d * (n_arms + 2)  # mean-path records + the paired differences
            peak = max(peak, call(n_rm * e_m, n_rm, M), kept + call(n_rs * e_s, n_rs, M))
            steps += float(n_arms) * R * (n_rm * e_m + n_rs * e_s)
    return Estimate(
        memory_bytes=int(peak),
        chain_steps=steps,
        reduce=("--runs", "--horizon", "--mean-horizon", "--worker-counts", "a larger alpha in --alphas"),
    )


# ---------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Common options (without --mu/--tau) plus the remark7 grid and phase options.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser.
    """
    cli.add_common_arguments(parser, include_mu=False, include_tau=False, runs_default=300)
    g = parser.add_argument_group("remark7 options")
    g.add_argument(
        "--alphas", default=DEFAULT_ALPHAS, help=f"Async-SGD step sizes alpha (default {DEFAULT_ALPHAS})"
    )
    g.add_argument(
        "--worker-counts",
        default=DEFAULT_WORKERS,
        help=f"M grid, integers >= 1, at least one > 1 (default {DEFAULT_WORKERS})",
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
        "--burn-in",
        type=float,
        default=DEFAULT_BURN_IN,
        help="stationary error from this time (default 10; half the horizon if that is shorter)",
    )
    g.add_argument(
        "--mean-horizon",
        type=float,
        default=DEFAULT_MEAN_HORIZON,
        help="ODE time of the mean-path runs (default 8)",
    )
    cli.add_level_argument(g)


def validate(args: argparse.Namespace) -> None:
    """Parse and validate into ``args.spec`` (ValueError naming the option), before any work.

    Options the user did not type never produce an error: a default ``--burn-in`` not below a
    shorter ``--horizon`` becomes half the horizon (recorded in ``args.resolution_notes`` and in
    the verdict's notes); a default Phase III target not below delta^2 is refused naming the
    option the user gave (``--delta`` or ``--alphas``).

    Parameters
    ----------
    args : argparse.Namespace
        Parsed options; ``args.spec`` and ``args.resolution_notes`` are set.
    """
    from compare.speedup import given_options, reject_delay_options, spec_error

    given = given_options(args)
    reject_delay_options(args, NAME, "the arms fix the delays (--worker-counts)")
    if "eta" in given or args.eta != cli.DEFAULT_ETA:
        raise ValueError("--eta is not used by remark7: the Async-SGD step sizes are --alphas")
    alphas = cli.parse_float_list(args.alphas, "--alphas")
    workers = cli.parse_float_list(args.worker_counts, "--worker-counts")
    cli.check_level(args.level)
    notes = []
    burn_in = args.burn_in
    if "burn_in" not in given and math.isfinite(args.horizon) and 0 < args.horizon <= burn_in:
        burn_in = args.horizon / 2
        notes.append(
            f"--burn-in: the default {args.burn_in:g} is not below --horizon {args.horizon:g}; the "
            f"stationary error is read from t = {burn_in:g} (half the horizon) on"
        )
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
        burn_in=burn_in,
        mean_horizon=args.mean_horizon,
        level=args.level,
    )
    try:
        args.spec = Remark7Spec(**kw)
    except ValueError as exc:
        if str(exc).startswith("alphas ") and "delta" in given and "alphas" not in given:
            raise ValueError(f"--delta {args.delta:g}: {str(exc).partition(': ')[2]}") from None
        raise spec_error(exc, {"workers": "--worker-counts"}) from None
    args.resolution_notes = notes


def spec_from_args(args: argparse.Namespace) -> Remark7Spec:
    """The spec of validated options (:func:`validate` built it).

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    Remark7Spec
    """
    return args.spec


def quick_args() -> list[str]:
    """Tiny budget: alpha = 0.008, M in {1, 4}, 16 runs, horizon 6 (mean path 3).

    Returns
    -------
    list of str
        Options parsed before the user's own (which win).
    """
    return list(_QUICK)


def key_params(args: argparse.Namespace) -> dict:
    """The parameters naming the default output directory.

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    dict
        ``{"alphas"}``.
    """
    return {"alphas": args.alphas.replace(",", "_")}


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
        With the notes of what validation resolved (a shortened burn-in) first.
    """
    verdict = run_command(COMPARISON, args, out_dir)
    verdict.notes[:0] = list(getattr(args, "resolution_notes", []))
    return verdict


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
    estimate=estimate,
)
