"""Phase I and II times against a plain simulation of update (5) with tau = 0 (slow, seeded).

The loop below is the textbook heavy-ball Hebbian update (5) (v_{-1} = v_0, no delay), written
out here as an oracle independent of :mod:`simulate`; d = 2, Sigma = diag(2, 1), Rademacher data
(Assumption 2), eta = 1e-4 (small against the eigengap: eta g / (1 - mu) = 2e-4).
"""

import math

import numpy as np
import pytest

from theory import Problem, phase_times

LAMBDA = (2.0, 1.0)
MU, ETA = 0.5, 1e-4
#: Band for comparing a simulated mean or proportion with a prediction: 4 standard errors
#: (two-sided false-alarm rate 6e-5 per check) plus nothing else: the O(eta) discretisation
#: bias of the hitting time is ~ eta (1 - mu)/g = 5e-5, below 0.03 SE here.
N_SE = 4.0


def _step(rng, problem, v, v_prev):
    x = problem.dist.sample_y(rng, v.shape[0], problem.lambda_, problem.Q)
    xw = np.sum(x * v, axis=1, keepdims=True)
    grad = x * xw - np.sum(v * x * xw, axis=1, keepdims=True) * v  # (I - v v^T) X X^T v
    return v + MU * (v - v_prev) + ETA * grad, v


@pytest.mark.slow
def test_T2_simulated_traverse_time_matches_derived_not_printed():
    problem = Problem(LAMBDA, dist="rademacher")
    rng = np.random.default_rng(20180601)
    delta, runs = 0.2, 400  # delta >> sqrt(eta): the traverse is gradient-dominated (Phase II)
    pt = phase_times(problem, MU, ETA, delta=delta)["T2"]
    v = np.tile([delta, math.sqrt(1 - delta**2)], (runs, 1))
    v_prev = v.copy()
    hit = np.full(runs, np.nan)
    k = 0
    while np.isnan(hit).any():
        v, v_prev = _step(rng, problem, v, v_prev)
        k += 1
        new = np.isnan(hit) & (v[:, 0] ** 2 >= 1 - delta**2)
        hit[new] = k * ETA
        assert k * ETA < 5 * pt["derived"], "traverse did not finish"
    mean, se = hit.mean(), hit.std(ddof=1) / math.sqrt(runs)
    assert abs(mean - pt["derived"]) <= N_SE * se
    assert abs(mean - pt["paper"]) > 100 * se  # the printed T2 is half the traverse (docs/errata.md)


@pytest.mark.slow
def test_T1_simulated_escape_probability_is_1_minus_nu_on_the_normalised_iterate():
    problem = Problem(LAMBDA, dist="rademacher")
    rng = np.random.default_rng(20180602)
    delta, nu, runs = 2 * math.sqrt(ETA), 0.5, 2000  # delta ~ sqrt(eta) as in Prop 10
    T1 = phase_times(problem, MU, ETA, delta=delta, nu=nu)["T1"]["derived"]
    v = np.tile([0.0, 1.0], (runs, 1))  # the saddle e_2, as in Section 4.1
    v_prev = v.copy()
    for _ in range(int(round(T1 / ETA))):
        v, v_prev = _step(rng, problem, v, v_prev)
    norm = np.linalg.norm(v, axis=1)
    p_norm = np.mean((v[:, 1] / norm) ** 2 <= 1 - delta**2)
    p_raw = np.mean(v[:, 1] ** 2 <= 1 - delta**2)
    se = math.sqrt(nu * (1 - nu) / runs)
    assert abs(p_norm - (1 - nu)) <= N_SE * se
    # Prop 10's criterion on the raw iterate is biased low: ||v||^2 - 1 = O(eta) (Lemma 1), the
    # same order as delta^2, so (H^2)^2 <= 1 - delta^2 is harder to meet (docs/errata.md, sec. 6)
    # the excess itself: radially, ||v||^2 - 1 relaxes at rate 2 lambda_2/(1 - mu) = 4 towards
    # eta alpha_12^2/(2 lambda_2 (1 - mu)) = 2 eta (the analogue at e_2 of
    # theory.diffusion.stationary_norm_excess); by T1 = 0.42 it has gone 1 - e^{-4 T1} = 81% of
    # the way: 2 (1 - e^{-4 T1}) = 1.63 eta, observed 1.627 eta with SE 7e-4 eta (seed 20180602).
    # "> 0.5 eta" only asserts the O(eta) order (Lemma 1), with a margin of ~1e3 SE
    assert np.mean(norm**2 - 1) > 0.5 * ETA
    assert p_raw < p_norm - 3 * se
