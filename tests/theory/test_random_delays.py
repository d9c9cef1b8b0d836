"""Tests of theory.random_delays and theory.random_tradeoff: mean-square stability under random staleness.

Oracles, independent of the martingale-split formula and the Levinson recursion under test:

* the dense second-moment operator of the lifted state, vec P -> sum_j p_j (A_j kron A_j) vec P
  (plus the noise), built here from companion matrices, for supports K <= 6: its spectral
  radius, its stationary solution, its iterates;
* the dense second-moment operator of the worker pipeline over the full state
  (x_k, x_{k-1}, y_1..y_M), every writer W with probability 1/M, M <= 5;
* Monte Carlo of the scalar recursion with delays drawn by ``simulate.delays`` (the
  simulator's own uniform, geometric and worker-pipeline samplers);
* for a constant delay, the D-subdivision threshold of ``theory.stability`` and the
  discrete Lyapunov equation (scipy);
* numpy root finding, FFT quadrature of spectral densities, the AR(2) closed form.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
from scipy.optimize import brentq

from simulate import delays as sim_delays
from theory import Problem
from theory.random_delays import (
    WorkerPipelineLaw,
    _levinson_transform,
    _point_mass_h2,
    _uniform_mean_stable,
    _uniform_moments,
    _uniform_roots_outside,
    ar_autocovariances,
    ar_autocovariances_reference,
    mean_square_growth,
    mean_square_stability,
    pipeline_moment_maps,
    random_delay_law,
    stationary_variance_random,
)
from theory.random_tradeoff import (
    largest_stable_mean,
    mean_square_threshold,
    predicted_optimal_delay,
    random_delay_report,
    stationary_error_random,
)
from theory.stability import (
    GeometricDelayLaw,
    critical_delay,
    delay_law,
    max_stable_delay,
    mean_field_spectral_radius,
    mean_field_threshold,
)


# ---------------------------------------------------------------------------------------
# independent references
# ---------------------------------------------------------------------------------------
def companion(mu, s, tau, m):
    """x_{k+1} = (1+mu) x_k - mu x_{k-1} - s x_{k-tau} on the state (x_k..x_{k-m+1})."""
    A = np.zeros((m, m))
    A[0, 0] += 1.0 + mu
    A[0, 1] += -mu
    A[0, tau] += -s
    A[1:, :-1] = np.eye(m - 1)
    return A


def dense_operator(mu, s, p):
    """Second-moment operator sum_j p_j kron(A_j, A_j) and vec(e_0 e_0^T) (unit noise)."""
    m = max(len(p), 2)
    L = sum(pj * np.kron(companion(mu, s, j, m), companion(mu, s, j, m)) for j, pj in enumerate(p) if pj > 0)
    b = np.zeros(m * m)
    b[0] = 1.0
    return L, b


def dense_radius(mu, s, p):
    return float(np.max(np.abs(np.linalg.eigvals(dense_operator(mu, s, p)[0]))))


def dense_variance(mu, s, p):
    L, b = dense_operator(mu, s, p)
    return float(np.linalg.solve(np.eye(L.shape[0]) - L, b)[0])


def pipeline_dense(mu, s, M):
    """Full second-moment operator of the pipeline on (x, x_-1, y_1..y_M), writer uniform."""
    n = M + 2
    L = np.zeros((n * n, n * n))
    b = np.zeros(n * n)
    for W in range(M):
        A = np.zeros((n, n))
        A[0, 0], A[0, 1], A[0, 2 + W] = 1.0 + mu, -mu, -s
        A[1, 0] = 1.0
        for m in range(M):
            A[2 + m, 2 + m] = 1.0
        A[2 + W] = A[0]  # the writer reads the new iterate
        g = np.zeros(n)
        g[0] = g[2 + W] = 1.0  # ... noise included
        L += np.kron(A, A) / M
        b += np.kron(g, g) / M
    return L, b


def truncated_geometric(q, K):
    p = (1.0 - q) * q ** np.arange(K + 1)
    return p / p.sum()


def random_laws(rng, n):
    """n random (mu, s, p) with supports K <= 5 (Dirichlet weights), both moment types stable or not."""
    out = []
    for _ in range(n):
        K = int(rng.integers(1, 6))
        p = rng.dirichlet(np.ones(K + 1) * 0.7)
        out.append((float(rng.uniform(0.0, 0.95)), float(rng.uniform(0.02, 1.2)), p))
    return out


def simulate_x(mu, s, taus, rng, x0=0.0, noise=1.0):
    """Paths of x_{k+1} = (1+mu) x_k - mu x_{k-1} - s x_{k-tau_k} + noise xi_k, x_{-i} = x_0.

    taus: (runs, n) int; returns X of shape (n + 1, runs).
    """
    runs, n = taus.shape
    X = np.empty((n + 1, runs))
    X[0] = x0
    cols = np.arange(runs)
    for k in range(n):
        prev = X[k - 1] if k >= 1 else X[0]
        stale = X[np.maximum(k - taus[:, k], 0), cols]
        X[k + 1] = (1.0 + mu) * X[k] - mu * prev - s * stale + noise * rng.standard_normal(runs)
    return X


# ---------------------------------------------------------------------------------------
# the exact primitive
# ---------------------------------------------------------------------------------------
def test_levinson_matches_reference_fft_and_roots():
    rng = np.random.default_rng(11)
    for _ in range(40):
        n = int(rng.integers(1, 9))
        roots = rng.uniform(0.05, 1.3, n) * np.exp(1j * rng.uniform(0, np.pi, n))
        chi = np.real(np.poly(np.concatenate([roots, roots.conj()])))
        inside = bool(np.max(np.abs(np.roots(chi))) < 1.0)
        ok, g = ar_autocovariances(chi)
        ok_ref, g_ref = ar_autocovariances_reference(chi)
        assert ok == ok_ref == inside
        if not ok:
            continue
        np.testing.assert_allclose(g, g_ref, rtol=1e-10, atol=1e-12 * g_ref[0])
        # spectral density 1/|chi|^2 on a fine grid: rectangle rule, exponentially accurate
        N = 1 << 14
        th = 2 * np.pi * np.arange(N) / N
        f = 1.0 / np.abs(np.polyval(chi, np.exp(1j * th))) ** 2
        fft_g = [np.mean(f * np.cos(h * th)) for h in range(len(chi))]
        np.testing.assert_allclose(g, fft_g, rtol=1e-8, atol=1e-10 * g[0])


def test_levinson_rejects_bad_input():
    with pytest.raises(ValueError, match="^chi"):
        ar_autocovariances([0.0, 1.0])
    with pytest.raises(ValueError, match="^chi"):
        ar_autocovariances([1.0])


# ---------------------------------------------------------------------------------------
# mean-square criterion vs the dense second-moment operator
# ---------------------------------------------------------------------------------------
def test_criterion_matches_dense_operator_on_random_small_laws():
    rng = np.random.default_rng(2024)
    checked = {True: 0, False: 0}
    for mu, s, p in random_laws(rng, 150):
        rad = dense_radius(mu, s, p)
        if abs(rad - 1.0) < 1e-7:  # too close to the boundary to call either way
            continue
        ms = mean_square_stability(mu, s, p)
        assert ms.mean_square_stable == (rad < 1.0), (mu, s, p, rad)
        assert mean_square_growth(mu, s, p) == pytest.approx(rad, rel=1e-8)
        if ms.mean_square_stable:
            assert ms.variance_factor == pytest.approx(dense_variance(mu, s, p), rel=1e-8)
        checked[ms.mean_square_stable] += 1
    assert min(checked.values()) >= 20  # both outcomes exercised


def test_mean_square_unstable_while_mean_stable_exists():
    # the phenomenon the mean field misses: a law whose mean recursion is stable, second moments not
    mu, s, p = 0.5, 0.35, np.array([0.5, 0, 0, 0, 0.5])
    assert mean_field_spectral_radius(mu, s, p) < 1.0
    ms = mean_square_stability(mu, s, p)
    assert ms.mean_stable and not ms.mean_square_stable and ms.loop_gain > 1.0
    assert dense_radius(mu, s, p) > 1.0


@pytest.mark.parametrize(
    "mu, p",
    [
        (0.6, np.full(5, 0.2)),
        (0.9, np.full(3, 1 / 3)),
        (0.3, truncated_geometric(0.5, 5)),
        (0.8, [0.1, 0.0, 0.9]),
    ],
)
def test_stability_boundary_to_1e8(mu, p):
    """The s at which s^2 J = 1 is the s at which the dense operator's radius is 1."""
    p = np.asarray(p, dtype=float)

    def gain(s):
        return min(mean_square_stability(mu, s, p).loop_gain, 10.0) - 1.0

    s_hi = 0.01
    while gain(s_hi) < 0:
        s_hi *= 1.5
    s_ms = brentq(gain, s_hi / 1.5, s_hi, xtol=1e-14, rtol=1e-14)
    s_dense = brentq(lambda s: dense_radius(mu, s, p) - 1.0, s_hi / 1.5, s_hi, xtol=1e-14, rtol=1e-14)
    assert s_ms == pytest.approx(s_dense, rel=1e-8)
    assert mean_square_growth(mu, s_ms, p) == pytest.approx(1.0, abs=1e-8)


