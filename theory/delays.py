r"""Delay conditions of the paper, with the unknown constant explicit.

Two regimes (see the paper README's reading notes: not a typo):

ODE regime, :math:`\gamma \in (0, 1]`:
    Lemma 1 :math:`\tau \lesssim c\,(1-\mu)^2/\eta^{1-\gamma}`;
    Theorem 3 and Proposition 8 :math:`\tau \lesssim c\,(1-\mu)^2/(\lambda_1 \eta^{1-\gamma})`.
SDE regime, :math:`\gamma \in (0, 1/2]`:
    Lemma 4, Theorems 5 and 9, Propositions 6 and 10
    :math:`\tau \asymp c\,(1-\mu)^2/((\lambda_1 + C_d)\, \eta^{1/2-\gamma})`.
Introduction:
    :math:`\tau \lesssim c\,(1-\mu)^2/\sqrt{\eta}` (the SDE regime as :math:`\gamma \to 0`,
    without the :math:`\lambda_1 + C_d`).

The constant c is unknown in the paper (every bound holds "up to constants"); it is an
explicit argument, default 1. :math:`C_d` (Assumption 2) does not exist for unbounded
data such as the Gaussian: the SDE-regime bounds are then not applicable and are returned
as NaN (``null`` in JSON) with a note.
"""

from __future__ import annotations

import math
from functools import cache
from typing import TYPE_CHECKING

from . import symbolic as S
from .validation import check_eta, check_mu, check_positive_float

if TYPE_CHECKING:
    import sympy as sp

    from .problem import Problem

__all__ = [
    "GAMMA_DEFAULT",
    "delay_bound_symbolic",
    "tau_lemma1",
    "tau_ode",
    "tau_sde",
    "tau_introduction",
    "delay_bounds",
    "delay_bounds_gamma0",
]

#: Default gamma: 1/2 is the largest value both regimes admit ((0, 1] and (0, 1/2]); it gives
#: the most conservative bounds (eta-free in the SDE regime).
GAMMA_DEFAULT = 0.5


@cache
def delay_bound_symbolic() -> dict[str, sp.Expr]:
    r"""The delay bounds as sympy expressions in ``mu, eta, gamma, lambda_1, C_d, c``.

    Returns
    -------
    dict
        ``"lemma1"``, ``"ode"`` (Theorem 3, Proposition 8), ``"sde"`` (Lemma 4, Theorems 5 and
        9, Propositions 6 and 10), ``"introduction"``.
    """
    import sympy as sp

    m, e, g, c = S.mu, S.eta, S.gamma, S.constant
    return {
        "lemma1": c * (1 - m) ** 2 / e ** (1 - g),
        "ode": c * (1 - m) ** 2 / (S.lambda_1 * e ** (1 - g)),
        "sde": c * (1 - m) ** 2 / ((S.lambda_1 + S.C_d) * e ** (sp.Rational(1, 2) - g)),
        "introduction": c * (1 - m) ** 2 / sp.sqrt(e),
    }


@cache
def _lambdified(name: str):
    """``delay_bound_symbolic()[name]`` through ``sympy.lambdify`` (what :data:`_NUMERIC` equals)."""
    import sympy as sp

    args = (S.mu, S.eta, S.gamma, S.lambda_1, S.C_d, S.constant)
    return sp.lambdify(args, delay_bound_symbolic()[name], "math")


#: Numeric twins of :func:`delay_bound_symbolic`, f(mu, eta, gamma, lambda_1, C_d, c): each the
#: expression as sympy prints it (the lambdified function's operations, so the same values), so a
#: bound costs no sympy call (tests/theory/test_phases_numeric.py checks them against it).
_NUMERIC = {
    "lemma1": lambda mu, eta, gamma, lambda_1, C_d, c: c * eta ** (gamma - 1) * (1 - mu) ** 2,
    "ode": lambda mu, eta, gamma, lambda_1, C_d, c: c * eta ** (gamma - 1) * (1 - mu) ** 2 / lambda_1,
    "sde": lambda mu, eta, gamma, lambda_1, C_d, c: (
        c * eta ** (gamma - 1 / 2) * (1 - mu) ** 2 / (C_d + lambda_1)
    ),
    "introduction": lambda mu, eta, gamma, lambda_1, C_d, c: c * (1 - mu) ** 2 / math.sqrt(eta),
}


