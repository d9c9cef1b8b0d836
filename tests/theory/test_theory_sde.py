"""OU limits: eq. (8) (Theorem 5) and Theorem 9, derived from ODE (7) and the gradient noise."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import momenta, spectra

from theory import Problem, sde
from theory import symbolic as S

RTOL_SAME_FORMULA = 1e-10  # same formula, different float64 code paths

# named, bounded strategies of this module
#: OU drift a in [-50, 50] away from 0 (|a| > 1e-3: the 1/a of the variance is well conditioned);
#: |a| <= 50 = lambda gap 0.5 / (1 - mu) 0.01, the largest drift of the paper's regime.
ou_drifts = st.floats(-50.0, 50.0).filter(lambda x: abs(x) > 1e-3)
#: OU diffusion b in [0.01, 100] (alpha/(1 - mu) over the same regime).
ou_diffusions = st.floats(0.01, 100.0)
#: times t in [0, 0.5]: |a| t <= 25, so exp(2 a t) stays far from float overflow.
ou_times = st.floats(0.0, 0.5)
#: starting points u0 in [-10, 10] (u = (h - e_j)/sqrt(eta) is O(1) near the stationary law).
ou_starts = st.floats(-10.0, 10.0)


@pytest.mark.parametrize("j", [1, 2, 3])
def test_linearisation_gives_drift_lambda_i_minus_lambda_j(j):
    A, _ = sde.ou_linearisation_symbolic(3, j)
    lam = S.lambdas(3)
    for i in range(3):
        for k in range(3):
            if i != k:
                assert A[i, k] == 0
    for i in range(3):
        expected = (lam[i] - lam[j - 1]) / (1 - S.mu) if i != j - 1 else -2 * lam[j - 1] / (1 - S.mu)
        assert sp.simplify(A[i, i] - expected) == 0


@pytest.mark.parametrize("dist", ["gaussian", "rademacher"])
@pytest.mark.parametrize("j", [1, 2])
def test_noise_covariance_is_diag_alpha_squared(dist, j):
    cov = sde.gradient_noise_covariance_symbolic(3, j, dist)
    lam = S.lambdas(3)
    from theory.distributions import get_distribution

    m4 = get_distribution(dist).fourth_moments_symbolic(lam)
    expected = sp.diag(*[m4[i, j - 1] if i != j - 1 else 0 for i in range(3)])
    assert sp.simplify(cov - expected) == sp.zeros(3, 3)


@pytest.mark.parametrize("dist", ["gaussian", "rademacher"])
def test_noise_covariance_matches_monte_carlo(dist):
    """Sample covariance of (I - e1 e1^T) Y Y^T e1 against the symbolic one, within 5 standard errors.

    5 SE: 9 entries are tested, so a 5-SE band keeps the family-wise false-alarm rate < 1e-5
    while a wrong moment (e.g. the Gaussian's factor 3 on E[Y^4]) is off by hundreds of SE.
    """
    problem = Problem([4.0, 2.0, 1.0], dist=dist)
    rng = np.random.default_rng(20181203)
    n = 200_000
    y = problem.dist.sample_y(rng, n, problem.lambda_, problem.Q)
    noise = y * y[:, :1]
    noise[:, 0] = 0.0
    prods = noise[:, :, None] * noise[:, None, :]
    est, se = prods.mean(axis=0), prods.std(axis=0, ddof=1) / np.sqrt(n)
    cov = sde.gradient_noise_covariance_symbolic(3, 1, dist)
    exact = np.array(cov.subs(dict(zip(S.lambdas(3), problem.lambda_, strict=True))), dtype=float)
    assert np.all(np.abs(est - exact) <= 5 * se + 1e-12)
    np.testing.assert_allclose(np.diag(exact)[1:], problem.alpha[1:, 0] ** 2, rtol=1e-14)


@settings(max_examples=20, deadline=None)
@given(
    lam=spectra(min_d=3, max_d=3),
    mu=momenta(),
    dist=st.sampled_from(["gaussian", "rademacher"]),
    j=st.integers(1, 3),
)
def test_symbolic_coefficients_equal_ou_coefficients(lam, mu, dist, j):
    problem = Problem(lam, dist=dist)
    coef = sde.ou_coefficients(problem, mu, j)
    A, _ = sde.ou_linearisation_symbolic(3, j)
    BB = sde.ou_diffusion_symbolic(3, j, dist)
    subs = {**dict(zip(S.lambdas(3), lam, strict=True)), S.mu: mu}
    f_a = sp.lambdify(list(subs), [A[i - 1, i - 1] for i in coef.coords])
    f_b = sp.lambdify(list(subs), [BB[i - 1, i - 1] for i in coef.coords])
    np.testing.assert_allclose(f_a(*subs.values()), coef.drift, rtol=RTOL_SAME_FORMULA)
    np.testing.assert_allclose(f_b(*subs.values()), coef.diffusion**2, rtol=RTOL_SAME_FORMULA)


def test_transition_law_solves_the_moment_equations():
    res = sde.verify_ou_transition()
    assert all(v == 0 for v in res.values()), res


@pytest.mark.parametrize("dist", ["gaussian", "rademacher"])
def test_stationary_variance_solves_lyapunov_symbolically(dist):
    assert sde.verify_lyapunov_symbolic(3, dist) == sp.zeros(2, 2)


@settings(max_examples=25, deadline=None)
@given(lam=spectra(), mu=momenta(), dist=st.sampled_from(["gaussian", "rademacher"]))
def test_stationary_variance_equals_scipy_lyapunov(lam, mu, dist):
    problem = Problem(lam, dist=dist)
    P = sde.ou_lyapunov_solution(problem, mu)
    coef = sde.ou_coefficients(problem, mu, 1)
    # two float64 algorithms (scipy's Bartels-Stewart vs b^2/(-2a)): a few ulps times the
    # conditioning max|a_i|/min|a_i| <= 2e2 of the drift on this strategy's spectra; rtol 1e-9 is
    # that bound with a wide margin. atol = 0: the off-diagonal zeros (no cross terms in eq. (8))
    # must be exact.
    np.testing.assert_allclose(P, np.diag(coef.stationary_variance), rtol=1e-9, atol=0)


@settings(max_examples=50, deadline=None)
@given(
    a=ou_drifts,
    b=ou_diffusions,
    t=ou_times,
    u0=ou_starts,
)
def test_numeric_transition_equals_lambdified(a, b, t, u0):
    mean, var, stat = sde.ou_transition_lambdified()
    assert sde.ou_transition_mean(u0, a, t) == pytest.approx(
        mean(u0, a, t), rel=RTOL_SAME_FORMULA, abs=1e-300
    )
    # the hand-written variance uses expm1: agreement to cancellation error of exp(2at) - 1
    assert sde.ou_transition_variance(a, b, t) == pytest.approx(var(a, b, t), rel=1e-8, abs=1e-12)
    if a < 0:
        assert sde.ou_stationary_variance(a, b) == pytest.approx(stat(a, b), rel=RTOL_SAME_FORMULA)
    else:
        assert np.isnan(sde.ou_stationary_variance(a, b))


def test_bad_arguments_name_the_parameter():
    with pytest.raises(ValueError, match="^j"):
        sde.ou_linearisation_symbolic(3, 4)
    with pytest.raises(ValueError, match="^d"):
        sde.gradient_noise_covariance_symbolic(1, 1)
    with pytest.raises(ValueError, match="^mu"):
        sde.ou_lyapunov_solution(Problem([2.0, 1.0]), 1.0)