# ---------------------------------------------------------------------------------------
# constant delay: the deterministic threshold and the Lyapunov variance exactly
# ---------------------------------------------------------------------------------------
def test_point_mass_is_the_deterministic_threshold():
    rng = np.random.default_rng(5)
    n = 0
    while n < 150:
        mu, s = float(rng.uniform(0.0, 0.99)), float(10 ** rng.uniform(-2.5, 0.3))
        tau = int(rng.integers(0, 60))
        tau_c = float(critical_delay(mu, s))
        if abs(tau_c - round(tau_c)) < 1e-6:
            continue  # a near-tie is theory.stability's own (50-digit) business
        p = np.zeros(tau + 1)
        p[tau] = 1.0
        ms = mean_square_stability(mu, s, p)
        expected = tau <= max_stable_delay(mu, s)
        assert ms.mean_square_stable == ms.mean_stable == expected, (mu, s, tau)
        assert ms.loop_gain == (0.0 if expected else math.inf)
        # the generic Levinson path (Schur-Cohn, and J = gamma_0 - sum r_h gamma_h) knows nothing
        # of max_stable_delay: same verdict, and |P| = 1 leaves no martingale part
        ok, gain, _ = _levinson_transform(mu, s, p)
        assert ok == expected, (mu, s, tau)
        if ok:
            assert gain < 1e-9
        n += 1


