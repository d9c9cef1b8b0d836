"""ODE limit: eqs. (5)-(7) and the closed form after Theorem 3 (theory.ode)."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp
from strategies import deltas, momenta, spectra, unit_vectors

from theory import ode
from theory import symbolic as S
from theory.phases import T2_derived

# Tolerances of deterministic numeric comparisons: float64 evaluation of the same formula
# along different code paths agrees to ~1e-12 relative; solve_ivp is run at rtol 1e-10.
RTOL_SAME_FORMULA = 1e-10
RTOL_IVP = 1e-7

#: ODE times t in [0, 2] before the (1 - mu) rescaling in the test that uses it.
ode_times = st.floats(0.0, 2.0)
#: delta in [1e-3, 0.3]: targets H_1^2 = 1 - delta^2 >= 0.91, reachable from the unit_vectors starts.
small_deltas = st.floats(1e-3, 0.3)


def test_mean_increment_is_the_bracket_of_ode7():
    expectation, Sigma, w = ode.mean_increment_symbolic(3)
    expected = Sigma * w - (w.T * Sigma * w)[0, 0] * w
    assert sp.simplify(expectation - expected) == sp.zeros(3, 1)


def test_momentum_factor_is_the_geometric_sum():
    partial, limit = ode.momentum_factor_symbolic()
    k = sp.Symbol("k", integer=True, nonnegative=True)
    assert sp.simplify(partial - (1 - S.mu ** (k + 1)) / (1 - S.mu)) == 0
    assert sp.simplify(limit - 1 / (1 - S.mu)) == 0
    # the partial sum approaches the limit at the rate mu^(k+1)
    val = float(partial.subs({S.mu: sp.Rational(9, 10), k: 200}))
    assert val == pytest.approx(10.0 * (1 - 0.9**201), rel=1e-14)


def test_ode7_follows_from_update5():
    drift, _ = ode.ode_drift_symbolic(3)
    assert sp.simplify(ode.ode_from_update_symbolic(3) - drift) == sp.zeros(3, 1)


def test_closed_form_solves_ode7_and_stays_on_sphere_d3():
    res = ode.verify_closed_form(3)
    assert res["ode_residual"] == sp.zeros(3, 1)
    assert res["norm_residual"] == 0
    assert res["initial_residual"] == sp.zeros(3, 1)


@pytest.mark.slow
def test_closed_form_solves_ode7_and_stays_on_sphere_d4():
    res = ode.verify_closed_form(4)
    assert res["ode_residual"] == sp.zeros(4, 1)
    assert res["norm_residual"] == 0
    assert res["initial_residual"] == sp.zeros(4, 1)


@settings(max_examples=25, deadline=None)
@given(lam=spectra(min_d=4, max_d=4), mu=momenta(), data=st.data())
def test_numeric_drift_equals_lambdified(lam, mu, data):
    h = data.draw(unit_vectors(4))
    twin = ode.ode_drift_lambdified(4)(h, lam, mu)
    np.testing.assert_allclose(ode.ode_drift(h, lam, mu), twin, rtol=RTOL_SAME_FORMULA, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(lam=spectra(min_d=3, max_d=3), mu=momenta(), t=ode_times, data=st.data())
def test_closed_form_numeric_equals_lambdified(lam, mu, t, data):
    # t <= 2 and lambda <= 10, 1 - mu >= 0.01: exponents <= 2000 would overflow the plain
    # lambdified formula, so scale t by (1 - mu) to keep lambda t / (1 - mu) <= 20.
    t = t * (1.0 - mu)
    h0 = data.draw(unit_vectors(3))
    twin = ode.closed_form_lambdified(3)(h0, lam, mu, t)
    np.testing.assert_allclose(ode.closed_form_H(h0, lam, mu, t), twin, rtol=RTOL_SAME_FORMULA, atol=1e-13)


@settings(max_examples=10, deadline=None)
@given(lam=spectra(min_d=2, max_d=5), mu=momenta(), data=st.data())
def test_closed_form_matches_numerical_integration_and_unit_norm(lam, mu, data):
    h0 = data.draw(unit_vectors(lam.size))
    t_end = 1.5 * (1.0 - mu)  # 1.5 ODE time units at mu = 0: several e-folds of the gap
    ts = np.linspace(0.0, t_end, 7)
    sol = solve_ivp(
        lambda _t, h: ode.ode_drift(h, lam, mu),
        (0.0, t_end),
        h0,
        t_eval=ts,
        rtol=1e-11,
        atol=1e-13,
        method="DOP853",
    )
    closed = ode.closed_form_H(h0, lam, mu, ts)
    np.testing.assert_allclose(closed, sol.y.T, rtol=RTOL_IVP, atol=RTOL_IVP)
    np.testing.assert_allclose(np.linalg.norm(closed, axis=1), 1.0, rtol=1e-14)


@settings(max_examples=25, deadline=None)
@given(lam=spectra(), mu=momenta(), data=st.data())
def test_converges_to_plus_minus_e1_when_h1_nonzero(lam, mu, data):
    h0 = data.draw(unit_vectors(lam.size))
    gap = lam[0] - lam[1]
    # |H_k/H_1| <= |H_k(0)/H_1(0)| exp(-gap t/(1-mu)); |H_k(0)/H_1(0)| <= 20 sqrt(d) here, so this
    # t makes every |H_k| < 1e-12
    t = (1.0 - mu) * (np.log(20.0 * np.sqrt(lam.size)) + 12 * np.log(10.0)) / gap
    h = ode.closed_form_H(h0, lam, mu, t)
    e1 = np.zeros(lam.size)
    e1[0] = np.sign(h0[0])  # the paper's "H -> e_1" holds up to the sign of H_1(0)
    np.testing.assert_allclose(h, e1, atol=1e-11)


def test_stays_off_e1_when_h1_is_zero():
    lam = np.array([4.0, 3.0, 2.0, 1.0])
    h = ode.closed_form_H([0.0, 0.6, 0.8, 0.0], lam, 0.5, [0.0, 1.0, 50.0])
    assert np.all(h[:, 0] == 0.0)
    np.testing.assert_allclose(h[-1], [0.0, 1.0, 0.0, 0.0], atol=1e-12)  # the saddle e_2 attracts


@settings(max_examples=20, deadline=None)
@given(lam=spectra(min_d=2, max_d=2), mu=momenta(), delta=deltas())
def test_traverse_time_d2_equals_T2_derived(lam, mu, delta):
    h0 = [delta, np.sqrt(1 - delta**2)]
    T = ode.traverse_time(h0, lam, mu, delta)
    assert T == pytest.approx(T2_derived(lam[0], lam[1], mu, delta), rel=1e-9)


@settings(max_examples=20, deadline=None)
@given(lam=spectra(min_d=3, max_d=6), mu=momenta(), delta=small_deltas, data=st.data())
def test_traverse_time_hits_the_target(lam, mu, delta, data):
    h0 = data.draw(unit_vectors(lam.size, min_first=1e-3))
    T = ode.traverse_time(h0, lam, mu, delta)
    if h0[0] ** 2 >= 1 - delta**2:
        assert T == 0.0
        return
    h = ode.closed_form_H(h0, lam, mu, T)
    assert h[0] ** 2 == pytest.approx(1 - delta**2, abs=1e-10)
    # just before T the target is not yet reached (first passage; H_1^2 increases monotonically)
    h_before = ode.closed_form_H(h0, lam, mu, T * (1 - 1e-6))
    assert h_before[0] ** 2 < 1 - delta**2


def test_traverse_time_special_cases():
    lam = [4.0, 3.0, 2.0]
    assert ode.traverse_time([0.0, 1.0, 0.0], lam, 0.5, 0.1) == float("inf")
    assert ode.traverse_time([1.0, 0.0, 0.0], lam, 0.5, 0.1) == 0.0


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: ode.closed_form_H([0, 0], [2.0, 1.0], 0.5, 1.0), "h0"),
        (lambda: ode.closed_form_H([1, 0, 0], [2.0, 1.0], 0.5, 1.0), "h0"),
        (lambda: ode.closed_form_H([1, 0], [2.0, 1.0], 1.0, 1.0), "mu"),
        (lambda: ode.closed_form_H([1, 0], [2.0, 1.0], 0.5, -1.0), "t"),
        (lambda: ode.traverse_time([1, 1], [2.0, 1.0], 0.5, 1.5), "delta"),
        (lambda: ode.mean_increment_symbolic(1), "d"),
        (lambda: ode.ode_drift([1, 0], [2.0, 1.0], -0.1), "mu"),
    ],
)
def test_bad_arguments_name_the_parameter(call, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        call()
