"""Constructors of :class:`compare.verdict.Check` with the acceptance region computed once.

Every check of the compare layer tests **one** stated prediction against one observation
(docs/compare.md, "When does a check hold?"). The constructors below turn the three rules the
comparisons use into a :class:`Check` whose ``acceptance`` (the region of ``observed`` in
which it holds) and ``holds`` come from the same arithmetic, so they cannot disagree:

* :func:`interval_check`: the prediction lies in the observation's confidence interval,
  optionally widened by a *modelling allowance fixed before looking at the data*
  (``allowance_below`` / ``allowance_above``, one-sided where the modelling error is);
* :func:`proportion_at_least_check`: a one-sided claim "P(event) >= p" (Proposition 10),
  which fails only when the Wilson interval lies wholly below p;
* :func:`bound_check`: a statistic lies below (or above) a critical value (KS and W1 null
  quantiles, max z-scores, fitted orders, proportions of diverged runs);
* :func:`not_measured`: nothing could be measured (``holds`` None, never a silent ``yes``).

An observation that is not finite is never a measurement: the check is "not measured".
:func:`divergence_note` words the run-level fact "k of n runs diverged" for ``Verdict.notes``.
"""

from __future__ import annotations

import math

from compare.verdict import Check

__all__ = ["interval_check", "bound_check", "proportion_at_least_check", "not_measured", "divergence_note"]


def _finite(*xs) -> bool:
    return all(x is not None and math.isfinite(float(x)) for x in xs)


def interval_check(
    *,
    name: str,
    equation: str,
    predicted: float,
    estimate: float,
    lo: float,
    hi: float,
    tolerance: str,
    note: str = "",
    allowance_below: float = 0.0,
    allowance_above: float = 0.0,
) -> Check:
    r"""A two-sided check: ``lo - allowance_below <= predicted <= hi + allowance_above``.

    With the interval written around the estimate, :math:`[e - d_-, e + d_+]`, this is
    :math:`e \in [p - d_+ - a_+,\ p + d_- + a_-]`: that is the acceptance region of the
    observation (what the table shows).

    A non-finite prediction, estimate or interval end gives :func:`not_measured`.

    Parameters
    ----------
    name : str
        Check identifier, coordinates 1-based as in the paper.
    equation : str
        Where the prediction comes from.
    predicted : float
        The one prediction under test.
    estimate, lo, hi : float
        The observation and its confidence interval (``lo <= estimate <= hi``).
    allowance_below, allowance_above : float >= 0
        Modelling allowances fixed before the data are seen, by which the interval is
        widened below / above (e.g. a first-passage time read on a grid of spacing dt is
        late by less than dt: ``allowance_below = dt``); say their derivation in ``tolerance``.
    tolerance : str
        The rule, in words (say the allowances' derivation).
    note : str
        Units, what the interval is of.

    Returns
    -------
    Check
    """
    if allowance_below < 0 or allowance_above < 0:
        raise ValueError(f"allowance of {name} must be >= 0, got {allowance_below}, {allowance_above}")
    if not _finite(predicted, estimate, lo, hi):
        return not_measured(
            name=name,
            equation=equation,
            predicted=predicted,
            tolerance=tolerance,
            note=f"not measured: the observation or its interval is not finite. {note}".strip(),
        )
    acc = (
        predicted - (hi - estimate) - allowance_above,
        predicted + (estimate - lo) + allowance_below,
    )
    return Check(
        name=name,
        equation=equation,
        predicted=predicted,
        observed=estimate,
        interval=(lo, hi),
        tolerance=tolerance,
        holds=acc[0] <= estimate <= acc[1],
        note=note,
        acceptance=acc,
    )


def bound_check(
    *,
    name: str,
    equation: str,
    predicted: float | None,
    observed: float,
    lower: float = -math.inf,
    upper: float = math.inf,
    interval: tuple[float, float] | None = None,
    tolerance: str,
    note: str = "",
) -> Check:
    """A check that holds iff ``lower <= observed <= upper`` (a statistic against critical values).

    A non-finite ``observed`` gives :func:`not_measured`.

    Parameters
    ----------
    name : str
        Check identifier.
    equation : str
        Where the prediction comes from.
    predicted : float or None
        The prediction (None when the check is of a test statistic).
    observed : float
        The statistic.
    lower, upper : float
        The critical values (``-inf`` / ``inf``: one-sided).
    interval : tuple (lo, hi), optional
        Defaults to the acceptance region itself (for a test statistic, the null region is what
        the interval shows). A NaN end makes the check not measured (an infinite end is a
        one-sided interval).
    tolerance : str
        The rule, in words.
    note : str
        Units, what the statistic is.

    Returns
    -------
    Check
    """
    if not _finite(observed) or (interval is not None and any(math.isnan(float(x)) for x in interval)):
        return not_measured(
            name=name,
            equation=equation,
            predicted=predicted,
            tolerance=tolerance,
            note=f"not measured: the statistic or its interval is not finite. {note}".strip(),
        )
    acc = (float(lower), float(upper))
    return Check(
        name=name,
        equation=equation,
        predicted=predicted,
        observed=observed,
        interval=acc if interval is None else interval,
        tolerance=tolerance,
        holds=acc[0] <= observed <= acc[1],
        note=note,
        acceptance=acc,
    )