def test_point_mass_variance_is_the_lyapunov_solution():
    for mu, s, tau, alpha, c in [
        (0.9, 4e-3, 20, 2.0, 8.0),
        (0.7, 0.05, 5, 1.5, 1.0),
        (0.0, 0.3, 0, 1.0, 3.0),
    ]:
        eta = s / c
        A = companion(mu, s, tau, max(tau + 1, 2))
        Qn = np.zeros_like(A)
        Qn[0, 0] = (eta * alpha) ** 2
        P = scipy.linalg.solve_discrete_lyapunov(A, Qn)
        got = stationary_variance_random(alpha, c, eta, mu, delay_law("constant", tau))
        assert got == pytest.approx(P[0, 0] / eta, rel=1e-9)
    # and the AR(2) closed form at tau = 0 (Box & Jenkins): alpha^2 (1+mu) / ((1-mu) c (2 (1+mu) - s))
    alpha, c, eta, mu = 3.0, 2.0, 5e-3, 0.8
    s = eta * c
    assert stationary_variance_random(alpha, c, eta, mu, delay_law("uniform", 0)) == pytest.approx(
        alpha**2 * (1 + mu) / ((1 - mu) * c * (2 * (1 + mu) - s)), rel=1e-12
    )


def test_constant_threshold_equals_stability_module():
    for mu, s in [(0.9, 4e-3), (0.7, 4e-3), (0.5, 0.2), (0.95, 1e-4)]:
        assert largest_stable_mean(mu, s, "constant") == max_stable_delay(mu, s)
        assert mean_square_threshold(mu, s, "constant") == max_stable_delay(mu, s)


