"""Tests of ``compare.remark7``: Mitliagkas et al.'s identity on an exact tiny case, the staleness of
the exponential pipeline against the geometric law, the warm-up lag, the phase times by hand, checks
that fail on wrong data, a tiny real cell, bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import xarray as xr

from compare import remark7 as r7
from compare.__main__ import main
from simulate import WorkerPipeline
from theory import Problem

PROBLEM = Problem([4, 3, 2, 1])


# ---------------------------------------------------------------------------------------
# the identity (Mitliagkas et al. 2016, Thm 3)
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("M", [1, 3, 8])
def test_expected_update_identity_on_any_sequence(M):
    g = np.random.default_rng(M).standard_normal((60, 3))
    left, right = r7.expected_update_identity(g, 0.01, M)
    np.testing.assert_allclose(left, right, rtol=0, atol=1e-14)
    # the mapping needs step alpha / M: with step alpha the recursion is wrong
    q = 1 - 1 / M
    wrong = np.empty_like(g)
    wrong[0] = 0.01 * g[0]
    for t in range(1, g.shape[0]):
        wrong[t] = q * wrong[t - 1] + 0.01 * g[t]
    assert M == 1 or not np.allclose(left, wrong)


def test_expected_update_of_async_sgd_is_heavy_balls_on_an_exact_tiny_case():
    """Exact expectation over every staleness path of a nonlinear scalar Async-SGD.

    v_{t+1} = v_t + alpha F(v_{t - tau_t}), F(v) = v - v^3, tau_t i.i.d. geometric with mu_L = 1 - 1/M,
    reads before 0 see v_0, so tau_t only matters through min(tau_t, t): law P(min = l) =
    (1 - q) q^l for l < t and q^t at l = t. Enumerating all 7! paths to t = 6 gives E[Delta_t] and
    E[F(v_t)] exactly; the theorem says E Delta_t = q E Delta_{t-1} + (alpha/M) E F(v_t) for t >= 1.
    """
    alpha, M, v0, T = 0.3, 3, 0.4, 7
    q = 1 - 1 / M

    def F(v):
        return v - v**3

    ED = np.zeros(T)
    EF = np.zeros(T)
    for taus in itertools.product(*[range(t + 1) for t in range(T)]):
        p = 1.0
        for t, l in enumerate(taus):
            p *= q**t if l == t else (1 - q) * q**l
        v = [v0]
        for t, l in enumerate(taus):
            v.append(v[t] + alpha * F(v[t - l]))
        for t in range(T):
            ED[t] += p * (v[t + 1] - v[t])
            EF[t] += p * F(v[t])
    assert ED[0] == pytest.approx(alpha * F(v0), rel=1e-14)  # the first read is v_0: full step
    np.testing.assert_allclose(ED[1:], q * ED[:-1] + (alpha / M) * EF[1:], rtol=1e-12, atol=0)
    # the same with a constant delay tau = M - 1 (round robin) is NOT heavy ball's recursion
    EDc = []
    v = [v0]
    for t in range(T):
        v.append(v[t] + alpha * F(v[max(t - (M - 1), 0)]))
        EDc.append(v[t + 1] - v[t])
    EDc = np.array(EDc)
    Fc = F(np.array(v[:T]))
    assert not np.allclose(EDc[1:], q * EDc[:-1] + (alpha / M) * Fc[1:], rtol=1e-3)


def test_warmup_lag_is_the_heavy_ball_deficit_under_a_constant_drift():
    alpha, G = 0.01, 1.0
    for M in (1, 2, 5, 16):
        mu, eta = 1 - 1 / M, alpha / M
        x = x_prev = 0.0
        n = 400 * M
        for _ in range(n):
            x, x_prev = x + mu * (x - x_prev) + eta * G, x
        # Async-SGD at full speed has moved alpha G n; heavy ball lags by (M - 1) updates
        assert (alpha * G * n - x) / (alpha * G) == pytest.approx(r7.warmup_lag(M), abs=1e-6)


# ---------------------------------------------------------------------------------------
# staleness of the arms
# ---------------------------------------------------------------------------------------
def _pmf_stats(model, M, n=4200, streams=30, lags=6):
    runs = [model.sample(np.random.default_rng([M, r]), n)[200:] for r in range(streams)]
    freq = np.array([[np.mean(t == k) for k in range(lags)] for t in runs])
    return runs, freq.mean(0), freq.std(0, ddof=1) / math.sqrt(streams)


@pytest.mark.parametrize("M", [2, 4, 16])
def test_exponential_pipeline_staleness_is_geometric_with_mu_L(M):
    """P(tau = l) = (1 - mu_L) mu_L^l, mu_L = 1 - 1/M (the law Mitliagkas et al. assume).

    SE from the spread over 30 independent streams (serially dependent within a stream); 5 SE over
    6 lags x 3 cases: a t_29 exceedance of 5 has probability ~2e-5 per comparison.
    """
    runs, mean, se = _pmf_stats(WorkerPipeline(M, "exponential"), M)
    q = 1 - 1 / M
    assert np.all(np.abs(mean - (1 - q) * q ** np.arange(6)) < 5 * se + 1e-12), (mean, se)
    means = np.array([t.mean() for t in runs])
    assert abs(means.mean() - (M - 1)) < 5 * means.std(ddof=1) / math.sqrt(len(runs))


def test_exponential_pipeline_staleness_is_not_iid():
    """M = 2: writers are i.i.d. fair coins, tau_k = length of the other worker's run before k, so
    P(tau_k = 1, tau_{k+1} = 1) = P(pattern ABAB) = 1/8, twice the i.i.d. value 1/16 (why the
    ``iid_geometric`` arm exists)."""
    t = np.concatenate(
        [WorkerPipeline(2).sample(np.random.default_rng([7, r]), 20000)[100:] for r in range(5)]
    )
    joint = np.mean((t[:-1] == 1) & (t[1:] == 1))
    se = math.sqrt(0.125 * 0.875 / t.size) * 3  # serial dependence: a generous factor 3
    assert abs(joint - 0.125) < 5 * se
    assert abs(joint - 0.0625) > 10 * se


def test_uniform_compute_times_are_content_keyed_and_not_geometric():
    ct = r7.UniformComputeTimes(8)
    assert WorkerPipeline(8, ct).key() == WorkerPipeline(8, r7.UniformComputeTimes(8)).key()
    assert WorkerPipeline(8, ct).key() != WorkerPipeline(8, r7.UniformComputeTimes(8, 0.4, 1.6)).key()
    x = ct(np.random.default_rng(0), 1000)
    assert x.shape == (1000, 8) and x.min() >= 0.5 and x.max() <= 1.5
    runs, mean, se = _pmf_stats(WorkerPipeline(8, ct), 8)
    means = np.array([t.mean() for t in runs])
    # renewal-reward: M equal-speed workers give mean staleness M - 1 for any compute-time law
    assert abs(means.mean() - 7) < 5 * means.std(ddof=1) / math.sqrt(len(runs))
    assert abs(mean[0] - 1 / 8) > 10 * se[0]  # low-variance times: tau = 0 is rare, not 1/M


# ---------------------------------------------------------------------------------------
# phase times, the linearised excess
# ---------------------------------------------------------------------------------------
def test_phase_times_by_hand():
    t = np.arange(8) * 0.5
    ratio = np.array(
        [
            [0.0, 0.1, 0.3, 0.6, 0.8, 0.95, 0.99, 0.99],  # a >= 0.25 at 1.0, >= 0.75 at 2.0
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        ]
    )  # never escapes
    T = r7.phase_times(ratio, t, delta=0.5, epsilon=0.02)
    np.testing.assert_allclose(T[:, 0], [1.0, 1.0, 1.0])  # error <= 0.02 first at t = 3.0
    assert np.all(np.isnan(T[:, 1]))


def test_linearised_excess_vanishes_at_M1_and_grows_like_alpha_M():
    assert r7.linearised_stationary_excess(PROBLEM, 0.002, 1) == pytest.approx(0.0, abs=1e-12)
    ex = [r7.linearised_stationary_excess(PROBLEM, 0.002, M) for M in (2, 4, 8, 16)]
    assert np.all(np.diff(ex) > 0)
    # first order in alpha M: doubling alpha at fixed M about doubles the excess
    assert r7.linearised_stationary_excess(PROBLEM, 0.004, 8) / ex[2] == pytest.approx(2.0, rel=0.15)


# ---------------------------------------------------------------------------------------
# checks on synthetic cells: the mapping holds on equal arms, fails on wrong ones
# ---------------------------------------------------------------------------------------
def _synthetic_cell(alpha=0.008, M=4, runs=60, shift=0.0, stat_factor=1.0, t2_offset=0.0, seed=0):
    """An assembled Dataset shaped like the engine's (one alpha, one M), with chosen discrepancies."""
    rng = np.random.default_rng(seed)
    tm = np.arange(0, 3.0001, 0.05)
    L = (M - 1) * alpha

    def path(t):
        return np.stack([np.exp(-t), 1 - np.exp(-t), 0.5 * np.exp(-2 * t), 0.1 + 0 * t], -1)

    hb = path(tm)[None] + 0.02 * rng.standard_normal((runs, tm.size, 4))
    # the async arms move like heavy ball advanced by its warm-up lag (+ an optional wrong shift)
    h = [path(tm + L + shift)[None] + 0.02 * rng.standard_normal((runs, tm.size, 4)) for _ in r7.ASYNC_ARMS]
    dm, dse = zip(*[r7._paired_shifted_difference(x, hb, tm, L) for x in [*h, hb]], strict=True)
    base = np.array([1.2, 1.0, 0.4])[:, None] + 0.05 * rng.standard_normal((3, runs))
    pt = np.stack([base + np.array([-L, t2_offset, 0.0])[:, None] for _ in r7.ASYNC_ARMS] + [base], axis=1)
    s_hb = 0.07 * (1 + 0.1 * rng.standard_normal(runs))
    stat = np.stack([s_hb * stat_factor for _ in r7.ASYNC_ARMS] + [s_hb])
    arm_dims = ("arm", "record_mean", "coord")
    ds = xr.Dataset(
        {
            "mean_path": (arm_dims, np.stack([x.mean(0) for x in [*h, hb]])),
            "diff_mean": (arm_dims, np.stack(dm)),
            "diff_se": (arm_dims, np.stack(dse)),
            "record_mean_time": (("record_mean",), tm),
            "phase_time": (("phase", "arm", "run"), pt),
            "stationary_error": (("arm", "run"), stat),
            "mean_error": (("arm", "record"), np.zeros((5, 3))),
            "record_time": (("record",), np.array([0, 0.02, 0.04])),
            "staleness_mean": (("arm",), np.full(5, M - 1.0)),
        },
        coords={
            "arm": np.arange(5),
            "run": np.arange(runs),
            "record_mean": np.arange(tm.size),
            "record": np.arange(3),
            "coord": np.arange(1, 5),
            "phase": np.arange(1, 4),
        },
    )
    return ds.expand_dims(alpha=[alpha], M=[M])