def _check_gamma(gamma, upper: float) -> float:
    gamma = check_positive_float(gamma, "gamma")
    if gamma > upper:
        raise ValueError(f"gamma must lie in (0, {upper:g}] in this regime, got {gamma!r}")
    return gamma


def _common(mu, eta, constant):
    return check_mu(mu), check_eta(eta), check_positive_float(constant, "constant")


def tau_lemma1(mu, eta, gamma=GAMMA_DEFAULT, constant=1.0) -> float:
    r"""Lemma 1: :math:`c (1-\mu)^2 / \eta^{1-\gamma}`, :math:`\gamma \in (0, 1]` (tightness).

    Parameters
    ----------
    mu : float
        Momentum in [0, 1).
    eta : float
        Step size > 0.
    gamma : float
        In (0, 1].
    constant : float
        The unknown constant c > 0 in front of the bound.

    Returns
    -------
    float
        The bound (a delay in iterations, not rounded).
    """
    mu, eta, constant = _common(mu, eta, constant)
    gamma = _check_gamma(gamma, 1.0)
    return float(_NUMERIC["lemma1"](mu, eta, gamma, 1.0, 0.0, constant))


def tau_ode(mu, eta, lambda_1, gamma=GAMMA_DEFAULT, constant=1.0) -> float:
    r"""Theorem 3 / Proposition 8: :math:`c (1-\mu)^2 / (\lambda_1 \eta^{1-\gamma})`, gamma in (0, 1].

    Parameters
    ----------
    mu : float
        Momentum in [0, 1).
    eta : float
        Step size > 0.
    lambda_1 : float
        Largest eigenvalue of Sigma, > 0.
    gamma : float
        In (0, 1].
    constant : float
        The unknown constant c > 0 in front of the bound.

    Returns
    -------
    float
        The bound (a delay in iterations, not rounded).
    """
    mu, eta, constant = _common(mu, eta, constant)
    gamma = _check_gamma(gamma, 1.0)
    lambda_1 = check_positive_float(lambda_1, "lambda_1")
    return float(_NUMERIC["ode"](mu, eta, gamma, lambda_1, 0.0, constant))


def tau_sde(mu, eta, lambda_1, C_d, gamma=GAMMA_DEFAULT, constant=1.0) -> float:
    r"""Lemma 4, Theorems 5 and 9, Props 6 and 10: :math:`c (1-\mu)^2 / ((\lambda_1 + C_d)\eta^{1/2-\gamma})`.

    Parameters
    ----------
    mu : float
        Momentum in [0, 1).
    eta : float
        Step size > 0.
    lambda_1 : float
        Largest eigenvalue of Sigma, > 0.
    C_d : float or None
        Bound on ||X|| (Assumption 2). ``None`` (unbounded data, e.g. Gaussian): the
        condition is not applicable and the result is NaN.
    gamma : float in (0, 1/2]
    constant : float
        The unknown constant c > 0 in front of the bound.

    Returns
    -------
    float
        The bound, or NaN when ``C_d`` is None.
    """
    mu, eta, constant = _common(mu, eta, constant)
    gamma = _check_gamma(gamma, 0.5)
    lambda_1 = check_positive_float(lambda_1, "lambda_1")
    if C_d is None:
        return math.nan
    C_d = check_positive_float(C_d, "C_d")
    return float(_NUMERIC["sde"](mu, eta, gamma, lambda_1, C_d, constant))


