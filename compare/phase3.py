r"""phase3: Async-MSGD around the optimum vs the OU limit of eq. (8) (Theorem 5).

Theory: :func:`theory.sde.ou_coefficients` (j = 1) gives, for each coordinate i = 2..d of
:math:`u = (h - e_1)/\sqrt{\eta}`,

.. math::

    dU_i = \frac{\lambda_i - \lambda_1}{1-\mu} U_i\,dt + \frac{\alpha_{i1}}{1-\mu}\,dB_t,
    \qquad \mathrm{Var}_\infty U_i = \frac{\alpha_{i1}^2}{2(1-\mu)(\lambda_1-\lambda_i)},
    \qquad \rho_i(s) = e^{-\theta_i s},\ \theta_i = \frac{\lambda_1-\lambda_i}{1-\mu}.

Simulation: :func:`simulate.simulate_async_msgd` started at e_1 (stationary checks, after
a burn-in of :data:`BURN_IN_RELAXATIONS` slowest relaxation times) and at a displaced start
(transient); OU sample paths from :func:`simulate.sde.simulate_ou` (figures).

What is compared, per coordinate i = 2..d (checks; rules in docs/compare.md):

* ``stationary_variance[i]``: E[u_i^2] (per-run time averages, iid across runs) on the eta
  ladder, minus the exact finite-eta gap of the linearised discrete recursion
  (:mod:`compare._common`, a control variate), extrapolated linearly to eta -> 0
  (:func:`compare.stats.extrapolate_to_zero`); holds iff the OU variance lies in the
  interval of that limit -- the theorem's own statement.
* ``stationary_variance_at_eta[i]``: the same observation at the base eta vs the OU variance
  (does the limit describe the run at this eta?); ``stationary_variance_linearised[i]``:
  vs the linearised recursion's exact variance at this eta.
* ``ks[i]`` (Gaussian shape, scale removed), ``wasserstein[i]`` (distance to N(0, Var_OU))
  and ``wasserstein_linearised[i]`` (to N(0, Var_lin)): the pooled stationary law, samples
  spaced :data:`SAMPLE_SPACING_RELAXATIONS` slowest relaxation times apart.
* ``decay_rate[i]``: the ACF decay rate (bootstrap interval over runs, fitted past the
  momentum transient), extrapolated to eta -> 0 like the variance, vs theta_i;
  ``decay_rate_linearised[i]`` at eta.
* ``transient_mean[i]``: the ensemble mean from a displaced start vs u0 exp(-theta_i t);
  ``transient_mean_corrected[i]`` vs the linearised mean plus ODE (7)'s nonlinearity.
* ``weak_convergence_order``: on the eta ladder, the fitted order of the decay-rate and
  variance discrepancies (the claim is about eta -> 0: a positive order is what weak
  convergence needs; the linearised recursion predicts order 1).
* ``no_divergence_below_threshold``: along the delay sweep, no run diverges at a delay
  <= the exact stability threshold of ``theory.stability``.

On the experiment engine (:mod:`compare.engine`):

* **spec** :class:`~compare.phase3_spec.Phase3Spec` (from the options, a TOML file or Python);
* **cells** :func:`~compare.phase3_cells.cells`: one per eta-ladder rung, the transient,
  the delay sweep; each returns compact per-run statistics (:mod:`compare.phase3_cells`);
* **analysis** :func:`~compare.phase3_analysis.analyse` (checks in :mod:`compare.phase3_checks`);
* **figures** :func:`~compare.phase3_figures.figures`.

``python -m compare phase3`` goes through :func:`compare.engine.run_command` (``--workers``,
``--scheduler``, ``--store``, ``--from-store``, ``--overwrite``); :func:`compare_phase3` is
the same path in-process, without a store.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from compare import cli
from compare.engine import Comparison, run_command
from compare.phase3_analysis import analyse
from compare.phase3_cells import assemble, cells, estimate
from compare.phase3_figures import figures
from compare.phase3_spec import (
    ACF_MIN,
    ACF_SKIP_MOMENTUM,
    BURN_IN_RELAXATIONS,
    DEFAULT_LADDER,
    DEFAULT_SWEEP,
    KS_ALPHA,
    MAX_DIFFUSION_SCALE,
    MAX_START_ANGLE_DEG,
    MIN_RUNS,
    MIN_WINDOW_RECORDS,
    RECORDS_PER_RELAXATION,
    SAMPLE_SPACING_RELAXATIONS,
    Phase3Spec,
    max_displacement,
    min_horizon,
    setup,
)
from compare.single_run import run_in_process, spec_fields_from_args, spec_fields_from_problem
from compare.verdict import Verdict
from theory import Problem
from theory.validation import check_positive_float

__all__ = [
    "NAME",
    "HELP",
    "COMPARISON",
    "Phase3Spec",
    "compare_phase3",
    "spec_for",
    "spec_from_args",
    "cells",
    "assemble",
    "estimate",
    "analyse",
    "figures",
    "add_arguments",
    "validate",
    "run",
    "quick_args",
    "key_params",
    "BURN_IN_RELAXATIONS",
    "SAMPLE_SPACING_RELAXATIONS",
    "RECORDS_PER_RELAXATION",
    "ACF_MIN",
    "ACF_SKIP_MOMENTUM",
    "KS_ALPHA",
    "MIN_RUNS",
    "DEFAULT_MAX_CHAIN_STEPS",
    "QUICK_MAX_CHAIN_STEPS",
]

NAME = "phase3"
HELP = (
    "Theorem 5, eq. (8): stationary OU law around the optimum e_1 (variance, law, ACF, transient, eta ladder)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the common options (200 runs by default) and phase3's own.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser.
    """
    cli.add_common_arguments(parser, runs_default=200)
    g = parser.add_argument_group("phase3 options")
    g.add_argument(
        "--horizon", type=float, default=20.0, help="observation window after burn-in, ODE time (default 20)"
    )
    cli.add_ladder_argument(g)
    g.add_argument(
        "--sweep",
        default=",".join(f"{f:g}" for f in DEFAULT_SWEEP),
        help="delay sweep as fractions of the exact stability threshold (default 0,0.25,...,1.5); '' to skip",
    )
    g.add_argument(
        "--displacement",
        type=float,
        default=3.0,
        help="transient start: u0_i = this many stationary OU sds (default 3)",
    )
    cli.add_level_argument(g)
    # Test hook: scales the predicted diffusion coefficients alpha_{i1}/(1-mu) (1 = the paper's).
    g.add_argument("--diffusion-scale", type=float, default=1.0, help=argparse.SUPPRESS)