SPEC = r7.Remark7Spec(alphas=(0.008,), workers=(4,), runs=60)


def _checks(ds):
    verdict = r7.analyse(SPEC, ds)
    return {c.name.split("[")[0]: c for c in verdict.checks}, verdict.results


def test_arms_that_follow_the_mapping_pass():
    checks, res = _checks(_synthetic_cell())
    for name in ("mean_path", "T1", "T2", "T3", "stationary_error"):
        assert checks[name].holds, checks[name]
    assert res["verdict"] and "supports the mapping" in res["verdict"][0]


def test_wrong_arms_fail_each_check():
    checks, _ = _checks(_synthetic_cell(shift=0.1))  # a mean path 0.1 ahead of the warm-up lag
    assert checks["mean_path"].holds is False
    checks, res = _checks(_synthetic_cell(stat_factor=1.2, t2_offset=0.1))
    assert checks["stationary_error"].holds is False
    assert checks["stationary_error"].observed == pytest.approx(0.2, rel=1e-9)
    assert checks["T2"].holds is False
    assert checks["T1"].holds and checks["T3"].holds
    assert any(line.startswith("stationary error: against the mapping") for line in res["verdict"])


# ---------------------------------------------------------------------------------------
# a tiny real cell
# ---------------------------------------------------------------------------------------
def test_real_cell_at_M1_every_arm_is_sgd():
    params = {**r7.cells(SPEC)[0].params, "M": 1, "horizon": 3.0, "burn_in": 2.0, "mean_horizon": 1.0}
    ds = r7.remark7_cell(params, 5, 6)
    hb = r7.ARMS.index("heavy_ball")
    for var in ("mean_path", "stationary_error", "phase_time"):
        for a in range(len(r7.ASYNC_ARMS)):
            np.testing.assert_allclose(
                ds[var].isel(arm=a), ds[var].isel(arm=hb), rtol=0, atol=1e-12, equal_nan=True
            )
    assert np.all(ds["staleness_mean"].values == 0)
    assert (
        ds.sizes["record_mean"] == round(1.0 / r7.MEAN_DT) + 1
        and ds.sizes["record"] == round(3.0 / r7.PHASE_DT) + 1
    )


