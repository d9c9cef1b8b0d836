r"""Analysis of ``python -m compare dnn`` (Figure 2, Section 4.2): assembled Dataset -> Verdict.

:func:`analyse` takes the Dataset of :func:`compare.dnn.assemble` (dims ``M``, ``mu``,
``seed``, ``epoch``, ``step``: ``accuracy``, ``sharpness``, ``sharpness_residual``,
``staleness``, ``diverged``, ``eta`` (epoch)) and a spec with the fields of
:class:`compare.dnn.Spec` (``level``, ``seed``, ``stability``, ``delay_model``,
``sharpness_every``), and returns the Verdict. Checks (docs/compare.md, section dnn):

``best_momentum_falls``
    Spearman rank correlation of M and the best momentum, one-sided in bootstrap standard
    errors over runs (:func:`falls_check`);
``mu_max_worst_at_M_max``
    accuracy gap of the largest momentum to the worst other one at the largest M
    (:func:`worst_check`);
``stability_prediction[M=m]``
    accuracy shortfall of the predicted best momentum (:mod:`compare.dnn_stability`)
    against the measured best, one-sided paired t (:func:`prediction_checks`);
``mean_staleness[M=m]``
    the staleness the training saw against the model's mean M - 1, Bonferroni over M
    (:func:`staleness_checks`).

The bootstrap resamples whole runs (one resample for every (M, mu)): with common random
numbers one run shares its initial weights and minibatches across the grid.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as _st

from compare.checks import divergence_note, not_measured
from compare.dnn_stability import STABILITY_THEORIES, effective_rate, prediction, theory_label
from compare.verdict import Check, Verdict

__all__ = [
    "PAPER_BEST_MOMENTUM",
    "N_BOOT",
    "TRANSIENT_PER_WORKER",
    "analyse",
    "final_accuracy",
    "falls_check",
    "worst_check",
    "prediction_checks",
    "staleness_checks",
    "format_table",
]

#: Figure 2's reading (Section 4.2 text): best momentum 0.9 at one worker, 0.5 at eight.
PAPER_BEST_MOMENTUM = {1: 0.9, 8: 0.5}
#: Bootstrap resamples of the runs for the checks' standard errors and intervals.
N_BOOT = 2000
#: Staleness transient dropped before comparing with the stationary mean: the first tasks of
#: the M workers all read theta_0 (tau_k <= k); 10 M writes let every worker finish several.
TRANSIENT_PER_WORKER = 10


def final_accuracy(ds) -> np.ndarray:
    """Validation accuracy at the last epoch, shape (M, mu, seed); a diverged run counts as chance 1/K.

    Parameters
    ----------
    ds : xarray.Dataset
        The assembled Dataset (``accuracy`` with dims M, mu, seed, epoch).

    Returns
    -------
    ndarray, shape (M, mu, seed)
    """
    acc = ds["accuracy"].isel(epoch=-1).transpose("M", "mu", "seed").values.astype(float)
    chance = 1.0 / float(ds.attrs.get("n_classes", 10))
    return np.where(np.isfinite(acc), acc, chance)


def _spearman(x, Y) -> np.ndarray:
    """Spearman rank correlation of x (n,) with each row of Y (..., n): Pearson correlation of the
    average ranks (ties share their mean rank, as scipy.stats.spearmanr); 0 for a constant row (no trend)."""
    rx = _st.rankdata(np.asarray(x, dtype=float))
    rY = _st.rankdata(np.asarray(Y, dtype=float), axis=-1)
    dx = rx - rx.mean()
    dY = rY - rY.mean(axis=-1, keepdims=True)
    num = (dY * dx).sum(axis=-1)
    den = np.sqrt((dx * dx).sum() * (dY * dY).sum(axis=-1))
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def _best(mus, mean_acc) -> np.ndarray:
    """Best momentum per M from mean accuracies (M, mu); ties go to the smaller momentum."""
    return np.asarray(mus)[np.argmax(mean_acc, axis=1)]


def _bootstrap(A, mus, seed: int):
    """Run-resampled mean accuracies (boot, M, mu) and best momenta (boot, M) of A (M, mu, seed)."""
    n = A.shape[-1]
    rng = np.random.default_rng(np.random.SeedSequence([seed, 12, 1]))
    boot_idx = rng.integers(0, n, size=(N_BOOT, n))
    boot_mean = A[:, :, boot_idx].mean(axis=-1).transpose(2, 0, 1)  # (boot, M, mu)
    boot_best = np.asarray(mus)[np.argmax(boot_mean, axis=2)]  # (boot, M)
    return boot_mean, boot_best


def _floor(lowest: float, bound: float) -> float:
    """Lower end of a one-sided acceptance region ``observed <= bound`` of an observation >= ``lowest``.

    ``lowest`` (the observation's own range) unless the bound lies below it (an SE so large
    that the check cannot hold): then -inf, so the region is still the rule, an ordered pair.
    """
    return lowest if bound >= lowest else -math.inf


def falls_check(Ms, best, boot_best, level: float) -> Check:
    """``best_momentum_falls``: Spearman rho(M, best mu) <= -z_level x its bootstrap SE (one-sided).

    Parameters
    ----------
    Ms : sequence of int, shape (n_M,)
    best : ndarray, shape (n_M,)
        Best momentum per M.
    boot_best : ndarray, shape (N_BOOT, n_M)
        Best momenta of the run-resampled means.
    level : float
        One-sided confidence level.

    Returns
    -------
    compare.verdict.Check
    """
    z1 = float(_st.norm.ppf(level))  # one-sided
    rho = float(_spearman(Ms, best))
    rho_b = _spearman(Ms, boot_best)
    rho_se = float(rho_b.std(ddof=1))
    lo_b, hi_b = np.quantile(rho_b, [0.5 - level / 2, 0.5 + level / 2])
    bound = -max(z1 * rho_se, 1e-12)
    return Check(
        name="best_momentum_falls",
        equation="Section 4.2, Figure 2",
        predicted="rho < 0",
        observed=rho,
        interval=(float(lo_b), float(hi_b)),
        tolerance=f"Spearman rho(M, best mu) <= -z_{level:g} x bootstrap SE over runs (one-sided)",
        holds=rho <= bound,
        acceptance=(_floor(-1.0, bound), bound),
        note=f"best momentum per M {dict(zip(Ms, best.tolist(), strict=True))}; interval: {level:.0%} "
        f"percentile bootstrap of rho over runs ({N_BOOT} resamples); P*(rho < 0) = {np.mean(rho_b < 0):.3f}",
    )


def worst_check(A, boot_mean, Ms, mus, level: float) -> Check:
    """``mu_max_worst_at_M_max``: gap acc(largest mu) - min over the others, at the largest M, < 0.

    Parameters
    ----------
    A : ndarray, shape (n_M, n_mu, runs)
        Final accuracies.
    boot_mean : ndarray, shape (N_BOOT, n_M, n_mu)
        Run-resampled mean accuracies.
    Ms, mus : sequences
        The grid.
    level : float
        One-sided confidence level.

    Returns
    -------
    compare.verdict.Check
    """
    z1 = float(_st.norm.ppf(level))  # one-sided
    a_max = A[-1, -1]
    others = A[-1, :-1]
    gap = float(a_max.mean() - others.mean(axis=-1).min())
    gap_b = boot_mean[:, -1, -1] - boot_mean[:, -1, :-1].min(axis=1)
    gap_se = float(gap_b.std(ddof=1))
    g_bound = -max(z1 * gap_se, 1e-12)
    glo, ghi = np.quantile(gap_b, [0.5 - level / 2, 0.5 + level / 2])
    return Check(
        name="mu_max_worst_at_M_max",
        equation="Section 4.2 (mu = 0.9 worst at 8 workers)",
        predicted="gap < 0",
        observed=gap,
        interval=(float(glo), float(ghi)),
        tolerance=f"gap <= -z_{level:g} x bootstrap SE over runs (one-sided)",
        holds=gap <= g_bound,
        acceptance=(_floor(-1.0, g_bound), g_bound),
        note=f"gap = accuracy(mu={mus[-1]:g}) - min over other mu of accuracy, at M = {Ms[-1]} "
        "(validation accuracy, fraction); interval: percentile bootstrap over runs",
    )


def prediction_checks(A, mean, Ms, mus, pred, unstable, label: str, level: float) -> list[Check]:
    """``stability_prediction[M=m]``: shortfall acc(measured best) - acc(predicted best) <= t x paired SE.

    ``pred`` {M: mu} and ``unstable`` {M: [mu]} come from :func:`compare.dnn_stability.prediction`;
    an M without a prediction (no sharpness measured) gets no check.

    Parameters
    ----------
    A : ndarray, shape (n_M, n_mu, runs)
        Final accuracies.
    mean : ndarray, shape (n_M, n_mu)
        Their means over runs.
    Ms, mus : sequences
        The grid.
    pred, unstable : dict
        Predicted best momentum and predicted unstable momenta per M.
    label : str
        The stability theory (for the equation column).
    level : float
        One-sided confidence level.

    Returns
    -------
    list of compare.verdict.Check
    """
    n = A.shape[-1]
    t1 = float(_st.t.ppf(level, n - 1))
    checks = []
    for i, M in enumerate(Ms):
        if M not in pred:
            continue
        pb, un = pred[M], unstable[M]
        j_best, j_pred = int(np.argmax(mean[i])), mus.index(pb)
        d = A[i, j_best] - A[i, j_pred]
        short = float(d.mean())
        d_se = float(d.std(ddof=1) / math.sqrt(n))
        acc_hi = t1 * d_se
        checks.append(Check(
            name=f"stability_prediction[M={M}]",
            equation=f"theory ({label}): s_eff(mu) < s*(mu, M)",
            predicted=pb,
            observed=short,
            interval=(short - t1 * d_se, short + t1 * d_se),
            tolerance=f"shortfall of the predicted best mu <= t_{level:g},{n - 1} x paired SE (one-sided)",
            holds=short <= acc_hi,
            acceptance=(0.0, acc_hi),
            note=f"measured best mu {mus[j_best]:g}, predicted {pb:g} (unstable predicted: {un}); "
            "observed = mean accuracy(best) - mean accuracy(predicted) over runs (fraction)",
        ))
    return checks


def staleness_checks(ds, Ms, level: float) -> tuple[list[Check], dict]:
    """``mean_staleness[M=m]``: the mean staleness after the transient within t x SE of M - 1.

    Bonferroni over the M values; returns the checks and the measured means {M: mean}.

    Parameters
    ----------
    ds : xarray.Dataset
        The assembled Dataset (``staleness`` with dims M, mu, seed, step).
    Ms : sequence of int
    level : float
        Confidence level (Bonferroni over M).

    Returns
    -------
    (checks, means) : list of compare.verdict.Check, dict
    """
    st_all = ds["staleness"].isel(mu=0).transpose("M", "seed", "step").values
    n = st_all.shape[1]
    z_b = float(_st.t.ppf(1 - (1 - level) / (2 * len(Ms)), n - 1))
    checks, staleness_mean = [], {}
    for i, M in enumerate(Ms):
        skip = min(TRANSIENT_PER_WORKER * M, st_all.shape[-1] - 1)
        per_run = st_all[i, :, skip:].mean(axis=-1)
        m = float(per_run.mean())
        m_se = float(per_run.std(ddof=1) / math.sqrt(n))
        staleness_mean[M] = m
        checks.append(Check(
            name=f"mean_staleness[M={M}]",
            equation="simulate.delays: E[tau] = M - 1",
            predicted=float(M - 1),
            observed=m,
            interval=(m - z_b * m_se, m + z_b * m_se),
            tolerance=f"|mean - (M - 1)| <= t x SE over runs, Bonferroni over {len(Ms)} M at {level:g}",
            holds=abs(m - (M - 1)) <= z_b * m_se,
            acceptance=(M - 1 - z_b * m_se, M - 1 + z_b * m_se),
            note=f"staleness k - (version read) seen by the training, steps >= {skip} (transient dropped)",
        ))
    return checks, staleness_mean


def analyse(spec, ds, info=None) -> Verdict:
    """The checks and results of a ``dnn`` Dataset (module docstring); ``info``: the engine's run summary.

    Parameters
    ----------
    spec : compare.dnn.Spec
    ds : xarray.Dataset
        :func:`compare.dnn.assemble`'s Dataset (or raw.nc read back).
    info : dict, optional
        The engine's run summary (unused).

    Returns
    -------
    compare.verdict.Verdict
        Checks, results and notes on divergences.
    """
    Ms = [int(m) for m in ds["M"].values]
    mus = [float(m) for m in ds["mu"].values]
    A = final_accuracy(ds)  # (M, mu, seed)
    n = A.shape[-1]
    mean = A.mean(axis=-1)
    se = A.std(axis=-1, ddof=1) / math.sqrt(n)
    best = _best(mus, mean)
    level = spec.level
    boot_mean, boot_best = _bootstrap(A, mus, spec.seed)

    checks = [falls_check(Ms, best, boot_best, level)]
    if len(mus) >= 2:
        checks.append(worst_check(A, boot_mean, Ms, mus, level))
    s_eff = effective_rate(ds, Ms[0]) if spec.sharpness_every else np.full(len(mus), np.nan)
    theories = [spec.stability] + ([t for t in STABILITY_THEORIES if t != spec.stability]
                                   if spec.delay_model == "pipeline" else [])
    preds = {t: prediction(Ms, mus, mean[0], s_eff, spec.delay_model, t) for t in theories}
    _, _, pred, unstable = preds[spec.stability]
    label = theory_label(spec.delay_model, spec.stability)
    checks += prediction_checks(A, mean, Ms, mus, pred, unstable, label, level)
    checks += [_prediction_not_measured(M, label, spec) for M in Ms if M not in pred]
    dead = ds["diverged"].transpose("M", "mu", "seed").values.astype(bool).all(axis=(1, 2))  # (M,)
    if dead.any():  # at such an M every accuracy is chance: nothing ranks the momenta
        why = f"every run at M = {[M for M, d in zip(Ms, dead, strict=True) if d]} diverged (chance accuracy)"
        checks = [_unmeasured(c, why) if c.name in ("best_momentum_falls", "mu_max_worst_at_M_max")
                  or c.name in {f"stability_prediction[M={M}]" for M, d in zip(Ms, dead, strict=True) if d}
                  else c for c in checks]
    stale, staleness_mean = staleness_checks(ds, Ms, level)
    checks += stale

    keys = ([str(M) for M in Ms], [f"{mu:g}" for mu in mus])
    results = {
        **_accuracy_results(keys, mus, A, mean, se, best, boot_best),
        **_prediction_results(spec, keys, preds, s_eff, Ms[0]),
        **_training_results(ds, keys, staleness_mean),
        "spearman_rho": float(_spearman(Ms, best)),
        "n_params": int(ds.attrs.get("n_params", 0)),
    }
    results["table"] = format_table(Ms, mus, mean, se, best, pred, unstable)
    checks.sort(key=lambda c: _CHECK_ORDER.index(c.name.split("[")[0]))
    return Verdict(command="dnn", parameters=spec.as_dict(), seed=spec.seed, checks=checks, results=results,
                   notes=_divergence_notes(ds, Ms, mus))


#: The order of the checks in the verdict (a not-measured prediction stays among the predictions).
_CHECK_ORDER = ("best_momentum_falls", "mu_max_worst_at_M_max", "stability_prediction", "mean_staleness")


def _unmeasured(c: Check, why: str) -> Check:
    """``c`` as a not-measured check (same name, equation, rule), the note saying why."""
    return not_measured(name=c.name, equation=c.equation, predicted=c.predicted, tolerance=c.tolerance,
                        note=f"not measured: {why}")


def _prediction_not_measured(M: int, label: str, spec) -> Check:
    """``stability_prediction[M=m]`` when no sharpness was measured (or every run diverged before it was)."""
    why = ("--sharpness-every 0: no sharpness is measured" if not spec.sharpness_every
           else "no sharpness was measured at the reference M (every run diverged before a measurement)")
    return not_measured(
        name=f"stability_prediction[M={M}]",
        equation=f"theory ({label}): s_eff(mu) < s*(mu, M)",
        predicted=None,
        tolerance="shortfall of the predicted best mu <= t x paired SE (one-sided)",
        note=f"not measured: {why}, so there is no predicted best momentum",
    )


def _divergence_notes(ds, Ms, mus) -> list[str]:
    """One note per (M, mu) in which runs diverged (a diverged run scores chance accuracy 1/K)."""
    div = ds["diverged"].transpose("M", "mu", "seed").values.astype(bool)
    notes = []
    for i, M in enumerate(Ms):
        for j, mu in enumerate(mus):
            text = divergence_note(int(div[i, j].sum()), div.shape[-1], "the accuracy checks")
            if text:
                notes.append(f"M = {M}, mu = {mu:g}: {text} (a diverged run scores chance accuracy)")
    return notes


def _nested(keyM, keymu, arr) -> dict:
    """{M: {mu: arr[i, j]}} with string keys."""
    return {kM: dict(zip(keymu, np.asarray(arr)[i].tolist(), strict=True)) for i, kM in enumerate(keyM)}


def _accuracy_results(keys, mus, A, mean, se, best, boot_best) -> dict:
    """The results entries of the measured accuracies and best momenta."""
    keyM, keymu = keys
    return {
        "best_momentum": dict(zip(keyM, best.tolist(), strict=True)),
        "accuracy": {kM: {km: A[i, j].tolist() for j, km in enumerate(keymu)} for i, kM in enumerate(keyM)},
        "accuracy_mean": _nested(keyM, keymu, mean),
        "accuracy_se": _nested(keyM, keymu, se),
        "best_momentum_bootstrap": {
            kM: {km: float(np.mean(boot_best[:, i] == mu)) for km, mu in zip(keymu, mus, strict=True)}
            for i, kM in enumerate(keyM)
        },
        "paper_best_momentum": {str(k): v for k, v in PAPER_BEST_MOMENTUM.items()},
    }


def _theory_results(keys, p) -> dict:
    """One theory's prediction (s*, ratio, predicted best, unstable) as results entries."""
    keyM, keymu = keys
    s_star, ratio, pred, unstable = p
    return {
        "predicted_best_momentum": {str(M): v for M, v in pred.items()},
        "predicted_unstable": {str(M): v for M, v in unstable.items()},
        "stability_ratio": _nested(keyM, keymu, ratio),
        "threshold_rate": _nested(keyM, keymu, s_star),
    }