#: Work phase3 runs without an explicit ``--max-steps``: 2e9 chain-steps, about 30 x the default
#: run's 7.3e7 (an hour or so on two loaded cores); a tiny eigengap's burn-in of 5 slowest
#: relaxation times asks for far more (lambda_1 - lambda_2 = 1e-7: 2e10 steps per run).
DEFAULT_MAX_CHAIN_STEPS = 2e9
#: The same under ``--quick`` (a smoke test): 1e8, about 1000 x the quick run's 1e5.
QUICK_MAX_CHAIN_STEPS = 1e8
#: The options whose values set the work, in the order a refusal names them.
_WORK_OPTIONS = ("eigenvalues", "mu", "eta", "runs", "horizon", "ladder", "sweep", "tau")


def validate(args) -> None:
    """Validate the phase3 options before any simulation (ValueError naming the option).

    Beyond each option's own domain: at least :data:`MIN_RUNS` runs; a window of at least
    ``MIN_WINDOW_RECORDS`` records (a ``--horizon`` the user did not give, e.g. ``--quick``'s,
    is raised to it with a note instead); the work of the run (:func:`estimate`) within
    :data:`DEFAULT_MAX_CHAIN_STEPS` (:data:`QUICK_MAX_CHAIN_STEPS` under ``--quick``) unless
    ``--max-steps`` is given (the engine then guards it).
    Builds the spec once (``args.phase3_spec``); notes for the verdict in ``args.phase3_notes``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options (the common ones already validated).

    Raises
    ------
    ValueError
        Its message starts with the option's name.
    """
    given = getattr(args, "given_options", frozenset())
    check_positive_float(args.horizon, "--horizon")
    args.ladder_factors = cli.parse_ladder(args.ladder)
    args.sweep_fractions = [] if not args.sweep.strip() else cli.parse_float_list(args.sweep, "--sweep")
    if any(f < 0 for f in args.sweep_fractions):
        raise ValueError(f"--sweep fractions must be >= 0, got {args.sweep!r}")
    check_positive_float(args.displacement, "--displacement")
    cli.check_level(args.level)
    check_positive_float(args.diffusion_scale, "--diffusion-scale")
    if args.runs < MIN_RUNS:
        raise ValueError(
            f"--runs must be >= {MIN_RUNS} (the decay rate's bootstrap over runs needs at least {MIN_RUNS} "
            f"for a {args.level:.0%} interval), got {args.runs}"
        )
    if args.diffusion_scale > MAX_DIFFUSION_SCALE:
        raise ValueError(
            f"--diffusion-scale must lie in (0, {MAX_DIFFUSION_SCALE:g}], got {args.diffusion_scale!r}"
        )
    args.phase3_notes = []
    largest = max_displacement(cli.problem_from_args(args), args.mu, args.eta)
    if args.displacement > largest:
        if "displacement" in given:
            raise ValueError(
                f"--displacement {args.displacement:g} starts the transient more than "
                f"{MAX_START_ANGLE_DEG:g} degrees from e_1 (Phase III is a neighbourhood of e_1): give "
                f"--displacement <= {largest:.3g}"
            )
        # the OU's own spread sqrt(eta Var_OU) is not small (a tiny eigengap, mu near 1): not the user's
        args.phase3_notes.append(
            f"the transient's start ({args.displacement:g} OU sds) would lie more than "
            f"{MAX_START_ANGLE_DEG:g} degrees from e_1: {largest:.3g} sds instead (eq. (8)'s stationary "
            "spread is not small here)"
        )
        args.displacement = largest
    shortest = min_horizon(cli.problem_from_args(args), args.mu, args.eta, args.ladder_factors)
    if args.horizon < shortest:
        if "horizon" in given:
            raise ValueError(
                f"--horizon {args.horizon:g} is shorter than {MIN_WINDOW_RECORDS} record spacings "
                f"({shortest / MIN_WINDOW_RECORDS:.3g} ODE time each): give --horizon >= {shortest:.3g}"
            )
        args.phase3_notes.append(
            f"the window (horizon {args.horizon:g}) was shorter than {MIN_WINDOW_RECORDS} record spacings: "
            f"raised to {shortest:.3g}"
        )
        args.horizon = shortest
    spec = spec_from_args(args)
    explicit = "max_steps" in given or getattr(args, "max_steps", None) is not None
    if not explicit and not os.environ.get("COMPARE_MAX_CHAIN_STEPS"):  # else the engine guards it
        work = estimate(spec).chain_steps
        limit = QUICK_MAX_CHAIN_STEPS if getattr(args, "quick", False) else DEFAULT_MAX_CHAIN_STEPS
        if work > limit:
            named = [f"--{o.replace('_', '-')}" for o in _WORK_OPTIONS if o in given] or ["--runs"]
            s = setup(spec)
            eta_min = min(spec.etas())
            quick = " under --quick" if getattr(args, "quick", False) else ""
            raise ValueError(
                f"{', '.join(named)}: this run needs an estimated {work:.3g} chain-steps, more than phase3's "
                f"default limit of {limit:.0e}{quick} (per run at eta = {eta_min:g}: a burn-in of "
                f"{BURN_IN_RELAXATIONS:g} slowest OU relaxation times (1-mu)/(lambda_1-lambda_2), "
                f"{s.burn / eta_min:.3g} steps, and a window of {spec.horizon / eta_min:.3g} steps); reduce "
                "--runs, --horizon or --ladder, widen the eigengap, or give --max-steps to allow it"
            )
    args.phase3_spec = spec


