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
    v = compare_phase2(paper, eta=5e-4, mu=0.9, delay=0, runs=120, seed=1)
    by = {c.name: c for c in v.checks}
    assert v.results["derived"] == pytest.approx(2 * v.results["paper"])
    # 120 runs: the median's bootstrap interval is ~+-6% wide; the printed T2 is 50% off (docs/compare.md)
    assert by["traverse_time_ode"].holds
    assert not by["traverse_time_paper"].holds


def test_phase1_predictions_are_the_exact_ou_law_at_T1(paper):
    nus = (0.25, 0.5)
    v = compare_phase1(paper, eta=5e-4, mu=0.9, delay=0, runs=100, seed=2, nus=nus, ou_paths=2000)
    for nu in nus:
        lev = v.results["levels"][f"{nu:g}"]
        assert lev["T1_paper"] == pytest.approx(lev["T1_derived"])  # Prop. 10 printed == derived
        c = next(c for c in v.checks if c.name == f"escape_probability_unstable[nu={nu:g}]")
        # at the record time nearest T1 the exact OU probability is 1 - nu up to the grid (dt = T/200)
        assert c.predicted == pytest.approx(1 - nu, abs=0.02)
        assert 0.0 <= c.observed <= 1.0


def test_ode_lag_constant_and_tolerance_scale_with_eta(paper):
    h0 = np.ones(4) / 2
    t = np.linspace(0, 1, 50)
    c0 = lag_constant(paper, 0.9, h0, t, 0)
    c3 = lag_constant(paper, 0.9, h0, t, 3)
    assert c0 > 0 and c3 == pytest.approx(c0 * (9 + 3) / 9)  # (mu/(1-mu) + tau) with mu/(1-mu) = 9
    v = compare_ode(paper, eta=5e-4, mu=0.9, delay=0, runs=20, horizon=0.2, ladder=(1.0, 0.5), seed=0)
    names = [c.name for c in v.checks]
    assert names[:2] == ["mean_vs_ode[eta=0.0005]", "mean_vs_ode[eta=0.00025]"]
    assert "mean_vs_ode_order" in names
    assert v.results["sup_error"][0] > 0
