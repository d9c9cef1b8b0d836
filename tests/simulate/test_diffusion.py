"""The full small-noise diffusion: fast noise vs reference, sdeint, reproducibility, limit (8).

The declared orders of :class:`DiffusionEuler` are tested by regression of log error on log dt:
the strong order against the same scheme on a 16x finer grid (the same Brownian path), the weak
order against independent exact references (the closed-form ODE (7) solution for the mean,
the exact OU (8) variance for the second moment), so a scheme consistent with the wrong
equation fails too.
"""

import itertools

import numpy as np
import pytest

from simulate._sdeint import sdeint_integrate
from simulate.diffusion import DiffusionEuler, FullDiffusion, integrate_diffusion, simulate_diffusion
from simulate.sde import PATH_BLOCK, brownian_increments
from theory.diffusion import stationary_norm_excess
from theory.distributions import UserSampler
from theory.ode import closed_form_H
from theory.problem import Problem
from theory.sde import ou_coefficients

#: Fitted log-log slope vs the declared order: as in tests/simulate/test_sde.py, 0.15 covers the
#: Monte Carlo scatter of the regression over the step-size ladder (order-0.5 vs order-1
#: schemes differ by 0.5, so a wrong order still fails).
SLOPE_TOL = 0.15

#: Agreement "to rounding" between two arithmetic orders of the same scheme over <= 200 steps.
ROUNDING = 1e-12

#: Ulps allowed between the two engines' summation orders (the compiled kernel and numpy sum
#: the d^2 noise terms per step in different orders: a few ulps per step), before the
#: amplification by the unstable drift; the largest difference seen is 0.3 ulp x growth.
SUMMATION_ULPS = 16

#: Monte Carlo band in standard errors (4 SE: two-sided 6e-5 false-alarm rate per check).
N_SE = 4.0


