"""Tradeoff metrics of a sweep (``metrics = "tradeoff"``): Figure 1's optimal delay on any grid.

Axes (:class:`TradeoffSweepSpec`): outer ``eta``, ``delay_model``, ``eigenvalues``
(dimension ``spectrum``, labelled "4,3,2,1"), ``dist``, ``horizon``, ``seed``; inner ``mu``
and ``tau`` (one simulator call per outer point, common random numbers across it). Defaults:
Figure 1 (Section 4.1).

Per outer point and mu, the analysis reports the mean error curve, the optimal delay of
:func:`compare.optimal_delay.optimal_delay` with its bootstrap interval, the exact
linear-stability threshold (:mod:`theory.stability`) and, for random delay models, the
mean-field threshold; the checks are those of ``tradeoff`` (optimal delay vs threshold, and
vs the paper where the paper's setting applies: eta = 5e-4, Sigma = diag(4, 3, 2, 1),
constant delays). The figure puts every optimal delay against its threshold.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from compare import msgd_grid
from compare import optimal_delay as od_
from compare import tradeoff_analysis as ta
from compare.engine import Cell, Comparison, canonical_json, combine
from compare.engine.estimate import Estimate
from compare.msgd_grid import (
    DELAY_MODELS,
    DISTS,
    ERROR_KINDS,
    analysis_bytes,
    call_bytes,
    check_mus,
    check_taus,
    dataset_bytes,
)
from compare.sweep import SweepSpec
from compare.verdict import Verdict

__all__ = [
    "TradeoffSweepSpec",
    "COMPARISON",
    "cells",
    "assemble",
    "analyse",
    "figures",
    "spectrum_label",
    "estimate",
    "AXIS_ATTRS",
]

#: Outer-axis name -> dimension name in the Dataset.
DIMS = {
    "eta": "eta",
    "delay_model": "delay_model",
    "eigenvalues": "spectrum",
    "dist": "dist",
    "horizon": "horizon",
    "seed": "seed",
}
#: Units and description of each outer dimension's coordinate in raw.nc.
AXIS_ATTRS = {
    "eta": ("step size eta", "1"),
    "delay_model": ("delay model (the tau axis is its mean delay)", ""),
    "spectrum": ("spectrum of Sigma, eigenvalues comma separated", ""),
    "dist": ("data distribution", ""),
    "horizon": ("ODE time T = n eta of the runs", "1 (ODE time)"),
    "seed": ("root seed of the data stream", "1"),
}
#: Units and description of the metrics analyse adds to raw.nc (dims: outer axes, mu).
METRIC_ATTRS = {
    "optimal_delay": ("simulated optimal delay (rho rule; NaN: not measured)", "iterations"),
    "optimal_delay_lo": ("lower end of its 95% bootstrap interval", "iterations"),
    "optimal_delay_hi": ("upper end of its 95% bootstrap interval", "iterations"),
    "stability_delay": ("exact linear-stability threshold tau* (theory.stability; -1: none)", "iterations"),
}
#: The paper's setting of Figure 1: where its optimal delays apply.
PAPER_SETTING = {"eta": 5e-4, "eigenvalues": (4.0, 3.0, 2.0, 1.0), "delay_model": "constant"}


def spectrum_label(eigenvalues) -> str:
    """``(4.0, 3.0, 2.0, 1.0)`` -> ``"4,3,2,1"`` (the ``spectrum`` coordinate).

    Parameters
    ----------
    eigenvalues : sequence of float

    Returns
    -------
    str
    """
    return ",".join(f"{x:g}" for x in eigenvalues)


def _each(check):
    def f(values, name):
        return tuple(check(v, name) for v in values)

    return f


def _eta(v, name):
    from theory.validation import check_eta

    return check_eta(v, name)


def _positive(v, name):
    from theory.validation import check_positive_float

    return check_positive_float(v, name)


def _seed(v, name):
    from compare.msgd_grid import check_seed

    return check_seed(v, name)


def _choice(options):
    def f(v, name):
        if v not in options:
            raise ValueError(f"{name} must be one of {', '.join(options)}, got {v!r}")
        return v

    return f


def _spectrum(v, name):
    from theory import Problem

    if not isinstance(v, (list, tuple)) or isinstance(v, str):
        raise ValueError(f"{name} must be a list of spectra (lists of eigenvalues), got {v!r}")
    try:
        return tuple(float(x) for x in Problem([float(x) for x in v]).lambda_)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: {exc}") from None


def _unique(check):
    def f(values, name):
        out = check(values, name)
        if len(set(out)) != len(out):
            raise ValueError(f"{name} must not repeat a value, got {list(values)}")
        return out

    return f


@dataclasses.dataclass(frozen=True)
class TradeoffSweepSpec(SweepSpec):
    """A sweep with tradeoff's metrics (fields of SweepSpec, plus ``rho``, ``error``, ``cell_taus``)."""

    ANALYSIS = ("rho", "error")
    EXECUTION = ("cell_taus",)
    INNER = ("mu", "tau")
    AXES = {
        "eta": (_unique(_each(_eta)), (5e-4,)),
        "delay_model": (_unique(_each(_choice(DELAY_MODELS))), ("constant",)),
        "eigenvalues": (_unique(_each(_spectrum)), ((4.0, 3.0, 2.0, 1.0),)),
        "dist": (_unique(_each(_choice(DISTS))), ("gaussian",)),
        "horizon": (_unique(_each(_positive)), (10.0,)),
        "seed": (_unique(_each(_seed)), (0,)),
        "mu": (check_mus, od_.PAPER_MUS),
        "tau": (check_taus, tuple(range(161))),
    }
    metrics: str = "tradeoff"
    rho: float = od_.DEFAULT_RHO
    error: str = "angle"
    cell_taus: int = 32

    def validate(self) -> None:
        """Check the grid, ``rho``, ``error`` and ``cell_taus`` (ValueError naming the key)."""
        import math

        from theory.validation import check_positive_int

        if self.metrics != "tradeoff":
            raise ValueError(f"metrics must be 'tradeoff' for this spec, got {self.metrics!r}")
        super().validate()
        if not isinstance(self.rho, (int, float)) or not math.isfinite(self.rho) or self.rho < 0:
            raise ValueError(f"rho must be a finite number >= 0, got {self.rho!r}")
        self.set("rho", float(self.rho))
        if self.error not in ERROR_KINDS:
            raise ValueError(f"error must be one of {', '.join(ERROR_KINDS)}, got {self.error!r}")
        self.set("cell_taus", check_positive_int(self.cell_taus, "cell_taus"))


