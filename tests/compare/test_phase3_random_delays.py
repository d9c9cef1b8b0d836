"""The random-delay linearised predictions of compare._common (issue 11) against Monte Carlo.

The scalar recursion x_{k+1} = (1+mu) x_k - mu x_{k-1} - s x_{k-tau_k} + eta xi_k is simulated
with tau_k drawn by the *simulator's own* delay models (simulate.delays: Uniform, Geometric,
WorkerPipeline), so a convention mismatch (uniform on {0..tau_max} vs {0..2m}, the geometric
ratio, the pipeline's workers) fails here. Tolerances are in standard errors across independent
chains (per-chain time averages are iid across chains, so the SE is honest despite the
autocorrelation within a chain); Z_TOL = 4.5 SE gives a false-alarm rate of 7e-6 per comparison,
about 2e-4 for the whole file. Each MC test also asserts that the constant delay at the rounded
mean (what phase3 used before) is rejected by the same data: the test has the power to tell the
exact law from the approximation it replaces.
"""

from __future__ import annotations

import numpy as np
import pytest

from compare import _common as C
from simulate import delays as D

#: Tolerance of a Monte Carlo comparison, in standard errors (two-sided 7e-6 false alarms each).
Z_TOL = 4.5
MU, S, ALPHA = 0.5, 0.12, 1.0  # eta = 1: u units are x units; relaxation ~ (1-mu)/s ~ 4 steps
MODELS = [D.Uniform(6), D.Geometric(3.0), D.WorkerPipeline(4)]  # all of mean staleness 3


def _simulate(model, runs: int, n: int, seed: int, x0: float = 0.0) -> np.ndarray:
    """Chains of the scalar recursion, shape (runs, n + 1); history x_{-i} = x_0 (eq. (5)'s v_{-i} = v_0)."""
    taus = np.stack([model.sample(np.random.default_rng([seed, r]), n) for r in range(runs)])
    xi = np.random.default_rng([seed, 0x78]).standard_normal((runs, n))
    X = np.empty((runs, n + 1))
    X[:, 0] = x0
    prev = np.full(runs, x0)
    rows = np.arange(runs)
    for k in range(n):
        stale = X[rows, np.maximum(k - taus[:, k], 0)]
        X[:, k + 1] = (1 + MU) * X[:, k] - MU * prev - S * stale + ALPHA * xi[:, k]
        prev = X[:, k]
    return X


@pytest.fixture(scope="module")
def stationary():
    """Per model: per-chain time averages of x^2 and of x_k x_{k+h} (h = 3, 10) after a burn-in."""
    out = {}
    for n_model, model in enumerate(MODELS):
        X = _simulate(model, runs=300, n=1800, seed=11 + n_model)[:, 300:]
        out[model.label] = {h: (X[:, : X.shape[1] - h] * X[:, h:]).mean(axis=1) for h in (0, 3, 10)}
    return out


def _z(samples: np.ndarray, predicted: float) -> float:
    return float((samples.mean() - predicted) / (samples.std(ddof=1) / np.sqrt(samples.size)))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.label)
def test_stationary_variance_and_acf_match_monte_carlo(model, stationary):
    law = C.exact_delay_law(model)
    mc = stationary[model.label]
    V = C.linearised_variance_u_law(ALPHA, S, 1.0, MU, law)
    gamma = C.linearised_autocovariance_u_law(ALPHA, S, 1.0, MU, law, 10)
    assert gamma[0] == pytest.approx(V, rel=1e-12)
    for h in (0, 3, 10):
        assert abs(_z(mc[h], gamma[h])) < Z_TOL, (model.label, h, mc[h].mean(), gamma[h])
    # power: the constant delay at the rounded mean staleness (3) is far outside the MC interval
    V_const = C.linearised_variance_u(ALPHA, S, 1.0, MU, 3)
    assert abs(_z(mc[0], V_const)) > 3 * Z_TOL


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.label)
def test_mean_path_matches_monte_carlo(model):
    x0, n = 20.0, 40
    X = _simulate(model, runs=1500, n=n, seed=5, x0=x0)
    law = C.exact_delay_law(model)
    pred = C.linearised_mean_path_law(x0, S, 1.0, MU, law, n)
    se = X.std(axis=0, ddof=1) / np.sqrt(X.shape[0])
    z = np.abs(X.mean(axis=0)[1:] - pred[1:]) / se[1:]
    assert pred[0] == x0 and z.max() < Z_TOL + 1.0  # + 1: Bonferroni over the 40 steps
    const = C.linearised_mean_path(x0, S, 1.0, MU, 3, n)
    z_const = np.abs(X.mean(axis=0)[1:] - const[1:]) / se[1:]
    assert z_const.max() > 2 * Z_TOL


