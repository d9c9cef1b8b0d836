"""theory: what the paper claims, as sympy derivations with fast numeric twins.

Pure functions of a :class:`Problem` and the algorithm's parameters. Knows nothing about
simulation.
"""

from .distributions import Constants, Distribution, Gaussian, Rademacher, UserSampler, get_distribution
from .problem import PAPER_EIGENVALUES, Problem
from .sde import (
    OUCoefficients,
    ou_coefficients,
    ou_stationary_variance,
    ou_transition_mean,
    ou_transition_variance,
)

__all__ = [
    "Constants",
    "Distribution",
    "Gaussian",
    "Rademacher",
    "UserSampler",
    "get_distribution",
    "PAPER_EIGENVALUES",
    "Problem",
    "OUCoefficients",
    "ou_coefficients",
    "ou_stationary_variance",
    "ou_transition_mean",
    "ou_transition_variance",
]
