r"""Analysis of ``python -m compare phase3``: the assembled Dataset (+ spec) -> Verdict.

Per eta-ladder rung (:func:`rung_stats`): the t interval of E[u_i^2] over the runs' time
averages, the ACF decay rate fitted to the runs' mean lag products (free amplitude, past
the momentum transient, while rho > ACF_MIN) with a bootstrap interval over runs, and the
linearised recursion's exact variance and fitted rate at that eta (:mod:`compare._common`).
Then per coordinate i = 2..d the checks of :mod:`compare.phase3_checks` at the base eta and
extrapolated to eta -> 0, the fitted order of the discrepancies, the transient against
u0 exp(-theta_i t), and the delay sweep against the exact stability threshold. Every random
number of the analysis (bootstrap, null laws) derives from the spec's seed, so re-analysing
a store gives the same verdict.
"""

from __future__ import annotations

import math
import time

import numpy as np

from compare import _common as C
from compare import phase3_checks as K
from compare import stats
from compare.phase3_cells import sweep_taus
from compare.phase3_spec import ACF_SKIP_MOMENTUM, Setup, setup, sweep_horizon, transient_start
from compare.single_run import reported_tau, verdict_parameters
from compare.verdict import Verdict

__all__ = ["analyse", "rung_stats", "pooled_samples", "linearised_law", "transient_predictions", "NAME"]

NAME = "phase3"


def _alive(ds_rung) -> np.ndarray:
    return ~ds_rung["diverged"].values.astype(bool)


def pooled_samples(ds_rung) -> np.ndarray:
    """The KS/W1 samples of a rung, shape (alive runs x samples, d - 1), run-major.

    Parameters
    ----------
    ds_rung : xarray.Dataset
        One rung.

    Returns
    -------
    ndarray, shape (n, d - 1)
    """
    n = int(ds_rung["n_samples"].values)
    return ds_rung["pooled_u"].values[_alive(ds_rung)][:, :n, :].reshape(-1, ds_rung.sizes["coord"])


def _coordinate_stats(ds_rung, k: int, alive, dt: float, acf_start: int, level: float, seed: int) -> dict:
    m2_runs = ds_rung["second_moment"].values[k][alive]
    lagsum = ds_rung["lag_product"].values[k][alive][:, : int(ds_rung["n_lag"].values[k])]

    def rate(rows, _dt=dt):
        cov = rows.mean(axis=0)
        return stats.fit_decay_rate(cov / cov[0], _dt, min_acf=K.ACF_MIN, start=acf_start, intercept=True)

    return {
        "variance": stats.mean_ci(m2_runs, level),
        "m2_runs": m2_runs,
        "rate": stats.bootstrap_ci(lagsum, rate, level, n_boot=400, seed=seed + k),
    }


def linearised_law(spec):
    """The delay law of the linearised predictions: None for a constant delay (the constant-delay
    functions, tau), else :func:`compare._common.exact_delay_law` of the spec's model (None too
    when the theory has no exact law: then the rounded mean staleness as a constant delay).

    Parameters
    ----------
    spec : Phase3Spec

    Returns
    -------
    ndarray, GeometricDelayLaw, WorkerPipelineLaw or None
    """
    if spec.delay["model"] == "constant":
        return None
    return C.exact_delay_law(dict(spec.delay))


def _nan_stats(m: int, level: float) -> list:
    """Per-coordinate statistics of a rung with fewer than 2 surviving runs: every interval NaN."""
    nan = stats.Interval(math.nan, math.nan, math.nan, math.nan, level)
    return [{"variance": nan, "m2_runs": np.zeros(0), "rate": nan} for _ in range(m)]


