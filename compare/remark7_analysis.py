r"""Analysis and figures of ``python -m compare remark7`` (:mod:`compare.remark7`).

The assembled Dataset (dims alpha, M, arm, run, ...) -> per (alpha, M) the statistics of every
asynchronous arm against heavy ball (:func:`compare_arm`), the mapping's checks for the pipeline
arm (mean path, T1, T2, T3, stationary error) and the linearised stationary one, Remark 7's
Phase III counts against the measured wall-clock ratio, one verdict sentence per quantity; the
figures: mean paths at the largest M, the quantities against M.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from compare.checks import bound_check, divergence_note, interval_check, not_measured
from compare.remark7_cells import ARMS, ASYNC_ARMS
from compare.remark7_theory import LINEARISED_LAWS, linearised_stationary_excess, warmup_lag
from compare.verdict import Check, Verdict

__all__ = ["N_BOOT", "WARMUP_UPDATES", "PHASE_III_NOTE", "compare_arm", "analyse", "figures"]

N_BOOT = 2000
#: The mean path is compared from k = WARMUP_UPDATES x M updates on (mu_L^(5M) < e^-5).
WARMUP_UPDATES = 5
#: The stationary-error checks need at least this fraction of the runs past Phase III at the burn-in
#: (else the window averages the transient: at the defaults every run is past it by t ~ 3 < 10).
STATIONARY_MIN_REACHED = 0.5


def _t_interval(x: np.ndarray, level: float) -> tuple[float, float, float]:
    from compare.stats import mean_ci

    x = x[np.isfinite(x)]
    if x.size < 2 or np.ptp(x) == 0:
        m = float(x.mean()) if x.size else math.nan
        return m, m, m
    iv = mean_ci(x, level)
    return iv.estimate, iv.lo, iv.hi


def _interval_check(name, equation, pred, est, lo, hi, allow, tolerance, note) -> Check:
    """``compare.checks.interval_check`` with a two-sided allowance (not measured if not finite)."""
    return interval_check(
        name=name,
        equation=equation,
        predicted=pred,
        estimate=est,
        lo=lo,
        hi=hi,
        tolerance=tolerance,
        note=note,
        allowance_below=allow,
        allowance_above=allow,
    )


def _diverged(cell, var: str, arms) -> int:
    """Runs in which any of ``arms`` (indices) diverged, from ``cell[var]`` (0 if the cell has no record)."""
    if var not in cell:
        return 0
    return int(np.any(cell[var].values[list(arms)] != 0, axis=0).sum())


def compare_arm(
    cell, arm: str, alpha: float, M: int, level: float, seed: int = 0, burn_in: float | None = None
) -> dict:
    """Statistics of ``arm`` against heavy ball in one cell (paired over runs).

    Parameters
    ----------
    cell : xarray.Dataset
        ``ds.sel(alpha=alpha, M=M)`` of the assembled Dataset.
    arm : str
        One of :data:`compare.remark7_cells.ASYNC_ARMS`.
    alpha : float
        Step size of the cell.
    M : int
        Workers of the cell.
    level : float
        Confidence level of the intervals.
    seed : int
        Root seed (of the bootstrap).
    burn_in : float, optional
        Start of the stationary window (ODE time); with it, ``stationary_reached`` is the fraction
        of runs in which both ``arm`` and heavy ball ended Phase III (T1 + T2 + T3) by then.

    Returns
    -------
    dict
        ``mean_path_sup``, ``mean_path_max_z``, ``mean_path_z_bonferroni`` (NaN, with
        ``mean_path_why``, when not measurable), ``mean_path_sup_unshifted``, ``lag``; ``T1``, ``T2``,
        ``T3`` (estimate, lo, hi) of the paired differences and their heavy-ball means;
        ``stationary_rel`` (estimate, lo, hi), ``stationary_error``, ``stationary_error_heavy_ball``.
    """
    from scipy.stats import t as t_dist

    a, hb = ARMS.index(arm), ARMS.index("heavy_ball")
    t = cell["record_mean_time"].values
    dm, dse = cell["diff_mean"].values[a], cell["diff_se"].values[a]
    # after heavy ball's warm-up: its residual lag (M-1) mu_L^(k+1) updates is < 1% of it from k = 5M on
    late = (t >= WARMUP_UPDATES * M * alpha) & np.all(np.isfinite(dm), axis=-1)
    dm, dse = dm[late], dse[late]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(dse > 0, np.abs(dm) / dse, 0.0)
    runs = cell.sizes["run"]
    mp = cell["mean_path"].values
    out = {"lag": warmup_lag(M) * alpha, "mean_path_sup_unshifted": float(np.abs(mp[a] - mp[hb]).max())}
    div = _diverged(cell, "diverged_mean_path", (a, hb))
    if div:
        out["mean_path_why"] = f"{div} of {runs} mean-path runs of {arm} or heavy ball diverged: no mean path"
    elif not z.size:
        out["mean_path_why"] = (
            f"the mean-path window (--mean-horizon, {t[-1]:.3g} of ODE time) ends before heavy ball's "
            "warm-up "
            f"{WARMUP_UPDATES} M alpha = {WARMUP_UPDATES * M * alpha:.3g} (or the run shifted by its lag)"
        )
    if "mean_path_why" in out:
        out.update(mean_path_sup=math.nan, mean_path_max_z=math.nan, mean_path_z_bonferroni=math.nan)
    else:
        out.update(
            mean_path_sup=float(np.abs(dm).max()),
            mean_path_max_z=float(z.max()),
            mean_path_z_bonferroni=float(t_dist.ppf(1 - (1 - level) / (2 * z.size), runs - 1)),
        )
    pt = cell["phase_time"].values  # (phase, arm, run)
    for n_ph, ph in enumerate(("T1", "T2", "T3")):
        out[ph] = _t_interval(pt[n_ph, a] - pt[n_ph, hb], level)
        reached = pt[n_ph, hb][np.isfinite(pt[n_ph, hb])]
        out[ph + "_heavy_ball"] = float(reached.mean()) if reached.size else math.nan
    if burn_in is not None:
        ends = pt.sum(axis=0)  # (arm, run): T1 + T2 + T3, NaN if not reached
        with np.errstate(invalid="ignore"):
            done = (ends[a] <= burn_in) & (ends[hb] <= burn_in)
        out["stationary_reached"] = float(np.mean(done))
    s, sh = cell["stationary_error"].values[a], cell["stationary_error"].values[hb]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x7E7, M, int(round(alpha * 1e9))]))
    idx = rng.integers(0, s.size, size=(N_BOOT, s.size))
    boots = s[idx].mean(1) / sh[idx].mean(1) - 1
    q = [0.5 - level / 2, 0.5 + level / 2]
    out["stationary_rel"] = (float(s.mean() / sh.mean() - 1), *np.quantile(boots, q, method="inverted_cdf"))
    out["stationary_error"], out["stationary_error_heavy_ball"] = float(s.mean()), float(sh.mean())
    return out


#: Why the paper's Phase III counts are often undefined here (results.phase_III_counts).
PHASE_III_NOTE = (
    "N-hat_3 (Prop. 6 at mu = 0) needs C_d, which Gaussian data do not have (NaN); the printed T3 is "
    "undefined (NaN) when epsilon is below its noise floor 2 eta phi / g with the printed phi (errata 2), "
    "and negative when delta^2 < epsilon (the target holds at the start); the derived T3 is inf when "
    "epsilon / 4 is below the stationary noise (Markov's 3/4). The printed forms obey N-hat_3 = "
    "N-tilde_3 / tau identically (errata 3), which is what the check tests with tau = M."
)


def _mean_path_check(key: str, st: dict) -> Check:
    """The mapping's mean path: max |t| of the warm-up-shifted paired difference, Bonferroni bound."""
    zb = st["mean_path_z_bonferroni"]
    name = f"mean_path[{key}]"
    equation = "Mitliagkas et al. 2016 Thm 3: E update = heavy ball's (mu_L, alpha/M)"
    if "mean_path_why" in st:
        return not_measured(
            name=name,
            equation=equation,
            predicted=0.0,
            tolerance="max |t| over (t, i) of the paired mean difference <= the Bonferroni t quantile",
            note=f"not measured: {st['mean_path_why']}",
        )
    return bound_check(
        name=name,
        equation=equation,
        predicted=0.0,
        observed=st["mean_path_max_z"],
        lower=0.0,
        upper=zb,
        tolerance=f"max |t| over (t, i) of the paired mean difference <= the Bonferroni t quantile {zb:.3g}",
        note=f"E h_pipeline(t) - E h_heavy_ball(t + (M-1) alpha), t >= {WARMUP_UPDATES}M alpha; "
        f"sup |diff| {st['mean_path_sup']:.3g} (unshifted {st['mean_path_sup_unshifted']:.3g})",
    )


