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

Checks, per level nu, one prediction each (rules in docs/compare.md):
``escape_probability[nu=..]`` (the proposition, one-sided: the observed probability of
``escaped`` at the printed :math:`T_1` is not significantly below :math:`1 - \nu`, Wilson
interval); ``escape_probability_unstable[nu=..]`` (the exact law of Theorem 9's unstable
coordinate vs the observed probability of ``unstable``, statistical tolerance only);
``escape_probability_unstable_linearised[nu=..]`` (the toolkit's finite-eta prediction, the
linearised delayed recursion of :mod:`compare._common`, vs the same observation).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import scipy.stats as st

from compare import _common as C
from compare import cli, plots, stats
from compare.checks import interval_check, proportion_at_least_check
from compare.verdict import Check, Verdict
from theory import Problem, ou_coefficients
from theory.phases import T1_derived, T1_paper
from theory.validation import check_probability

NAME = "phase1"
HELP = "Theorem 9, Proposition 10: escape from the saddle e_2 vs the unstable OU and T1 (paper and derived)"

#: Default delta: 0.2. The paper takes delta ~ sqrt(eta) with an unknown constant; 0.2 (about
#: 9 sqrt(eta) at eta = 5e-4) keeps delta/sqrt(eta) well above the noise of the stable
#: coordinates yet h_1^2 = 0.04 small, so the linear OU regime still applies (nonlinear
#: corrections to the drift are O(delta^2) = 4%).
DEFAULT_DELTA = 0.2
#: Horizon = this factor x the largest T1 over the levels (the escape CDF is shown past T1).
HORIZON_FACTOR = 1.5
#: Exact OU paths simulated for the "OU (simulated)" curves (their Monte Carlo error,
#: ~0.5/sqrt(20000) = 0.004 in probability, is negligible next to the discrete runs').
OU_PATHS = 20000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    cli.add_common_arguments(parser, runs_default=1000)
    g = parser.add_argument_group("phase1 options")
    g.add_argument(
        "--delta", type=float, default=DEFAULT_DELTA, help=f"escape radius delta (default {DEFAULT_DELTA})"
    )
    g.add_argument("--nus", default="0.1,0.25,0.5", help="levels nu of Proposition 10 (default 0.1,0.25,0.5)")
    cli.add_level_argument(g)


def validate(args) -> None:
    check_probability(args.delta, "--delta")
    args.nu_list = cli.parse_float_list(args.nus, "--nus")
    for nu in args.nu_list:
        check_probability(nu, "--nus")
    cli.check_level(args.level)
    cli.delay_from_args(args)


def quick_args() -> list[str]:
    return ["--runs", "50", "--nus", "0.25,0.5", "--no-progress"]


def key_params(args) -> dict:
    return {"eta": args.eta, "mu": args.mu, "tau": args.tau, "delta": args.delta}