def rung_stats(spec, s: Setup, ds_rung) -> dict:
    """Statistics of one ladder rung: eta, tau, diverged runs, linearised predictions, per-coordinate
    intervals (``stats`` None when fewer than 2 runs survived).

    The rate is fitted with a free amplitude from lag ``acf_start`` on: the discrete
    heavy-ball's fast root (~mu per step) adds a transient over the first ~1/(1-mu) steps
    that the OU does not have, and makes the slow component's amplitude differ from 1. Under a
    random delay model the linearised variance and ACF are those of its exact law
    (:func:`linearised_law`, issue 11), not of the rounded mean staleness.

    Parameters
    ----------
    spec : Phase3Spec
    s : Setup
    ds_rung : xarray.Dataset
        One rung of the assembled Dataset (``ds.isel(rung=n)``).

    Returns
    -------
    dict
        ``eta``, ``tau`` (the reported delay), ``diverged``, ``lin_var`` and ``lin_rate``
        (shape (d - 1,)), ``stats`` (list per coordinate or None).
    """
    eta_l, mu = float(ds_rung["eta"].values), spec.mu
    tau = reported_tau(spec.delay, float(ds_rung["mean_staleness"].values))
    law = linearised_law(spec)
    alive = _alive(ds_rung)
    dt_l = float(ds_rung["record_dt"].values)
    rec = int(round(dt_l / eta_l))  # steps per record
    acf_start = int(math.ceil(ACF_SKIP_MOMENTUM * eta_l / (1 - mu) / dt_l))
    m = len(s.coords)
    sstats = None
    if alive.sum() >= 2:
        sstats = [
            _coordinate_stats(ds_rung, k, alive, dt_l, acf_start, spec.level, spec.seed) for k in range(m)
        ]

    def variance(k):
        if law is None:
            return C.linearised_variance_u(s.alpha[k], s.c[k], eta_l, mu, tau)
        return C.linearised_variance_u_law(s.alpha[k], s.c[k], eta_l, mu, law)

    def acov(k):
        n = rec * s.max_lag[k]
        if law is None:
            return C.linearised_autocovariance_u(s.alpha[k], s.c[k], eta_l, mu, tau, n)
        return C.linearised_autocovariance_u_law(s.alpha[k], s.c[k], eta_l, mu, law, n)

    lin_var = np.array([variance(k) for k in range(m)])
    # the linearised recursion's exact ACF, read at the record lags and fitted by the same rule as
    # the data: the prediction of the *measured* rate (its slowest root alone ignores the other roots)
    lin_rate = np.array(
        [
            K.fitted_rate(acov(k), rec, dt_l, acf_start) if np.isfinite(lin_var[k]) else math.nan
            for k in range(m)
        ]
    )
    return {
        "eta": eta_l,
        "tau": tau,
        "diverged": int((~alive).sum()),
        "lin_var": lin_var,
        "lin_rate": lin_rate,
        "stats": sstats,
    }


def _per_coordinate(spec, s: Setup, rows: list, pooled: np.ndarray) -> tuple[list, dict]:
    """The base-eta and eta -> 0 checks per coordinate, and ``results.per_coordinate``."""
    row0, level = rows[0], spec.level
    lad_rows = [r for r in rows if r["stats"] is not None]
    lad_eta = [x["eta"] for x in lad_rows]
    checks, per_coord = [], {}
    for k, i in enumerate(s.coords):
        st_ = row0["stats"][k]
        v, r = st_["variance"], st_["rate"]
        var_lin, rate_lin = row0["lin_var"][k], row0["lin_rate"][k]
        v0 = K.extrapolated(lad_rows, k, "variance", "lin_var", s.var_ou[k], level)
        r0 = K.extrapolated(lad_rows, k, "rate", "lin_rate", s.theta[k], level)
        checks += K.variance_checks(i, v, v0, s.var_ou[k], var_lin, spec.eta, row0["tau"], level, lad_eta)
        ks, w1, info = K.ks_w1_checks(i, pooled[:, k], math.sqrt(s.var_ou[k]), math.sqrt(var_lin), spec.seed)
        checks += [ks, *w1]
        checks += K.rate_checks(i, r, r0, s.theta[k], rate_lin, spec.eta, level)
        per_coord[str(i)] = {
            "variance": v.estimate,
            "variance_ci": v.bounds,
            "variance_eta0": None if v0 is None else v0.estimate,
            "variance_eta0_ci": None if v0 is None else v0.bounds,
            "variance_ou": s.var_ou[k],
            "variance_linearised": var_lin,
            "decay_rate": r.estimate,
            "decay_rate_ci": r.bounds,
            "decay_rate_eta0": None if r0 is None else r0.estimate,
            "decay_rate_eta0_ci": None if r0 is None else r0.bounds,
            "decay_rate_ou": s.theta[k],
            "decay_rate_linearised": rate_lin,
            **info,
        }
    return checks, per_coord