def _coords(point: dict) -> dict:
    return {DIMS[k]: (spectrum_label(v) if k == "eigenvalues" else v) for k, v in point.items()}


def cells(spec: TradeoffSweepSpec) -> list[Cell]:
    """Per outer point (one data stream, one batch group), blocks of ``cell_taus`` delays x every mu.

    Parameters
    ----------
    spec : TradeoffSweepSpec

    Returns
    -------
    list of Cell
    """
    out = []
    taus, mus = spec.axis("tau"), spec.axis("mu")
    for point in spec.outer_points():
        group = canonical_json(point)
        for k in range(0, len(taus), spec.cell_taus):
            params = msgd_grid.grid_params(
                mus=mus,
                taus=taus[k : k + spec.cell_taus],
                **{k2: point[k2] for k2 in ("eta", "delay_model", "eigenvalues", "dist", "horizon")},
            )
            out.append(
                Cell(
                    "sweep:tradeoff",
                    msgd_grid.FN,
                    params,
                    runs=spec.runs,
                    seed=point["seed"],
                    coords=_coords(point),
                    group=group,
                )
            )
    return out


def estimate(spec: TradeoffSweepSpec) -> Estimate:
    """Peak memory and work of a sweep, before any cell runs (issue 13).

    In-process the cells of one outer point (one data stream) share a simulator call
    (:func:`compare.msgd_grid.call_bytes` of its mu x tau grid; the largest point counts);
    the cells' Datasets of every point, their assembly and the raw Dataset are held (4 x
    :func:`compare.msgd_grid.dataset_bytes`), plus the bootstrap of one curve.

    Parameters
    ----------
    spec : TradeoffSweepSpec

    Returns
    -------
    Estimate
        ``chain_steps`` = sum over outer points of mus x taus x runs x iterations.
    """
    taus, n_mu = spec.axis("tau"), len(spec.axis("mu"))
    peak, steps, d_max, points = 0, 0.0, 1, spec.outer_points()
    for point in points:
        d = len(point["eigenvalues"])
        n = max(1, int(round(point["horizon"] / point["eta"])))
        peak = max(peak, call_bytes(n_mu, taus, point["delay_model"], spec.runs, n, d))
        steps += float(n_mu * len(taus) * spec.runs * n)
        d_max = max(d_max, d)
    memory = (
        peak
        + 4 * dataset_bytes(len(points) * n_mu, len(taus), spec.runs, d_max)
        + analysis_bytes(len(taus), spec.runs, d_max)
    )
    reduce = ("runs", "grid.tau", "grid.mu", "the outer axes (grid.seed, grid.dist, ...)")
    return Estimate(memory_bytes=memory, chain_steps=steps, reduce=reduce)