def rotated(d, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def _user_problem():
    lam = np.array([4.0, 3.0, 2.0, 1.0])
    Q = rotated(4, 2)
    patterns = np.array(list(itertools.product([-1.0, 1.0], repeat=4)))

    def sampler(rng, n):  # balanced sign patterns: exact Rademacher moments at n_mc = 16 k
        return (np.resize(patterns, (n, 4)) * np.sqrt(lam)) @ Q.T

    return Problem(lam, Q=Q, dist=UserSampler(sampler, n_mc=1600))


PROBLEMS = {
    "gaussian": Problem([4.0, 3.0, 2.0, 1.0], Q=rotated(4, 1), dist="gaussian"),
    "rademacher": Problem([4.0, 3.0, 2.0, 1.0], dist="rademacher"),
    "user": _user_problem(),
}


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_fast_noise_equals_matrix_form(name):
    model = FullDiffusion(PROBLEMS[name], 0.7, 1e-3)
    rng = np.random.default_rng(0)
    h = rng.standard_normal((30, 4))
    dW = rng.standard_normal((30, model.m))
    ref = np.einsum("nak,nk->na", model.diffusion_matrix(h), dW)
    np.testing.assert_allclose(model.noise(h, dW), ref, rtol=0, atol=ROUNDING * np.abs(ref).max())


@pytest.mark.parametrize("name", ["gaussian", "rademacher"])
def test_euler_agrees_with_sdeint_itoEuler_pathwise(name):
    problem = PROBLEMS[name]
    model = FullDiffusion(problem, 0.5, 1e-2)
    t = np.linspace(0.0, 2.0, 201)
    v0 = problem.eigenvector(2) + 0.05 * problem.eigenvector(1)
    dW = brownian_increments(np.random.default_rng(3), t, 3, model.m)
    ours = integrate_diffusion(model, v0, t, dW)
    for p in range(3):
        ref = sdeint_integrate(
            lambda y, s: model.drift(y), lambda y, s: model.diffusion_matrix(y), problem.to_eigen(v0), t,
            dW[:, p], method="itoEuler",
        )
        np.testing.assert_allclose(ours[:, p], ref, rtol=0, atol=ROUNDING * np.abs(ref).max())


@pytest.mark.parametrize("name", ["gaussian", "user"])
def test_simulate_equals_reference_loop_and_block_size_does_not_matter(name):
    problem = PROBLEMS[name]
    t = np.linspace(0.0, 1.0, 51)
    v0 = problem.eigenvector(1)
    runs = [
        simulate_diffusion(problem, 0.6, 1e-3, v0, t, n_paths=16, rng=np.random.default_rng(7),
                           block_steps=bs)
        for bs in (1, 5, None)
    ]
    for r in runs[1:]:
        assert np.array_equal(r, runs[0])
    model = FullDiffusion(problem, 0.6, 1e-3)
    dW = brownian_increments(np.random.default_rng(7), t, 16, model.m)
    ref = integrate_diffusion(model, v0, t, dW, reference=True)
    np.testing.assert_allclose(runs[0], ref, rtol=0, atol=ROUNDING)


#: Paths spanning two blocks of the stream, the second one partial.
N_MULTI = PATH_BLOCK + 11


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_bit_identical_whatever_the_threads_over_several_path_blocks(engine):
    problem = PROBLEMS["gaussian"]
    t = np.linspace(0.0, 0.1, 11)
    v0 = problem.eigenvector(2)
    runs = [
        simulate_diffusion(problem, 0.8, 1e-3, v0, t, n_paths=N_MULTI, rng=np.random.default_rng(9),
                           engine=engine, threads=threads, block_steps=bs)
        for threads, bs in ((1, 3), (2, None))
    ]
    assert np.array_equal(runs[0], runs[1])
    # the same paths as the plain loop on the same stream (exactly for the numpy engine)
    model = FullDiffusion(problem, 0.8, 1e-3)
    dW = brownian_increments(np.random.default_rng(9), t, N_MULTI, model.m)
    ref = integrate_diffusion(model, v0, t, dW)
    if engine == "numpy":
        assert np.array_equal(runs[0], ref)
    else:
        np.testing.assert_allclose(runs[0], ref, rtol=0, atol=ROUNDING)
    # whole blocks do not depend on n_paths
    first = simulate_diffusion(problem, 0.8, 1e-3, v0, t, n_paths=PATH_BLOCK, rng=np.random.default_rng(9),
                               engine=engine)
    assert np.array_equal(runs[0][:, :PATH_BLOCK], first)


@pytest.mark.parametrize("name", ["gaussian", "rademacher"])
def test_numba_engine_agrees_with_numpy_engine(name):
    problem = PROBLEMS[name]
    t = np.linspace(0.0, 2.0, 201)
    v0 = problem.eigenvector(2)
    rngs = [np.random.default_rng(8), np.random.default_rng(8)]
    mu = 0.8
    fast, slow = (
        simulate_diffusion(problem, mu, 1e-3, v0, t, n_paths=50, rng=rng, engine=engine, record=[0, 100, -1])
        for rng, engine in zip(rngs, ("numba", "numpy"), strict=True)
    )
    # Started at the saddle e_2, a rounding difference grows like exp(a_1 T) along the unstable
    # direction, a_1 = (lambda_1 - lambda_2)/(1 - mu) (Theorem 9): e^10 ~ 2e4 here, so
    # agreement "to rounding" means SUMMATION_ULPS ulps of that amplified size.
    growth = np.exp((problem.lambda_[0] - problem.lambda_[1]) / (1.0 - mu) * t[-1])
    np.testing.assert_allclose(fast, slow, rtol=0, atol=SUMMATION_ULPS * np.finfo(float).eps * growth)
    assert rngs[0].random() == rngs[1].random()  # same numbers consumed


def test_stationary_spread_at_optimum_is_eq8():
    # Started at e_1 with small eta, u = h_{2..4}/sqrt(eta) is the OU (8) to O(sqrt(eta))
    # (the neglected nonlinear terms are O(|h - e_1|^2) ~ 1e-3 relative here). Compared
    # with Euler-Maruyama's own stationary variance b^2/(-2a - a^2 dt) of the linear
    # limit, so the step bias is not mistaken for a model error.
    problem = Problem([4.0, 3.0, 2.0, 1.0], Q=rotated(4, 9), dist="gaussian")
    mu, eta, dt, n = 0.5, 1e-4, 5e-3, 4000
    t = np.arange(0.0, 4.0 + dt / 2, dt)  # 4 = 8 relaxation times of the slowest a = -2
    H = simulate_diffusion(problem, mu, eta, problem.eigenvector(1), t, n_paths=n,
                           rng=np.random.default_rng(13), record=[-1])[0]
    u = H[:, 1:] / np.sqrt(eta)
    ou = ou_coefficients(problem, mu, 1)
    v_em = ou.diffusion**2 / (-2 * ou.drift - ou.drift**2 * dt)
    v_hat = u.var(axis=0, ddof=1)
    se = v_em * np.sqrt(2.0 / (n - 1))
    assert np.all(np.abs(v_hat - v_em) < N_SE * se), (v_hat, v_em, se)
    # tangent coordinates uncorrelated, as eq. (8) says (SE of a correlation ~ 1/sqrt(n))
    corr = np.corrcoef(u.T)
    assert np.all(np.abs(corr[np.triu_indices(3, 1)]) < N_SE / np.sqrt(n))
    # Beyond (8): |h|^2 - 1 settles at eta sum_{i>=2} alpha_i1^2 / (2 lambda_1 (1-mu)). The
    # band adds EM's O(dt) bias of this mean, measured at +2.4%, +1.5%, +0.7% for
    # dt = 1e-2, 5e-3, 2.5e-3 (halving with dt), to N_SE standard errors.
    eps = np.sum(H**2, axis=1) - 1.0
    pred = stationary_norm_excess(problem, mu, eta)
    assert abs(eps.mean() - pred) < N_SE * eps.std(ddof=1) / np.sqrt(n) + 0.025 * pred, (eps.mean(), pred)


@pytest.mark.parametrize("dist", ["gaussian", "rademacher"])
def test_escape_from_saddle_starts_as_theorem9(dist):
    # Started at the saddle e_2, u = (h - e_2)/sqrt(eta) follows Theorem 9's OU while
    # |h - e_2| is small (here |h_1| ~ 1e-2 at T: nonlinear terms ~ 1e-4 relative). The
    # reference is EM's own variance of that OU, b^2 dt sum_k (1 + a dt)^(2k), so only
    # the model is tested (not EM's O(dt) bias); band N_SE standard errors.
    problem = Problem([4.0, 3.0, 2.0, 1.0], Q=rotated(4, 4), dist=dist)
    mu, eta, dt, n = 0.5, 1e-6, 5e-3, 4000
    t = np.arange(0.0, 1.0 + dt / 2, dt)
    H = simulate_diffusion(problem, mu, eta, problem.eigenvector(2), t, n_paths=n,
                           rng=np.random.default_rng(17), record=[-1])[0]
    ou = ou_coefficients(problem, mu, 2)
    u = H[:, ou.coords - 1] / np.sqrt(eta)
    g = (1 + ou.drift * dt) ** 2
    v_em = ou.diffusion**2 * dt * (g ** (t.size - 1) - 1) / (g - 1)
    se = v_em * np.sqrt(2.0 / (n - 1))
    assert np.all(np.abs(u.var(axis=0, ddof=1) - v_em) < N_SE * se), (u.var(axis=0), v_em)
    assert ou.drift[0] > 0  # the direction towards e_1 is the unstable one


def test_euler_strong_order_on_the_full_diffusion():
    # No closed form here: the reference is the same scheme on a 16x finer grid driven by the
    # same Brownian path. eta = 0.05 makes the multiplicative noise matter (for eta -> 0 the
    # drift's O(dt) error dominates and the fitted slope tends to 1). The cubic drift makes
    # EM unstable for large noise (eta ~ 0.2 here already diverges on coarse grids).
    problem = Problem([2.0, 1.0, 0.5], dist="gaussian")
    model = FullDiffusion(problem, 0.0, 0.05)
    n_fine, n_paths = 4096, 200
    t = np.linspace(0.0, 1.0, n_fine + 1)
    dW = brownian_increments(np.random.default_rng(0), t, n_paths, model.m)
    v0 = np.array([0.6, 0.8, 0.0])
    ref = integrate_diffusion(model, v0, t, dW)[-1]
    n_list = np.array([16, 32, 64, 128, 256])
    errs = []
    for n in n_list:
        dWn = dW.reshape(n, n_fine // n, n_paths, model.m).sum(axis=1)
        H = integrate_diffusion(model, v0, np.linspace(0.0, 1.0, n + 1), dWn)[-1]
        errs.append(np.sqrt(np.mean(np.sum((H - ref) ** 2, axis=1))))
    slope = np.polyfit(np.log(1.0 / n_list), np.log(errs), 1)[0]
    assert abs(slope - DiffusionEuler.strong_order) < SLOPE_TOL, (slope, errs)


#: Step counts of the weak-order ladders below (T = 1): dt from 1/32 down to 1/512 for the mean,
#: where lambda dt/(1 - mu) <= 1/4 keeps Euler in its asymptotic regime, and 1/16 .. 1/64 for
#: the variance (the OU's |a| dt <= 1/8).
WEAK_MEAN_STEPS = (32, 64, 128, 256, 512)
WEAK_VAR_STEPS = (16, 32, 64)


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_euler_weak_order_of_the_mean_against_the_closed_form_ode(engine):
    """E[H_T] of Euler-Maruyama vs the closed-form solution of ODE (7) (Theorem 3), no finer grid.

    At eta = 1e-10 the diffusion's mean differs from the ODE by O(eta) and the Monte Carlo error
    of a mean over 16 paths is ~ sqrt(eta)/(1 - mu)/4 ~ 5e-6, both far below the smallest Euler
    error (~2e-4 at dt = 1/512, measured err/dt ~ 0.095), so the fitted slope is the weak order of
    the drift part; a scheme integrating the wrong drift would not converge to the closed form.
    """
    problem = Problem([4.0, 3.0, 2.0, 1.0], Q=rotated(4, 5), dist="gaussian")
    mu, eta, T = 0.5, 1e-10, 1.0
    h0 = np.full(4, 0.5)  # on the unit sphere, away from the saddles
    exact = closed_form_H(h0, problem.lambda_, mu, T)
    errs = []
    for n in WEAK_MEAN_STEPS:
        H = simulate_diffusion(problem, mu, eta, problem.from_eigen(h0), np.linspace(0.0, T, n + 1),
                               n_paths=16, rng=np.random.default_rng(2), record=[-1], engine=engine)[0]
        errs.append(np.max(np.abs(H.mean(axis=0) - exact)))
    slope = np.polyfit(np.log(T / np.array(WEAK_MEAN_STEPS)), np.log(errs), 1)[0]
    assert abs(slope - DiffusionEuler.weak_order) < SLOPE_TOL, (slope, errs)
    assert errs[-1] < 1e-3  # and it converges to the closed form (err ~ 0.095 dt)


def test_euler_weak_order_of_the_second_moment_against_the_exact_ou():
    """E[u_2^2](T) from the optimum vs the exact variance of the OU (8), b^2 (e^{2aT} - 1)/(2a).

    d = 2 Rademacher data, mu = 0: u_2 = h_2/sqrt(eta) is, up to O(sqrt(eta)) = 1e-4 relative at
    eta = 1e-8, the OU du = a u dt + b dW with a = -(lambda_1 - lambda_2) = -2 and
    b = alpha_12 = sqrt(3) (theory.sde.ou_coefficients), driven by the diffusion's single
    Brownian motion (the pair (1, 2) noise, coefficient +b at e_1). Control variate: with each
    Euler increment dW_k the exact OU is drawn from the exact joint Gaussian law of
    (dW_k, I_k = int e^{a (t_{k+1} - s)} dW_s), so u_em^2 - u_exact^2 has mean (Euler's second
    moment) - (the exact one) and a small variance (the two paths differ by O(dt)). Measured
    relative standard errors 1.4% (20000 paths); the errors are 7%, 3.5%, 1.7% of the exact
    moment. Each matches Euler's closed-form second moment of the OU, b^2 dt (1 - g^n)/(1 - g)
    with g = (1 + a dt)^2, within N_SE standard errors, and the fitted slope (1.03 on this
    ladder in exact arithmetic: the O(dt^2) term) is the declared weak order within SLOPE_TOL.
    """
    problem = Problem([3.0, 1.0], dist="rademacher")
    mu, eta, T, n_paths = 0.0, 1e-8, 1.0, 20_000
    model = FullDiffusion(problem, mu, eta)
    assert model.m == 1  # one pair, no square terms for Rademacher data
    ou = ou_coefficients(problem, mu, 1)
    a, b = float(ou.drift[0]), float(ou.diffusion[0])
    errs = []
    for n in WEAK_VAR_STEPS:
        dt = T / n
        z = np.random.default_rng(n).standard_normal((2, n, n_paths))
        dW = np.sqrt(dt) * z[0]
        var_I, cov = (np.exp(2 * a * dt) - 1) / (2 * a), (np.exp(a * dt) - 1) / a
        I = cov / dt * dW + np.sqrt(var_I - cov**2 / dt) * z[1]
        u_exact = np.zeros(n_paths)
        for k in range(n):
            u_exact = np.exp(a * dt) * u_exact + b * I[k]
        H = integrate_diffusion(model, problem.eigenvector(1), np.linspace(0.0, T, n + 1), dW[..., None])
        y = (H[-1, :, 1] / np.sqrt(eta)) ** 2 - u_exact**2
        err, se = float(y.mean()), float(y.std(ddof=1) / np.sqrt(n_paths))
        g = (1 + a * dt) ** 2
        euler_bias = b**2 * dt * (1 - g**n) / (1 - g) - b**2 * (np.exp(2 * a * T) - 1) / (2 * a)
        assert abs(err - euler_bias) < N_SE * se, (n, err, euler_bias, se)
        errs.append(err)
    slope = np.polyfit(np.log(T / np.array(WEAK_VAR_STEPS)), np.log(errs), 1)[0]
    assert abs(slope - DiffusionEuler.weak_order) < SLOPE_TOL, (slope, errs)


def test_linearisation_exposed_on_model_matches_theory():
    model = FullDiffusion(PROBLEMS["rademacher"], 0.3, 1e-3)
    lin = model.linearisation(2)
    ou = ou_coefficients(model.problem, 0.3, 2)
    # the same closed forms computed along two code paths (Jacobian of M and covariance at e_j
    # vs theory.sde): equal up to a few roundings, far inside rtol 1e-7 (numpy's default)
    np.testing.assert_allclose(lin.drift, ou.drift, rtol=1e-12)
    np.testing.assert_allclose(lin.diffusion, ou.diffusion, rtol=1e-12)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: FullDiffusion(PROBLEMS["gaussian"], 0.5, 0.0), "eta"),
        (lambda: FullDiffusion(PROBLEMS["gaussian"], 1.0, 1e-3), "mu"),
        (lambda: simulate_diffusion(PROBLEMS["gaussian"], 0.5, 1e-3, [1.0, 0, 0, 0], [0.0, 1.0], n_paths=2,
                                    rng=np.random.default_rng(), engine="cuda"), "engine"),
        (lambda: simulate_diffusion(PROBLEMS["gaussian"], 0.5, 1e-3, [1.0, 0.0], [0.0, 1.0], n_paths=2,
                                    rng=np.random.default_rng()), "v0"),
        (lambda: simulate_diffusion(PROBLEMS["gaussian"], 0.5, 1e-3, [1.0, 0, 0, 0], [0.0, 0.0], n_paths=2,
                                    rng=np.random.default_rng()), "t"),
        (lambda: simulate_diffusion(PROBLEMS["gaussian"], 0.5, 1e-3, [1.0, 0, 0, 0], [0.0, 1.0], n_paths=-1,
                                    rng=np.random.default_rng()), "n_paths"),
        (lambda: simulate_diffusion(PROBLEMS["gaussian"], 0.5, 1e-3, [1.0, 0, 0, 0], [0.0, 1.0], n_paths=2,
                                    rng=np.random.default_rng(), threads=-2), "threads"),
        (lambda: integrate_diffusion(FullDiffusion(PROBLEMS["gaussian"], 0.5, 1e-3), [1.0, 0, 0, 0],
                                     [0.0, 1.0], np.zeros((1, 2, 4))), "dW"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        call()
