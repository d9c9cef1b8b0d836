"""Analysis and figure of ``python -m compare tradeoff`` (Figure 1): Dataset -> Verdict -> figure.

:func:`analyse` takes the assembled Dataset of :mod:`compare.tradeoff` (``h_final`` (mu,
tau, run, coord), ``diverged`` (mu, tau, run), ``staleness_mean`` (tau)) and a spec with the
fields of :class:`compare.tradeoff.TradeoffSpec` (``mus``, ``taus``, ``eta``, ``rho``,
``error``, ``delay_model``, ``seed``, ...) and returns the Verdict: per mu the optimal delay
with its bootstrap interval, set against the paper (constant delays only), the exact
linear-stability threshold and (random models) the mean-field threshold, and the error at
tau = 0 against eq. (8). Every check carries its acceptance region: the values of the
observation for which it holds (docs/compare.md).
"""

from __future__ import annotations

import numpy as np

from compare import optimal_delay as od_
from compare.optimal_delay import OptimalDelay
from compare.verdict import Check, Verdict

__all__ = [
    "analyse",
    "figures",
    "format_table",
    "delay_acceptance",
    "delay_check",
    "results_skeleton",
    "divergence_notes",
    "run_divergence_note",
    "unmeasured",
    "MAX_DIVERGED_AT_ZERO",
    "MAX_MEAN_FIELD_DEGREE",
    "mean_field_delay",
]


def results_skeleton(taus, mean_staleness, n_steps, simulation_s, kind) -> dict:
    """The ``results`` dict of a tradeoff verdict before the per-mu entries (docs/compare.md).

    Parameters
    ----------
    taus : array_like of int
        The delay grid.
    mean_staleness : array_like of float
        Measured mean delay per grid value.
    n_steps : int
        Iterations of each run.
    simulation_s : float
        Cell seconds of the engine.
    kind : str
        Error kind.

    Returns
    -------
    dict
    """
    return {
        "taus": [int(t) for t in taus],
        "mean_staleness": [float(x) for x in mean_staleness],
        "n_steps": int(n_steps),
        "simulation_s": float(simulation_s),
        "error_kind": kind,
        "band": "95% Student-t confidence interval of the mean over runs",
        "mean_error": {},
        "mean_error_ci": {},
        "diverged_fraction": {},
        "optimal_delay": {},
        "optimal_delay_ci": {},
        "optimal_delay_censored": {},
        "stability_delay": {},
        "critical_delay": {},
        "binding_mode": {},
        "asymptotic_delay": {},
        "paper_optimal_delay": {},
        "bounds": {},
    }


def mu_key(mu: float) -> str:
    """The results key of a momentum: its shortest decimal form ("0.7", "0.925")."""
    text = f"{mu:g}"
    return text if float(text) == mu else repr(float(mu))


#: Largest degree of a uniform law's mean-field characteristic polynomial that is solved
#: (theory.stability finds its roots densely, O(degree^3): degree 322, Figure 1's grid, takes
#: about a second; 1000 tens of seconds; 2 x 10^5 would need 300 GiB).
MAX_MEAN_FIELD_DEGREE = 1000


def mean_field_delay(mu: float, s_rad: float, delay_model: str, taus) -> int | None:
    """:func:`compare.optimal_delay.mean_field_threshold` on the grid, without a hang.

    A uniform law of mean m has a characteristic polynomial of degree 2m + 2, solved densely;
    the threshold is searched on the grid values up to degree :data:`MAX_MEAN_FIELD_DEGREE`.
    Found below the last of them it is exact (the search is a bisection for the last stable
    grid value); stable up to the last of them, it is unknown (None). The geometric and
    pipeline laws are closed-form (a cubic) and take the whole grid.

    Parameters
    ----------
    mu : float
        Momentum.
    s_rad : float
        eta * c of the binding radial mode.
    delay_model : str
        A random delay model.
    taus : array_like of int
        The grid (mean delays), from 0.

    Returns
    -------
    int or None
        The largest stable grid value (-1: none), None when it lies beyond the solvable range.
    """
    taus = np.asarray(taus)
    if delay_model == "uniform":
        solvable = taus[2 * taus + 2 <= MAX_MEAN_FIELD_DEGREE]
        if solvable.size < taus.size:
            mf = od_.mean_field_threshold(mu, s_rad, delay_model, solvable)
            return None if mf == int(solvable[-1]) else mf
    return od_.mean_field_threshold(mu, s_rad, delay_model, taus)


