"""phase1, phase2, ode: the derived predictions these comparisons add, and their verdicts on small budgets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from compare.ode import compare_ode, lag_constant
from compare.phase1 import compare_phase1
from compare.phase2 import compare_phase2, noise_corrected_time
from theory import Problem
from theory.ode import traverse_time


@pytest.fixture(scope="module")
def paper():
    return Problem.paper()


def test_noise_corrected_time_tends_to_the_ode_time(paper):
    # as eta -> 0 the effective start's spread s = sqrt(eta) b / sqrt(2a) -> 0 and the median -> ODE time
    delta, mu = 0.3, 0.9
    h0 = np.array([delta, math.sqrt(1 - delta**2), 0.0, 0.0])
    t_ode = traverse_time(h0, paper.lambda_, mu, delta)
    t_small, s_small = noise_corrected_time(paper, mu, 1e-9, delta)
    assert t_small == pytest.approx(t_ode, rel=1e-6)
    a = (4 - 3) / (1 - mu)
    b = math.sqrt(12.0) / (1 - mu)  # alpha_12 = sqrt(E[Y_1^2 Y_2^2]) = sqrt(lambda_1 lambda_2) (Gaussian)
    assert s_small == pytest.approx(math.sqrt(1e-9) * b / math.sqrt(2 * a))
    # with noise the median |delta + s Z| exceeds delta (folded normal), so the median time is shorter
    t_big, _ = noise_corrected_time(paper, mu, 5e-3, delta)
    assert t_big < t_ode


def test_phase2_small_budget_backs_the_derived_T2(paper):
    # eta = 1.25e-4: the O(eta) lag of the traverse behind the ODE (the stationary noise floor near e_1,
    # docs/compare.md finding 3) is ~1.3% there, a fifth of the median's bootstrap half-width (~6% at
    # 120 runs), so the derived T2 holds unless a ~5% event happens; the printed T2 is 50% off (> 8
    # half-widths): it fails at any seed.
    v = compare_phase2(paper, eta=1.25e-4, mu=0.9, delay=0, runs=120, seed=1)
    by = {c.name: c for c in v.checks}
    assert v.results["derived"] == pytest.approx(2 * v.results["paper"])
    assert by["traverse_time_ode"].holds
    assert not by["traverse_time_paper"].holds


def test_phase2_reads_the_target_on_the_sphere(paper):
    # the ODE lives on the sphere: the normalised reading reaches the target no earlier than the raw
    # one near e_1, where ||v||^2 > 1 (errata section 6); the raw median is reported beside it
    v = compare_phase2(paper, eta=5e-4, mu=0.9, delay=0, runs=60, seed=4)
    assert v.results["observed_median_raw"] <= v.results["observed_median"]
    c = next(c for c in v.checks if c.name == "traverse_time_ode")
    lo, hi = c.acceptance
    # the one allowance is one record spacing, below the interval only (a first passage on the grid is
    # late by less than one spacing): the acceptance region is the interval's width plus one spacing
    dt = float(v.raw["t"][1] - v.raw["t"][0])
    assert (hi - lo) - (c.interval[1] - c.interval[0]) == pytest.approx(dt, rel=1e-9)
    assert hi == pytest.approx(c.predicted + (c.observed - c.interval[0]) + dt)


# -- phase1 and ode: a wrong prediction fails, the true one holds --------------------------------

#: 400 runs from e_2 at the paper's setting: the Wilson SE of an escape probability near 0.8 is
#: 0.02. The true Proposition 10 event has probability ~0.81 at T1(0.25) (> 1 - nu = 0.75 by 3 SE,
#: so the one-sided check fails with probability < 0.2%, at level 0.999 far less); with the
#: diffusion coefficient doubled, T1 comes earlier and the event's probability there is ~0.64,
#: 3 SE below the 0.999 acceptance region's lower end (~0.70): detected with power > 99%.
PHASE1 = dict(eta=5e-4, mu=0.9, delay=3, runs=400, nus=(0.25,), ou_paths=2000, level=0.999)


def test_phase1_holds_with_the_papers_coefficient(paper):
    v = compare_phase1(paper, seed=2, **PHASE1)
    by = {c.name: c for c in v.checks}
    prop10 = by["escape_probability[nu=0.25]"]
    assert prop10.holds
    assert prop10.predicted == 0.75
    lev = v.results["levels"]["0.25"]
    assert lev["T1_paper"] == pytest.approx(lev["T1_derived"])  # Prop. 10 printed == derived
    # at the record time nearest T1 the exact OU probability is 1 - nu up to the grid (dt = T/200)
    assert by["escape_probability_unstable[nu=0.25]"].predicted == pytest.approx(0.75, abs=0.02)


@pytest.mark.parametrize("scale", [2.0, 0.5])
def test_phase1_detects_a_wrong_diffusion_coefficient(paper, scale):
    v = compare_phase1(paper, seed=2, diffusion_scale=scale, **PHASE1)
    ok = compare_phase1(paper, seed=2, **PHASE1)
    by, by_ok = {c.name: c for c in v.checks}, {c.name: c for c in ok.checks}
    # the observation does not depend on the prediction when the record grid is the same (scale
    # moves T1 and so the record read; compare the exact OU probabilities instead)
    assert not by["escape_probability_unstable_linearised[nu=0.25]"].holds
    if scale > 1:  # predicted escape too fast: the OU law and the one-sided proposition fail as well
        assert not by["escape_probability_unstable[nu=0.25]"].holds
        assert not by["escape_probability[nu=0.25]"].holds
    else:  # too slow: a one-sided "at least" claim is (correctly) not refuted
        assert by["escape_probability[nu=0.25]"].holds
    assert by["escape_probability[nu=0.25]"].predicted == by_ok["escape_probability[nu=0.25]"].predicted


def test_phase1_reads_the_events_on_the_sphere(paper):
    # near e_2 the iterate's norm exceeds 1 (errata section 6), so the raw h_2^2 stays above 1 - delta^2
    # longer: the raw escape probability is lower than the normalised one at every level
    v = compare_phase1(paper, eta=5e-4, mu=0.9, delay=3, runs=300, seed=5, nus=(0.5,), ou_paths=500)
    lev = v.results["levels"]["0.5"]
    assert lev["p_escaped_raw"] < lev["p_escaped"]
    c = next(c for c in v.checks if c.name == "escape_probability[nu=0.5]")
    assert c.observed == pytest.approx(lev["p_escaped"])


#: 400 runs, horizon 1, ladder (eta, eta/2) at the paper's setting: the sup error of the ensemble
#: mean is ~0.034 and 0.019 (docs/compare.md), inside C eta plus its bootstrap spread; with the
#: ODE's drift 30% too fast the sup error is ~0.09 and 0.075, about twice the acceptance bound.
ODE = dict(eta=5e-4, mu=0.9, delay=3, runs=400, ladder=(1.0, 0.5), horizon=1.0, level=0.999)


@pytest.mark.parametrize("scale", [1.0, 1.3, 0.7])
def test_ode_mean_check_fails_for_a_wrong_drift(paper, scale):
    v = compare_ode(paper, seed=0, drift_scale=scale, **ODE)
    mean_checks = [c for c in v.checks if c.name.startswith("mean_vs_ode[")]
    assert [c.name for c in mean_checks] == ["mean_vs_ode[eta=0.0005]", "mean_vs_ode[eta=0.00025]"]
    if scale == 1.0:
        assert all(c.holds for c in mean_checks), [(c.observed, c.acceptance) for c in mean_checks]
    else:
        assert not any(c.holds for c in mean_checks), [(c.observed, c.acceptance) for c in mean_checks]


def test_ode_lag_constant_scales_with_the_delay(paper):
    h0 = np.ones(4) / 2
    t = np.linspace(0, 1, 50)
    c0 = lag_constant(paper, 0.9, h0, t, 0)
    c3 = lag_constant(paper, 0.9, h0, t, 3)
    assert c3 == pytest.approx(c0 * (9 + 3) / 9)  # (mu/(1-mu) + tau) with mu/(1-mu) = 9
    # C = max_t |dH/dt| (mu/(1-mu) + tau): with the closed form's derivative by finite differences
    from theory.ode import closed_form_H

    tt = np.linspace(0, 1, 20001)
    dH = np.diff(closed_form_H(h0, paper.lambda_, 0.9, tt), axis=0) / np.diff(tt)[:, None]
    assert lag_constant(paper, 0.9, h0, tt, 0) == pytest.approx(np.max(np.abs(dH)) * 9, rel=2e-3)
