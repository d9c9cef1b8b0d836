r"""Analysis and figure of ``python -m compare ode``: Dataset -> Verdict -> figure.

:func:`analyse` takes the assembled Dataset of :mod:`compare.ode` (per ``rung`` of the eta
ladder: ``h`` (rung, run, record, coord), ``diverged`` (rung, run), ``mean``, ``se`` (rung,
record, coord), ``t`` (rung, record), ``staleness_mean``, ``n_records``, coordinate ``eta``;
``diffusion_mean``, ``diffusion_se`` (record, coord) and ``diffusion_available``) and its
:class:`~compare.ode.OdeSpec`, and returns the Verdict. The statistic is the sup error of the
ensemble mean against the closed form of ODE (7),

.. math::

    e(\eta) = \sup_{t, i} \left|\overline{h_i}(t) - H^{(i)}(t)\right|,

with a bootstrap interval over runs per rung (``mean_vs_ode[eta=..]``, tolerance C eta from
:func:`compare.ode.lag_constant`), its fitted order in eta (``mean_vs_ode_order``) and the
distance to the full diffusion's mean (``mean_vs_diffusion``). :func:`figures` re-draws the
figure from the Dataset and the verdict alone.
"""

from __future__ import annotations

import numpy as np

from compare import stats
from compare.checks import bound_check, divergence_note, not_measured
from compare.verdict import Check, Verdict

__all__ = ["analyse", "figures", "rung", "N_BOOT"]

#: Bootstrap resamples of the sup error per rung.
N_BOOT = 300


def rung(ds, n: int) -> dict:
    """Rung n of the Dataset, padding removed: ``t`` (n_t,), ``h`` (alive runs, n_t, d) of the runs
    that did not diverge, ``mean``, ``se`` (n_t, d), ``staleness`` (mean delay, iterations).

    Parameters
    ----------
    ds : xarray.Dataset
        The assembled Dataset.
    n : int
        Rung index.

    Returns
    -------
    dict
    """
    k = int(ds["n_records"].values[n])
    alive = ~ds["diverged"].values[n]
    return {
        "t": ds["t"].values[n, :k],
        "h": ds["h"].values[n][:, :k][alive],
        "mean": ds["mean"].values[n, :k],
        "se": ds["se"].values[n, :k],
        "staleness": float(ds["staleness_mean"].values[n]),
    }