def _prediction_results(spec, keys, preds, s_eff, M_ref: int) -> dict:
    """The checked theory's prediction, s_eff, and the other theories' predictions beside it."""
    return {
        **_theory_results(keys, preds[spec.stability]),
        "effective_rate": dict(zip(keys[1], s_eff.tolist(), strict=True)),
        "stability_theory": theory_label(spec.delay_model, spec.stability),
        "other_theories": {
            t: {"stability_theory": theory_label(spec.delay_model, t), **_theory_results(keys, p)}
            for t, p in preds.items() if t != spec.stability
        },
        "reference_M": M_ref,
    }


def _training_results(ds, keys, staleness_mean) -> dict:
    """Sharpness along training, staleness, divergences and the step schedule."""
    keyM, keymu = keys
    sh = ds["sharpness"].transpose("M", "mu", "seed", "epoch")
    sharp_epochs = [int(e) for e in ds["epoch"].values if np.isfinite(sh.sel(epoch=e).values).any()]
    return {
        "sharpness_epochs": sharp_epochs,
        "sharpness_median": {
            kM: {km: np.nanmedian(sh.isel(M=i, mu=j).sel(epoch=sharp_epochs).values, axis=0).tolist()
                 for j, km in enumerate(keymu)}
            for i, kM in enumerate(keyM)
        } if sharp_epochs else {},
        "sharpness_residual_median": float(np.nanmedian(ds["sharpness_residual"].values))
        if sharp_epochs else None,
        "mean_staleness": {str(M): v for M, v in staleness_mean.items()},
        "diverged": _nested(keyM, keymu, ds["diverged"].sum("seed").transpose("M", "mu").values.astype(int)),
        "eta_schedule": ds["eta"].values[1:].tolist(),
    }


