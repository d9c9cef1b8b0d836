r"""Thresholds and the predicted optimal delay of Figure 1 under random staleness (beyond the paper).

Built on :mod:`theory.random_delays` (the exact mean-square criterion and stationary
variance of one mode). For a :class:`~theory.Problem` the linearised update (5) at the
optimum :math:`e_1` splits into the radial mode (:math:`c = 2\lambda_1`, the norm of the
iterate) and the tangent modes :math:`h_i` (:math:`c_i = \lambda_1 - \lambda_i`, noise
:math:`\alpha_{i1}`) of :func:`theory.stability.mode_rates`.

* :func:`largest_stable_mean`: the largest mean delay m (``random_delay_law(kind, m)``) at
  which a mode is mean-square (or mean-field) stable; for a constant delay both are
  :func:`theory.stability.max_stable_delay`.
* :func:`stationary_error_random`: the predicted error :math:`1 - h_1^2/\|h\|^2 \approx
  \sum_{i \ge 2} h_i^2` of ``compare tradeoff`` in the stationary state,
  :math:`\sum_{i\ge2} \eta\, \mathrm{Var}\, u_i` (:func:`~theory.random_delays.stationary_variance_random`).
* :func:`predicted_optimal_delay`: Figure 1's rule (largest m with the error at every
  m' <= m within :math:`(1+\rho)` of its m = 0 value) applied to that error, with the
  radial mode's mean-square stability as a hard limit: no fitted constant.

Every search assumes the property is monotone in m (stable up to a threshold, the error
non-decreasing); the tests check it by scans on small cases. Every evaluation is exact and
O(1) at any mean delay for the four kinds (closed forms of :mod:`theory.random_delays` for
the point mass and the uniform law, the geometric cubic, the pipeline's 7 x 7 map), so the
searches call it directly: about 2 log2(m) evaluations per threshold.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from . import stability as _st
from .problem import Problem
from .random_delays import (
    RANDOM_DELAY_KINDS,
    mean_square_growth,
    mean_square_stability,
    random_delay_law,
)
from .validation import check_eta, check_mu, check_nonnegative_int, check_positive_float

__all__ = [
    "DEFAULT_MEAN_MAX",
    "CRITERIA",
    "DIAGNOSTIC_MAX_SUPPORT",
    "largest_stable_mean",
    "mean_square_threshold",
    "stationary_error_random",
    "PredictedOptimalDelay",
    "predicted_optimal_delay",
    "random_delay_report",
]

#: Largest mean delay a search visits; a result equal to it means ">= it".
DEFAULT_MEAN_MAX = 10**6
#: What :func:`largest_stable_mean` asks of the mode.
CRITERIA = ("mean-square", "mean-field")
#: Largest support (K + 1 values) of a finite law for which :func:`predicted_optimal_delay`
#: computes its horizon diagnostics: each is a bisection of ~40 O(K^2) exact evaluations,
#: ~0.1 s at this size; beyond it they are NaN (the prediction itself is unaffected).
DIAGNOSTIC_MAX_SUPPORT = 2001


# ---------------------------------------------------------------------------------------
# monotone searches over the integer mean delay
# ---------------------------------------------------------------------------------------
def _largest_true(pred, mean_max: int) -> int:
    """Largest m in [0, mean_max] with pred true on [0, m] (pred monotone); -1 if pred(0) is false."""
    if not pred(0):
        return -1
    lo, hi = 0, 1
    while hi <= mean_max and pred(hi):
        lo, hi = hi, 2 * hi
    if hi > mean_max:
        if pred(mean_max):
            return mean_max
        hi = mean_max
    while hi - lo > 1:  # invariant: pred(lo), not pred(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if pred(mid) else (lo, mid)
    return lo


def _largest_nonpositive(f, mean_max: int) -> int:
    """Largest m in [0, mean_max] with f <= 0 on [0, m], f non-decreasing (-1 if f(0) > 0).

    Doubling to a bracket, then Illinois regula falsi on the integers (a handful of calls
    when f is smooth, as the predicted error is; bisection where f is infinite).
    """
    f_lo = f(0)
    if f_lo > 0:
        return -1
    lo, hi = 0, 1
    while True:
        f_hi = f(min(hi, mean_max))
        if hi >= mean_max:
            if f_hi <= 0:
                return mean_max
            hi = mean_max
            break
        if f_hi > 0:
            break
        lo, f_lo, hi = hi, f_hi, 2 * hi
    side = 0
    while hi - lo > 1:  # invariant: f(lo) <= 0 < f(hi)
        if math.isfinite(f_hi):
            m = lo + int(round((hi - lo) * (-f_lo) / (f_hi - f_lo)))
            m = min(max(m, lo + 1), hi - 1)
        else:
            m = (lo + hi) // 2
        f_m = f(m)
        if f_m <= 0:
            lo, f_lo = m, f_m
            f_hi, side = (0.5 * f_hi if side == -1 else f_hi), -1
        else:
            hi, f_hi = m, f_m
            f_lo, side = (0.5 * f_lo if side == 1 else f_lo), 1
    return lo


def _check_kind(kind: str) -> str:
    if kind not in RANDOM_DELAY_KINDS:
        raise ValueError(f"kind must be one of {', '.join(RANDOM_DELAY_KINDS)}, got {kind!r}")
    return kind


def largest_stable_mean(
    mu: float, s: float, kind: str, *, criterion: str = "mean-square", mean_max: int = DEFAULT_MEAN_MAX
) -> int:
    """Largest mean delay m at which a mode (s = eta c) is stable under ``random_delay_law(kind, m)``.

    Parameters
    ----------
    mu : float
        Momentum in [0, 1).
    s : float
        eta * c > 0.
    kind : str
        One of :data:`~theory.random_delays.RANDOM_DELAY_KINDS`.
    criterion : {"mean-square", "mean-field"}
        Second moments (:func:`~theory.random_delays.mean_square_stability`) or the mean only.
    mean_max : int
        Search limit; the result is ``mean_max`` when still stable there.

    Returns
    -------
    int
        The threshold, -1 if unstable even at m = 0. For ``"constant"`` both criteria are
        :func:`theory.stability.max_stable_delay` (capped at ``mean_max``).
    """
    mu = check_mu(mu)
    s = check_positive_float(s, "s")
    kind = _check_kind(kind)
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {', '.join(CRITERIA)}, got {criterion!r}")
    mean_max = check_nonnegative_int(mean_max, "mean_max")
    if kind == "constant":
        return min(_st.max_stable_delay(mu, s), mean_max)
    field = "mean_square_stable" if criterion == "mean-square" else "mean_stable"

    def stable(m):
        return getattr(mean_square_stability(mu, s, random_delay_law(kind, m)), field)

    return _largest_true(stable, mean_max)


def mean_square_threshold(mu: float, s: float, kind: str, *, mean_max: int = DEFAULT_MEAN_MAX) -> int:
    """:func:`largest_stable_mean` with the mean-square criterion.

    Parameters
    ----------
    mu : float
        Momentum in [0, 1).
    s : float
        eta * c > 0.
    kind : str
        One of :data:`~theory.random_delays.RANDOM_DELAY_KINDS`.
    mean_max : int
        Search limit; the result is ``mean_max`` when still stable there.

    Returns
    -------
    int
        The largest mean-square stable mean delay, -1 if unstable at m = 0.
    """
    return largest_stable_mean(mu, s, kind, criterion="mean-square", mean_max=mean_max)


# ---------------------------------------------------------------------------------------
# the predicted error and the optimal delay
# ---------------------------------------------------------------------------------------
def _tangent_modes(problem: Problem):
    """[(name, c_i, alpha_i1)] for i = 2..d (:func:`theory.stability.mode_rates`, problem.alpha)."""
    rates = _st.mode_rates(problem)
    return [
        (f"tangent[{i}]", rates[f"tangent[{i}]"], float(problem.alpha[i - 1, 0]))
        for i in range(2, problem.d + 1)
    ]


def _tangent_error(problem, mu, eta, law) -> float:
    """sum_i eta^2 alpha_i1^2 Var-factor_i: the stationary tangent error (inf if a mode is unstable)."""
    total = 0.0
    for _, c, alpha in _tangent_modes(problem):
        total += eta**2 * alpha**2 * mean_square_stability(mu, eta * c, law).variance_factor
    return total


def stationary_error_random(problem: Problem, mu: float, eta: float, law) -> float:
    r"""Predicted stationary error :math:`\sum_{i\ge2} E h_i^2` of the linearised tangent modes.

    The random-delay, finite-eta version of ``compare.tradeoff.stationary_error`` (eq. (8),
    Theorem 5: :math:`\eta\sum_i\alpha_{i1}^2/(2(1-\mu)(\lambda_1-\lambda_i))` as eta -> 0):
    :math:`\sum_i \eta\,` :func:`~theory.random_delays.stationary_variance_random`
    :math:`(\alpha_{i1}, \lambda_1-\lambda_i, \eta, \mu, law)`; inf if a mode is
    mean-square unstable.

    Parameters
    ----------
    problem : Problem
    mu : float
        Momentum in [0, 1).
    eta : float
        Step size > 0.
    law : ndarray, GeometricDelayLaw or WorkerPipelineLaw
        E.g. ``random_delay_law(kind, m)``.

    Returns
    -------
    float
        The predicted stationary error (inf if a tangent mode is mean-square unstable).
    """
    if not isinstance(problem, Problem):
        raise ValueError(f"problem must be a theory.Problem, got {type(problem).__name__}")
    return _tangent_error(problem, check_mu(mu), check_eta(eta), law)


@dataclass(frozen=True)
class PredictedOptimalDelay:
    """The predicted optimal (mean) delay of Figure 1 for one momentum and delay kind.

    Attributes
    ----------
    delay : int
        min(tangent_error_delay, radial_mean_square_delay).
    binding_mode : str
        ``"radial"`` (its mean-square threshold is the smaller; ties count as radial) or
        ``"tangent"`` (the stationary tangent error reaches (1 + rho) x its m = 0 value first).
    radial_mean_square_delay : int
        Largest mean delay at which the radial mode (c = 2 lambda_1) is mean-square stable.
    tangent_error_delay : int
        Largest m with the predicted tangent error <= (1 + rho) x its m = 0 value at every m' <= m.
    error_at_zero : float
        The predicted stationary error at m = 0 (finite eta, no delay).
    radial_growth_efolds : float
        Horizon diagnostic: n log(lambda) of the radial second moment one step past its
        threshold (n = horizon / eta steps, lambda from
        :func:`~theory.random_delays.mean_square_growth`): how far a mode just past its
        threshold can grow within the run. NaN when no horizon was given, or for a finite
        law with more than :data:`DIAGNOSTIC_MAX_SUPPORT` values (cost).
    tangent_relaxation_efolds : float
        Horizon diagnostic: -n log(lambda) of the slowest tangent second moment at ``delay``:
        the e-folds of relaxation the run allows (the stationary error applies when large).
    kind, mu, eta, rho, horizon : the parameters
    capped : bool
        True when ``delay`` reached the search limit (the prediction is ">= delay").
    """

    delay: int
    binding_mode: str
    radial_mean_square_delay: int
    tangent_error_delay: int
    error_at_zero: float
    radial_growth_efolds: float
    tangent_relaxation_efolds: float
    kind: str
    mu: float
    eta: float
    rho: float
    horizon: float | None
    capped: bool

    def as_dict(self) -> dict:
        """A JSON-serialisable dict.

        Returns
        -------
        dict
            Every field by name.
        """
        return asdict(self)


def predicted_optimal_delay(
    problem: Problem,
    mu: float,
    eta: float,
    kind: str,
    rho: float = 0.5,
    horizon: float | None = 10.0,
    *,
    mean_max: int = DEFAULT_MEAN_MAX,
) -> PredictedOptimalDelay:
    """Figure 1's optimal (mean) delay predicted from the linearised modes, no fitted constant.

    Parameters
    ----------
    problem : Problem
    mu : float
        Momentum in [0, 1).
    eta : float
        Step size > 0.
    kind : str
        One of :data:`~theory.random_delays.RANDOM_DELAY_KINDS` (the ``--delay-model`` of
        ``compare tradeoff``: grid value m = mean delay, pipeline M = m + 1 workers).
    rho : float
        The rule's allowance >= 0 (``compare tradeoff --rho``).
    horizon : float or None
        ODE time T of the run, for the two horizon diagnostics (None skips them).
    mean_max : int
        Search limit.

    Returns
    -------
    PredictedOptimalDelay
    """
    if not isinstance(problem, Problem):
        raise ValueError(f"problem must be a theory.Problem, got {type(problem).__name__}")
    mu, eta, kind = check_mu(mu), check_eta(eta), _check_kind(kind)
    rho = float(rho)
    if not math.isfinite(rho) or rho < 0:
        raise ValueError(f"rho must be a finite number >= 0, got {rho!r}")
    if horizon is not None:
        horizon = check_positive_float(horizon, "horizon")
    mean_max = check_nonnegative_int(mean_max, "mean_max")
    e0 = _tangent_error(problem, mu, eta, random_delay_law(kind, 0))
    limit = (1.0 + rho) * e0

    def excess(m):  # predicted error / allowance - 1: <= 0 where the rule holds
        return _tangent_error(problem, mu, eta, random_delay_law(kind, m)) / limit - 1.0

    tangent = _largest_nonpositive(excess, mean_max)
    s_rad = eta * _st.mode_rates(problem)["radial"]
    radial = mean_square_threshold(mu, s_rad, kind, mean_max=mean_max)
    delay = min(tangent, radial)
    growth = relax = math.nan
    if horizon is not None:
        n = horizon / eta

        def cheap(law):
            return not isinstance(law, np.ndarray) or law.size <= DIAGNOSTIC_MAX_SUPPORT

        past = random_delay_law(kind, radial + 1) if 0 <= radial < mean_max else None
        if past is not None and cheap(past):
            growth = n * math.log(mean_square_growth(mu, s_rad, past))
        at = random_delay_law(kind, delay) if delay >= 0 else None
        if at is not None and cheap(at):
            c_min = min(c for _, c, _ in _tangent_modes(problem))
            relax = -n * math.log(mean_square_growth(mu, eta * c_min, at))
    return PredictedOptimalDelay(
        delay=int(delay),
        binding_mode="radial" if radial <= tangent else "tangent",
        radial_mean_square_delay=int(radial),
        tangent_error_delay=int(tangent),
        error_at_zero=float(e0),
        radial_growth_efolds=float(growth),
        tangent_relaxation_efolds=float(relax),
        kind=kind,
        mu=mu,
        eta=eta,
        rho=rho,
        horizon=horizon,
        capped=bool(delay >= mean_max),
    )


def random_delay_report(
    problem: Problem, mu: float, eta: float, kind: str, mean: int, *, mean_max: int = DEFAULT_MEAN_MAX
) -> dict:
    """Per mode: stability at mean delay ``mean`` and the mean-field / mean-square thresholds.

    Parameters
    ----------
    problem : Problem
    mu : float
        Momentum in [0, 1).
    eta : float
        Step size > 0.
    kind : str
        One of :data:`~theory.random_delays.RANDOM_DELAY_KINDS`.
    mean : int
        The mean delay at which every mode's stability is reported.
    mean_max : int
        Search limit of the thresholds.

    Returns
    -------
    dict
        ``{"kind", "mean", "mean_max", "modes": {name: {"c", "s", "mean_stable",
        "mean_square_stable", "loop_gain", "mean_field_delay", "mean_square_delay"}},
        "binding_mode", "mean_field_delay", "mean_square_delay"}``; the binding mode has the
        smallest mean-square threshold (ties: the larger rate). A threshold equal to
        ``mean_max`` means ">= mean_max"; ``loop_gain`` is NaN for the pipeline.
    """
    if not isinstance(problem, Problem):
        raise ValueError(f"problem must be a theory.Problem, got {type(problem).__name__}")
    mu, eta, kind = check_mu(mu), check_eta(eta), _check_kind(kind)
    mean = check_nonnegative_int(mean, "mean")
    law = random_delay_law(kind, mean)
    modes = {}
    for name, c in _st.mode_rates(problem).items():
        s = eta * c
        at = mean_square_stability(mu, s, law)
        modes[name] = {
            "c": c,
            "s": s,
            "mean_stable": at.mean_stable,
            "mean_square_stable": at.mean_square_stable,
            "loop_gain": float(at.loop_gain),
            "mean_field_delay": largest_stable_mean(mu, s, kind, criterion="mean-field", mean_max=mean_max),
            "mean_square_delay": mean_square_threshold(mu, s, kind, mean_max=mean_max),
        }
    binding = min(modes, key=lambda k: (modes[k]["mean_square_delay"], -modes[k]["c"]))
    return {
        "kind": kind,
        "mean": mean,
        "mean_max": mean_max,
        "modes": modes,
        "binding_mode": binding,
        "mean_field_delay": min(m["mean_field_delay"] for m in modes.values()),
        "mean_square_delay": modes[binding]["mean_square_delay"],
    }
