r"""The checks of ``python -m compare phase3`` (Theorem 5, eq. (8)): one prediction each.

Built by :mod:`compare.checks` (acceptance region and ``holds`` from one arithmetic); the
rules are docs/compare.md's:

* ``stationary_variance[i]`` (eq. (8) as eta -> 0: the observation minus the linearised
  recursion's exact gap, extrapolated linearly over the ladder), ``stationary_variance_at_eta[i]``
  (eq. (8) at eta), ``stationary_variance_linearised[i]`` (the linearised recursion at eta);
* ``ks[i]`` (Gaussian shape, scale removed), ``wasserstein[i]`` (to N(0, Var_OU)) and
  ``wasserstein_linearised[i]`` (to N(0, Var_lin)), null quantiles by parametric bootstrap;
* ``decay_rate[i]`` (eq. (8) as eta -> 0) and ``decay_rate_linearised[i]`` (at eta);
* ``transient_mean[i]`` / ``transient_mean_corrected[i]``: max z over the record times,
  Bonferroni;
* ``weak_convergence_order``: the fitted order of the discrepancies on the ladder is > 0;
* ``no_divergence_below_threshold``: no run diverges at a swept tau <= the stability threshold.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.stats as st

from compare import stats
from compare.checks import bound_check, interval_check, not_measured
from compare.phase3_spec import ACF_MIN, KS_ALPHA, SAMPLE_SPACING_RELAXATIONS
from compare.verdict import Check

__all__ = [
    "ks_rows",
    "w1_rows",
    "fitted_rate",
    "ks_w1_checks",
    "extrapolated",
    "variance_checks",
    "rate_checks",
    "order_check",
    "transient_checks",
    "sweep_check",
]


def fitted_rate(gamma_steps, rec, dt, acf_start):
    """Rate fitted as the data are (:func:`compare.phase3_analysis.rung_stats`) to an exact per-step
    autocovariance read every ``rec`` steps.

    Parameters
    ----------
    gamma_steps : ndarray, shape (n,)
        Autocovariance per step (lags 0..n-1).
    rec : int
        Steps per record.
    dt : float
        Record spacing, ODE time.
    acf_start : int
        First record lag of the fit.

    Returns
    -------
    float
        Rate per unit ODE time; NaN when too few lags qualify.
    """
    g = gamma_steps[::rec]
    return stats.fit_decay_rate(g / g[0], dt, min_acf=ACF_MIN, start=acf_start, intercept=True)


def _ks_statistic_standardised(x):
    """KS distance of x / rms(x) to N(0, 1) (the shape of a centred law, scale removed)."""
    return stats.ks_gaussian(x / math.sqrt(np.mean(x**2)), 0.0, 1.0)[0]


#: Replicates of the parametric bootstraps of the KS and W1 null laws.
N_NULL = 200


def ks_rows(z: np.ndarray) -> np.ndarray:
    """KS distance of each row of z to N(0, 1): ``stats.ks_gaussian(row)[0]`` per row, bit for bit.

    The two-sided statistic max(D+, D-) of ``scipy.stats.ks_1samp`` (D+ = max_k k/n - Phi(z_(k)),
    D- = max_k Phi(z_(k)) - (k-1)/n), for all rows at once. z: shape (replicates, n).

    Parameters
    ----------
    z : ndarray, shape (replicates, n)

    Returns
    -------
    ndarray, shape (replicates,)
    """
    x = np.sort(z, axis=1)
    n = x.shape[1]
    cdf = st.norm.cdf(x, 0.0, 1.0)
    d_plus = (np.arange(1.0, n + 1) / n - cdf).max(axis=1)
    d_minus = (cdf - np.arange(0.0, n) / n).max(axis=1)
    return np.maximum(d_plus, d_minus)


def w1_rows(x: np.ndarray, sd: float) -> np.ndarray:
    """W1 of each row's empirical law to N(0, sd^2): ``stats.wasserstein_gaussian(row, 0, sd)`` per
    row, bit for bit (the same exact quantile formula, for all rows at once). x: (replicates, n).

    Parameters
    ----------
    x : ndarray, shape (replicates, n)
    sd : float
        Standard deviation of the Gaussian (> 0).

    Returns
    -------
    ndarray, shape (replicates,)
    """
    x = np.sort(x, axis=1)
    n = x.shape[1]
    c = (x - 0.0) / sd
    z = st.norm.ppf(np.arange(n + 1) / n)  # -inf .. +inf
    za, zb = z[:-1], z[1:]
    zc = np.clip(c, za, zb)

    def piece(lo, hi):
        return c * (st.norm.cdf(hi) - st.norm.cdf(lo)) + st.norm.pdf(hi) - st.norm.pdf(lo)

    return sd * np.sum(piece(za, zc) - piece(zc, zb), axis=1)


#: Fewest pooled samples for the KS and W1 checks (fewer: not measured).
MIN_POOLED = 8


def _ks_w1_not_measured(i, n, sd_ou, sd_lin) -> tuple[Check, list[Check], dict]:
    """The KS and W1 checks when fewer than :data:`MIN_POOLED` samples survived (all runs diverged)."""
    why = (
        f"not measured: {n} pooled samples (fewer than {MIN_POOLED}; the runs diverged or the window is "
        "short)"
    )
    ks = not_measured(
        name=f"ks[{i}]",
        equation="eq. (8), Theorem 5 (the stationary law is Gaussian)",
        predicted=0.0,
        tolerance=f"KS distance of u_i/rms(u_i) to N(0,1) <= its {1 - KS_ALPHA:.0%} null quantile",
        note=why,
    )
    w1s = [
        not_measured(
            name=f"wasserstein{suffix}[{i}]",
            equation=eq,
            predicted=0.0,
            tolerance=f"W1 <= its {1 - KS_ALPHA:.0%} null quantile",
            note=why,
        )
        for suffix, eq in (
            ("", "eq. (8), Theorem 5 (stationary law N(0, Var_OU))"),
            ("_linearised", "linearised delayed recursion (law N(0, Var_lin), finite eta)"),
        )
    ]
    info = {"ks_statistic": None, "ks_pvalue": None, "n": int(n)}
    info.update({k: None for k in ("wasserstein", "wasserstein_null_q", "wasserstein_linearised")})
    info["wasserstein_linearised_null_q"] = None
    return ks, w1s, info


def _w1_null_quantile(sd: float, n: int, seed: int, tag: int, i: int) -> float:
    """The 1 - KS_ALPHA quantile of W1(sample, N(0, sd^2)) for n iid N(0, sd^2) draws (seeded bootstrap;
    the replicates are consecutive draws of one stream, drawn as one block)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, tag, i]))
    null = w1_rows(rng.normal(0.0, sd, (N_NULL, n)), sd)
    return float(np.quantile(null, 1 - KS_ALPHA))


