r"""LaTeX of every symbolic result of :mod:`theory` (``sympy.latex``).

:func:`latex_results` returns one string per result, keyed by a stable name, each with the
paper's equation or theorem number in the key's description (:data:`LATEX_SOURCES`).
"""

from __future__ import annotations

from functools import cache

from . import symbolic as S
from .delays import delay_bound_symbolic
from .ode import closed_form_symbolic, mean_increment_symbolic, momentum_factor_symbolic, ode_drift_symbolic
from .phases import phase_derivations, phase_expressions
from .sde import ou_diffusion_symbolic, ou_linearisation_symbolic, ou_transition_symbolic

__all__ = ["latex_results", "LATEX_SOURCES"]

#: Where each result comes from in the paper.
LATEX_SOURCES = {
    "mean_increment": "eq. (5)-(6): E[(I - ww^T) X X^T w]",
    "momentum_factor": "eq. (6): sum_i mu^i",
    "ode": "eq. (7), Theorem 3",
    "closed_form": "closed form after Theorem 3",
    "ou_drift": "eq. (8) (Theorem 5) / Theorem 9: drift at e_j",
    "ou_diffusion": "eq. (8) / Theorem 9: diffusion B B^T",
    "ou_mean": "eq. (8): transition mean",
    "ou_variance": "eq. (8): transition variance",
    "ou_stationary_variance": "eq. (8): stationary variance",
    "delay_lemma1": "Lemma 1",
    "delay_ode": "Theorem 3, Proposition 8",
    "delay_sde": "Lemma 4, Theorems 5 and 9, Propositions 6 and 10",
    "delay_introduction": "Introduction",
}


#: Left-hand sides of the derivation steps that are expressions rather than equations.
_STEP_LHS = {
    "T1_variance": r"\mathrm{Var}[U_1(T) \mid U_1(0) = 0]",
    "T2_H1_squared": r"H_1(T)^2",
    "T3_bound": r"\overline{E}\left[\textstyle\sum_{i \ge 2} H_i(T)^2\right]",
}


def _eq(lhs: str, rhs) -> str:
    import sympy as sp

    return f"{lhs} = {sp.latex(rhs)}"


@cache
def latex_results(d: int = 3) -> dict[str, str]:
    r"""LaTeX for every result, the vector ones in dimension ``d``.

    Parameters
    ----------
    d : int
        Dimension of the vector results (mean increment, ODE, closed form, OU matrices).

    Returns
    -------
    dict[str, str]
        Keys of :data:`LATEX_SOURCES`, every key of :func:`theory.phases.phase_expressions`
        (``T1_paper`` ... ``Ntilde3_derived``) and ``derivation_*`` for the intermediate steps
        of :func:`theory.phases.phase_derivations` (equations solved for T1, T2, T3).
    """
    import sympy as sp

    expectation, _, _ = mean_increment_symbolic(d)
    partial, limit = momentum_factor_symbolic()
    drift, _ = ode_drift_symbolic(d)
    H, _ = closed_form_symbolic(d)
    A, _ = ou_linearisation_symbolic(d, 1)
    law = ou_transition_symbolic()
    bounds = delay_bound_symbolic()
    out = {
        "mean_increment": _eq(r"E[(I - ww^\top) X X^\top w]", expectation),
        "momentum_factor": rf"\sum_{{i=0}}^{{k}} \mu^i = {sp.latex(partial)} \to {sp.latex(limit)}",
        "ode": _eq(r"\dot H", drift),
        "closed_form": _eq("H(t)", H),
        "ou_drift": _eq(r"A\ (j = 1)", A),
        "ou_diffusion": _eq(r"B B^\top\ (j = 1)", ou_diffusion_symbolic(d, 1, "gaussian"))
        + r"\ \text{(Gaussian)}",
        "ou_mean": _eq(r"E[U_t \mid U_0 = u_0]", law["mean"]),
        "ou_variance": _eq(r"\mathrm{Var}[U_t \mid U_0]", law["variance"]),
        "ou_stationary_variance": _eq(r"\mathrm{Var}_\infty", law["stationary_variance"]),
        "delay_lemma1": _eq(r"\tau", bounds["lemma1"]),
        "delay_ode": _eq(r"\tau", bounds["ode"]),
        "delay_sde": _eq(r"\tau", bounds["sde"]),
        "delay_introduction": _eq(r"\tau", bounds["introduction"]),
    }
    names = {"T": "T", "N": "N", "Nhat3": r"\widehat N_3", "Ntilde3": r"\widetilde N_3"}
    for key, expr in phase_expressions().items():
        stem, kind = key.rsplit("_", 1)
        lhs = names.get(stem, f"{stem[0]}_{stem[1:]}")
        out[key] = _eq(
            rf"{lhs}^{{\mathrm{{{kind}}}}}", expr.subs(S.z_nu, sp.Symbol(r"\Phi^{-1}(\frac{1+\nu}{2})"))
        )
    for key, expr in phase_derivations().items():
        if key in ("T1", "T2", "T3"):
            continue  # already above as T*_derived
        lhs = _STEP_LHS.get(key)
        out[f"derivation_{key}"] = sp.latex(expr) if lhs is None else _eq(lhs, expr)
    return out