def analyse(spec, ds, info: dict | None = None) -> Verdict:
    """The ode verdict of an assembled Dataset (see the module docstring).

    Parameters
    ----------
    spec : compare.ode.OdeSpec
    ds : xarray.Dataset
        The assembled Dataset (or ``raw.nc``).
    info : dict, optional
        The engine's run summary (unused).

    Returns
    -------
    compare.verdict.Verdict
        With ``notes``: a delay past the stability threshold, diverged runs per rung.
    """
    import scipy.stats as st

    from compare.ode import lag_constant
    from compare.single_run import reported_tau, stability_note, verdict_parameters
    from theory.ode import closed_form_H

    problem = spec.problem()
    h0, level, etas = spec.start(), spec.level, spec.etas()
    checks: list[Check] = []
    sup_err, sup_lo, sup_hi, sup_se, measured = [], [], [], [], []
    notes = [stability_note(spec)]
    keep = None
    for n_l, eta_l in enumerate(etas):
        r = rung(ds, n_l)
        H = closed_form_H(h0, problem.lambda_, spec.mu, spec.drift_scale * r["t"])
        tau = reported_tau(spec.delay, r["staleness"])
        n_div = spec.runs - r["h"].shape[0]
        notes.append(divergence_note(n_div, spec.runs, f"checks at eta = {eta_l:g}") if n_div else "")
        Cl = lag_constant(problem, spec.mu, h0, r["t"], tau)
        if r["h"].shape[0] < 2:  # no mean with an error bar
            checks.append(_mean_check(eta_l, None, Cl, level, n_div, spec.runs))
            sup_err.append(None)
            sup_lo.append(None)
            sup_hi.append(None)
            continue

        def sup_stat(rows, _H=H):
            return float(np.max(np.abs(rows.mean(axis=0) - _H)))

        ci = stats.bootstrap_ci(r["h"], sup_stat, level, n_boot=N_BOOT, seed=spec.seed + n_l)
        sup_err.append(ci.estimate)
        sup_lo.append(ci.lo)
        sup_hi.append(ci.hi)
        sup_se.append(ci.se)
        measured.append(eta_l)
        checks.append(_mean_check(eta_l, ci, Cl, level))
        if n_l == 0:
            keep = {"tau": tau, "t": r["t"], "mean": r["mean"], "se": r["se"], "H": H}
    order_name, order_eq = "mean_vs_ode_order", "Theorem 3 (weak convergence as eta -> 0)"
    order_tol = "the sup error shrinks with eta: the interval of the fitted order lies above 0 (1 expected)"
    order = {"order": None, "order_se": None}
    if len(measured) >= 2:
        se = np.maximum(np.asarray(sup_se), 1e-300)
        fit = stats.fitted_order(measured, [e for e in sup_err if e is not None], se)
        z = st.norm.ppf(0.5 + level / 2)
        lo, hi = fit.exponent - z * fit.exponent_se, fit.exponent + z * fit.exponent_se
        checks.append(
            bound_check(
                name=order_name,
                equation=order_eq,
                predicted=1.0,
                observed=fit.exponent,
                lower=z * fit.exponent_se,
                interval=(lo, hi),
                tolerance=order_tol,
                note="weighted log-log fit of sup error vs eta (bootstrap standard errors)",
            )
        )
        order = {"order": fit.exponent, "order_se": fit.exponent_se}
    elif len(etas) >= 2:
        checks.append(
            not_measured(
                name=order_name,
                equation=order_eq,
                predicted=1.0,
                tolerance=order_tol,
                note=f"not measured: only {len(measured)} of {len(etas)} rungs have a measured sup error "
                "(too many diverged runs); a fitted order needs two",
            )
        )
    results = {
        "eta": etas,
        "sup_error": sup_err,
        "sup_error_ci": list(zip(sup_lo, sup_hi, strict=True)),
        "fit": order,
        "h0": h0,
        "horizon": spec.horizon,
    }
    if int(ds["diffusion_available"]) and keep is not None:
        n0 = keep["t"].size
        dmean, dse = ds["diffusion_mean"].values[:n0], ds["diffusion_se"].values[:n0]
        tol = lag_constant(problem, spec.mu, h0, keep["t"], keep["tau"]) * spec.eta
        check, dist = _diffusion_check(keep, dmean, dse, tol, level)
        checks.append(check)
        results["diffusion_sup_distance"] = dist
        results["ode_vs_diffusion_sup"] = float(np.max(np.abs(dmean - keep["H"])))
    elif keep is None:
        results["diffusion"] = "the first rung has no measured mean (diverged runs): comparison skipped"
    else:
        results["diffusion"] = "simulate.diffusion not available: comparison skipped"
    own = {
        "horizon": spec.horizon,
        "ladder": list(spec.ladder),
        "h0": h0,
        "level": level,
        "drift_scale": spec.drift_scale,
    }
    return Verdict(
        command="ode",
        parameters=verdict_parameters(spec, own),
        seed=spec.seed,
        checks=checks,
        results=results,
        raw=ds,
        notes=[n for n in notes if n],
    )


def _mean_check(eta_l: float, ci, Cl: float, level: float, n_div: int = 0, runs: int = 0) -> Check:
    """``mean_vs_ode[eta=..]``: the lower end of the sup error's interval within C eta (``ci`` None:
    fewer than two runs left, "not measured")."""
    tol = Cl * eta_l
    name, equation = f"mean_vs_ode[eta={eta_l:g}]", "eq. (7), Theorem 3 (closed form after it)"
    tolerance = (
        f"lower end of the {level:.0%} bootstrap interval of sup_t |mean - H| <= "
        f"C eta = {tol:.3g} "
        f"(C = max|dH/dt| (mu/(1-mu) + tau) = {Cl:.3g}: the momentum warm-up and delay lag, a bound "
        "derived before the data, docs/compare.md)"
    )
    if ci is None:
        return not_measured(
            name=name,
            equation=equation,
            predicted=0.0,
            tolerance=tolerance,
            note=f"not measured: {n_div} of {runs} runs diverged at this step size, fewer than two are left "
            "for a mean with an interval",
        )
    return bound_check(
        name=name,
        equation=equation,
        predicted=0.0,
        observed=ci.estimate,
        upper=tol + (ci.estimate - ci.lo),
        interval=ci.bounds,
        tolerance=tolerance,
        note="sup over record times and coordinates, h units; interval of the observed sup error",
    )


