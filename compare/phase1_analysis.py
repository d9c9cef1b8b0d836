r"""Analysis and figure of ``python -m compare phase1``: Dataset -> Verdict -> figure.

:func:`analyse` takes the assembled Dataset of :mod:`compare.phase1` (``escaped``,
``unstable``, ``escaped_raw``, ``unstable_raw`` (run, t), ``diverged`` (run),
``staleness_mean``, ``ou_escaped``, ``ou_unstable`` (t), ``ou_first_passage`` (path)) and
its :class:`~compare.phase1.Phase1Spec`, and returns the Verdict: per level nu, at the record
nearest the printed :math:`T_1(\nu)`, Proposition 10's one-sided claim, the exact law of
Theorem 9's unstable coordinate,

.. math::

    P(\eta U_1(t)^2 \ge \delta^2) = 2\left(1 - \Phi\!\left(\frac{\delta/\sqrt\eta}{\sigma(t)}\right)\right),
    \qquad \sigma^2(t) = b^2\frac{e^{2at}-1}{2a},

and the linearised delayed recursion's Gaussian probability (:mod:`compare._common`), each
against the observed event frequency (Wilson interval). :func:`figures` re-draws the figure
from the Dataset alone (``--from-store``).
"""

from __future__ import annotations

import math

import numpy as np

from compare import stats
from compare.checks import divergence_note, interval_check, not_measured, proportion_at_least_check
from compare.verdict import Check, Verdict

__all__ = [
    "analyse",
    "figures",
    "curves",
    "checks_at",
    "MAX_LAW_STEPS",
    "MAX_IMPULSE_STEPS",
    "MAX_DIVERGED_FRACTION",
]

#: Largest step count at which the random-delay variance path (O(n^2),
#: :func:`compare.phase1_linearised.variance_path_law_u`) is computed: about a second here.
MAX_LAW_STEPS = 40000
#: Largest step count of the constant-delay path (an O(n) Python loop,
#: ``compare._common.impulse_response``): a few seconds.
MAX_IMPULSE_STEPS = 2_000_000
#: Above this fraction of diverged runs the event frequencies say nothing about the escape
#: (a diverged run is frozen far away and counts as escaped): every check is "not measured".
MAX_DIVERGED_FRACTION = 0.5


