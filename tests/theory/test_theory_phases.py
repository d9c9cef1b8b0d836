"""Phase times and iteration counts: Propositions 6, 8, 10 and Remark 7, printed vs derived."""

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp
from scipy.stats import norm
from strategies import deltas, momenta, nus, spectra, step_sizes

from theory import Problem, ode, phases, sde
from theory import symbolic as S
from theory.delays import delay_bound_symbolic

E = phases.phase_expressions()
# lambda_1 = lambda_2 + g with g > 0 lets sympy combine powers of the eigengap
GAP_SUBS = {S.lambda_1: S.lambda_2 + S.gap}


def _g(expr):
    return sp.simplify(sp.powsimp(sp.expand_power_base(expr.subs(GAP_SUBS), force=True), force=True))


def _prefactor(bound: str, eta_sub):
    """1/(tau eta) at constant c = 1 with the paper's eta substitution."""
    b = delay_bound_symbolic()[bound].subs(S.constant, 1)
    return (1 / (b * S.eta)).subs(S.eta, eta_sub)


# named, bounded strategies of this module
#: delta / sqrt(eta) in [0.1, 3]: Prop. 10 takes delta ~ sqrt(eta).
delta_over_sqrt_eta = st.floats(0.1, 3.0)
#: delta in [0.01, 0.5] for the ODE traverse (Phase II starts and ends delta away from the axes).
traverse_deltas = st.floats(0.01, 0.5)
#: epsilon in [1e-4, 0.02]: Phase III targets from the paper's scale (eta = 5e-4) downwards.
epsilons = st.floats(1e-4, 0.02)

ETA_SUB = S.epsilon * (S.lambda_1 - S.lambda_2) / S.phi  # Props 8, 10
ETA_SUB_3 = (1 - S.mu) * S.epsilon * (S.lambda_1 - S.lambda_2) / S.phi  # Prop 6


# -- pinned identities between printed and derived --------------------------------------------
def test_T1_derived_equals_printed():
    assert _g(E["T1_derived"] - E["T1_paper"]) == 0


def test_T2_derived_is_twice_printed():
    assert _g(E["T2_derived"] / E["T2_paper"]) == 2


def test_T3_derived_exceeds_printed_by_log4_inside_the_log():
    # exp(2 g (T3_der - T3_pap)/(1 - mu)) = 4: the Markov factor 1/(1 - 3/4) on the delta^2 term
    ratio = sp.exp(2 * S.gap * (E["T3_derived"] - E["T3_paper"]).subs(GAP_SUBS) / (1 - S.mu))
    assert sp.simplify(ratio) == 4


def test_N1_N2_printed_follow_from_T_over_tau_eta():
    assert _g(E["N1_paper"] / (E["T1_paper"] * _prefactor("sde", ETA_SUB))) == 1
    assert _g(E["N2_paper"] / (E["T2_paper"] * _prefactor("ode", ETA_SUB))) == 1


def test_N3_printed_is_twice_T3_over_tau_eta():
    assert _g(E["N3_paper"] / (E["T3_paper"] * _prefactor("sde", ETA_SUB_3))) == 2


def test_remark7_Nhat3_is_N3_at_mu_0_and_Ntilde3_is_twice_T3_over_eta():
    assert _g(E["Nhat3_paper"] - E["N3_paper"].subs(S.mu, 0)) == 0
    assert _g(E["Ntilde3_paper"] / (E["T3_paper"].subs(S.mu, 0) / ETA_SUB)) == 2
    # the linear speed-up of Remark 7: Nhat3 = Ntilde3 / tau at mu = 0, eta = epsilon gap / phi
    tau0 = delay_bound_symbolic()["sde"].subs({S.constant: 1, S.mu: 0, S.eta: ETA_SUB})
    assert _g(E["Nhat3_paper"] * tau0 / E["Ntilde3_paper"]) == 1


# -- numeric twins -----------------------------------------------------------------------------
POINT = {
    S.lambda_1: 4.0,
    S.lambda_2: 3.0,
    S.mu: 0.7,
    S.eta: 5e-4,
    S.delta: 0.3,
    S.epsilon: 0.9,
    S.phi: 40.0,
    S.alpha_12: math.sqrt(12.0),
    S.C_d: math.sqrt(10.0),
    S.gamma: 0.25,
    S.z_nu: 1.2,
    S.constant: 1.0,
}


@pytest.mark.parametrize("name", sorted(E))
def test_lambdified_equals_symbolic(name):
    f = phases.phase_lambdified(name)
    exact = complex(E[name].subs(POINT).evalf(30))
    assert exact.imag == 0
    assert f(*POINT.values()) == pytest.approx(exact.real, rel=1e-12)


