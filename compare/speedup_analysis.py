r"""Analysis and figure of ``python -m compare speedup`` (:mod:`compare.speedup`).

The assembled Dataset (dims mu, compute_time, workers, run) -> medians of the time to epsilon
with bootstrap intervals, the speed-up exponent, the error floor, and the checks
``time_to_epsilon_at_M1[mu]``, ``speedup_exponent[mu,law]``, ``floor_past_breakdown[mu,law]``
(rules in docs/compare.md); the figure: wall time vs M per law, error floor vs M.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from compare.checks import bound_check, divergence_note, interval_check, not_measured
from compare.speedup_theory import breakdown_M, linearised_inflation
from compare.verdict import Check, Verdict

__all__ = ["N_BOOT", "analyse", "figures"]

#: Bootstrap resamples of the medians and the exponent (percentile intervals).
N_BOOT = 1000


def _medians(fp: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
    """Median first passage per M (censored runs count as +inf), optionally on resampled runs."""
    x = np.where(fp >= 0, fp.astype(float), np.inf)
    if idx is not None:
        x = x[:, idx]  # (M, B, runs)
    return np.median(x, axis=-1)


def _exponent(workers: np.ndarray, wall: np.ndarray) -> np.ndarray:
    """b of wall ~ M^-b by least squares on log-log, along the last axis (NaN if any is infinite)."""
    lx = np.log(workers)
    with np.errstate(divide="ignore", invalid="ignore"):
        ly = np.log(wall)
    xc = lx - lx.mean()
    with np.errstate(invalid="ignore"):  # inf - inf: such rows are NaN below
        b = -np.sum(xc * (ly - ly.mean(axis=-1, keepdims=True)), axis=-1) / np.sum(xc**2)
    return np.where(np.all(np.isfinite(ly), axis=-1), b, np.nan)


def _fit_exponent(Ms: np.ndarray, wall: np.ndarray, wall_b: np.ndarray, lin: np.ndarray, q) -> dict:
    """The exponent b over the fitted M (point, bootstrap CI) and the one the linearised rates imply.

    Ms, wall, lin : shape (n_fit,); wall_b : shape (n_fit, N_BOOT); q : the two CI quantiles.
    """
    b, b_boot = float(_exponent(Ms, wall)), _exponent(Ms, wall_b.T)
    ok = np.isfinite(b_boot)
    b_lo, b_hi = np.quantile(b_boot[ok], q, method="inverted_cdf") if ok.sum() > 1 else (np.nan,) * 2
    return {
        "b": b,
        "ci": [b_lo, b_hi],
        "linearised": float(_exponent(Ms, lin)),
        "M_fit": Ms.astype(int).tolist(),
        "bootstrap_defined": float(ok.mean()),
    }


def _analyse_cell(spec, cell, mu: float, law: str, th: dict, idx: np.ndarray, res: dict) -> list[Check]:
    """One (mu, law) of the Dataset: fill its entries of ``res`` and return its checks, in order.

    cell : ``ds.sel(mu=, compute_time=)``; th : :meth:`SpeedupSpec.prediction` at mu; idx : the
    bootstrap resamples of the runs, shape (N_BOOT, runs), shared by every cell (paired across M).
    """
    problem, Ms, lvl = spec.problem(), np.asarray(spec.workers, dtype=float), spec.level
    q, key = [0.5 - lvl / 2, 0.5 + lvl / 2], f"mu={mu:g},{law}"
    fp = cell["first_passage"].values
    wall, wall_b = _medians(fp) / Ms, _medians(fp, idx) / Ms[:, None]
    lo, hi = np.quantile(wall_b, q, axis=1, method="inverted_cdf")  # no interpolation: inf-safe
    brk = breakdown_M(problem, mu, spec.eta, law, spec.workers, spec.epsilon)
    infl = linearised_inflation(problem, mu, spec.eta, law, spec.workers)
    tail = cell["floor_run"].values
    floor_m, floor_se = tail.mean(axis=1), tail.std(axis=1, ddof=1) / math.sqrt(spec.runs)
    res["time_to_epsilon"][key] = {
        "M": list(spec.workers),
        "median_wall": wall.tolist(),
        "ci": np.stack([lo, hi], 1).tolist(),
        "median_iterations": (wall * Ms).tolist(),
        "censored_fraction": (fp < 0).mean(axis=1).tolist(),
    }
    res["floor"][key] = {
        "mean": floor_m.tolist(),
        "se": floor_se.tolist(),
        "predicted": [brk["floors"][M] for M in spec.workers],
    }
    res["theory"][key] = {
        **th,
        "N_wall": (th["T"] / (spec.eta * Ms)).tolist(),
        "inflation": infl.tolist(),
        **{k: brk[k] for k in ("M_b", "M_stability", "M_floor", "stability_delay")},
    }
    checks = []
    if law == spec.compute_times[0]:  # M = 1 is tau = 0 under every law: one check per mu
        checks.append(_check_M1(mu, th, wall[0], lo[0], hi[0], int(cell["record_every"]), spec))
    fit = Ms < (brk["M_b"] if brk["M_b"] is not None else np.inf)
    if fit.sum() >= 2:
        ex = _fit_exponent(Ms[fit], wall[fit], wall_b[fit], (infl / Ms)[fit], q)
        res["speedup_exponent"][key] = ex
        checks.append(_check_exponent(key, ex["b"], *ex["ci"], ex["linearised"], Ms[fit]))
    else:
        checks.append(
            not_measured(
                name=f"speedup_exponent[{key}]",
                equation=EXPONENT_EQUATION,
                predicted=1.0,
                tolerance="1 inside the bootstrap CI of b (needs two M below the predicted breakdown)",
                note=f"not measured: {int(fit.sum())} grid M below the predicted breakdown "
                f"M_b = {brk['M_b']} "
                "(a slope needs two)",
            )
        )
    past = np.flatnonzero(Ms >= (brk["M_b"] or np.inf))
    if past.size:
        j = int(past[0])
        checks.append(_check_floor(key, int(Ms[j]), floor_m[j], floor_se[j], spec, brk))
    return checks


def analyse(spec, ds, info: dict | None = None) -> Verdict:
    """The assembled Dataset of :func:`compare.speedup.assemble` -> the verdict (checks, results).

    spec : :class:`compare.speedup.SpeedupSpec`; ds : dims (mu, compute_time, workers, run, ...).

    Parameters
    ----------
    spec : compare.speedup.SpeedupSpec
    ds : xarray.Dataset
        Dims (mu, compute_time, workers, run, record) (or raw.nc read back).
    info : dict, optional
        The engine's run summary (unused).

    Returns
    -------
    compare.verdict.Verdict
        Checks, results (``time_to_epsilon``, ``speedup_exponent``, ``floor``, ``theory``,
        ``diverged``) and notes.
    """
    res = {
        "time_to_epsilon": {},
        "speedup_exponent": {},
        "floor": {},
        "theory": {},
        "diverged": {},
        "wall_unit": "worker compute units (update k at k/M)",
        "epsilon": spec.epsilon,
    }
    rng = np.random.default_rng(np.random.SeedSequence([spec.seed, 0x5BEED]))
    idx = rng.integers(0, spec.runs, size=(N_BOOT, spec.runs))
    checks = []
    for mu in spec.mus:
        th = spec.prediction(mu)
        for law in spec.compute_times:
            checks += _analyse_cell(spec, ds.sel(mu=mu, compute_time=law), mu, law, th, idx, res)
    params = {
        **spec.to_dict(),
        "horizons": {f"mu={mu:g}": spec.horizon(mu) for mu in spec.mus},
        "n_steps": {f"mu={mu:g}": int(ds["n_steps"].sel(mu=mu).max()) for mu in spec.mus},
    }
    raw = ds.drop_vars([v for v in ("mean_error",) if v in ds])
    return Verdict(
        command="speedup",
        parameters=params,
        seed=spec.seed,
        checks=checks,
        results=res,
        raw=raw,
        notes=_notes(spec, ds, res),
    )


def _notes(spec, ds, res: dict) -> list[str]:
    """Run-level facts: divergences per (mu, law, M), a step past stability at M = 1, a target too low."""
    notes = []
    for mu in spec.mus:
        for law in spec.compute_times:
            key = f"mu={mu:g},{law}"
            div = ds["diverged"].sel(mu=mu, compute_time=law).values.astype(bool).sum(axis=-1)
            res["diverged"][key] = div.astype(int).tolist()
            for M, k in zip(spec.workers, div, strict=True):
                text = divergence_note(int(k), spec.runs, "the medians, floors and fits")
                if text:
                    notes.append(f"{key}, M = {M}: {text} (a diverged run counts as error 1)")
        th = res["theory"][f"mu={mu:g},{spec.compute_times[0]}"]
        if th["stability_delay"] < 0:
            notes.append(
                f"mu={mu:g}: eta = {spec.eta:g} is past the linear-stability threshold even at M = 1 "
                "(no delay is stable, theory.stability): the runs are expected to diverge"
            )
        floor1 = res["floor"][f"mu={mu:g},{spec.compute_times[0]}"]["predicted"][0]
        if math.isfinite(floor1) and floor1 >= spec.epsilon:
            notes.append(
                f"mu={mu:g}: epsilon = {spec.epsilon:g} is below the predicted stationary error "
                f"{floor1:.3g} at M = 1 (eq. (8), linearised): a run reaches it only by a fluctuation, so "
                "its time to epsilon does not measure Props 8 and 10"
            )
    return notes


def _z(level: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2))


def _check_M1(mu, th, est, lo, hi, record_every, spec) -> Check:
    pred = th["T"] / spec.eta  # iterations = wall units at M = 1
    allow = float(record_every) + mu / (1 - mu)  # record spacing + heavy-ball warm-up lag: both make it late
    name = f"time_to_epsilon_at_M1[mu={mu:g}]"
    equation = "Props 8 and 10 (derived): T1(nu=1/2) + T2, delta^2 = eps"
    if allow >= pred:  # the allowance would accept any time from 0 to twice the prediction: no test
        return not_measured(
            name=name,
            equation=equation,
            predicted=pred,
            tolerance="prediction inside the bootstrap CI of the median, widened below by the allowance",
            note=f"not measured: the allowance ({allow:.3g} updates: one record spacing {record_every} "
            "plus the "
            f"heavy ball's warm-up mu/(1-mu) = {mu / (1 - mu):.3g}) is not smaller than the prediction "
            f"{pred:.3g} updates itself, so no measured time could contradict it",
        )
    return interval_check(
        name=name,
        equation=equation,
        predicted=pred,
        estimate=est,
        lo=lo,
        hi=hi,
        allowance_below=allow,
        tolerance=f"prediction inside the bootstrap {spec.level:.0%} CI of the median, widened below by "
        f"{allow:.3g} updates (one-sided: a record grid reads a first passage late by < one spacing, and "
        "the heavy ball lags the limit by its warm-up mu/(1-mu) updates, phase1 finding 4)",
        note="updates to first reach error <= epsilon from e_2, median over runs; M = 1 (synchronous)",
    )


#: The claim of the exponent check.
EXPONENT_EQUATION = "Props 6, 8, 10: N = T/(tau eta), linear speed-up b = 1"


def _check_exponent(key, b, lo, hi, b_lin, Ms) -> Check:
    allow = max(0.0, 1.0 - b_lin)
    return interval_check(
        name=f"speedup_exponent[{key}]",
        equation=EXPONENT_EQUATION,
        predicted=1.0,
        estimate=b,
        lo=lo,
        hi=hi,
        allowance_above=allow,
        tolerance=f"1 inside the bootstrap CI of b, widened above by 1 - b_lin = {allow:.3g} (one-sided: the "
        "delay only slows the growth of the saddle's unstable direction; b_lin is the exponent that the "
        "linearised growth rates imply, fixed before the data)",
        note=f"t_eps ~ M^-b fitted over M = {Ms.astype(int).tolist()} (below the predicted breakdown); "
        f"b_lin = {b_lin:.4f}",
    )


def _check_floor(key, M, m, se, spec, brk) -> Check:
    z = _z(spec.level)
    why = "linear instability" if brk["M_b"] == brk["M_stability"] else "predicted floor >= epsilon"
    return bound_check(
        name=f"floor_past_breakdown[{key}]",
        equation="theory.stability (exact threshold) / Lyapunov floor"
        if brk["law"] == "constant"
        else "theory.random_delays: pipeline mean-square stability / floor",
        predicted=spec.epsilon,
        observed=m,
        lower=spec.epsilon - z * se,
        interval=(m - z * se, m + z * se),
        tolerance=f"one-sided: the mean error over the last quarter of the horizon is not below epsilon "
        f"(its upper {spec.level:.0%} normal bound >= epsilon)",
        note=f"first grid M = {M} at or past the predicted breakdown M_b = {brk['M_b']} ({why}): the "
        "speed-up is predicted to stop there because the run cannot stay at epsilon",
    )


def _draw_mu(plots, ax, axf, i: int, mu: float, law: str, results: dict) -> None:
    """One momentum's curves: measured medians and the three lines on ``ax``, the floor on ``axf``."""
    key, col = f"mu={float(mu):g},{law}", plots.COLORS[i % len(plots.COLORS)]
    tt, th, fl = results["time_to_epsilon"][key], results["theory"][key], results["floor"][key]
    M, w, ci = np.array(tt["M"]), np.array(tt["median_wall"]), np.array(tt["ci"])
    ok = np.isfinite(w)
    yerr = plots.ci_yerr(w[ok], ci[ok, 0], ci[ok, 1])
    ax.errorbar(M[ok], w[ok], yerr=yerr, fmt="o", color=col, ms=4, label=f"mu={mu:g}: measured median")
    ax.plot(M, w[0] / M, "-", color=col, lw=0.9, label=f"mu={mu:g}: slope -1 through the measured M=1 point")
    ax.plot(M, th["N_wall"], "--", color=col, lw=0.9, label=f"mu={mu:g}: paper N = T/(M eta)")
    ax.plot(
        M,
        w[0] * np.array(th["inflation"]) / M,
        ":",
        color=col,
        lw=1.2,
        label=f"mu={mu:g}: linearised delay correction, through the measured M=1 point",
    )
    axf.errorbar(
        M,
        fl["mean"],
        yerr=1.96 * np.array(fl["se"]),
        fmt="o-",
        color=col,
        ms=3,
        lw=0.8,
        label=f"mu={mu:g}: measured floor",
    )
    pf = np.array([np.nan if not np.isfinite(f) else f for f in fl["predicted"]], dtype=float)
    if np.any(np.isfinite(pf)):
        axf.plot(M, pf, "--", color=col, lw=0.9, label=f"mu={mu:g}: linearised floor")
    if th["M_b"] is not None:
        for a in (ax, axf):
            a.axvline(
                th["M_b"], color=col, ls=(0, (1, 3)), lw=0.8, label=f"mu={mu:g}: predicted breakdown M_b"
            )