def proportion_at_least_check(
    *, name: str, equation: str, p_min: float, k: int, n: int, level: float, note: str = ""
) -> Check:
    """One-sided "P(event) >= p_min": holds iff the upper end of the Wilson interval of k/n >= p_min.

    The Wilson upper end grows with k, so the acceptance region of the observed proportion is
    ``[k_min / n, 1]`` with ``k_min`` the least count whose upper end reaches ``p_min``. With no
    runs (``n = 0``) the check is :func:`not_measured`.

    Parameters
    ----------
    name : str
        Check identifier.
    equation : str
        Where the claim comes from (e.g. ``"Proposition 10"``).
    p_min : float
        The claimed lower bound of the probability, in [0, 1].
    k, n : int
        Count of runs with the event, of ``n`` runs.
    level : float
        Confidence level of the Wilson interval.
    note : str
        What the event is.

    Returns
    -------
    Check
    """
    from compare.stats import wilson_ci

    if not _finite(p_min) or not 0 <= p_min <= 1:
        raise ValueError(f"p_min of {name} must be a probability in [0, 1], got {p_min!r}")
    if n <= 0:
        return not_measured(
            name=name,
            equation=equation,
            predicted=p_min,
            tolerance=f"one-sided: the {level:.0%} Wilson interval's upper end >= {p_min:g}",
            note=f"not measured: no runs to count (n = {n}). {note}".strip(),
        )
    ci = wilson_ci(k, n, level)
    lo_k, hi_k = 0, n  # bisection for k_min: wilson_ci(k).hi is nondecreasing in k
    if wilson_ci(0, n, level).hi >= p_min:
        hi_k = 0
    while hi_k - lo_k > 1:
        mid = (lo_k + hi_k) // 2
        if wilson_ci(mid, n, level).hi >= p_min:
            hi_k = mid
        else:
            lo_k = mid
    k_min = hi_k
    return Check(
        name=name,
        equation=equation,
        predicted=p_min,
        observed=ci.estimate,
        interval=ci.bounds,
        tolerance=f"one-sided: the {level:.0%} Wilson interval's upper end >= {p_min:g} "
        f"(i.e. at least {k_min} of {n} runs)",
        holds=ci.hi >= p_min,
        note=note,
        acceptance=(k_min / n, 1.0),
    )


def not_measured(*, name: str, equation: str, predicted, tolerance: str, note: str) -> Check:
    """A check that could not be measured: ``holds`` None, observed None; ``note`` says why.

    Parameters
    ----------
    name : str
        Check identifier.
    equation : str
        Where the prediction comes from.
    predicted : float or None
        The prediction that could not be tested.
    tolerance : str
        The rule that would have decided it.
    note : str
        Why nothing was measured (e.g. every run diverged).

    Returns
    -------
    Check
    """
    return Check(
        name=name,
        equation=equation,
        predicted=predicted,
        observed=None,
        interval=(math.nan, math.nan),
        tolerance=tolerance,
        holds=None,
        note=note,
        acceptance=None,
    )


def divergence_note(diverged: int, total: int, what: str = "checks on the runs' statistics") -> str:
    """The run-level note of a run in which some runs diverged, for ``Verdict.notes``.

    Parameters
    ----------
    diverged : int
        Number of runs that diverged (left every bounded region; their statistics are NaN).
    total : int
        Number of runs.
    what : str
        Which checks the divergence affects.

    Returns
    -------
    str
        ``""`` when none diverged; ``"412 of 500 runs diverged; ..."`` otherwise, saying that
        with all runs diverged nothing on the stationary law is measured.
    """
    diverged, total = int(diverged), int(total)
    if total <= 0 or not 0 <= diverged <= total:
        raise ValueError(f"diverged must lie in 0..total (total > 0), got {diverged} of {total}")
    if diverged == 0:
        return ""
    if diverged == total:
        return (
            f"all {total} runs diverged: the step size or delay is outside the stable region; "
            "checks on the stationary law are not measured"
        )
    return (
        f"{diverged} of {total} runs diverged ({diverged / total:.0%}); "
        f"{what} use the other {total - diverged}"
    )