def _ladder(spec, s: Setup, rows: list) -> dict:
    """``results.eta_ladder``: relative discrepancies of variance and rate (and their SEs) per rung."""
    out = {"eta": spec.etas(), "tau": [r["tau"] for r in rows]}
    out.update({key: {} for key in ("variance_rel", "variance_rel_se", "rate_rel", "rate_rel_se")})
    for k, i in enumerate(s.coords):
        vr, vse, rr, rse = [], [], [], []
        for row in rows:
            st_ = row["stats"][k] if row["stats"] is not None else None
            if st_ is None:
                vr.append(np.nan), vse.append(np.nan), rr.append(np.nan), rse.append(np.nan)
                continue
            vr.append(st_["variance"].estimate / s.var_ou[k] - 1)
            vse.append(st_["variance"].se / s.var_ou[k])
            rr.append(st_["rate"].estimate / s.theta[k] - 1)
            rse.append(st_["rate"].se / s.theta[k])
        out["variance_rel"][str(i)] = vr
        out["variance_rel_se"][str(i)] = vse
        out["rate_rel"][str(i)] = rr
        out["rate_rel_se"][str(i)] = rse
    return out


def transient_predictions(spec, s: Setup, t: np.ndarray, tau: int) -> dict:
    """The predicted transient means on the record times t, shape (n_t, d - 1) each, u units.

    ``ou``: eq. (8), u0 exp(-theta_i t); ``linearised``: the linearised delayed recursion's mean
    path (under a random delay model the exact mean-field recursion of its law,
    :func:`compare._common.linearised_mean_path_law`; ``tau`` is used for a constant delay or
    a model without an exact law); ``ode``: the deterministic nonlinear drift from the same
    start, ODE (7) in closed form (Theorem 3); ``corrected``: the linear path plus the
    O(eta u0^2) nonlinearity (ODE (7) minus its linearisation), first-order additive (the
    toolkit's finite-eta prediction).

    Parameters
    ----------
    spec : Phase3Spec
    s : Setup
    t : ndarray, shape (n_t,)
        Record times, ODE time.
    tau : int
        The constant delay (or the rounded mean staleness of a model without an exact law).

    Returns
    -------
    dict
        ``u0`` (d - 1,), ``ou``, ``linearised``, ``ode``, ``corrected`` (n_t, d - 1).
    """
    from theory.ode import closed_form_H

    eta, mu, d = spec.eta, spec.mu, s.problem.d
    h0, u0 = transient_start(spec, s)
    ou_mean = u0[None, :] * np.exp(-s.theta[None, :] * t[:, None])
    steps = np.rint(t / eta).astype(int)
    law = linearised_law(spec)

    def path(k):
        if law is None:
            return C.linearised_mean_path(u0[k], s.c[k], eta, mu, tau, int(steps[-1]))
        return C.linearised_mean_path_law(u0[k], s.c[k], eta, mu, law, int(steps[-1]))

    lin = np.stack([path(k)[steps] for k in range(d - 1)], axis=1)
    u_ode = (closed_form_H(h0, s.problem.lambda_, mu, t) - np.eye(d)[0])[:, 1:] / math.sqrt(eta)
    return {"u0": u0, "ou": ou_mean, "linearised": lin, "ode": u_ode, "corrected": lin + (u_ode - ou_mean)}


def _transient(spec, s: Setup, ds, tau: int) -> tuple[list, dict]:
    t = ds["transient_time"].values
    mean, se = ds["transient_mean"].values, ds["transient_se"].values
    p = transient_predictions(spec, s, t, tau)
    checks = K.transient_checks(t, mean, se, p["ou"], p["corrected"], p["u0"], s.theta, s.coords, spec.level)
    results = {
        "t": t,
        "u0": p["u0"],
        "mean": mean.T,
        "se": se.T,
        "ou_mean": p["ou"].T,
        "linearised_mean": p["linearised"].T,
        "ode_mean": p["ode"].T,
    }
    return checks, results