@pytest.mark.parametrize("tau", [0, 1, 4, 17])
def test_point_mass_equals_the_constant_delay_functions(tau):
    alpha, c, eta, mu = 1.3, 2.0, 5e-4, 0.9
    law = C.exact_delay_law(tau)
    assert C.delay_law_label(law) == f"point mass at {tau}"
    assert C.linearised_variance_u_law(alpha, c, eta, mu, law) == pytest.approx(
        C.linearised_variance_u(alpha, c, eta, mu, tau), rel=1e-9
    )
    a = C.linearised_autocovariance_u(alpha, c, eta, mu, tau, 300)
    b = C.linearised_autocovariance_u_law(alpha, c, eta, mu, law, 300)
    np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-9 * a[0])
    np.testing.assert_allclose(
        C.linearised_mean_path_law(1.5, c, eta, mu, law, 400),
        C.linearised_mean_path(1.5, c, eta, mu, tau, 400),
        rtol=1e-11,
        atol=1e-11,
    )
    np.testing.assert_allclose(
        C.mean_field_impulse_response_law(c, eta, mu, law, 200),
        C.impulse_response(c, eta, mu, tau, 200),
        atol=1e-11,
    )
    assert C.linearised_decay_rate_law(c, eta, mu, law) == pytest.approx(
        C.linearised_decay_rate(c, eta, mu, tau), rel=1e-9
    )


def test_exact_delay_law_follows_the_simulator_conventions():
    from theory.random_delays import WorkerPipelineLaw
    from theory.stability import GeometricDelayLaw

    u = C.exact_delay_law({"model": "uniform", "tau_max": 8})
    np.testing.assert_allclose(u, np.full(9, 1 / 9))  # {0..tau_max}, not {0..2 tau}
    g = C.exact_delay_law(D.Geometric(4.0))
    assert isinstance(g, GeometricDelayLaw) and g.mean == pytest.approx(4.0)
    capped = C.exact_delay_law(D.Geometric(4.0, cap=3))
    draws = D.Geometric(4.0, cap=3).sample(np.random.default_rng(0), 200_000)
    freq = np.bincount(draws, minlength=4) / draws.size
    np.testing.assert_allclose(capped, freq, atol=5 * np.sqrt(0.25 / draws.size))  # 5 SE of a frequency
    assert C.exact_delay_law(D.WorkerPipeline(5)) == WorkerPipelineLaw(5)
    assert C.exact_delay_law(D.WorkerPipeline(3, compute_time=(2.0, 2.0, 2.0))) == WorkerPipelineLaw(3)
    np.testing.assert_array_equal(C.exact_delay_law(D.WorkerPipeline(3, compute_time="constant")), [0, 0, 1])
    assert C.exact_delay_law(D.WorkerPipeline(3, compute_time=(1.0, 2.0, 3.0))) is None


def test_unstable_law_gives_inf_and_nan():
    law = C.exact_delay_law(D.Uniform(400))  # mean 200, far past the threshold (~40) at the paper's setting
    assert C.linearised_variance_u_law(1.0, 3.0, 5e-4, 0.9, law) == float("inf")
    assert np.all(np.isnan(C.linearised_autocovariance_u_law(1.0, 3.0, 5e-4, 0.9, law, 5)))
    assert C.linearised_variance_u_law(1.0, -1.0, 5e-4, 0.9, law) == float("inf")


def test_phase3_uses_the_exact_law_for_a_random_delay_model():
    """Under --delay-model uniform the verdict's linearised predictions are those of uniform on
    {0..tau_max}, not of the rounded mean staleness as a constant delay (issue 11)."""
    from compare.phase3 import compare_phase3, spec_for
    from compare.phase3_spec import setup, transient_start
    from theory import Problem

    problem = Problem([4.0, 3.0, 2.0, 1.0])
    # tau_max = 150: the tangent modes are mean-square stable, the radial mode (c = 8) is not
    kw = dict(eta=2e-3, mu=0.5, delay=D.Uniform(150), runs=5, horizon=0.2, ladder=(1.0,), sweep=())
    v = compare_phase3(problem, **kw)
    spec = spec_for(problem, **kw)
    s = setup(spec)
    law = np.full(151, 1 / 151)  # uniform on {0..tau_max}, written out (not exact_delay_law's)
    assert v.results["linearised_delay_law"] == "uniform on {0..150}"
    assert any(n.startswith("under this delay law the radial mode(s) are not mean-square") for n in v.notes)
    for k, i in enumerate(s.coords):
        exact = C.linearised_variance_u_law(s.alpha[k], s.c[k], 2e-3, 0.5, law)
        const = C.linearised_variance_u(s.alpha[k], s.c[k], 2e-3, 0.5, 75)
        got = v.results["per_coordinate"][str(i)]["variance_linearised"]
        assert got == pytest.approx(exact, rel=1e-12)
        assert abs(got / const - 1) > 1e-3  # the rounded mean staleness (75) as a constant differs
    t = np.asarray(v.results["transient"]["t"])
    _, u0 = transient_start(spec, s)
    steps = np.rint(t / 2e-3).astype(int)
    mean = C.linearised_mean_path_law(u0[2], s.c[2], 2e-3, 0.5, law, int(steps[-1]))[steps]
    np.testing.assert_allclose(np.asarray(v.results["transient"]["linearised_mean"])[2], mean, rtol=1e-12)
