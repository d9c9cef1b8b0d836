r"""Analysis and figure of ``python -m compare critical``: ladders of cells -> fits -> Verdict -> figure.

:func:`analyse` takes the Dataset of :func:`compare.critical.assemble` (one ``point`` per
ladder cell, each with its own delay grid ``tau`` (point, tau_index), padded) and returns the
verdict: per cell the simulated critical delay (the Figure 1 optimal delay of
:func:`compare.optimal_delay.optimal_delay`, bootstrap interval over runs) beside the exact
stability threshold, power laws fitted along the eta and 1 - mu ladders
(:func:`compare.stats.fit_power_law`, weighted by the standard errors: the bootstrap
interval, floored by the grid quantisation spacing/sqrt(12)), and exponent checks against
Theorem 3, Lemma 4 and the exact threshold. Every check carries its acceptance region.
"""

from __future__ import annotations

import math

import numpy as np

from compare import optimal_delay as od_
from compare import stats
from compare.checks import not_measured
from compare.tradeoff_analysis import MAX_DIVERGED_AT_ZERO, run_divergence_note
from compare.verdict import Check, Verdict

__all__ = [
    "PREDICTED_EXPONENTS",
    "STABILITY_EXPONENTS",
    "analyse",
    "figures",
    "exponent_check",
    "ladders",
    "grid_se",
]

#: Exponents predicted for (eta, 1 - mu): intervals [lo, hi] (gamma ranges of the paper).
PREDICTED_EXPONENTS = {
    "theorem3": {"eta": (-1.0, 0.0), "one_minus_mu": (2.0, 2.0), "equation": "Theorem 3, gamma in (0, 1]"},
    "lemma4": {"eta": (-0.5, 0.0), "one_minus_mu": (2.0, 2.0), "equation": "Lemma 4, gamma in (0, 1/2]"},
}
#: Leading-order exponents of the exact stability threshold pi (1 - mu) / (2 eta c)
#: (theory.stability.asymptotic_threshold).
STABILITY_EXPONENTS = {"eta": -1.0, "one_minus_mu": 1.0}


def grid_se(taus: np.ndarray, od: od_.OptimalDelay) -> float:
    """Standard error of a simulated critical delay: bootstrap half-width / 1.96, floored by
    the quantisation error of the grid (local spacing / sqrt(12), a uniform rounding error).

    Parameters
    ----------
    taus : ndarray of int
        The point's delay grid.
    od : OptimalDelay
        Its simulated critical delay.

    Returns
    -------
    float
    """
    j = int(np.searchsorted(taus, od.estimate))
    left = taus[j] - taus[j - 1] if j > 0 else np.inf
    right = taus[j + 1] - taus[j] if j + 1 < taus.size else np.inf
    spacing = min(left, right)
    if not np.isfinite(spacing):
        spacing = 1.0
    return max((od.hi - od.lo) / (2 * 1.96), spacing / math.sqrt(12.0))


def _fit(x, y, y_se=None) -> stats.PowerLawFit | None:
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = (x > 0) & (y > 0) & np.isfinite(y)
    if ok.sum() < 2:
        return None
    return stats.fit_power_law(x[ok], y[ok], None if y_se is None else np.asarray(y_se, float)[ok])


def _fit_dict(f: stats.PowerLawFit | None) -> dict | None:
    if f is None:
        return None
    lo, hi = f.interval() if np.isfinite(f.exponent_se) else (math.nan, math.nan)
    return {
        "exponent": f.exponent,
        "exponent_se": f.exponent_se,
        "exponent_ci": [lo, hi],
        "prefactor": f.prefactor,
        "r2": f.r2,
        "n": f.n,
    }


