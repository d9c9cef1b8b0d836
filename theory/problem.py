r"""The streaming PCA problem of eq. (4): the shared currency of every package.

.. math::

    \max_v\; v^\top E_{X\sim D}[X X^\top] v \quad \text{s.t.}\quad v^\top v = 1,
    \qquad \Sigma = E[XX^\top] = Q \Lambda Q^\top,

with Assumption 1 (:math:`\lambda_1 > \lambda_2 \ge \dots \ge \lambda_d > 0`). A
:class:`Problem` is validated once, where it is built, and then passed everywhere; no
other module re-parses eigenvalues.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .distributions import Constants, Distribution, get_distribution
from .validation import check_basis, check_eigenvalues

__all__ = ["Problem", "PAPER_EIGENVALUES"]

#: Section 4.1: Sigma = diag(4, 3, 2, 1).
PAPER_EIGENVALUES = (4.0, 3.0, 2.0, 1.0)


@dataclass(frozen=True, eq=False)
class Problem:
    """Streaming PCA problem: spectrum, eigenbasis and data distribution.

    Parameters
    ----------
    eigenvalues : sequence of float, length d >= 2
        lambda_1 > lambda_2 >= ... >= lambda_d > 0 (Assumption 1).
    Q : ndarray, shape (d, d), optional
        Orthonormal eigenbasis (columns are v^1..v^d); identity by default.
    dist : str, Distribution or callable
        'gaussian', 'rademacher', a :class:`~theory.distributions.Distribution`, or a
        sampler ``(rng, n) -> X`` of shape (n, d).

    Raises
    ------
    ValueError
        Naming ``eigenvalues``, ``Q`` or ``dist``.
    """

    eigenvalues: np.ndarray
    Q: np.ndarray | None = None
    dist: Distribution | str = "gaussian"

    def __post_init__(self):
        lam = check_eigenvalues(self.eigenvalues)
        lam.setflags(write=False)
        Q = np.eye(lam.size) if self.Q is None else check_basis(self.Q, lam.size)
        Q = np.array(Q, dtype=float)
        Q.setflags(write=False)
        object.__setattr__(self, "eigenvalues", lam)
        object.__setattr__(self, "Q", Q)
        object.__setattr__(self, "dist", get_distribution(self.dist))

    # -- constructors -----------------------------------------------------------------
    @classmethod
    def paper(cls, dist: Distribution | str = "gaussian") -> Problem:
        """Section 4.1: d = 4, Sigma = diag(4, 3, 2, 1).

        Parameters
        ----------
        dist : str or Distribution
            The data distribution (default Gaussian).

        Returns
        -------
        Problem
        """
        return cls(PAPER_EIGENVALUES, dist=dist)

    # -- derived quantities -----------------------------------------------------------
    @property
    def lambda_(self) -> np.ndarray:
        """Eigenvalues, shape (d,) (alias following the paper's notation)."""
        return self.eigenvalues

    @property
    def d(self) -> int:
        """Dimension d of the data (number of eigenvalues)."""
        return int(self.eigenvalues.size)

    @property
    def eigengap(self) -> float:
        """lambda_1 - lambda_2 > 0."""
        return float(self.eigenvalues[0] - self.eigenvalues[1])

    @cached_property
    def Sigma(self) -> np.ndarray:
        """Covariance Q diag(lambda) Q^T, shape (d, d)."""
        return (self.Q * self.eigenvalues) @ self.Q.T

    @cached_property
    def constants(self) -> Constants:
        """C_d, alpha_ij, phi for this spectrum and distribution (see theory.distributions)."""
        return self.dist.constants(self.eigenvalues, self.Q)

    @property
    def alpha(self) -> np.ndarray:
        """alpha_ij = sqrt(E[Y_i^2 Y_j^2]) of Theorem 5, shape (d, d) (0-based)."""
        return self.constants.alpha

    @property
    def phi(self) -> float:
        """phi = sum_i alpha_1i^2, as printed before Proposition 6."""
        return self.constants.phi

    @property
    def C_d(self) -> float | None:
        """Bound on ||X|| of Assumption 2; None when the distribution is unbounded (Gaussian)."""
        return self.constants.C_d

    @property
    def optimum(self) -> np.ndarray:
        """v^1 = Q e_1 (up to sign), shape (d,)."""
        return np.array(self.Q[:, 0])

    def eigenvector(self, j: int) -> np.ndarray:
        """v^j = Q e_j for the paper's 1-based index j.

        Parameters
        ----------
        j : int
            1..d.

        Returns
        -------
        ndarray, shape (d,)

        Raises
        ------
        ValueError
            Naming ``j``.
        """
        if not 1 <= j <= self.d:
            raise ValueError(f"j must be in 1..{self.d}, got {j}")
        return np.array(self.Q[:, j - 1])

    def to_eigen(self, v: np.ndarray) -> np.ndarray:
        """h = Q^T v along the last axis (eigen-coordinates).

        Parameters
        ----------
        v : array_like, shape (..., d)

        Returns
        -------
        ndarray, shape (..., d)
        """
        return np.asarray(v) @ self.Q

    def from_eigen(self, h: np.ndarray) -> np.ndarray:
        """v = Q h along the last axis (back from eigen-coordinates).

        Parameters
        ----------
        h : array_like, shape (..., d)

        Returns
        -------
        ndarray, shape (..., d)
        """
        return np.asarray(h) @ self.Q.T

    # -- identity ---------------------------------------------------------------------
    def describe(self) -> dict:
        """A JSON-serialisable description (used in verdicts and for content keys).

        Returns
        -------
        dict
            ``eigenvalues`` (list), ``Q_is_identity`` (bool), ``dist`` (name).
        """
        return {
            "eigenvalues": self.eigenvalues.tolist(),
            "Q_is_identity": bool(np.array_equal(self.Q, np.eye(self.d))),
            "dist": self.dist.name,
        }

    def key(self) -> str:
        """A content hash identifying the problem (spectrum, basis bytes, distribution).

        Returns
        -------
        str
            16 hex digits (blake2b, 8 bytes).
        """
        h = hashlib.blake2b(digest_size=8)
        h.update(json.dumps(self.describe(), sort_keys=True).encode())
        h.update(np.ascontiguousarray(self.Q).tobytes())
        return h.hexdigest()

    def __eq__(self, other) -> bool:
        if not isinstance(other, Problem):
            return NotImplemented
        return (
            np.array_equal(self.eigenvalues, other.eigenvalues)
            and np.array_equal(self.Q, other.Q)
            and self.dist == other.dist
        )

    def __hash__(self) -> int:
        return hash(self.key())

    def __repr__(self) -> str:
        q = "" if self.describe()["Q_is_identity"] else ", Q=<rotated>"
        return f"Problem(eigenvalues={self.eigenvalues.tolist()}{q}, dist={self.dist.name!r})"