def _sweep(spec, s: Setup, ds) -> tuple[dict, object]:
    """``results.delay_sweep`` and the ``no_divergence_below_threshold`` check."""
    expected, thr = sweep_taus(spec)
    taus = [int(x) for x in ds["tau"].values]
    if taus != expected:
        raise ValueError(f"sweep: the Dataset's delays {taus} are not the spec's {expected}")
    tau_star, binding = int(thr.max_stable_delay), thr.binding_mode
    try:
        from theory.delays import delay_bounds

        bounds = delay_bounds(s.problem, spec.mu, spec.eta)
    except Exception:  # noqa: BLE001 - bounds are reported when theory.delays offers them
        bounds = {}
    m2 = ds["sweep_second_moment"].values  # (tau, coord)
    ratio = {
        str(i): [float(m2[n, k] / s.var_ou[k]) for n in range(len(taus))] for k, i in enumerate(s.coords)
    }
    lin_ratio = {
        str(i): [
            C.linearised_variance_u(s.alpha[k], s.c[k], spec.eta, spec.mu, tau) / s.var_ou[k] for tau in taus
        ]
        for k, i in enumerate(s.coords)
    }
    div = ds["sweep_diverged"].values.astype(bool).mean(axis=1)
    out = {
        "tau": taus,
        "stability_delay": tau_star,
        "binding_mode": binding,
        "variance_ratio": ratio,
        "linearised_variance_ratio": lin_ratio,
        "diverged_fraction": np.asarray(div, dtype=float),
        "delay_bounds": bounds,
        "horizon": sweep_horizon(spec, s),
    }
    return out, K.sweep_check(taus, div, tau_star, binding)


def _norm_excess(spec, s: Setup, base) -> dict:
    """E||v||^2 - 1: the iterates leave the unit sphere by O(eta) (the OU limit ignores the radial
    direction). Empirical law (fits mu = 0 and 0.9 within a few %, see docs/compare.md):
    eta sum_{i>=2} alpha_i1^2 / (2 lambda_1 (1 - mu))."""
    per_run = base["norm2"].values[_alive(base)]
    alpha = s.problem.alpha[1:, 0]
    return {
        "observed": float(base["norm_excess"].values) if per_run.size else None,
        "observed_se": float(per_run.std(ddof=1) / math.sqrt(per_run.size)) if per_run.size >= 2 else None,
        "empirical_law": float(spec.eta * np.sum(alpha**2) / (2 * s.problem.lambda_[0] * (1 - spec.mu))),
    }


def _parameters(spec, tau0: int) -> dict:
    """Verdict parameters: the common options and phase3's own (tau = the delay the run used)."""
    own = {
        "tau": tau0,
        "horizon": spec.horizon,
        "ladder": list(spec.ladder),
        "sweep": list(spec.sweep),
        "displacement": spec.displacement,
        "level": spec.level,
        "diffusion_scale": spec.diffusion_scale,
    }
    return verdict_parameters(spec, own)


