"""Delay conditions: Lemma 1, Theorem 3, Lemma 4, Theorems 5 and 9 (theory.delays)."""

import math

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import gammas_ode, gammas_sde, momenta, spectra, step_sizes

from theory import Problem, delays
from theory import symbolic as S

B = delays.delay_bound_symbolic()

# named, bounded strategies of this module
#: lambda_1 in [0.5, 10] (the paper's lambda_1 = 4 is inside).
top_eigenvalues = st.floats(0.5, 10.0)
#: C_d in [0.5, 10] (sqrt(10) for the paper's Rademacher problem).
data_bounds = st.floats(0.5, 10.0)
#: the unspecified O(.) constant of the delay bounds, two decades around 1.
constants = st.floats(0.1, 10.0)
#: mu in [0, 0.98]: room for the +0.01 step of the monotonicity test below MU_MAX.
momenta_below_max = st.floats(0.0, 0.98)


@settings(max_examples=40, deadline=None)
@given(
    mu=momenta(),
    eta=step_sizes(),
    g_ode=gammas_ode(),
    g_sde=gammas_sde(),
    lam1=top_eigenvalues,
    C_d=data_bounds,
    c=constants,
)
def test_numeric_equals_symbolic(mu, eta, g_ode, g_sde, lam1, C_d, c):
    base = {S.mu: mu, S.eta: eta, S.lambda_1: lam1, S.C_d: C_d, S.constant: c}

    def ev(name, gamma):
        return float(B[name].subs({**base, S.gamma: gamma}).evalf(30))

    assert delays.tau_lemma1(mu, eta, g_ode, c) == pytest.approx(ev("lemma1", g_ode), rel=1e-12)
    assert delays.tau_ode(mu, eta, lam1, g_ode, c) == pytest.approx(ev("ode", g_ode), rel=1e-12)
    assert delays.tau_sde(mu, eta, lam1, C_d, g_sde, c) == pytest.approx(ev("sde", g_sde), rel=1e-12)
    assert delays.tau_introduction(mu, eta, c) == pytest.approx(ev("introduction", 0.5), rel=1e-12)
    # and both against the printed bounds, written out here from the paper (independent of
    # theory.delays): Lemma 1 / eq. after it, Theorem 3, Lemma 4 / Theorems 5, 9, the introduction
    m2 = (1 - mu) ** 2
    assert delays.tau_lemma1(mu, eta, g_ode, c) == pytest.approx(c * m2 / eta ** (1 - g_ode), rel=1e-12)
    assert delays.tau_ode(mu, eta, lam1, g_ode, c) == pytest.approx(
        c * m2 / (lam1 * eta ** (1 - g_ode)), rel=1e-12
    )
    assert delays.tau_sde(mu, eta, lam1, C_d, g_sde, c) == pytest.approx(
        c * m2 / ((lam1 + C_d) * eta ** (0.5 - g_sde)), rel=1e-12
    )
    assert delays.tau_introduction(mu, eta, c) == pytest.approx(c * m2 / eta**0.5, rel=1e-12)


@settings(max_examples=40, deadline=None)
@given(mu=momenta_below_max, eta=step_sizes(), gamma=gammas_sde(), lam=spectra())
def test_bounds_fall_in_mu_and_with_eta(mu, eta, gamma, lam):
    problem = Problem(lam, dist="rademacher")
    lo, hi = delays.delay_bounds(problem, mu, eta, gamma), delays.delay_bounds(problem, mu + 0.01, eta, gamma)
    for regime in ("ode_regime", "sde_regime"):
        for k in lo[regime]:
            assert hi[regime][k] < lo[regime][k]
    assert hi["introduction"] < lo["introduction"]
    # larger eta, smaller delay, by exactly the printed power of eta: doubling eta divides the SDE
    # bound by 2^(1/2 - gamma) and the ODE bound by 2^(1 - gamma). (A strict "<" on the SDE bound
    # is not resolvable in float64 as gamma -> 1/2: at gamma = 0.5 - 1 ulp both sides round equal.)
    sde_ratio = delays.tau_sde(mu, 2 * eta, lam[0], problem.C_d, gamma) / delays.tau_sde(
        mu, eta, lam[0], problem.C_d, gamma
    )
    assert sde_ratio == pytest.approx(2.0 ** (gamma - 0.5), rel=1e-12)
    ode_ratio = delays.tau_ode(mu, 2 * eta, lam[0], gamma) / delays.tau_ode(mu, eta, lam[0], gamma)
    assert ode_ratio == pytest.approx(2.0 ** (gamma - 1.0), rel=1e-12)
    assert ode_ratio < 1.0