def _cell_checks(key: str, st: dict, dt: float, pred_excess: float) -> list[Check]:
    """The mapping's checks for the pipeline arm of one cell, and the linearised stationary one."""
    out = [_mean_path_check(key, st)]
    for ph in ("T1", "T2", "T3"):
        est, lo, hi = st[ph]
        out.append(
            _interval_check(
                f"{ph}[{key}]",
                "mapping: phase times of Async-SGD = heavy ball's",
                -st["lag"] if ph == "T1" else 0.0,
                est,
                lo,
                hi,
                dt,
                f"prediction in the paired t interval of T_pipeline - T_heavy_ball widened by one "
                f"record spacing {dt:g}",
                ("prediction -(M-1) alpha: heavy ball's warm-up lag; " if ph == "T1" else "")
                + f"ODE units; heavy ball's mean {_num(st[ph + '_heavy_ball'], '.4g')}",
            )
        )
    if st.get("stationary_reached", 1.0) < STATIONARY_MIN_REACHED:
        why = (
            f"not measured: only {st['stationary_reached']:.0%} of the runs (pipeline and heavy ball) end "
            "Phase III before the burn-in, so the error after it is not the stationary error (raise "
            "--horizon and --burn-in)"
        )
        for name, eq in (
            ("stationary_error", "mapping (beyond the identity): equal stationary error"),
            ("stationary_excess_linearised", "linearised (5): worker-pipeline mean-square theory vs AR(2)"),
        ):
            out.append(not_measured(name=f"{name}[{key}]", equation=eq, predicted=pred_excess if "lin" in name
                                    else 0.0, tolerance="inside the paired bootstrap interval", note=why))
        return out
    est, lo, hi = st["stationary_rel"]
    out.append(
        _interval_check(
            f"stationary_error[{key}]",
            "mapping (beyond the identity): equal stationary error",
            0.0,
            est,
            lo,
            hi,
            0.0,
            "0 inside the paired bootstrap interval of error_pipeline / error_heavy_ball - 1",
            f"relative; heavy ball {st['stationary_error_heavy_ball']:.4g}, "
            f"pipeline {st['stationary_error']:.4g}",
        )
    )
    est, lo, hi = st["stationary_rel"]
    out.append(
        _interval_check(
            f"stationary_excess_linearised[{key}]",
            "linearised (5): worker-pipeline mean-square theory vs AR(2) (beyond the paper)",
            pred_excess,
            est,
            lo,
            hi,
            0.0,
            "prediction inside the paired bootstrap interval of error_pipeline / error_heavy_ball - 1",
            "theory.random_delays (exact for the linearised recursion under the pipeline's staleness)",
        )
    )
    return out


