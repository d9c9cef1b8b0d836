"""theory: what the paper claims, as sympy derivations with fast numeric twins.

Pure functions of a :class:`Problem` and the algorithm's parameters. Knows nothing about
simulation. One module per result family of the paper:

* :mod:`theory.ode`: eqs. (5)-(7), the closed form after Theorem 3;
* :mod:`theory.sde`: eq. (8) (Theorem 5) and Theorem 9, the OU limits;
* :mod:`theory.phases`: Propositions 6, 8, 10 and Remark 7 (printed and derived);
* :mod:`theory.delays`: Lemma 1, Theorem 3, Lemma 4, Theorems 5 and 9 (delay conditions);
* :mod:`theory.stability`: the exact linear-stability threshold, and its mean-field version
  under i.i.d. random delays (beyond the paper);
* :mod:`theory.random_delays`: exact mean-square stability and stationary variance of a mode
  under random staleness (i.i.d. laws, the worker pipeline); :mod:`theory.random_tradeoff`:
  the thresholds and Figure 1's predicted optimal delay from them (beyond the paper);
* :mod:`theory.latex`: LaTeX of every result; ``python -m theory`` prints them all.

Importing :mod:`theory` imports none of these modules: each public name is loaded from its
module on first access (module ``__getattr__``, PEP 562), so that ``from theory import Problem``
costs ``theory.problem`` and numpy only, not sympy, scipy or numba (issue 10: start-up).
``from theory import X``, ``theory.X``, ``theory.<submodule>`` and ``__all__`` work as before.
"""

from __future__ import annotations

import importlib

#: Which submodule defines each public name of the package.
_MODULE_OF_NAMES = {
    "delays": (
        "GAMMA_DEFAULT", "delay_bound_symbolic", "delay_bounds", "tau_introduction", "tau_lemma1",
        "tau_ode", "tau_sde",
    ),
    "distributions": (
        "Constants", "Distribution", "Gaussian", "Rademacher", "UserSampler", "get_distribution",
    ),
    "latex": (
        "latex_results",
    ),
    "ode": (
        "closed_form_H", "closed_form_lambdified", "closed_form_symbolic",
        "mean_increment_symbolic", "momentum_factor_symbolic", "ode_drift", "ode_drift_lambdified",
        "ode_drift_symbolic", "ode_from_update_symbolic", "traverse_time", "verify_closed_form",
    ),
    "phases": (
        "NU_DEFAULT", "T1_derived", "T1_paper", "T2_derived", "T2_paper", "T3_derived", "T3_paper",
        "default_delta", "default_epsilon", "iteration_counts", "phase_derivations",
        "phase_expressions", "phase_lambdified", "phase_times", "phi_effective",
    ),
    "problem": (
        "PAPER_EIGENVALUES", "Problem",
    ),
    "random_delays": (
        "RANDOM_DELAY_KINDS", "MeanSquare", "WorkerPipelineLaw", "mean_square_growth",
        "mean_square_stability", "random_delay_law", "stationary_variance_random",
    ),
    "random_tradeoff": (
        "PredictedOptimalDelay", "largest_stable_mean", "mean_square_threshold",
        "predicted_optimal_delay", "random_delay_report", "stationary_error_random",
    ),
    "sde": (
        "OUCoefficients", "gradient_noise_covariance_symbolic", "ou_coefficients",
        "ou_diffusion_symbolic", "ou_linearisation_symbolic", "ou_lyapunov_solution",
        "ou_stationary_variance", "ou_transition_lambdified", "ou_transition_mean",
        "ou_transition_symbolic", "ou_transition_variance", "verify_lyapunov_symbolic",
        "verify_ou_transition",
    ),
    "stability": (
        "StabilityResult", "asymptotic_threshold", "mean_field_spectral_radius",
        "mean_field_threshold", "stability_threshold",
    ),
}
_WHERE = {name: module for module, names in _MODULE_OF_NAMES.items() for name in names}
#: Every submodule, reachable as ``theory.<name>`` without an explicit import.
_SUBMODULES = frozenset({*_MODULE_OF_NAMES, "phases_numeric", "symbolic", "validation"})


def __getattr__(name: str):
    """Load the public name (or submodule) ``name`` on first access and keep it as an attribute.

    Parameters
    ----------
    name : str
        A name of :data:`__all__` or a submodule of :mod:`theory`.

    Returns
    -------
    object
        The attribute, the same object as ``theory.<module>.<name>``.

    Raises
    ------
    AttributeError
        If ``name`` is neither.
    """
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE, *_SUBMODULES})


__all__ = [
    # problem and data
    "Constants",
    "Distribution",
    "Gaussian",
    "Rademacher",
    "UserSampler",
    "get_distribution",
    "PAPER_EIGENVALUES",
    "Problem",
    # ODE (5)-(7), Theorem 3
    "mean_increment_symbolic",
    "momentum_factor_symbolic",
    "ode_drift_symbolic",
    "ode_from_update_symbolic",
    "closed_form_symbolic",
    "verify_closed_form",
    "ode_drift",
    "ode_drift_lambdified",
    "closed_form_H",
    "closed_form_lambdified",
    "traverse_time",
    # OU limits, eq. (8), Theorem 9
    "OUCoefficients",
    "ou_coefficients",
    "ou_stationary_variance",
    "ou_transition_mean",
    "ou_transition_variance",
    "ou_linearisation_symbolic",
    "gradient_noise_covariance_symbolic",
    "ou_diffusion_symbolic",
    "ou_transition_symbolic",
    "verify_ou_transition",
    "verify_lyapunov_symbolic",
    "ou_transition_lambdified",
    "ou_lyapunov_solution",
    # phases, Propositions 6, 8, 10, Remark 7
    "NU_DEFAULT",
    "default_delta",
    "default_epsilon",
    "phi_effective",
    "phase_expressions",
    "phase_derivations",
    "phase_lambdified",
    "T1_paper",
    "T1_derived",
    "T2_paper",
    "T2_derived",
    "T3_paper",
    "T3_derived",
    "phase_times",
    "iteration_counts",
    # delay conditions
    "GAMMA_DEFAULT",
    "delay_bound_symbolic",
    "tau_lemma1",
    "tau_ode",
    "tau_sde",
    "tau_introduction",
    "delay_bounds",
    # stability (beyond the paper)
    "StabilityResult",
    "stability_threshold",
    "asymptotic_threshold",
    "mean_field_spectral_radius",
    "mean_field_threshold",
    # random staleness: mean-square stability, stationary error, optimal delay (beyond the paper)
    "RANDOM_DELAY_KINDS",
    "WorkerPipelineLaw",
    "random_delay_law",
    "MeanSquare",
    "mean_square_stability",
    "mean_square_growth",
    "stationary_variance_random",
    "largest_stable_mean",
    "mean_square_threshold",
    "stationary_error_random",
    "PredictedOptimalDelay",
    "predicted_optimal_delay",
    "random_delay_report",
    # LaTeX
    "latex_results",
]