def test_point_mass_growth_is_the_squared_root_modulus():
    for mu, s, tau in [(0.9, 4e-3, 33), (0.5, 0.1, 3), (0.8, 0.02, 12)]:
        rho = np.max(np.abs(np.linalg.eigvals(companion(mu, s, tau, max(tau + 1, 2)))))
        assert mean_square_growth(mu, s, delay_law("constant", tau)) == pytest.approx(rho**2, rel=1e-9)


# ---------------------------------------------------------------------------------------
# the geometric law in closed form
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mean, K", [(1, 70), (10, 500), (30, 1500)])
def test_geometric_closed_form_equals_long_truncation(mean, K):
    q = mean / (mean + 1.0)
    p = truncated_geometric(q, K)  # tail q^(K+1) < 1e-20
    for mu, s in [(0.9, 4e-3), (0.7, 0.03)]:
        a = mean_square_stability(mu, s, GeometricDelayLaw(q))
        b = mean_square_stability(mu, s, p)
        assert a.mean_stable == b.mean_stable
        if a.mean_stable:
            assert a.loop_gain == pytest.approx(b.loop_gain, rel=1e-8)
            assert a.h2 == pytest.approx(b.h2, rel=1e-8)
            assert mean_square_growth(mu, s, GeometricDelayLaw(q)) == pytest.approx(
                mean_square_growth(mu, s, p), rel=1e-8
            )


def test_geometric_truncated_small_support_matches_dense():
    # a small support exactly in the dense operator's range: q = 0.2 truncated at K = 5
    p = truncated_geometric(0.2, 5)
    for mu, s in [(0.5, 0.3), (0.8, 0.08), (0.2, 0.9)]:
        assert mean_square_stability(mu, s, p).variance_factor == pytest.approx(
            dense_variance(mu, s, p), rel=1e-9
        )


# ---------------------------------------------------------------------------------------
# worker pipeline: the 7-dimensional exchangeable reduction
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("M", [1, 2, 3, 5])
def test_pipeline_reduction_matches_full_dense_operator(M):
    for mu, s in [(0.5, 0.1), (0.9, 0.01), (0.7, 0.3)]:
        L, b = pipeline_dense(mu, s, M)
        full = float(np.max(np.abs(np.linalg.eigvals(L))))
        A1, L7, _ = pipeline_moment_maps(mu, s, M)
        assert mean_square_growth(mu, s, WorkerPipelineLaw(M)) == pytest.approx(full, rel=1e-9)
        if full < 1:
            P = np.linalg.solve(np.eye(L.shape[0]) - L, b)
            law = WorkerPipelineLaw(M)
            assert mean_square_stability(mu, s, law).variance_factor == pytest.approx(P[0], rel=1e-9)
        # its mean is the geometric mean field with q = (M - 1) / M
        rho1 = float(np.max(np.abs(np.linalg.eigvals(A1))))
        assert rho1 == pytest.approx(
            mean_field_spectral_radius(mu, s, GeometricDelayLaw((M - 1) / M)), rel=1e-9
        )


# ---------------------------------------------------------------------------------------
# Monte Carlo with the simulator's own delay samplers
# ---------------------------------------------------------------------------------------
MC_CASES = [
    # (label, model, law): every case mean-square stable with growth <= 0.99, so 1500 burn-in
    # steps leave a transient below 0.99^3000 ~ 1e-13 of the start
    ("uniform", sim_delays.Uniform(6), delay_law("uniform", 3)),
    ("geometric", sim_delays.Geometric(mean=3.0), delay_law("geometric", 3)),
    ("pipeline", sim_delays.WorkerPipeline(workers=4), WorkerPipelineLaw(4)),
]


