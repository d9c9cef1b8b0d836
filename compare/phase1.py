r"""phase1: escaping the saddle e_2 vs the unstable OU of Theorem 9 and T1 of Proposition 10.

Theory: at the saddle :math:`e_2`, :func:`theory.sde.ou_coefficients` (j = 2) gives the OU
limit of Theorem 9; coordinate 1 is unstable,

.. math::

    dU_1 = \frac{\lambda_1-\lambda_2}{1-\mu} U_1\,dt + \frac{\alpha_{12}}{1-\mu}\,dB_t,
    \qquad U_1(T) \sim N\!\left(0, b^2\frac{e^{2aT}-1}{2a}\right) \text{ from } U_1(0) = 0,

and Proposition 10's :math:`T_1(\nu)` (``theory.phases.T1_paper`` / ``T1_derived``) is the
time at which :math:`P(|U_1(T)| \ge \delta/\sqrt{\eta}) = 1 - \nu`, promising
:math:`(H^{(2)}(T_1))^2 \le 1 - \delta^2` with probability at least :math:`1-\nu`.

Simulation: :func:`simulate.simulate_async_msgd` from :math:`v_0 = e_2`; the OU of
Theorem 9 in all d - 1 coordinates by :func:`simulate.sde.simulate_ou` (exact transition).

Events at time t (time in ODE units), read on the normalised iterate :math:`h/\|h\|` (the
limits live on the unit sphere; the raw iterate's norm exceeds 1 by O(eta/(1-mu)), errata
section 6, and its readings are kept as ``*_raw`` extras in ``results``, ``raw.nc`` and the
figure):

* ``escaped`` (Proposition 10's): :math:`(h_2/\|h\|)^2 \le 1 - \delta^2`; in the OU,
  :math:`\eta |U|^2 \ge \delta^2` (all coordinates, stable ones included): the same event;
* ``unstable`` (the event T1's derivation uses): :math:`(h_1/\|h\|)^2 \ge \delta^2`; in the OU,
  :math:`\eta U_1^2 \ge \delta^2`, exact probability :math:`2(1 - \Phi(\delta/(\sqrt{\eta}\,\sigma(t))))`.

Checks, per level nu, one prediction each (rules in docs/compare.md, built by
:mod:`compare.phase1_analysis`): ``escape_probability[nu=..]`` (the proposition, one-sided:
the observed probability of ``escaped`` at the printed :math:`T_1` is not significantly below
:math:`1 - \nu`, Wilson interval); ``escape_probability_unstable[nu=..]`` (the exact law of
Theorem 9's unstable coordinate vs the observed probability of ``unstable``, statistical
tolerance only); ``escape_probability_unstable_linearised[nu=..]`` (the toolkit's finite-eta
prediction, the linearised delayed recursion of :mod:`compare._common`, vs the same observation).

On the experiment engine (:mod:`compare.engine`): :class:`Phase1Spec`; two cells,
:func:`discrete_cell` (the runs' event indicators at the record times) and :func:`ou_cell`
(the OU reference paths' event frequencies), on the record grid :func:`plan` derives from
the largest T1; analysis and figure in :mod:`compare.phase1_analysis`.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from compare import cli
from compare import phase1_analysis as analysis
from compare import single_run as S
from compare.engine import Cell, Comparison
from compare.verdict import Verdict
from theory.validation import check_positive_float, check_positive_int, check_probability

__all__ = [
    "NAME",
    "HELP",
    "COMPARISON",
    "Phase1Spec",
    "plan",
    "check_T1",
    "estimate",
    "cells",
    "assemble",
    "discrete_cell",
    "ou_cell",
    "escape_events",
    "compare_phase1",
    "spec_from_args",
    "add_arguments",
    "validate",
    "run",
    "quick_args",
    "key_params",
    "DEFAULT_DELTA",
    "HORIZON_FACTOR",
    "MIN_HORIZON_STEPS",
    "OU_PATHS",
]

NAME = "phase1"
HELP = "Theorem 9, Proposition 10: escape from the saddle e_2 vs the unstable OU and T1 (paper and derived)"

#: Default delta: 0.2. The paper takes delta ~ sqrt(eta) with an unknown constant; 0.2 (about
#: 9 sqrt(eta) at eta = 5e-4) keeps delta/sqrt(eta) well above the noise of the stable
#: coordinates yet h_1^2 = 0.04 small, so the linear OU regime still applies (nonlinear
#: corrections to the drift are O(delta^2) = 4%).
DEFAULT_DELTA = 0.2
#: Horizon = this factor x the largest T1 over the levels (the escape CDF is shown past T1).
HORIZON_FACTOR = 1.5
#: Records per horizon (the resolution at which the events are read; every step when the
#: horizon is shorter than N_RECORDS steps).
N_RECORDS = 200
#: The horizon is at least this many steps: HORIZON_FACTOR x T1 can be below one step (eta
#: large, mu near 1, delta tiny), which would leave nothing to simulate (a note says so).
MIN_HORIZON_STEPS = 20
#: Exact OU paths simulated for the "OU (simulated)" curves (their Monte Carlo error,
#: ~0.5/sqrt(20000) = 0.004 in probability, is negligible next to the discrete runs').
OU_PATHS = 20000


@dataclass(frozen=True)
class Phase1Spec(S.SingleRunSpec):
    """Phase I from the saddle e_2 (the fields of :class:`compare.single_run.SingleRunSpec`, plus):

    delta : float in (0, 1)
        Escape radius.
    nus : tuple of float in (0, 1)
        Levels nu of Proposition 10 (the largest T1 sets the horizon, so they are simulation fields).
    ou_paths : int
        Exact OU reference paths.
    diffusion_scale : float > 0
        Multiplies the predicted diffusion coefficients of Theorem 9 (alpha_12 in T1, the OU
        laws and the linearised recursion; 1 = the paper's). Any other value is a deliberately
        wrong prediction the checks must reject (issue 9). It moves T1 and so the horizon and
        the OU paths: a simulation field.
    """

    KIND = "phase1 spec"
    runs: int = 1000
    delta: float = DEFAULT_DELTA
    nus: tuple = (0.1, 0.25, 0.5)
    ou_paths: int = OU_PATHS
    diffusion_scale: float = 1.0

    def validate(self) -> None:
        """Validate and normalise the fields in place (ValueError naming the field).

        The shared fields, then delta in (0, 1), nus (each in (0, 1)), ou_paths >= 1, diffusion_scale > 0.
        """
        super().validate()
        self.set("delta", check_probability(self.delta, "delta"))
        nus = self.nus if isinstance(self.nus, tuple) else (self.nus,)
        if not nus:
            raise ValueError("nus must be a non-empty list of levels in (0, 1)")
        self.set("nus", tuple(check_probability(nu, "nus") for nu in nus))
        if len(set(self.nus)) != len(self.nus):
            raise ValueError(f"nus must be distinct levels (one check each), got {list(self.nus)}")
        self.set("ou_paths", check_positive_int(self.ou_paths, "ou_paths"))
        self.set("diffusion_scale", check_positive_float(self.diffusion_scale, "diffusion_scale"))
        check_T1(self, "delta", "nus")


def check_T1(spec, delta_name: str = "delta", nus_name: str = "nus") -> None:
    """Refuse levels and radii at which T1 of Proposition 10 is not a positive finite time.

    nu below about 1e-16 rounds 1 - nu to 1 and delta below about 1e-8 rounds 1 - delta^2 to 1
    (the formulas divide by their logarithms); anything else that gives no positive finite T1
    is refused naming ``delta_name``.

    Parameters
    ----------
    spec : Phase1Spec
        With eta, mu, eigenvalues, delta, nus and diffusion_scale set.
    delta_name, nus_name : str
        The names of delta and nus in the message (``--delta`` and ``--nus`` for the CLI).

    Raises
    ------
    ValueError
        Naming ``nus_name`` or ``delta_name``.
    """
    from theory.phases import T1_derived, T1_paper

    for nu in spec.nus:
        if not 1.0 - nu < 1.0:
            raise ValueError(f"{nus_name} must be above 1e-16 (1 - nu rounds to 1 in T1), got {nu!r}")
    if not 1.0 - spec.delta**2 < 1.0:
        raise ValueError(
            f"{delta_name} must be above 1e-8 (1 - delta^2 rounds to 1 in T1), got {spec.delta!r}"
        )
    problem = spec.problem()
    lam = problem.lambda_
    a12 = float(problem.alpha[0, 1]) * spec.diffusion_scale
    for nu in spec.nus:
        try:
            with np.errstate(all="ignore"):
                T = [
                    f(lam[0], lam[1], spec.mu, spec.eta, spec.delta, nu, a12) for f in (T1_paper, T1_derived)
                ]
        except (ZeroDivisionError, OverflowError, ValueError):
            T = [math.nan]
        if not all(math.isfinite(x) and x > 0 for x in T):
            raise ValueError(
                f"{delta_name}: T1 of Proposition 10 is not a positive finite time at delta = "
                f"{spec.delta:g}, nu = {nu:g} (got {T}); take delta well above sqrt(eta)"
            )


def plan(spec: Phase1Spec) -> dict:
    """T1 (printed and derived) per level, the horizon and the record spacing, from the theory.

    Returns dict with ``T1_paper``, ``T1_derived`` (nu -> ODE time), ``horizon`` (HORIZON_FACTOR
    x the largest T1), ``record_dt`` (horizon / N_RECORDS) and ``alpha_12`` (scaled).

    Parameters
    ----------
    spec : Phase1Spec

    Returns
    -------
    dict
        Also ``notes`` (list of str): the horizon raised to MIN_HORIZON_STEPS steps when
        HORIZON_FACTOR x T1 is shorter.
    """
    from theory.phases import T1_derived, T1_paper

    problem = spec.problem()
    lam = problem.lambda_
    a12 = float(problem.alpha[0, 1]) * spec.diffusion_scale
    args = (lam[0], lam[1], spec.mu, spec.eta, spec.delta)
    T1p = {nu: T1_paper(*args, nu, a12) for nu in spec.nus}
    T1d = {nu: T1_derived(*args, nu, a12) for nu in spec.nus}
    T1_max = max(max(T1p.values()), max(T1d.values()))
    horizon = HORIZON_FACTOR * T1_max
    notes = []
    if not horizon >= MIN_HORIZON_STEPS * spec.eta:  # T1 of a few steps (eta, mu or delta extreme)
        notes.append(
            f"the horizon {HORIZON_FACTOR:g} x T1 = {horizon:.3g} is shorter than {MIN_HORIZON_STEPS} steps "
            f"of eta = {spec.eta:g}: raised to {MIN_HORIZON_STEPS * spec.eta:.3g} (T1 of the largest level "
            f"is {T1_max / spec.eta:.3g} steps: far from the eta -> 0 regime of Proposition 10)"
        )
        horizon = MIN_HORIZON_STEPS * spec.eta
    return {
        "T1_paper": T1p,
        "T1_derived": T1d,
        "horizon": horizon,
        "record_dt": horizon / N_RECORDS,
        "alpha_12": a12,
        "notes": notes,
    }


def estimate(spec: Phase1Spec):
    """Peak memory and work of the plan (:class:`compare.engine.estimate.Estimate`).

    The larger of the two cells: the discrete runs (:func:`compare.single_run.discrete_memory_bytes`
    plus the four event indicators, one byte per run and record) and the OU paths (the
    (n_t, paths, d - 1) sample array and its square, float64); work = runs x steps.

    Parameters
    ----------
    spec : Phase1Spec

    Returns
    -------
    compare.engine.estimate.Estimate
    """
    from compare.engine.estimate import Estimate

    p = plan(spec)
    d = len(spec.eigenvalues)
    n = int(round(p["horizon"] / spec.eta))
    n_t = n // max(1, int(round(p["record_dt"] / spec.eta))) + 1
    disc = S.discrete_memory_bytes(spec.runs, n, n_t, d, spec.delay) + 4 * spec.runs * n_t
    ou = 3 * n_t * spec.ou_paths * (d - 1) * 8
    return Estimate(
        memory_bytes=max(disc, ou),
        chain_steps=float(spec.runs) * n,
        # the horizon 1.5 T1 grows with 1 / (lambda_1 - lambda_2): a tiny eigengap is long
        reduce=S.reduce_options(
            spec,
            max(disc, ou),
            ("--ou-paths", "--runs", "--eigenvalues")
            if ou > disc
            else ("--runs", "--ou-paths", "--eigenvalues"),
        ),
    )


def cells(spec: Phase1Spec) -> list[Cell]:
    """The plan: the discrete runs from e_2 and the OU reference paths, on one record grid.

    Parameters
    ----------
    spec : Phase1Spec

    Returns
    -------
    list of compare.engine.Cell
    """
    p = plan(spec)
    d = len(spec.eigenvalues)
    disc = S.discrete_params(spec, h0=np.eye(d)[1], horizon=p["horizon"], record_dt=p["record_dt"])
    disc["delta"] = spec.delta
    ou = {k: disc[k] for k in ("eigenvalues", "dist", "basis", "eta", "mu", "horizon", "record_dt", "delta")}
    ou["diffusion_scale"] = spec.diffusion_scale
    return [
        Cell(NAME, "compare.phase1:discrete_cell", disc, runs=spec.runs, seed=spec.seed),
        Cell(NAME, "compare.phase1:ou_cell", ou, runs=spec.ou_paths, seed=spec.seed),
    ]


def escape_events(h, delta: float) -> dict:
    r"""Phase I events per run and record, on the sphere (``v/||v||``) and on the raw iterate.

    Proposition 10's event :math:`(H^{(2)})^2 \le 1 - \delta^2` and T1's event
    :math:`(H^{(1)})^2 \ge \delta^2` are statements about the ODE/OU limit, which lives on
    the unit sphere; the discrete iterate leaves it by :math:`\|v\|^2 - 1 = O(\eta/(1-\mu))`
    (errata section 6), so the checks read the events on :math:`h/\|h\|`, where they are the
    OU events :math:`\eta|U|^2 \ge \delta^2` and :math:`\eta U_1^2 \ge \delta^2` exactly.
    The raw-iterate readings are kept (``*_raw``) to show that bias.

    Parameters
    ----------
    h : ndarray, shape (runs, n_t, d)
        Eigen-coordinates at the record times.
    delta : float
        Escape radius.

    Returns
    -------
    dict of ndarray of bool, shape (runs, n_t)
        ``escaped``, ``unstable`` (normalised) and ``escaped_raw``, ``unstable_raw``.
    """
    norm2 = np.sum(h**2, axis=2)
    return {
        "escaped": h[:, :, 1] ** 2 <= (1 - delta**2) * norm2,
        "unstable": h[:, :, 0] ** 2 >= delta**2 * norm2,
        "escaped_raw": h[:, :, 1] ** 2 <= 1 - delta**2,
        "unstable_raw": h[:, :, 0] ** 2 >= delta**2,
    }


_EVENTS = {
    "escaped": "Proposition 10's event (h_2/||h||)^2 <= 1 - delta^2 (on the sphere)",
    "unstable": "T1's event (h_1/||h||)^2 >= delta^2 (on the sphere)",
    "escaped_raw": "h_2^2 <= 1 - delta^2 on the raw iterate",
    "unstable_raw": "h_1^2 >= delta^2 on the raw iterate",
}


def discrete_cell(params: dict, seed: int, runs: int):
    """Async-MSGD (5) from e_2: per run, the Phase I events at the record times.

    Returns
    -------
    xarray.Dataset
        ``escaped``, ``unstable``, ``escaped_raw``, ``unstable_raw`` (run, t), bool
        (:func:`escape_events`; a diverged run stays escaped, frozen far away);
        ``diverged`` (run), bool; ``staleness_mean`` (), iterations; coordinate ``t`` (ODE units).

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
    ev = escape_events(h, params["delta"])
    data = {k: (("run", "t"), ev[k], {"long_name": _EVENTS[k]}) for k in _EVENTS}
    data["diverged"] = (("run",), np.asarray(res.diverged[0], dtype=bool), {"long_name": "run diverged"})
    data["staleness_mean"] = (
        (),
        float(res.mean_staleness[0]),
        {"long_name": "measured mean delay", "units": "iterations"},
    )
    ds = xr.Dataset(
        data,
        coords=_t_coord(t, runs_dim=("run", runs)),
        attrs={
            "equation": "Liu et al. 2018, eq. (5) from v_0 = e_2; Proposition 10's events",
            "delta": float(params["delta"]),
        },
    )
    return S.annotate(
        ds,
        {**{k: "1" for k in _EVENTS}, "diverged": "1", "run": "1"},
        {"run": "run index", **{k: f"{v} (per run and record: 1 true, 0 false)" for k, v in _EVENTS.items()}},
    )


def ou_cell(params: dict, seed: int, runs: int):
    """The OU of Theorem 9 at e_2, all d - 1 coordinates, from U = 0 (exact transition), ``runs`` paths.

    On the record grid of :func:`discrete_cell` (:func:`compare.single_run.record_times`), with the
    diffusion multiplied by ``diffusion_scale`` (:func:`compare._common.ou_paths`, its seed tag).

    Returns
    -------
    xarray.Dataset
        ``ou_escaped`` (t): fraction of paths with eta |U|^2 >= delta^2; ``ou_unstable`` (t):
        with eta U_1^2 >= delta^2; ``ou_first_passage`` (path): first record time of
        ``ou_escaped``'s event (inf: never), ODE units.

    Parameters
    ----------
    params : dict
        The cell's parameters (problem, eta, mu, record grid, delta, diffusion_scale).
    seed : int
        Root seed.
    runs : int
        OU paths.
    """
    import xarray as xr

    from compare import _common as C

    problem = S.problem_of(params)
    t = S.record_times(params["eta"], params["horizon"], params["record_dt"])
    U = C.ou_paths(
        problem, params["mu"], 2, np.zeros(problem.d - 1), t, runs, seed, params["diffusion_scale"]
    )
    r2 = params["delta"] ** 2 / params["eta"]
    esc = (U**2).sum(axis=2) >= r2  # (n_t, paths)
    unst = U[:, :, 0] ** 2 >= r2
    first = np.where(esc.any(axis=0), t[np.argmax(esc, axis=0)], np.inf)
    ds = xr.Dataset(
        {
            "ou_escaped": (
                ("t",),
                esc.mean(1),
                {"long_name": "OU paths with eta |U|^2 >= delta^2 (fraction)"},
            ),
            "ou_unstable": (
                ("t",),
                unst.mean(1),
                {"long_name": "OU paths with eta U_1^2 >= delta^2 (fraction)"},
            ),
            "ou_first_passage": (
                ("path",),
                first,
                {
                    "long_name": "first record time with eta |U|^2 >= delta^2 (inf: never)",
                    "units": "ODE time",
                },
            ),
        },
        coords={**_t_coord(t), "path": ("path", np.arange(runs, dtype=np.int64))},
        attrs={"equation": "Theorem 9 at e_2 (simulate.sde.simulate_ou, exact transition)"},
    )
    return S.annotate(
        ds, {"ou_escaped": "1", "ou_unstable": "1", "path": "1"}, {"path": "OU reference path index"}
    )


def _t_coord(t, runs_dim=None) -> dict:
    out = {
        "t": ("t", np.asarray(t, dtype=float), {"long_name": "record time t = k eta", "units": "ODE time"})
    }
    if runs_dim is not None:
        out["run"] = ("run", np.arange(runs_dim[1], dtype=np.int64))
    return out


def assemble(spec: Phase1Spec, plan_cells: list[Cell], datasets: list):
    """The two cells' Datasets as one (run, t, path) Dataset (the same record grid, checked).

    Parameters
    ----------
    spec : Phase1Spec
    plan_cells : list of compare.engine.Cell
    datasets : list of xarray.Dataset
        The cells' Datasets, in plan order.

    Returns
    -------
    xarray.Dataset
    """
    import xarray as xr

    disc, ou = datasets
    if not np.array_equal(disc["t"].values, ou["t"].values):
        raise RuntimeError("phase1: the OU cell's record grid differs from the discrete runs'")
    return xr.merge([disc, ou.drop_vars("t").assign_coords(t=disc["t"])], combine_attrs="drop_conflicts")


# ---------------------------------------------------------------------------------------
# CLI and Python API
# ---------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the common options and phase1's (``--delta``, ``--nus``, ``--ou-paths``, ``--level``).

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The subcommand's parser.
    """
    cli.add_common_arguments(parser, runs_default=1000)
    g = parser.add_argument_group("phase1 options")
    g.add_argument(
        "--delta", type=float, default=DEFAULT_DELTA, help=f"escape radius delta (default {DEFAULT_DELTA})"
    )
    g.add_argument("--nus", default="0.1,0.25,0.5", help="levels nu of Proposition 10 (default 0.1,0.25,0.5)")
    g.add_argument(
        "--ou-paths", type=int, default=OU_PATHS, help=f"exact OU reference paths (default {OU_PATHS})"
    )
    cli.add_level_argument(g)


def validate(args) -> None:
    """Validate phase1's options in place, before any simulation (``args.nu_list`` parsed).

    Parameters
    ----------
    args : argparse.Namespace
        The parsed options (the common ones already validated by ``compare.cli.validate_common``).

    Raises
    ------
    ValueError
        One line naming the option.
    """
    check_probability(args.delta, "--delta")
    args.nu_list = cli.parse_float_list(args.nus, "--nus")
    for nu in args.nu_list:
        check_probability(nu, "--nus")
    if len(set(args.nu_list)) != len(args.nu_list):
        raise ValueError(f"--nus must be distinct levels (one check each), got {args.nus!r}")
    args.ou_paths = check_positive_int(args.ou_paths, "--ou-paths")
    cli.check_level(args.level)
    cli.delay_from_args(args)
    problem = cli.problem_from_args(args)
    check_T1(
        SimpleNamespace(
            eta=args.eta,
            mu=args.mu,
            delta=args.delta,
            nus=args.nu_list,
            diffusion_scale=1.0,
            problem=lambda: problem,
        ),
        "--delta",
        "--nus",
    )


def quick_args() -> list[str]:
    """The ``--quick`` budget: 50 runs, two levels, 2000 OU paths.

    Returns
    -------
    list of str
        Options prepended to the user's (which win).
    """
    return ["--runs", "50", "--nus", "0.25,0.5", "--ou-paths", "2000", "--no-progress"]


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


def spec_from_args(args) -> Phase1Spec:
    """The spec of validated options.

    Parameters
    ----------
    args : argparse.Namespace
        Validated options.

    Returns
    -------
    Phase1Spec
    """
    return Phase1Spec(
        **S.spec_fields_from_args(args), delta=args.delta, nus=tuple(args.nu_list), ou_paths=args.ou_paths
    )


def compare_phase1(
    problem,
    *,
    eta: float,
    mu: float,
    delay,
    runs: int = 1000,
    seed: int = 0,
    delta: float = DEFAULT_DELTA,
    nus=(0.1, 0.25, 0.5),
    level: float = 0.95,
    out_dir: Path | None = None,
    fmt: str = "png",
    progress: bool = False,
    parameters: dict | None = None,
    ou_paths: int = OU_PATHS,
    diffusion_scale: float = 1.0,
) -> Verdict:
    """Escape from e_2: discrete vs unstable OU (simulated and exact) vs T1 (paper, derived).

    ``diffusion_scale`` multiplies the predicted diffusion coefficients of Theorem 9 (alpha_12
    in T1, the OU laws and the linearised recursion; 1 = the paper's); any other value is a
    deliberately wrong prediction, which the checks must reject (the test hook of issue 9,
    as phase3's). Runs :data:`COMPARISON` in-process (no store).

    Parameters
    ----------
    problem : theory.Problem
    eta, mu : float
        Step size and momentum.
    delay : int or simulate.delays.DelayModel
    runs, seed : int
    delta : float
        Escape radius.
    nus : sequence of float
        Levels of Proposition 10.
    level : float
        Confidence level.
    out_dir : path, optional
        Where the figure goes (none when None).
    fmt : str
        Figure format.
    progress : bool
    parameters : dict, optional
        The caller's common options, recorded under the spec's own.
    ou_paths : int
        Exact OU reference paths.
    diffusion_scale : float
        See above.

    Returns
    -------
    compare.verdict.Verdict
    """
    fields = S.spec_fields_from_problem(
        problem, eta=eta, mu=mu, delay=delay, runs=runs, seed=seed, level=level
    )
    spec = Phase1Spec(
        **fields, delta=delta, nus=tuple(nus), ou_paths=ou_paths, diffusion_scale=diffusion_scale
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
    spec=Phase1Spec,
    from_args=spec_from_args,
    cells=cells,
    analyse=analysis.analyse,
    figures=analysis.figures,
    assemble=assemble,
    estimate=estimate,
)
