"""compare.optimal_delay's delay bounds: the numeric twins equal the sympy derivation (issue 10)."""

import math

import pytest

from compare.optimal_delay import _bounds, bound_numbers
from theory import Problem


def _sympy_sup_over_gamma(problem, mu, eta):
    """The expressions of theory.delays.delay_bound_symbolic at gamma = 0, by sympy ``subs``."""
    from theory import symbolic as S
    from theory.delays import delay_bound_symbolic

    exprs = delay_bound_symbolic()
    subs = {S.mu: mu, S.eta: eta, S.gamma: 0, S.lambda_1: float(problem.lambda_[0]), S.constant: 1}
    C_d = problem.C_d
    return {
        "theorem3": float(exprs["ode"].subs(subs)),
        "lemma4": math.nan if C_d is None else float(exprs["sde"].subs({**subs, S.C_d: C_d})),
        "introduction": float(exprs["introduction"].subs(subs)),
    }


@pytest.mark.parametrize("dist", ["gaussian", "rademacher"])
@pytest.mark.parametrize("mu, eta", [(0.0, 5e-4), (0.9, 5e-4), (0.5, 1e-2), (0.99, 1e-5)])
def test_sup_over_gamma_equals_the_sympy_subs(dist, mu, eta):
    problem = Problem([4, 3, 2, 1], dist=dist)
    got = _bounds(problem, mu, eta)["sup_over_gamma"]
    want = _sympy_sup_over_gamma(problem, mu, eta)
    assert set(got) == set(want)
    for key, ref in want.items():
        if math.isnan(ref):
            assert math.isnan(got[key])
        else:
            # 1e-12 relative: sympy rounds each of its own operations (a few ulp apart at most)
            assert got[key] == pytest.approx(ref, rel=1e-12, abs=0), key


def test_table_numbers_by_hand():
    """Thm 3 (1-mu)^2/(lambda_1 eta), Lem 4 (1-mu)^2/((lambda_1+C_d) sqrt(eta)), intro (1-mu)^2/sqrt(eta)."""
    problem = Problem([4, 3, 2, 1], dist="rademacher")  # C_d = sqrt(10)
    got = bound_numbers(_bounds(problem, 0.9, 5e-4))
    assert got["Thm3"] == pytest.approx(0.01 / (4 * 5e-4), rel=1e-12)
    assert got["Lem4"] == pytest.approx(0.01 / ((4 + math.sqrt(10)) * math.sqrt(5e-4)), rel=1e-12)
    assert got["intro"] == pytest.approx(0.01 / math.sqrt(5e-4), rel=1e-12)
    assert set(_bounds(problem, 0.9, 5e-4)["at_default_gamma"]) >= {"ode_regime", "sde_regime"}