@pytest.mark.parametrize("label, model, law", MC_CASES, ids=[c[0] for c in MC_CASES])
def test_stationary_variance_monte_carlo(label, model, law):
    mu, s, runs, burn, n = 0.5, 0.12, 1500, 1500, 2500
    assert mean_square_growth(mu, s, law) <= 0.99
    rng = np.random.default_rng([7, hash(label) % 1000])
    taus = np.stack([model.sample(rng, n) for _ in range(runs)])
    X = simulate_x(mu, s, taus, rng)
    per_run = np.mean(X[burn:] ** 2, axis=0)  # time average per independent run
    est, se = per_run.mean(), per_run.std(ddof=1) / math.sqrt(runs)
    pred = mean_square_stability(mu, s, law).variance_factor
    # 4 standard errors of a mean of 1500 independent runs: false-alarm rate ~6e-5 per case
    assert abs(est - pred) < 4 * se, (est, se, pred)
    if label == "pipeline":
        # the pipeline is not the i.i.d. geometric law of the same mean: the difference is resolved
        iid = mean_square_stability(mu, s, delay_law("geometric", 3)).variance_factor
        assert abs(iid - pred) > 8 * se, (iid, pred, se)


@pytest.mark.slow
def test_second_moment_transient_monte_carlo_unstable_case():
    """E x_n^2 from x = 1 in a mean-stable, mean-square-unstable case: the dense iterate and MC agree."""
    mu, s, p = 0.5, 0.35, np.array([0.5, 0, 0, 0, 0.5])
    assert mean_square_growth(mu, s, p) > 1.0 and mean_square_stability(mu, s, p).mean_stable
    L, _ = dense_operator(mu, s, p)
    P = np.ones(len(p) ** 2)  # x_{-i} = x_0 = 1: every entry of the lifted second moment is 1
    rng = np.random.default_rng(99)
    n, runs = 40, 200_000  # short: the law of x_n^2 grows heavy-tailed with n
    for _ in range(n):
        P = L @ P
    X = simulate_x(mu, s, rng.choice(len(p), size=(runs, n), p=p), rng, x0=1.0, noise=0.0)
    x2 = X[n] ** 2
    # 5 standard errors (x_n^2 is skewed, so a wider band than 4): false alarms ~3e-7 if normal
    assert abs(x2.mean() - P[0]) < 5 * x2.std(ddof=1) / math.sqrt(runs)
    for _ in range(400):  # and the dense iterate grows at the predicted rate
        P_prev, P = P, L @ P
    assert P[0] / P_prev[0] == pytest.approx(mean_square_growth(mu, s, p), rel=1e-6)


# ---------------------------------------------------------------------------------------
# thresholds: searches vs scans, mean field vs theory.stability
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["uniform", "geometric", "pipeline"])
def test_threshold_search_equals_linear_scan(kind):
    top = 300  # scan limit: a property still true there is checked as "capped"
    for mu, s in [(0.5, 0.2), (0.85, 0.03), (0.3, 0.5)]:
        for criterion, field in (("mean-square", "mean_square_stable"), ("mean-field", "mean_stable")):
            m = 0
            while m < top and getattr(mean_square_stability(mu, s, random_delay_law(kind, m + 1)), field):
                m += 1
            if m < top:  # monotone: nothing stable again within the next 40 after the first failure
                for k in range(m + 1, m + 41):
                    assert not getattr(mean_square_stability(mu, s, random_delay_law(kind, k)), field)
            got = largest_stable_mean(mu, s, kind, criterion=criterion, mean_max=top)
            assert got == m, (mu, s, criterion)


@pytest.mark.parametrize("kind", ["uniform", "geometric"])
def test_mean_field_equals_theory_stability(kind):
    grid = list(range(0, 121))
    for mu, s in [(0.9, 4e-3), (0.5, 0.05), (0.8, 0.02)]:
        expected = mean_field_threshold(mu, s, kind, grid)
        got = largest_stable_mean(mu, s, kind, criterion="mean-field", mean_max=120)
        assert got == expected