def ks_w1_checks(i, sample, sd_ou, sd_lin, seed) -> tuple[Check, list[Check], dict]:
    """Shape (KS, scale removed) and W1 to N(0, Var_OU) and to N(0, Var_lin): one prediction each.

    Parameters
    ----------
    i : int
        Coordinate (1-based).
    sample : ndarray, shape (n,)
        Pooled stationary samples of u_i (non-finite values dropped).
    sd_ou, sd_lin : float
        Predicted standard deviations (OU, linearised; a non-finite one: not measured).
    seed : int
        Root seed of the null laws' bootstraps.

    Returns
    -------
    ks : Check
    w1 : list of Check
        To N(0, Var_OU) and to N(0, Var_lin).
    info : dict
        Statistics for ``results.per_coordinate`` (None where not measured).
    """
    sample = np.asarray(sample, dtype=float)
    sample = sample[np.isfinite(sample)]
    n = sample.size
    if n < MIN_POOLED:
        return _ks_w1_not_measured(i, n, sd_ou, sd_lin)
    D = _ks_statistic_standardised(sample)
    # null law of the statistic with the scale estimated (Lilliefors-type): parametric bootstrap
    rng_ks = np.random.default_rng(np.random.SeedSequence([seed, 0x4B53, i]))
    z = rng_ks.standard_normal((N_NULL, n))
    null_ks = ks_rows(z / np.sqrt(np.mean(z**2, axis=1))[:, None])
    d_crit = float(np.quantile(null_ks, 1 - KS_ALPHA))
    p = float((1 + np.sum(null_ks >= D)) / (1 + null_ks.size))
    ks = bound_check(
        name=f"ks[{i}]",
        equation="eq. (8), Theorem 5 (the stationary law is Gaussian)",
        predicted=0.0,
        observed=D,
        lower=0.0,
        upper=d_crit,
        tolerance=f"KS distance of u_i/rms(u_i) to N(0,1) <= its {1 - KS_ALPHA:.0%} null quantile "
        "(scale estimated: parametric bootstrap, 200 replicates)",
        note=f"shape test (the scale is tested by stationary_variance); n = {n} pooled samples spaced "
        f"{SAMPLE_SPACING_RELAXATIONS:g} relaxation times; bootstrap p = {p:.3g}",
    )
    w1s, info = [], {"ks_statistic": D, "ks_pvalue": p, "n": n}
    for suffix, sd, eq, tag in (
        ("", sd_ou, "eq. (8), Theorem 5 (stationary law N(0, Var_OU))", 0x5731),
        ("_linearised", sd_lin, "linearised delayed recursion (law N(0, Var_lin), finite eta)", 0x5732),
    ):
        if not (math.isfinite(sd) and sd > 0):
            w1s.append(
                not_measured(
                    name=f"wasserstein{suffix}[{i}]",
                    equation=eq,
                    predicted=0.0,
                    tolerance=f"W1 <= its {1 - KS_ALPHA:.0%} null quantile",
                    note="not measured: the predicted law has no finite variance (the linearised recursion "
                    "is not stable at this delay)",
                )
            )
            info[f"wasserstein{suffix}"] = None
            info[f"wasserstein{suffix}_null_q"] = None
            continue
        w1 = stats.wasserstein_gaussian(sample, 0.0, sd)
        q = _w1_null_quantile(sd, n, seed, tag, i)
        w1s.append(
            bound_check(
                name=f"wasserstein{suffix}[{i}]",
                equation=eq,
                predicted=0.0,
                observed=w1,
                lower=0.0,
                upper=q,
                tolerance=f"W1 <= its {1 - KS_ALPHA:.0%} null quantile (n iid draws of the predicted law, "
                "parametric bootstrap, 200 replicates; statistical only)",
                note=f"u units; predicted sd = {sd:.4g}",
            )
        )
        info[f"wasserstein{suffix}"] = w1
        info[f"wasserstein{suffix}_null_q"] = q
    return ks, w1s, info


