r"""Data distributions D of eq. (4) and the constants the paper takes from them.

Every distribution is described in the eigen-coordinates of Sigma,
:math:`Y = Q^\top X`, where :math:`E[Y Y^\top] = \Lambda = \mathrm{diag}(\lambda)`.
The paper's constants are

* :math:`C_d`, a bound :math:`\|X\| \le C_d` (Assumption 2); ``None`` when D is unbounded;
* :math:`\alpha_{ij} = \sqrt{E[(Y^{(i)})^2 (Y^{(j)})^2]}` (Theorem 5);
* :math:`\phi = \sum_i \alpha_{1,i}^2` (before Proposition 6), the sum as printed,
  over every i including i = 1.

Built-in distributions (exact constants):

``Gaussian``
    :math:`Y = \Lambda^{1/2} z`, :math:`z \sim N(0, I)`: :math:`E[Y_i^2 Y_j^2] =
    \lambda_i \lambda_j (1 + 2\delta_{ij})`; unbounded, so Assumption 2 fails and
    :math:`C_d` does not exist.
``Rademacher``
    :math:`Y = \Lambda^{1/2} \xi`, :math:`\xi_i = \pm 1` i.i.d. (so :math:`X = Q\Lambda^{1/2}\xi`,
    which is :math:`\Sigma^{1/2}\xi` when Q = I): :math:`E[Y_i^2 Y_j^2] = \lambda_i\lambda_j`
    and :math:`\|X\|^2 = \mathrm{tr}\,\Sigma` for every draw, so :math:`C_d =
    \sqrt{\mathrm{tr}\,\Sigma}` exactly.
``UserSampler``
    any callable ``sampler(rng, n) -> ndarray (n, d)`` of X in the original coordinates;
    constants by Monte Carlo (with standard errors), :math:`C_d` as the largest norm seen
    and flagged as an estimate.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # sympy is imported only by the symbolic moments (start-up time, issue 10)
    import sympy as sp

__all__ = [
    "Distribution",
    "Gaussian",
    "Rademacher",
    "UserSampler",
    "Constants",
    "get_distribution",
    "DISTRIBUTIONS",
]


@dataclass(frozen=True)
class Constants:
    """The paper's data constants for one problem.

    Attributes
    ----------
    C_d : float or None
        Bound on ||X|| (Assumption 2); None if the distribution is unbounded.
    alpha : ndarray, shape (d, d)
        alpha[i, j] = sqrt(E[Y_i^2 Y_j^2]) (0-based indices; the paper's alpha_{i+1, j+1}).
    phi : float
        sum_i alpha[0, i]^2, as printed before Proposition 6 (i = 1 included).
    exact : bool
        True for closed forms, False for Monte Carlo estimates.
    C_d_note : str
        Why C_d is what it is (exact, unbounded, or empirical max).
    alpha_se : ndarray or None
        Standard errors of alpha when estimated by Monte Carlo.
    """

    C_d: float | None
    alpha: np.ndarray
    phi: float
    exact: bool
    C_d_note: str
    alpha_se: np.ndarray | None = field(default=None)

    def as_dict(self) -> dict:
        """The constants as JSON-serialisable Python (arrays as nested lists).

        Returns
        -------
        dict
            ``C_d, C_d_note, alpha, phi, exact`` (and ``alpha_se`` for Monte Carlo estimates).
        """
        out = {
            "C_d": self.C_d,
            "C_d_note": self.C_d_note,
            "alpha": self.alpha.tolist(),
            "phi": float(self.phi),
            "exact": self.exact,
        }
        if self.alpha_se is not None:
            out["alpha_se"] = self.alpha_se.tolist()
        return out


class Distribution(ABC):
    """A zero-mean data distribution with covariance Sigma = Q diag(lambda_) Q^T.

    Implementers provide :meth:`sample_y` (draws in eigen-coordinates) and
    :meth:`constants`. Draws must consume the generator sequentially so that drawing
    n1 then n2 rows gives the same numbers as drawing n1 + n2 rows (the simulators
    rely on this to make results independent of chunking).
    """

    name: str = "distribution"

    @abstractmethod
    def sample_y(self, rng: np.random.Generator, n: int, lambda_: np.ndarray, Q: np.ndarray) -> np.ndarray:
        """Draw Y = Q^T X, the data of eq. (4) in eigen-coordinates.

        Parameters
        ----------
        rng : numpy.random.Generator
            Consumed sequentially (chunked draws concatenate exactly).
        n : int
            Number of draws.
        lambda_ : ndarray, shape (d,)
            Eigenvalues of Sigma.
        Q : ndarray, shape (d, d)
            Orthonormal eigenbasis.

        Returns
        -------
        ndarray, shape (n, d)
            Rows with E[Y Y^T] = diag(lambda_).
        """

    @abstractmethod
    def constants(self, lambda_: np.ndarray, Q: np.ndarray) -> Constants:
        """The constants C_d (Assumption 2), alpha (Theorem 5) and phi (before Proposition 6).

        Parameters
        ----------
        lambda_ : ndarray, shape (d,)
            Eigenvalues of Sigma.
        Q : ndarray, shape (d, d)
            Orthonormal eigenbasis.

        Returns
        -------
        Constants
        """

    def fourth_moments_symbolic(self, lambda_symbols) -> sp.Matrix | None:
        """E[Y_i^2 Y_j^2] as a sympy Matrix in the eigenvalue symbols, or None if not known.

        Parameters
        ----------
        lambda_symbols : sequence of sympy.Symbol, length d
            lambda_1..lambda_d (:func:`theory.symbolic.lambdas`).

        Returns
        -------
        sympy.Matrix, shape (d, d), or None
            None for this base class (no closed form known).
        """
        return None

    def sample_x(self, rng: np.random.Generator, n: int, lambda_: np.ndarray, Q: np.ndarray) -> np.ndarray:
        """Draw X = Q Y in the original coordinates.

        Parameters
        ----------
        rng : numpy.random.Generator
            Consumed as by :meth:`sample_y`.
        n : int
            Number of draws.
        lambda_ : ndarray, shape (d,)
            Eigenvalues of Sigma.
        Q : ndarray, shape (d, d)
            Orthonormal eigenbasis.

        Returns
        -------
        ndarray, shape (n, d)
            Rows with E[X X^T] = Sigma = Q diag(lambda_) Q^T.
        """
        return self.sample_y(rng, n, lambda_, Q) @ Q.T

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other) -> bool:
        return type(self) is type(other)

    def __hash__(self) -> int:
        return hash(type(self).__name__)


class Gaussian(Distribution):
    """X ~ N(0, Sigma): Y = Lambda^(1/2) z with z ~ N(0, I). Unbounded (no C_d)."""

    name = "gaussian"

    def sample_y(self, rng, n, lambda_, Q):
        """Y = Lambda^(1/2) z, z ~ N(0, I) (``rng.standard_normal``).

        Parameters
        ----------
        rng : numpy.random.Generator
            Consumed sequentially (chunked draws concatenate exactly).
        n : int
            Number of draws.
        lambda_ : ndarray, shape (d,)
            Eigenvalues of Sigma.
        Q : ndarray, shape (d, d)
            Orthonormal eigenbasis (unused: Y is drawn in eigen-coordinates).

        Returns
        -------
        ndarray, shape (n, d)
            Gaussian rows.
        """
        return rng.standard_normal((n, lambda_.size)) * np.sqrt(lambda_)

    def fourth_moments_symbolic(self, lambda_symbols):
        """E[Y_i^2 Y_j^2] = lambda_i lambda_j (1 + 2 delta_ij) (Gaussian fourth moments).

        Parameters
        ----------
        lambda_symbols : sequence of sympy.Symbol, length d
            lambda_1..lambda_d.

        Returns
        -------
        sympy.Matrix, shape (d, d)
            3 lambda_i^2 on the diagonal, lambda_i lambda_j off it.
        """
        import sympy as sp

        d = len(lambda_symbols)
        return sp.Matrix(
            d, d, lambda i, j: lambda_symbols[i] * lambda_symbols[j] * (3 if i == j else 1)
        )

    def constants(self, lambda_, Q):
        """Exact: alpha_ij = sqrt(lambda_i lambda_j (1 + 2 delta_ij)); no C_d (unbounded).

        Parameters
        ----------
        lambda_ : ndarray, shape (d,)
            Eigenvalues of Sigma.
        Q : ndarray, shape (d, d)
            Orthonormal eigenbasis (unused).

        Returns
        -------
        Constants
            ``C_d`` None, ``exact`` True.
        """
        m4 = np.outer(lambda_, lambda_) * (1.0 + 2.0 * np.eye(lambda_.size))
        alpha = np.sqrt(m4)
        return Constants(
            C_d=None,
            alpha=alpha,
            phi=float(np.sum(alpha[0] ** 2)),
            exact=True,
            C_d_note="does not exist: the Gaussian is unbounded, so Assumption 2 fails",
        )


class Rademacher(Distribution):
    """X = Q Lambda^(1/2) xi with xi_i = +-1 i.i.d.: bounded, ||X|| = sqrt(tr Sigma) always."""

    name = "rademacher"

    def sample_y(self, rng, n, lambda_, Q):
        """Y = Lambda^(1/2) xi, xi_i = +-1 with probability 1/2 each (one ``rng.random`` double per entry).

        Parameters
        ----------
        rng : numpy.random.Generator
            Consumed sequentially (chunked draws concatenate exactly).
        n : int
            Number of draws.
        lambda_ : ndarray, shape (d,)
            Eigenvalues of Sigma.
        Q : ndarray, shape (d, d)
            Orthonormal eigenbasis (unused: Y is drawn in eigen-coordinates).

        Returns
        -------
        ndarray, shape (n, d)
            Rows of +-sqrt(lambda_i).
        """
        # random() consumes one double per entry, so chunked draws concatenate exactly.
        xi = np.where(rng.random((n, lambda_.size)) < 0.5, -1.0, 1.0)
        return xi * np.sqrt(lambda_)

    def fourth_moments_symbolic(self, lambda_symbols):
        """E[Y_i^2 Y_j^2] = lambda_i lambda_j (xi_i^2 = 1 for every draw).

        Parameters
        ----------
        lambda_symbols : sequence of sympy.Symbol, length d
            lambda_1..lambda_d.

        Returns
        -------
        sympy.Matrix, shape (d, d)
            lambda_i lambda_j.
        """
        import sympy as sp

        d = len(lambda_symbols)
        return sp.Matrix(d, d, lambda i, j: lambda_symbols[i] * lambda_symbols[j])

    def constants(self, lambda_, Q):
        """Exact: alpha_ij = sqrt(lambda_i lambda_j), C_d = sqrt(tr Sigma) (||X||^2 = tr Sigma always).

        Parameters
        ----------
        lambda_ : ndarray, shape (d,)
            Eigenvalues of Sigma.
        Q : ndarray, shape (d, d)
            Orthonormal eigenbasis (unused).

        Returns
        -------
        Constants
            ``exact`` True.
        """
        alpha = np.sqrt(np.outer(lambda_, lambda_))
        return Constants(
            C_d=float(np.sqrt(np.sum(lambda_))),
            alpha=alpha,
            phi=float(np.sum(alpha[0] ** 2)),
            exact=True,
            C_d_note="exact: ||X||^2 = tr(Sigma) for every draw",
        )


class UserSampler(Distribution):
    """A user-supplied sampler of X in the original coordinates.

    Parameters
    ----------
    sampler : callable ``(rng: numpy.random.Generator, n: int) -> ndarray (n, d)``
        Must draw zero-mean X with covariance Sigma = Q diag(lambda_) Q^T.
    n_mc : int
        Monte Carlo sample size for the constants.
    seed : int
        Seed of the Monte Carlo estimate of the constants.
    name : str
        Label used in outputs.
    """

    def __init__(self, sampler: Callable, n_mc: int = 200_000, seed: int = 0, name: str = "user"):
        if not callable(sampler):
            raise ValueError("sampler must be callable as sampler(rng, n) -> array (n, d)")
        self.sampler = sampler
        self.n_mc = int(n_mc)
        self.seed = int(seed)
        self.name = name

    def sample_x(self, rng, n, lambda_, Q):
        """The user's sampler's draws of X, shape-checked.

        Parameters
        ----------
        rng : numpy.random.Generator
            Passed to the sampler.
        n : int
            Number of draws.
        lambda_ : ndarray, shape (d,)
            Eigenvalues of Sigma.
        Q : ndarray, shape (d, d)
            Orthonormal eigenbasis (unused).

        Returns
        -------
        ndarray, shape (n, d)
            ``sampler(rng, n)`` as floats.
        """
        x = np.asarray(self.sampler(rng, n), dtype=float)
        if x.shape != (n, lambda_.size):
            raise ValueError(
                f"sampler must return an array of shape (n, d) = ({n}, {lambda_.size}), got {x.shape}"
            )
        return x

    def sample_y(self, rng, n, lambda_, Q):
        """Y = Q^T X of the user's draws.

        Parameters
        ----------
        rng : numpy.random.Generator
            Passed to the sampler.
        n : int
            Number of draws.
        lambda_ : ndarray, shape (d,)
            Eigenvalues of Sigma.
        Q : ndarray, shape (d, d)
            Orthonormal eigenbasis.

        Returns
        -------
        ndarray, shape (n, d)
            X Q (rows are draws).
        """
        return self.sample_x(rng, n, lambda_, Q) @ Q

    def constants(self, lambda_, Q):
        """Monte Carlo estimates (``n_mc`` draws, seed ``seed``) of alpha with delta-method standard errors.

        Parameters
        ----------
        lambda_ : ndarray, shape (d,)
            Eigenvalues of Sigma.
        Q : ndarray, shape (d, d)
            Orthonormal eigenbasis.

        Returns
        -------
        Constants
            ``exact`` False; ``C_d`` the largest ||X|| seen (a lower bound of the true one).
        """
        rng = np.random.default_rng(self.seed)
        x = self.sample_x(rng, self.n_mc, lambda_, Q)
        y2 = (x @ Q) ** 2
        prods = y2[:, :, None] * y2[:, None, :]
        m4 = prods.mean(axis=0)
        m4_se = prods.std(axis=0, ddof=1) / np.sqrt(self.n_mc)
        alpha = np.sqrt(m4)
        # delta method: se(sqrt(m)) = se(m) / (2 sqrt(m))
        alpha_se = m4_se / (2.0 * np.maximum(alpha, np.finfo(float).tiny))
        return Constants(
            C_d=float(np.sqrt((x**2).sum(axis=1)).max()),
            alpha=alpha,
            phi=float(np.sum(alpha[0] ** 2)),
            exact=False,
            C_d_note=f"empirical: largest ||X|| in {self.n_mc} Monte Carlo draws (a lower bound)",
            alpha_se=alpha_se,
        )

    def __repr__(self) -> str:
        return f"UserSampler(name={self.name!r})"

    def __eq__(self, other) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


DISTRIBUTIONS: dict[str, type[Distribution]] = {"gaussian": Gaussian, "rademacher": Rademacher}


def get_distribution(dist: str | Distribution | Callable) -> Distribution:
    """Return a Distribution from a name ('gaussian', 'rademacher'), an instance, or a sampler.

    Parameters
    ----------
    dist : str, Distribution or callable
        A name (case and surrounding spaces ignored), an instance (returned as is) or a sampler
        ``(rng, n) -> X`` (wrapped in :class:`UserSampler`).

    Returns
    -------
    Distribution

    Raises
    ------
    ValueError
        Naming ``dist``.
    """
    if isinstance(dist, Distribution):
        return dist
    if isinstance(dist, str):
        key = dist.strip().lower()
        if key not in DISTRIBUTIONS:
            raise ValueError(f"dist must be one of {sorted(DISTRIBUTIONS)}, got {dist!r}")
        return DISTRIBUTIONS[key]()
    if callable(dist):
        return UserSampler(dist)
    raise ValueError(f"dist must be a name, a Distribution or a sampler callable, got {dist!r}")