def tau_introduction(mu, eta, constant=1.0) -> float:
    r"""Introduction: :math:`c (1-\mu)^2/\sqrt{\eta}`.

    Parameters
    ----------
    mu : float
        Momentum in [0, 1).
    eta : float
        Step size > 0.
    constant : float
        The unknown constant c > 0 in front of the bound.

    Returns
    -------
    float
        The bound (a delay in iterations, not rounded).
    """
    mu, eta, constant = _common(mu, eta, constant)
    return float(_NUMERIC["introduction"](mu, eta, 0.0, 1.0, 0.0, constant))


def delay_bounds(problem: Problem, mu, eta, gamma=GAMMA_DEFAULT, constant=1.0) -> dict:
    r"""Every delay condition of the paper for one problem, as a JSON-friendly dict.

    Parameters
    ----------
    problem : Problem
    mu : float in [0, 1)
    eta : float > 0
    gamma : float in (0, 1]
        Used in both regimes; the SDE-regime bounds need gamma <= 1/2 and are NaN otherwise.
    constant : float > 0
        The unknown constant c in front of every bound.

    Returns
    -------
    dict
        ``{"gamma", "constant", "C_d", "ode_regime": {"lemma1", "theorem3", "proposition8"},
        "sde_regime": {"lemma4", "theorem5", "theorem9", "proposition6", "proposition10"},
        "introduction", "note"}``; bounds are floats (delays in iterations, not rounded),
        NaN where not applicable.
    """
    mu, eta, constant = _common(mu, eta, constant)
    gamma = _check_gamma(gamma, 1.0)
    lam1 = float(problem.lambda_[0])
    C_d = problem.C_d
    ode = tau_ode(mu, eta, lam1, gamma, constant)
    notes = []
    if C_d is None:
        notes.append(f"SDE-regime bounds not applicable: C_d {problem.constants.C_d_note}")
        sde = math.nan
    elif gamma > 0.5:
        notes.append("SDE-regime bounds need gamma in (0, 0.5]")
        sde = math.nan
    else:
        sde = tau_sde(mu, eta, lam1, C_d, gamma, constant)
    return {
        "gamma": gamma,
        "constant": constant,
        "C_d": C_d,
        "ode_regime": {
            "lemma1": tau_lemma1(mu, eta, gamma, constant),
            "theorem3": ode,
            "proposition8": ode,
        },
        "sde_regime": {k: sde for k in ("lemma4", "theorem5", "theorem9", "proposition6", "proposition10")},
        "introduction": tau_introduction(mu, eta, constant),
        "note": "; ".join(notes) if notes else "all bounds applicable",
    }


def delay_bounds_gamma0(problem: Problem, mu, eta, constant=1.0) -> dict:
    r"""The bounds in the limit :math:`\gamma \to 0`, their most generous value (without sympy).

    Theorem 3 :math:`c(1-\mu)^2/(\lambda_1\eta)`, Lemma 4 :math:`c(1-\mu)^2/((\lambda_1 + C_d)\sqrt\eta)`
    (NaN without C_d) and the introduction's :math:`c(1-\mu)^2/\sqrt\eta`: the expressions of
    :func:`delay_bound_symbolic` at gamma = 0, which the open interval of gamma excludes from
    :func:`tau_ode` / :func:`tau_sde`. Equal to ``float(expr.subs(...))`` of the symbolic bounds up
    to rounding (a few ulp: sympy rounds its own operations).

    Parameters
    ----------
    problem : Problem
    mu : float
        Momentum in [0, 1).
    eta : float
        Step size > 0.
    constant : float
        The unknown constant c > 0 in front of the bound.

    Returns
    -------
    dict
        ``{"theorem3", "lemma4", "introduction"}``, floats (delays in iterations, not rounded).
    """
    mu, eta, constant = _common(mu, eta, constant)
    lam1, C_d = float(problem.lambda_[0]), problem.C_d
    return {
        "theorem3": float(_NUMERIC["ode"](mu, eta, 0.0, lam1, 0.0, constant)),
        "lemma4": math.nan if C_d is None else float(_NUMERIC["sde"](mu, eta, 0.0, lam1, C_d, constant)),
        "introduction": float(_NUMERIC["introduction"](mu, eta, 0.0, 1.0, 0.0, constant)),
    }
