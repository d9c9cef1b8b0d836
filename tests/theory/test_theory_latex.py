"""LaTeX of every result (theory.latex)."""

import sympy as sp

from theory import latex_results
from theory.latex import LATEX_SOURCES
from theory.ode import momentum_factor_symbolic
from theory.phases import phase_derivations, phase_expressions


def test_every_result_has_latex():
    out = latex_results(3)
    steps = {f"derivation_{k}" for k in phase_derivations() if k not in ("T1", "T2", "T3")}
    assert set(out) == set(LATEX_SOURCES) | set(phase_expressions()) | steps
    assert all(isinstance(v, str) and "=" in v for v in out.values())


def test_latex_is_sympy_latex_of_the_expression():
    out = latex_results(3)
    assert out["T2_paper"].endswith(sp.latex(phase_expressions()["T2_paper"]))
    assert "\\Phi^{-1}" in out["T1_paper"]
    assert out["momentum_factor"].endswith("\\to " + sp.latex(momentum_factor_symbolic()[1]))
    assert out["derivation_T2_equation"] == sp.latex(phase_derivations()["T2_equation"])
