"""Our OU steppers against sdeint (the reference integrator) on shared Brownian increments."""

import numpy as np
import pytest

from simulate._sdeint import sdeint_integrate, sdeint_ou
from simulate.sde import OU, brownian_increments, integrate
from theory.problem import Problem

#: "Agree to rounding": a few ulps of the path's magnitude accumulated over 200 steps.
ROUNDING = 1e-12

PROBLEM = Problem.paper()
MU = 0.7


def _shared(j, n_steps=200, n_paths=20, T=2.0, seed=0):
    ou = OU.from_problem(PROBLEM, MU, j)
    t = np.linspace(0.0, T, n_steps + 1)
    dW = brownian_increments(np.random.default_rng(seed), t, n_paths, ou.m)
    return ou, t, dW


@pytest.mark.parametrize("j", [1, 2])
@pytest.mark.parametrize("ours, theirs", [("euler", "itoEuler"), ("sri2_additive", "itoSRI2")])
def test_same_scheme_agrees_to_rounding(ours, theirs, j):
    ou, t, dW = _shared(j)
    u0 = np.array([0.5, -1.0, 2.0])
    mine = integrate(ours, ou, u0, t, dW)
    ref = sdeint_ou(ou, u0, t, dW, method=theirs)
    scale = np.max(np.abs(ref))
    assert np.max(np.abs(mine - ref)) <= ROUNDING * scale


def test_heun_and_sri2_converge_to_the_same_path():
    # Two different strong-order-1 schemes on one Brownian path differ by O(dt): the RMS
    # pathwise gap at T must fall with slope 1 (+-0.15, issue 4's order tolerance).
    ou = OU.from_problem(PROBLEM, MU, 1)
    u0 = np.array([1.0, 1.0, 1.0])
    n_fine, n_paths = 256, 10
    t_fine = np.linspace(0.0, 1.0, n_fine + 1)
    dW = brownian_increments(np.random.default_rng(1), t_fine, n_paths, ou.m)
    gaps, n_list = [], np.array([16, 32, 64, 128])
    for n in n_list:
        dWn = dW.reshape(n, n_fine // n, n_paths, ou.m).sum(axis=1)
        t = np.linspace(0.0, 1.0, n + 1)
        gap = integrate("heun", ou, u0, t, dWn)[-1] - sdeint_ou(ou, u0, t, dWn, method="itoSRI2")[-1]
        gaps.append(np.sqrt(np.mean(gap**2)))
    slope = np.polyfit(np.log(1.0 / n_list), np.log(gaps), 1)[0]
    assert abs(slope - 1.0) < 0.15, (slope, gaps)


def test_sri2_iterated_integrals_drop_out_for_additive_noise():
    ou, t, dW = _shared(1, n_steps=50, n_paths=1)
    a, G0 = ou.drift, np.diag(ou.diffusion)
    rng = np.random.default_rng(9)
    y_rng = sdeint_integrate(lambda y, s: a * y, lambda y, s: G0, np.ones(3), t, dW[:, 0], method="itoSRI2",
                             rng=rng)
    y_zero = sdeint_ou(ou, np.ones(3), t, dW, method="itoSRI2")[:, 0]
    np.testing.assert_array_equal(y_rng, y_zero)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"t": np.array([0.0, 0.1, 0.3])}, "t"),
        ({"method": "itoMilstein"}, "method"),
        ({"dW": np.zeros((3, 1))}, "dW"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, name):
    args = {"t": np.linspace(0.0, 1.0, 3), "method": "itoEuler", "dW": np.zeros((2, 1))}
    args.update(kwargs)
    with pytest.raises(ValueError, match=f"^{name}"):
        sdeint_integrate(lambda y, s: -y, lambda y, s: np.ones((1, 1)), np.ones(1), args["t"], args["dW"],
                         method=args["method"])


def test_sri2_without_I_needs_a_generator():
    with pytest.raises(ValueError, match="^rng"):
        sdeint_integrate(lambda y, s: -y, lambda y, s: np.ones((1, 1)), np.ones(1), [0.0, 1.0],
                         np.zeros((1, 1)), method="itoSRI2")