def curves(spec, ds) -> dict:
    """The predicted event probabilities on the record grid, and the runs' first passages.

    Parameters
    ----------
    spec : compare.phase1.Phase1Spec
    ds : xarray.Dataset
        The assembled Dataset.

    Returns
    -------
    dict
        With ``t`` (n_t,), ``p_exact`` (exact OU probability of the unstable event),
    ``p_lin`` (linearised recursion's, None if not computed), ``lin_model`` (its delay
    model, or why not), ``first`` (runs,) first record time of ``escaped``
    (inf: never), ``tau`` (the delay reported), ``plan`` (:func:`compare.phase1.plan`) and the
    OU coefficients ``oc``.
    """
    import scipy.stats as st

    from compare import _common as C
    from compare.phase1 import plan
    from compare.phase1_linearised import law_of_delay, variance_path_law_u, variance_path_pipeline_u
    from compare.single_run import reported_tau
    from theory import ou_coefficients

    p = plan(spec)
    problem = spec.problem()
    lam = problem.lambda_
    oc = ou_coefficients(problem, spec.mu, 2)  # coordinates 1, 3, .., d
    a1, b1 = float(oc.drift[0]), float(oc.diffusion[0]) * spec.diffusion_scale
    t = ds["t"].values
    r2 = spec.delta**2 / spec.eta
    with np.errstate(over="ignore"):  # far past T1 the OU variance overflows to inf: probability 1
        var1 = b1**2 * np.expm1(2 * a1 * t) / (2 * a1)
    with np.errstate(divide="ignore"):
        p_exact = 2 * st.norm.sf(math.sqrt(r2) / np.sqrt(var1))
    tau = reported_tau(spec.delay, float(ds["staleness_mean"]))
    steps = np.rint(t / spec.eta).astype(int)
    law = law_of_delay(spec.delay, int(steps.max()))
    if steps.max() > MAX_IMPULSE_STEPS:
        var_lin = None
        lin_model = (
            f"not computed: the linearised path takes a Python loop over the n = {int(steps.max())} "
            f"steps (limit {MAX_IMPULSE_STEPS}); raise --eta or lower T1"
        )
    elif spec.delay["model"] == "pipeline" and spec.delay.get("compute_time") == "exponential":
        if steps.max() <= MAX_LAW_STEPS:  # the pipeline's exact 7 x 7 second-moment map
            var_lin = variance_path_pipeline_u(
                p["alpha_12"], lam[1] - lam[0], spec.eta, spec.mu, spec.delay["workers"], steps
            )
            lin_model = "the worker pipeline's second-moment map (exact for exponential workers)"
        else:
            var_lin, lin_model = None, f"not computed: more than {MAX_LAW_STEPS} steps"
    elif spec.delay["model"] == "constant" or law is None:
        # constant: O(n) impulse response; a sequence or a pipeline of other compute times (not
        # i.i.d.): the constant delay at the rounded mean staleness, an approximation the note names
        var_lin = C.linearised_variance_path_u(p["alpha_12"], lam[1] - lam[0], spec.eta, spec.mu, tau, steps)
        lin_model = f"constant delay tau = {tau}" + (
            "" if law is not None else " (the rounded mean staleness: this model's delays are not i.i.d.)"
        )
    elif steps.max() <= MAX_LAW_STEPS:  # the delay law itself (issue 11), exact under i.i.d. delays
        var_lin = variance_path_law_u(p["alpha_12"], lam[1] - lam[0], spec.eta, spec.mu, law, steps)
        lin_model = f"i.i.d. {spec.delay['model']} delays (their law; compare.phase1_linearised)"
    else:
        var_lin = None
        lin_model = (
            f"not computed: the random-delay variance path costs O(n^2) in the n = {int(steps.max())} "
            f"steps (limit {MAX_LAW_STEPS}); raise --eta or lower T1"
        )
    p_lin = None
    if var_lin is not None:
        with np.errstate(divide="ignore"):
            p_lin = 2 * st.norm.sf(math.sqrt(r2) / np.sqrt(var_lin))
    esc = ds["escaped"].values
    first = np.where(esc.any(axis=1), t[np.argmax(esc, axis=1)], np.inf)  # first passage, on the sphere
    return {
        "t": t,
        "p_exact": p_exact,
        "p_lin": p_lin,
        "lin_model": lin_model,
        "first": first,
        "tau": tau,
        "plan": p,
        "oc": oc,
    }


