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

import sympy as sp

__all__ = [
    "eta",
    "mu",
    "tau",
    "t",
    "gamma",
    "delta",
    "epsilon",
    "nu",
    "phi",
    "C_d",
    "constant",
    "gap",
    "lambda_1",
    "lambda_2",
    "alpha_12",
    "z_nu",
    "lambdas",
    "h0_symbols",
    "u_symbols",
    "phi_inv",
]

eta = sp.Symbol("eta", positive=True)
mu = sp.Symbol("mu", nonnegative=True)
tau = sp.Symbol("tau", positive=True)
t = sp.Symbol("t", positive=True)
gamma = sp.Symbol("gamma", positive=True)
delta = sp.Symbol("delta", positive=True)
epsilon = sp.Symbol("epsilon", positive=True)
nu = sp.Symbol("nu", positive=True)
phi = sp.Symbol("phi", positive=True)
C_d = sp.Symbol("C_d", positive=True)
#: The unknown constant in front of every "tau <~ ..." delay condition.
constant = sp.Symbol("c", positive=True)
gap = sp.Symbol("g", positive=True)
lambda_1 = sp.Symbol("lambda_1", positive=True)
lambda_2 = sp.Symbol("lambda_2", positive=True)
alpha_12 = sp.Symbol("alpha_12", positive=True)
#: z_nu = Phi^{-1}((1 + nu) / 2), the two-sided standard normal quantile of Proposition 10.
z_nu = sp.Symbol("z_nu", positive=True)


def phi_inv(p):
    r"""Standard normal quantile :math:`\Phi^{-1}(p) = \sqrt{2}\,\mathrm{erfinv}(2p - 1)` (sympy)."""
    return sp.sqrt(2) * sp.erfinv(2 * p - 1)


@cache
def lambdas(d: int) -> tuple[sp.Symbol, ...]:
    """Positive eigenvalue symbols lambda_1..lambda_d (Assumption 1)."""
    return tuple(sp.Symbol(f"lambda_{i}", positive=True) for i in range(1, d + 1))


@cache
def h0_symbols(d: int) -> tuple[sp.Symbol, ...]:
    """Real initial-condition symbols H^(1)(0)..H^(d)(0) of ODE (7) in eigen-coordinates."""
    return tuple(sp.Symbol(f"H0_{i}", real=True) for i in range(1, d + 1))


@cache
def u_symbols(d: int) -> tuple[sp.Symbol, ...]:
    """Real symbols u_1..u_d of the rescaled process u = (h - e_j)/sqrt(eta)."""
    return tuple(sp.Symbol(f"u_{i}", real=True) for i in range(1, d + 1))