def analyse(spec, ds, info: dict | None = None) -> Verdict:
    """The assembled Dataset -> the verdict: the pipeline arm vs heavy ball, per (alpha, M) and overall.

    Parameters
    ----------
    spec : compare.remark7.Remark7Spec
    ds : xarray.Dataset
        :func:`compare.remark7.assemble`'s Dataset (or raw.nc read back).
    info : dict, optional
        The engine's run summary (unused).

    Returns
    -------
    compare.verdict.Verdict
        Checks, results (``by_cell``, ``phase_III_counts``, ``verdict`` lines, ``horizons``,
        ``diverged``), notes on divergences, and ``raw`` (the Dataset without ``mean_error``).
    """
    checks, res = [], {"arms": list(ARMS), "by_cell": {}, "phase_III_counts": {}, "verdict": []}
    by = {(a, M): ds.sel(alpha=a, M=M) for a in spec.alphas for M in spec.workers}
    dt = {a: float(ds["record_time"].sel(alpha=a, M=spec.workers[0]).values[1]) for a in spec.alphas}
    for (alpha, M), cell in by.items():
        key = f"alpha={alpha:g},M={M}"
        stats = {
            arm: compare_arm(cell, arm, alpha, M, spec.level, spec.seed, spec.burn_in) for arm in ASYNC_ARMS
        }
        preds = {arm: linearised_stationary_excess(spec.problem(), alpha, M, arm) for arm in LINEARISED_LAWS}
        res["by_cell"][key] = {
            "staleness_mean": dict(zip(ARMS, cell["staleness_mean"].values.tolist(), strict=True)),
            "epsilon": spec.epsilon_at(alpha),
            "linearised_stationary_excess": preds,
            **stats,
        }
        if M > 1:
            checks += _cell_checks(key, stats["pipeline"], dt[alpha], preds["pipeline"])
    checks += _phase3_counts(by, spec, res)
    res["verdict"] = _verdict_lines(res, checks, spec)
    res["horizons"] = {
        f"alpha={a:g}": {
            "saddle": float(ds["record_time"].sel(alpha=a, M=spec.workers[0]).max()),
            "mean_path": float(ds["record_mean_time"].sel(alpha=a, M=spec.workers[0]).max()),
        }
        for a in spec.alphas
    }
    params = {
        **spec.to_dict(),
        "epsilon": {f"alpha={a:g}": spec.epsilon_at(a) for a in spec.alphas},
        "arms": list(ARMS),
    }
    raw = ds.drop_vars([v for v in ("mean_error",) if v in ds])
    return Verdict(
        command="remark7",
        parameters=params,
        seed=spec.seed,
        checks=checks,
        results=res,
        raw=raw,
        notes=_divergence_notes(spec, ds, res),
    )