#: A curve whose reference (tau = 0) has more than this fraction of diverged runs has no
#: optimal delay: the rule compares with an error at tau = 0 that is the divergence cap.
MAX_DIVERGED_AT_ZERO = 0.5


def run_divergence_note(diverged: int, total: int) -> str:
    """How many runs of the grid diverged, and what that does to the mean errors.

    Parameters
    ----------
    diverged, total : int
        Diverged runs and all runs (every configuration's runs counted).

    Returns
    -------
    str
        ``""`` when none diverged; ``compare.checks.divergence_note`` when all did.
    """
    from compare.checks import divergence_note

    if diverged in (0, total):
        return divergence_note(diverged, total)
    return (
        f"{diverged} of {total} runs diverged ({diverged / total:.0%}); a diverged run counts as the "
        "error cap in the mean errors (so a curve rises where runs diverge)"
    )


def divergence_notes(spec, diverged, stability_delays: dict, n_steps: int) -> list[str]:
    """Plain sentences on what diverged, where the grid passes the stability threshold, and
    delays that reach past the run.

    Parameters
    ----------
    spec : TradeoffSpec
        ``mus``, ``taus``, ``runs``, ``eta``.
    diverged : ndarray of bool, shape (mu, tau, run)
        Divergence flags.
    stability_delays : dict
        mu key -> largest linearly stable constant delay (-1: none).
    n_steps : int
        Iterations of each run.

    Returns
    -------
    list of str
    """
    taus = np.asarray(spec.taus)
    notes = [run_divergence_note(int(diverged.sum()), int(diverged.size))]
    for i, mu in enumerate(spec.mus):
        key = mu_key(mu)
        stab = stability_delays[key]
        per_tau = diverged[i].sum(axis=1)
        if stab < 0:
            notes.append(
                f"mu={key}: no constant delay is linearly stable at eta = {spec.eta:g} "
                "(tau = 0 is already past the stability threshold)"
            )
        elif taus[-1] > stab:
            notes.append(f"mu={key}: the delay grid passes the stability threshold tau* = {stab} (by design)")
        if per_tau.any():
            first = int(taus[np.flatnonzero(per_tau)[0]])
            notes.append(
                f"mu={key}: {int(per_tau.sum())} of {per_tau.size * diverged.shape[2]} runs diverged "
                f"(first at delay {first}; {int(per_tau[0])} of {diverged.shape[2]} at tau = 0)"
            )
    if spec.horizon / spec.eta < 0.5:
        notes.append(
            f"--horizon {spec.horizon:g} is less than half a step of eta = {spec.eta:g}: one iteration "
            "is run (n_steps clamped to 1)"
        )
    if taus[-1] >= n_steps:
        notes.append(
            f"the grid reaches delays >= the {n_steps} iterations of a run: every such delay reads v_0 only "
            "(raise --horizon or lower --taus)"
        )
    return [n for n in notes if n]


