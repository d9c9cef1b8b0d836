"""Problem description and data distributions (Assumptions 1 and 2, the constants of Theorem 5)."""

import numpy as np
import pytest
from scipy.stats import ortho_group

from theory import Gaussian, Problem, Rademacher, UserSampler, get_distribution
from theory.validation import check_eta, check_mu, check_nonnegative_int, check_positive_int

PAPER = (4.0, 3.0, 2.0, 1.0)


# -- validation ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "eigenvalues, fragment",
    [
        ((3.0, 3.0, 1.0), "eigengap"),
        ((4.0, 3.0, 0.0), "> 0"),
        ((4.0, 3.0, -1.0), "> 0"),
        ((1.0, 2.0, 3.0), "non-increasing"),
        ((4.0,), "at least 2"),
        ((4.0, float("nan")), "finite"),
        (("a", "b"), "real numbers"),
    ],
)
def test_bad_eigenvalues_name_the_parameter(eigenvalues, fragment):
    with pytest.raises(ValueError, match="^eigenvalues") as info:
        Problem(eigenvalues)
    assert fragment in str(info.value)


def test_bad_basis_names_Q():
    with pytest.raises(ValueError, match="^Q .*orthonormal"):
        Problem(PAPER, Q=np.ones((4, 4)))
    with pytest.raises(ValueError, match=r"^Q .*shape \(4, 4\)"):
        Problem(PAPER, Q=np.eye(3))


def test_bad_dist_names_dist():
    with pytest.raises(ValueError, match="^dist"):
        Problem(PAPER, dist="cauchy")


@pytest.mark.parametrize("mu", [-0.1, 1.0, 1.5, float("nan"), float("inf"), "0.5", None, True])
def test_check_mu(mu):
    with pytest.raises(ValueError, match="^mu"):
        check_mu(mu)


@pytest.mark.parametrize("eta", [0.0, -1e-3, float("nan"), float("inf"), "1e-3"])
def test_check_eta(eta):
    with pytest.raises(ValueError, match="^eta"):
        check_eta(eta)


def test_check_ints():
    assert check_nonnegative_int(3.0, "tau") == 3
    with pytest.raises(ValueError, match="^tau"):
        check_nonnegative_int(2.5, "tau")
    with pytest.raises(ValueError, match="^tau"):
        check_nonnegative_int(-1, "tau")
    with pytest.raises(ValueError, match="^runs"):
        check_positive_int(0, "runs")


# -- the problem ---------------------------------------------------------------------------
def test_sigma_is_q_lambda_qt_and_eigenvectors():
    Q = ortho_group.rvs(4, random_state=1)
    p = Problem(PAPER, Q=Q)
    np.testing.assert_allclose(p.Sigma, Q @ np.diag(PAPER) @ Q.T, atol=1e-13)
    for j in range(1, 5):
        np.testing.assert_allclose(p.Sigma @ p.eigenvector(j), PAPER[j - 1] * p.eigenvector(j), atol=1e-12)
    v = np.array([0.3, -0.2, 0.5, 0.1])
    np.testing.assert_allclose(p.from_eigen(p.to_eigen(v)), v, atol=1e-14)


def test_key_is_content_based():
    assert Problem(PAPER).key() == Problem(list(PAPER)).key()
    assert Problem(PAPER).key() != Problem((4.0, 3.0, 2.0, 0.5)).key()
    assert Problem(PAPER).key() != Problem(PAPER, dist="rademacher").key()
    assert Problem(PAPER) == Problem(np.array(PAPER))


