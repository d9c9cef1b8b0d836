"""compare.dnn: the Figure 2 analogue's stability thresholds, prediction rule, checks and CLI (issue 12)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from compare import dnn
from compare.__main__ import main
from theory import stability


# ---------------------------------------------------------------------------------------
# stability thresholds
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mu", [0.0, 0.3, 0.9])
def test_threshold_rate_by_hand(mu):
    """M = 1: the undelayed heavy ball loses stability through z = -1 at s = 2(1 + mu). Constant tau = 1:
    z^2 - (1 + mu) z + mu + s has Jury conditions |mu + s| < 1, 1 + mu < 1 + mu + s, so s* = 1 - mu."""
    for model in ("constant", "pipeline"):
        assert dnn.threshold_rate(mu, 1, model) == pytest.approx(2 * (1 + mu), rel=1e-12)
    assert dnn.threshold_rate(mu, 2, "constant") == pytest.approx(1 - mu, rel=1e-9)


def _mean_field_growth(mu, s, M, n=20000):
    """|x_n| of the mean-field recursion x_{k+1} = (1+mu) x_k - mu x_{k-1} - s sum_j p_j x_{k-j}, geometric
    p_j = (1/M)(1-1/M)^j truncated where its tail is < 1e-16, from x_k = 1 for k <= 0: an oracle
    independent of theory.stability's root finding."""
    q = 1 - 1 / M
    J = int(np.ceil(np.log(1e-16) / np.log(q)))
    p = (1 - q) * q ** np.arange(J)
    x = np.ones(n + J)
    for k in range(J, n + J - 1):
        x[k + 1] = (1 + mu) * x[k] - mu * x[k - 1] - s * np.dot(p, x[k : k - J : -1])
    return abs(x[-1])


@pytest.mark.parametrize("mu,M", [(0.9, 4), (0.5, 8)])
def test_threshold_rate_pipeline_separates_decay_from_growth(mu, M):
    """2% below the mean-field threshold the recursion decays, 2% above it grows (iterated 20000 steps:
    at 2% past a simple crossing the modulus is ~1 +- 1e-3 per step, so the end value is e^{+-20} off 1)."""
    s_star = dnn.threshold_rate(mu, M, "pipeline")
    assert _mean_field_growth(mu, 0.98 * s_star, M) < 1e-3
    assert _mean_field_growth(mu, 1.02 * s_star, M) > 1e3


def test_spearman_matches_scipy_with_ties():
    from scipy.stats import spearmanr

    x = [1, 2, 4, 8, 16]
    for y in ([0.9, 0.9, 0.7, 0.5, 0.5], [0.1, 0.5, 0.3, 0.9, 0.7], [0.9, 0.7, 0.7, 0.7, 0.9]):
        assert dnn._spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)
    assert dnn._spearman(x, [0.5] * 5) == 0.0


def test_threshold_rate_constant_matches_exact_max_stable_delay():
    """Just below s* the delay M - 1 is stable, just above it is not (theory.stability, exact)."""
    for mu, M in [(0.7, 4), (0.9, 16), (0.1, 8)]:
        s = dnn.threshold_rate(mu, M, "constant")
        assert stability.max_stable_delay(mu, s * (1 - 1e-6)) >= M - 1
        assert stability.max_stable_delay(mu, s * (1 + 1e-6)) < M - 1


@pytest.mark.parametrize("mu,M", [(0.9, 2), (0.5, 8), (0.1, 16)])
def test_mean_square_threshold_is_stricter_and_exact_at_its_edge(mu, M):
    """Mean-square stability implies mean stability, so s*_ms <= s*_mf; and just below / above s*_ms the
    pipeline's second-moment recursion (theory.random_delays) is stable / unstable."""
    from theory import random_delays as rd

    ms = dnn.threshold_rate(mu, M, "pipeline", "mean-square")
    assert ms <= dnn.threshold_rate(mu, M, "pipeline", "mean-field") * (1 + 1e-9)
    law = rd.WorkerPipelineLaw(M)
    assert rd.mean_square_stability(mu, ms * (1 - 1e-6), law).mean_square_stable
    assert not rd.mean_square_stability(mu, ms * (1 + 1e-6), law).mean_square_stable


def test_predict_best_rule():
    mus = [0.1, 0.5, 0.9]
    ref = [0.90, 0.95, 0.97]
    assert dnn.predict_best(mus, ref, [0.2, 0.5, 0.8]) == (0.9, [])
    assert dnn.predict_best(mus, ref, [0.2, 0.5, 1.2]) == (0.5, [0.9])
    assert dnn.predict_best(mus, ref, [0.2, 1.0, 1.2]) == (0.1, [0.5, 0.9])  # ratio 1 counts as unstable
    assert dnn.predict_best(mus, ref, [3.0, 2.0, 5.0]) == (0.5, [0.1, 0.5, 0.9])  # all unstable: least


