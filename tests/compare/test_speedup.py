"""Tests of ``compare.speedup``: the predictions against independent references, the statistics on
synthetic data with known answers (including checks that must fail), a tiny real cell, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from compare import speedup as sp
from compare.__main__ import main
from theory import Problem

PROBLEM = Problem([4, 3, 2, 1])
ETA = 5e-4


# ---------------------------------------------------------------------------------------
# predictions
# ---------------------------------------------------------------------------------------
def test_theory_prediction_T2_is_the_closed_form_traverse_with_delta_squared_epsilon():
    # T2 derived (Prop. 8, errata 1) = (1 - mu)/g log((1 - delta^2)/delta^2), by hand with delta^2 = eps
    for mu, eps in ((0.0, 0.1), (0.9, 0.05)):
        th = sp.theory_prediction(PROBLEM, mu, ETA, eps)
        assert th["T2"] == pytest.approx((1 - mu) * math.log((1 - eps) / eps), rel=1e-12)
        assert th["T"] == pytest.approx(th["T1"] + th["T2"], rel=1e-14)
        assert th["T1"] > 0


def _roots_largest_log(coeffs):
    return float(np.log(np.max(np.abs(np.roots(coeffs)))))


@pytest.mark.parametrize("mu, M", [(0.0, 8), (0.9, 16), (0.5, 64)])
def test_growth_constant_law_matches_the_characteristic_polynomial(mu, M):
    """Constant tau = M - 1: z^(tau+1) - (1+mu) z^tau + mu z^(tau-1) + s = 0 (theory.stability), by hand."""
    s = ETA * (PROBLEM.lambda_[1] - PROBLEM.lambda_[0])  # the unstable direction at e_2: s < 0
    tau = M - 1
    c = np.zeros(tau + 2)
    c[0], c[1], c[2] = 1.0, -(1.0 + mu), mu
    c[-1] += s
    assert sp._growth(mu, s, "constant", M) == pytest.approx(_roots_largest_log(c), rel=1e-9)


@pytest.mark.parametrize("mu, M", [(0.0, 4), (0.9, 8)])
def test_growth_geometric_law_matches_a_long_truncated_law(mu, M):
    """The closed-form cubic of the geometric law against the mean recursion with the law truncated at K."""
    s = ETA * (PROBLEM.lambda_[1] - PROBLEM.lambda_[0])
    q, K = 1 - 1 / M, 200
    p = (1 - q) * q ** np.arange(K + 1)
    p[-1] += q ** (K + 1)  # the tail mass on the last lag (a negligible change: q^K < 3e-12)
    c = np.zeros(K + 2)
    c[0], c[1], c[2] = 1.0, -(1.0 + mu), mu
    c[1:] += s * p
    assert sp._growth(mu, s, "exponential", M) == pytest.approx(_roots_largest_log(c), rel=1e-6)


def test_linearised_inflation_is_one_at_M1_and_grows_with_the_delay():
    for law in sp.COMPUTE_TIMES:
        infl = sp.linearised_inflation(PROBLEM, 0.9, ETA, law, [1, 2, 8, 32])
        assert infl[0] == 1.0
        assert np.all(np.diff(infl) > 0)  # delay slows the growth of the unstable direction


def test_predicted_floor_at_tau0_is_the_ar2_closed_form_and_inf_past_the_threshold():
    from compare._common import ar2_variance_u, stability

    lam = PROBLEM.lambda_
    expected = sum(ETA * ar2_variance_u(PROBLEM.alpha[i, 0], lam[0] - lam[i], ETA, 0.9) for i in range(1, 4))
    assert sp.predicted_floor(PROBLEM, 0.9, ETA, "constant", 1) == pytest.approx(expected, rel=1e-9)
    tau_star = stability(PROBLEM, 0.9, ETA).max_stable_delay
    assert math.isinf(sp.predicted_floor(PROBLEM, 0.9, ETA, "constant", tau_star + 2))
    assert np.isfinite(sp.predicted_floor(PROBLEM, 0.9, ETA, "constant", tau_star + 1))
    # memoryless workers: M = 1 is tau = 0 (the same AR(2) value); more workers raise the floor
    assert sp.predicted_floor(PROBLEM, 0.9, ETA, "exponential", 1) == pytest.approx(expected, rel=1e-9)
    assert expected < sp.predicted_floor(PROBLEM, 0.9, ETA, "exponential", 16) < sp.DEFAULT_EPSILON


def test_breakdown_is_one_past_the_exact_stability_threshold_for_round_robin():
    from compare._common import stability

    tau_star = stability(PROBLEM, 0.9, ETA).max_stable_delay  # 32 at the paper's setting
    brk = sp.breakdown_M(PROBLEM, 0.9, ETA, "constant", [1, 2, 4, 64], sp.DEFAULT_EPSILON)
    assert brk["M_stability"] == tau_star + 2
    assert brk["M_b"] == tau_star + 2
    # memoryless workers stay mean-square stable on the grid; only the floor reaches epsilon (at 256)
    assert sp.breakdown_M(PROBLEM, 0.9, ETA, "exponential", [1, 2, 4, 64], sp.DEFAULT_EPSILON)["M_b"] is None
    brk = sp.breakdown_M(PROBLEM, 0.9, ETA, "exponential", [1, 64, 256], sp.DEFAULT_EPSILON)
    assert brk["M_stability"] is None and brk["M_floor"] == brk["M_b"] == 256


# ---------------------------------------------------------------------------------------
# statistics on synthetic data
# ---------------------------------------------------------------------------------------
def test_first_passage_by_hand():
    err = np.array([[1.0, 0.5, 0.09, 0.2, 0.05], [1.0, 1.0, 1.0, 1.0, 1.0], [0.1, 1.0, 1.0, 1.0, 1.0]])
    assert sp.first_passage(err, 0.1).tolist() == [2, -1, 0]


def test_exponent_recovers_a_power_law_and_refuses_infinite_times():
    M = np.array([1.0, 2, 4, 8, 16])
    assert float(sp._exponent(M, 7.0 * M**-0.8)) == pytest.approx(0.8, rel=1e-12)
    assert np.isnan(sp._exponent(M, np.array([1.0, 0.5, np.inf, 0.1, 0.05])))


def _synthetic_cell(mu, law, iterations, floor, runs=40, workers=(1, 2, 4, 8, 64), seed=0):
    """An assembled Dataset shaped like the engine's: first passages scattered around ``iterations[M]``."""
    rng = np.random.default_rng(seed)
    fp = np.array([np.round(k * (1 + 0.02 * rng.standard_normal(runs))) for k in iterations]).astype(int)
    fl = np.array([np.full(runs, f) + 0.001 * rng.standard_normal(runs) for f in floor])
    ds = xr.Dataset(
        {
            "first_passage": (("workers", "run"), fp),
            "floor_run": (("workers", "run"), fl),
            "diverged": (("workers", "run"), np.zeros_like(fp, dtype=np.int8)),
            "staleness_mean": (("workers",), np.array(workers, float) - 1),
            "record_every": ((), 1),
            "n_steps": ((), 100),
        },
        coords={"workers": list(workers), "run": np.arange(runs)},
    )
    return ds.expand_dims(mu=[mu], compute_time=[law])