def test_mean_square_below_mean_field_and_capped():
    for kind in ("uniform", "geometric", "pipeline"):
        for mu in (0.7, 0.9, 0.95):
            ms = mean_square_threshold(mu, 4e-3, kind)
            mf = largest_stable_mean(mu, 4e-3, kind, criterion="mean-field")
            assert 0 <= ms <= mf
    assert largest_stable_mean(0.9, 4e-3, "geometric", criterion="mean-field", mean_max=500) == 500
    assert largest_stable_mean(0.5, 4.0, "uniform") == -1  # s >= 2 (1 + mu): unstable at m = 0


def test_large_uniform_support_threshold_is_exact():
    """At mean delays in the thousands the threshold search (closed forms) lands on the threshold of
    the generic Levinson path: stable at m, not at m + 1."""
    mu, s = 0.7, 2e-4
    m = mean_square_threshold(mu, s, "uniform")
    assert m > 1000
    ok, gain, _ = _levinson_transform(mu, s, delay_law("uniform", m))
    assert ok and gain < 1.0
    ok, gain, _ = _levinson_transform(mu, s, delay_law("uniform", m + 1))
    assert not (ok and gain < 1.0)


# ---------------------------------------------------------------------------------------
# predicted error and optimal delay
# ---------------------------------------------------------------------------------------
def test_error_at_zero_is_the_ar2_closed_form():
    pb = Problem([4.0, 3.0, 2.0, 1.0])
    eta, mu = 5e-4, 0.9
    lam = pb.eigenvalues
    expected = sum(
        eta * pb.alpha[i, 0] ** 2 * (1 + mu) / ((1 - mu) * c * (2 * (1 + mu) - eta * c))
        for i, c in ((i, lam[0] - lam[i]) for i in range(1, 4))
    )
    assert stationary_error_random(pb, mu, eta, delay_law("constant", 0)) == pytest.approx(
        expected, rel=1e-12
    )
    r = predicted_optimal_delay(pb, mu, eta, "geometric", horizon=None)
    assert r.error_at_zero == pytest.approx(expected, rel=1e-12)
    # eq. (8) is its eta -> 0 limit: eta sum alpha^2 / (2 (1-mu) c), here 0.2% below
    eq8 = eta * sum(pb.alpha[i, 0] ** 2 / (2 * (1 - mu) * (lam[0] - lam[i])) for i in range(1, 4))
    assert 0 < r.error_at_zero / eq8 - 1 < 0.01


@pytest.mark.parametrize("kind", ["constant", "uniform", "geometric", "pipeline"])
def test_predicted_optimal_delay_definition(kind):
    pb = Problem([4.0, 3.0, 2.0, 1.0])
    eta, rho = 5e-4, 0.5
    for mu in (0.8, 0.95):
        r = predicted_optimal_delay(pb, mu, eta, kind, rho=rho)
        lim = (1 + rho) * r.error_at_zero
        d = r.tangent_error_delay
        assert stationary_error_random(pb, mu, eta, random_delay_law(kind, d)) <= lim
        assert stationary_error_random(pb, mu, eta, random_delay_law(kind, d + 1)) > lim
        R = r.radial_mean_square_delay
        s_rad = eta * 2 * pb.eigenvalues[0]
        assert mean_square_stability(mu, s_rad, random_delay_law(kind, R)).mean_square_stable
        assert not mean_square_stability(mu, s_rad, random_delay_law(kind, R + 1)).mean_square_stable
        assert r.delay == min(d, R)
        assert r.binding_mode == ("radial" if R <= d else "tangent")
        assert r.radial_growth_efolds > 0 and r.tangent_relaxation_efolds > 10


def test_paper_setting_binding_modes():
    """Which mode binds at Section 4.1's setting: the radial one for constant delays, the tangent
    error for geometric and pipeline delays (docs/stability.md section 6)."""
    pb = Problem.paper()
    for mu in (0.7, 0.8, 0.85, 0.9, 0.95):
        assert predicted_optimal_delay(pb, mu, 5e-4, "constant", horizon=None).binding_mode == "radial"
        for kind in ("geometric", "pipeline"):
            r = predicted_optimal_delay(pb, mu, 5e-4, kind, horizon=None)
            assert r.binding_mode == "tangent"
            if mu <= 0.9:  # the mean field allows far more (issue 11: "far too optimistic")
                assert largest_stable_mean(mu, 4e-3, kind, criterion="mean-field") > 5 * r.delay