def assemble(spec: TradeoffSweepSpec, plan: list[Cell], datasets: list):
    """One Dataset with a dimension per axis, in the spec's order.

    Parameters
    ----------
    spec : TradeoffSweepSpec
    plan : list of Cell
        :func:`cells` of ``spec``.
    datasets : list of xarray.Dataset
        The cells' Datasets, in plan order.

    Returns
    -------
    xarray.Dataset
        ``h_final`` (eta, delay_model, spectrum, dist, horizon, seed, mu, tau, run, coord),
        ``diverged`` (..., run), ``staleness_mean`` (..., tau).
    """
    order = {
        DIMS[a]: ([spectrum_label(v) for v in spec.axis(a)] if a == "eigenvalues" else list(spec.axis(a)))
        for a in spec.outer_axes()
    }
    order.update({"mu": list(spec.axis("mu")), "tau": list(spec.axis("tau"))})
    ds = combine(plan, datasets, order=order)
    for attr in ("n_steps", "eta", "horizon", "delay_model"):  # differ between points: coordinates say them
        ds.attrs.pop(attr, None)
    for dim, (description, units) in AXIS_ATTRS.items():
        if dim in ds.coords:
            ds[dim].attrs.update(long_name=description, description=description, units=units)
    return ds


def _label(point: dict, spec: TradeoffSweepSpec, mu: float) -> str:
    """Check/record name: the axes that vary in this sweep, then mu."""
    parts = [f"{DIMS[k]}={_coords({k: v})[DIMS[k]]}" for k, v in point.items() if len(spec.axis(k)) > 1]
    return ",".join([*parts, f"mu={ta.mu_key(mu)}"])


def _point_records(spec, point, errs_mu, taus, diverged) -> tuple[list[dict], list]:
    """Records and checks of one outer point; ``errs_mu``: (mu, tau, run) errors, ``diverged``
    the same shape, bool. A curve with most runs diverged at tau = 0 has no optimal delay: its
    checks are not measured."""
    from compare._common import stability
    from theory import Problem
    from theory.stability import mode_rates

    problem = Problem(list(point["eigenvalues"]), dist=point["dist"])
    spacing = float(np.max(np.diff(taus))) if taus.size > 1 else 1.0
    paper_setting = all(point[k] == v for k, v in PAPER_SETTING.items())
    records, checks = [], []
    for i, mu in enumerate(spec.axis("mu")):
        od = od_.bootstrap_optimal_delay(taus, errs_mu[i].T, spec.rho, seed=point["seed"])
        st = stability(problem, mu, point["eta"])
        th = {
            "stability_delay": int(st.max_stable_delay),
            "critical_delay": float(st.critical_delay),
            "binding_mode": st.binding_mode,
        }
        if point["delay_model"] != "constant":
            s_rad = point["eta"] * mode_rates(problem)[st.binding_mode]
            th["mean_field_delay"] = ta.mean_field_delay(mu, s_rad, point["delay_model"], taus)
        paper = od_.paper_optimal_delay(mu) if paper_setting else None
        name = _label(point, spec, mu)
        n_div0 = int(diverged[i, 0].sum())
        measured = n_div0 <= ta.MAX_DIVERGED_AT_ZERO * diverged.shape[-1]
        nan = float("nan")
        records.append(
            {
                **{k: (list(v) if k == "eigenvalues" else v) for k, v in point.items()},
                "mu": mu,
                "measured": bool(measured),
                "optimal_delay": od.estimate if measured else nan,
                "optimal_delay_ci": [od.lo, od.hi] if measured else [nan, nan],
                "censored": bool(od.censored) if measured else False,
                "paper_optimal_delay": paper,
                "diverged_runs": int(diverged[i].sum()),
                "diverged_at_zero": n_div0,
                **th,
                "name": name,
            }
        )
        mu_checks = ta.checks_for_mu(name, od, paper, th, spacing, float(taus[-1]), point["delay_model"])
        if not measured:
            why = (
                f"not measured: {n_div0} of {diverged.shape[-1]} runs diverged at tau = 0, so the rule's "
                "reference error is the divergence cap and no optimal delay is defined"
            )
            mu_checks = [ta.unmeasured(c, why) for c in mu_checks]
        checks.extend(mu_checks)
    return records, checks


