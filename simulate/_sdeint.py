r"""The one adapter to sdeint: a single-path reference integrator on *our* Brownian increments.

sdeint (M. Aburn, https://github.com/mattja/sdeint) is licensed **GPL-3.0** and has been
**unmaintained since 2023** (last release 0.3.0). It is used only as an independent
reference in tests and benchmarks, never in the simulators; this module is the only
place that imports it, so it can be replaced or dropped in one spot.

Wrapped: ``sdeint.itoEuler`` (Euler-Maruyama) and ``sdeint.itoSRI2`` (Roessler 2010,
strong order 1 for general Ito noise), both for the Ito equation
:math:`dy = f(y, t)\,dt + G(y, t)\,dW` with m Brownian motions. Both accept the increments
``dW`` of shape (n_steps, m); ``itoSRI2`` also takes the iterated Ito integrals
``I`` of shape (n_steps, m, m) (if omitted, sdeint would draw them from an unseeded
generator, so we always pass them). sdeint requires equal steps; :func:`sdeint_integrate`
checks that up front (``ValueError`` naming ``t``).

For the additive noise of the OU limits (eq. (8), Theorem 9) SRI2's diffusion stages
cancel exactly (G is constant, so ``G(H2) - G(H3) = 0``) and ``I`` drops out; the scheme
is then Heun in the drift only, :class:`simulate.sde.DriftHeun`.
"""

from __future__ import annotations

import numpy as np
import sdeint

from .sde import OU, _check_dW, _check_generator, check_time_grid

__all__ = ["SDEINT_METHODS", "sdeint_integrate", "sdeint_ou"]

#: sdeint integrators wrapped here.
SDEINT_METHODS = ("itoEuler", "itoSRI2")


def sdeint_integrate(f, G, y0, t, dW, *, method: str = "itoEuler", I=None, rng=None) -> np.ndarray:
    """One path of an Ito SDE with sdeint, driven by given Brownian increments.

    Parameters
    ----------
    f : callable ``f(y, t) -> ndarray (d,)``
        Drift.
    G : callable ``G(y, t) -> ndarray (d, m)``
        Diffusion matrix.
    y0 : array_like, shape (d,)
    t : array_like, shape (n_t,)
        Equally spaced, strictly increasing (sdeint's requirement).
    dW : array_like, shape (n_t - 1, m)
        The Brownian increments of this path.
    method : {"itoEuler", "itoSRI2"}
    I : array_like, shape (n_t - 1, m, m), optional
        Iterated Ito integrals for itoSRI2 (consistent with dW). If None, drawn with
        ``sdeint.Ikpw(dW, dt, generator=rng)``, which needs ``rng``.
    rng : numpy.random.Generator, optional
        Only used to draw I for itoSRI2.

    Returns
    -------
    y : ndarray, shape (n_t, d)
    """
    if method not in SDEINT_METHODS:
        raise ValueError(f"method must be one of {SDEINT_METHODS}, got {method!r}")
    t = check_time_grid(t, equal=True)
    y0 = np.asarray(y0, dtype=float)
    if y0.ndim != 1:
        raise ValueError(f"y0 must have shape (d,), got {y0.shape}")
    m = np.asarray(G(y0, t[0])).shape[-1]
    dW = np.asarray(dW, dtype=float)
    dW = _check_dW(dW[:, None, :] if dW.ndim == 2 else dW, t.size - 1, 1, m)[:, 0]
    if method == "itoEuler":
        return sdeint.itoEuler(f, G, y0, t, dW=dW)
    if I is None:
        rng = _check_generator(rng)
        _, I = sdeint.Ikpw(dW, float(t[1] - t[0]), generator=rng)
    I = np.asarray(I, dtype=float)
    if I.shape != (t.size - 1, m, m):
        raise ValueError(f"I must have shape (n_steps, m, m) = ({t.size - 1}, {m}, {m}), got {I.shape}")
    return sdeint.itoSRI2(f, G, y0, t, dW=dW, I=I)


def sdeint_ou(ou: OU, u0, t, dW, *, method: str = "itoEuler") -> np.ndarray:
    """Paths of the OU system with sdeint, one path at a time (the reference loop).

    Parameters
    ----------
    ou : OU
    u0 : array_like, shape (m,)
    t : array_like, shape (n_t,), equally spaced
    dW : array_like, shape (n_t - 1, n_paths, m)
        The same increments as given to :func:`simulate.sde.integrate`.
    method : {"itoEuler", "itoSRI2"}

    Returns
    -------
    U : ndarray, shape (n_t, n_paths, m)
    """
    if not isinstance(ou, OU):
        raise ValueError(f"ou must be an OU, got {type(ou).__name__}")
    t = check_time_grid(t, equal=True)
    dW = _check_dW(dW, t.size - 1, None, ou.m)
    u0 = np.asarray(u0, dtype=float)
    if u0.shape != (ou.m,):
        raise ValueError(f"u0 must have shape ({ou.m},), got {u0.shape}")
    a, G0 = ou.drift, np.diag(ou.diffusion)

    def f(y, _t):
        return a * y

    def G(_y, _t):
        return G0

    # Additive noise: SRI2's iterated integrals cancel exactly, so any consistent-shape I
    # gives the same path; zeros keep this deterministic.
    I0 = np.zeros((t.size - 1, ou.m, ou.m))
    out = np.empty((t.size, dW.shape[1], ou.m))
    for p in range(dW.shape[1]):
        out[:, p] = sdeint_integrate(f, G, u0, t, dW[:, p], method=method, I=I0)
    return out
