"""simulate: what actually happens. Samplers of the discrete algorithm (eq. (5)) and of its
continuous limits (ODE (7), OU eq. (8) / Theorem 9, full diffusion) over ensembles.

Public API
----------
simulate_async_msgd, EnsembleResult, Staleness, CHECK_EVERY
    Ensembles of Async-MSGD over a (mu, delay) grid (:mod:`simulate.async_msgd`).
DelayModel, Constant, Uniform, Geometric, WorkerPipeline, Sequence, as_delay_models
    Delay models of tau_k (:mod:`simulate.delays`).
cell_key, seed_sequence, stream
    Seeds from content (:mod:`simulate.seeding`).
reference_async_msgd, reference_run, ar2_stationary_variance, linearised_stationary_variance
    The plain one-chain loop the kernels are tested against, and the exact stationary
    variance of the linearised recursion near e_1 (:mod:`simulate.reference`).
ODESolution, solve_ode, ode_rhs
    ODE (7) (:mod:`simulate.ode`).
OU, Stepper, EulerMaruyama, DriftHeun, StochasticHeun, ExponentialEuler, STEPPERS, ...
    OU limits and SDE steppers (:mod:`simulate.sde`), the full diffusion
    (:mod:`simulate.diffusion`) and the sdeint adapter (:mod:`simulate._sdeint`).

Importing :mod:`simulate` imports none of its modules: each public name is loaded from its
module on first access (module ``__getattr__``, PEP 562), so ``from simulate import
simulate_async_msgd`` does not import sympy (via :mod:`simulate.diffusion`) or sdeint (issue 10:
start-up). ``from simulate import X``, ``simulate.X``, ``simulate.<submodule>`` and ``__all__``
work as before.
"""

from __future__ import annotations

import importlib

#: Which submodule defines each public name of the package.
_MODULE_OF_NAMES = {
    "_sdeint": ("SDEINT_METHODS", "sdeint_integrate", "sdeint_ou"),
    "async_msgd": ("CHECK_EVERY", "EnsembleResult", "Staleness", "simulate_async_msgd"),
    "delays": (
        "Constant",
        "DelayModel",
        "Geometric",
        "Sequence",
        "Uniform",
        "WorkerPipeline",
        "as_delay_models",
    ),
    "diffusion": ("DiffusionEuler", "FullDiffusion", "integrate_diffusion", "simulate_diffusion"),
    "ode": ("ODESolution", "ode_rhs", "solve_ode"),
    "reference": (
        "ar2_stationary_variance",
        "linearised_stationary_variance",
        "reference_async_msgd",
        "reference_run",
    ),
    "sde": (
        "OU",
        "PATH_BLOCK",
        "STEPPERS",
        "DriftHeun",
        "EulerMaruyama",
        "ExponentialEuler",
        "Stepper",
        "StochasticHeun",
        "brownian_increments",
        "check_time_grid",
        "exact_ou_with_increments",
        "integrate",
        "ou_exact_step",
        "simulate_ou",
    ),
    "seeding": ("cell_key", "seed_sequence", "stream"),
}
_WHERE = {name: module for module, names in _MODULE_OF_NAMES.items() for name in names}


def __getattr__(name: str):
    """Load the public name ``name`` from its submodule on first access and keep it.

    Parameters
    ----------
    name : str
        A name of :data:`__all__`.

    Returns
    -------
    object
        The attribute, the same object as ``simulate.<module>.<name>``.

    Raises
    ------
    AttributeError
        If ``name`` is not a public name (submodules are found by the import system).
    """
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})


__all__ = [
    # Async-MSGD ensembles (eq. (5))
    "simulate_async_msgd",
    "EnsembleResult",
    "Staleness",
    "CHECK_EVERY",
    "DelayModel",
    "Constant",
    "Uniform",
    "Geometric",
    "WorkerPipeline",
    "Sequence",
    "as_delay_models",
    "cell_key",
    "seed_sequence",
    "stream",
    "reference_async_msgd",
    "reference_run",
    "ar2_stationary_variance",
    "linearised_stationary_variance",
    # ODE (7)
    "ODESolution",
    "solve_ode",
    "ode_rhs",
    # OU limits and SDE steppers (eq. (8), Theorem 9), full diffusion, sdeint adapter
    "OU",
    "PATH_BLOCK",
    "Stepper",
    "EulerMaruyama",
    "DriftHeun",
    "StochasticHeun",
    "ExponentialEuler",
    "STEPPERS",
    "check_time_grid",
    "brownian_increments",
    "integrate",
    "ou_exact_step",
    "simulate_ou",
    "exact_ou_with_increments",
    "FullDiffusion",
    "DiffusionEuler",
    "integrate_diffusion",
    "simulate_diffusion",
    "SDEINT_METHODS",
    "sdeint_integrate",
    "sdeint_ou",
]