def analyse(spec, ds, info: dict | None = None) -> Verdict:
    """The Figure 1 verdict of an assembled Dataset (see the module docstring).

    Parameters
    ----------
    spec : TradeoffSpec
        The run's spec.
    ds : xarray.Dataset
        ``h_final`` (mu, tau, run, coord), ``diverged`` (mu, tau, run), ``staleness_mean``
        (tau), attribute ``n_steps``.
    info : dict, optional
        ``{"summary": RunSummary}`` of the engine (cell seconds).

    Returns
    -------
    Verdict
        Checks per mu; ``results`` as documented in docs/compare.md; ``raw`` the Dataset
        with the per-run ``error``.
    """
    problem = spec.problem()
    taus = np.asarray(spec.taus)
    errors = od_.horizon_error(ds["h_final"].values, ds["diverged"].values, spec.error)  # (mu, tau, run)
    diverged = ds["diverged"].values.astype(bool)
    n_steps = int(ds.attrs["n_steps"])
    summary = (info or {}).get("summary")
    results = results_skeleton(
        taus,
        ds["staleness_mean"].values,
        n_steps,
        getattr(summary, "cell_seconds", 0.0),
        spec.error,
    )
    theory = od_.theory_rows(problem, spec.mus, spec.eta)
    spacing = float(np.max(np.diff(taus))) if taus.size > 1 else 1.0
    rows, checks = [], []
    for i, mu in enumerate(spec.mus):
        key = mu_key(mu)
        errs = errors[i]  # (n_tau, runs)
        od = od_.bootstrap_optimal_delay(taus, errs.T, spec.rho, seed=spec.seed)
        th = theory[float(mu)]
        paper = od_.paper_optimal_delay(mu)
        mean = errs.mean(axis=1)
        ci = od_.mean_ci_rows(errs)
        n_div0 = int(diverged[i, 0].sum())
        measurable = n_div0 <= MAX_DIVERGED_AT_ZERO * diverged.shape[2]
        results["mean_error"][key] = mean.tolist()
        results["mean_error_ci"][key] = ci.tolist()
        results["diverged_fraction"][key] = diverged[i].mean(axis=1).tolist()
        results["optimal_delay"][key] = int(od.estimate) if measurable else None
        results["optimal_delay_ci"][key] = [od.lo, od.hi] if measurable else None
        results["optimal_delay_censored"][key] = od.censored if measurable else None
        for name in ("stability_delay", "critical_delay", "binding_mode", "asymptotic_delay", "bounds"):
            results[name][key] = th[name]
        if spec.delay_model != "constant":
            from theory.stability import mode_rates

            s_rad = spec.eta * mode_rates(problem)[th["binding_mode"]]
            th["mean_field_delay"] = mean_field_delay(mu, s_rad, spec.delay_model, taus)
            results.setdefault("mean_field_delay", {})[key] = th["mean_field_delay"]
        if paper is not None:
            results["paper_optimal_delay"][key] = paper
        pr = _prediction(problem, mu, spec)
        th["predicted_optimal_delay"] = pr.delay
        results.setdefault("predicted_optimal_delay", {})[key] = pr.delay
        results.setdefault("mean_square_delay", {})[key] = pr.radial_mean_square_delay
        results.setdefault("predicted_binding_mode", {})[key] = pr.binding_mode
        results.setdefault("predicted_capped", {})[key] = bool(pr.capped)
        rows.append(_table_row(key, paper, od if measurable else None, th))
        mu_checks = checks_for_mu(f"mu={key}", od, paper, th, spacing, taus[-1], spec.delay_model)
        mu_checks.append(_prediction_check(f"mu={key}", od, pr, spacing, taus[-1]))
        if not measurable:
            why = (
                f"not measured: {n_div0} of {diverged.shape[2]} runs diverged at tau = 0, so the rule's "
                "reference error is the divergence cap and no optimal delay is defined"
            )
            mu_checks = [unmeasured(c, why) for c in mu_checks]
        checks.extend(mu_checks)
        pred0 = od_.stationary_error(problem, mu, spec.eta)
        results.setdefault("error_at_zero_delay", {})[key] = {
            "observed": float(mean[0]),
            "ci": [float(ci[0][0]), float(ci[0][1])],
            "predicted_eq8": pred0,
            "diverged_runs": n_div0,
        }
        check0 = _error_at_zero_check(key, pred0, float(mean[0]), ci[0])
        if n_div0:
            check0 = unmeasured(
                check0,
                f"not measured: {n_div0} of {diverged.shape[2]} runs diverged at tau = 0 (their error is "
                "the cap); eq. (8) describes runs stationary near e_1",
            )
        checks.append(check0)
    results["table"] = format_table(rows)
    return Verdict(
        command="tradeoff",
        parameters={
            **spec.to_dict(),
            "n_steps": n_steps,
            "v0": od_.saddle_start(problem).tolist(),
        },
        seed=spec.seed,
        checks=checks,
        results=results,
        raw=_raw(ds, errors, spec.error),
        notes=divergence_notes(spec, diverged, results["stability_delay"], n_steps),
    )


def unmeasured(check: Check, why: str) -> Check:
    """``check`` turned into a not-measured one (``compare.checks.not_measured``), ``why`` its note.

    Parameters
    ----------
    check : Check
        The check as it would read if measured (its name, equation, prediction, rule).
    why : str
        Why nothing is measured.

    Returns
    -------
    Check
    """
    from compare.checks import not_measured

    return not_measured(
        name=check.name,
        equation=check.equation,
        predicted=check.predicted,
        tolerance=check.tolerance,
        note=why,
    )