# -- derivations against independent numerics ----------------------------------------------
@settings(max_examples=30, deadline=None)
@given(lam=spectra(min_d=2, max_d=2), mu=momenta(), eta=step_sizes(), nu=nus(), data=st.data())
def test_T1_gives_escape_probability_1_minus_nu(lam, mu, eta, nu, data):
    delta = data.draw(delta_over_sqrt_eta) * math.sqrt(eta)  # delta ~ sqrt(eta) (Prop 10)
    if delta >= 1:
        return
    problem = Problem(lam, dist="rademacher")
    T = phases.T1_derived(lam[0], lam[1], mu, eta, delta, nu, problem.alpha[0, 1])
    coef = sde.ou_coefficients(problem, mu, 2)  # Theorem 9 at the saddle e_2; coordinate 1 unstable
    sd = math.sqrt(sde.ou_transition_variance(coef.drift[0], coef.diffusion[0], T))
    p_escape = 2 * norm.sf(delta / math.sqrt(eta) / sd)
    assert p_escape == pytest.approx(1 - nu, rel=1e-9)


@settings(max_examples=15, deadline=None)
@given(lam=spectra(min_d=2, max_d=2), mu=momenta(), delta=traverse_deltas)
def test_T2_derived_is_the_ode_traverse_time(lam, mu, delta):
    def hit(_t, h):
        return h[0] ** 2 - (1 - delta**2)

    hit.terminal = True
    h0 = [delta, math.sqrt(1 - delta**2)]
    T = phases.T2_derived(lam[0], lam[1], mu, delta)
    sol = solve_ivp(
        lambda _t, h: ode.ode_drift(h, lam, mu), (0, 3 * T), h0, events=hit, rtol=1e-11, atol=1e-13
    )
    assert sol.t_events[0][0] == pytest.approx(T, rel=1e-6)
    assert phases.T2_paper(lam[0], lam[1], mu, delta) == pytest.approx(T / 2, rel=1e-12)


@settings(max_examples=30, deadline=None)
@given(
    lam=spectra(min_d=2, max_d=6),
    mu=momenta(),
    epsilon=epsilons,
    dist=st.sampled_from(["gaussian", "rademacher"]),
)
def test_T3_derived_meets_markov_target_under_eq8(lam, mu, epsilon, dist):
    problem = Problem(lam, dist=dist)
    phi_eff = phases.phi_effective(problem)
    eta = epsilon * (1 - mu) * problem.eigengap / (4 * phi_eff)  # epsilon = 8 x the noise term below
    noise = eta * phi_eff / (2 * (1 - mu) * problem.eigengap)
    coef = sde.ou_coefficients(problem, mu, 1)
    # phi_eff makes the noise term exactly the stationary E[sum_i H_i^2] of eq. (8)
    assert noise == pytest.approx(eta * np.sum(coef.stationary_variance), rel=1e-12)
    delta = math.sqrt(10 * epsilon)  # start above the target: delta^2 = 10 epsilon
    T = phases.T3_derived(lam[0], lam[1], mu, eta, delta, epsilon, phi_eff)
    assert T > 0
    # worst start: all of delta^2/eta on coordinate 2 (the slowest); exact E[S(T)] from eq. (8)
    u0 = np.zeros(lam.size - 1)
    u0[0] = delta / math.sqrt(eta)
    mean_sq = sde.ou_transition_mean(u0, coef.drift, T) ** 2
    es = eta * np.sum(mean_sq + sde.ou_transition_variance(coef.drift, coef.diffusion, T))
    assert es <= epsilon / 4 * (1 + 1e-9)
    # and the bound is tight for d = 2 (one coordinate: the bound is the exact mean up to 1 - e^{2at})
    if lam.size == 2:
        assert es == pytest.approx(
            epsilon / 4 - noise * math.exp(-2 * problem.eigengap * T / (1 - mu)), rel=1e-9
        )


def test_T3_infinite_when_epsilon_below_noise_floor_and_printed_nan():
    args = dict(lambda_1=4.0, lambda_2=3.0, mu=0.9, eta=5e-4, delta=0.3, phi=40.0)
    assert phases.T3_derived(**args, epsilon=0.01) == math.inf
    assert math.isnan(phases.T3_paper(**args, epsilon=0.01))


