r"""phase2: the traverse between stationary points vs ODE (7) and T2 of Proposition 8.

Theory: the closed form of ODE (7) (:func:`theory.ode.traverse_time`) from
:math:`h_0 = (\delta, \sqrt{1-\delta^2}, 0, \dots)` to :math:`H_1^2 = 1 - \delta^2`, which in
this 2-coordinate start equals ``theory.phases.T2_derived`` =
:math:`\frac{1-\mu}{\lambda_1-\lambda_2}\log\frac{1-\delta^2}{\delta^2}`, twice the printed
``T2_paper`` (Proposition 8; see docs/errata.md).

Simulation: :func:`simulate.simulate_async_msgd` from :math:`v_0 = Q h_0`; the traverse time
of a run is the first record time with :math:`(h_1/\|h\|)^2 \ge 1 - \delta^2` (the ODE's event,
on the unit sphere; the raw-iterate reading is kept as ``observed_median_raw``).

Beyond the ODE, a noise-corrected prediction (derived here): near the start the unstable
direction is the OU of Theorem 9, :math:`h_1(t) \approx e^{at}(\delta + \sqrt{\eta}\,b
\int_0^t e^{-as}dB_s)`, so the ODE effectively starts from
:math:`\delta_{\rm eff} = |\delta + s Z|`, :math:`s^2 = \eta b^2/(2a)`, :math:`a = (\lambda_1 -
\lambda_2)/(1-\mu)`, :math:`b = \alpha_{12}/(1-\mu)`; the traverse time is decreasing in
:math:`\delta_{\rm eff}`, so its median is the ODE time from the median of
:math:`\delta_{\rm eff}` (:func:`noise_corrected_time`).

Checks (rules in docs/compare.md, built by :mod:`compare.phase2_analysis`):
``traverse_time_ode``, ``traverse_time_noise_corrected``, ``traverse_time_paper``: the
prediction lies within the bootstrap interval of the observed median traverse time, widened
below by one record spacing (a first passage read on the record grid is late by less than
one spacing). ``results`` holds ``observed_median``, ``paper``, ``derived`` (ODE time units).

On the experiment engine (:mod:`compare.engine`): :class:`Phase2Spec`; one cell,
:func:`traverse_cell` (per run the traverse time, on the sphere and raw, and a few paths of
h_1^2 for the figure); analysis and figure in :mod:`compare.phase2_analysis`.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from compare import cli
from compare import phase2_analysis as analysis
from compare import single_run as S
from compare.engine import Cell, Comparison
from compare.verdict import Verdict
from theory.validation import check_probability

__all__ = [
    "NAME",
    "HELP",
    "COMPARISON",
    "Phase2Spec",
    "start",
    "plan",
    "estimate",
    "cells",
    "traverse_cell",
    "traverse_times",
    "noise_corrected_time",
    "compare_phase2",
    "spec_from_args",
    "add_arguments",
    "validate",
    "run",
    "quick_args",
    "key_params",
    "DEFAULT_DELTA",
    "HORIZON_FACTOR",
    "RECORDS_PER_T2",
    "MIN_HORIZON_STEPS",
    "FIGURE_PATHS",
]

NAME = "phase2"
HELP = "Proposition 8: traverse time from H_1^2 = delta^2 to 1 - delta^2, discrete vs ODE (7) vs T2"

#: Default delta: 0.3. At delta = 0.2 the stationary fluctuation near e_1,
#: eta * sum_i Var_OU(u_i) ~ 0.043 at the paper's setting, exceeds delta^2 = 0.04, so the target
#: H_1^2 >= 1 - delta^2 would be a rare fluctuation rather than the end of the traverse.
DEFAULT_DELTA = 0.3
#: Horizon = this factor x the derived T2 (room for the slow runs of the distribution).
HORIZON_FACTOR = 3.0
#: Record spacing = T2_derived / this (the resolution of the first passage time).
RECORDS_PER_T2 = 400
#: The horizon is at least this many steps (HORIZON_FACTOR x T2 can be below one step).
MIN_HORIZON_STEPS = 20
#: Runs whose h_1^2 path the cell keeps for the figure.
FIGURE_PATHS = 20


@dataclass(frozen=True)
class Phase2Spec(S.SingleRunSpec):
    """The traverse from H_1^2 = delta^2 (fields of :class:`compare.single_run.SingleRunSpec`, plus):

    delta : float
        delta of Proposition 8, with delta^2 < 1/2 (the start lies below the target).
    runs : int >= 2
        (a bootstrap interval needs two).
    """

    KIND = "phase2 spec"
    runs: int = 500
    delta: float = DEFAULT_DELTA

    def validate(self) -> None:
        """Validate and normalise the fields in place (ValueError naming the field).

        The shared fields, then delta with delta^2 < 1/2 and runs >= 2.
        """
        super().validate()
        d = check_probability(self.delta, "delta")
        if not d**2 < 0.5:
            raise ValueError(f"delta must satisfy delta^2 < 1/2 (start below the target), got {self.delta!r}")
        if not d * d > 0:
            raise ValueError(
                f"delta must be above 1e-150 (delta^2 underflows to 0 in T2), got {self.delta!r}"
            )
        self.set("delta", d)
        if self.runs < 2:
            raise ValueError(f"runs must be >= 2 for a bootstrap interval, got {self.runs}")


def start(d: int, delta: float) -> np.ndarray:
    """h_0 = (delta, sqrt(1 - delta^2), 0, ..): H_1^2 = delta^2 on the unit sphere, shape (d,).

    Parameters
    ----------
    d : int
        Dimension.
    delta : float

    Returns
    -------
    ndarray, shape (d,)
    """
    h0 = np.zeros(d)
    h0[0], h0[1] = delta, math.sqrt(1 - delta**2)
    return h0


def plan(spec: Phase2Spec) -> dict:
    """T2 (printed, derived), the horizon (HORIZON_FACTOR x derived) and the record spacing.

    The horizon is at least MIN_HORIZON_STEPS steps: when HORIZON_FACTOR x T2 is shorter (eta
    large, mu near 1) it is raised, and ``notes`` says so (a record spacing below one step is
    one step, as the simulator rounds it).

    Parameters
    ----------
    spec : Phase2Spec

    Returns
    -------
    dict
        ``T2_paper``, ``T2_derived``, ``horizon``, ``record_dt`` (ODE time units) and
        ``notes`` (list of str).
    """
    from theory.phases import T2_derived, T2_paper

    lam = spec.eigenvalues
    t_derived = T2_derived(lam[0], lam[1], spec.mu, spec.delta)
    record_dt, horizon, notes = t_derived / RECORDS_PER_T2, HORIZON_FACTOR * t_derived, []
    if not horizon >= MIN_HORIZON_STEPS * spec.eta:
        horizon = MIN_HORIZON_STEPS * spec.eta
        notes.append(
            f"T2 derived = {t_derived:.3g} is {t_derived / spec.eta:.3g} steps of eta = {spec.eta:g}: the "
            f"horizon {HORIZON_FACTOR:g} x T2 is raised to {MIN_HORIZON_STEPS} steps ({horizon:.3g}), "
            "records every step; far from the eta -> 0 regime of Proposition 8"
        )
    return {
        "T2_paper": T2_paper(lam[0], lam[1], spec.mu, spec.delta),
        "T2_derived": t_derived,
        "horizon": horizon,
        "record_dt": record_dt,
        "notes": notes,
    }


def estimate(spec: Phase2Spec):
    """Peak memory and work of the one cell (:class:`compare.engine.estimate.Estimate`).

    :func:`compare.single_run.discrete_memory_bytes` of the runs (records of all d
    coordinates, as the simulator keeps them) plus the hit indicators (one byte per run and
    record); work = runs x steps.

    Parameters
    ----------
    spec : Phase2Spec

    Returns
    -------
    compare.engine.estimate.Estimate
    """
    from compare.engine.estimate import Estimate

    p = plan(spec)
    n = int(round(p["horizon"] / spec.eta))
    n_t = n // max(1, int(round(p["record_dt"] / spec.eta))) + 1
    mem = S.discrete_memory_bytes(spec.runs, n, n_t, len(spec.eigenvalues), spec.delay) + 2 * spec.runs * n_t
    # the horizon 3 T2 grows with (1 - mu) / (lambda_1 - lambda_2) and log(1 / delta^2)
    return Estimate(
        memory_bytes=mem,
        chain_steps=float(spec.runs) * n,
        reduce=S.reduce_options(spec, mem, ("--runs", "--delta", "--eigenvalues")),
    )


def cells(spec: Phase2Spec) -> list[Cell]:
    """The plan: one cell, the discrete runs from h_0.

    Parameters
    ----------
    spec : Phase2Spec

    Returns
    -------
    list of compare.engine.Cell
    """
    p = plan(spec)
    params = S.discrete_params(
        spec, h0=start(len(spec.eigenvalues), spec.delta), horizon=p["horizon"], record_dt=p["record_dt"]
    )
    params["delta"] = spec.delta
    return [Cell(NAME, "compare.phase2:traverse_cell", params, runs=spec.runs, seed=spec.seed)]


def traverse_times(h, t, delta: float, diverged, *, normalised: bool = True) -> np.ndarray:
    r"""First record time with :math:`(h_1/\|h\|)^2 \ge 1 - \delta^2` per run (inf if never).

    The ODE (7) stays on the unit sphere, so its target :math:`H_1^2 = 1 - \delta^2` is read
    on the normalised iterate (``normalised=False``: on the raw iterate, whose norm exceeds 1
    by O(eta/(1-mu)), errata section 6). A diverged run never arrives.

    Parameters
    ----------
    h : ndarray, shape (runs, n_t, d)
    t : ndarray, shape (n_t,)
    delta : float
        delta of Proposition 8.
    diverged : ndarray of bool, shape (runs,)
    normalised : bool
        Read the target on h / ||h|| (True) or on the raw iterate.

    Returns
    -------
    ndarray, shape (runs,)
        ODE time units; inf: never.
    """
    scale = np.sum(h**2, axis=2) if normalised else 1.0
    hit = h[:, :, 0] ** 2 >= (1 - delta**2) * scale
    hit[np.asarray(diverged, dtype=bool)] = False
    return np.where(hit.any(axis=1), t[np.argmax(hit, axis=1)], np.inf)


def traverse_cell(params: dict, seed: int, runs: int):
    """Async-MSGD (5) from h_0: per run the traverse time (sphere and raw), a few h_1^2 paths.

    Returns
    -------
    xarray.Dataset
        ``traverse_time``, ``traverse_time_raw`` (run): ODE time units, inf = the target was
        not reached by the horizon (or the run diverged); ``diverged`` (run), bool;
        ``h1_squared`` (path, t): h_1^2 of the first :data:`FIGURE_PATHS` runs;
        ``staleness_mean`` (), iterations; coordinate ``t``, the record times (ODE units).

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
    delta, diverged = params["delta"], res.diverged[0]
    unit = {"units": "ODE time"}
    ds = xr.Dataset(
        {
            "traverse_time": (
                ("run",),
                traverse_times(h, t, delta, diverged, normalised=True),
                {"long_name": "first record time with (h_1/||h||)^2 >= 1 - delta^2 (inf: never)", **unit},
            ),
            "traverse_time_raw": (
                ("run",),
                traverse_times(h, t, delta, diverged, normalised=False),
                {
                    "long_name": "first record time with h_1^2 >= 1 - delta^2 on the raw "
                    "iterate (inf: never)",
                    **unit,
                },
            ),
            "diverged": (("run",), np.asarray(diverged, dtype=bool), {"long_name": "run diverged"}),
            "h1_squared": (
                ("path", "t"),
                h[: min(FIGURE_PATHS, runs), :, 0] ** 2,
                {"long_name": "h_1^2 of the first runs (figure)"},
            ),
            "staleness_mean": (
                (),
                float(res.mean_staleness[0]),
                {"long_name": "measured mean delay", "units": "iterations"},
            ),
        },
        coords={
            "t": ("t", np.asarray(t, dtype=float), {"long_name": "record time t = k eta", **unit}),
            "run": ("run", np.arange(runs, dtype=np.int64)),
            "path": ("path", np.arange(min(FIGURE_PATHS, runs), dtype=np.int64)),
        },
        attrs={
            "equation": "Liu et al. 2018, eq. (5) from H_1^2 = delta^2; Proposition 8's traverse",
            "delta": float(delta),
        },
    )
    return S.annotate(
        ds,
        {"diverged": "1", "h1_squared": "1", "run": "1", "path": "1"},
        {"run": "run index", "path": "index of the runs whose h_1^2 path is kept (the first ones)"},
    )