def analyse(spec, ds, info: dict | None = None) -> Verdict:
    """The phase1 verdict of an assembled Dataset (see the module docstring).

    Parameters
    ----------
    spec : compare.phase1.Phase1Spec
    ds : xarray.Dataset
        The assembled Dataset (module docstring), e.g. ``raw.nc``.
    info : dict, optional
        The engine's run summary (unused).

    Returns
    -------
    compare.verdict.Verdict
        With ``notes``: the horizon raised, the delay past the stability threshold, diverged
        runs, and the delay model of the linearised prediction.
    """
    from compare.single_run import stability_note, verdict_parameters

    cv = curves(spec, ds)
    t, T1p, T1d = cv["t"], cv["plan"]["T1_paper"], cv["plan"]["T1_derived"]
    ev = {k: ds[k].values for k in ("escaped", "unstable", "escaped_raw", "unstable_raw")}
    ou_esc, ou_unst, ou_first = (
        ds["ou_escaped"].values,
        ds["ou_unstable"].values,
        ds["ou_first_passage"].values,
    )
    runs, level = spec.runs, spec.level
    checks: list[Check] = []
    per_nu = {}
    for nu in spec.nus:
        j = int(np.argmin(np.abs(t - T1p[nu])))
        k_esc, k_unst = int(ev["escaped"][:, j].sum()), int(ev["unstable"][:, j].sum())
        ci_esc = stats.wilson_ci(k_esc, runs, level)
        ci_unst = stats.wilson_ci(k_unst, runs, level)
        checks += checks_at(
            nu, j, t, T1p, k_esc, k_unst, runs, level, cv["p_exact"], cv["p_lin"], ou_esc, ev, cv["lin_model"]
        )
        with np.errstate(invalid="ignore"):  # first passages with inf (never): the quantile may be inf
            q_disc = float(np.quantile(cv["first"], 1 - nu))
            q_ou = float(np.quantile(ou_first, 1 - nu))
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
            "p_unstable_exact_ou": cv["p_exact"][j],
            "p_unstable_linearised": None if cv["p_lin"] is None else cv["p_lin"][j],
            "p_escaped_ou_sim": ou_esc[j],
            "p_unstable_ou_sim": ou_unst[j],
            "first_passage_quantile": q_disc if math.isfinite(q_disc) else None,
            "first_passage_quantile_ou_sim": q_ou if math.isfinite(q_ou) else None,
        }
    n_div = int(ds["diverged"].values.sum())
    if n_div > MAX_DIVERGED_FRACTION * runs:
        why = (
            f"not measured: {n_div} of {runs} runs diverged (more than {MAX_DIVERGED_FRACTION:.0%}); "
            "a diverged run is frozen far from the saddle, so the event frequencies say nothing "
            "about the escape"
        )
        checks = [
            not_measured(
                name=c.name, equation=c.equation, predicted=c.predicted, tolerance=c.tolerance, note=why
            )
            for c in checks
        ]
    notes = [*cv["plan"]["notes"], stability_note(spec), divergence_note(n_div, runs, "the escape checks")]
    notes.append(f"linearised prediction: {cv['lin_model']}")
    oc = cv["oc"]
    results = {
        "delta": spec.delta,
        "levels": per_nu,
        "horizon": cv["plan"]["horizon"],
        "tau": cv["tau"],
        "diverged_runs": n_div,
        "linearised_model": cv["lin_model"],
        "ou": {"drift": oc.drift, "diffusion": oc.diffusion, "coords": oc.coords},
    }
    own = {
        "tau": cv["tau"],
        "delta": spec.delta,
        "nus": list(spec.nus),
        "level": level,
        "diffusion_scale": spec.diffusion_scale,
        "ou_paths": spec.ou_paths,
    }
    return Verdict(
        command="phase1",
        parameters=verdict_parameters(spec, own),
        seed=spec.seed,
        checks=checks,
        results=results,
        raw=ds,
        notes=[n for n in notes if n],
    )


def checks_at(
    nu, j, t, T1p, k_esc, k_unst, runs, level, p_exact, p_lin, ou_esc, ev, lin_model: str = ""
) -> list[Check]:
    """The three checks at the printed T1(nu) (record j): one prediction each (docs/compare.md).

    Parameters
    ----------
    nu : float
        Level of Proposition 10.
    j : int
        Record nearest the printed T1(nu).
    t : ndarray, shape (n_t,)
        Record times (ODE units).
    T1p : dict of float
        Printed T1 per level.
    k_esc, k_unst : int
        Runs with the escape / unstable event at record j.
    runs : int
    level : float
        Confidence level of the Wilson intervals.
    p_exact : ndarray, shape (n_t,)
        Exact OU probability of the unstable event.
    p_lin : ndarray, shape (n_t,), or None
        The linearised recursion's (None: not computed, the check is "not measured").
    ou_esc : ndarray, shape (n_t,)
        The OU paths' escape frequency per record.
    ev : dict of ndarray of bool, shape (runs, n_t)
        The runs' events.
    lin_model : str
        The delay model of the linearised prediction (for its note).

    Returns
    -------
    list of compare.verdict.Check
    """
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
            f"coordinates) {ou_esc[j]:.3f}",
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
        _linearised_check(nu, j, p_lin, ci_unst, wil, event, lin_model),
    ]