def quick_args() -> list[str]:
    """The ``--quick`` budget (applied only to the options the user did not give).

    Returns
    -------
    list of str
    """
    return ["--runs", "6", "--horizon", "0.6", "--ladder", "1,0.5", "--sweep", "0,1.5", "--no-progress"]


def key_params(args) -> dict:
    """The parameters that name the default output directory.

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    dict
        ``eta``, ``mu``, ``tau``.
    """
    return {"eta": args.eta, "mu": args.mu, "tau": args.tau}


def spec_for(
    problem: Problem,
    *,
    eta: float,
    mu: float,
    delay,
    runs: int = 200,
    seed: int = 0,
    horizon: float = 20.0,
    ladder=DEFAULT_LADDER,
    sweep=DEFAULT_SWEEP,
    displacement: float = 3.0,
    level: float = 0.95,
    diffusion_scale: float = 1.0,
) -> Phase3Spec:
    """The :class:`Phase3Spec` of :func:`compare_phase3`'s arguments (ValueError naming the argument).

    ``delay``: an int tau or a ``simulate.delays`` model (stored as a table,
    :func:`compare.single_run.delay_to_json`); ``problem`` with a named distribution.

    Parameters
    ----------
    problem : theory.Problem
    eta, mu : float
        Step size and momentum of eq. (5).
    delay : int or simulate.delays model
    runs, seed : int
    horizon : float
        Observation window after the burn-in, ODE time.
    ladder, sweep : sequence of float
        Eta factors; delay fractions of the stability threshold.
    displacement, level, diffusion_scale : float

    Returns
    -------
    Phase3Spec
    """
    return Phase3Spec(
        **spec_fields_from_problem(problem, eta=eta, mu=mu, delay=delay, runs=runs, seed=seed, level=level),
        horizon=horizon,
        ladder=tuple(ladder),
        sweep=tuple(sweep),
        displacement=displacement,
        diffusion_scale=diffusion_scale,
    )