# ---------------------------------------------------------------------------------------
# the analysis on synthetic Datasets (known answers)
# ---------------------------------------------------------------------------------------
MS = [1, 2, 4, 8]
MUS = [0.1, 0.5, 0.9]


def _synthetic(mean_acc, runs=8, noise=0.002, sharp=1.0, seed=0):
    """A Dataset shaped like train_grid's: final accuracy mean_acc[M][mu] + N(0, noise) per run,
    constant sharpness, pipeline-like staleness with mean exactly M - 1 per run."""
    rng = np.random.default_rng(seed)
    nM, nmu, E, n_steps = len(MS), len(MUS), 4, 400
    acc = np.full((nM, nmu, runs, E + 1), 0.5)
    acc[..., -1] = np.asarray(mean_acc)[:, :, None] + noise * rng.standard_normal((nM, nmu, runs))
    st = np.zeros((nM, nmu, runs, n_steps), dtype=np.int32)
    for i, M in enumerate(MS):
        st[i, :, :, ::2] = 2 * (M - 1)  # 0, 2(M-1), 0, ...: mean M - 1 after any even transient
    st[:, :, :, 1::2] = 0
    sh = np.full((nM, nmu, runs, E + 1), sharp)
    return xr.Dataset(
        {
            "accuracy": (("M", "mu", "seed", "epoch"), acc),
            "sharpness": (("M", "mu", "seed", "epoch"), sh),
            "sharpness_residual": (("M", "mu", "seed", "epoch"), np.zeros_like(sh)),
            "staleness": (("M", "mu", "seed", "step"), st),
            "diverged": (("M", "mu", "seed"), np.zeros((nM, nmu, runs), dtype=bool)),
            "eta": (("epoch",), np.full(E + 1, 0.1)),
        },
        coords={"M": MS, "mu": MUS, "seed": np.arange(runs), "epoch": np.arange(E + 1),
                "step": np.arange(n_steps)},
        attrs={"n_classes": 10, "dataset": "synthetic", "delay_model": "pipeline"},
    )


def _spec(**kw):
    return dnn.Spec(Ms=tuple(MS), mus=tuple(MUS), runs=8, epochs=4, sharpness_every=1, **kw)


def _checks(v):
    return {c.name: c for c in v.checks}


FALLING = [[0.90, 0.93, 0.96], [0.90, 0.95, 0.94], [0.92, 0.94, 0.60], [0.95, 0.80, 0.20]]
FLAT = [[0.90, 0.93, 0.96]] * 4


def test_analysis_detects_a_falling_best_momentum():
    v = dnn.analyse(_spec(), _synthetic(FALLING))
    c = _checks(v)
    assert v.results["best_momentum"] == {"1": 0.9, "2": 0.5, "4": 0.5, "8": 0.1}
    assert c["best_momentum_falls"].holds and c["best_momentum_falls"].observed < -0.9
    assert c["mu_max_worst_at_M_max"].holds
    assert c["mu_max_worst_at_M_max"].observed == pytest.approx(0.20 - 0.80, abs=0.01)
    assert all(c[f"mean_staleness[M={M}]"].holds for M in MS)
    acc = v.results["accuracy"]
    assert set(acc) == {"1", "2", "4", "8"} and len(acc["4"]["0.5"]) == 8


def test_analysis_rejects_a_flat_best_momentum():
    """The same best momentum at every M: no trend (rho = 0), and mu = 0.9 is the best, not the worst."""
    c = _checks(dnn.analyse(_spec(), _synthetic(FLAT)))
    assert c["best_momentum_falls"].observed == 0.0 and not c["best_momentum_falls"].holds
    assert not c["mu_max_worst_at_M_max"].holds


def test_analysis_rejects_a_noisy_trend():
    """A falling best momentum hidden in noise 10x the accuracy differences is not declared significant."""
    c = _checks(dnn.analyse(_spec(), _synthetic(FALLING, noise=0.5)))
    assert not c["best_momentum_falls"].holds