def extrapolated(lad_rows, k, quantity, lin_key, ou_value, level):
    """Observation minus the linearised gap (control variate), extrapolated to eta -> 0; None if < 2 rungs.

    Parameters
    ----------
    lad_rows : list of dict
        Rungs with statistics (:func:`compare.phase3_analysis.rung_stats`).
    k : int
        Coordinate index (0-based).
    quantity : str
        ``"variance"`` or ``"rate"``.
    lin_key : str
        ``"lin_var"`` or ``"lin_rate"``.
    ou_value : float
        The OU value the gap is measured from.
    level : float

    Returns
    -------
    compare.stats.Interval or None
    """
    obs = [row["stats"][k][quantity] for row in lad_rows]
    corr = [x.estimate - (row[lin_key][k] - ou_value) for x, row in zip(obs, lad_rows, strict=True)]
    ses = [x.se for x in obs]
    if len(obs) < 2 or not all(np.isfinite(se) and se > 0 for se in ses) or not np.all(np.isfinite(corr)):
        return None
    return stats.extrapolate_to_zero([row["eta"] for row in lad_rows], corr, ses, level)


def variance_checks(i, v, v0, var_ou, var_lin, eta, tau, level, lad_eta) -> list[Check]:
    """E[u_i^2]: eq. (8) as eta -> 0 (extrapolated), eq. (8) at eta, the linearised recursion at eta.

    Parameters
    ----------
    i : int
        Coordinate (1-based).
    v : compare.stats.Interval
        E[u_i^2] at the base eta.
    v0 : compare.stats.Interval or None
        Extrapolated to eta -> 0 (None with one rung).
    var_ou, var_lin : float
        OU and linearised predictions.
    eta : float
    tau : int
        The delay reported.
    level : float
    lad_eta : list of float
        The rungs used.

    Returns
    -------
    list of Check
    """
    at_eta = f"the {level:.0%} t interval of E[u_i^2] at eta = {eta:g} (statistical only)"
    note_at = "u units; t interval over runs of per-run time averages of u_i^2"
    out = []
    if v0 is not None:
        out.append(
            interval_check(
                name=f"stationary_variance[{i}]",
                equation="eq. (8), Theorem 5 (eta -> 0)",
                predicted=var_ou,
                estimate=v0.estimate,
                lo=v0.lo,
                hi=v0.hi,
                tolerance=f"OU value within the {level:.0%} interval of the observed variance extrapolated "
                "to eta -> 0 (observed minus the linearised recursion's exact gap, then linear in eta over "
                "the ladder, weighted least squares)",
                note=f"u units; observed E[u_i^2] = {v.estimate:.4g} at eta = {eta:g} (interval "
                f"[{v.lo:.4g}, {v.hi:.4g}]), extrapolated from eta = {', '.join(f'{e:g}' for e in lad_eta)}",
            )
        )
    else:  # one rung: the theorem's limit cannot be extrapolated, test eq. (8) at this eta
        out.append(
            interval_check(
                name=f"stationary_variance[{i}]",
                equation="eq. (8), Theorem 5 (single eta: no extrapolation)",
                predicted=var_ou,
                estimate=v.estimate,
                lo=v.lo,
                hi=v.hi,
                tolerance=f"OU value within {at_eta}",
                note=note_at,
            )
        )
    out.append(
        interval_check(
            name=f"stationary_variance_at_eta[{i}]",
            equation=f"eq. (8), Theorem 5 at eta = {eta:g}",
            predicted=var_ou,
            estimate=v.estimate,
            lo=v.lo,
            hi=v.hi,
            tolerance=f"OU value within {at_eta}",
            note=note_at,
        )
    )
    out.append(
        interval_check(
            name=f"stationary_variance_linearised[{i}]",
            equation=f"linearised delayed recursion at eta = {eta:g}, tau = {tau} (exact Lyapunov solution)",
            predicted=var_lin,
            estimate=v.estimate,
            lo=v.lo,
            hi=v.hi,
            tolerance=f"Var_lin within {at_eta}",
            note=note_at + "; the toolkit's own finite-eta prediction (momentum and delay, no nonlinearity)",
        )
    )
    return out