def _divergence_notes(spec, ds, res: dict) -> list[str]:
    """One note per (alpha, M, start, arm) in which runs diverged; counts in ``res["diverged"]``."""
    notes, res["diverged"] = [], {}
    for var, start in (("diverged_saddle", "saddle"), ("diverged_mean_path", "mean path")):
        if var not in ds:
            continue
        for a in spec.alphas:
            for M in spec.workers:
                counts = ds[var].sel(alpha=a, M=M).values.astype(bool).sum(axis=-1)
                key = f"alpha={a:g},M={M}"
                per_arm = dict(zip(ARMS, counts.astype(int).tolist(), strict=True))
                res["diverged"].setdefault(key, {})[start] = per_arm
                for arm, k in zip(ARMS, counts, strict=True):
                    text = divergence_note(int(k), spec.runs, "its phase times and stationary error")
                    if text:
                        notes.append(f"{key}, {arm}, {start} runs: {text}")
    return notes


def _counts(problem, alpha: float, **kw) -> dict:
    """``theory.phases.iteration_counts`` at mu = 0; every count NaN (with the reason) where it is undefined.

    The paper's scalings (delta = sqrt(alpha)) are undefined for alpha >= 1 (delta must lie in (0, 1)).
    """
    from theory.phases import iteration_counts

    try:
        return iteration_counts(problem, 0.0, alpha, **kw)
    except ValueError as exc:
        nan = {"paper": math.nan, "derived": math.nan, "undefined": str(exc)}
        return {k: dict(nan) for k in ("Nhat3", "Ntilde3")}