def _checks(ds, spec):
    verdict = sp.analyse(spec, ds)
    return {c.name.split("[")[0]: c for c in verdict.checks}, verdict.results


SPEC = sp.SpeedupSpec(mus=(0.9,), workers=(1, 2, 4, 8, 64), compute_times=("constant",), runs=40)


def test_linear_data_pass_and_a_sublinear_speedup_fails():
    K1 = sp.theory_prediction(PROBLEM, 0.9, ETA, 0.1)["T"] / ETA
    lin = _synthetic_cell(0.9, "constant", [K1] * 5, [0.05, 0.05, 0.05, 0.05, 0.5])
    checks, res = _checks(lin, SPEC)
    assert checks["speedup_exponent"].holds and checks["time_to_epsilon_at_M1"].holds
    assert checks["floor_past_breakdown"].holds  # floor 0.5 >= eps at M = 64, past M_b = 34
    assert res["speedup_exponent"]["mu=0.9,constant"]["M_fit"] == [1, 2, 4, 8]
    # iterations growing like M^0.5: wall time ~ M^-0.5, far outside 1 +- the linearised allowance
    sub = _synthetic_cell(0.9, "constant", [K1 * M**0.5 for M in (1, 2, 4, 8, 64)], [0.05] * 5)
    checks, _ = _checks(sub, SPEC)
    assert checks["speedup_exponent"].holds is False
    assert checks["speedup_exponent"].observed == pytest.approx(0.5, abs=0.02)
    # the floor stays below epsilon past the predicted breakdown: that prediction fails
    assert checks["floor_past_breakdown"].holds is False


