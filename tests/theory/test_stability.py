"""Tests of theory.stability: exact linear-stability threshold of the delayed heavy-ball recursion.

Oracles, independent of the D-subdivision formula under test:

* the dense spectral radius of the companion matrix (``numpy.linalg.eigvals``), small tau;
* iterating the linear recursion itself (``scipy.signal.lfilter``, checked against a plain loop);
* the classical mu = 0 result s < 2 sin(pi / (2 (2 tau + 1))) (Levin & May, 1976);
* Newton's method on the characteristic equation near the predicted crossing root, for tau in
  the thousands where dense root finding is out of the question;
* the Schur-Cohn test in exact rational arithmetic (``fractions.Fraction`` of the float inputs),
  which decides "every root strictly inside the unit circle" with no rounding at all: the
  oracle for the near-ties and exact ties (a root on the circle) of ``max_stable_delay``.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from scipy.optimize import brentq
from scipy.signal import lfilter, lfiltic

from theory import PAPER_EIGENVALUES, Problem
from theory.stability import (
    GeometricDelayLaw,
    StabilityResult,
    asymptotic_threshold,
    asymptotic_threshold_expr,
    asymptotic_threshold_latex,
    c_s,
    characteristic_polynomial_expr,
    companion_matrix,
    critical_delay,
    crossing_expr,
    crossing_frequency,
    delay_law,
    eta_s,
    max_stable_delay,
    mean_field_spectral_radius,
    mean_field_threshold,
    mean_jacobian_expr,
    mode_rates,
    mu_s,
    s_s,
    spectral_radius,
    stability_threshold,
    theta_s,
    z_s,
)

#: Section 4.1 of the paper: Sigma = diag(4, 3, 2, 1), eta = 5e-4, and the momenta it reports.
PAPER_ETA = 5e-4
PAPER_MUS = (0.7, 0.8, 0.85, 0.9, 0.95)

# --------------------------------------------------------------------------------------
# named, bounded strategies
# --------------------------------------------------------------------------------------
#: Momentum in the range the issue asks for, [0, 0.99].
momenta = st.floats(min_value=0.0, max_value=0.99, allow_nan=False)
#: s = eta c, log-uniform on [1e-2, 3.9]: up to just below 2(1 + mu) >= 2 and down to values
#: whose threshold (~ pi (1 - mu) / (2 s) <= 160) keeps dense eigvals cheap.
rates_dense = st.floats(min_value=-2.0, max_value=math.log10(3.9)).map(lambda e: 10.0**e)
#: s = eta c in the small-step regime, log-uniform on [1e-4, 1]: where the threshold is
#: monotone in mu (for s near 2(1 + mu) momentum enlarges the tau = 0 region instead).
rates_small = st.floats(min_value=-4.0, max_value=0.0).map(lambda e: 10.0**e)
#: Integer delays for the constructed-crossing test.
delays = st.integers(min_value=1, max_value=400)
#: Step sizes log-uniform on [1e-6, 1e-1] (the paper's 5e-4 inside).
step_sizes = st.floats(min_value=-6.0, max_value=-1.0).map(lambda e: 10.0**e)


@st.composite
def gapped_spectra(draw) -> np.ndarray:
    """lambda_1 > lambda_2 >= ... >= lambda_d, d in 2..6, entries in [0.1, 10], gap >= 0.05."""
    d = draw(st.integers(min_value=2, max_value=6))
    rest = sorted(draw(st.lists(st.floats(0.1, 9.9), min_size=d - 1, max_size=d - 1)), reverse=True)
    return np.array([rest[0] + draw(st.floats(0.05, 10.0 - rest[0])), *rest])


def _tie_distance(mu: float, s: float) -> float:
    """Distance of tau_c from the nearest integer (a root is ON the circle at an integer tau_c)."""
    tau_c = float(critical_delay(mu, s))
    return abs(tau_c - round(tau_c))


# --------------------------------------------------------------------------------------
# the linearisation
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [2, 3, 4])
def test_mean_jacobian_is_radial_plus_tangent(d):
    J, expected = mean_jacobian_expr(d)
    assert (J - expected).is_zero_matrix
    # radial rate 2 lambda_1 (not lambda_1): the (1, 1) entry
    lam1 = sp.Symbol("lambda_1", positive=True)
    assert sp.simplify(J[0, 0] + 2 * lam1) == 0


def test_mode_rates_paper():
    rates = mode_rates(Problem.paper())
    assert rates == {"radial": 8.0, "tangent[2]": 1.0, "tangent[3]": 2.0, "tangent[4]": 3.0}


@pytest.mark.parametrize("tau", [0, 1, 2, 5])
def test_characteristic_polynomial_is_companion_polynomial(tau):
    mu, s = 0.6, 0.05
    poly = sp.Poly(
        characteristic_polynomial_expr(tau).subs({mu_s: sp.Rational(3, 5), s_s: sp.Rational(1, 20)}), z_s
    )
    coeffs = np.array([float(c) for c in poly.all_coeffs()])
    np.testing.assert_allclose(coeffs, np.poly(companion_matrix(mu, s, tau)), rtol=0, atol=1e-13)


# --------------------------------------------------------------------------------------
# (a) threshold vs the dense spectral radius
# --------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(mu=momenta, s=rates_dense)
@example(mu=0.0, s=1.0 - 1e-3)  # tau = 1 boundary at mu = 0 is s = 1
@example(mu=0.9, s=4e-3)  # the paper's radial mode at mu = 0.9
@example(mu=0.5, s=3.0 - 1e-6)  # just below 2 (1 + mu): only tau = 0 stable
@example(mu=0.5, s=3.0 + 1e-6)  # just above: unstable even without delay
def test_threshold_matches_spectral_radius(mu, s):
    tau_star = max_stable_delay(mu, s)
    assume(tau_star <= 160)
    # a root exactly on the circle at an integer tau_c would make eigvals' answer a coin toss
    # at rounding level; 1e-6 of a delay unit keeps |rho - 1| far above eigvals' ~1e-13 error.
    assume(tau_star == -1 or _tie_distance(mu, s) > 1e-6)
    if tau_star >= 0:
        assert spectral_radius(mu, s, tau_star) < 1.0
    else:
        assert s >= 2.0 * (1.0 + mu)
    assert spectral_radius(mu, s, tau_star + 1) > 1.0


@pytest.mark.parametrize("mu", [0.0, 0.5, 0.875])
def test_tau0_region_is_s_below_2_1_plus_mu(mu):
    # dyadic mu: the float 2 (1 + mu) is the exact edge (a root at z = -1); for mu = 0.9 it is
    # not (see test_tau0_edge_in_exact_arithmetic)
    edge = 2.0 * (1.0 + mu)
    assert Fraction(edge) == 2 * (1 + Fraction(mu))
    assert max_stable_delay(mu, edge * (1 - 1e-9)) == 0
    assert max_stable_delay(mu, edge) == -1
    assert max_stable_delay(mu, edge * (1 + 1e-9)) == -1
    assert critical_delay(mu, edge * 1.5) == 0.0


@pytest.mark.parametrize("tau", [0, 1, 2, 3, 10, 50, 1000, 10**5])
def test_mu0_classical_levin_may(tau):
    # mu = 0: x_{k+1} = x_k - s x_{k-tau} is stable iff s < 2 sin(pi / (2 (2 tau + 1)))
    s_edge = 2.0 * math.sin(math.pi / (2 * (2 * tau + 1)))
    assert max_stable_delay(0.0, s_edge * (1 - 1e-7)) == tau
    assert max_stable_delay(0.0, s_edge * (1 + 1e-7)) == tau - 1
    assert critical_delay(0.0, s_edge) == pytest.approx(tau, rel=1e-10, abs=1e-12)  # on the circle at tau


@settings(max_examples=40, deadline=None)
@given(mu=momenta, tau=delays)
def test_constructed_crossing(mu, tau):
    """Build s with a root exactly at e^{i theta_1(tau)}: tau is then the critical delay."""

    def phase(theta):  # Phi_tau(theta) of the module docstring
        return (tau - 0.5) * theta + math.atan2(math.sin(theta), math.cos(theta) - mu) - 0.5 * math.pi

    theta1 = brentq(phase, 1e-12, math.pi, xtol=1e-15, rtol=1e-15)
    s = abs(np.exp(1j * theta1) - 1) * abs(np.exp(1j * theta1) - mu)
    z = np.exp(1j * theta1)
    # the characteristic equation holds at z (relative to the size of its terms, ~ s)
    assert abs(z ** (tau - 1) * (z - 1) * (z - mu) + s) < 1e-9 * s
    assert crossing_frequency(mu, s) == pytest.approx(theta1, rel=1e-8)
    assert critical_delay(mu, s) == pytest.approx(tau, rel=1e-8)
    assert max_stable_delay(mu, s * (1 - 1e-6)) == tau - 1 + 1  # below the curve: tau stable
    assert max_stable_delay(mu, s * (1 + 1e-6)) == tau - 1  # above: tau unstable


def test_crossing_frequency_solves_modulus_equation():
    g = sp.lambdify((theta_s, mu_s), crossing_expr()["s"], "numpy")
    mu = np.linspace(0.0, 0.99, 23)[:, None]
    s = np.logspace(-8, math.log10(3.9), 31)[None, :]
    theta = crossing_frequency(mu, s)
    ok = s < 2 * (1 + mu)
    np.testing.assert_allclose(
        g(theta, mu)[np.broadcast_to(ok, theta.shape)],
        np.broadcast_to(s, theta.shape)[np.broadcast_to(ok, theta.shape)],
        rtol=1e-12,
    )


# --------------------------------------------------------------------------------------
# exact arithmetic: near-ties and roots exactly on the unit circle
# --------------------------------------------------------------------------------------
def _char_coeffs_exact(mu: Fraction, s: Fraction, tau: int) -> list[Fraction]:
    """Coefficients a_0..a_n (p = sum_k a_k z^k) of the characteristic polynomial, exactly.

    z^(tau+1) - (1 + mu) z^tau + mu z^(tau-1) + s for tau >= 1, z^2 - (1 + mu - s) z + mu for
    tau = 0 (written out here from the recursion, not taken from the module).
    """
    if tau == 0:
        return [mu, -(1 + mu - s), Fraction(1)]
    a = [Fraction(0)] * (tau + 2)
    a[0] += s
    a[tau - 1] += mu
    a[tau] -= 1 + mu
    a[tau + 1] += 1
    return a


def _schur_stable_exact(a: list[Fraction]) -> bool:
    """True iff every root of sum_k a_k z^k lies strictly inside the unit circle (exact).

    Schur-Cohn reduction (real coefficients): p of degree n is Schur stable iff
    |a_0| < |a_n| and (a_n p(z) - a_0 z^n p(1/z)) / z is Schur stable. With |a_0| = |a_n| the
    product of the root moduli is 1, so some root is on or outside the circle: not stable.
    In rationals every comparison is exact.
    """
    a = list(a)
    while len(a) > 1:
        a0, an = a[0], a[-1]
        if abs(a0) >= abs(an):
            return False
        b = [an * x - a0 * y for x, y in zip(a, reversed(a), strict=True)]
        assert b[0] == 0  # the constant term cancels: divide by z
        lead = b[-1]
        a = [x / lead for x in b[1:]]
    return True


def _exactly_stable(mu: float, s: float, tau: int) -> bool:
    """Is delay tau stable for the float inputs (mu, s), decided in exact arithmetic?"""
    return _schur_stable_exact(_char_coeffs_exact(Fraction(mu), Fraction(s), tau))


def _assert_exact_threshold(mu: float, s: float) -> None:
    """max_stable_delay(mu, s) = tau* with tau* stable and tau* + 1 not, in exact arithmetic."""
    tau_star = max_stable_delay(mu, s)
    assert tau_star == -1 or _exactly_stable(mu, s, tau_star), (mu, s, tau_star, "tau* is not stable")
    assert not _exactly_stable(mu, s, tau_star + 1), (mu, s, tau_star, "tau* + 1 is stable")


def _ulps(x: float, k: int) -> float:
    """x moved by k units in the last place."""
    for _ in range(abs(k)):
        x = float(np.nextafter(x, math.inf if k > 0 else -math.inf))
    return x


def test_exact_schur_oracle_on_known_polynomials():
    f = Fraction
    assert _schur_stable_exact([f(-1, 6), f(-1, 6), 1])  # (z - 1/2)(z + 1/3)
    assert _schur_stable_exact([f(-1, 10), 0, 0, 1])  # z^3 = 1/10: three roots of modulus 0.46
    assert not _schur_stable_exact([f(1, 2), f(-3, 2), 1])  # (z - 1)(z - 1/2): a root on the circle
    assert not _schur_stable_exact([1, 0, 1])  # z^2 + 1: the pair +-i on the circle
    assert not _schur_stable_exact([-2, 1])  # z - 2
    # (z - 2)(z - 1/10)(z + 1/5): |a_0| < |a_n| passes, the reduction finds the root outside
    assert not _schur_stable_exact([f(1, 25), f(-11, 50), f(-19, 10), 1])


def test_exact_oracle_agrees_with_the_dense_spectral_radius_away_from_ties():
    rng = np.random.default_rng(99)
    checked = 0
    for _ in range(200):
        mu, s, tau = float(rng.uniform(0, 0.99)), float(10 ** rng.uniform(-2, 0.5)), int(rng.integers(0, 12))
        rho = spectral_radius(mu, s, tau)
        if abs(rho - 1.0) < 1e-6:  # eigvals cannot decide a near-tie; the exact test can
            continue
        assert _exactly_stable(mu, s, tau) == (rho < 1.0), (mu, s, tau, rho)
        checked += 1
    assert checked > 150


def _near_tie_cases():
    """(mu, s) within a few ulps of a root on the unit circle, where the float path is a coin toss.

    * tau = 1: the pair on the circle iff mu + s = 1 (product of the roots of
      z^2 - (1 + mu) z + mu + s), s = 1 - mu moved by -3..3 ulps (exact ties left out);
    * mu = 0 (Levin & May): tau is critical at s = 2 sin(pi / (2 (2 tau + 1))), tau = 2..9;
    * tau = 2: (z^2 - 2 cos(theta) z + 1)(z + s) has the characteristic form iff
      s (1 + mu + s) = 1 - mu (match the coefficients), s the positive root.
    Measured: the plain float ceil(tau_c) - 1 is wrong in 11 of these 103 cases.
    """
    cases = []
    for mu in (0.3, 0.7, 0.1, 0.55):  # the exact ties mu + s = 1 are the next tests' business
        near = (_ulps(1.0 - mu, k) for k in range(-3, 4))
        cases += [(mu, s) for s in near if Fraction(mu) + Fraction(s) != 1]
    for tau in range(2, 10):
        edge = 2.0 * math.sin(math.pi / (2 * (2 * tau + 1)))
        cases += [(0.0, _ulps(edge, k)) for k in range(-3, 4)]
    for mu in (0.05, 0.55, 0.8):
        edge = 0.5 * (-(1 + mu) + math.sqrt((1 + mu) ** 2 + 4 * (1 - mu)))
        cases += [(mu, _ulps(edge, k)) for k in range(-3, 4)]
    return cases


def test_near_ties_are_decided_as_in_exact_arithmetic():
    """At a few ulps from a root on the circle (no exact tie) the tie-break must give the exact answer."""
    cases = _near_tie_cases()
    for mu, s in cases:
        _assert_exact_threshold(mu, s)
    # the cases are near-ties indeed: tau_c is within 1e-14 of an integer
    assert max(_tie_distance(mu, s) for mu, s in cases) < 1e-14


#: mu = k/64 for k = 0..63: dyadic, so 1 - mu is exact and mu + s = 1 exactly (a pair on the circle).
_DYADIC_MUS = [k / 64 for k in range(64)]


def test_exact_ties_on_the_circle_count_as_unstable():
    for mu in _DYADIC_MUS:
        s = 1.0 - mu
        assert Fraction(mu) + Fraction(s) == 1
        assert not _exactly_stable(mu, s, 1) and _exactly_stable(mu, s, 0)
        assert max_stable_delay(mu, s) == 0, mu


def test_exact_ties_one_ulp_inside_and_outside():
    for mu in _DYADIC_MUS:
        assert max_stable_delay(mu, _ulps(1.0 - mu, -1)) == 1  # mu + s < 1: tau = 1 stable
        assert max_stable_delay(mu, _ulps(1.0 - mu, 1)) == 0  # mu + s > 1: the pair is outside
        _assert_exact_threshold(mu, _ulps(1.0 - mu, -1))
        _assert_exact_threshold(mu, _ulps(1.0 - mu, 1))


def test_tau0_edge_in_exact_arithmetic():
    for mu in (0.9, 0.1, 0.3):
        edge = 2.0 * (1.0 + mu)
        for k in (-1, 0, 1):
            _assert_exact_threshold(mu, _ulps(edge, k))


# --------------------------------------------------------------------------------------
# direction of crossing
# --------------------------------------------------------------------------------------
def test_crossing_direction_derivatives_on_the_circle():
    """Re w > 0 (outward in s) and Im w < 0 (outward in tau) on the upper unit circle."""
    theta = np.linspace(1e-4, math.pi - 1e-4, 2001)[:, None]
    mu = np.linspace(0.0, 0.99, 34)[None, :]
    z = np.exp(1j * theta)
    for tau in (0, 1, 7, 1000):
        w = tau - 1 + z / (z - 1) + z / (z - mu)
        assert np.all(w.real > 0)
        assert np.all(w.imag < 0)


@pytest.mark.parametrize("mu,s", [(0.0, 0.3), (0.5, 0.05), (0.9, 0.02), (0.9, 0.5)])
def test_unstable_root_count_never_decreases(mu, s):
    # roots cross outward only, so the number outside grows with tau (and never comes back)
    tau_star = max_stable_delay(mu, s)
    # the next pair reaches the circle one phase turn later: tau_c + 2 pi / theta* (Phi_tau += 2 pi)
    span = int(2 * math.pi / crossing_frequency(mu, s)) + 5
    counts = []
    for tau in range(max(tau_star, 0), tau_star + span):
        ev = np.linalg.eigvals(companion_matrix(mu, s, tau))
        counts.append(int(np.sum(np.abs(ev) > 1.0)))
    assert tau_star >= 0 and counts[0] == 0  # every root inside at the threshold
    assert counts[1] >= 1
    assert all(b >= a for a, b in zip(counts, counts[1:], strict=False))
    assert counts[-1] > counts[1]  # further pairs keep leaving


def test_threshold_monotone_in_s_and_tau_window():
    mu = 0.8
    s = np.logspace(-4, 0.5, 200)
    taus = [max_stable_delay(mu, float(x)) for x in s]
    assert all(b <= a for a, b in zip(taus, taus[1:], strict=False))


# --------------------------------------------------------------------------------------
# (b) iterating the recursion itself
# --------------------------------------------------------------------------------------
def _iterate(mu: float, s: float, tau: int, n: int) -> np.ndarray:
    """x_1..x_n of x_{k+1} = (1+mu) x_k - mu x_{k-1} - s x_{k-tau}, history x_k = 1 for k <= 0.

    The constant history is the paper's convention v_{-i} = v_0 (eq. (5)).
    """
    a = np.zeros(max(tau + 2, 3))
    a[0] = 1.0
    a[1] -= 1.0 + mu
    a[2] += mu
    a[tau + 1] += s
    zi = lfiltic([1.0], a, y=np.ones(a.size - 1))
    y, _ = lfilter([1.0], a, np.zeros(n), zi=zi)
    return y


def _iterate_loop(mu, s, tau, n):
    hist = [1.0] * (tau + 2)  # hist[-1] = x_k, hist[-1 - j] = x_{k-j}
    out = []
    for _ in range(n):
        x_next = (1 + mu) * hist[-1] - mu * hist[-2] - s * hist[-1 - tau]
        hist.append(x_next)
        out.append(x_next)
    return np.array(out)


@pytest.mark.parametrize("tau", [0, 1, 4])
def test_lfilter_iteration_is_the_plain_loop(tau):
    np.testing.assert_allclose(
        _iterate(0.7, 0.2, tau, 300), _iterate_loop(0.7, 0.2, tau, 300), rtol=1e-12, atol=1e-12
    )


#: The decisive horizon: |x_n| ~ A rho^n. Running n = ln(1e8) / |ln rho| iterations (plus
#: ten delay-lengths for the transient) moves the dominant term by a factor 1e8, which swamps
#: both the transient amplification of the (non-normal) companion matrix and a small
#: projection A of the start on the critical pair (measured: max |x| <= 1.07 before decay,
#: tails 1e-8 vs 1e8 on these cases), so "< 1e-3" and "> 1e3" separate the two outcomes.
_DECADES = 8


@pytest.mark.parametrize(
    "mu,s",
    [
        (0.0, 0.1),
        (0.3, 0.3),
        (0.5, 0.02),
        (0.7, 0.05),
        (0.9, 0.01),
        (0.95, 0.2),
        (0.2, 2.0),
        (0.9, PAPER_ETA * 8.0),  # the paper's radial mode, tau* = 32
        # tau* = 115 sits 0.06 below tau_c: rho = 1 - 3e-6, so 6e6 iterations
        pytest.param(0.7, PAPER_ETA * 8.0, marks=pytest.mark.slow),
    ],
)
def test_iteration_decays_at_threshold_and_grows_past_it(mu, s):
    tau_star = max_stable_delay(mu, s)
    assert tau_star >= 0
    for tau, stable in ((tau_star, True), (tau_star + 1, False)):
        rho = spectral_radius(mu, s, tau)
        assert (rho < 1.0) == stable
        n = int(math.ceil(_DECADES * math.log(10) / abs(math.log(rho)))) + 10 * (tau + 2)
        assert n < 10_000_000, "case chosen badly: horizon too long"
        x = _iterate(mu, s, tau, n)
        tail = np.max(np.abs(x[-(tau + 2) :]))
        if stable:
            assert tail < 1e-3
        else:
            assert tail > 1e3


def test_nonlinear_mean_map_paper_setting():
    """The full (not linearised) mean map of eq. (5) at mu = 0.9, eta = 5e-4, Sigma = diag(4,3,2,1).

    h_{k+1} = h_k + mu (h_k - h_{k-1}) + eta (Lambda w - (w^T Lambda w) w), w = h_{k-tau}, from
    e_1 + 1e-6 (1, 1, 1, 1) with constant history: decays at tau* = 32, and at tau* + 1 grows
    in the radial coordinate h_1 only (the tangent ones still decay), as the mode analysis says.
    """
    lam = np.array(PAPER_EIGENVALUES)
    mu, eta = 0.9, PAPER_ETA
    e1 = np.eye(4)[0]
    tau_star = stability_threshold(Problem(lam), mu, eta).max_stable_delay
    assert tau_star == 32
    for tau, stable in ((tau_star, True), (tau_star + 1, False)):
        rho = spectral_radius(mu, eta * 2 * lam[0], tau)
        # 5 decades of the critical mode (see _DECADES): 1e-6 -> 1e-11 or -> 1e-1
        n = int(5 * math.log(10) / abs(math.log(rho))) + 10 * (tau + 2)
        size = tau + 2  # ring buffer holding h_{k-tau-1}..h_{k+1}
        buf = np.tile(e1 + 1e-6, (size, 1))
        for k in range(n):
            hk, hkm1, w = buf[k % size], buf[(k - 1) % size], buf[(k - tau) % size]
            buf[(k + 1) % size] = hk + mu * (hk - hkm1) + eta * (lam * w - (w @ (lam * w)) * w)
        dev = np.max(np.abs(buf - e1), axis=0)
        assert np.all(dev[1:] < 1e-9)  # tangent modes: far inside their own thresholds (>= 96)
        if stable:
            assert dev[0] < 1e-9
        else:
            assert dev[0] > 1e-3


@pytest.mark.slow
@settings(max_examples=1000, deadline=None)
@given(mu=momenta, s=rates_dense)
def test_threshold_matches_spectral_radius_many(mu, s):
    """The default-run property test with many more examples."""
    test_threshold_matches_spectral_radius.hypothesis.inner_test(mu, s)


@pytest.mark.slow
@pytest.mark.parametrize("mu", [0.3, 0.7])
def test_asymptotic_order4_convergence(mu):
    """The 4-term law (sympy, deeper reversion) has error O(s^3)."""
    c = 1.0
    eta = (1 - mu) ** 2 * np.logspace(-2, -1, 5)
    err = np.abs(asymptotic_threshold(mu, eta, c, order=4) - critical_delay(mu, eta * c))
    slope = np.polyfit(np.log(eta), np.log(err), 1)[0]
    assert slope == pytest.approx(3.0, abs=0.15)


# --------------------------------------------------------------------------------------
# asymptotics
# --------------------------------------------------------------------------------------
def test_asymptotic_closed_form_is_the_derivation():
    # the numeric twin's sympy-free path for orders 1, 2 equals the series reversion exactly
    from theory.stability import _asymptotic_closed_form

    s = eta_s * c_s
    written = {1: sp.pi * (1 - mu_s) / (2 * s)}
    written[2] = written[1] - (1 + mu_s) / (2 * (1 - mu_s))
    for order in (1, 2):
        assert sp.simplify(asymptotic_threshold_expr(order) - written[order]) == 0
        for mu, eta, c in [(0.9, 5e-4, 8.0), (0.3, 1e-3, 2.0)]:
            want = float(written[order].subs({mu_s: mu, eta_s: eta, c_s: c}))
            assert _asymptotic_closed_form(mu, eta * c, order) == pytest.approx(want, rel=1e-14)
            assert asymptotic_threshold(mu, eta, c, order=order) == pytest.approx(want, rel=1e-14)


def test_asymptotic_leading_order_and_correction():
    lead = asymptotic_threshold_expr(1)
    assert sp.simplify(lead - sp.pi * (1 - mu_s) / (2 * eta_s * c_s)) == 0
    corr = sp.simplify(asymptotic_threshold_expr(2) - lead)
    assert sp.simplify(corr + (1 + mu_s) / (2 * (1 - mu_s))) == 0
    third = sp.simplify(asymptotic_threshold_expr(3) - asymptotic_threshold_expr(2))
    assert sp.simplify(third + sp.pi * (1 - 14 * mu_s + mu_s**2) * eta_s * c_s / (48 * (1 - mu_s) ** 3)) == 0
    assert r"\tau_c" in asymptotic_threshold_latex(2)


def test_asymptotic_mu0_matches_arcsin_closed_form():
    # mu = 0: tau_c = pi / (2 theta) - 1/2 with theta = 2 arcsin(s/2), exactly
    s = sp.Symbol("s", positive=True)
    exact = sp.pi / (4 * sp.asin(s / 2)) - sp.Rational(1, 2)
    exact_series = sp.series(exact, s, 0, 3).removeO()
    ours = asymptotic_threshold_expr(4).subs({mu_s: 0, eta_s: s, c_s: 1})
    assert sp.simplify(sp.expand(exact_series - ours)) == 0


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_asymptotic_lambdify_matches_symbolic(order):
    expr = asymptotic_threshold_expr(order)
    rng = np.random.default_rng(20180601)
    for mu, eta, c in zip(
        rng.uniform(0, 0.99, 8), 10 ** rng.uniform(-6, -2, 8), rng.uniform(0.1, 10, 8), strict=True
    ):
        sym = float(expr.subs({mu_s: mu, eta_s: eta, c_s: c}).evalf(30))
        assert asymptotic_threshold(mu, eta, c, order=order) == pytest.approx(sym, rel=1e-12)


@pytest.mark.parametrize("mu", [0.0, 0.7, 0.9])
def test_asymptotic_convergence_orders(mu):
    """Truncation error of the k-term law is O(s^(k-1)) (k = 1: relative error O(s))."""
    c = 8.0  # the paper's radial rate 2 lambda_1
    # the expansion variable is s / (1 - mu)^2 (module docstring): ladder it over 1e-3..1e-1,
    # where even the smallest error (order 3 at mu = 0, ~s^3 ~ 1e-9) is far above the
    # rounding of tau_c (~1e3 * 1e-16)
    eta = (1 - mu) ** 2 / c * np.logspace(-3, -1, 7)
    exact = critical_delay(mu, eta * c)
    rel1 = np.abs(asymptotic_threshold(mu, eta, c, order=1) / exact - 1)
    slope1 = np.polyfit(np.log(eta), np.log(rel1), 1)[0]
    assert slope1 == pytest.approx(1.0, abs=0.05)
    # the s^2 coefficient mu (1 + mu) / (6 (1 - mu)^5) vanishes at mu = 0, so there the
    # 3-term error is O(s^3)
    for order, expected in ((2, 1.0), (3, 3.0 if mu == 0.0 else 2.0)):
        err = np.abs(asymptotic_threshold(mu, eta, c, order=order) - exact)
        slope = np.polyfit(np.log(eta), np.log(err), 1)[0]
        assert slope == pytest.approx(expected, abs=0.1)
    # the 2-term error is, to leading order, minus the third term itself
    err2 = asymptotic_threshold(mu, eta, c, order=2) - exact
    third = asymptotic_threshold(mu, eta, c, order=3) - asymptotic_threshold(mu, eta, c, order=2)
    np.testing.assert_allclose(-err2[:3], third[:3], rtol=0.05)


# --------------------------------------------------------------------------------------
# monotonicity and scale
# --------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(mu1=momenta, mu2=momenta, s=rates_small)
def test_threshold_nonincreasing_in_mu(mu1, mu2, s):
    lo, hi = sorted((mu1, mu2))
    assert critical_delay(hi, s) <= critical_delay(lo, s) + 1e-12 * critical_delay(lo, s)
    assert max_stable_delay(hi, s) <= max_stable_delay(lo, s)


@settings(max_examples=60, deadline=None)
@given(mu=momenta, s1=rates_dense, s2=rates_dense)
def test_threshold_nonincreasing_in_eta(mu, s1, s2):
    lo, hi = sorted((s1, s2))
    assert max_stable_delay(mu, hi) <= max_stable_delay(mu, lo)


def test_momentum_helps_near_the_tau0_edge():
    # for s in (2, 2 (1 + mu)), tau = 0 is stable only WITH momentum: not monotone in mu there
    assert max_stable_delay(0.0, 2.5) == -1
    assert max_stable_delay(0.5, 2.5) == 0


def _newton_root(mu, s, tau, z0, steps=60):
    """Newton on P(z) = z^(tau+1) - (1+mu) z^tau + mu z^(tau-1) + s from z0 (log-stable form)."""
    z = z0
    for _ in range(steps):
        zt = z ** (tau - 1)
        p = zt * (z - 1) * (z - mu) + s
        dp = zt * ((tau + 1) * z**2 - tau * (1 + mu) * z + (tau - 1) * mu) / z
        z = z - p / dp
    return z


@pytest.mark.parametrize("eta", [1e-5, 1e-6])
def test_thousands_fast_and_checked_by_newton(eta):
    problem = Problem.paper()
    # O(1) work per mode whatever tau (no polynomial of degree tau is formed); speed is not
    # asserted here (the house rule: performance by benchmarks, not timed tests)
    res = stability_threshold(problem, 0.9, eta)
    assert res.max_stable_delay > 1900
    s = eta * 8.0
    theta = crossing_frequency(0.9, s)
    for tau, inside in ((res.max_stable_delay, True), (res.max_stable_delay + 1, False)):
        z = _newton_root(0.9, s, tau, np.exp(1j * theta))
        assert abs(np.angle(z) - theta) < 0.5 * theta  # converged to the crossing pair
        assert (abs(z) < 1.0) == inside
    # the leading-order law is accurate to O(s) relative: the next term of the series,
    # -(1+mu)/(2(1-mu)), relative to pi (1-mu)/(2 s), is s (1+mu)/(pi (1-mu)^2); allow twice it
    mu = 0.9
    correction = s * (1 + mu) / (math.pi * (1 - mu) ** 2)
    assert res.asymptotic == pytest.approx(res.critical_delay, rel=2 * correction)


# --------------------------------------------------------------------------------------
# the public result on the paper's setting
# --------------------------------------------------------------------------------------
#: Computed by this module and confirmed by the dense spectral radius in the test below.
PAPER_THRESHOLDS = {0.7: 115, 0.8: 74, 0.85: 53, 0.9: 32, 0.95: 13}


@pytest.mark.parametrize("mu", PAPER_MUS)
def test_paper_setting(mu):
    res = stability_threshold(Problem.paper(), mu, PAPER_ETA)
    assert isinstance(res, StabilityResult)
    assert res.binding_mode == "radial"
    assert res.max_stable_delay == PAPER_THRESHOLDS[mu]
    s = PAPER_ETA * 8.0
    assert (
        spectral_radius(mu, s, res.max_stable_delay) < 1.0 < spectral_radius(mu, s, res.max_stable_delay + 1)
    )
    assert res.max_stable_delay == math.ceil(res.critical_delay) - 1
    assert res.asymptotic == pytest.approx(math.pi * (1 - mu) / (2 * s), rel=1e-12)
    assert set(res.modes) == {"radial", "tangent[2]", "tangent[3]", "tangent[4]"}
    # by hand: 2 lambda_1 and lambda_1 - lambda_i for Sigma = diag(4, 3, 2, 1)
    rates = {"radial": 8.0, "tangent[2]": 1.0, "tangent[3]": 2.0, "tangent[4]": 3.0}
    for name, m in res.modes.items():
        assert m["max_stable_delay"] >= res.max_stable_delay
        assert m["c"] == rates[name]
    json.dumps(res.as_dict())  # JSON-serialisable


def test_binding_mode_is_largest_rate_and_tau_max_cap():
    problem = Problem([5.0, 1.0, 0.5])
    res = stability_threshold(problem, 0.5, 1e-3)
    assert res.binding_mode == "radial"
    assert res.modes["tangent[3]"]["max_stable_delay"] <= res.modes["tangent[2]"]["max_stable_delay"]
    capped = stability_threshold(problem, 0.5, 1e-3, tau_max=10)
    assert capped.max_stable_delay == 10 and capped.capped
    roomy = stability_threshold(problem, 0.5, 1e-3, tau_max=10**6)
    assert roomy.max_stable_delay == res.max_stable_delay and not roomy.capped


@settings(max_examples=40, deadline=None)
@given(lam=gapped_spectra(), mu=momenta, eta=step_sizes)
def test_problem_level_threshold_is_the_radial_one(lam, mu, eta):
    res = stability_threshold(Problem(lam), mu, eta)
    assert res.binding_mode == "radial"
    assert res.max_stable_delay == max_stable_delay(mu, eta * 2.0 * lam[0])
    assert res.max_stable_delay == min(m["max_stable_delay"] for m in res.modes.values())
    # a rotated eigenbasis and another distribution leave the mean linearisation unchanged
    Q, _ = np.linalg.qr(np.random.default_rng(7).normal(size=(lam.size, lam.size)))
    assert stability_threshold(Problem(lam, Q=Q, dist="rademacher"), mu, eta).as_dict() == res.as_dict()


def test_unstable_without_delay():
    res = stability_threshold(Problem.paper(), 0.0, 0.3)  # s = 2.4 > 2 (1 + 0)
    assert res.max_stable_delay == -1
    assert res.binding_mode == "radial"
    assert res.critical_delay == 0.0


# --------------------------------------------------------------------------------------
# i.i.d. random delays: the mean-field recursion (beyond the paper)
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("mu", [0.7, 0.9, 0.95])
def test_mean_field_threshold_of_a_constant_delay_is_the_exact_threshold(mu):
    s = PAPER_ETA * 8.0  # radial mode of Section 4.1: eta c = eta 2 lambda_1
    assert mean_field_threshold(mu, s, "constant", np.arange(161)) == max_stable_delay(mu, s)


@pytest.mark.parametrize("tau", [0, 1, 2, 7, 30])
def test_mean_field_radius_of_a_point_mass_is_the_companion_matrix_radius(tau):
    # dense eigvals of the constant-delay companion matrix: an independent oracle
    mu, s = 0.9, 0.05
    assert mean_field_spectral_radius(mu, s, delay_law("constant", tau)) == pytest.approx(
        spectral_radius(mu, s, tau), rel=1e-9
    )


def test_geometric_law_closed_form_matches_its_truncated_series():
    # the cubic (z-1)(z-mu)(z-q) + s(1-q)z^2 against the polynomial of the truncated law
    mu, s, m = 0.9, 4e-3, 6
    q = m / (m + 1.0)
    p = (1 - q) * q ** np.arange(400)  # tail mass q^400 ~ 1e-27
    exact = mean_field_spectral_radius(mu, s, delay_law("geometric", m))
    series = mean_field_spectral_radius(mu, s, p)
    assert exact == pytest.approx(series, rel=1e-9)
    assert delay_law("geometric", m) == GeometricDelayLaw(q)
    assert GeometricDelayLaw(q).mean == pytest.approx(m, rel=1e-12)


def test_geometric_law_cubic_by_sympy():
    # sum_j (1-q) q^j z^-j = (1-q) z / (z-q) for |z| > q, so (z-q) times the characteristic
    # equation (z-1)(z-mu) + s z sum_j p_j z^-j is the cubic; its largest root modulus at the
    # numbers below, found by sympy's nroots, is the closed-form radius.
    z, q, j = sp.symbols("z q j", positive=True)
    series = sp.summation((q / z) ** j, (j, 0, sp.oo))
    assert isinstance(series, sp.Piecewise) and series.args[0][1] == (q / z < 1)
    gen = (1 - q) * series.args[0][0]  # the |q/z| < 1 branch
    assert sp.simplify(gen - (1 - q) * z / (z - q)) == 0
    char = (z - 1) * (z - mu_s) + s_s * z * gen
    cubic = (z - 1) * (z - mu_s) * (z - q) + s_s * (1 - q) * z**2
    assert sp.simplify(char * (z - q) - cubic) == 0
    vals = {mu_s: sp.Rational(9, 10), s_s: sp.Rational(1, 250), q: sp.Rational(6, 7)}
    roots = sp.Poly(cubic.subs(vals), z).nroots(n=30)
    radius = max(abs(complex(r)) for r in roots)
    assert mean_field_spectral_radius(0.9, 4e-3, GeometricDelayLaw(6 / 7)) == pytest.approx(radius, rel=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mean_field_radius_is_the_growth_rate_of_the_iterated_recursion(seed):
    # iterate x_{k+1} = (1+mu) x_k - mu x_{k-1} - s sum_j p_j x_{k-j} with a plain loop: the
    # norm of a window of K+2 consecutive iterates grows like radius^k up to a bounded factor,
    # so the log-rate over n steps is within ~ log(factor)/n of log(radius); n = 6000 and a
    # tolerance of 2e-3 leave a factor of e^12 of room.
    rng = np.random.default_rng(seed)
    K = int(rng.integers(3, 25))
    p = rng.dirichlet(np.ones(K + 1))
    mu, s = float(rng.uniform(0.5, 0.95)), float(rng.uniform(0.01, 0.2))
    n, half = 6000, 3000
    x = np.zeros(n + K + 2)
    x[: K + 1] = rng.standard_normal(K + 1)
    log_scale, log_norm = 0.0, {}
    for k in range(K, n + K + 1):
        x[k + 1] = (1 + mu) * x[k] - mu * x[k - 1] - s * np.dot(p, x[k - np.arange(K + 1)])
        if abs(x[k + 1]) > 1e100:  # linear recursion: rescale to stay in range
            x[: k + 2] /= 1e100
            log_scale += math.log(1e100)
        if k + 1 - K in (half, n):
            log_norm[k + 1 - K] = math.log(np.linalg.norm(x[k - K : k + 2])) + log_scale
    rate = (log_norm[n] - log_norm[half]) / (n - half)
    assert rate == pytest.approx(math.log(mean_field_spectral_radius(mu, s, p)), abs=2e-3)


@pytest.mark.parametrize("kind", ["uniform", "geometric"])
def test_mean_field_threshold_is_the_edge_of_stability_on_the_grid(kind):
    mu, s, means = 0.9, 2e-2, np.arange(0, 200, 3)  # edges at 6 (uniform) and 12 (geometric)
    t = mean_field_threshold(mu, s, kind, means)
    assert mean_field_spectral_radius(mu, s, delay_law(kind, t)) < 1.0
    assert mean_field_spectral_radius(mu, s, delay_law(kind, t + 3)) >= 1.0
    assert mean_field_threshold(mu, s, kind, means[means <= t]) == t


def test_delay_laws_have_the_asked_mean():
    j = np.arange(2 * 5 + 1)
    for kind in ("constant", "uniform"):
        p = delay_law(kind, 5)
        assert p.sum() == pytest.approx(1.0) and np.dot(j[: p.size], p) == pytest.approx(5.0)
    for kind in ("constant", "uniform", "geometric"):
        np.testing.assert_array_equal(delay_law(kind, 0), [1.0])


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: delay_law("poisson", 3), "kind"),
        (lambda: delay_law("uniform", -1), "mean"),
        (lambda: GeometricDelayLaw(1.0), "q"),
        (lambda: mean_field_spectral_radius(1.0, 0.1, [1.0]), "mu"),
        (lambda: mean_field_spectral_radius(0.5, 0.0, [1.0]), "s"),
        (lambda: mean_field_spectral_radius(0.5, 0.1, [0.5, 0.4]), "p"),
        (lambda: mean_field_spectral_radius(0.5, 0.1, [[1.0]]), "p"),
        (lambda: mean_field_threshold(0.5, 0.1, "poisson", [0, 1]), "kind"),
        (lambda: mean_field_threshold(0.5, 0.1, "uniform", [0, 2, 1]), "means"),
        (lambda: mean_field_threshold(0.5, 0.1, "uniform", [0, 1.5]), "means"),
    ],
)
def test_mean_field_bad_input(call, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        call()


# --------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("mu", [1.0, -0.1, float("nan"), "0.5", None])
def test_bad_mu(mu):
    with pytest.raises(ValueError, match=r"^mu"):
        stability_threshold(Problem.paper(), mu, 1e-3)


@pytest.mark.parametrize("eta", [0.0, -1e-3, float("inf"), float("nan"), "x"])
def test_bad_eta(eta):
    with pytest.raises(ValueError, match=r"^eta"):
        stability_threshold(Problem.paper(), 0.5, eta)


@pytest.mark.parametrize("tau_max", [-1, 1.5, "10", float("nan")])
def test_bad_tau_max(tau_max):
    with pytest.raises(ValueError, match=r"^tau_max"):
        stability_threshold(Problem.paper(), 0.5, 1e-3, tau_max=tau_max)


def test_bad_problem_and_order():
    with pytest.raises(ValueError, match=r"^problem"):
        stability_threshold([4.0, 3.0], 0.5, 1e-3)
    with pytest.raises(ValueError, match=r"^order"):
        asymptotic_threshold_expr(0)
    with pytest.raises(ValueError, match=r"^s"):
        max_stable_delay(0.5, -1.0)
