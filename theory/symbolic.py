r"""Shared sympy symbols, named as in the paper, with the assumptions the derivations use.

Every symbolic derivation in :mod:`theory` builds on these symbols so that expressions
from different modules combine (``T1 / (tau * eta)`` etc.). Assumptions:

* ``eta, t, delta, epsilon, phi, C_d, constant, gamma`` are positive;
* ``mu`` is non-negative (the paper's :math:`\mu \in [0, 1)`; the upper bound cannot be
  stated as a sympy assumption, so derivations that need :math:`|\mu| < 1` say so);
* ``nu`` is positive (:math:`\nu \in (0, 1)`, Proposition 10);
* eigenvalues :math:`\lambda_1, \dots, \lambda_d` are positive (Assumption 1);
* ``gap`` is :math:`\lambda_1 - \lambda_2 > 0`, used where a result depends on the
  spectrum only through the eigengap.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sympy as sp


#: Every shared symbol: attribute name -> (sympy name, assumptions). They are made on first use
#: (module ``__getattr__``), so that importing this module, and the numeric functions of the
#: modules built on it, does not import sympy. ``constant`` is the unknown constant in front of
#: every "tau <~ ..." delay condition; ``z_nu`` is :math:`\Phi^{-1}((1 + \nu)/2)`, the two-sided
#: standard normal quantile of Proposition 10.
SYMBOLS = {
    "eta": ("eta", {"positive": True}),
    "mu": ("mu", {"nonnegative": True}),
    "tau": ("tau", {"positive": True}),
    "t": ("t", {"positive": True}),
    "gamma": ("gamma", {"positive": True}),
    "delta": ("delta", {"positive": True}),
    "epsilon": ("epsilon", {"positive": True}),
    "nu": ("nu", {"positive": True}),
    "phi": ("phi", {"positive": True}),
    "C_d": ("C_d", {"positive": True}),
    "constant": ("c", {"positive": True}),
    "gap": ("g", {"positive": True}),
    "lambda_1": ("lambda_1", {"positive": True}),
    "lambda_2": ("lambda_2", {"positive": True}),
    "alpha_12": ("alpha_12", {"positive": True}),
    "z_nu": ("z_nu", {"positive": True}),
}


__all__ = [*SYMBOLS, "lambdas", "h0_symbols", "u_symbols", "phi_inv"]


def __getattr__(name: str):
    """The shared symbol ``name`` (made once, then a plain module attribute)."""
    if name not in SYMBOLS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import sympy as sp

    sym_name, assumptions = SYMBOLS[name]
    globals()[name] = symbol = sp.Symbol(sym_name, **assumptions)
    return symbol


def __dir__() -> list[str]:
    return sorted({*globals(), *SYMBOLS})


def phi_inv(p):
    r"""Standard normal quantile :math:`\Phi^{-1}(p) = \sqrt{2}\,\mathrm{erfinv}(2p - 1)` (sympy).

    Parameters
    ----------
    p : sympy.Expr or float
        Probability in (0, 1) (the delta of Theorem 6).

    Returns
    -------
    sympy.Expr
    """
    import sympy as sp

    return sp.sqrt(2) * sp.erfinv(2 * p - 1)


@cache
def lambdas(d: int) -> tuple[sp.Symbol, ...]:
    """Positive eigenvalue symbols lambda_1..lambda_d (Assumption 1).

    Parameters
    ----------
    d : int
        Dimension.

    Returns
    -------
    tuple of sympy.Symbol, length d
    """
    import sympy as sp

    return tuple(sp.Symbol(f"lambda_{i}", positive=True) for i in range(1, d + 1))


@cache
def h0_symbols(d: int) -> tuple[sp.Symbol, ...]:
    """Real initial-condition symbols H^(1)(0)..H^(d)(0) of ODE (7) in eigen-coordinates.

    Parameters
    ----------
    d : int
        Dimension.

    Returns
    -------
    tuple of sympy.Symbol, length d
    """
    import sympy as sp

    return tuple(sp.Symbol(f"H0_{i}", real=True) for i in range(1, d + 1))


@cache
def u_symbols(d: int) -> tuple[sp.Symbol, ...]:
    """Real symbols u_1..u_d of the rescaled process u = (h - e_j)/sqrt(eta).

    Parameters
    ----------
    d : int
        Dimension.

    Returns
    -------
    tuple of sympy.Symbol, length d
    """
    import sympy as sp

    return tuple(sp.Symbol(f"u_{i}", real=True) for i in range(1, d + 1))