def _prediction(problem, mu: float, spec):
    """The random-staleness theory's optimal (mean) delay for this run (theory.random_tradeoff)."""
    from theory.random_tradeoff import predicted_optimal_delay

    return predicted_optimal_delay(problem, float(mu), spec.eta, spec.delay_model, spec.rho, spec.horizon)


def _prediction_check(key: str, od: OptimalDelay, pr, spacing: float, grid_top: float) -> Check:
    """Issue 11: the simulated optimal delay against the predicted one, statistical tolerance only.

    The prediction is read off the same rule as the simulation, (1 + rho) x the error at m = 0,
    applied to the linearised modes' stationary error with the radial mode's mean-square
    threshold as a hard limit (docs/stability.md section 6); the one allowance is one grid step
    (the simulated optimum is only resolved to the grid).
    """
    return delay_check(
        f"optimal_vs_prediction[{key}]",
        "random-staleness theory: tangent stationary error and radial mean-square stability "
        "(theory.random_tradeoff, beyond the paper)",
        pr.delay,
        od,
        spacing,
        grid_top,
        nonnegative=True,
        tolerance=f"predicted optimal delay within the bootstrap 95% CI widened by one grid step {spacing:g}",
        note=f"binding mode {pr.binding_mode}; radial mean-square threshold {pr.radial_mean_square_delay}, "
        f"tangent-error limit {pr.tangent_error_delay}" + (" (search limit reached)" if pr.capped else ""),
    )


def _raw(ds, errors, kind: str):
    """raw.nc: the assembled cells plus the per-run error (mu, tau, run) of ``kind``."""
    out = ds.copy()
    what = "1 - h_1^2 / |h|^2" if kind == "angle" else "|v - v*|^2 (the nearer of +-e_1)"
    desc = f"{kind} error at the horizon, {what}; a diverged run counts as the cap {od_.ERROR_CAP[kind]:g}"
    out["error"] = (("mu", "tau", "run"), errors, {"long_name": desc, "description": desc, "units": "1"})
    out.attrs["error_kind"] = kind
    return out


def _table_row(key: str, paper, od: OptimalDelay | None, th: dict) -> dict:
    return {
        "mu_key": key,
        "paper": paper,
        "optimal": None if od is None else od.estimate,
        "lo": None if od is None else od.lo,
        "hi": None if od is None else od.hi,
        "censored": None if od is None else od.censored,
        "stability_delay": th["stability_delay"],
        "binding_mode": th["binding_mode"],
        "asymptotic_delay": th["asymptotic_delay"],
        "bound_numbers": od_.bound_numbers(th["bounds"]),
        "predicted": th.get("predicted_optimal_delay"),
        **({"mean_field_delay": th["mean_field_delay"]} if "mean_field_delay" in th else {}),
    }


def _error_at_zero_check(key: str, pred0: float, observed: float, ci) -> Check:
    """Eq. (8)'s stationary error inside the 95% t interval of the mean error at tau = 0.

    As a region of the observed mean: the prediction widened by the interval's half-widths
    (the statistical tolerance), [pred - (hi - mean), pred + (mean - lo)].
    """
    lo, hi = float(ci[0]), float(ci[1])
    acceptance = (pred0 - (hi - observed), pred0 + (observed - lo))
    return Check(
        name=f"error_at_tau0[mu={key}]",
        equation="eq. (8), Theorem 5: eta sum_i alpha_i1^2 / (2 (1-mu)(lambda_1 - lambda_i))",
        predicted=pred0,
        observed=observed,
        interval=(lo, hi),
        tolerance="prediction inside the 95% Student-t interval of the mean error at tau = 0",
        holds=acceptance[0] <= observed <= acceptance[1],
        acceptance=acceptance,
        note="why momentum raises the error at tau = 0 (Section 4.1's remark): the stationary "
        "OU variance of eq. (8) grows like 1/(1-mu); assumes the run is stationary near e_1 at T",
    )