def format_table(Ms, mus, mean, se, best, pred, unstable) -> str:
    """Plain-text table: accuracy per (M, mu), measured and predicted best momentum side by side.

    Parameters
    ----------
    Ms, mus : sequences
        The grid.
    mean, se : ndarray, shape (n_M, n_mu)
        Mean accuracies and their standard errors.
    best : ndarray, shape (n_M,)
        Measured best momentum per M.
    pred, unstable : dict
        Predicted best and predicted unstable momenta per M.

    Returns
    -------
    str
    """
    head = ["M"] + [f"mu={m:g}" for m in mus] + ["best", "predicted", "predicted unstable"]
    rows = [head]
    for i, M in enumerate(Ms):
        cells_ = [f"{100 * mean[i, j]:.1f}+-{100 * se[i, j]:.1f}" for j in range(len(mus))]
        un = unstable.get(M)
        rows.append([str(M), *cells_, f"{best[i]:g}", "-" if M not in pred else f"{pred[M]:g}",
                     "-" if un is None else (",".join(f"{u:g}" for u in un) or "none")])
    w = [max(len(r[k]) for r in rows) for k in range(len(head))]
    lines = ["validation accuracy (%, mean +- SE over runs); best momentum measured and predicted"]
    lines += ["  ".join(c.ljust(w[k]) for k, c in enumerate(r)).rstrip() for r in rows]
    return "\n".join(lines)