def analyse(spec: TradeoffSweepSpec, ds, info: dict | None = None) -> Verdict:
    """Per outer point and mu: optimal delay and its checks; metrics added to the raw Dataset.

    Parameters
    ----------
    spec : TradeoffSweepSpec
    ds : xarray.Dataset
        Of :func:`assemble` (or a raw.nc, whose metric variables are recomputed).
    info : dict, optional
        ``{"summary": RunSummary}`` of the engine.

    Returns
    -------
    Verdict
    """
    taus = np.asarray(spec.axis("tau"))
    records, checks = [], []
    metric = {
        k: np.full(tuple(ds.sizes[DIMS[a]] for a in spec.outer_axes()) + (len(spec.axis("mu")),), np.nan)
        for k in ("optimal_delay", "optimal_delay_lo", "optimal_delay_hi", "stability_delay")
    }
    for point in spec.outer_points():
        idx = _coords(point)
        sub = ds.sel(idx)
        div = sub["diverged"].values.astype(bool)
        errs = od_.horizon_error(sub["h_final"].values, div, spec.error)  # (mu, tau, run)
        recs, chks = _point_records(spec, point, errs, taus, div)
        records += recs
        checks += chks
        where = tuple(list(ds[DIMS[a]].values).index(idx[DIMS[a]]) for a in spec.outer_axes())
        for i, r in enumerate(recs):
            metric["optimal_delay"][(*where, i)] = r["optimal_delay"]
            metric["optimal_delay_lo"][(*where, i)], metric["optimal_delay_hi"][(*where, i)] = r[
                "optimal_delay_ci"
            ]
            metric["stability_delay"][(*where, i)] = r["stability_delay"]
    raw = ds.copy()
    dims = tuple(DIMS[a] for a in spec.outer_axes()) + ("mu",)
    for k, v in metric.items():
        description, units = METRIC_ATTRS[k]
        raw[k] = (dims, v, {"long_name": description, "description": description, "units": units})
    summary = (info or {}).get("summary")
    results = {
        "axes": {DIMS[a]: list(ds[DIMS[a]].values.tolist()) for a in spec.outer_axes()},
        "mus": list(spec.axis("mu")),
        "taus": [int(t) for t in taus],
        "records": records,
        "simulation_s": float(getattr(summary, "cell_seconds", 0.0)),
        "table": _table(records),
    }
    return Verdict(
        command="sweep",
        parameters=spec.to_dict(),
        seed=int(spec.axis("seed")[0]),
        checks=checks,
        results=results,
        raw=raw,
        notes=_notes(records, spec.runs, len(taus)),
    )


def _notes(records: list[dict], runs: int, n_tau: int) -> list[str]:
    """How many runs diverged; curves without a stable delay or without an optimal delay."""
    notes = [ta.run_divergence_note(sum(r["diverged_runs"] for r in records), len(records) * n_tau * runs)]
    for r in records:
        n0 = r["diverged_at_zero"]
        if r["stability_delay"] < 0:
            notes.append(f"{r['name']}: no constant delay is linearly stable (tau = 0 is past the threshold)")
        if not r["measured"]:
            notes.append(f"{r['name']}: {n0} of {runs} runs diverged at tau = 0 (no optimal delay)")
    return [n for n in notes if n]


