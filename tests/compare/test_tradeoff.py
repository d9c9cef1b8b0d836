"""Tests of ``compare.tradeoff`` (Figure 1, Section 4.1): the optimal-delay rule, the error,
the delay models of the grid, the CLI's bad-input handling, a quick end-to-end run, and the
agreement of the exact stability threshold with the onset seen in simulation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compare import tradeoff as tr
from compare.__main__ import main
from compare.optimal_delay import DEFAULT_RHO, optimal_delay
from theory import Problem
from theory.stability import mean_field_threshold, stability_threshold

# ---------------------------------------------------------------------------------------
# the optimal-delay rule on synthetic curves with known answers
# ---------------------------------------------------------------------------------------
TAUS = np.arange(11)


def test_optimal_delay_monotone_curve():
    # e(tau) = 1 + 0.1 tau: e <= 1.5 e(0) iff tau <= 5
    assert tr.optimal_delay(TAUS, 1.0 + 0.1 * TAUS, rho=0.5) == 5


def test_optimal_delay_is_the_first_crossing_of_a_non_monotone_curve():
    # exceeds 1.5 at tau = 3 only, back below afterwards: every tau' <= tau must satisfy the rule
    e = np.ones(11)
    e[3] = 1.6
    assert tr.optimal_delay(TAUS, e, rho=0.5) == 2


def test_optimal_delay_never_exceeding_is_the_grid_end_and_censored():
    e = np.full(11, 2.0)
    assert tr.optimal_delay(TAUS, e, rho=0.5) == 10
    assert tr.is_censored(TAUS, e, rho=0.5)
    assert not tr.is_censored(TAUS, 1.0 + 0.1 * TAUS, rho=0.5)


def test_optimal_delay_all_exceeding_is_zero():
    e = np.full(11, 10.0)
    e[0] = 1.0
    assert tr.optimal_delay(TAUS, e, rho=0.5) == 0


def test_optimal_delay_on_a_non_uniform_grid_and_boundary_equality():
    taus = np.array([0, 5, 20, 50, 120])
    # 1.5 exactly is allowed ("at most"), 1.5000001 is not
    e = np.array([1.0, 1.2, 1.5, 1.5000001, 1.0])
    assert tr.optimal_delay(taus, e, rho=0.5) == 20
    assert tr.optimal_delay(taus, e, rho=0.0) == 0


def test_optimal_delay_nan_counts_as_exceeding():
    e = np.ones(11)
    e[4] = np.nan
    assert tr.optimal_delay(TAUS, e, rho=0.5) == 3


def test_optimal_delay_batched_equals_row_by_row():
    rng = np.random.default_rng(3)
    curves = 1.0 + np.cumsum(rng.random((7, 11)) * 0.2, axis=1)
    batched = tr.optimal_delay(TAUS, curves, rho=0.5)
    assert batched.tolist() == [tr.optimal_delay(TAUS, c, rho=0.5) for c in curves]


#: Strictly increasing delay grids starting at 0: gaps of 1..20, 2..25 points.
delay_grids = st.lists(st.integers(1, 20), min_size=1, max_size=24).map(
    lambda g: np.concatenate([[0], np.cumsum(g)])
)
#: Positive error values of moderate size (the rule is scale-free; 1e-3..10 covers Figure 1).
error_values = st.floats(1e-3, 10.0, allow_nan=False, allow_infinity=False)
#: Allowances rho of the rule: 0..2 (the default 0.5 inside).
rhos = st.floats(0.0, 2.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(grid=delay_grids, data=st.data(), rho=rhos)
def test_optimal_delay_matches_the_definition(grid, data, rho):
    e = np.array(data.draw(st.lists(error_values, min_size=grid.size, max_size=grid.size)))
    got = tr.optimal_delay(grid, e, rho)
    # brute force: the largest tau with e[tau'] <= (1 + rho) e[0] for every tau' <= tau
    want = max(t for k, t in enumerate(grid) if np.all(e[: k + 1] <= (1 + rho) * e[0]))
    assert got == want
    # scale invariance: multiplying the curve by a constant changes nothing
    assert tr.optimal_delay(grid, 7.0 * e, rho) == got


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"taus": [0, 1, 2], "mean_error": [1, 1, 1], "rho": -0.1}, "rho"),
        ({"taus": [1, 2, 3], "mean_error": [1, 1, 1], "rho": 0.5}, "taus"),
        ({"taus": [0, 2, 1], "mean_error": [1, 1, 1], "rho": 0.5}, "taus"),
        ({"taus": [0, 1, 2], "mean_error": [1, 1], "rho": 0.5}, "mean_error"),
    ],
)
def test_optimal_delay_bad_input_names_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        tr.optimal_delay(**kwargs)


def test_bootstrap_optimal_delay_interval_and_reproducibility():
    rng = np.random.default_rng(0)
    taus = np.arange(0, 41, 2)
    # per-run curves whose mean crosses 1.5 x e(0) at tau = 20 (e = 1 + (tau/40)^2 * 4 / ... )
    base = 1.0 + (taus / 20.0) ** 2 * 0.5  # = 1.5 exactly at tau = 20
    errors = base * rng.exponential(1.0, size=(200, 1)) * (1 + 0.05 * rng.standard_normal((200, taus.size)))
    od = tr.bootstrap_optimal_delay(taus, errors, 0.5, seed=1)
    assert od.lo <= od.estimate <= od.hi
    assert 14 <= od.estimate <= 24  # the mean curve crosses near 20 (noise of the multiplicative factors)
    again = tr.bootstrap_optimal_delay(taus, errors, 0.5, seed=1)
    assert again == od
    # identical runs: no run-to-run uncertainty, the interval collapses on the estimate
    same = np.tile(base, (10, 1))
    od2 = tr.bootstrap_optimal_delay(taus, same, 0.5, seed=1)
    assert od2.lo == od2.hi == od2.estimate == 20


# ---------------------------------------------------------------------------------------
# the error at the horizon
# ---------------------------------------------------------------------------------------
def test_horizon_error_known_values():
    h = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0], [1.0, 1.0, 0, 0], [-2.0, 0, 0, 0], [0.6, 0.8, 0, 0]])
    np.testing.assert_allclose(tr.horizon_error(h, kind="angle"), [0.0, 1.0, 0.5, 0.0, 0.64], atol=1e-15)
    # distance up to sign: ||h||^2 + 1 - 2|h_1|
    np.testing.assert_allclose(tr.horizon_error(h, kind="distance"), [0.0, 2.0, 1.0, 1.0, 0.8], atol=1e-15)


def test_horizon_error_diverged_and_nonfinite_runs_count_as_the_cap():
    h = np.array([[1.0, 0, 0], [np.nan, 0, 0], [1.0, 0, 0]])
    div = np.array([False, False, True])
    np.testing.assert_array_equal(tr.horizon_error(h, div, "angle"), [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(tr.horizon_error(h, div, "distance"), [0.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="^kind"):
        tr.horizon_error(h, kind="cosine")


def test_delay_for_grid_value_has_the_grid_value_as_mean_delay():
    from simulate import delays

    assert tr.delay_for_grid_value("constant", 7) == 7
    assert tr.delay_for_grid_value("uniform", 0) == 0
    u = tr.delay_for_grid_value("uniform", 5)
    assert isinstance(u, delays.Uniform) and u.tau_max == 10  # mean tau_max / 2 = 5
    g = tr.delay_for_grid_value("geometric", 5)
    assert isinstance(g, delays.Geometric) and g.mean == 5.0
    p = tr.delay_for_grid_value("pipeline", 5)
    assert isinstance(p, delays.WorkerPipeline) and p.workers == 6  # mean staleness M - 1 = 5


# ---------------------------------------------------------------------------------------
# CLI: bad input and a quick run
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argv", "option"),
    [
        (["--taus", "0:abc"], "--taus"),
        (["--taus", "5:10"], "--taus"),  # must start at 0 (the rule's reference)
        (["--taus", "0,10,5"], "--taus"),
        (["--rho", "-0.5"], "--rho"),
        (["--mus", "0.7,1.0"], "--mus"),
        (["--mus", "-0.1"], "--mus"),
        (["--mus", "0.7,x"], "--mus"),
        (["--horizon", "0"], "--horizon"),
        (["--error", "cosine"], "--error"),
        (["--eta", "-1"], "--eta"),
        (["--delay-model", "pipeline", "--pipeline-workers", "4"], "--pipeline-workers"),
    ],
)
def test_bad_options_exit_2_with_one_line_naming_the_option(argv, option, capsys, tmp_path):
    code = main(["tradeoff", *argv, "--out", str(tmp_path), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: {option}")
    assert err.count("\n") == 1


def test_quick_run_writes_the_verdict_contract(tmp_path, capsys):
    out = tmp_path / "tr"
    code = main(["tradeoff", "--quick", *tr.quick_args(), "--out", str(out), "--no-progress"])
    assert code == 0
    verdict = json.loads((out / "verdict.json").read_text())
    res = verdict["results"]
    mus = tr._QUICK["mus"].split(",")
    taus = list(range(0, 61, 15))
    for key in ("mean_error", "optimal_delay", "stability_delay", "asymptotic_delay", "bounds"):
        assert sorted(res[key]) == sorted(mus), key
    assert sorted(res["paper_optimal_delay"]) == sorted(mus)  # 0.8 and 0.9 are the paper's momenta
    assert res["taus"] == taus
    assert all(len(res["mean_error"][m]) == len(taus) for m in mus)
    # the reported optimal delay is the rule of issue 6 applied to the reported mean errors
    for m in mus:
        assert res["optimal_delay"][m] == optimal_delay(taus, res["mean_error"][m], DEFAULT_RHO)
    # the theory columns are the theory layer's numbers
    p = Problem.paper()
    for m in mus:
        st_ = stability_threshold(p, float(m), 5e-4)
        assert res["stability_delay"][m] == st_.max_stable_delay
        assert res["asymptotic_delay"][m] == pytest.approx(st_.asymptotic)
    assert res["paper_optimal_delay"]["0.9"] == 30
    for f in verdict["figures"]:
        assert (out / f).is_file()
    assert (out / "raw.nc").is_file() or (out / "raw.npz").is_file()
    names = {c["name"] for c in verdict["checks"]}
    assert {"optimal_delay[mu=0.9]", "optimal_vs_stability[mu=0.9]", "optimal_vs_prediction[mu=0.9]"} <= names
    # issue 11's columns: for a constant delay the radial mode's mean-square threshold (Levinson
    # recursion of theory.random_delays) is the deterministic threshold (D-subdivision) exactly,
    # and at the paper's setting the radial mode binds, so the prediction is that threshold
    for m in mus:
        assert res["mean_square_delay"][m] == res["stability_delay"][m]
        assert res["predicted_binding_mode"][m] == "radial"
        assert res["predicted_optimal_delay"][m] == res["stability_delay"][m]
    assert "paper" in capsys.readouterr().out  # the printed table


# ---------------------------------------------------------------------------------------
# the stability threshold and the simulated onset agree on a sharp case
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("eta", "mu"), [(0.05, 0.5), (0.02, 0.8)])
def test_stability_threshold_matches_the_simulated_onset(eta, mu):
    """Start at the optimum with almost no gradient noise (lambda = (1, 0.01), bounded data:
    alpha_21^2 = 0.01) so that the onset is sharp. The binding mode is radial (the norm):
    up to the threshold tau* the norm stays within O(eta alpha^2) of 1 (Lemma 1), one step
    past it the radial mode is linearly unstable and (a supercritical Hopf bifurcation: the
    cubic term of eq. (5) saturates it) settles on an oscillation of the norm of amplitude
    O(0.1-0.5). 4000 steps are enough for the growth: the spectral radius at tau* + 1 is
    >= 1.0018 here (theory.stability.spectral_radius), a factor >= e^7 over the run. The
    0.05 cut separates the two regimes by a factor >= 3 on either side (seeded; measured
    over seeds 1-3: <= 0.004 up to tau*, >= 0.16 from tau* + 1 on)."""
    from simulate import simulate_async_msgd

    p = Problem((1.0, 0.01), dist="rademacher")
    tau_star = stability_threshold(p, mu, eta).max_stable_delay
    assert stability_threshold(p, mu, eta).binding_mode == "radial"
    taus = list(range(max(tau_star - 3, 0), tau_star + 3))
    res = simulate_async_msgd(
        p, eta=eta, mu=mu, delay=taus, v0=p.eigenvector(1), n_steps=4000, runs=20, seed=1
    )
    norm_dev = np.abs(np.sum(res.h_final**2, axis=-1) - 1.0)[0].mean(axis=-1)  # (n_tau,)
    stable = np.array(taus) <= tau_star
    assert np.all(norm_dev[stable] < 0.05), norm_dev
    assert np.all(norm_dev[~stable] > 0.05), norm_dev


@pytest.mark.slow
def test_full_figure1_reproduces_the_papers_optimal_delays(tmp_path):
    """The default run (Section 4.1 at full resolution, 7-40 s with machine load). Measured with
    seed 0: simulated 124, 80, 57, 35, 14 against the paper's 120, 80, 60, 30, 10 and the
    exact thresholds 115, 74, 53, 32, 13. Every check holds (each states its tolerance) except
    the random-staleness prediction at mu <= 0.9, a finding (docs/compare.md): with statistical
    tolerance only, the simulated knee (124, 80, 57, 35) is resolved 4-9% past the linear
    threshold the theory predicts; and the simulated optimal delay lies past the threshold by
    at most STABILITY_RTOL of it."""
    out = tmp_path / "full"
    assert main(["tradeoff", "--out", str(out), "--no-progress"]) == 0
    verdict = json.loads((out / "verdict.json").read_text())
    failing = {c["name"] for c in verdict["checks"] if c["holds"] is not True}
    assert failing == {f"optimal_vs_prediction[mu={m}]" for m in ("0.7", "0.8", "0.85", "0.9")}
    res = verdict["results"]
    for key in ("0.7", "0.8", "0.85", "0.9", "0.95"):
        sim, stab = res["optimal_delay"][key], res["stability_delay"][key]
        assert stab <= sim <= (1 + tr.STABILITY_RTOL) * stab + 1


# ---------------------------------------------------------------------------------------
# mean-field threshold of random delays (beyond the paper)
# ---------------------------------------------------------------------------------------
# (the laws and the mean-field recursion themselves are tested in tests/theory/test_stability.py)
def test_pipeline_delay_law_is_the_geometric_law_of_the_same_mean():
    m = 6
    assert tr.delay_law("pipeline", m) == tr.delay_law("geometric", m)


@pytest.mark.parametrize("model", ["constant", "uniform", "geometric"])
def test_mean_field_threshold_on_the_grid_is_theorys(model):
    s, taus = 5e-4 * 8.0, np.arange(0, 161, 5)  # radial mode of Section 4.1: eta 2 lambda_1
    assert tr.mean_field_threshold(0.9, s, model, taus) == mean_field_threshold(0.9, s, model, taus)
    geometric = mean_field_threshold(0.9, s, "geometric", taus)
    assert tr.mean_field_threshold(0.9, s, "pipeline", taus) == geometric


def test_mean_field_bad_model_and_grid():
    with pytest.raises(ValueError, match="^model"):
        tr.delay_law("poisson", 3)
    with pytest.raises(ValueError, match="^taus"):
        tr.mean_field_threshold(0.9, 4e-3, "constant", [1, 2])


def test_random_delay_model_reports_mean_field_and_skips_the_papers_constant_delay_check(tmp_path):
    out = tmp_path / "uni"
    argv = ["tradeoff", "--quick", *tr.quick_args(), "--delay-model", "uniform", "--out", str(out)]
    assert main([*argv, "--no-progress"]) == 0
    verdict = json.loads((out / "verdict.json").read_text())
    names = {c["name"] for c in verdict["checks"]}
    assert "optimal_vs_mean_field[mu=0.9]" in names
    assert not any(n.startswith("optimal_delay[") for n in names)
    res = verdict["results"]
    s = 5e-4 * 8.0
    assert res["mean_field_delay"]["0.9"] == tr.mean_field_threshold(0.9, s, "uniform", res["taus"])
    # the measured staleness of the uniform law on {0..2m} has mean m (the grid value)
    np.testing.assert_allclose(res["mean_staleness"], res["taus"], rtol=0.02, atol=0.05)


@pytest.mark.parametrize("mu", [0.0, 0.7, 0.95])
def test_stationary_error_is_eq8_by_hand(mu):
    # Gaussian, Sigma = diag(4,3,2,1): alpha_i1^2 = lambda_i lambda_1 = 12, 8, 4 over gaps 1, 2, 3
    eta = 5e-4
    want = eta * (12 / 1 + 8 / 2 + 4 / 3) / (2 * (1 - mu))
    assert tr.stationary_error(Problem.paper(), mu, eta) == pytest.approx(want, rel=1e-12)


# ---------------------------------------------------------------------------------------
# acceptance regions of the delay checks (compare.tradeoff_analysis)
# ---------------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(
    grid=delay_grids,
    data=st.data(),
    predicted=st.integers(-1, 500),
    allowance=st.floats(0.0, 40.0, allow_nan=False),
    nonnegative=st.booleans(),
)
def test_delay_acceptance_is_the_bootstrap_rule_as_a_region_of_the_estimate(
    grid, data, predicted, allowance, nonnegative
):
    """holds (from the region) == the rule as first written: prediction inside [lo - a, hi + a],
    not censored, and (nonnegative) a prediction >= 0. Integer allowances hit the boundaries."""
    from compare.tradeoff_analysis import delay_acceptance

    k_lo, k_est, k_hi = sorted(data.draw(st.lists(st.integers(0, grid.size - 1), min_size=3, max_size=3)))
    lo, est, hi = (float(grid[k]) for k in (k_lo, k_est, k_hi))
    allowance = data.draw(st.sampled_from([allowance, float(round(allowance))]))
    od = tr.OptimalDelay(est, lo, hi, censored=bool(est == grid[-1]))
    rule = (
        (lo - allowance <= predicted <= hi + allowance)
        and not od.censored
        and (predicted >= 0 or not nonnegative)
    )
    a_lo, a_hi = delay_acceptance(float(predicted), od, allowance, float(grid[-1]), nonnegative=nonnegative)
    assert a_lo <= a_hi
    assert (a_lo <= est <= a_hi) == rule


def test_a_censored_optimum_is_outside_every_acceptance_region():
    from compare.tradeoff_analysis import delay_check

    od = tr.OptimalDelay(160.0, 150.0, 160.0, censored=True)
    c = delay_check("x", "eq", 100, od, 10.0, 160.0, tolerance="t")
    assert c.holds is False and c.acceptance[1] < 160  # 100 + 10 + 10 < 160: contradicted
    # "optimal delay >= 160" neither confirms nor contradicts 160 (+ allowance): not measured
    assert delay_check("x", "eq", 160, od, 10.0, 160.0, tolerance="t").holds is None
    assert delay_check("x", "eq", 140, od, 10.0, 160.0, tolerance="t").holds is None  # reaches 160
    free = tr.OptimalDelay(150.0, 140.0, 160.0, censored=False)
    assert delay_check("x", "eq", 160, free, 10.0, 170.0, tolerance="t").holds is True
