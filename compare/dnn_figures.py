"""Figures of ``python -m compare dnn``: assembled Dataset + Verdict -> files.

``dnn_figure2``: the Figure 2 analogue (validation error against momentum per number of
workers M, log axis; measured best as stars, predicted best as diamonds, predicted linearly
unstable momenta as crosses) beside the stability ratio s_eff / s* against M per momentum
(the other stability theory dotted). ``dnn_sharpness``: eta_next x top Hessian eigenvalue
along training at the smallest and largest M, with the thresholds s*(mu, M).

matplotlib is imported when drawing, not when this module is imported.
"""

from __future__ import annotations

import numpy as np

from compare.verdict import Verdict

__all__ = ["figures", "spec_label"]


def spec_label(ds) -> str:
    """The figure title's summary of a run: delay model, runs, epochs.

    Parameters
    ----------
    ds : xarray.Dataset

    Returns
    -------
    str
    """
    return f"{ds.attrs.get('delay_model')} delays, {ds.sizes['seed']} runs, {ds.sizes['epoch'] - 1} epochs"


def _grid(ds):
    return [int(m) for m in ds["M"].values], [float(m) for m in ds["mu"].values]


def _accuracy_panel(ax, res, Ms, mus, colors) -> None:
    """Validation error (%) against mu per M, measured best, predicted best and predicted unstable."""
    mean = np.array([[res["accuracy_mean"][str(M)][f"{mu:g}"] for mu in mus] for M in Ms])
    se = np.array([[res["accuracy_se"][str(M)][f"{mu:g}"] for mu in mus] for M in Ms])
    err, err_se = 100 * (1 - mean), 100 * se  # validation error (%), log axis: 2% and 90% both readable

    def at(i, mu):
        return [100 * (1 - mean[i, mus.index(mu)])]

    for i, M in enumerate(Ms):
        ax.errorbar(mus, err[i], yerr=err_se[i], color=colors[i], marker="o", ms=4, capsize=2,
                    label=f"M = {M} worker{'s' if M > 1 else ''}")
        b = float(res["best_momentum"][str(M)])
        ax.plot([b], at(i, b), marker="*", ms=14, color=colors[i], mec="k", ls="none")
        p = res["predicted_best_momentum"].get(str(M))
        if p is not None:
            ax.plot([p], at(i, p), marker="D", ms=11, mfc="none", mec=colors[i], mew=1.8, ls="none")
        for u in res["predicted_unstable"].get(str(M), []):
            ax.plot([u], at(i, u), marker="x", ms=9, color="k", ls="none")
    ax.plot([], [], marker="*", ms=12, color="gray", mec="k", ls="none", label="measured best")
    ax.plot([], [], marker="D", ms=9, mfc="none", mec="gray", ls="none", label="predicted best (stability)")
    ax.plot([], [], marker="x", ms=8, color="k", ls="none", label="predicted linearly unstable")
    ax.set_yscale("log")
    ax.set_xlabel("momentum mu")
    ax.set_ylabel("validation error (%) = 100 - accuracy")
    ax.set_ylim(top=float(np.max(err + err_se)) * 6)  # room for the legend above the curves
    ax.legend(fontsize=7, loc="upper left", ncol=2)


def _ratio_panel(ax, res, Ms, mus, mcol) -> None:
    """Stability ratio s_eff / s* against M per mu (checked theory solid, the others dotted)."""
    ratios = [res["stability_ratio"][str(M)][f"{mu:g}"] for M in Ms for mu in mus]
    if not any(r is not None and np.isfinite(r) and r > 0 for r in ratios):  # --sharpness-every 0
        # nothing to draw on a log axis (matplotlib raises on an all-NaN log axis)
        ax.text(0.5, 0.5, "no sharpness measured: no stability prediction", ha="center", va="center",
                transform=ax.transAxes, fontsize=8)
        ax.set_axis_off()
        return
    for j, mu in enumerate(mus):
        r = [res["stability_ratio"][str(M)][f"{mu:g}"] for M in Ms]
        ax.plot(Ms, r, marker="o", color=mcol[j], label=f"mu = {mu:g}")
    for t, other in res.get("other_theories", {}).items():
        for j, mu in enumerate(mus):
            r_other = [other["stability_ratio"][str(M)][f"{mu:g}"] for M in Ms]
            ax.plot(Ms, r_other, color=mcol[j], ls=":", lw=1)
        ax.plot([], [], color="gray", ls=":", lw=1, label=f"dotted: {t} threshold")
    ax.axhline(1.0, color="k", ls="--", lw=1, label="ratio 1: linear stability boundary")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("number of workers M")
    ax.set_ylabel("stability ratio s_eff(mu) / s*(mu, M)")
    ax.set_title(res.get("stability_theory", ""), fontsize=7)
    ax.legend(fontsize=7)


def _sharpness_figure(ds, res, Ms, mus, mcol):
    """eta_next x lambda_max (median over runs) along training at the smallest and largest M."""
    from compare import plots

    show = sorted({Ms[0], Ms[-1]})
    fig, axes = plots.new_figure(1, len(show), title="sharpness along training (median over runs) x step")
    eta = ds["eta"].values
    ep = np.asarray(res["sharpness_epochs"])
    for a, M in enumerate(show):
        ax = axes[0, a]
        for j, mu in enumerate(mus):
            lam = np.asarray(res["sharpness_median"][str(M)][f"{mu:g}"], dtype=float)
            nxt = eta[np.minimum(ep + 1, eta.size - 1)]
            ax.plot(ep, nxt * lam, marker=".", color=mcol[j], label=f"mu = {mu:g}: eta x lambda_max")
            ax.axhline(res["threshold_rate"][str(M)][f"{mu:g}"], color=mcol[j], ls=":", lw=1)
        ax.plot([], [], color="gray", ls=":", label="threshold s*(mu, M) (same colour)")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("eta_next x top Hessian eigenvalue")
        ax.set_title(f"M = {M}", fontsize=9)
        ax.legend(fontsize=6)
    return fig


def figures(spec, ds, verdict: Verdict, out_dir, fmt: str = "png") -> list[str]:
    """Figure 2 analogue (accuracy vs momentum per M) with the stability ratio; sharpness along training.

    Parameters
    ----------
    spec : Spec
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
    import matplotlib as mpl

    from compare import plots

    res = verdict.results
    Ms, mus = _grid(ds)
    colors = mpl.colormaps["viridis"](np.linspace(0.0, 0.9, len(Ms)))
    mcol = mpl.colormaps["plasma"](np.linspace(0.0, 0.85, len(mus)))
    fig, axes = plots.new_figure(1, 2, title=f"Figure 2 analogue: MLP on {ds.attrs.get('dataset')}, "
                                 f"{spec_label(ds)}")
    _accuracy_panel(axes[0, 0], res, Ms, mus, colors)
    _ratio_panel(axes[0, 1], res, Ms, mus, mcol)
    out = [plots.save(fig, out_dir, "dnn_figure2", fmt)]
    if res.get("sharpness_epochs"):
        out.append(plots.save(_sharpness_figure(ds, res, Ms, mus, mcol), out_dir, "dnn_sharpness", fmt))
    return out