# -- distributions: exact constants against Monte Carlo -------------------------------------
@pytest.mark.parametrize("dist", [Gaussian(), Rademacher()])
def test_covariance_and_fourth_moments_match_monte_carlo(dist):
    """Sample mean of Y_i^2 Y_j^2 vs the closed form, within 5 standard errors.

    n = 400k draws; 5 SE keeps the false-alarm rate below 1e-5 per entry over the 16 entries.
    """
    lam = np.array(PAPER)
    Q = ortho_group.rvs(4, random_state=2)
    rng = np.random.default_rng(12345)
    n = 400_000
    x = dist.sample_x(rng, n, lam, Q)
    y = x @ Q
    cov = np.cov(x.T)
    # covariance Sigma = Q diag(lam) Q^T: entrywise SE of a sample covariance ~ sqrt(Var(X_a X_b)/n)
    se_cov = np.sqrt(np.var(x[:, :, None] * x[:, None, :], axis=0) / n)
    assert np.all(np.abs(cov - (Q * lam) @ Q.T) <= 5 * se_cov + 1e-12)
    prods = (y**2)[:, :, None] * (y**2)[:, None, :]
    m4 = prods.mean(axis=0)
    se = prods.std(axis=0) / np.sqrt(n)
    alpha = dist.constants(lam, Q).alpha
    assert np.all(np.abs(m4 - alpha**2) <= 5 * se + 1e-12)


def test_gaussian_constants_closed_form():
    c = Problem(PAPER).constants
    assert c.C_d is None and "does not exist" in c.C_d_note
    # E[Y_i^2 Y_j^2] = lambda_i lambda_j (1 + 2 delta_ij)  (Isserlis)
    assert c.alpha[0, 0] == pytest.approx(np.sqrt(3) * 4)
    assert c.alpha[0, 1] == pytest.approx(np.sqrt(12))
    # phi = sum_i alpha_{1,i}^2 = lambda_1 (3 lambda_1 + lambda_2 + ... + lambda_d)
    assert c.phi == pytest.approx(4 * (12 + 3 + 2 + 1))


def test_rademacher_norm_is_constant_and_equals_C_d():
    p = Problem(PAPER, Q=ortho_group.rvs(4, random_state=3), dist="rademacher")
    x = p.dist.sample_x(np.random.default_rng(0), 1000, p.lambda_, p.Q)
    norms = np.linalg.norm(x, axis=1)
    np.testing.assert_allclose(norms, np.sqrt(sum(PAPER)), rtol=1e-13)
    assert p.C_d == pytest.approx(np.sqrt(10.0))
    assert p.phi == pytest.approx(4 * 10.0)


@pytest.mark.parametrize("dist", [Gaussian(), Rademacher()])
def test_chunked_draws_concatenate(dist):
    """The simulators rely on sequential consumption: n1 + n2 rows == n rows."""
    lam = np.array(PAPER)
    a = dist.sample_y(np.random.default_rng(7), 1000, lam, np.eye(4))
    rng = np.random.default_rng(7)
    b = np.concatenate([dist.sample_y(rng, 300, lam, np.eye(4)), dist.sample_y(rng, 700, lam, np.eye(4))])
    assert np.array_equal(a, b)


def test_user_sampler_estimates_constants_with_standard_errors():
    lam = np.array(PAPER)

    def sampler(rng, n):
        return rng.standard_normal((n, 4)) * np.sqrt(lam)

    p = Problem(PAPER, dist=UserSampler(sampler, n_mc=100_000, seed=1))
    c = p.constants
    assert not c.exact and "empirical" in c.C_d_note
    exact = Gaussian().constants(lam, np.eye(4)).alpha
    # Monte Carlo estimate within 5 of its own standard errors of the exact Gaussian value
    assert np.all(np.abs(c.alpha - exact) <= 5 * c.alpha_se)


def test_user_sampler_shape_is_checked():
    p = Problem(PAPER, dist=lambda rng, n: rng.standard_normal((n, 3)))
    with pytest.raises(ValueError, match="^sampler"):
        _ = p.constants


def test_get_distribution():
    assert isinstance(get_distribution("Gaussian"), Gaussian)
    assert isinstance(get_distribution(" rademacher "), Rademacher)
    with pytest.raises(ValueError, match="^dist"):
        get_distribution(3)
