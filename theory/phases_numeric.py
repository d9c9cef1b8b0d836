r"""Numeric twins of :func:`theory.phases.phase_expressions`: the phase times and counts without sympy.

Every closed form of :mod:`theory.phases` (printed and derived T1, T2, T3 and N1, N2, N3,
:math:`\widehat N_3`, :math:`\widetilde N_3`) as a plain function of the twelve arguments of
:func:`theory.phases.phase_lambdified`,
``(lambda_1, lambda_2, mu, eta, delta, epsilon, phi, alpha_12, C_d, gamma, z_nu, c)``
(:math:`z_\nu = \Phi^{-1}((1+\nu)/2)`, c the delay constant; unused arguments are ignored).

Why: the derived forms come out of ``sympy.solve`` and ``simplify`` (:func:`theory.phases.
phase_derivations`), which with ``lambdify`` cost seconds in the first call of every process
(one ``python -m compare speedup`` paid them before its first cell). The derivations stay the
proofs; this module is what the numbers are computed with.

Each body is the expression exactly as sympy's printer writes the derived (or printed) form,
only renamed, so the operations and their order are the lambdified function's and the values
are bit for bit those of :func:`theory.phases.phase_lambdified` (``log`` is ``numpy.log`` there
too: a negative argument gives NaN, not an exception). tests/theory/test_phases_numeric.py
checks every twin against the live sympy derivation. Readable forms, with the paper's notation,
are in :mod:`theory.phases`' docstring; e.g. ``T2_derived`` below is
:math:`\frac{1-\mu}{\lambda_1-\lambda_2}\log\frac{1-\delta^2}{\delta^2}`.
"""

from __future__ import annotations

from numpy import log

__all__ = ["PHASE_NUMERIC"]

# The printed forms (Propositions 6, 8, 10, Remark 7).


def _T1_paper(lambda_1, lambda_2, mu, eta, delta, epsilon, phi, alpha_12, C_d, gamma, z_nu, c):
    return (
        (1 - mu)
        * log(1 + delta**2 * (2 - 2 * mu) * (lambda_1 - lambda_2) / (alpha_12**2 * eta * z_nu**2))
        / (2 * lambda_1 - 2 * lambda_2)
    )


def _T2_paper(lambda_1, lambda_2, mu, eta, delta, epsilon, phi, alpha_12, C_d, gamma, z_nu, c):
    return (1 - mu) * log((1 - delta**2) / delta**2) / (2 * lambda_1 - 2 * lambda_2)


def _T3_paper(lambda_1, lambda_2, mu, eta, delta, epsilon, phi, alpha_12, C_d, gamma, z_nu, c):
    return (
        (1 - mu)
        * log(
            delta**2
            * (1 - mu)
            * (lambda_1 - lambda_2)
            / (epsilon * (1 - mu) * (lambda_1 - lambda_2) - 2 * eta * phi)
        )
        / (2 * lambda_1 - 2 * lambda_2)
    )


def _N1_paper(lambda_1, lambda_2, mu, eta, delta, epsilon, phi, alpha_12, C_d, gamma, z_nu, c):
    return (
        epsilon ** (-gamma - 1 / 2)
        * phi ** (gamma + 1 / 2)
        * (C_d + lambda_1)
        * (lambda_1 - lambda_2) ** (-gamma - 3 / 2)
        * log(1 + delta**2 * (2 - 2 * mu) * (lambda_1 - lambda_2) / (alpha_12**2 * eta * z_nu**2))
        / (2 - 2 * mu)
    )


def _N2_paper(lambda_1, lambda_2, mu, eta, delta, epsilon, phi, alpha_12, C_d, gamma, z_nu, c):
    return (
        epsilon ** (-gamma)
        * lambda_1
        * phi**gamma
        * (lambda_1 - lambda_2) ** (-gamma - 1)
        * log((1 - delta**2) / delta**2)
        / (2 - 2 * mu)
    )


def _N3_paper(lambda_1, lambda_2, mu, eta, delta, epsilon, phi, alpha_12, C_d, gamma, z_nu, c):
    return (
        epsilon ** (-gamma - 1 / 2)
        * phi ** (gamma + 1 / 2)
        * ((1 - mu) * (lambda_1 - lambda_2)) ** (-gamma - 3 / 2)
        * (C_d + lambda_1)
        * log(
            delta**2
            * (1 - mu)
            * (lambda_1 - lambda_2)
            / (epsilon * (1 - mu) * (lambda_1 - lambda_2) - 2 * eta * phi)
        )
    )


def _Nhat3_paper(lambda_1, lambda_2, mu, eta, delta, epsilon, phi, alpha_12, C_d, gamma, z_nu, c):
    return (
        epsilon ** (-gamma - 1 / 2)
        * phi ** (gamma + 1 / 2)
        * (C_d + lambda_1)
        * (lambda_1 - lambda_2) ** (-gamma - 3 / 2)
        * log(delta**2 * (lambda_1 - lambda_2) / (epsilon * (lambda_1 - lambda_2) - 2 * eta * phi))
    )


