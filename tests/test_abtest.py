"""A/B verdicts on synthetic samples with known answers, and the Holm adjustment maths."""

from __future__ import annotations

import numpy as np
import pytest

from report_fixtures import arm

from onnxbench.report.abtest import WITHIN_RUN, adjust, compare_arms, holm


def test_identical_arms_no_difference_or_equivalent():
    a = arm(2.0, 6, seed=1, drift=0.03)
    b = arm(2.0, 6, seed=2, drift=0.03)
    r = compare_arms(a, b, threshold=0.05)
    assert r.verdict in ("no significant difference", "equivalent")
    assert not r.significant
    assert r.ci_low < 1 < r.ci_high


def test_twenty_percent_shift_with_tight_repeats_is_slower():
    a = arm(2.0, 5, seed=3, drift=0.01)
    b = arm(2.4, 5, seed=4, drift=0.01)
    r = compare_arms(a, b, threshold=0.05)
    assert r.verdict == "slower" and r.significant
    assert r.ratio == pytest.approx(1.2, rel=0.03)
    assert r.ci_low > 1.05 and r.effect_size > 2
    assert compare_arms(b, a).verdict == "faster"


def test_one_percent_shift_with_five_percent_threshold_is_equivalent():
    a = arm(2.0, 8, seed=5, drift=0.003)
    b = arm(2.02, 8, seed=6, drift=0.003)
    r = compare_arms(a, b, threshold=0.05)
    assert r.verdict == "equivalent"
    assert 0.95 <= r.ci_low and r.ci_high <= 1.05


def test_drift_between_repeats_is_not_called_significant():
    """Large run-to-run drift with tight within-run spread: the repeat-level test stays calm
    where a test on the pooled raw latencies would call it significant."""
    a = arm(2.0, 5, seed=7, drift=0.08, spread=0.005)
    b = arm(2.0, 5, seed=8, drift=0.08, spread=0.005)
    r = compare_arms(a, b, threshold=0.05)
    assert r.verdict == "no significant difference"
    pooled = compare_arms([np.concatenate(a)], [np.concatenate(b)], threshold=0.05)
    assert pooled.p_value < 1e-6  # the raw latencies "see" the drift
    assert pooled.note == WITHIN_RUN


def test_single_repeat_falls_back_and_is_conservative():
    a = arm(2.0, 1, seed=9, n=300)
    b = arm(2.06, 1, seed=10, n=300)   # +3 %: significant within the run, but below the 5 % threshold
    r = compare_arms(a, b, threshold=0.05)
    assert r.note == WITHIN_RUN and r.significant
    assert r.verdict != "slower"
    big = compare_arms(a, arm(2.6, 1, seed=11, n=300), threshold=0.05)
    assert big.verdict == "slower" and big.note == WITHIN_RUN


def test_holm_maths():
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005*4=0.02, 0.01*3=0.03, 0.03*2=0.06, 0.04*1=0.04 -> monotone max 0.06
    assert holm(p) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert holm([]) == []


def test_adjust_recomputes_verdicts():
    a = arm(2.0, 3, seed=12, drift=0.02)
    b = arm(2.3, 3, seed=13, drift=0.02)
    single = compare_arms(a, b, threshold=0.05)
    others = [compare_arms(arm(2, 3, seed=s), arm(2, 3, seed=s + 50)) for s in range(20, 39)]
    family = adjust([single] + others)
    expected = holm([r.p_value for r in [single] + others])
    assert [r.p_adjusted for r in family] == pytest.approx(expected)
    assert family[0].p_adjusted >= single.p_value
    assert all(r.significant == (r.p_adjusted < r.alpha) for r in family)


def test_single_repeat_fallback_never_pools_repeats_of_the_other_arm():
    """Arm A has a slow second repeat (drift); B has one repeat like A's first: no change."""
    rng = np.random.default_rng(3)
    first = list(rng.normal(10.0, 0.1, 300))
    drifted = list(rng.normal(14.0, 0.1, 300))
    same_as_first = list(rng.normal(10.0, 0.1, 300))
    res = compare_arms([first, drifted], [same_as_first], threshold=0.05)
    assert abs(res.ratio - 1.0) < 0.01, res


def test_the_table_shows_the_latencies_the_ratio_compares():
    rng = np.random.default_rng(4)
    a = [list(rng.normal(m, 0.05, 200)) for m in (10.0, 10.2, 9.9)]
    b = [list(rng.normal(m, 0.05, 200)) for m in (11.0, 11.1, 10.9)]
    res = compare_arms(a, b)
    assert res.ratio == pytest.approx(res.center_b / res.center_a)
    single = compare_arms([a[0], a[1]], [b[0]])
    assert single.center_a == pytest.approx(np.median(a[0]))
    assert single.ratio == pytest.approx(single.center_b / single.center_a)