def test_scaling_laws_are_exact():
    # (1 - mu)^2 law and linearity in the constant
    assert sp.simplify(B["sde"].subs(S.mu, 0) * (1 - S.mu) ** 2 - B["sde"]) == 0
    assert sp.simplify(sp.diff(B["ode"], S.constant) * S.constant - B["ode"]) == 0
    # the introduction's bound is the SDE bound at gamma -> 0 without the (lambda_1 + C_d)
    assert sp.simplify(B["sde"].subs(S.gamma, 0) * (S.lambda_1 + S.C_d) - B["introduction"]) == 0
    # Theorem 3 = Lemma 1 / lambda_1
    assert sp.simplify(B["ode"] * S.lambda_1 - B["lemma1"]) == 0


def test_gaussian_has_no_sde_bound():
    out = delays.delay_bounds(Problem.paper("gaussian"), 0.9, 5e-4)
    assert out["C_d"] is None
    assert all(math.isnan(v) for v in out["sde_regime"].values())
    assert "not applicable" in out["note"]
    assert math.isnan(delays.tau_sde(0.9, 5e-4, 4.0, None))
    assert out["ode_regime"]["theorem3"] == pytest.approx(0.01 / (4.0 * 5e-4**0.5), rel=1e-12)


def test_paper_values_rademacher():
    out = delays.delay_bounds(Problem.paper("rademacher"), 0.9, 5e-4, gamma=0.25, constant=2.0)
    # (1 - 0.9)^2 * 2 / ((4 + sqrt(10)) * (5e-4)^(1/4))
    assert out["sde_regime"]["theorem5"] == pytest.approx(
        0.02 / ((4 + math.sqrt(10)) * 5e-4**0.25), rel=1e-12
    )
    assert out["introduction"] == pytest.approx(0.02 / math.sqrt(5e-4), rel=1e-12)


def test_gamma_above_half_leaves_sde_regime_nan():
    out = delays.delay_bounds(Problem.paper("rademacher"), 0.5, 1e-3, gamma=0.8)
    assert all(math.isnan(v) for v in out["sde_regime"].values())
    # the ODE regime allows gamma up to 1: Theorem 3's (1 - mu)^2/(lambda_1 eta^(1 - gamma)) by hand
    assert out["ode_regime"]["theorem3"] == pytest.approx(0.25 / (4.0 * 1e-3**0.2), rel=1e-12)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: delays.tau_sde(0.5, 1e-3, 4.0, 1.0, gamma=0.7), "gamma"),
        (lambda: delays.tau_ode(0.5, 1e-3, 4.0, gamma=1.5), "gamma"),
        (lambda: delays.tau_ode(1.0, 1e-3, 4.0), "mu"),
        (lambda: delays.tau_lemma1(0.5, float("inf")), "eta"),
        (lambda: delays.tau_sde(0.5, 1e-3, 4.0, -1.0), "C_d"),
        (lambda: delays.tau_introduction(0.5, 1e-3, constant=0.0), "constant"),
        (lambda: delays.delay_bounds(Problem.paper(), 0.5, 1e-3, gamma=0.0), "gamma"),
    ],
)
def test_bad_arguments_name_the_parameter(call, name):
    with pytest.raises(ValueError, match=f"^{name}"):
        call()