def rate_checks(i, r, r0, theta, rate_lin, eta, level) -> list[Check]:
    """ACF decay rate: eq. (8) as eta -> 0 (extrapolated; at eta with one rung), the linearised one at eta.

    Parameters
    ----------
    i : int
    r, r0 : compare.stats.Interval (r0 may be None)
        Fitted rate at eta and extrapolated.
    theta, rate_lin : float
        OU and linearised predictions.
    eta, level : float

    Returns
    -------
    list of Check
    """
    at_eta = f"the {level:.0%} bootstrap interval of the fitted rate at eta = {eta:g} (statistical only)"
    fit = (
        f"per unit ODE time; at eta = {eta:g}: {r.estimate:.4g} [{r.lo:.4g}, {r.hi:.4g}] (bootstrap over "
        f"runs; ACF fitted with free amplitude past the momentum transient, while rho > {ACF_MIN})"
    )
    eq = "eq. (8), Theorem 5: rho(s) = exp(-(lambda_1 - lambda_i) s / (1 - mu))"
    if r0 is not None:
        first = interval_check(
            name=f"decay_rate[{i}]",
            equation=eq + " (eta -> 0)",
            predicted=theta,
            estimate=r0.estimate,
            lo=r0.lo,
            hi=r0.hi,
            tolerance=f"OU rate within the {level:.0%} interval of the fitted rate extrapolated to eta -> 0 "
            "(observed minus the linearised recursion's exact gap, then linear in eta over the ladder)",
            note=fit,
        )
    else:
        first = interval_check(
            name=f"decay_rate[{i}]",
            equation=eq + " (single eta)",
            predicted=theta,
            estimate=r.estimate,
            lo=r.lo,
            hi=r.hi,
            tolerance=f"OU rate within {at_eta}",
            note=fit,
        )
    lin = interval_check(
        name=f"decay_rate_linearised[{i}]",
        equation=f"linearised delayed recursion at eta = {eta:g}: its exact ACF, fitted like the data",
        predicted=rate_lin,
        estimate=r.estimate,
        lo=r.lo,
        hi=r.hi,
        tolerance=f"linearised rate within {at_eta}",
        note=fit,
    )
    return [first, lin]