def delay_acceptance(
    predicted: float, od: OptimalDelay, allowance: float, grid_top: float, *, nonnegative: bool = False
) -> tuple[float, float]:
    """Region of the simulated optimal delay in which ``predicted`` is accepted.

    The rule "``predicted`` lies in the bootstrap interval [lo, hi] widened by ``allowance``"
    reads, as a region of the estimate e, ``[predicted - allowance - (hi - e), predicted +
    allowance + (e - lo)]`` (the interval's half-widths are the statistical tolerance). A
    censored estimate (the grid's end ``grid_top``: only a lower bound) is never accepted,
    so the region stops half a step below it (grid values are integers; :func:`delay_check`
    reports a censored estimate as not measured when the uncensored region reaches the grid's
    end, and as a NO only when the whole region lies below it); with
    ``nonnegative``, a negative prediction ("unstable at the first grid value") is accepted
    nowhere: the region is then {-0.5}, which no grid value reaches.

    Parameters
    ----------
    predicted : float
        The predicted delay.
    od : OptimalDelay
        The simulated optimal delay and its bootstrap interval.
    allowance : float
        Modelling allowance (grid steps and relative tolerances), >= 0.
    grid_top : float
        The grid's last delay.
    nonnegative : bool
        A negative prediction means "unstable at the first grid value": accepted nowhere.

    Returns
    -------
    (float, float)
        The acceptance region [lo, hi] of the estimate.
    """
    if nonnegative and predicted < 0:
        return (-0.5, -0.5)
    lo = predicted - allowance - (od.hi - od.estimate)
    hi = min(predicted + allowance + (od.estimate - od.lo), grid_top - 0.5)
    return (min(lo, hi), hi)


def delay_check(
    name: str,
    equation: str,
    predicted,
    od: OptimalDelay,
    allowance: float,
    grid_top: float,
    *,
    nonnegative: bool = False,
    **text,
) -> Check:
    """A predicted delay against the simulated optimal delay (:func:`delay_acceptance`).

    Parameters
    ----------
    name, equation : str
        The check's name and the equation it tests.
    predicted : float
        The predicted delay.
    od : OptimalDelay
    allowance : float
    grid_top : float
    nonnegative : bool
        As :func:`delay_acceptance`.
    **text
        ``tolerance`` and ``note`` of the Check.

    Returns
    -------
    Check
    """
    reach = float(predicted) + allowance + (od.estimate - od.lo)  # the uncensored region's top
    if od.censored and reach >= float(grid_top):
        # the simulation only says "optimal delay >= grid_top", which a prediction whose region
        # reaches the grid's end agrees with: neither yes (nothing was located) nor no
        from compare.checks import not_measured

        return not_measured(
            name=name,
            equation=equation,
            predicted=predicted,
            tolerance=text.get("tolerance", ""),
            note=f"censored: the error never exceeded the allowance up to the grid's last delay "
            f"{grid_top:g}, which the prediction {float(predicted):g} (+ allowance) reaches; "
            "extend --taus past it",
        )
    acceptance = delay_acceptance(float(predicted), od, allowance, float(grid_top), nonnegative=nonnegative)
    return Check(
        name=name,
        equation=equation,
        predicted=predicted,
        observed=od.estimate,
        interval=(od.lo, od.hi),
        holds=acceptance[0] <= od.estimate <= acceptance[1],
        acceptance=acceptance,
        **text,
    )