def _Ntilde3_paper(lambda_1, lambda_2, mu, eta, delta, epsilon, phi, alpha_12, C_d, gamma, z_nu, c):
    return (
        phi
        * log(delta**2 * (lambda_1 - lambda_2) / (epsilon * (lambda_1 - lambda_2) - 2 * eta * phi))
        / (epsilon * (lambda_1 - lambda_2) ** 2)
    )


# The derived forms (theory.phases.phase_derivations; the counts divide by the delay bounds of
# theory.delays, SDE regime for N1, N3, Nhat3 and ODE regime for N2).


def _T1_derived(lambda_1, lambda_2, mu, eta, delta, epsilon, phi, alpha_12, C_d, gamma, z_nu, c):
    return (
        -(mu - 1)
        * log(
            (alpha_12**2 * eta * z_nu**2 - 2 * delta**2 * (lambda_1 - lambda_2) * (mu - 1))
            / (alpha_12**2 * eta * z_nu**2)
        )
        / (2 * lambda_1 - 2 * lambda_2)
    )


def _T2_derived(lambda_1, lambda_2, mu, eta, delta, epsilon, phi, alpha_12, C_d, gamma, z_nu, c):
    return (-mu * log(1 - delta**2) + (2 * mu - 2) * log(delta) + log(1 - delta**2)) / (lambda_1 - lambda_2)


def _T3_log(lambda_1, lambda_2, mu, eta, delta, epsilon, phi):
    """The log of the derived T3 (and of N3, Ntilde3): Markov's epsilon/4 against the eq. (8) bound."""
    return log(
        (1 / 4)
        * (epsilon * (lambda_1 - lambda_2) * (mu - 1) + 2 * eta * phi)
        / (delta**2 * (lambda_1 - lambda_2) * (mu - 1))
    )


def _T3_derived(lambda_1, lambda_2, mu, eta, delta, epsilon, phi, alpha_12, C_d, gamma, z_nu, c):
    return (
        (1 / 2) * (mu - 1) * _T3_log(lambda_1, lambda_2, mu, eta, delta, epsilon, phi) / (lambda_1 - lambda_2)
    )


def _N1_derived(lambda_1, lambda_2, mu, eta, delta, epsilon, phi, alpha_12, C_d, gamma, z_nu, c):
    return (
        -(eta ** (1 / 2 - gamma))
        * (C_d + lambda_1)
        * (mu - 1)
        * log(
            (alpha_12**2 * eta * z_nu**2 - 2 * delta**2 * (lambda_1 - lambda_2) * (mu - 1))
            / (alpha_12**2 * eta * z_nu**2)
        )
        / (c * eta * (1 - mu) ** 2 * (2 * lambda_1 - 2 * lambda_2))
    )


def _N2_derived(lambda_1, lambda_2, mu, eta, delta, epsilon, phi, alpha_12, C_d, gamma, z_nu, c):
    return (
        eta ** (1 - gamma)
        * lambda_1
        * (-mu * log(1 - delta**2) + (2 * mu - 2) * log(delta) + log(1 - delta**2))
        / (c * eta * (1 - mu) ** 2 * (lambda_1 - lambda_2))
    )


def _N3_derived(lambda_1, lambda_2, mu, eta, delta, epsilon, phi, alpha_12, C_d, gamma, z_nu, c):
    return (
        (1 / 2)
        * eta ** (1 / 2 - gamma)
        * (C_d + lambda_1)
        * (mu - 1)
        * _T3_log(lambda_1, lambda_2, mu, eta, delta, epsilon, phi)
        / (c * eta * (1 - mu) ** 2 * (lambda_1 - lambda_2))
    )


def _Nhat3_derived(lambda_1, lambda_2, mu, eta, delta, epsilon, phi, alpha_12, C_d, gamma, z_nu, c):
    return (
        -1
        / 2
        * eta ** (1 / 2 - gamma)
        * (C_d + lambda_1)
        * log(
            -1 / 4 * (-epsilon * (lambda_1 - lambda_2) + 2 * eta * phi) / (delta**2 * (lambda_1 - lambda_2))
        )
        / (c * eta * (lambda_1 - lambda_2))
    )


def _Ntilde3_derived(lambda_1, lambda_2, mu, eta, delta, epsilon, phi, alpha_12, C_d, gamma, z_nu, c):
    return (
        (1 / 2)
        * (mu - 1)
        * _T3_log(lambda_1, lambda_2, mu, eta, delta, epsilon, phi)
        / (eta * (lambda_1 - lambda_2))
    )


#: name (a key of theory.phases.phase_expressions) -> its numeric twin.
PHASE_NUMERIC = {
    "T1_paper": _T1_paper,
    "T2_paper": _T2_paper,
    "T3_paper": _T3_paper,
    "N1_paper": _N1_paper,
    "N2_paper": _N2_paper,
    "N3_paper": _N3_paper,
    "Nhat3_paper": _Nhat3_paper,
    "Ntilde3_paper": _Ntilde3_paper,
    "T1_derived": _T1_derived,
    "T2_derived": _T2_derived,
    "T3_derived": _T3_derived,
    "N1_derived": _N1_derived,
    "N2_derived": _N2_derived,
    "N3_derived": _N3_derived,
    "Nhat3_derived": _Nhat3_derived,
    "Ntilde3_derived": _Ntilde3_derived,
}