def test_a_wrong_M1_prediction_fails(monkeypatch):
    K1 = sp.theory_prediction(PROBLEM, 0.9, ETA, 0.1)["T"] / ETA
    ds = _synthetic_cell(0.9, "constant", [K1] * 5, [0.05] * 5)
    real = sp.theory_prediction
    monkeypatch.setattr(sp, "theory_prediction", lambda *a: {k: 1.5 * v for k, v in real(*a).items()})
    checks, _ = _checks(ds, SPEC)
    assert checks["time_to_epsilon_at_M1"].holds is False


# ---------------------------------------------------------------------------------------
# a tiny real cell
# ---------------------------------------------------------------------------------------
def test_real_cell_common_random_numbers_and_staleness():
    params = {
        "eigenvalues": (4.0, 3.0, 2.0, 1.0),
        "dist": "gaussian",
        "eta": 2e-3,
        "mu": 0.5,
        "compute_time": "exponential",
        "workers": (1, 8),
        "epsilon": 0.1,
        "horizon": 3.0,
    }
    ds = sp.speedup_cell(params, 3, 8)
    rr = sp.speedup_cell({**params, "compute_time": "constant"}, 3, 8)
    assert ds.sizes["record"] == sp.N_RECORDS + 1 and int(ds["n_steps"]) * 2e-3 >= 3.0
    # M = 1 is tau = 0 under both laws, on the same data streams: the same numbers
    for var in ("mean_error", "floor_run"):
        np.testing.assert_allclose(ds[var].sel(workers=1), rr[var].sel(workers=1), rtol=0, atol=1e-12)
    assert not np.allclose(ds["mean_error"].sel(workers=8), rr["mean_error"].sel(workers=8))
    # round robin: tau_k = M - 1 after the first M updates; exponential: mean M - 1 (a geometric law)
    n = int(ds["n_steps"])
    assert float(rr["staleness_mean"].sel(workers=8)) == pytest.approx((7 * n - 7 * 8 / 2) / n, rel=1e-12)
    assert abs(float(ds["staleness_mean"].sel(workers=8)) - 7) < 0.5
    # same seed -> same numbers
    again = sp.speedup_cell(params, 3, 8)
    assert np.array_equal(again["first_passage"].values, ds["first_passage"].values)


def test_plan_is_one_cell_per_mu_and_law_and_the_spec_refuses_bad_fields():
    spec = sp.SpeedupSpec(mus=(0.5, 0.9), workers=(1, 4), compute_times=("exponential", "constant"), runs=4)
    plan = sp.cells(spec)
    assert [(c.coords["mu"], c.coords["compute_time"]) for c in plan] == [
        (0.5, "exponential"),
        (0.5, "constant"),
        (0.9, "exponential"),
        (0.9, "constant"),
    ]
    assert len({c.key for c in plan}) == 4
    for bad, name in (
        ({"workers": (2, 4)}, "workers"),
        ({"mus": (0.5, 1.0)}, "mus"),
        ({"compute_times": ("gamma",)}, "compute_times"),
        ({"epsilon": 0.0}, "epsilon"),
    ):
        with pytest.raises(ValueError, match=f"^{name}"):
            sp.SpeedupSpec(**bad)


# ---------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, option",
    [
        (["--worker-counts", "0,1,2"], "--worker-counts"),
        (["--worker-counts", "1,2.5"], "--worker-counts"),
        (["--worker-counts", "2,4"], "--worker-counts"),
        (["--mus", "0.5,1.0"], "--mus"),
        (["--mus", "-0.1"], "--mus"),
        (["--compute-times", "gamma"], "--compute-times"),
        (["--epsilon", "1.5"], "--epsilon"),
        (["--pipeline-workers", "4"], "--pipeline-workers"),
        (["--delay-model", "geometric"], "--delay-model"),
    ],
)
def test_bad_options_exit_2_with_one_line_naming_the_option(argv, option, capsys, tmp_path):
    code = main(["speedup", *argv, "--out", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"error: {option}"), err
