"""Gradient-noise covariance of the full diffusion: sympy identity, Monte Carlo, linearisation = eq. (8)."""

import itertools

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import symbolic as S
from theory.diffusion import (
    drift_jacobian,
    fourth_moment_tensor,
    fourth_moment_tensor_symbolic,
    gradient_covariance,
    gradient_covariance_lambdified,
    gradient_mean,
    gradient_noise_factor,
    linearise_diffusion,
    noise_dimension,
    stationary_norm_excess,
    verify_gradient_covariance,
)
from theory.distributions import UserSampler
from theory.ode import ode_drift
from theory.problem import Problem
from theory.sde import ou_coefficients

#: Monte Carlo band in standard errors: 4 SE is a two-sided 6e-5 false-alarm rate per
#: entry for a Gaussian estimate (the means of 2e5 i.i.d. products are close to Gaussian).
N_SE = 4.0

DISTS = ("gaussian", "rademacher")


def rotated(d, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q * np.sign(np.diag(r))


@pytest.mark.parametrize("d", [2, 3, 4])
@pytest.mark.parametrize("dist", DISTS)
def test_closed_form_is_the_derived_covariance(dist, d):
    assert verify_gradient_covariance(d, dist).is_zero_matrix


def test_gaussian_tensor_is_isserlis():
    # E[Y_a Y_b Y_c Y_e] = L_ab L_ce + L_ac L_be + L_ae L_bc, L = diag(lambda): the three
    # pairings, written independently of the moment-factorisation in the module.
    d = 3
    lam = S.lambdas(d)
    K = fourth_moment_tensor_symbolic(d, "gaussian")
    L = sp.diag(*lam)
    for a, b, c, e in itertools.product(range(d), repeat=4):
        isserlis = L[a, b] * L[c, e] + L[a, c] * L[b, e] + L[a, e] * L[b, c]
        assert sp.simplify(K[a, b, c, e] - isserlis) == 0


def test_rademacher_tensor_is_one_iff_indices_pair_up():
    d = 3
    lam = S.lambdas(d)
    K = fourth_moment_tensor_symbolic(d, "rademacher")
    for idx in itertools.product(range(d), repeat=4):
        paired = all(idx.count(a) % 2 == 0 for a in set(idx))
        expected = sp.sqrt(sp.Mul(*[lam[a] for a in idx])) if paired else 0
        assert sp.simplify(K[idx] - expected) == 0


@pytest.mark.parametrize("dist", DISTS)
def test_numeric_tensor_and_covariance_match_sympy(dist):
    d = 4
    problem = Problem([4.0, 3.0, 2.0, 0.5], dist=dist)
    subs = dict(zip(S.lambdas(d), problem.lambda_, strict=True))
    K_sym = np.array(fourth_moment_tensor_symbolic(d, dist).subs(subs).tolist(), dtype=float)
    np.testing.assert_allclose(fourth_moment_tensor(problem), K_sym, rtol=1e-14)
    h = np.array([0.3, -0.8, 0.5, 0.9])  # off the sphere on purpose
    lambdified = gradient_covariance_lambdified(d, dist)(h, problem.lambda_)
    np.testing.assert_allclose(gradient_covariance(problem, h), lambdified, rtol=1e-12)


@pytest.mark.parametrize("dist", DISTS)
@pytest.mark.parametrize("h", [[0.6, 0.0, -0.8, 0.0], [0.3, -0.8, 0.5, 0.9]])
def test_moments_against_monte_carlo(dist, h):
    problem = Problem([4.0, 3.0, 2.0, 1.0], dist=dist)
    h = np.array(h)
    n = 200_000
    Y = problem.dist.sample_y(np.random.default_rng(41), n, problem.lambda_, problem.Q)
    g = (Y @ h)[:, None] * Y
    g = g - np.outer(g @ h, h)  # (I - h h^T) Y Y^T h
    mean_hat = g.mean(axis=0)
    mean_se = g.std(axis=0, ddof=1) / np.sqrt(n)
    assert np.all(np.abs(mean_hat - gradient_mean(problem, h)) < N_SE * mean_se + 1e-12)
    gc = g - mean_hat
    prods = gc[:, :, None] * gc[:, None, :]
    cov_hat = prods.mean(axis=0)
    cov_se = prods.std(axis=0, ddof=1) / np.sqrt(n)
    # + 1e-12: entries that are exactly 0 for Rademacher have 0 sample SE too
    assert np.all(np.abs(cov_hat - gradient_covariance(problem, h)) < N_SE * cov_se + 1e-12)


@pytest.mark.parametrize("dist", DISTS)
def test_noise_factor_reproduces_covariance_and_is_tangent_on_sphere(dist):
    problem = Problem([4.0, 3.0, 2.0, 1.0], dist=dist)
    rng = np.random.default_rng(2)
    h = rng.standard_normal((50, 4))
    B = gradient_noise_factor(problem, h)
    assert B.shape == (50, 4, noise_dimension(problem))
    C = gradient_covariance(problem, h)
    np.testing.assert_allclose(B @ np.swapaxes(B, -1, -2), C, rtol=1e-12, atol=1e-12 * np.abs(C).max())
    hs = h / np.linalg.norm(h, axis=1, keepdims=True)
    h_dot_B = np.einsum("na,nak->nk", hs, gradient_noise_factor(problem, hs))
    np.testing.assert_allclose(h_dot_B, 0.0, atol=1e-12)


def _balanced_rademacher_sampler(lambda_, Q):
    """All 2^d sign patterns in turn: its empirical moments are the exact Rademacher ones."""
    d = len(lambda_)
    patterns = np.array(list(itertools.product([-1.0, 1.0], repeat=d)))

    def sampler(rng, n):
        xi = np.resize(patterns, (n, d))
        return (xi * np.sqrt(lambda_)) @ Q.T

    return sampler


def test_user_sampler_path_matches_rademacher_closed_form():
    # Generic path (Monte Carlo tensor + symmetric square root), made exact by a sampler
    # whose empirical moments are the Rademacher moments (n_mc a multiple of 2^d).
    lam = np.array([4.0, 3.0, 2.0, 1.0])
    Q = rotated(4, 5)
    user = Problem(lam, Q=Q, dist=UserSampler(_balanced_rademacher_sampler(lam, Q), n_mc=16 * 100))
    rad = Problem(lam, dist="rademacher")
    h = np.random.default_rng(3).standard_normal((10, 4))
    C = gradient_covariance(rad, h)
    np.testing.assert_allclose(gradient_covariance(user, h), C, atol=1e-11 * np.abs(C).max())
    B = gradient_noise_factor(user, h)
    np.testing.assert_allclose(B @ np.swapaxes(B, -1, -2), C, atol=1e-10 * np.abs(C).max())


@pytest.mark.parametrize("dist", DISTS)
@pytest.mark.parametrize("mu", [0.0, 0.7])
def test_linearisation_reproduces_eq8_and_theorem9(dist, mu):
    problem = Problem([4.0, 3.0, 2.0, 1.0], Q=rotated(4, 1), dist=dist)
    for j in range(1, problem.d + 1):
        lin = linearise_diffusion(problem, mu, j)
        ou = ou_coefficients(problem, mu, j)
        np.testing.assert_array_equal(lin.coords, ou.coords)
        np.testing.assert_allclose(lin.drift, ou.drift, rtol=1e-14)
        np.testing.assert_allclose(lin.diffusion, ou.diffusion, rtol=1e-14)
        tangent = np.ix_(lin.coords - 1, lin.coords - 1)
        # Tangent covariance is diag(alpha_ij^2)/(1-mu)^2 exactly (no cross terms) ...
        np.testing.assert_allclose(lin.covariance[tangent], np.diag(ou.diffusion**2), atol=1e-12)
        np.testing.assert_allclose(lin.jacobian[tangent], np.diag(ou.drift), atol=1e-12)
        # ... and the radial direction is noise-free with drift -2 lambda_j/(1-mu).
        assert lin.radial_drift == pytest.approx(-2 * problem.lambda_[j - 1] / (1 - mu))
        np.testing.assert_allclose(lin.covariance[j - 1], 0.0, atol=1e-12)


def test_drift_jacobian_matches_finite_differences_of_ode7():
    problem = Problem([4.0, 3.0, 2.0, 1.0])
    mu, h, eps = 0.6, np.array([0.4, -0.3, 0.7, 0.2]), 1e-6
    lam = problem.lambda_
    fd = np.column_stack(
        [(ode_drift(h + eps * e, lam, mu) - ode_drift(h - eps * e, lam, mu)) / (2 * eps) for e in np.eye(4)]
    )
    # central differences: O(eps^2 |M'''|) ~ 1e-11 truncation, O(1e-16/eps) ~ 1e-10 rounding
    np.testing.assert_allclose(drift_jacobian(problem, mu, h), fd, atol=1e-8)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: gradient_covariance(Problem([2.0, 1.0]), [1.0, 0.0, 0.0]), "h"),
        (lambda: gradient_covariance(Problem([2.0, 1.0]), [np.nan, 0.0]), "h"),
        (lambda: verify_gradient_covariance(1, "gaussian"), "d"),
        (lambda: fourth_moment_tensor_symbolic(3, UserSampler(lambda r, n: np.zeros((n, 3)))), "dist"),
        (lambda: linearise_diffusion(Problem([2.0, 1.0]), 0.5, 3), "j"),
        (lambda: linearise_diffusion(Problem([2.0, 1.0]), 1.5, 1), "mu"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        call()


def test_stationary_norm_excess_formula():
    problem = Problem([4.0, 3.0, 2.0, 1.0], dist="rademacher")
    # eta sum_{i>=2} lambda_i / (2 (1 - mu)) for the built-ins: 1e-4 * 6 / 1 = 6e-4
    assert stationary_norm_excess(problem, 0.5, 1e-4) == pytest.approx(6e-4, rel=1e-14)
    # = eta (phi - alpha_11^2) / (2 lambda_1 (1 - mu)), phi as printed (i = 1 included)
    g = Problem([4.0, 3.0, 2.0, 1.0], dist="gaussian")
    expected = 1e-3 * (g.phi - g.alpha[0, 0] ** 2) / (2 * 4.0 * 0.1)
    assert stationary_norm_excess(g, 0.9, 1e-3) == pytest.approx(expected, rel=1e-14)


# -- properties (named, bounded strategies) ---------------------------------------------------
#: States in eigen-coordinates: entries in [-2, 2] (the diffusion lives near the unit sphere).
states = st.lists(st.floats(-2.0, 2.0, allow_nan=False), min_size=4, max_size=4).map(np.array)
#: Spectra lambda_1 > lambda_2 >= ... in [0.1, 5] with a gap >= 0.1 (Assumption 1).
spectra_4 = st.lists(st.floats(0.1, 4.0), min_size=3, max_size=3).flatmap(
    lambda rest: st.floats(0.1, 1.0).map(lambda gap: np.array([max(rest) + gap, *sorted(rest, reverse=True)]))
)


@settings(max_examples=50, deadline=None)
@given(h=states, lam=spectra_4, dist=st.sampled_from(DISTS))
def test_covariance_is_symmetric_psd_and_kills_h_on_the_sphere(h, lam, dist):
    problem = Problem(lam, dist=dist)
    C = gradient_covariance(problem, h)
    scale = max(1.0, np.abs(C).max())
    np.testing.assert_allclose(C, C.T, atol=1e-12 * scale)
    assert np.linalg.eigvalsh(C).min() > -1e-10 * scale
    n = np.linalg.norm(h)
    if n > 1e-3:
        hs = h / n
        np.testing.assert_allclose(gradient_covariance(problem, hs) @ hs, 0.0, atol=1e-10 * scale)