def exponent_check(
    name: str,
    equation: str,
    predicted: tuple[float, float],
    fit: stats.PowerLawFit | None,
    note: str = "",
    allowance: float = 0.0,
) -> Check:
    """Does the fitted exponent's 95% interval meet the predicted range [lo, hi] (+- allowance)?

    ``predicted`` is a closed interval (a point when lo == hi). The paper's exponents are
    asymptotic (eta -> 0); on a finite ladder even the exact stability threshold departs from
    its own asymptotic exponent, by ``allowance`` (measured on the same ladder), so the range
    is widened by it. The check holds when the fit's 95% confidence interval [lo, hi] meets
    the range; as a region of the fitted exponent e: [lo_p - allowance - (hi - e), hi_p +
    allowance + (e - lo)] (the interval's half-widths are the statistical tolerance). Without
    an interval (fewer than 3 points) nothing is decided from one number: the check is not
    measured (observed and holds None, :func:`compare.checks.not_measured`).

    Parameters
    ----------
    name, equation : str
        The check's name and the law it tests.
    predicted : (float, float)
        The predicted exponent range.
    fit : PowerLawFit or None
        The fitted power law (None: too few points).
    note : str
        Appended to the check's note.
    allowance : float
        Widening of the range (>= 0).

    Returns
    -------
    Check
    """
    lo_p, hi_p = predicted
    pred = list(predicted) if lo_p != hi_p else lo_p
    rule = (
        "95% CI of the fitted exponent (t, n - 2 dof; normal when weighted by known errors) "
        "meets the predicted range"
    )
    if allowance > 0:
        rule += (
            f" widened by {allowance:.3g} (finite-ladder departure of the exact threshold from its asymptote)"
        )
    if fit is None or not np.isfinite(fit.exponent_se):
        est = "no fit" if fit is None else f"fitted exponent {fit.exponent:.4g} from {fit.n} points"
        return not_measured(
            name=name,
            equation=equation,
            predicted=pred,
            tolerance=rule,
            note=f"not measured: not enough points for an interval ({est}). " + note,
        )
    lo, hi = fit.interval()
    est = float(fit.exponent)
    acceptance = (lo_p - allowance - (hi - est), hi_p + allowance + (est - lo))
    return Check(
        name=name,
        equation=equation,
        predicted=pred,
        observed=est,
        interval=(lo, hi),
        tolerance=rule,
        holds=acceptance[0] <= est <= acceptance[1],
        acceptance=acceptance,
        note=f"se {fit.exponent_se:.3g}; " + note,
    )


def _vs_theory_check(
    name: str, sim: stats.PowerLawFit | None, th: stats.PowerLawFit | None, what: str
) -> Check:
    """Simulated exponent vs the exact-stability exponent fitted on the same ladder.

    Acceptance region of the simulated exponent: theory +- 2 combined standard errors.
    Without a standard error nothing is decided (not measured: observed and holds None)."""
    if sim is None or th is None or not np.isfinite(sim.exponent_se):
        return not_measured(
            name=name,
            equation="theory.stability (beyond the paper)",
            predicted=None if th is None else th.exponent,
            tolerance="2 combined standard errors",
            note="not measured: not enough points"
            + ("" if sim is None else f" (fitted exponent {sim.exponent:.4g} from {sim.n} points)"),
        )
    th_se = th.exponent_se if np.isfinite(th.exponent_se) else 0.0
    se = math.hypot(sim.exponent_se, th_se)
    diff = sim.exponent - th.exponent
    # 2 combined standard errors: the simulated exponent's error and the curvature of the
    # exact threshold about its own power-law fit (its residual-based se) on the same ladder.
    return Check(
        name=name,
        equation="theory.stability: exact threshold on the same ladder (beyond the paper)",
        predicted=th.exponent,
        observed=sim.exponent,
        interval=(diff - 2 * se, diff + 2 * se),
        tolerance="|simulated - theory| <= 2 combined standard errors",
        holds=th.exponent - 2 * se <= sim.exponent <= th.exponent + 2 * se,
        acceptance=(th.exponent - 2 * se, th.exponent + 2 * se),
        note=f"interval is of the discrepancy simulated - theory; {what}",
    )


# ---------------------------------------------------------------------------------------


def _paper_points() -> tuple[np.ndarray, np.ndarray]:
    mus = np.array(sorted(od_.PAPER_OPTIMAL_DELAY))
    return 1.0 - mus, np.array([od_.PAPER_OPTIMAL_DELAY[m] for m in mus], dtype=float)