def _linearised_check(nu, j, p_lin, ci_unst, wil, event, lin_model) -> Check:
    name = f"escape_probability_unstable_linearised[nu={nu:g}]"
    equation = "linearised delayed recursion at e_2 (exact at finite eta, tau)"
    tolerance = f"the linearised recursion's Gaussian probability within the {wil}"
    if p_lin is None:
        return not_measured(
            name=name, equation=equation, predicted=None, tolerance=tolerance, note=f"{event}; {lin_model}"
        )
    return interval_check(
        name=name,
        equation=equation,
        predicted=float(p_lin[j]),
        estimate=ci_unst.estimate,
        lo=ci_unst.lo,
        hi=ci_unst.hi,
        tolerance=tolerance,
        note=f"{event}; the toolkit's finite-eta prediction (momentum warm-up and delay "
        f"included): {lin_model}",
    )


def figures(spec, ds, verdict: Verdict, out_dir, fmt: str) -> list[str]:
    """``phase1_escape``: the two events' probability vs t (runs, OU simulated, OU exact, linearised).

    Parameters
    ----------
    spec : compare.phase1.Phase1Spec
    ds : xarray.Dataset
        The assembled Dataset (or ``raw.nc``).
    verdict : compare.verdict.Verdict
        Unused (the figure is drawn from ``ds`` and ``spec``).
    out_dir : path
    fmt : str
        Figure format.

    Returns
    -------
    list of str
        The figure's file name.
    """
    from compare import plots

    cv = curves(spec, ds)
    t, T1p, first, nus = cv["t"], cv["plan"]["T1_paper"], cv["first"], spec.nus
    fig, axes = plots.new_figure(
        1, 2, title=f"Phase I: escape from e_2 (eta={spec.eta:g}, mu={spec.mu:g}, delta={spec.delta:g})"
    )
    col = plots.COLORS
    ax = axes[0, 0]
    ax.plot(t, ds["unstable"].values.mean(0), color=col[0], lw=2, label="Async-MSGD, on the sphere")
    ax.plot(
        t, ds["unstable_raw"].values.mean(0), color=col[0], lw=0.8, ls=":", label="Async-MSGD, raw iterate"
    )
    ax.plot(t, ds["ou_unstable"].values, color=col[1], ls="--", label="OU simulated")
    ax.plot(t, cv["p_exact"], "k:", label="OU exact")
    if cv["p_lin"] is not None:
        ax.plot(t, cv["p_lin"], color=col[2], ls="-.", lw=1, label="linearised recursion")
    ax.set_title("P((h_1/|h|)^2 >= delta^2) (T1's event)", fontsize=9)
    ax2 = axes[0, 1]
    ax2.plot(t, ds["escaped"].values.mean(0), color=col[0], lw=2, label="Async-MSGD, on the sphere")
    ax2.plot(
        t, ds["escaped_raw"].values.mean(0), color=col[0], lw=0.8, ls=":", label="Async-MSGD, raw iterate"
    )
    ax2.plot(t, ds["ou_escaped"].values, color=col[1], ls="--", label="OU simulated (all coords)")
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
            a_.axvline(
                T1p[nu], color="0.5", lw=0.8, ls=":", label="T1 printed, per nu" if nu == nus[0] else None
            )
            a_.plot([T1p[nu]], [1 - nu], "kx", label="(T1 printed, 1 - nu)" if nu == nus[0] else None)
        a_.set_xlabel("t = k eta (ODE time)")
        a_.set_ylabel("probability")
        a_.set_ylim(0, 1)
        a_.legend(fontsize=7)
    return [plots.save(fig, out_dir, "phase1_escape", fmt)]