def _diffusion_check(keep: dict, dmean, dse, tol: float, level: float) -> tuple[Check, float]:
    """``mean_vs_diffusion``: the largest excess of |mean_disc - mean_diff| over C eta, in combined SE."""
    import scipy.stats as st

    dist = float(np.max(np.abs(keep["mean"] - dmean)))
    se_comb = np.sqrt(keep["se"] ** 2 + dse**2)
    zc = float(st.norm.ppf(1 - (1 - level) / (2 * dmean.size)))
    excess = float(np.max(np.maximum(np.abs(keep["mean"] - dmean) - tol, 0) / np.maximum(se_comb, 1e-300)))
    check = bound_check(
        name="mean_vs_diffusion",
        equation="full small-noise diffusion dV = M dt + sqrt(eta)/(1-mu) B dW (beyond the paper)",
        predicted=0.0,
        observed=excess,
        lower=0.0,
        upper=zc,
        tolerance=f"at every time and coordinate (|mean_disc - mean_diff| - C eta)+ <= "
        f"{zc:.2f} combined SE (Bonferroni, {level:.0%} family)",
        note=f"observed = max excess in SE; sup distance {dist:.3g} (h units)",
    )
    return check, dist


def figures(spec, ds, verdict: Verdict, out_dir, fmt: str) -> list[str]:
    """``ode_mean_vs_ode``: the first rung's mean (+-2 SE) vs ODE (7) and the diffusion; sup error vs eta.

    Parameters
    ----------
    spec : compare.ode.OdeSpec
    ds : xarray.Dataset
        The assembled Dataset (or ``raw.nc``).
    verdict : compare.verdict.Verdict
        Its ``results`` give the sup errors per rung.
    out_dir : path
    fmt : str
        Figure format.

    Returns
    -------
    list of str
        The figure's file name.
    """
    from compare import plots
    from theory.ode import closed_form_H

    res = verdict.results
    r = rung(ds, 0)
    t, mean, se, d = r["t"], r["mean"], r["se"], len(spec.eigenvalues)
    H = closed_form_H(spec.start(), np.asarray(spec.eigenvalues), spec.mu, spec.drift_scale * t)
    diff = ds["diffusion_mean"].values[: t.size] if int(ds["diffusion_available"]) else None
    fig, axes = plots.new_figure(
        1, 2, title=f"Theorem 3: ensemble mean vs ODE (7) (eta={spec.eta:g}, mu={spec.mu:g})"
    )
    ax = axes[0, 0]
    for i in range(d):
        col = plots.COLORS[i % len(plots.COLORS)]
        if np.all(np.isfinite(mean[:, i])):
            plots.band(ax, t, mean[:, i] - 2 * se[:, i], mean[:, i] + 2 * se[:, i], col)
            ax.plot(t, mean[:, i], color=col, lw=1.5, label=f"mean h_{i + 1} (band +-2 SE)")
        ax.plot(t, H[:, i], "k--", lw=1, label="ODE (7)" if i == 0 else None)
        if diff is not None and np.all(np.isfinite(diff[:, i])):
            ax.plot(t, diff[:, i], ":", color=col, lw=1, label="full diffusion, mean" if i == 0 else None)
    ax.set_xlabel("t = k eta (ODE time)")
    ax.set_ylabel("h_i (eigen-coordinate, dimensionless)")
    ax.set_title(f"first rung, eta = {spec.etas()[0]:g}", fontsize=9)
    ax.legend(fontsize=7)
    ax2 = axes[0, 1]
    keep = [i for i, y in enumerate(res["sup_error"]) if y is not None]
    if keep:
        e = np.asarray(res["eta"])[keep]
        y = np.asarray([res["sup_error"][i] for i in keep], dtype=float)
        lo = np.asarray([res["sup_error_ci"][i][0] for i in keep], dtype=float)
        hi = np.asarray([res["sup_error_ci"][i][1] for i in keep], dtype=float)
        ax2.errorbar(
            e,
            y,
            yerr=plots.ci_yerr(y, lo, hi),
            fmt="o-",
            capsize=2,
            color=plots.COLORS[0],
            label=f"sup |mean - H| ({spec.level:.0%} bootstrap interval)",
        )
        if e.size >= 2:
            ax2.plot(e, y[0] * e / e[0], "k:", label="slope 1, through the first rung's point")
            plots.log_log(ax2)
    else:
        ax2.text(0.5, 0.5, "no rung measured (diverged runs)", transform=ax2.transAxes, ha="center")
    ax2.set_xlabel("eta (ODE time per step)")
    ax2.set_ylabel("sup error (h units)")
    ax2.legend(fontsize=7)
    return [plots.save(fig, out_dir, "ode_mean_vs_ode", fmt)]
