"""Figures of ``python -m compare phase3``, drawn from the assembled Dataset and the verdict alone.

(``compare.plots``, hence matplotlib, is imported where a figure is drawn.)

``phase3_paths`` (stationary discrete paths over exact OU paths with +-2 sd bands; the
transient with the OU mean +-2 sd), ``phase3_histograms`` (the pooled stationary law vs
N(0, Var_OU)), ``phase3_discrepancy_vs_eta`` (log-log), ``phase3_delay_sweep``. Nothing is
simulated but the OU reference paths (exact transition, seeded by the spec's seed), so
``--from-store`` re-plots the same figures.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from compare import _common as C
from compare.phase3_analysis import pooled_samples
from compare.phase3_spec import setup

__all__ = ["figures"]

#: At most about this many points per drawn transient line (the figure, not the data, is thinned).
MAX_DRAWN_POINTS = 2000


def figures(spec, ds, verdict, out_dir, fmt: str = "png") -> list[str]:
    """Draw the four figures into ``out_dir``; returns their paths relative to it.

    Parameters
    ----------
    spec : Phase3Spec
    ds : xarray.Dataset
        The assembled Dataset (or raw.nc).
    verdict : Verdict
    out_dir : path
    fmt : str

    Returns
    -------
    list of str
    """
    out_dir = Path(out_dir)
    s = setup(spec)
    figs = [
        _paths(spec, s, ds, verdict.results["transient"], out_dir, fmt),
        _histograms(s, pooled_samples(ds.isel(rung=0)), out_dir, fmt),
        _discrepancy(s, verdict.results["eta_ladder"], out_dir, fmt),
    ]
    sweep = verdict.results.get("delay_sweep")
    if sweep and "tau" in sweep:
        figs.append(_delay_sweep(s, sweep, out_dir, fmt))
    return figs


def _paths(spec, s, ds, tr: dict, out_dir, fmt) -> str:
    """Discrete u (stationary, from e_1) over exact OU paths with +-2 sd bands; the transient below."""
    from compare import plots

    m, colors, base = len(s.coords), plots.COLORS, ds.isel(rung=0)
    title = f"Phase III (eq. (8)): discrete u vs OU, eta={spec.eta:g}, mu={spec.mu:g}"
    fig, axes = plots.new_figure(2, m, title=title)
    t_st = base["path_t"].values
    u_stat = base["path_u"].values
    t_st = t_st[np.isfinite(t_st)]
    n_show = int(np.sum(np.isfinite(u_stat[:, 0, 0]))) if u_stat.size else 0
    n_pts = t_st.size
    ou = None
    if n_pts >= 2 and n_show >= 1:  # exact OU paths started from the stationary law N(0, Var_OU)
        start = np.random.default_rng(np.random.SeedSequence([spec.seed, 0x7374])).standard_normal(
            (n_show, m)
        )
        ou = C.ou_paths(
            s.problem, spec.mu, 1, start * np.sqrt(s.var_ou), t_st, n_show, spec.seed, spec.diffusion_scale
        )
    t, ou_mean = tr["t"], np.asarray(tr["ou_mean"]).T
    mean, u_paths = np.asarray(tr["mean"]).T, ds["transient_path"].values
    every = max(1, t.size // MAX_DRAWN_POINTS)  # a long transient (tiny eigengap): every n-th record
    t, ou_mean, mean, u_paths = t[::every], ou_mean[::every], mean[::every], u_paths[:, ::every]
    for k, i in enumerate(s.coords):
        ax = axes[0, k]
        sd = math.sqrt(s.var_ou[k])
        ax.axhspan(-2 * sd, 2 * sd, color="0.85", label="OU +-2 sd")
        for r in range(n_show):
            if ou is not None:
                ax.plot(t_st, ou[:, r, k], color="0.4", lw=0.6, alpha=0.8, label="OU" if r == 0 else None)
        for r in range(n_show):
            label = "Async-MSGD" if r == 0 else None
            ax.plot(t_st, u_stat[r, :n_pts, k], color=colors[0], lw=0.6, alpha=0.9, label=label)
        ax.set_title(f"u_{i} (stationary)", fontsize=9)
        ax.set_xlabel("t = k eta (ODE time)")
        ax.set_ylabel(f"u_{i} = h_{i} / sqrt(eta)")
        ax2 = axes[1, k]
        sd_t = np.sqrt(np.maximum(s.var_ou[k] * (1 - np.exp(-2 * s.theta[k] * t)), 0))
        plots.band(ax2, t, ou_mean[:, k] - 2 * sd_t, ou_mean[:, k] + 2 * sd_t, "0.6", "OU mean +-2 sd")
        for n_p, p in enumerate(u_paths):
            label = "Async-MSGD runs" if n_p == 0 else None
            ax2.plot(t, p[:, k], color=colors[0], lw=0.5, alpha=0.6, label=label)
        ax2.plot(t, mean[:, k], color=colors[1], lw=1.5, label="discrete mean")
        ax2.plot(t, ou_mean[:, k], "k--", lw=1, label="OU mean")
        ax2.set_title(f"u_{i} transient", fontsize=9)
        ax2.set_xlabel("t = k eta (ODE time)")
        ax2.set_ylabel(f"u_{i} = h_{i} / sqrt(eta)")
    axes[0, 0].legend(fontsize=7)
    axes[1, 0].legend(fontsize=7)
    return plots.save(fig, out_dir, "phase3_paths", fmt)


def _histograms(s, pooled: np.ndarray, out_dir, fmt) -> str:
    """Histograms of the pooled stationary samples vs the Gaussian density of eq. (8)."""
    import scipy.stats as st

    from compare import plots

    fig, axes = plots.new_figure(1, len(s.coords), title="Phase III stationary law vs N(0, Var_OU)")
    for k, i in enumerate(s.coords):
        ax = axes[0, k]
        sd = math.sqrt(s.var_ou[k])
        if pooled.shape[0]:  # nothing to draw when every run diverged
            ax.hist(pooled[:, k], bins=40, density=True, color=plots.COLORS[0], alpha=0.6, label="Async-MSGD")
        x = np.linspace(-4 * sd, 4 * sd, 200)
        ax.plot(x, st.norm.pdf(x, 0, sd), "k-", lw=1.2, label="eq. (8): N(0, Var_OU)")
        ax.set_title(f"u_{i}", fontsize=9)
        ax.set_xlabel(f"u_{i} = h_{i} / sqrt(eta)")
        ax.set_ylabel("density (1 / u)")
    axes[0, 0].legend(fontsize=7)
    return plots.save(fig, out_dir, "phase3_histograms", fmt)


def _discrepancy(s, ladder: dict, out_dir, fmt) -> str:
    """|rate/OU - 1| and |variance/OU - 1| against eta on log axes, with a slope-1 guide."""
    from compare import plots

    fig, axes = plots.new_figure(1, 2, title="Phase III discrepancy vs eta (relative to the OU values)")
    etas = np.asarray(ladder["eta"])
    for k, i in enumerate(s.coords):
        for ax, key in ((axes[0, 0], "rate_rel"), (axes[0, 1], "variance_rel")):
            y = np.abs(np.asarray(ladder[key][str(i)], dtype=float))
            se = np.asarray(ladder[key + "_se"][str(i)], dtype=float)
            ok = np.isfinite(y) & (y > 0)
            if ok.any():
                yerr = np.minimum(se[ok], 0.99 * y[ok])
                ax.errorbar(
                    etas[ok], y[ok], yerr=yerr, fmt="o-", color=plots.COLORS[k], label=f"i={i}", capsize=2
                )
    for ax, title in ((axes[0, 0], "|decay rate / OU - 1|"), (axes[0, 1], "|variance / OU - 1|")):
        plots.log_log(ax)
        ax.set_xlabel("eta (step size)")
        ax.set_ylabel("relative deviation (bars: +-1 SE)")
        ax.set_title(title, fontsize=9)
        if len(etas):
            ax.plot(
                etas, 0.1 * etas / etas[0], "k:", lw=1, label="slope 1 (guide through 0.1 at the base eta)"
            )
        ax.legend(fontsize=7)
    return plots.save(fig, out_dir, "phase3_discrepancy_vs_eta", fmt)


def _delay_sweep(s, sweep: dict, out_dir, fmt) -> str:
    """Var/Var_OU (observed, and the linearised prediction dashed) and the diverged fraction vs tau."""
    from compare import plots

    fig, axes = plots.new_figure(1, 2, title="Phase III vs delay tau")
    taus = np.asarray(sweep["tau"])
    for k, i in enumerate(s.coords):
        color = plots.COLORS[k]
        axes[0, 0].plot(taus, sweep["variance_ratio"][str(i)], "o-", color=color, label=f"i={i} observed")
        lin = np.asarray(sweep["linearised_variance_ratio"][str(i)], dtype=float)
        lin = np.where(np.isfinite(lin), lin, np.nan)  # an unstable delay: no prediction drawn
        axes[0, 0].plot(taus, lin, "--", color=color, lw=1, label=f"i={i} linearised recursion")
    axes[0, 0].axhline(1.0, color="k", lw=0.8, label="eq. (8): Var_OU")
    axes[0, 0].set_yscale("log")
    axes[0, 0].set_ylabel("E[u_i^2] / Var_OU (dimensionless)")
    axes[0, 1].plot(taus, sweep["diverged_fraction"], "o-", color=plots.COLORS[1], label="diverged fraction")
    axes[0, 1].set_ylabel("fraction of runs diverged")
    axes[0, 1].set_ylim(-0.02, 1.02)  # a fraction: the whole range, so that 0 reads as 0
    for ax in axes[0]:
        ax.axvline(sweep["stability_delay"], color="r", ls=":", label="stability threshold tau*")
        ax.set_xlabel("constant delay tau (steps)")
        ax.legend(fontsize=7)
    return plots.save(fig, out_dir, "phase3_delay_sweep", fmt)