def _phase3_counts(by: dict, spec, res: dict) -> list[Check]:
    """Remark 7's N-hat_3 vs N-tilde_3 (printed and derived) and the measured wall-clock ratio."""
    from theory.phases import T3_derived, phi_effective

    problem, checks = spec.problem(), []
    l1, l2 = float(problem.lambda_[0]), float(problem.lambda_[1])
    for alpha in spec.alphas:
        Mmax = max(spec.workers)
        eps = spec.epsilon_at(alpha)
        # the paper's counts at the experiment's (delta, epsilon) and at its own scalings (delta =
        # sqrt(alpha), epsilon = theory.phases.default_epsilon); NaN / inf / negative say why
        counts = {
            "experiment": _counts(problem, alpha, delta=spec.delta, epsilon=eps),
            "paper_scalings": _counts(problem, alpha),
        }
        T3 = T3_derived(l1, l2, 0.0, alpha, spec.delta, eps, phi_effective(problem))
        pt = by[(alpha, Mmax)]["phase_time"].values[2]  # (arm, run)
        a_t3, h_t3 = pt[ARMS.index("pipeline")], pt[ARMS.index("heavy_ball")]
        ok = np.isfinite(a_t3) & np.isfinite(h_t3)
        a_t3, h_t3 = a_t3[ok], h_t3[ok]
        if a_t3.size >= 2:
            ratio = float(a_t3.mean() / (Mmax * h_t3.mean()))  # wall clock: M workers against one machine
            rng = np.random.default_rng(np.random.SeedSequence([spec.seed, 0x73, Mmax]))
            idx = rng.integers(0, a_t3.size, size=(N_BOOT, a_t3.size))
            boots = a_t3[idx].mean(1) / (Mmax * h_t3[idx].mean(1))
            lo, hi = np.quantile(boots, [0.5 - spec.level / 2, 0.5 + spec.level / 2], method="inverted_cdf")
        else:  # fewer than two runs reached the target in both arms: nothing to measure
            ratio = lo = hi = math.nan
        key = f"alpha={alpha:g}"
        res["phase_III_counts"][key] = {
            "printed": {w: {k: c[k]["paper"] for k in ("Nhat3", "Ntilde3")} for w, c in counts.items()},
            "derived": {w: {k: c[k]["derived"] for k in ("Nhat3", "Ntilde3")} for w, c in counts.items()},
            "why_undefined": PHASE_III_NOTE,
            "derived_at_tau_M": {"Nhat3": T3 / (Mmax * alpha), "Ntilde3": T3 / alpha, "M": Mmax},
            "measured": {
                "Nhat3_wall": float(a_t3.mean() / (Mmax * alpha)) if a_t3.size else math.nan,
                "Ntilde3": float(h_t3.mean() / alpha) if a_t3.size else math.nan,
                "ratio": ratio,
                "ci": [float(lo), float(hi)],
                "T3_per_update_ratio": float(a_t3.mean() / h_t3.mean()) if a_t3.size else math.nan,
                "runs_reaching_T3": int(a_t3.size),
            },
            "epsilon": eps,
            "delta": spec.delta,
        }
        checks.append(
            _interval_check(
                f"Nhat3_over_Ntilde3[{key},M={Mmax}]",
                "Remark 7: N-hat_3 = N-tilde_3 / tau (printed forms), tau = M",
                1.0 / Mmax,
                ratio,
                float(lo),
                float(hi),
                0.0,
                "1/M inside the bootstrap interval of (T3_pipeline / M) / T3_heavy_ball "
                "(wall clock: M workers vs one)",
                "measured Phase III durations; the paper's counts, printed and derived, are in "
                "results.phase_III_counts",
            )
        )
    return checks