def spec_from_args(args: argparse.Namespace) -> Phase3Spec:
    """The spec of validated options (``--tau auto`` and the random models' defaults resolved).

    Parameters
    ----------
    args : argparse.Namespace
        Validated options.

    Returns
    -------
    Phase3Spec
    """
    return Phase3Spec(
        **spec_fields_from_args(args),
        horizon=args.horizon,
        ladder=tuple(args.ladder_factors),
        sweep=tuple(args.sweep_fractions),
        displacement=args.displacement,
        diffusion_scale=args.diffusion_scale,
    )


def compare_phase3(
    problem: Problem,
    *,
    eta: float,
    mu: float,
    delay,
    runs: int = 200,
    seed: int = 0,
    horizon: float = 20.0,
    ladder=DEFAULT_LADDER,
    sweep=DEFAULT_SWEEP,
    displacement: float = 3.0,
    level: float = 0.95,
    diffusion_scale: float = 1.0,
    out_dir: Path | None = None,
    fmt: str = "png",
    progress: bool = False,
    parameters: dict | None = None,
) -> Verdict:
    """Compare Async-MSGD near e_1 with the OU limit (8); returns the :class:`Verdict`.

    The engine's path (:func:`compare.engine.run`) in-process, without a store: spec
    (:func:`spec_for`), cells, Dataset (``verdict.raw``), analysis, figures (when
    ``out_dir`` is given). ``diffusion_scale`` multiplies the predicted diffusion
    coefficients (1 = the paper's eq. (8)); any other value is a deliberately wrong
    prediction, which the checks must reject (the test hook of issue 5). ``delay`` is an
    int tau or a ``simulate.delays`` model (for a random model the linearised allowances use
    its mean staleness, rounded). ``parameters``: extra entries of ``verdict.parameters``
    (phase3's own win).

    Parameters
    ----------
    problem : theory.Problem
    eta, mu : float
    delay : int or simulate.delays model
    runs, seed : int
    horizon : float
    ladder, sweep : sequence of float
    displacement, level, diffusion_scale : float
        As :func:`spec_for`.
    out_dir : path, optional
        Figures go there (none when None).
    fmt : str
        Figure format.
    progress : bool
    parameters : dict, optional
        Extra entries of ``verdict.parameters``.

    Returns
    -------
    Verdict
    """
    spec = spec_for(
        problem,
        eta=eta,
        mu=mu,
        delay=delay,
        runs=runs,
        seed=seed,
        horizon=horizon,
        ladder=ladder,
        sweep=sweep,
        displacement=displacement,
        level=level,
        diffusion_scale=diffusion_scale,
    )
    return run_in_process(
        COMPARISON, spec, out_dir=out_dir, fmt=fmt, progress=progress, parameters=parameters
    )


def _from_args(args: argparse.Namespace) -> Phase3Spec:
    spec = getattr(args, "phase3_spec", None)
    return spec if spec is not None else spec_from_args(args)


def run(args, out_dir: Path) -> Verdict:
    """Simulate the cells (or load them with --from-store), analyse, plot.

    Parameters
    ----------
    args : argparse.Namespace
        Options validated by :func:`validate`.
    out_dir : path
        Output directory (figures; the store ``cells.zarr`` by default).

    Returns
    -------
    Verdict
        With the notes of :func:`validate` (a raised window) after the analysis' own.
    """
    verdict = run_command(COMPARISON, args, out_dir)
    verdict.notes = [*verdict.notes, *getattr(args, "phase3_notes", [])]
    return verdict


#: The comparison as the engine runs it (spec, plan, assembly, analysis, figures).
COMPARISON = Comparison(
    name=NAME,
    spec=Phase3Spec,
    from_args=_from_args,
    cells=cells,
    analyse=analyse,
    figures=figures,
    assemble=assemble,
    estimate=estimate,
)