def _order_not_measured(*, tolerance: str, note: str) -> Check:
    """The ``weak_convergence_order`` check when no order can be fitted (holds None: not measured)."""
    return not_measured(
        name="weak_convergence_order",
        equation="Theorem 5 (eta -> 0)",
        predicted=1.0,
        tolerance=tolerance,
        note=note,
    )


def order_check(etas, ladder_out, coords, level):
    """Fitted order of the variance and decay-rate discrepancies over the eta ladder.

    Per coordinate and quantity, the order of |observed/OU - 1| in eta (weighted log-log fit)
    where the discrepancy is resolved (> 2 SE) at >= 2 step sizes; combined by inverse
    variance.

    Parameters
    ----------
    etas : list of float
    ladder_out : dict
        ``results.eta_ladder`` (relative discrepancies and their SEs).
    coords : list of int
    level : float

    Returns
    -------
    check : Check
    fits : dict
        Per-coordinate fits.
    """
    fits = {}
    slopes, ses = [], []
    if len(etas) < 2:
        return _order_not_measured(
            tolerance="needs a ladder of >= 2 step sizes", note="not measured: ladder too short"
        ), fits
    for i in coords:
        for q in ("variance", "rate"):
            y = np.abs(np.asarray(ladder_out[f"{q}_rel"][str(i)], dtype=float))
            se = np.asarray(ladder_out[f"{q}_rel_se"][str(i)], dtype=float)
            ok = np.isfinite(y) & np.isfinite(se) & (y > 2 * se)  # resolved: discrepancy > 2 SE
            key = f"{q}[{i}]"
            if ok.sum() >= 2:
                f = stats.fitted_order(np.asarray(etas)[ok], y[ok], se[ok])
                fits[key] = {"order": f.exponent, "order_se": f.exponent_se, "n": int(ok.sum())}
                slopes.append(f.exponent)
                ses.append(f.exponent_se)
            else:
                fits[key] = {"order": None, "order_se": None, "n": int(ok.sum())}
    if not slopes:
        return _order_not_measured(
            tolerance="order fitted only where the discrepancy is resolved (> 2 SE) at >= 2 step sizes",
            note="not measured: no discrepancy resolved on the ladder (consistent with the limit, but no "
            "order can be fitted)",
        ), fits
    w = 1 / np.maximum(np.asarray(ses) ** 2, 1e-12)
    p = float(np.sum(w * np.asarray(slopes)) / np.sum(w))
    p_se = float(1 / math.sqrt(np.sum(w)))
    z = st.norm.ppf(0.5 + level / 2)
    lo, hi = p - z * p_se, p + z * p_se
    return bound_check(
        name="weak_convergence_order",
        equation="Theorem 5 (weak convergence as eta -> 0); linearised recursion predicts order 1",
        predicted=1.0,
        observed=p,
        lower=z * p_se,
        interval=(lo, hi),
        tolerance="the discrepancy shrinks: the interval of the fitted order lies above 0 (order 1 expected)",
        note="order of |variance/OU - 1| and |rate/OU - 1| in eta, inverse-variance mean over the resolved "
        "coordinates (per-coordinate fits in results.eta_ladder.fit)",
    ), fits