def figures(spec, ds, verdict: Verdict, out_dir: Path, fmt: str = "png") -> list[str]:
    """Wall time vs M (log-log) per law with the linear and paper lines; error floor vs M.

    Parameters
    ----------
    spec : compare.speedup.SpeedupSpec
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

    laws = list(spec.compute_times)
    fig, axes = plots.new_figure(2, len(laws))
    for c, law in enumerate(laws):
        ax, axf = axes[0, c], axes[1, c]
        for i, mu in enumerate(spec.mus):
            _draw_mu(plots, ax, axf, i, mu, law, verdict.results)
        axf.axhline(spec.epsilon, color="k", lw=0.8, label="epsilon")
        plots.log_log(ax)
        plots.log_log(axf)
        ax.set_title(f"{law} compute times", fontsize=plots.STYLE["fontsize"])
        ax.set_xlabel("workers M")
        ax.set_ylabel("median time to epsilon\n(worker compute units)")
        axf.set_xlabel("workers M")
        axf.set_ylabel("error 1 - h1^2/|h|^2 (dimensionless),\nmean over the last quarter of the horizon")
        ax.legend(fontsize=5, loc="lower left")  # the times fall from the upper left: that corner is empty
        axf.legend(fontsize=5, loc="upper left")  # the floors rise to the right
    return [plots.save(fig, out_dir, "speedup", fmt)]