def _conclusion(checks: list[Check]) -> str:
    """Plain sentences: which scaling prediction the fitted exponents support."""
    by = {c.name: c.holds for c in checks}
    parts = []
    for law, label in (
        ("theorem3", "Theorem 3 (1-mu)^2 eta^-(1-gamma)"),
        ("lemma4", "Lemma 4 (1-mu)^2 eta^-(1/2-gamma)"),
        ("stability", "exact linear stability ~ pi (1-mu) / (4 lambda_1 eta)"),
    ):
        e_ok = by.get(f"exponent_eta[{law}]")
        m_ok = by.get(f"exponent_one_minus_mu[{law}]")
        if e_ok is False or m_ok is False:  # one inconsistent exponent is enough
            verdict = "NOT supported"
        elif e_ok is None or m_ok is None:
            verdict = "NOT measured" if e_ok is None and m_ok is None else "only partly measured"
        else:
            verdict = "SUPPORTED"

        def word(ok):
            return "not measured" if ok is None else ("consistent" if ok else "inconsistent")

        detail = f"eta exponent {word(e_ok)}, (1-mu) exponent {word(m_ok)}"
        parts.append(f"{label}: {verdict} ({detail})")
    return (
        "As a scaling law of the simulated critical delay: " + "; ".join(parts) + ". The paper's conditions "
        "are sufficient conditions up to unknown constants: where the measured delay grows faster as "
        "eta -> 0 and falls more slowly as mu -> 1 than they say, they are conservative, not violated."
    )


def _table(ladder_eta, ladder_mu, fits) -> str:
    lines = ["eta ladder (mu fixed)                      mu ladder (eta fixed)"]
    rows_e = [
        f"eta={c['eta']:<8g} sim={_sim_str(c):<16} stab={c['stability']['max_stable_delay']}"
        for c in ladder_eta
    ]
    rows_m = [
        f"mu={c['mu']:<6g} sim={_sim_str(c):<16} stab={c['stability']['max_stable_delay']}" for c in ladder_mu
    ]
    for k in range(max(len(rows_e), len(rows_m))):
        a = rows_e[k] if k < len(rows_e) else ""
        b = rows_m[k] if k < len(rows_m) else ""
        lines.append(f"{a:<43}{b}")
    for axis in ("eta", "one_minus_mu"):
        for who, f in fits[axis].items():
            if f is not None:
                lines.append(f"fit tau* ~ {axis}^p  {who:<14} p = {_slope_text(f)}")
    return "\n".join(lines)


def _sim_str(c) -> str:
    s = c["simulated"]
    if not s.get("measured", True):
        return "n/m (diverged)"
    return f"{s['estimate']:g}{'+' if s['censored'] else ''} [{s['lo']:g},{s['hi']:g}]"


def _slope_text(f: dict, with_se: bool = True) -> str:
    """``"-1.02 +- 0.05"``; without a finite standard error (2 points) ``"-1.02 (no interval)"``."""
    if with_se and math.isfinite(f["exponent_se"]):
        return f"{f['exponent']:+.3f} +- {f['exponent_se']:.3f}"
    return f"{f['exponent']:+.3f}" + (" (no interval)" if with_se else "")


