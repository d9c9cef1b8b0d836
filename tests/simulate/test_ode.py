"""ODE (7): the closed form after Theorem 3 against solve_ivp, in rotated eigenbases."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulate.ode import ode_rhs, solve_ode
from theory.problem import Problem

#: Agreement required by the issue between the closed form and solve_ivp (rtol 1e-10,
#: atol 1e-12 leave a margin of ~100x below it over these horizons).
AGREE = 1e-8


# -- named, bounded strategies ---------------------------------------------------------
@st.composite
def gapped_spectra(draw, d_min=2, d_max=5):
    """Spectra lambda_1 > lambda_2 >= ... > 0 in [0.1, 5] with gap >= 0.1 (Assumption 1)."""
    d = draw(st.integers(d_min, d_max))
    rest = sorted(
        draw(st.lists(st.floats(0.1, 4.0, allow_nan=False), min_size=d - 1, max_size=d - 1)),
        reverse=True,
    )
    gap = draw(st.floats(0.1, 1.0))
    return np.array([rest[0] + gap, *rest])


def random_basis(d, seed):
    """A Haar-ish orthonormal basis from the QR of a seeded Gaussian matrix."""
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q * np.sign(np.diag(r))


momenta = st.floats(0.0, 0.95)  # mu in [0, 0.95]: (1-mu) >= 0.05 keeps the horizon stiff-free
seeds = st.integers(0, 2**31 - 1)


def unit_start(d, seed):
    v = np.random.default_rng(seed + 1).standard_normal(d)
    return v / np.linalg.norm(v)


@settings(max_examples=15, deadline=None)
@given(lam=gapped_spectra(), mu=momenta, seed=seeds)
def test_closed_form_matches_dop853_in_any_basis(lam, mu, seed):
    problem = Problem(lam, Q=random_basis(lam.size, seed))
    v0 = unit_start(lam.size, seed)
    t = np.linspace(0.0, 3.0 * (1 - mu), 31)  # a few e-folds of the slowest gap
    closed = solve_ode(problem, mu, v0, t, method="closed_form")
    num = solve_ode(problem, mu, v0, t, method="numerical")
    assert closed.H.shape == (t.size, lam.size)
    np.testing.assert_allclose(num.H, closed.H, rtol=0, atol=AGREE)
    np.testing.assert_allclose(num.V, problem.from_eigen(closed.H), rtol=0, atol=AGREE)


def test_radau_and_dop853_agree_with_closed_form_on_paper_problem_from_near_saddle():
    # Section 4.1 problem; start just off the saddle e_2 so the whole traverse is covered.
    problem = Problem.paper()
    mu = 0.9
    v0 = np.array([1e-3, 1.0, 0.0, 0.0])
    v0 /= np.linalg.norm(v0)
    t = np.linspace(0.0, 10.0, 201)
    closed = solve_ode(problem, mu, v0, t).H
    for ivp in ("DOP853", "Radau"):
        num = solve_ode(problem, mu, v0, t, method="numerical", ivp_method=ivp).H
        np.testing.assert_allclose(num, closed, rtol=0, atol=AGREE)
    # and the traverse really happened: H_1^2 went from 1e-6 to ~1.
    assert closed[0, 0] ** 2 < 1e-5 and closed[-1, 0] ** 2 > 1 - 1e-6


def test_numerical_off_the_sphere_matches_derived_general_solution():
    # For |h0| != 1 the solution of (7) is e^{L s} h0 / sqrt(|e^{L s} h0|^2 + 1 - |h0|^2),
    # s = t/(1-mu) (Bernoulli substitution w = 1/c^2); the printed closed form is its
    # |h0| = 1 case. Checks solve_ivp and the rhs independently of theory.ode.closed_form_H.
    problem = Problem([3.0, 2.0, 0.5], Q=random_basis(3, 7))
    mu = 0.5
    h0 = np.array([0.3, -0.5, 0.2])
    t = np.linspace(0.0, 2.0, 11)
    s = t / (1 - mu)
    g = h0 * np.exp(np.outer(s, problem.lambda_))
    expected = g / np.sqrt(np.sum(g**2, axis=1, keepdims=True) + 1 - h0 @ h0)
    num = solve_ode(problem, mu, problem.from_eigen(h0), t, method="numerical")
    np.testing.assert_allclose(num.H, expected, rtol=0, atol=AGREE)


def test_closed_form_converges_to_optimum_and_stays_on_sphere():
    problem = Problem([2.0, 1.0, 1.0])
    sol = solve_ode(problem, 0.0, np.array([0.1, 0.7, np.sqrt(1 - 0.5)]), [0.0, 1.0, 40.0])
    np.testing.assert_allclose(np.linalg.norm(sol.H, axis=1), 1.0, atol=1e-14)
    # |H_2(t)/H_1(t)| = 7 e^{-(lambda_1 - lambda_2) t}: ~3e-17 at t = 40
    np.testing.assert_allclose(sol.H[-1], [1.0, 0.0, 0.0], atol=1e-12)


def test_rhs_is_drift_of_eq7_in_original_coordinates():
    problem = Problem([4.0, 3.0, 2.0, 1.0], Q=random_basis(4, 3))
    mu = 0.7
    v = np.array([0.5, -0.1, 0.3, 0.2])
    sigma = problem.Sigma
    expected = (sigma @ v - (v @ sigma @ v) * v) / (1 - mu)
    np.testing.assert_allclose(ode_rhs(problem, mu)(0.0, v), expected, rtol=1e-13)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"mu": 1.0}, "mu"),
        ({"mu": -0.1}, "mu"),
        ({"t": [0.0, -1.0]}, "t"),
        ({"t": [0.0, 2.0, 1.0]}, "t"),
        ({"t": [0.0, np.nan]}, "t"),
        ({"v0": [1.0, 0.0]}, "v0"),
        ({"v0": [0.0, 0.0, 0.0]}, "v0"),
        ({"v0": [2.0, 0.0, 0.0]}, "v0"),  # off the sphere with the closed form
        ({"method": "euler"}, "method"),
        ({"method": "numerical", "rtol": 0.0}, "rtol"),
        ({"method": "numerical", "ivp_method": "foo"}, "ivp_method"),
    ],
)
def test_bad_input_names_the_parameter(kwargs, name):
    args = {"mu": 0.5, "v0": [1.0, 0.0, 0.0], "t": [0.0, 1.0]}
    args.update(kwargs)
    problem = Problem([3.0, 2.0, 1.0])
    with pytest.raises(ValueError, match=f"^{name}"):
        solve_ode(problem, args.pop("mu"), args.pop("v0"), args.pop("t"), **args)


@pytest.mark.parametrize("method", ["closed_form", "numerical"])
def test_output_grid_not_starting_at_zero(method):
    # V(0) = v0 always; a grid starting later just omits t = 0.
    problem = Problem([3.0, 2.0, 1.0], Q=random_basis(3, 11))
    v0 = unit_start(3, 4)
    full = solve_ode(problem, 0.3, v0, [0.0, 0.5, 1.0], method=method).H
    late = solve_ode(problem, 0.3, v0, [0.5, 1.0], method=method).H
    np.testing.assert_allclose(late, full[1:], rtol=0, atol=AGREE)
    np.testing.assert_allclose(full[0], problem.to_eigen(v0), atol=1e-15)
