"""LaTeX of every result (theory.latex)."""

import sympy as sp

from theory import latex_results
from theory import symbolic as S
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


def test_delay_latex_is_the_printed_bound():
    """The LaTeX of the delay bounds is that of the bounds as the paper prints them, written
    out here (Lemma 1; Theorem 3 / Prop. 8; Lemma 4, Theorems 5, 9, Props 6, 10; Introduction),
    so a bound filed under the wrong key or with a wrong exponent shows up in the text."""
    m, e, g, c = S.mu, S.eta, S.gamma, S.constant
    printed = {
        "delay_lemma1": c * (1 - m) ** 2 / e ** (1 - g),
        "delay_ode": c * (1 - m) ** 2 / (S.lambda_1 * e ** (1 - g)),
        "delay_sde": c * (1 - m) ** 2 / ((S.lambda_1 + S.C_d) * e ** (sp.Rational(1, 2) - g)),
        "delay_introduction": c * (1 - m) ** 2 / sp.sqrt(e),
    }
    out = latex_results(3)
    for key, bound in printed.items():
        assert out[key] == r"\tau = " + sp.latex(bound), key
    # and the sources name where in the paper each result is
    words = ("eq.", "Theorem", "Lemma", "Proposition", "Introduction", "closed form")
    assert all(any(w in src for w in words) for src in LATEX_SOURCES.values())