def test_random_delay_report_consistency():
    pb = Problem.paper()
    for kind, mean in (("uniform", 30), ("geometric", 100), ("pipeline", 900), ("constant", 40)):
        rep = random_delay_report(pb, 0.9, 5e-4, kind, mean)
        for name, m in rep["modes"].items():
            assert m["mean_square_stable"] == (mean <= m["mean_square_delay"]), name
            assert m["mean_stable"] == (mean <= m["mean_field_delay"]), name
            assert m["mean_square_delay"] <= m["mean_field_delay"]
        assert rep["binding_mode"] == "radial"
    assert random_delay_report(pb, 0.9, 5e-4, "constant", 0)["mean_square_delay"] == max_stable_delay(
        0.9, 4e-3
    )


# ---------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: mean_square_stability(1.0, 0.1, delay_law("uniform", 2)), "mu"),
        (lambda: mean_square_stability(0.5, 0.0, delay_law("uniform", 2)), "s"),
        (lambda: mean_square_stability(0.5, 0.1, [0.5, 0.6]), "law"),
        (lambda: random_delay_law("poisson", 3), "kind"),
        (lambda: random_delay_law("uniform", -1), "mean"),
        (lambda: WorkerPipelineLaw(0), "workers"),
        (lambda: stationary_variance_random(0.0, 1.0, 1e-3, 0.5, delay_law("uniform", 2)), "alpha"),
        (lambda: stationary_variance_random(1.0, -1.0, 1e-3, 0.5, delay_law("uniform", 2)), "c"),
        (lambda: largest_stable_mean(0.5, 0.1, "uniform", criterion="median"), "criterion"),
        (lambda: predicted_optimal_delay(Problem.paper(), 0.9, 5e-4, "uniform", rho=-1), "rho"),
        (lambda: predicted_optimal_delay(Problem.paper(), 0.9, 5e-4, "uniform", horizon=0.0), "horizon"),
        (lambda: predicted_optimal_delay([4, 3], 0.9, 5e-4, "uniform"), "problem"),
    ],
)
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        call()


# ---------------------------------------------------------------------------------------
# closed forms of the point mass and the uniform law (the O(1) path of the searches)
# ---------------------------------------------------------------------------------------
def quadrature_moments(mu, s, p, N=1 << 16):
    """(||G||^2, s^2 J) by the rectangle rule on N points (exponentially accurate when no root of D is
    within ~10/N of the circle: an oracle independent of Yule-Walker, Levinson and the closed forms)."""
    z = np.exp(2j * np.pi * np.arange(N) / N)
    P = np.fft.fft(p, N)  # P(1/z) on the grid
    inv = 1.0 / np.abs((z - 1.0) * (z - mu) + s * z * P) ** 2
    return float(np.mean(inv)), s * s * float(np.mean((1.0 - np.abs(P) ** 2) * inv))