def checks_for_mu(
    key: str, od: OptimalDelay, paper, th: dict, spacing: float, grid_top: float, delay_model: str
) -> list[Check]:
    """Per-mu checks: simulated optimal delay vs the paper's, the stability and mean-field thresholds.

    ``key`` names the curve inside the check names' brackets (``"mu=0.9"``; a sweep adds its axes).
    """
    checks = []
    constant = delay_model == "constant"
    model_note = "" if constant else f" ({delay_model} delays: optimal MEAN delay)"
    if paper is not None and constant:  # the paper's numbers are for constant delays
        allowance = spacing + od_.PAPER_READING_RESOLUTION
        checks.append(
            delay_check(
                f"optimal_delay[{key}]",
                "Section 4.1, Figure 1",
                paper,
                od,
                allowance,
                grid_top,
                tolerance=f"paper value within the bootstrap 95% CI widened by {allowance:g} "
                f"(grid spacing {spacing:g} + paper reading resolution {od_.PAPER_READING_RESOLUTION})",
                note="interval: percentile bootstrap over runs of the simulated optimal delay"
                + model_note
                + ("; censored: the error never exceeded the allowance on the grid" if od.censored else ""),
            )
        )
    stab = th["stability_delay"]
    allowance = spacing + od_.STABILITY_RTOL * max(stab, 0)
    checks.append(
        delay_check(
            f"optimal_vs_stability[{key}]",
            "linearised eq. (5): theory.stability (beyond the paper)",
            stab,
            od,
            allowance,
            grid_top,
            tolerance=f"threshold within the bootstrap 95% CI widened by {allowance:.3g} "
            f"(one grid step + {od_.STABILITY_RTOL:.0%} of the threshold: "
            "the rule reads a finite rise past it)",
            note=f"binding mode {th['binding_mode']}; exact critical delay tau_c = {th['critical_delay']:.2f}"
            + model_note,
        )
    )
    if "mean_field_delay" in th and th["mean_field_delay"] is None:
        from compare.checks import not_measured

        checks.append(
            not_measured(
                name=f"optimal_vs_mean_field[{key}]",
                equation="linearised eq. (5) averaged over the delay law (beyond the paper)",
                predicted=None,
                tolerance="mean-field threshold within the bootstrap 95% CI widened by one grid step + "
                f"{od_.STABILITY_RTOL:.0%}",
                note=f"not measured: the {delay_model} law's mean recursion is stable up to mean delay "
                f"{MAX_MEAN_FIELD_DEGREE // 2 - 1} at least; beyond, its degree-(2m + 2) characteristic "
                f"polynomial is not solved (dense roots cost O(m^3); limit {MAX_MEAN_FIELD_DEGREE})",
            )
        )
    elif "mean_field_delay" in th:
        mf = th["mean_field_delay"]
        allowance = spacing + od_.STABILITY_RTOL * max(mf, 0)
        checks.append(
            delay_check(
                f"optimal_vs_mean_field[{key}]",
                "linearised eq. (5) averaged over the delay law (beyond the paper)",
                mf,
                od,
                allowance,
                grid_top,
                nonnegative=True,
                tolerance=f"mean-field threshold within the bootstrap 95% CI widened by {allowance:.3g} "
                f"(one grid step + {od_.STABILITY_RTOL:.0%})",
                note=f"largest mean delay on the grid whose {delay_model} law keeps the mean radial "
                "recursion stable (compare.tradeoff.mean_field_threshold)",
            )
        )
    return checks