# -- properties --------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(lam=spectra(min_d=2, max_d=2), mu=momenta(), eta=step_sizes(), delta=deltas(), nu=nus())
def test_phase_times_positive_and_falling_with_gap(lam, mu, eta, delta, nu):
    a12 = math.sqrt(lam[0] * lam[1])
    for f in (phases.T1_paper, phases.T1_derived):
        T = f(lam[0], lam[1], mu, eta, delta, nu, a12)
        assert T > 0
        assert f(lam[0] + 0.5, lam[1], mu, eta, delta, nu, a12) < T
    for f in (phases.T2_paper, phases.T2_derived):
        T = f(lam[0], lam[1], mu, delta)
        assert T > 0
        assert f(lam[0] + 0.5, lam[1], mu, delta) < T


@settings(max_examples=40, deadline=None)
@given(lam=spectra(min_d=2, max_d=2), mu=momenta(), delta=deltas())
def test_T2_proportional_to_one_minus_mu(lam, mu, delta):
    # T2 = (1 - mu) x (mu-free factor) in both forms
    for f in (phases.T2_paper, phases.T2_derived):
        assert f(lam[0], lam[1], mu, delta) / (1 - mu) == pytest.approx(
            f(lam[0], lam[1], 0.0, delta), rel=1e-12
        )


@settings(max_examples=40, deadline=None)
@given(lam=spectra(min_d=2, max_d=2), mu=momenta(), epsilon=epsilons)
def test_T3_positive_and_falling_with_gap_above_floor(lam, mu, epsilon):
    phi = 5.0 * lam[0] ** 2
    gap = lam[0] - lam[1]
    eta = epsilon * (1 - mu) * gap / (8 * phi)  # epsilon = 4x the printed floor 2 eta phi/((1-mu) gap)
    delta = math.sqrt(10 * epsilon)  # start above the target
    for f in (phases.T3_paper, phases.T3_derived):
        T = f(lam[0], lam[1], mu, eta, delta, epsilon, phi)
        assert T > 0
        assert f(lam[0] + 0.5, lam[1], mu, eta, delta, epsilon, phi) < T


def test_phase_times_and_counts_for_the_paper_problem():
    problem = Problem.paper("rademacher")
    times = phases.phase_times(problem, 0.9, 5e-4)
    assert times["parameters"]["delta"] == pytest.approx(math.sqrt(5e-4))
    assert times["T2"]["derived"] == pytest.approx(2 * times["T2"]["paper"], rel=1e-12)
    assert times["T1"]["derived"] == pytest.approx(times["T1"]["paper"], rel=1e-12)
    # with delta = sqrt(eta) the Phase III target already holds at the start: negative T3
    assert times["T3"]["paper"] < 0 and times["T3"]["derived"] < 0
    # by hand (d = 2 reduction of the closed form): H_1^2/H_2^2 grows as exp(2 g t/(1 - mu)) from
    # delta^2/(1 - delta^2) to its inverse, so T2 = (1 - mu)/g log((1 - delta^2)/delta^2) with
    # delta^2 = eta = 5e-4, g = 1: 0.1 log(1999)
    T2_hand = 0.1 * math.log(1999.0)
    assert times["T2"]["derived"] == pytest.approx(T2_hand, rel=1e-12)
    counts = phases.iteration_counts(problem, 0.9, 5e-4)
    assert set(counts) == {"N1", "N2", "N3", "Nhat3", "Ntilde3"}
    # N2 = T2 / (tau eta), tau the Theorem 3 bound (1 - mu)^2/(lambda_1 sqrt(eta)) at constant 1
    tau_thm3 = 0.01 / (4.0 * math.sqrt(5e-4))
    assert counts["N2"]["derived"] == pytest.approx(T2_hand / (tau_thm3 * 5e-4), rel=1e-12)
    assert counts["Ntilde3"]["derived"] == pytest.approx(times["T3"]["derived"] / 5e-4, rel=1e-12)
    gauss = phases.iteration_counts(Problem.paper("gaussian"), 0.9, 5e-4)
    assert math.isnan(gauss["N1"]["paper"]) and math.isnan(gauss["N1"]["derived"])
    # Phase II is the noise-free ODE traverse in the ODE delay regime: no dependence on the data law
    assert gauss["N2"]["derived"] == pytest.approx(counts["N2"]["derived"], rel=1e-12)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(mu=1.0), "mu"),
        (dict(eta=0.0), "eta"),
        (dict(delta=1.0), "delta"),
        (dict(nu=0.0), "nu"),
        (dict(epsilon=-1.0), "epsilon"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, name):
    base = dict(mu=0.5, eta=1e-3)
    base.update(kwargs)
    mu, eta = base.pop("mu"), base.pop("eta")
    with pytest.raises(ValueError, match=f"^{name}"):
        phases.phase_times(Problem.paper(), mu, eta, **base)


def test_lambda_order_is_checked():
    with pytest.raises(ValueError, match="^lambda_1"):
        phases.T2_paper(1.0, 2.0, 0.5, 0.1)