def test_closed_forms_match_levinson_and_quadrature():
    rng = np.random.default_rng(13)
    seen = {"constant": 0, "uniform": 0}
    while min(seen.values()) < 40:
        mu, s = float(rng.uniform(0.01, 0.98)), float(10 ** rng.uniform(-3.0, -0.3))
        kind = ("constant", "uniform")[int(rng.integers(2))]
        m = int(rng.integers(1, 400))
        p = delay_law(kind, m)
        ok, gain, h2 = _levinson_transform(mu, s, p)
        if not ok:
            continue
        closed = _point_mass_h2(mu, s, m) if kind == "constant" else _uniform_moments(mu, s, 2 * m)[0]
        assert closed == pytest.approx(h2, rel=1e-9), (kind, mu, s, m)
        if kind == "uniform":
            assert _uniform_moments(mu, s, 2 * m)[1] == pytest.approx(gain, rel=1e-8, abs=1e-14)
        seen[kind] += 1
    # and the quadrature at small s and long delays (the regime of eta = 1e-5), where the float
    # Levinson recursion itself loses up to 1e-7
    for mu, s, m in [(0.9, 1e-5, 900), (0.7, 8e-5, 2000)]:
        h2_q, gain_q = quadrature_moments(mu, s, delay_law("uniform", m), N=1 << 20)
        h2, gain = _uniform_moments(mu, s, 2 * m)
        assert h2 == pytest.approx(h2_q, rel=1e-9) and gain == pytest.approx(gain_q, rel=1e-7)
        assert _point_mass_h2(mu, s, m) == pytest.approx(
            quadrature_moments(mu, s, delay_law("constant", m), N=1 << 20)[0], rel=1e-9
        )


def test_uniform_mean_field_d_subdivision_matches_schur_cohn():
    """The uniform law's mean-field verdict by D-subdivision in s equals Levinson's Schur-Cohn test,
    on random cases and on both sides of the threshold m found by a scan."""
    rng = np.random.default_rng(17)
    verdicts = {True: 0, False: 0}
    for _ in range(300):
        mu, s = float(rng.uniform(0.01, 0.99)), float(10 ** rng.uniform(-4, 0.5))
        m = int(rng.integers(1, 120))
        ok = _levinson_transform(mu, s, delay_law("uniform", m))[0]
        assert _uniform_mean_stable(mu, s, 2 * m) == ok, (mu, s, m)
        verdicts[ok] += 1
    assert min(verdicts.values()) > 50
    for mu, s in [(0.9, 4e-3), (0.5, 0.05), (0.95, 1e-3), (0.7, 2e-3)]:
        m = 0
        while _levinson_transform(mu, s, delay_law("uniform", m + 1))[0]:
            m += 1 if m < 50 else 25
        m = 1 + m  # a scan point just past the boundary (coarse beyond 50): refine downwards
        while not _levinson_transform(mu, s, delay_law("uniform", m - 1))[0]:
            m -= 1
        assert _uniform_mean_stable(mu, s, 2 * (m - 1)) and not _uniform_mean_stable(mu, s, 2 * m), (mu, s)


def test_uniform_roots_outside_counts_numpy_roots():
    """The D-subdivision's signed crossing count is the number of roots outside the circle (numpy
    roots of z^K D(z)), also past several crossings (large s: roots leave and some come back)."""
    rng = np.random.default_rng(23)
    counts = set()
    for _ in range(200):
        mu, s = float(rng.uniform(0.01, 0.99)), float(10 ** rng.uniform(-2, 1.5))
        m = int(rng.integers(1, 25))
        chi = np.zeros(2 * m + 3)
        chi[:3] = 1.0, -(1.0 + mu), mu
        chi[1 : 2 * m + 2] += s * delay_law("uniform", m)
        mod = np.abs(np.roots(chi))
        if np.min(np.abs(mod - 1.0)) < 1e-9:
            continue  # a root on the circle to rounding: numpy cannot call it
        got = _uniform_roots_outside(mu, s, 2 * m)
        assert got == int(np.sum(mod > 1.0)), (mu, s, m)
        counts.add(got)
    assert len(counts) >= 4  # 0 and several multi-crossing counts exercised


def test_point_mass_growth_at_long_delays_is_the_root_modulus():
    """The certified Newton radius of a point mass equals numpy's largest root modulus at long delays."""
    for mu, s, tau in [(0.9, 3e-4, 150), (0.95, 4e-4, 120), (0.7, 1e-3, 200)]:
        chi = np.zeros(tau + 3)
        chi[:3] = 1.0, -(1.0 + mu), mu
        chi[tau + 1] += s
        rho = float(np.max(np.abs(np.roots(chi))))
        assert mean_square_growth(mu, s, delay_law("constant", tau)) == pytest.approx(rho**2, rel=1e-10)
