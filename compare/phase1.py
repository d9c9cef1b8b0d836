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

Events at time t (time in ODE units):

* ``escaped`` (Proposition 10's): :math:`h_2^2 \le 1 - \delta^2`; in the OU,
  :math:`\eta |U|^2 \ge \delta^2` (all coordinates, stable ones included);
* ``unstable`` (the event T1's derivation uses): :math:`h_1^2 \ge \delta^2`; in the OU,
  :math:`\eta U_1^2 \ge \delta^2`, exact probability :math:`2(1 - \Phi(\delta/(\sqrt{\eta}\,\sigma(t))))`.

Checks, per level nu (rules in docs/compare.md): ``escape_probability[nu=..]`` (the
proposition: the observed probability of ``escaped`` at :math:`T_1` is not significantly
below :math:`1 - \nu`, Wilson interval) and ``escape_probability_unstable[nu=..]`` (the
observed probability of ``unstable`` at :math:`T_1` vs the exact OU law, allowance = the
exact gap of the linearised discrete recursion, :mod:`compare._common`).
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
) -> Verdict:
    """Escape from e_2: discrete vs unstable OU (simulated and exact) vs T1 (paper, derived)."""
    start_time = time.perf_counter()
    d = problem.d
    lam = problem.lambda_
    a12 = float(problem.alpha[0, 1])
    oc = ou_coefficients(problem, mu, 2)  # coordinates 1, 3, .., d
    a1, b1 = float(oc.drift[0]), float(oc.diffusion[0])
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
    esc = h[:, :, 1] ** 2 <= 1 - delta**2  # (runs, n_t); a diverged run stays escaped (frozen far away)
    unst = h[:, :, 0] ** 2 >= delta**2
    p_esc = esc.mean(axis=0)
    p_unst = unst.mean(axis=0)
    first = np.where(esc.any(axis=1), t[np.argmax(esc, axis=1)], np.inf)  # first-passage times
    # OU of Theorem 9, all coordinates, from u = 0 (exact transition) on the same grid
    U = C.ou_paths(problem, mu, 2, np.zeros(d - 1), t, ou_paths, seed)  # (n_t, paths, d-1)
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
        checks.append(
            Check(
                name=f"escape_probability[nu={nu:g}]",
                equation="Proposition 10: P((H^(2)(T1))^2 <= 1 - delta^2) >= 1 - nu",
                predicted=1 - nu,
                observed=ci_esc.estimate,
                interval=ci_esc.bounds,
                tolerance=f"one-sided: the {level:.0%} Wilson interval's upper end >= 1 - nu",
                holds=ci_esc.hi >= 1 - nu,
                note=f"at the printed T1 = {T1p[nu]:.4g} (record t = {t[j]:.4g}); OU (all coordinates) gives "
                f"{ou_esc[j].mean():.3f}",
            )
        )
        allowance = abs(p_lin[j] - p_exact[j])
        checks.append(
            Check(
                name=f"escape_probability_unstable[nu={nu:g}]",
                equation="Theorem 9 (unstable OU, coordinate 1): P(|U_1(T1)| >= delta/sqrt(eta))",
                predicted=float(p_exact[j]),
                observed=ci_unst.estimate,
                interval=ci_unst.bounds,
                tolerance=f"exact OU probability within the {level:.0%} Wilson interval widened by "
                f"the linearised "
                f"recursion's gap |P_lin - P_OU| = {allowance:.3g}",
                holds=ci_unst.contains(p_exact[j], allowance),
                note=f"event h_1^2 >= delta^2 at t = {t[j]:.4g}; linearised discrete recursion "
                f"gives {p_lin[j]:.3f}; "
                f"OU simulated {ou_unst[j].mean():.3f}",
            )
        )
        q_disc = float(np.quantile(first, 1 - nu)) if np.isfinite(np.quantile(first, 1 - nu)) else math.inf
        ou_first = np.where(ou_esc.any(axis=0), t[np.argmax(ou_esc, axis=0)], np.inf)
        per_nu[f"{nu:g}"] = {
            "T1_paper": T1p[nu],
            "T1_derived": T1d[nu],
            "t_record": t[j],
            "p_escaped": ci_esc.estimate,
            "p_escaped_ci": ci_esc.bounds,
            "p_unstable": ci_unst.estimate,
            "p_unstable_ci": ci_unst.bounds,
            "p_unstable_exact_ou": p_exact[j],
            "p_unstable_linearised": p_lin[j],
            "p_escaped_ou_sim": ou_esc[j].mean(),
            "p_unstable_ou_sim": ou_unst[j].mean(),
            "first_passage_quantile": q_disc,
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
                p_esc,
                p_unst,
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
        "p_escaped": p_esc,
        "p_unstable": p_unst,
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
        },
        seed=seed,
        checks=checks,
        figures=figures,
        results=results,
        start_time=start_time,
        raw=raw,
    )


def _figure(out_dir, fmt, t, p_esc, p_unst, ou_esc, ou_unst, p_exact, p_lin, T1p, nus, eta, mu, delta, first):
    fig, axes = plots.new_figure(
        1, 2, title=f"Phase I: escape from e_2 (eta={eta:g}, mu={mu:g}, delta={delta:g})"
    )
    col = plots.COLORS
    ax = axes[0, 0]
    ax.plot(t, p_unst, color=col[0], lw=2, label="Async-MSGD")
    ax.plot(t, ou_unst, color=col[1], ls="--", label="OU simulated")
    ax.plot(t, p_exact, "k:", label="OU exact")
    ax.plot(t, p_lin, color=col[2], ls="-.", lw=1, label="linearised recursion")
    ax.set_title("P(h_1^2 >= delta^2) (T1's event)", fontsize=9)
    ax2 = axes[0, 1]
    ax2.plot(t, p_esc, color=col[0], lw=2, label="Async-MSGD")
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
    ax2.set_title("P(h_2^2 <= 1 - delta^2) (Prop. 10's event)", fontsize=9)
    for a_ in (ax, ax2):
        for nu in nus:
            a_.axvline(T1p[nu], color="0.5", lw=0.8, ls=":")
            a_.plot([T1p[nu]], [1 - nu], "kx")
        a_.set_xlabel("t = k eta")
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
