"""Named, bounded hypothesis strategies for the theory tests (other test packages may import them).

Every strategy documents its bounds and why; none produces unbounded floats. The bounds keep
the quantities in the regime the paper's formulas address (positive spectrum with a gap,
mu in [0, 0.99], small eta) and away from float overflow in exp(lambda t / (1 - mu)).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

__all__ = [
    "LAMBDA_MIN",
    "LAMBDA_MAX",
    "GAP_MIN",
    "MU_MAX",
    "spectra",
    "momenta",
    "step_sizes",
    "deltas",
    "nus",
    "gammas_sde",
    "gammas_ode",
    "unit_vectors",
]

#: Eigenvalues in [0.1, 10]: two decades, the paper's Sigma = diag(4, 3, 2, 1) is inside.
LAMBDA_MIN, LAMBDA_MAX = 0.1, 10.0
#: Smallest eigengap lambda_1 - lambda_2 (Assumption 1 needs > 0; 0.05 keeps 1/gap <= 20).
GAP_MIN = 0.05
#: Largest momentum: the issue's "mu in [0, 0.99]" (1 - mu >= 0.01 keeps 1/(1-mu) <= 100).
MU_MAX = 0.99


def _finite(lo, hi):
    return st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)


@st.composite
def spectra(draw, min_d: int = 2, max_d: int = 6) -> np.ndarray:
    """Eigenvalues lambda_1 > lambda_2 >= ... >= lambda_d in [LAMBDA_MIN, LAMBDA_MAX], gap >= GAP_MIN.

    Returns a float ndarray of shape (d,), d in [min_d, max_d].
    """
    d = draw(st.integers(min_value=min_d, max_value=max_d))
    rest = sorted(
        draw(st.lists(_finite(LAMBDA_MIN, LAMBDA_MAX - GAP_MIN), min_size=d - 1, max_size=d - 1)),
        reverse=True,
    )
    gap = draw(_finite(GAP_MIN, LAMBDA_MAX - rest[0]))
    return np.array([rest[0] + gap, *rest])


def momenta() -> st.SearchStrategy[float]:
    """mu in [0, MU_MAX] (eq. (2): mu in [0, 1))."""
    return _finite(0.0, MU_MAX)


def step_sizes() -> st.SearchStrategy[float]:
    """Small eta, log-uniform in [1e-6, 1e-2] (the diffusion limit is eta -> 0; the paper uses 5e-4)."""
    return st.floats(min_value=-6.0, max_value=-2.0).map(lambda x: float(10.0**x))


def deltas() -> st.SearchStrategy[float]:
    """delta in [1e-3, 0.5]: a neighbourhood radius (delta ~ sqrt(eta) in Props 6, 8, 10), < 1/sqrt(2)."""
    return _finite(1e-3, 0.5)


def nus() -> st.SearchStrategy[float]:
    """nu in [0.01, 0.99] (Prop. 10: nu in (0, 1), away from the degenerate ends)."""
    return _finite(0.01, 0.99)


def gammas_sde() -> st.SearchStrategy[float]:
    """gamma in [0.01, 0.5] (Lemma 4, Theorems 5 and 9: gamma in (0, 0.5])."""
    return _finite(0.01, 0.5)


def gammas_ode() -> st.SearchStrategy[float]:
    """gamma in [0.01, 1] (Lemma 1, Theorem 3: gamma in (0, 1])."""
    return _finite(0.01, 1.0)


@st.composite
def unit_vectors(draw, d: int, min_first: float = 0.05) -> np.ndarray:
    """A unit vector of shape (d,) with |h_1| >= min_first (so H(t) -> +-e_1 under ODE (7)).

    Entries are drawn in [-1, 1] and normalised; the first is forced to magnitude
    >= min_first before normalisation, which after normalisation leaves |h_1| >= min_first/sqrt(d).
    """
    rest = draw(st.lists(_finite(-1.0, 1.0), min_size=d - 1, max_size=d - 1))
    first = draw(_finite(min_first, 1.0)) * draw(st.sampled_from([-1.0, 1.0]))
    h = np.array([first, *rest])
    return h / np.linalg.norm(h)