def compare_phase1(
    problem: Problem,
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
    as phase3's).
    """
    start_time = time.perf_counter()
    d = problem.d
    lam = problem.lambda_
    a12 = float(problem.alpha[0, 1]) * diffusion_scale
    oc = ou_coefficients(problem, mu, 2)  # coordinates 1, 3, .., d
    a1, b1 = float(oc.drift[0]), float(oc.diffusion[0]) * diffusion_scale
    T1p = {nu: T1_paper(lam[0], lam[1], mu, eta, delta, nu, a12) for nu in nus}
    T1d = {nu: T1_derived(lam[0], lam[1], mu, eta, delta, nu, a12) for nu in nus}
    horizon = HORIZON_FACTOR * max(max(T1p.values()), max(T1d.values()))
    dt = horizon / 200
    res, t, h = C.run_discrete(
        problem,
        eta=eta,
        mu=mu,
        delay=delay,
        h0=np.eye(d)[1],
        horizon=horizon,
        runs=runs,
        seed=seed,
        record_dt=dt,
        progress=progress,
    )
    tau = int(delay) if isinstance(delay, (int, np.integer)) else int(round(res.mean_staleness[0]))
    ev = escape_events(h, delta)  # (runs, n_t) each; a diverged run stays escaped (frozen far away)
    esc, unst = ev["escaped"], ev["unstable"]
    first = np.where(esc.any(axis=1), t[np.argmax(esc, axis=1)], np.inf)  # first passage, on the sphere
    # OU of Theorem 9, all coordinates, from u = 0 (exact transition) on the same grid
    U = C.ou_paths(problem, mu, 2, np.zeros(d - 1), t, ou_paths, seed, diffusion_scale)  # (n_t, paths, d-1)
    r2 = delta**2 / eta
    ou_esc = (U**2).sum(axis=2) >= r2
    ou_unst = U[:, :, 0] ** 2 >= r2
    var1 = b1**2 * np.expm1(2 * a1 * t) / (2 * a1)
    with np.errstate(divide="ignore"):
        p_exact = 2 * st.norm.sf(math.sqrt(r2) / np.sqrt(var1))
    steps = np.rint(t / eta).astype(int)
    var_lin = C.linearised_variance_path_u(a12, lam[1] - lam[0], eta, mu, tau, steps)
    with np.errstate(divide="ignore"):
        p_lin = 2 * st.norm.sf(math.sqrt(r2) / np.sqrt(var_lin))

    checks: list[Check] = []
    per_nu = {}
    for nu in nus:
        j = int(np.argmin(np.abs(t - T1p[nu])))
        k_esc, k_unst = int(esc[:, j].sum()), int(unst[:, j].sum())
        ci_esc = stats.wilson_ci(k_esc, runs, level)
        ci_unst = stats.wilson_ci(k_unst, runs, level)
        checks += _checks_at(nu, j, t, T1p, k_esc, k_unst, runs, level, p_exact, p_lin, ou_esc, ev)
        q_disc = float(np.quantile(first, 1 - nu))
        ou_first = np.where(ou_esc.any(axis=0), t[np.argmax(ou_esc, axis=0)], np.inf)
        per_nu[f"{nu:g}"] = {
            "T1_paper": T1p[nu],
            "T1_derived": T1d[nu],
            "t_record": t[j],
            "p_escaped": ci_esc.estimate,
            "p_escaped_ci": ci_esc.bounds,
            "p_escaped_raw": float(ev["escaped_raw"][:, j].mean()),
            "p_unstable": ci_unst.estimate,
            "p_unstable_ci": ci_unst.bounds,
            "p_unstable_raw": float(ev["unstable_raw"][:, j].mean()),
            "p_unstable_exact_ou": p_exact[j],
            "p_unstable_linearised": p_lin[j],
            "p_escaped_ou_sim": ou_esc[j].mean(),
            "p_unstable_ou_sim": ou_unst[j].mean(),
            "first_passage_quantile": q_disc if math.isfinite(q_disc) else None,
            "first_passage_quantile_ou_sim": float(np.quantile(ou_first, 1 - nu)),
        }
    results = {
        "delta": delta,
        "levels": per_nu,
        "horizon": horizon,
        "tau": tau,
        "diverged_runs": int(res.diverged.sum()),
        "ou": {"drift": oc.drift, "diffusion": oc.diffusion, "coords": oc.coords},
    }
    figures = []
    if out_dir is not None:
        figures.append(
            _figure(
                out_dir,
                fmt,
                t,
                ev,
                ou_esc.mean(1),
                ou_unst.mean(1),
                p_exact,
                p_lin,
                T1p,
                nus,
                eta,
                mu,
                delta,
                first,
            )
        )
    raw = {
        "t": t,
        "p_escaped": esc.mean(0),
        "p_unstable": unst.mean(0),
        "p_escaped_raw": ev["escaped_raw"].mean(0),
        "p_unstable_raw": ev["unstable_raw"].mean(0),
        "p_escaped_ou_sim": ou_esc.mean(1),
        "p_unstable_ou_sim": ou_unst.mean(1),
        "p_unstable_exact_ou": p_exact,
        "p_unstable_linearised": p_lin,
        "first_passage": first,
    }
    return C.assemble_verdict(
        NAME,
        problem,
        parameters=parameters,
        own={
            "eta": eta,
            "mu": mu,
            "tau": tau,
            "runs": runs,
            "delta": delta,
            "nus": list(nus),
            "level": level,
            "diffusion_scale": diffusion_scale,
        },
        seed=seed,
        checks=checks,
        figures=figures,
        results=results,
        start_time=start_time,
        raw=raw,
    )


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


def _checks_at(nu, j, t, T1p, k_esc, k_unst, runs, level, p_exact, p_lin, ou_esc, ev) -> list[Check]:
    """The three checks at the printed T1(nu) (record j): one prediction each (docs/compare.md)."""
    ci_unst = stats.wilson_ci(k_unst, runs, level)
    wil = f"{level:.0%} Wilson interval (statistical only)"
    event = f"event (h_1/||h||)^2 >= delta^2 at t = {t[j]:.4g}"
    return [
        proportion_at_least_check(
            name=f"escape_probability[nu={nu:g}]",
            equation="Proposition 10: P((H^(2)(T1))^2 <= 1 - delta^2) >= 1 - nu",
            p_min=1 - nu,
            k=k_esc,
            n=runs,
            level=level,
            note=f"event (h_2/||h||)^2 <= 1 - delta^2 at the printed T1 = {T1p[nu]:.4g} (record "
            f"t = {t[j]:.4g}); raw iterate gives {ev['escaped_raw'][:, j].mean():.3f}; OU (all "
            f"coordinates) {ou_esc[j].mean():.3f}",
        ),
        interval_check(
            name=f"escape_probability_unstable[nu={nu:g}]",
            equation="Theorem 9 (unstable OU, coordinate 1): P(|U_1(T1)| >= delta/sqrt(eta))",
            predicted=float(p_exact[j]),
            estimate=ci_unst.estimate,
            lo=ci_unst.lo,
            hi=ci_unst.hi,
            tolerance=f"exact OU probability within the {wil}",
            note=f"{event}; raw iterate gives {ev['unstable_raw'][:, j].mean():.3f}",
        ),
        interval_check(
            name=f"escape_probability_unstable_linearised[nu={nu:g}]",
            equation="linearised delayed recursion at e_2 (exact at finite eta, tau)",
            predicted=float(p_lin[j]),
            estimate=ci_unst.estimate,
            lo=ci_unst.lo,
            hi=ci_unst.hi,
            tolerance=f"the linearised recursion's Gaussian probability within the {wil}",
            note=f"{event}; the toolkit's finite-eta prediction (momentum warm-up and delay included)",
        ),
    ]


def _figure(out_dir, fmt, t, ev, ou_esc, ou_unst, p_exact, p_lin, T1p, nus, eta, mu, delta, first):
    fig, axes = plots.new_figure(
        1, 2, title=f"Phase I: escape from e_2 (eta={eta:g}, mu={mu:g}, delta={delta:g})"
    )
    col = plots.COLORS
    ax = axes[0, 0]
    ax.plot(t, ev["unstable"].mean(0), color=col[0], lw=2, label="Async-MSGD, on the sphere")
    ax.plot(t, ev["unstable_raw"].mean(0), color=col[0], lw=0.8, ls=":", label="Async-MSGD, raw iterate")
    ax.plot(t, ou_unst, color=col[1], ls="--", label="OU simulated")
    ax.plot(t, p_exact, "k:", label="OU exact")
    ax.plot(t, p_lin, color=col[2], ls="-.", lw=1, label="linearised recursion")
    ax.set_title("P((h_1/|h|)^2 >= delta^2) (T1's event)", fontsize=9)
    ax2 = axes[0, 1]
    ax2.plot(t, ev["escaped"].mean(0), color=col[0], lw=2, label="Async-MSGD, on the sphere")
    ax2.plot(t, ev["escaped_raw"].mean(0), color=col[0], lw=0.8, ls=":", label="Async-MSGD, raw iterate")
    ax2.plot(t, ou_esc, color=col[1], ls="--", label="OU simulated (all coords)")
    fin = np.sort(first[np.isfinite(first)])
    if fin.size:
        ax2.step(
            fin,
            np.arange(1, fin.size + 1) / first.size,
            color=col[3],
            where="post",
            lw=1,
            label="first passage CDF",
        )
    ax2.set_title("P((h_2/|h|)^2 <= 1 - delta^2) (Prop. 10's event)", fontsize=9)
    for a_ in (ax, ax2):
        for nu in nus:
            a_.axvline(T1p[nu], color="0.5", lw=0.8, ls=":")
            a_.plot([T1p[nu]], [1 - nu], "kx", label="(T1 printed, 1 - nu)" if nu == nus[0] else None)
        a_.set_xlabel("t = k eta (ODE time)")
        a_.set_ylabel("probability")
        a_.set_ylim(0, 1)
        a_.legend(fontsize=7)
    return plots.save(fig, out_dir, "phase1_escape", fmt)


def run(args, out_dir: Path) -> Verdict:
    problem, kwargs = cli.single_run_kwargs(args, out_dir)
    return compare_phase1(
        problem,
        delta=args.delta,
        nus=tuple(args.nu_list),
        **kwargs,
    )
