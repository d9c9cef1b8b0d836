"""Numeric twins of the phase times, counts and delay bounds: equal to their sympy derivations, and the
numeric path (T1_paper ... iteration_counts, delay_bounds) never derives or lambdifies anything."""

import math

import numpy as np
import pytest

from theory import Problem, delays, phases
from theory import symbolic as S
from theory.phases_numeric import PHASE_NUMERIC

E = phases.phase_expressions()


def _phase_args(n: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """n points of the twelve arguments, each in the range the paper's formulas address.

    lambda_2 in [0.1, 9], gap in [0.05, 5]; mu in [0, 0.99]; eta log-uniform in [1e-6, 1e-1]; delta in
    [0.01, 0.6] (< 1/sqrt(2): Phase II runs from delta^2 to 1 - delta^2); epsilon log-uniform in
    [1e-4, 1]; phi in [0.1, 50]; alpha_12, C_d in [0.1, 5]; gamma in [0.01, 1]; z_nu, c in [0.1, 3].
    Some points put epsilon below T3's noise floor: there both sides must be NaN.
    """
    rng = np.random.default_rng(seed)
    l2 = rng.uniform(0.1, 9.0, n)
    return (
        l2 + rng.uniform(0.05, 5.0, n),
        l2,
        rng.uniform(0.0, 0.99, n),
        10.0 ** rng.uniform(-6, -1, n),
        rng.uniform(0.01, 0.6, n),
        10.0 ** rng.uniform(-4, 0, n),
        rng.uniform(0.1, 50.0, n),
        rng.uniform(0.1, 5.0, n),
        rng.uniform(0.1, 5.0, n),
        rng.uniform(0.01, 1.0, n),
        rng.uniform(0.1, 3.0, n),
        rng.uniform(0.1, 3.0, n),
    )


def test_every_expression_has_a_twin():
    assert set(PHASE_NUMERIC) == set(E)


@pytest.mark.parametrize("name", sorted(E))
def test_twin_equals_the_lambdified_derivation(name):
    # Bit for bit today (the twin is sympy's printed form); rtol 1e-12 admits a sympy release that
    # prints an equivalent form in another order (a few ulp, amplified by cancellation in a log).
    args = _phase_args(2000)
    with np.errstate(all="ignore"):
        twin = np.asarray(PHASE_NUMERIC[name](*args), dtype=float)
        ref = np.asarray(phases.phase_lambdified(name)(*args), dtype=float)
    np.testing.assert_array_equal(np.isnan(twin), np.isnan(ref))
    ok = ~np.isnan(ref)
    assert ok.mean() > 0.3  # a large part of the sample inside the domain (T3: 46%, epsilon above its floor)
    np.testing.assert_allclose(twin[ok], ref[ok], rtol=1e-12, atol=0)


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
def test_twin_equals_the_expression_in_high_precision(name):
    exact = complex(E[name].subs(POINT).evalf(30))
    assert exact.imag == 0
    assert phases.phase_numeric(name)(*POINT.values()) == pytest.approx(exact.real, rel=1e-12)


def test_phase_numeric_refuses_an_unknown_name():
    with pytest.raises(ValueError, match="^name must be one of"):
        phases.phase_numeric("T4_paper")


@pytest.mark.parametrize("name", ["lemma1", "ode", "sde", "introduction"])
def test_delay_bound_twins_equal_the_symbolic_bounds(name):
    rng = np.random.default_rng(1)
    expr = delays.delay_bound_symbolic()[name]
    for _ in range(50):
        # mu in [0, 0.99], eta in [1e-6, 1e-1], gamma in [0.01, 1], lambda_1, C_d in [0.1, 10], c in [0.1, 3]
        mu, eta, gamma = rng.uniform(0, 0.99), 10 ** rng.uniform(-6, -1), rng.uniform(0.01, 1.0)
        lam1, C_d, c = rng.uniform(0.1, 10), rng.uniform(0.1, 10), rng.uniform(0.1, 3)
        twin = delays._NUMERIC[name](mu, eta, gamma, lam1, C_d, c)
        assert twin == delays._lambdified(name)(mu, eta, gamma, lam1, C_d, c)  # same operations
        subs = {S.mu: mu, S.eta: eta, S.gamma: gamma, S.lambda_1: lam1, S.C_d: C_d, S.constant: c}
        assert twin == pytest.approx(float(expr.subs(subs).evalf(30)), rel=1e-13)


def test_the_numeric_path_derives_nothing(monkeypatch):
    """phase_times, iteration_counts and delay_bounds with every sympy entry point made to fail
    (a derivation in the first call of a process cost seconds: this is what keeps it out)."""

    def no_sympy(*_a, **_k):
        raise AssertionError("a sympy derivation or lambdify on the numeric path")

    for mod, name in (
        (phases, "phase_expressions"),
        (phases, "phase_derivations"),
        (phases, "phase_lambdified"),
        (delays, "delay_bound_symbolic"),
        (delays, "_lambdified"),
    ):
        monkeypatch.setattr(mod, name, no_sympy)
    problem = Problem([4, 3, 2, 1], dist="rademacher")  # bounded data: C_d exists, every count defined
    got = {
        "times": phases.phase_times(problem, 0.5, 1e-3),
        "counts": phases.iteration_counts(problem, 0.5, 1e-3),
        "bounds": delays.delay_bounds(problem, 0.5, 1e-3),
    }
    assert all(math.isfinite(v["derived"]) for v in got["counts"].values())


@pytest.mark.parametrize("dist", ["gaussian", "rademacher"])
def test_gamma0_bounds_equal_the_symbolic_limit(dist):
    """The table's "sup over gamma" bounds: the symbolic expressions at gamma = 0, evaluated by sympy."""
    problem = Problem([4, 3, 2, 1], dist=dist)
    B = delays.delay_bound_symbolic()
    for mu, eta in ((0.0, 5e-4), (0.9, 5e-4), (0.5, 1e-2)):
        subs = {S.mu: mu, S.eta: eta, S.gamma: 0, S.lambda_1: 4.0, S.constant: 1}
        got = delays.delay_bounds_gamma0(problem, mu, eta)
        # rel 1e-15: sympy rounds each of its operations, the twin its own (a few ulp at most)
        assert got["theorem3"] == pytest.approx(float(B["ode"].subs(subs)), rel=1e-15)
        assert got["introduction"] == pytest.approx(float(B["introduction"].subs(subs)), rel=1e-15)
        if problem.C_d is None:
            assert math.isnan(got["lemma4"])
        else:
            ref = float(B["sde"].subs({**subs, S.C_d: problem.C_d}))
            assert got["lemma4"] == pytest.approx(ref, rel=1e-15)


#: Imports a theory module without the package's __init__ (which imports every module, some of them
#: with sympy at the top: theory.stability, theory.distributions), then the numeric functions; prints
#: the heavy modules that got imported. Run in a fresh interpreter.
_LAZY_PROBE = r"""
import importlib.util, sys, types
spec = importlib.util.find_spec("theory")
pkg = types.ModuleType("theory")
pkg.__path__ = list(spec.submodule_search_locations)
sys.modules["theory"] = pkg
from theory import delays, latex, ode, phases, phases_numeric, sde, symbolic  # noqa: F401
phases.T1_derived(4.0, 3.0, 0.9, 5e-4, 0.3, 0.5, 1.0)
phases.T3_derived(4.0, 3.0, 0.9, 5e-4, 0.3, 0.1, 1.0)
delays.tau_sde(0.9, 5e-4, 4.0, 3.0)
ode.closed_form_H([0.6, 0.8], [2.0, 1.0], 0.5, 1.0)
sde.ou_transition_variance(-1.0, 1.0, 2.0)
print(sorted(m for m in ("sympy", "mpmath", "scipy.optimize", "scipy.linalg") if m in sys.modules))
"""


def test_importing_and_the_numeric_functions_need_no_sympy():
    """theory.symbolic, delays, phases, ode, sde and latex import sympy (and scipy.optimize, scipy.linalg)
    only in the functions that need them; importing them and the numeric path load none of it."""
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-c", _LAZY_PROBE], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().splitlines()[-1] == "[]"


def test_lazy_symbols_are_the_declared_ones():
    """The module __getattr__ of theory.symbolic makes each symbol once, with its assumptions."""
    assert S.constant.name == "c" and S.constant.is_positive
    assert S.mu.is_nonnegative and S.mu.is_positive is None  # mu = 0 allowed
    assert S.eta is S.eta  # made once, then a plain attribute
    assert {"eta", "z_nu", "lambdas"} <= set(dir(S)) and "eta" in S.__all__
    with pytest.raises(AttributeError):
        S.not_a_symbol  # noqa: B018