def _num(x, fmt: str) -> str:
    """``x`` formatted with ``fmt``, or "n/a" when it is not a finite number (never "nan" or "inf")."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "n/a"
    return format(x, fmt) if math.isfinite(x) else "n/a"


def _verdict_lines(res: dict, checks: list[Check], spec) -> list[str]:
    """One sentence per quantity: which view the checks support, with the numbers at the largest M."""
    held = {c.name: c.holds for c in checks}
    Ms = [M for M in spec.workers if M > 1]
    if not Ms:
        return []

    def tally(q):
        names = [f"{q}[alpha={a:g},M={M}]" for a in spec.alphas for M in Ms]
        measured = [held.get(n) for n in names if held.get(n) is not None]
        return sum(bool(h) for h in measured), len(measured), len(names)

    lines = []
    for q, what in (
        ("mean_path", "mean path (covered by the identity)"),
        ("T1", "T1 escape"),
        ("T2", "T2 traverse"),
        ("T3", "T3 convergence"),
        ("stationary_error", "stationary error"),
    ):
        k, n, n_all = tally(q)
        nums = []
        for a in spec.alphas:
            p = res["by_cell"][f"alpha={a:g},M={Ms[-1]}"]
            if q == "mean_path":
                nums.append(f"alpha={a:g}: sup|diff| {_num(p['pipeline']['mean_path_sup'], '.3g')}")
            elif q == "stationary_error":
                nums.append(
                    f"alpha={a:g}: pipeline {_num(p['pipeline']['stationary_rel'][0], '+.1%')}, "
                    "iid geometric "
                    f"{_num(p['iid_geometric']['stationary_rel'][0], '+.1%')}, round robin "
                    f"{_num(p['round_robin']['stationary_rel'][0], '+.1%')}, uniform times "
                    f"{_num(p['uniform_times']['stationary_rel'][0], '+.1%')}, linearised "
                    f"{_num(p['linearised_stationary_excess']['pipeline'], '+.1%')}"
                )
            else:
                nums.append(
                    f"alpha={a:g}: pipeline - heavy ball {_num(p['pipeline'][q][0], '+.3f')}, round robin "
                    f"{_num(p['round_robin'][q][0], '+.3f')}, uniform times "
                    f"{_num(p['uniform_times'][q][0], '+.3f')} "
                    f"(heavy ball {_num(p['pipeline'][q + '_heavy_ball'], '.3f')})"
                )
        if n == 0:
            view = "not measured"
        elif k == n:
            view = "supports the mapping (Mitliagkas et al.)"
        else:
            view = "against the mapping" if k == 0 else f"mapping holds in {k}/{n} cells"
        if 0 < n < n_all:
            view += f" ({n_all - n} of {n_all} cells not measured)"
        lines.append(f"{what}: {view}; at M={Ms[-1]} " + "; ".join(nums))
    for a in spec.alphas:
        c = res["phase_III_counts"][f"alpha={a:g}"]["measured"]
        lines.append(
            f"Phase III (Remark 7), alpha={a:g}: per update T3 pipeline / heavy ball = "
            f"{_num(c['T3_per_update_ratio'], '.3f')} (the mapping); wall clock (T3/M) / T3 = "
            f"{_num(c['ratio'], '.4f')} [{_num(c['ci'][0], '.4f')}, {_num(c['ci'][1], '.4f')}] vs 1/M = "
            f"{1 / Ms[-1]:.4f} (the paper's N-hat_3 = N-tilde_3/tau): the speed-up is parallelism, not a "
            "difference in the dynamics"
        )
    return lines


def _mean_path_figure(plots, spec, ds, out_dir: Path, fmt: str) -> str:
    """Mean paths of three arms and the pipeline's warm-up-shifted difference at the largest M."""
    Mmax = max(spec.workers)
    fig, axes = plots.new_figure(2, len(spec.alphas))
    for c, alpha in enumerate(spec.alphas):
        cell = ds.sel(alpha=alpha, M=Mmax)
        ax, axd = axes[0, c], axes[1, c]
        tm = cell["record_mean_time"].values
        for i in range(cell.sizes["coord"]):
            col = plots.COLORS[i % len(plots.COLORS)]
            for arm, ls in (("pipeline", "-"), ("heavy_ball", "--"), ("round_robin", ":")):
                path = cell["mean_path"].values[ARMS.index(arm), :, i]
                ax.plot(tm, path, ls, color=col, lw=1, label=f"E h{i + 1}: {arm}")
            dm, se = cell["diff_mean"].values[0, :, i], cell["diff_se"].values[0, :, i]
            axd.plot(tm, dm, color=col, lw=1, label=f"h{i + 1}: pipeline - shifted heavy ball")
            plots.band(axd, tm, dm - 2 * se, dm + 2 * se, col)
        axd.axhline(0.0, color="k", lw=0.6, label="mapping: 0 (bands: +-2 SE)")
        ax.set_title(f"alpha = {alpha:g}, M = {Mmax}", fontsize=plots.STYLE["fontsize"])
        for a in (ax, axd):
            a.set_xlabel("ODE time t = k alpha")
            a.legend(fontsize=5, ncol=2)
        ax.set_ylabel("mean eigen-coordinate E h_i(t)")
        axd.set_ylabel("E h(t) - E h_HB(t + (M-1) alpha)")
    return plots.save(fig, out_dir, "remark7_mean_path", fmt)


