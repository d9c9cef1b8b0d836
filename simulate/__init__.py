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
"""

from ._sdeint import SDEINT_METHODS, sdeint_integrate, sdeint_ou
from .async_msgd import CHECK_EVERY, EnsembleResult, Staleness, simulate_async_msgd
from .delays import Constant, DelayModel, Geometric, Sequence, Uniform, WorkerPipeline, as_delay_models
from .diffusion import DiffusionEuler, FullDiffusion, integrate_diffusion, simulate_diffusion
from .ode import ODESolution, ode_rhs, solve_ode
from .reference import (
    ar2_stationary_variance,
    linearised_stationary_variance,
    reference_async_msgd,
    reference_run,
)
from .sde import (
    OU,
    PATH_BLOCK,
    STEPPERS,
    DriftHeun,
    EulerMaruyama,
    ExponentialEuler,
    Stepper,
    StochasticHeun,
    brownian_increments,
    check_time_grid,
    exact_ou_with_increments,
    integrate,
    ou_exact_step,
    simulate_ou,
)
from .seeding import cell_key, seed_sequence, stream

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