def format_table(rows: list[dict]) -> str:
    """Plain-text table: one row per mu (paper, simulated [CI], stability, mode, asymptotic, bounds).

    Parameters
    ----------
    rows : list of dict
        One per mu (``mu_key``, ``paper``, ``optimal`` (None: not measured), ``lo``, ``hi``, ...).

    Returns
    -------
    str
    """
    header = [
        "mu",
        "paper",
        "simulated [95% CI]",
        "stable tau*",
        "predicted",
        "binding",
        "asymptotic",
        "bounds (C=1, gamma->0)",
    ]
    mean_field = any("mean_field_delay" in r for r in rows)
    if mean_field:
        header.insert(5, "mean-field")
    body = []
    for r in rows:
        paper = "-" if r.get("paper") is None else str(r["paper"])
        if r["optimal"] is None:
            sim = "not measured"
        else:
            sim = f"{r['optimal']:g}{'+' if r.get('censored') else ''} [{r['lo']:g}, {r['hi']:g}]"
        bnd = ", ".join(
            f"{k}={v:.3g}" if np.isfinite(v) else f"{k}=n/a" for k, v in r.get("bound_numbers", {}).items()
        )
        row = [
            r["mu_key"],
            paper,
            sim,
            str(r["stability_delay"]),
            "-" if r.get("predicted") is None else str(r["predicted"]),
            r["binding_mode"],
            f"{r['asymptotic_delay']:.1f}" if np.isfinite(r["asymptotic_delay"]) else "n/a",
            bnd or "-",
        ]
        if mean_field:
            mf = r.get("mean_field_delay")
            row.insert(5, "-" if mf is None else str(mf))
        body.append(row)
    widths = [max(len(header[k]), *(len(b[k]) for b in body)) for k in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for b in body:
        lines.append("  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _log_limits(results: dict, mus) -> tuple[float, float]:
    """y range of the log axis from the mean curves (a factor 3 below the smallest positive mean,
    1.5 above the highest band), so that a band reaching 0 does not squash the curves."""
    means = np.concatenate([np.asarray(results["mean_error"][mu_key(m)], float) for m in mus])
    highs = np.concatenate([np.asarray(results["mean_error_ci"][mu_key(m)], float)[:, 1] for m in mus])
    pos = means[np.isfinite(means) & (means > 0)]
    if pos.size == 0:
        return (1e-3, 10.0)
    top = max(float(np.nanmax(highs)), float(pos.max()))
    return (float(pos.min()) / 3.0, 1.5 * top)


def figures(spec, ds, verdict: Verdict, out_dir, fmt: str) -> list[str]:
    """Figure 1: mean error vs delay per mu (log y), 95% CI band, optimal delays and thresholds.

    Parameters
    ----------
    spec : TradeoffSpec
    ds : xarray.Dataset
        The assembled Dataset (unused: the curves are in ``verdict.results``).
    verdict : Verdict
        Of :func:`analyse`.
    out_dir : path
        Where the figure goes.
    fmt : str
        png, pdf or svg.

    Returns
    -------
    list of str
        ``["tradeoff.<fmt>"]``.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from compare import plots

    results = verdict.results
    fig, axes = plots.new_figure(1, 1, title=None)
    ax = axes[0, 0]
    fig.set_size_inches(7.5, 4.4)
    taus = np.asarray(spec.taus)
    floor = np.finfo(float).tiny
    xlabel = (
        "constant delay tau (iterations)"
        if spec.delay_model == "constant"
        else f"mean delay of the {spec.delay_model} model (iterations)"
    )
    shown = set()
    for i, mu in enumerate(spec.mus):
        key = mu_key(mu)
        color = plots.COLORS[i % len(plots.COLORS)]
        mean = np.asarray(results["mean_error"][key])
        ci = np.asarray(results["mean_error_ci"][key])
        ax.plot(taus, mean, color=color, lw=1.3, label=f"mu = {key}")
        # a t band reaching below 0 (few runs) is cut at the axis' bottom, not at 1e-308
        plots.band(ax, taus, np.maximum(ci[:, 0], floor), np.maximum(ci[:, 1], floor), color)
        opt = results["optimal_delay"][key]
        if opt is not None:
            j = int(np.searchsorted(taus, opt))
            ax.plot([opt], [mean[j]], "o", color=color, ms=6, mfc="white", mew=1.5)
            shown.add("o")
        paper = results["paper_optimal_delay"].get(key)
        if paper is not None and taus[0] <= paper <= taus[-1]:
            ax.plot([paper], [np.interp(paper, taus, mean)], "x", color=color, ms=7, mew=1.5)
            shown.add("x")
        stab = results["stability_delay"][key]
        if taus[0] <= stab <= taus[-1]:
            ax.axvline(stab, color=color, ls="--", lw=0.9, alpha=0.8)
            shown.add("--")
        pred = results.get("predicted_optimal_delay", {}).get(key)
        if pred is not None and taus[0] <= pred <= taus[-1]:
            ax.plot([pred], [np.interp(pred, taus, mean)], "^", color=color, ms=6, mfc="none", mew=1.2)
            shown.add("^")
    ax.set_yscale("log")
    ax.set_ylim(*_log_limits(results, spec.mus))
    ax.set_xlabel(xlabel)
    what = "1 - h_1^2/|h|^2" if spec.error == "angle" else "|v - v*|^2"
    ax.set_ylabel(f"mean {spec.error} error at T, {what} (dimensionless)")
    ax.set_title(
        f"Async-MSGD, eta = {spec.eta:g}, T = {spec.horizon:g} ({results['n_steps']} iterations), "
        f"{spec.runs} runs",
        fontsize=plots.STYLE["fontsize"],
    )
    handles, _ = ax.get_legend_handles_labels()
    grey = "0.35"
    of_constant = "" if spec.delay_model == "constant" else " (for constant delays)"
    extra = {
        "o": Line2D(
            [], [], ls="", marker="o", color=grey, mfc="white", mew=1.5, label="simulated optimal delay"
        ),
        "x": Line2D(
            [],
            [],
            ls="",
            marker="x",
            color=grey,
            mew=1.5,
            label=f"paper's optimal delay (Figure 1){of_constant}",
        ),
        "^": Line2D(
            [], [], ls="", marker="^", color=grey, mfc="none", label="predicted (random-staleness theory)"
        ),
        "--": Line2D(
            [], [], ls="--", color=grey, lw=0.9, label=f"exact stability threshold tau*{of_constant}"
        ),
    }
    handles += [Patch(color=grey, alpha=plots.STYLE["band_alpha"], label="95% Student-t band of the mean")]
    handles += [h for k, h in extra.items() if k in shown]
    ax.legend(handles=handles, fontsize=plots.STYLE["fontsize"], loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return [plots.save(fig, out_dir, "tradeoff", fmt)]