#: The panels of the quantities figure: results key, y label.
_PANELS = (
    ("T1", "T1 - T1(heavy ball), ODE time"),
    ("T2", "T2 - T2(heavy ball), ODE time"),
    ("T3", "T3 - T3(heavy ball), ODE time"),
    ("stationary_rel", "stationary error / heavy ball's - 1"),
)


def _quantity_panel(plots, ax, spec, results: dict, qty: str, Ms: list) -> bool:
    """One quantity against M: every async arm and alpha with its interval, and the predicted lines.

    Returns False (nothing drawn) when no estimate of the quantity is finite.
    """
    rows = [results["by_cell"][f"alpha={a:g},M={M}"][arm][qty][0] for arm in ASYNC_ARMS for a in spec.alphas
            for M in Ms]
    if not np.any(np.isfinite(np.asarray(rows, dtype=float))):
        return False
    for i_a, arm in enumerate(ASYNC_ARMS):
        for i_al, alpha in enumerate(spec.alphas):
            rows = [results["by_cell"][f"alpha={alpha:g},M={M}"][arm][qty] for M in Ms]
            est, lo, hi = (np.array([r[k] for r in rows]) for k in range(3))
            x = np.array(Ms) * (1 + 0.04 * (i_a - 1.5))
            ax.errorbar(
                x,
                est,
                yerr=plots.ci_yerr(est, lo, hi),
                fmt="os^v"[i_a],
                ls="-" if i_al else "--",
                color=plots.COLORS[i_a],
                ms=3,
                lw=0.8,
                label=f"{arm}, alpha={alpha:g}",
            )
    for alpha in spec.alphas:
        cells = [results["by_cell"][f"alpha={alpha:g},M={M}"] for M in Ms]
        if qty == "T1":
            lag = [-warmup_lag(M) * alpha for M in Ms]
            ax.plot(Ms, lag, "k:", lw=0.8, marker="_", ms=14, label=f"-(M-1) alpha, alpha={alpha:g}")
        if qty == "stationary_rel":
            lin = [c["linearised_stationary_excess"]["pipeline"] for c in cells]
            label = f"linearised, pipeline law, alpha={alpha:g}"
            ax.plot(Ms, lin, "k:", lw=0.8, marker="_", ms=14, label=label)
    ax.axhline(0.0, color="k", lw=0.6, label="mapping: 0")
    return True


def figures(spec, ds, verdict: Verdict, out_dir: Path, fmt: str = "png") -> list[str]:
    """Mean paths and their warm-up-shifted differences at the largest M; the quantities against M.

    Parameters
    ----------
    spec : compare.remark7.Remark7Spec
        The run's spec.
    ds : xarray.Dataset
        The assembled Dataset.
    verdict : compare.verdict.Verdict
        The analysis (its ``results`` are drawn).
    out_dir : path
        Where the files go.
    fmt : str
        png, pdf or svg.

    Returns
    -------
    list of str
        File names relative to ``out_dir``.
    """
    from compare import plots  # matplotlib only where figures are drawn

    names = [_mean_path_figure(plots, spec, ds, out_dir, fmt)]
    fig, axes = plots.new_figure(2, 2)
    Ms = [M for M in spec.workers if M > 1]
    for n_q, (qty, label) in enumerate(_PANELS):
        ax = axes.ravel()[n_q]
        if not _quantity_panel(plots, ax, spec, verdict.results, qty, Ms):
            ax.text(0.5, 0.5, f"{qty}: not measured (no run reached it)", ha="center", va="center",
                    transform=ax.transAxes, fontsize=8)
            ax.set_axis_off()
            continue
        ax.set_xscale("log", base=2)
        ax.set_xticks(Ms, [str(M) for M in Ms])  # every grid M labelled, also a one-point grid
        ax.set_xlabel("workers M")
        ax.set_ylabel(label)
        ax.legend(fontsize=5)
    names.append(plots.save(fig, out_dir, "remark7_quantities", fmt))
    return names