def test_stability_prediction_check_follows_the_sharpness():
    """With sharpness 1 and eta 0.1 (s_eff = 0.1): mean-field thresholds make mu = 0.9 unstable from M = 2
    (s* = 0.122 > 0.1 > s*(M=4) = 0.048), so the predicted best at M = 4, 8 is 0.5; the FALLING data agree
    at M = 1, 2, 4 and disagree at M = 8 (best 0.1, 15 points above 0.5)."""
    v = dnn.analyse(_spec(), _synthetic(FALLING))
    c = _checks(v)
    assert v.results["predicted_best_momentum"] == {"1": 0.9, "2": 0.9, "4": 0.5, "8": 0.5}
    assert v.results["predicted_unstable"]["4"] == [0.9]
    assert c["stability_prediction[M=4]"].holds
    assert not c["stability_prediction[M=2]"].holds  # predicted 0.9 (94%) vs measured 0.5 (95%)
    assert not c["stability_prediction[M=8]"].holds
    # the mean-square theory (stricter) predicts at least as many unstable momenta, and is reported beside
    other = v.results["other_theories"]["mean-square"]
    assert all(set(v.results["predicted_unstable"][k]) <= set(other["predicted_unstable"][k]) for k in other[
        "predicted_unstable"])
    vms = dnn.analyse(_spec(stability="mean-square"), _synthetic(FALLING))
    assert vms.results["predicted_best_momentum"] == other["predicted_best_momentum"]
    # a sharper landscape makes every momentum's ratio larger, so fewer are predicted stable
    v3 = dnn.analyse(_spec(), _synthetic(FALLING, sharp=30.0))
    assert len(v3.results["predicted_unstable"]["8"]) > len(v.results["predicted_unstable"]["8"])


def test_staleness_check_fails_on_wrong_staleness():
    ds = _synthetic(FALLING)
    ds["staleness"][2] = ds["staleness"][2] + 1  # M = 4 saw mean 4 instead of 3
    ds["staleness"][2, :, 0] = ds["staleness"][2, :, 0] + 1  # with some spread over runs
    c = _checks(dnn.analyse(_spec(), ds))
    assert not c["mean_staleness[M=4]"].holds and c["mean_staleness[M=2]"].holds


# ---------------------------------------------------------------------------------------
# cells and the CLI
# ---------------------------------------------------------------------------------------
def test_cell_alone_equals_cell_in_batch():
    """A cell's numbers do not depend on the batch it is computed in (seeds from content)."""
    spec = dnn.Spec(Ms=(1, 3), mus=(0.5, 0.9), runs=2, epochs=1, hidden=3, batch_size=128,
                    sharpness_every=1, sharpness_iters=2, hessian_samples=32)
    cells = dnn.cells(spec)
    batch = dnn.cell_batch([c.params for c in cells], spec.seed, spec.runs)
    alone = dnn.cell(cells[3].params, spec.seed, spec.runs)
    for var in ("accuracy", "sharpness", "staleness", "train_loss"):
        assert np.array_equal(alone[var].values, batch[3][var].values, equal_nan=True), var
    ds = dnn.assemble(spec, cells, batch)
    assert ds["M"].values.tolist() == [1, 3] and ds["mu"].values.tolist() == [0.5, 0.9]
    assert np.array_equal(ds["accuracy"].sel(M=3, mu=0.9).values, alone["accuracy"].values)
    assert dict(ds.sizes) == {"M": 2, "mu": 2, "seed": 2, "epoch": 2, "step": ds.sizes["step"]}
    assert ds["eta"].dims == ("epoch",)


@pytest.mark.parametrize(
    "argv,start",
    [
        (["--Ms", "0,2"], "error: --Ms must be integers >= 1"),
        (["--Ms", "1,2.5"], "error: --Ms must be integers >= 1"),
        (["--mus", "0.5,1.0"], "error: --mus must lie in [0, 1)"),
        (["--mus=-0.1,0.5"], "error: --mus must lie in [0, 1)"),
        (["--dataset", "mnist"], "error: --dataset must be one of digits"),
        (["--delay-model", "uniform"], "error: --delay-model must be one of pipeline, constant"),
        (["--pipeline-workers", "4"], "error: --pipeline-workers is not used by dnn"),
        (["--runs", "1"], "error: --runs must be >= 2"),
        (["--milestones", "0.5,0.2"], "error: --milestones must be increasing"),
        (["--stability", "exact"], "error: --stability must be one of mean-field, mean-square"),
    ],
)
def test_bad_options_exit_2_with_one_line(argv, start, capsys, tmp_path):
    code = main(["dnn", "--quick", *argv, "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(start), err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_quick_run_results_contract(tmp_path, capsys):
    """--quick writes best_momentum and accuracy per (M, mu) with one entry per run, and the table."""
    assert main(["dnn", "--quick", "--no-progress", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    data = json.loads((tmp_path / "verdict.json").read_text())
    res = data["results"]
    assert set(res["best_momentum"]) == {"1", "4"}
    assert set(res["accuracy"]["4"]) == {"0.5", "0.9"} and len(res["accuracy"]["4"]["0.9"]) == 3
    assert set(res["predicted_best_momentum"]) == {"1", "4"}
    assert "predicted" in out and "best" in out
    for c in data["checks"]:
        lo, hi = c["acceptance"]
        assert c["holds"] == (lo <= c["observed"] <= hi), c["name"]
    assert {"dnn_figure2.png", "dnn_sharpness.png"} <= set(data["figures"])