def test_plan_one_cell_per_alpha_and_M_and_the_spec_refuses_bad_fields():
    spec = r7.Remark7Spec(alphas=(0.002, 0.008), workers=(1, 4), runs=4)
    assert [(c.coords["alpha"], c.coords["M"]) for c in r7.cells(spec)] == [
        (0.002, 1),
        (0.002, 4),
        (0.008, 1),
        (0.008, 4),
    ]
    for bad, name in (
        ({"workers": (0, 2)}, "workers"),
        ({"alphas": (-1.0,)}, "alphas"),
        ({"delta": 0.9}, "delta"),
        ({"epsilon": 0.3}, "epsilon"),
        ({"burn_in": 25.0}, "burn_in"),
    ):
        with pytest.raises(ValueError, match=f"^{name}"):
            r7.Remark7Spec(**bad)


# ---------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, option",
    [
        (["--worker-counts", "0,1"], "--worker-counts"),
        (["--worker-counts", "1,x"], "--worker-counts"),
        (["--alphas", "-0.01"], "--alphas"),
        (["--delta", "0.8"], "--delta"),
        (["--epsilon", "0.5"], "--epsilon"),
        (["--burn-in", "30"], "--burn-in"),
        (["--runs", "1"], "--runs"),
        (["--eta", "0.01"], "--eta"),
        (["--delay-model", "pipeline"], "--delay-model"),
    ],
)
def test_bad_options_exit_2_with_one_line_naming_the_option(argv, option, capsys, tmp_path):
    code = main(["remark7", *argv, "--out", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"error: {option}"), err