def noise_corrected_time(problem, mu: float, eta: float, delta: float) -> tuple[float, float]:
    """Median traverse time with the OU noise of the unstable direction folded into the start.

    Returns (median time, s) with s the sd of the effective start (module docstring).

    Parameters
    ----------
    problem : theory.Problem
    mu, eta : float
    delta : float

    Returns
    -------
    tuple of float
        (median traverse time in ODE time units, s).
    """
    import scipy.stats as st
    from scipy.optimize import brentq

    from theory.ode import traverse_time

    lam = problem.lambda_
    a = (lam[0] - lam[1]) / (1 - mu)
    b = problem.alpha[0, 1] / (1 - mu)
    s = math.sqrt(eta) * b / math.sqrt(2 * a)

    def cdf_abs(m):  # P(|delta + s Z| <= m) - 1/2
        return st.norm.cdf((m - delta) / s) - st.norm.cdf((-m - delta) / s) - 0.5

    m_med = brentq(cdf_abs, 1e-12, delta + 10 * s)
    h0 = np.zeros(problem.d)
    h0[0], h0[1] = min(m_med, 1.0), math.sqrt(1 - delta**2)
    return float(traverse_time(h0, lam, mu, delta)), s


# ---------------------------------------------------------------------------------------
# CLI and Python API
# ---------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the common options and phase2's (``--delta``, ``--level``).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser.
    """
    cli.add_common_arguments(parser, runs_default=500)
    g = parser.add_argument_group("phase2 options")
    g.add_argument(
        "--delta", type=float, default=DEFAULT_DELTA, help=f"delta of Prop. 8 (default {DEFAULT_DELTA})"
    )
    cli.add_level_argument(g)


def validate(args) -> None:
    """Validate phase2's options in place, before any simulation.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options (the common ones already validated by ``compare.cli.validate_common``).

    Raises
    ------
    ValueError
        One line naming the option.
    """
    d = check_probability(args.delta, "--delta")
    if not d**2 < 0.5:
        raise ValueError(f"--delta must satisfy delta^2 < 1/2 (start below the target), got {args.delta!r}")
    if not d * d > 0:
        raise ValueError(f"--delta must be above 1e-150 (delta^2 underflows to 0 in T2), got {args.delta!r}")
    cli.check_level(args.level)
    if args.runs < 2:
        raise ValueError(f"--runs must be >= 2 for a bootstrap interval, got {args.runs}")
    cli.delay_from_args(args)


def quick_args() -> list[str]:
    """The ``--quick`` budget: 20 runs.

    Returns
    -------
    list of str
        Options prepended to the user's (which win).
    """
    return ["--runs", "20", "--no-progress"]


def key_params(args) -> dict:
    """The parameters naming the default output directory.

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    dict
    """
    return {"eta": args.eta, "mu": args.mu, "tau": args.tau, "delta": args.delta}


def spec_from_args(args) -> Phase2Spec:
    """The spec of validated options.

    Parameters
    ----------
    args : argparse.Namespace
        Validated options.

    Returns
    -------
    Phase2Spec
    """
    return Phase2Spec(**S.spec_fields_from_args(args), delta=args.delta)


def compare_phase2(
    problem,
    *,
    eta: float,
    mu: float,
    delay,
    runs: int = 500,
    seed: int = 0,
    delta: float = DEFAULT_DELTA,
    level: float = 0.95,
    out_dir: Path | None = None,
    fmt: str = "png",
    progress: bool = False,
    parameters: dict | None = None,
) -> Verdict:
    """Traverse time discrete vs ODE (7) vs T2 (paper/derived) vs the noise-corrected ODE.

    Runs :data:`COMPARISON` in-process (no store).

    Parameters
    ----------
    problem : theory.Problem
    eta, mu : float
        Step size and momentum.
    delay : int or simulate.delays.DelayModel
    runs, seed : int
    delta : float
    level : float
        Confidence level.
    out_dir : path, optional
        Where the figure goes (none when None).
    fmt : str
        Figure format.
    progress : bool
    parameters : dict, optional
        The caller's common options, recorded under the spec's own.

    Returns
    -------
    compare.verdict.Verdict
    """
    fields = S.spec_fields_from_problem(
        problem, eta=eta, mu=mu, delay=delay, runs=runs, seed=seed, level=level
    )
    spec = Phase2Spec(**fields, delta=delta)
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
    spec=Phase2Spec,
    from_args=spec_from_args,
    cells=cells,
    analyse=analysis.analyse,
    figures=analysis.figures,
    estimate=estimate,
)
