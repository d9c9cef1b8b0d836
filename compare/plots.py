"""Shared figure style of the comparisons and one way to save figures.

Figures are built on :class:`matplotlib.figure.Figure` directly (no pyplot state), so
they work under any backend and in threads; ``compare.__main__`` also selects Agg.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

__all__ = ["STYLE", "COLORS", "new_figure", "save", "band", "log_log", "ci_yerr"]

#: rcParams-like style applied to every figure of the toolkit.
STYLE = {
    "figsize_per_panel": (4.2, 3.2),
    "dpi": 120,
    "grid_alpha": 0.3,
    "band_alpha": 0.25,
    "fontsize": 9,
}
#: A colour-blind friendly cycle (Okabe & Ito, 2008).
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


def new_figure(nrows: int = 1, ncols: int = 1, *, title: str | None = None, squeeze: bool = False):
    """A Figure with a grid of axes in the house style.

    Parameters
    ----------
    nrows, ncols : int, default 1
        Grid of panels; the figure is ``STYLE["figsize_per_panel"]`` per panel.
    title : str, optional
        Figure title (suptitle).
    squeeze : bool, default False
        As in ``Figure.subplots``: False keeps ``axes`` 2-d even for one panel.

    Returns
    -------
    fig : matplotlib.figure.Figure
        Constrained layout, no pyplot state.
    axes : ndarray of Axes, shape (nrows, ncols)
        Gridded, house font size (a single Axes or 1-d array with ``squeeze=True``).
    """
    w, h = STYLE["figsize_per_panel"]
    fig = Figure(figsize=(w * ncols, h * nrows), dpi=STYLE["dpi"], layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=squeeze)
    for ax in np.ravel(axes):
        ax.grid(True, alpha=STYLE["grid_alpha"])
        ax.tick_params(labelsize=STYLE["fontsize"])
    if title:
        fig.suptitle(title, fontsize=STYLE["fontsize"] + 1)
    return fig, axes


def band(ax, x, lo, hi, color, label=None):
    """Shade the region between ``lo`` and ``hi`` in the house style.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    x : array_like, shape (n,)
        Abscissae.
    lo, hi : array_like, shape (n,)
        Lower and upper edges (e.g. a confidence band).
    color : str
        Fill colour (drawn with ``STYLE["band_alpha"]``).
    label : str, optional
        Legend entry of the band.
    """
    ax.fill_between(x, lo, hi, color=color, alpha=STYLE["band_alpha"], linewidth=0, label=label)


def log_log(ax) -> None:
    """Put both axes of ``ax`` on a log scale (the order-in-eta and scaling-law panels).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    """
    ax.set_xscale("log")
    ax.set_yscale("log")


def ci_yerr(y, lo, hi) -> list[np.ndarray]:
    """``yerr`` of ``ax.errorbar`` for an interval [lo, hi] around y (clipped at 0 when y lies outside).

    Parameters
    ----------
    y : array_like, shape (n,)
        Point estimates.
    lo, hi : array_like, shape (n,)
        Interval bounds.

    Returns
    -------
    list of ndarray
        ``[max(y - lo, 0), max(hi - y, 0)]``, each of shape (n,): the lower and upper error-bar lengths.
    """
    y = np.asarray(y)
    return [np.maximum(y - np.asarray(lo), 0), np.maximum(np.asarray(hi) - y, 0)]


def save(fig: Figure, out_dir, name: str, fmt: str = "png") -> str:
    """Save ``fig`` as ``out_dir/name.fmt``; return the path relative to ``out_dir`` (a str).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    out_dir : str or Path
        Directory (created if missing).
    name : str
        File name without extension.
    fmt : str, default "png"
        One of png, pdf, svg (ValueError naming ``fmt`` otherwise).

    Returns
    -------
    str
        ``"name.fmt"``, the path relative to ``out_dir`` (as listed in ``verdict.figures``).
    """
    if fmt not in ("png", "pdf", "svg"):
        raise ValueError(f"fmt must be one of png, pdf, svg, got {fmt!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rel = f"{name}.{fmt}"
    fig.savefig(out_dir / rel, dpi=STYLE["dpi"])
    return rel
