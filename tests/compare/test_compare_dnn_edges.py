"""Edge cases of ``compare dnn``'s analysis and figures: an insignificant trend, no sharpness measured."""

from __future__ import annotations

import math

import numpy as np
import xarray as xr

from compare import dnn

MS = [1, 4]
MUS = [0.5, 0.9]


def _dataset(final_acc, sharp=1.0):
    """A Dataset shaped like the assembled cells: final accuracy ``final_acc`` (M, mu, run), constant
    sharpness, staleness with mean exactly M - 1."""
    final_acc = np.asarray(final_acc, dtype=float)
    nM, nmu, runs = final_acc.shape
    E, n_steps = 2, 100
    acc = np.full((nM, nmu, runs, E + 1), 0.5)
    acc[..., -1] = final_acc
    st = np.zeros((nM, nmu, runs, n_steps), dtype=np.int32)
    for i, M in enumerate(MS):
        st[i, :, :, ::2] = 2 * (M - 1)
    sh = np.full((nM, nmu, runs, E + 1), sharp)
    dims = ("M", "mu", "seed", "epoch")
    return xr.Dataset(
        {
            "accuracy": (dims, acc),
            "sharpness": (dims, sh),
            "sharpness_residual": (dims, np.zeros_like(sh)),
            "staleness": (("M", "mu", "seed", "step"), st),
            "diverged": (("M", "mu", "seed"), np.zeros((nM, nmu, runs), dtype=bool)),
            "eta": (("epoch",), np.full(E + 1, 0.1)),
        },
        coords={"M": MS, "mu": MUS, "seed": np.arange(runs), "epoch": np.arange(E + 1),
                "step": np.arange(n_steps)},
        attrs={"n_classes": 10, "dataset": "synthetic", "delay_model": "pipeline"},
    )


def _spec(**kw):
    base = {"Ms": tuple(MS), "mus": tuple(MUS), "runs": 3, "epochs": 2, "sharpness_every": 1}
    return dnn.Spec(**{**base, **kw})


def test_a_trend_carried_by_one_run_is_rejected_not_an_error():
    """Run 0 alone makes mu = 0.9 best at M = 1 and mu = 0.5 best at M = 4 (the other two runs say the
    opposite, by less). The full sample's rho is -1, but a bootstrap resample holds run 0 with probability
    1 - (2/3)^3 = 0.70 (rho = -1) and otherwise has rho = +1: SE = sqrt(1 - 0.4^2) = 0.92, so the
    one-sided bound -z_0.95 SE = -1.5 lies below rho's range [-1, 1]. The check must fail (the trend is not
    significant) and still state its acceptance region as an ordered pair."""
    acc = np.empty((2, 2, 3))
    acc[0, 0], acc[0, 1] = [0.90, 0.92, 0.92], [0.99, 0.91, 0.91]  # M = 1: mu 0.9 best iff run 0 is in
    acc[1, 0], acc[1, 1] = [0.99, 0.91, 0.91], [0.90, 0.92, 0.92]  # M = 4: mu 0.5 best iff run 0 is in
    c = {k.name: k for k in dnn.analyse(_spec(), _dataset(acc)).checks}["best_momentum_falls"]
    assert c.observed == -1.0
    assert c.acceptance[1] < -1.0 and c.acceptance[0] == -math.inf
    assert not c.holds


def test_figures_without_sharpness(tmp_path):
    """--sharpness-every 0: no stability ratio to draw; the Figure 2 analogue is still written and the
    sharpness figure is not."""
    acc = np.array([[[0.90, 0.91, 0.92], [0.95, 0.96, 0.97]], [[0.93, 0.94, 0.95], [0.50, 0.55, 0.60]]])
    ds = _dataset(acc, sharp=np.nan)
    spec = _spec(sharpness_every=0)
    v = dnn.analyse(spec, ds)
    assert v.results["predicted_best_momentum"] == {} and v.results["sharpness_epochs"] == []
    files = dnn.figures(spec, ds, v, tmp_path)
    assert [p.rsplit("/", 1)[-1] for p in map(str, files)] == ["dnn_figure2.png"]
    assert (tmp_path / "dnn_figure2.png").stat().st_size > 0