def figures(spec, ds, verdict: Verdict, out_dir, fmt: str) -> list[str]:
    """Two log-log panels: critical delay vs eta and vs 1 - mu, with fitted slopes.

    Parameters
    ----------
    spec : CriticalSpec
    ds : xarray.Dataset
        Unused (the numbers are in ``verdict.results``).
    verdict : Verdict
        Of :func:`analyse`.
    out_dir : path
    fmt : str

    Returns
    -------
    list of str
        ``["critical.<fmt>"]``.
    """
    from matplotlib.ticker import NullFormatter

    from compare import plots

    res = verdict.results
    ladder_eta, ladder_mu, fits = res["eta_ladder"], res["mu_ladder"], res["fits"]
    fig, axes = plots.new_figure(1, 2)
    fig.set_size_inches(10.0, 6.2)
    panels = (
        (
            axes[0, 0],
            ladder_eta,
            "eta",
            np.array([c["eta"] for c in ladder_eta]),
            f"step size eta (mu = {spec.mu:g})",
        ),
        (
            axes[0, 1],
            ladder_mu,
            "one_minus_mu",
            1.0 - np.array([c["mu"] for c in ladder_mu]),
            f"1 - mu (eta = {spec.eta:g})",
        ),
    )
    for ax, ladder, axis, x, xlabel in panels:
        sim = np.array([c["simulated"]["estimate"] for c in ladder], dtype=float)
        lo = np.array([c["simulated"]["lo"] for c in ladder], dtype=float)
        hi = np.array([c["simulated"]["hi"] for c in ladder], dtype=float)
        stab = np.array([c["stability"]["critical_delay"] for c in ladder], dtype=float)
        stab[stab <= 0] = np.nan  # no stable delay: nothing to draw on a log axis
        asym = np.array([c["stability"]["asymptotic"] for c in ladder])
        fs, ft = fits[axis]["simulated"], fits[axis]["stability"]
        lab_s = "simulated critical delay (rho rule, 95% CI)" + (f": slope {_slope_text(fs)}" if fs else "")
        ax.errorbar(
            x,
            np.maximum(sim, 0.5),
            yerr=plots.ci_yerr(sim, lo, hi),
            fmt="o",
            color=plots.COLORS[0],
            ms=4,
            capsize=2,
            label=lab_s,
        )
        lab_t = "exact stability threshold tau_c" + (f": slope {_slope_text(ft, False)}" if ft else "")
        ax.plot(x, stab, "-", color=plots.COLORS[1], label=lab_t)
        ax.plot(x, asym, ":", color=plots.COLORS[1], label="asymptotic pi(1-mu)/(4 lambda_1 eta)")
        # reference slopes of the paper's laws (constants unknown: drawn through the middle point)
        good = np.isfinite(stab)
        xm = float(np.exp(np.mean(np.log(x))))
        ym = float(np.exp(np.mean(np.log(stab[good])))) if good.any() else math.nan
        refs = (
            ((-1.0, "Theorem 3 (gamma->0): slope -1"), (-0.5, "Lemma 4 (gamma->0): slope -1/2"))
            if axis == "eta"
            else ((2.0, "Theorem 3 / Lemma 4: slope 2"),)
        )
        refs = tuple((p, f"{lab}\n  (drawn through the middle point: constants unknown)") for p, lab in refs)
        for k, (p, lab) in enumerate(refs if math.isfinite(ym) else ()):  # no stable point: nothing to draw
            ax.plot(x, ym * (x / xm) ** p, "--", color=plots.COLORS[2 + k], lw=1, label=lab)
        if axis == "one_minus_mu":
            px, py = _paper_points()
            fp = fits[axis].get("paper_figure1")
            ax.plot(
                px,
                py,
                "x",
                color="k",
                ms=7,
                label="paper Figure 1" + (f": slope {_slope_text(fp, False)}" if fp else ""),
            )
        plots.log_log(ax)
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels of a log axis overlap
        ax.set_xticks(x, [f"{v:g}" for v in x], rotation=35 if axis == "eta" else 0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("critical delay (iterations)")
        ax.legend(fontsize=plots.STYLE["fontsize"] - 2, loc="upper center", bbox_to_anchor=(0.5, -0.16))
    return [plots.save(fig, out_dir, "critical", fmt)]


def ladders(spec, ds, info: dict | None = None) -> tuple[list[dict], list[dict]]:
    """:func:`ladder_entries` split into the eta ladder and the mu ladder.

    Parameters
    ----------
    spec : CriticalSpec
    ds : xarray.Dataset
        Of :func:`compare.critical.assemble`.
    info : dict, optional
        ``{"summary": RunSummary}``.

    Returns
    -------
    eta_ladder, mu_ladder : list of dict
    """
    out = ladder_entries(spec, ds, info)
    ladder = ds["ladder"].values
    return [c for c, lad in zip(out, ladder, strict=True) if lad == "eta"], [
        c for c, lad in zip(out, ladder, strict=True) if lad == "mu"
    ]


def ladder_entries(spec, ds, info: dict | None = None) -> list[dict]:
    """Per point: eta, mu, taus, mean_error, simulated (estimate, lo, hi, se, censored),
    stability (max_stable_delay, critical_delay, asymptotic, binding_mode), n_steps, seconds
    (the cell's compute time, from the run summary; NaN if unknown)."""
    from compare._common import stability

    problem = spec.problem()
    times = getattr((info or {}).get("summary"), "times", {}) or {}
    out = []
    for p in range(ds.sizes["point"]):
        n = int(ds["n_tau"].values[p])
        taus = ds["tau"].values[p, :n].astype(int)
        diverged = ds["diverged"].values[p, :n].astype(bool)
        errors = od_.horizon_error(ds["h_final"].values[p, :n], diverged, spec.error)
        od = od_.bootstrap_optimal_delay(taus, errors.T, spec.rho, seed=spec.seed)
        eta, mu = float(ds["eta"].values[p]), float(ds["mu"].values[p])
        st = stability(problem, mu, eta)
        n_div0 = int(diverged[0].sum())
        measured = n_div0 <= MAX_DIVERGED_AT_ZERO * diverged.shape[-1]
        nan = math.nan
        out.append(
            {
                "eta": eta,
                "mu": mu,
                "taus": taus.tolist(),
                "mean_error": errors.mean(axis=-1).tolist(),
                "simulated": {
                    "measured": bool(measured),
                    "estimate": od.estimate if measured else nan,
                    "lo": od.lo if measured else nan,
                    "hi": od.hi if measured else nan,
                    "se": grid_se(taus, od) if measured else nan,
                    "censored": bool(od.censored) if measured else False,
                },
                "diverged_runs": int(diverged.sum()),
                "diverged_at_zero": n_div0,
                "stability": {
                    "max_stable_delay": int(st.max_stable_delay),
                    "critical_delay": float(st.critical_delay),
                    "asymptotic": float(st.asymptotic),
                    "binding_mode": st.binding_mode,
                },
                "n_steps": int(ds["n_steps"].values[p]),
                "seconds": float(times.get(str(ds["cell"].values[p]), float("nan"))),
            }
        )
    return out


def _arrays(ladder):
    sim = np.array([c["simulated"]["estimate"] for c in ladder], dtype=float)  # NaN: not measured
    se = np.array([c["simulated"]["se"] for c in ladder], dtype=float)
    th = np.array([c["stability"]["critical_delay"] for c in ladder], dtype=float)
    cens = np.array([c["simulated"]["censored"] for c in ladder], dtype=bool)
    return np.where(cens, np.nan, sim), se, th  # a censored delay is only a lower bound: left out of fits


def _fits(spec, ladder_eta, ladder_mu) -> dict:
    sim_e, se_e, th_e = _arrays(ladder_eta)
    sim_m, se_m, th_m = _arrays(ladder_mu)
    etas = np.array([c["eta"] for c in ladder_eta])
    omm = 1.0 - np.array([c["mu"] for c in ladder_mu])
    fits = {
        "eta": {"simulated": _fit(etas, sim_e, se_e), "stability": _fit(etas, th_e)},
        "one_minus_mu": {"simulated": _fit(omm, sim_m, se_m), "stability": _fit(omm, th_m)},
    }
    px, py = _paper_points()
    fits["one_minus_mu"]["paper_figure1"] = _fit(px, py)
    return fits


def _checks(spec, fits) -> list[Check]:
    # finite-ladder departure of the exact threshold from its asymptotic exponents (-1, 1)
    allow = {
        axis: abs(fits[axis]["stability"].exponent - STABILITY_EXPONENTS[axis])
        if fits[axis]["stability"] is not None
        else 0.0
        for axis in ("eta", "one_minus_mu")
    }
    checks: list[Check] = []
    for law, pred in PREDICTED_EXPONENTS.items():
        checks.append(
            exponent_check(
                f"exponent_eta[{law}]",
                pred["equation"],
                pred["eta"],
                fits["eta"]["simulated"],
                note=f"simulated critical delay vs eta at mu = {spec.mu:g}",
                allowance=allow["eta"],
            )
        )
        checks.append(
            exponent_check(
                f"exponent_one_minus_mu[{law}]",
                pred["equation"],
                pred["one_minus_mu"],
                fits["one_minus_mu"]["simulated"],
                note=f"simulated critical delay vs 1 - mu at eta = {spec.eta:g}",
                allowance=allow["one_minus_mu"],
            )
        )
    for axis, what in (("eta", "asymptotic exponent -1"), ("one_minus_mu", "asymptotic exponent 1")):
        checks.append(
            _vs_theory_check(
                f"exponent_{axis}[stability]", fits[axis]["simulated"], fits[axis]["stability"], what
            )
        )
    checks.append(
        exponent_check(
            "exponent_one_minus_mu[paper Figure 1 data vs (1-mu)^2]",
            "Section 4.1 numbers vs Theorem 3 / Lemma 4",
            (2.0, 2.0),
            fits["one_minus_mu"]["paper_figure1"],
            note="the paper's own optimal delays 120, 80, 60, 30, 10 at mu = 0.7 .. 0.95 (unweighted fit)",
        )
    )
    return checks


def analyse(spec, ds, info: dict | None = None) -> Verdict:
    """Fit the power laws of both ladders and say which prediction the data support.

    Parameters
    ----------
    spec : CriticalSpec
    ds : xarray.Dataset
        Of :func:`compare.critical.assemble` (or its raw.nc).
    info : dict, optional
        ``{"summary": RunSummary}`` (cell seconds).

    Returns
    -------
    Verdict
    """
    ladder_eta, ladder_mu = ladders(spec, ds, info)
    fits = _fits(spec, ladder_eta, ladder_mu)
    checks = _checks(spec, fits)
    results = {
        "eta_ladder": ladder_eta,
        "mu_ladder": ladder_mu,
        "fits": {k: {kk: _fit_dict(vv) for kk, vv in v.items()} for k, v in fits.items()},
        "predicted_exponents": {
            **{
                k: {"eta": list(v["eta"]), "one_minus_mu": list(v["one_minus_mu"])}
                for k, v in PREDICTED_EXPONENTS.items()
            },
            "stability_asymptotic": {"eta": [-1.0, -1.0], "one_minus_mu": [1.0, 1.0]},
        },
        "conclusion": _conclusion(checks),
    }
    results["table"] = _table(ladder_eta, ladder_mu, results["fits"])
    problem = spec.problem()
    return Verdict(
        command="critical",
        parameters={**spec.to_dict(), "v0": od_.saddle_start(problem).tolist()},
        seed=spec.seed,
        checks=checks,
        results=results,
        notes=_notes(ladder_eta + ladder_mu, spec.runs, spec.horizon),
    )


def _notes(entries: list[dict], runs: int, horizon: float | None = None) -> list[str]:
    """Run-level notes: how many runs diverged, points without a stable delay or without a
    measured critical delay (left out of the fits)."""
    total = sum(len(c["taus"]) * runs for c in entries)
    notes = [run_divergence_note(sum(c["diverged_runs"] for c in entries), total)]
    for c in entries:
        where = f"eta={c['eta']:g}, mu={c['mu']:g}"
        if c["n_steps"] == 1 and horizon is not None and horizon / c["eta"] < 0.5:
            notes.append(f"{where}: --horizon {horizon:g} is under half a step: one iteration (clamped)")
        if c["stability"]["max_stable_delay"] < 0:
            notes.append(f"{where}: no constant delay is linearly stable (tau = 0 is past the threshold)")
        if not c["simulated"]["measured"]:
            notes.append(
                f"{where}: {c['diverged_at_zero']} of {runs} runs diverged at tau = 0; no critical delay "
                "(left out of the fits)"
            )
    return list(dict.fromkeys(n for n in notes if n))  # a point on both ladders is noted once