def _table(records: list[dict]) -> str:
    rows = [("point", "optimal [95% CI]", "stable tau*", "mean-field", "paper")]
    for r in records:
        lo, hi = r["optimal_delay_ci"]
        rows.append(
            (
                r["name"],
                f"{r['optimal_delay']:g}{'+' if r['censored'] else ''} [{lo:g}, {hi:g}]"
                if r["measured"]
                else "not measured (diverged)",
                str(r["stability_delay"]),
                "-" if r.get("mean_field_delay") is None else str(r["mean_field_delay"]),
                "-" if r["paper_optimal_delay"] is None else str(r["paper_optimal_delay"]),
            )
        )
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def figures(spec, ds, verdict: Verdict, out_dir, fmt: str) -> list[str]:
    """Every simulated optimal delay (95% bootstrap interval) against its exact stability threshold.

    Parameters
    ----------
    spec : TradeoffSweepSpec
    ds : xarray.Dataset
        Unused (the numbers are in ``verdict.results["records"]``).
    verdict : Verdict
        Of :func:`analyse`.
    out_dir : path
    fmt : str

    Returns
    -------
    list of str
        ``["sweep_tradeoff.<fmt>"]``.
    """
    from compare import plots

    recs = verdict.results["records"]
    fig, axes = plots.new_figure(1, 1)
    ax = axes[0, 0]
    fig.set_size_inches(6.0, 4.6)
    models = sorted({r["delay_model"] for r in recs})
    top = max(
        [r["stability_delay"] for r in recs]
        + [r["optimal_delay_ci"][1] for r in recs if np.isfinite(r["optimal_delay_ci"][1])]
        + [1]
    )
    line = np.array([0.0, 1.05 * top])
    ax.plot(line, line, "k-", lw=0.8, label="optimal = threshold")
    ax.fill_between(
        line,
        line,
        (1 + od_.STABILITY_RTOL) * line,
        color="0.85",
        label=f"threshold to +{od_.STABILITY_RTOL:.0%} (part of the checks' allowance)",
    )
    for k, model in enumerate(models):
        sel = [r for r in recs if r["delay_model"] == model]
        x = np.array([r["stability_delay"] for r in sel], dtype=float)
        y = np.array([r["optimal_delay"] for r in sel], dtype=float)
        lo = np.array([r["optimal_delay_ci"][0] for r in sel])
        hi = np.array([r["optimal_delay_ci"][1] for r in sel])
        cens = np.array([r["censored"] for r in sel], dtype=bool)
        keep = np.isfinite(y)  # a curve without an optimal delay (diverged at tau = 0) is not drawn
        x, y, lo, hi, cens = x[keep], y[keep], lo[keep], hi[keep], cens[keep]
        color = plots.COLORS[k % len(plots.COLORS)]
        ax.errorbar(
            x[~cens],
            y[~cens],
            yerr=plots.ci_yerr(y[~cens], lo[~cens], hi[~cens]),
            fmt="o",
            ms=4,
            capsize=2,
            color=color,
            label=f"{model} delays ({int((~cens).sum())} points, 95% bootstrap CI)",
        )
        if cens.any():  # the error never rose enough on the grid: only a lower bound
            ax.plot(
                x[cens], y[cens], "^", ms=6, mfc="white", color=color, label=f"{model}: censored (grid end)"
            )
    ax.set_xlabel("exact linear-stability threshold tau* (theory.stability), iterations")
    ax.set_ylabel("simulated optimal delay (rho rule), iterations")
    ax.set_title(
        f"sweep: {len(recs)} (point, mu) optimal delays, {spec.runs} runs each",
        fontsize=plots.STYLE["fontsize"],
    )
    ax.legend(fontsize=plots.STYLE["fontsize"] - 1)
    return [plots.save(fig, out_dir, "sweep_tradeoff", fmt)]


#: The comparison the sweep command runs for ``metrics = "tradeoff"``.
COMPARISON = Comparison(
    name="sweep:tradeoff",
    spec=TradeoffSweepSpec,
    from_args=lambda args: args.sweep_spec,
    cells=cells,
    analyse=analyse,
    figures=figures,
    assemble=assemble,
    report=lambda verdict: verdict.results["table"],
    estimate=estimate,
)