def _notes(spec, s: Setup, rows: list, ds) -> list[str]:
    """Run-level facts for ``Verdict.notes``: divergence, the delay past the stability threshold, an
    unstable linearised recursion, an underdamped mode (eq. (8) not expected to hold at this eta),
    the clamps of :func:`compare.phase3_spec.setup`."""
    from compare.checks import divergence_note

    notes = []
    runs = spec.runs
    note = divergence_note(rows[0]["diverged"], runs, "the stationary checks at the base eta")
    if note:
        notes.append(note)
    for n, row in enumerate(rows[1:], start=1):
        if row["diverged"]:
            notes.append(f"ladder rung {n} (eta = {row['eta']:g}): {row['diverged']} of {runs} runs diverged")
    tr_div = int(np.sum(ds["transient_diverged"].values))
    if tr_div:
        notes.append(
            f"transient: {tr_div} of {runs} runs diverged; its ensemble mean uses the other {runs - tr_div}"
            + (" (not measured)" if runs - tr_div < 2 else "")
        )
    thr = C.stability(s.problem, spec.mu, spec.eta)
    tau_star = int(thr.max_stable_delay)
    if spec.delay["model"] == "constant" and int(spec.delay["tau"]) > tau_star:
        notes.append(
            f"tau = {spec.delay['tau']} is past the exact stability threshold tau* = "
            f"{'none (no delay is stable)' if tau_star < 0 else tau_star} ({thr.binding_mode} mode, "
            "theory.stability): that mode's linearised recursion is unstable, so runs grow and diverge "
            "given a long enough horizon"
        )
    law = linearised_law(spec)
    if law is not None:  # a random model: the exact mean-square criterion of every mode (issue 11)
        from theory.random_delays import mean_square_stability

        unstable_modes = [
            name
            for name, mode in thr.modes.items()
            if mode["c"] > 0
            and not mean_square_stability(spec.mu, spec.eta * mode["c"], law).mean_square_stable
        ]
        if unstable_modes:
            notes.append(
                f"under this delay law the {', '.join(unstable_modes)} mode(s) are not mean-square stable "
                "(theory.random_delays.mean_square_stability): runs grow and diverge given a long enough "
                "horizon"
            )
    if spec.delay["model"] != "constant":
        notes.append(
            f"linearised predictions under the {spec.delay['model']} delay model: "
            + (
                f"its exact law ({C.delay_law_label(law)}; theory.random_delays, issue 11)"
                if law is not None
                else f"no exact law for this model: the rounded mean staleness tau = {rows[0]['tau']} as a "
                "constant delay"
            )
        )
    unstable = [i for k, i in enumerate(s.coords) if not np.isfinite(rows[0]["lin_var"][k])]
    if unstable:
        notes.append(
            "the linearised recursion is not (mean-square) stable at this eta and delay for coordinates "
            f"{unstable}: its predictions there are not measured"
        )
    s_max = spec.eta * float(np.max(s.c))
    if s_max > (1 - math.sqrt(spec.mu)) ** 2:
        notes.append(
            f"the fastest tangent mode is underdamped at this eta: eta (lambda_1 - lambda_d) = {s_max:.3g} > "
            f"(1 - sqrt(mu))^2 = {(1 - math.sqrt(spec.mu)) ** 2:.3g}, so the chain oscillates on the OU's "
            "time scale and eq. (8) is not expected to describe it at this eta (Theorem 5 is a limit "
            "eta -> 0)"
        )
    notes += list(s.notes)
    return notes


def analyse(spec, ds, info: dict | None = None) -> Verdict:
    """The phase3 verdict of an assembled Dataset (:func:`compare.phase3_cells.assemble`).

    A run in which every run diverged at the base eta is a result: the stationary checks are
    not measured (holds None) and ``Verdict.notes`` says how many diverged.

    Parameters
    ----------
    spec : Phase3Spec
    ds : xarray.Dataset
        The assembled Dataset (``raw.nc``).
    info : dict, optional
        The engine's run summary (unused).

    Returns
    -------
    Verdict
    """
    start = time.perf_counter()
    s = setup(spec)
    rows = [rung_stats(spec, s, ds.isel(rung=n)) for n in range(ds.sizes["rung"])]
    row0, base = rows[0], ds.isel(rung=0)
    notes = _notes(spec, s, rows, ds)
    if row0["stats"] is None:  # every (or all but one) run diverged at the base eta: nothing to measure
        row0 = rows[0] = {**row0, "stats": _nan_stats(len(s.coords), spec.level)}
    results: dict = {
        "coords": s.coords,
        "ou": {"drift": s.drift, "diffusion": s.diffusion, "stationary_variance": s.var_ou},
    }
    checks, results["per_coordinate"] = _per_coordinate(spec, s, rows, pooled_samples(base))
    ladder = _ladder(spec, s, rows)
    order, ladder["fit"] = K.order_check(ladder["eta"], ladder, s.coords, spec.level)
    checks.append(order)
    results["eta_ladder"] = ladder
    tr_checks, results["transient"] = _transient(spec, s, ds, row0["tau"])
    checks += tr_checks
    if spec.sweep:
        results["delay_sweep"], sweep_check = _sweep(spec, s, ds)
        checks.append(sweep_check)
    results["norm_excess"] = _norm_excess(spec, s, base)
    results["burn_in"] = s.burn
    results["record_dt"] = float(base["record_dt"].values)
    results["diverged_runs_base"] = row0["diverged"]
    law = linearised_law(spec)
    results["linearised_delay_law"] = (
        "constant" if spec.delay["model"] == "constant" else C.delay_law_label(law)
    )
    return Verdict(
        command=NAME,
        parameters=_parameters(spec, row0["tau"]),
        seed=spec.seed,
        checks=checks,
        results=results,
        elapsed_s=time.perf_counter() - start,
        raw=ds,
        notes=notes,
    )
