"""Argument validation shared by every package.

Each checker returns the validated (and normalised) value or raises a ``ValueError``
whose message starts with the parameter's name, so that the CLIs can print it as
their one-line error and the API user sees which argument was wrong.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = [
    "check_mu",
    "check_eta",
    "check_positive_float",
    "check_nonnegative_int",
    "check_positive_int",
    "check_probability",
    "check_eigenvalues",
    "check_basis",
    "check_seed",
    "MAX_SEED",
]

#: Root seeds are stored as int64 (netCDF attributes, zarr): the largest accepted is 2^63 - 1.
MAX_SEED = 2**63 - 1


def _is_real_number(x) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def check_mu(mu, name: str = "mu") -> float:
    """Momentum parameter of eq. (2)/(5): a real number in [0, 1).

    Parameters
    ----------
    mu : float
        The value to check.
    name : str
        Parameter name the ValueError message starts with.

    Returns
    -------
    float
        ``mu`` as a float.
    """
    if not _is_real_number(mu) or not math.isfinite(float(mu)):
        raise ValueError(f"{name} must be a finite real number in [0, 1), got {mu!r}")
    mu = float(mu)
    if not 0.0 <= mu < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {mu!r}")
    return mu


def check_eta(eta, name: str = "eta") -> float:
    """Step size of eq. (5): a finite real number > 0.

    Parameters
    ----------
    eta : float
        The value to check.
    name : str
        Parameter name the ValueError message starts with.

    Returns
    -------
    float
        ``eta`` as a float.
    """
    return check_positive_float(eta, name)


def check_positive_float(x, name: str) -> float:
    """A finite real number > 0.

    Parameters
    ----------
    x : float
        The value to check.
    name : str
        Parameter name the ValueError message starts with.

    Returns
    -------
    float
        ``x`` as a float.
    """
    if not _is_real_number(x) or not math.isfinite(float(x)):
        raise ValueError(f"{name} must be a finite real number > 0, got {x!r}")
    x = float(x)
    if x <= 0.0:
        raise ValueError(f"{name} must be > 0, got {x!r}")
    return x


def check_probability(p, name: str, *, open_interval: bool = True) -> float:
    """A probability-like parameter in (0, 1) (or [0, 1] if ``open_interval`` is False).

    Parameters
    ----------
    p : float
        The value to check.
    name : str
        Parameter name the ValueError message starts with.
    open_interval : bool
        Exclude the end points 0 and 1.

    Returns
    -------
    float
        ``p`` as a float.
    """
    if not _is_real_number(p) or not math.isfinite(float(p)):
        raise ValueError(f"{name} must be a finite real number in (0, 1), got {p!r}")
    p = float(p)
    if open_interval and not 0.0 < p < 1.0:
        raise ValueError(f"{name} must lie in (0, 1), got {p!r}")
    if not open_interval and not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {p!r}")
    return p


def check_nonnegative_int(n, name: str) -> int:
    """An integer >= 0 (an integral float such as 3.0 is accepted; bool is not).

    Parameters
    ----------
    n : int
        The value to check.
    name : str
        Parameter name the ValueError message starts with.

    Returns
    -------
    int
        ``n`` as an int.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        if _is_real_number(n) and math.isfinite(float(n)) and float(n).is_integer():
            n = int(n)
        else:
            raise ValueError(f"{name} must be a non-negative integer, got {n!r}")
    n = int(n)
    if n < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {n!r}")
    return n


def check_positive_int(n, name: str) -> int:
    """An integer >= 1 (same conventions as :func:`check_nonnegative_int`).

    Parameters
    ----------
    n : int
        The value to check.
    name : str
        Parameter name the ValueError message starts with.

    Returns
    -------
    int
        ``n`` as an int.
    """
    n = check_nonnegative_int(n, name)
    if n < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {n!r}")
    return n


def check_eigenvalues(eigenvalues: Sequence[float] | np.ndarray, name: str = "eigenvalues") -> np.ndarray:
    """Spectrum of Sigma under Assumption 1: lambda_1 > lambda_2 >= ... >= lambda_d > 0.

    Parameters
    ----------
    eigenvalues : array_like, shape (d,)
        The spectrum, non-increasing, d >= 2.
    name : str
        Parameter name the ValueError message starts with.

    Returns
    -------
    ndarray of shape (d,)
        float64 copy of the eigenvalues.
    """
    try:
        lam = np.asarray(eigenvalues, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a sequence of real numbers, got {eigenvalues!r}") from None
    if lam.ndim != 1 or lam.size < 2:
        raise ValueError(f"{name} must be a 1-d sequence of at least 2 numbers, got shape {lam.shape}")
    if not np.all(np.isfinite(lam)):
        raise ValueError(f"{name} must be finite, got {lam.tolist()}")
    if np.any(lam <= 0):
        raise ValueError(f"{name} must all be > 0 (Assumption 1), got {lam.tolist()}")
    if np.any(np.diff(lam) > 0):
        raise ValueError(f"{name} must be sorted in non-increasing order, got {lam.tolist()}")
    if not lam[0] > lam[1]:
        raise ValueError(f"{name} need an eigengap lambda_1 > lambda_2 (Assumption 1), got {lam.tolist()}")
    return lam


def check_basis(Q, d: int, name: str = "Q", atol: float = 1e-10) -> np.ndarray:
    """An orthonormal eigenbasis: Q of shape (d, d) with Q^T Q = I to ``atol``.

    Parameters
    ----------
    Q : array_like, shape (d, d)
        Columns are the eigenvectors.
    d : int
        Dimension (the number of eigenvalues).
    name : str
        Parameter name the ValueError message starts with.
    atol : float
        Tolerance on max |Q^T Q - I|.

    Returns
    -------
    ndarray of shape (d, d)
        float64 copy of Q.
    """
    try:
        Q = np.asarray(Q, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real (d, d) matrix") from None
    if Q.shape != (d, d):
        raise ValueError(f"{name} must have shape ({d}, {d}) to match the eigenvalues, got {Q.shape}")
    if not np.all(np.isfinite(Q)):
        raise ValueError(f"{name} must be finite")
    err = np.max(np.abs(Q.T @ Q - np.eye(d)))
    if err > atol:
        raise ValueError(f"{name} must be orthonormal (max |Q^T Q - I| = {err:.3g} > {atol:g})")
    return Q


def check_seed(seed, name: str = "seed") -> int:
    """A root seed: an integer in 0..:data:`MAX_SEED`.

    Parameters
    ----------
    seed : int
        The seed.
    name : str
        Name used in the message (``"--seed"``, ``"grid.seed"``).

    Returns
    -------
    int

    Raises
    ------
    ValueError
        Naming ``name``, if ``seed`` is negative, not an integer, or above :data:`MAX_SEED`.
    """
    seed = check_nonnegative_int(seed, name)
    if seed > MAX_SEED:
        raise ValueError(f"{name} must be at most 2^63 - 1 (seeds are stored as int64), got {seed}")
    return seed