def transient_checks(t, mean, se, ou_mean, corrected, u0, theta, coords, level) -> list[Check]:
    """``transient_mean[i]`` (eq. (8): E[U_t] = u0 exp(-theta_i t)) and ``transient_mean_corrected[i]``.

    Parameters
    ----------
    t : ndarray, shape (n_t,)
        Record times (t[0] = 0, where the mean is deterministic).
    mean, se : ndarray, shape (n_t, d - 1)
        Ensemble mean of u and its standard error.
    ou_mean, corrected : ndarray, shape (n_t, d - 1)
        The two predicted means: eq. (8)'s, and the linearised recursion's plus the O(eta u0^2)
        nonlinearity of ODE (7).
    u0, theta : ndarray, shape (d - 1,)
    coords : list of int
    level : float
        Family level: Bonferroni over the n_t record times.

    Returns
    -------
    list of Check
    """
    n_t = t.size
    zc = float(st.norm.ppf(1 - (1 - level) / (2 * n_t)))  # Bonferroni over the n_t record times
    checks = []
    for k, i in enumerate(coords):
        for suffix, pred, eq in (
            ("", ou_mean, "eq. (8), Theorem 5: E[U_t] = u0 exp(-(lambda_1 - lambda_i) t / (1 - mu))"),
            ("_corrected", corrected, "linearised recursion mean + ODE (7) nonlinearity (finite eta)"),
        ):
            z = np.abs(mean[1:, k] - pred[1:, k]) / se[1:, k]  # t = 0 is deterministic (se = 0)
            j = int(np.argmin(np.abs(t - 1.0 / theta[k])))
            checks.append(
                bound_check(
                    name=f"transient_mean{suffix}[{i}]",
                    equation=eq,
                    predicted=0.0,
                    observed=float(np.max(z)),
                    lower=0.0,
                    upper=zc,
                    tolerance=f"max over the {n_t - 1} record times of |mean - predicted mean| / SE <= "
                    f"{zc:.2f} (Bonferroni, {level:.0%} family; statistical only)",
                    note=f"observed = max z; u units: at t = 1/theta_i = {t[j]:.3g} predicted "
                    f"{pred[j, k]:.4g}, observed {mean[j, k]:.4g} +- {se[j, k]:.2g}; u0 = {u0[k]:.3g}",
                )
            )
    return checks


def sweep_check(taus, diverged_fraction, tau_star: int, binding: str) -> Check:
    """``no_divergence_below_threshold``: the largest diverged fraction at a swept tau <= tau* is 0.

    Parameters
    ----------
    taus : list of int
    diverged_fraction : array_like, shape (n_tau,)
    tau_star : int
        Exact stability threshold (-1: no delay stable).
    binding : str
        Its binding mode.

    Returns
    -------
    Check
        Not measured when no swept delay lies at or below tau*.
    """
    div = np.asarray(diverged_fraction)
    below = [n for n, tau in enumerate(taus) if tau <= tau_star]
    if not below:
        return not_measured(
            name="no_divergence_below_threshold",
            equation="exact linear stability of the delayed recursion (theory.stability)",
            predicted=0.0,
            tolerance="no run diverges at any swept tau <= the stability threshold",
            note=f"not measured: no swept delay lies at or below the threshold tau* = {tau_star} "
            f"({binding} mode{'; no delay is stable at this eta and mu' if tau_star < 0 else ''})",
        )
    frac_below = float(np.max(div[below]))
    return bound_check(
        name="no_divergence_below_threshold",
        equation="exact linear stability of the delayed recursion (theory.stability)",
        predicted=0.0,
        observed=frac_below,
        lower=0.0,
        upper=0.0,
        tolerance="no run diverges at any swept tau <= the stability threshold",
        note=f"threshold tau* = {tau_star} ({binding} mode); diverged fractions per tau "
        f"{[round(float(x), 3) for x in div]}",
    )
