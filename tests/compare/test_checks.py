"""The check constructors: acceptance regions computed by hand, and holds decided by them."""

from __future__ import annotations

import math

import pytest
import scipy.stats as st

from compare.checks import bound_check, interval_check, not_measured, proportion_at_least_check
from compare.verdict import Check, Verdict

COMMON = dict(name="x", equation="eq. (0)", tolerance="rule")


def test_interval_check_acceptance_is_the_interval_moved_onto_the_prediction():
    # estimate 10 in [9, 12] (asymmetric), prediction 11: observed must lie in [11 - 2, 11 + 1]
    c = interval_check(predicted=11.0, estimate=10.0, lo=9.0, hi=12.0, **COMMON)
    assert c.acceptance == (9.0, 12.0)
    assert c.holds
    c = interval_check(predicted=13.5, estimate=10.0, lo=9.0, hi=12.0, **COMMON)
    assert c.acceptance == (11.5, 14.5) and not c.holds


def test_interval_check_one_sided_allowance_widens_one_side_only():
    # a first passage read on a grid is late by < dt: the prediction may lie up to dt below lo
    below = interval_check(predicted=8.5, estimate=10.0, lo=9.0, hi=12.0, allowance_below=0.6, **COMMON)
    above = interval_check(predicted=12.5, estimate=10.0, lo=9.0, hi=12.0, allowance_below=0.6, **COMMON)
    assert below.holds and not above.holds
    assert below.acceptance == pytest.approx((8.5 - 2.0, 8.5 + 1.0 + 0.6))
    with pytest.raises(ValueError, match="allowance"):
        interval_check(predicted=1.0, estimate=1.0, lo=0.0, hi=2.0, allowance_above=-1.0, **COMMON)


def test_non_finite_observation_is_not_measured_never_yes():
    c = interval_check(predicted=1.0, estimate=math.nan, lo=math.nan, hi=math.nan, **COMMON)
    assert c.holds is None and c.observed is None and "not measured" in c.note
    b = bound_check(predicted=0.0, observed=math.inf, upper=1.0, **COMMON)
    assert b.holds is None
    v = Verdict(command="t", parameters={}, seed=0, checks=[c, b])
    assert v.all_hold  # nothing measured failed ...
    assert "2 not measured" in v.summary_table()  # ... and the table says nothing was measured
    assert "0/2 checks hold" in v.summary_table()


def test_bound_check_region_and_decision():
    c = bound_check(predicted=0.0, observed=0.3, lower=0.0, upper=0.25, **COMMON)
    assert not c.holds and c.acceptance == (0.0, 0.25) and c.interval == (0.0, 0.25)
    c = bound_check(predicted=1.0, observed=0.9, lower=0.2, **COMMON)
    assert c.holds and c.acceptance == (0.2, math.inf)
    assert c.as_dict()["acceptance"] == [0.2, None]  # strict JSON: the unbounded side is null


@pytest.mark.parametrize("n, p_min", [(50, 0.75), (400, 0.5), (1000, 0.9), (7, 0.3)])
def test_proportion_region_is_the_least_count_whose_wilson_upper_end_reaches_p(n, p_min):
    z = st.norm.ppf(0.975)

    def wilson_hi(k):  # Wilson (1927) score interval, upper end, written out independently
        p = k / n
        return (p + z * z / (2 * n) + z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n)

    k_min = next(k for k in range(n + 1) if k == n or wilson_hi(k) >= p_min)
    for k in (max(k_min - 1, 0), k_min, min(k_min + 1, n)):
        c = proportion_at_least_check(p_min=p_min, k=k, n=n, level=0.95, name="p", equation="e")
        assert c.acceptance == (k_min / n, 1.0)
        assert c.holds == (k >= k_min)


def test_check_refuses_to_contradict_its_acceptance():
    with pytest.raises(ValueError, match="contradicts"):
        Check(**COMMON, predicted=0.0, observed=2.0, interval=(0, 1), holds=True, acceptance=(0.0, 1.0))
    with pytest.raises(ValueError, match="ordered pair"):
        Check(**COMMON, predicted=0.0, observed=0.5, interval=(0, 1), holds=True, acceptance=(1.0, 0.0))


def test_not_measured_constructor():
    c = not_measured(predicted=1.0, note="ladder too short", **COMMON)
    assert c.holds is None and c.as_dict()["holds"] is None and c.as_dict()["acceptance"] is None
