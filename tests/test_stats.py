"""Statistics against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from onnxbench.measure.stats import bootstrap_median_ci, median_ci_halfwidth_pct, summarize

# x = [1, 2, 3, 4, 10]: n = 5, mean = 20/5 = 4; squared deviations 9+4+1+0+36 = 50,
# var (ddof=1) = 50/4 = 12.5. Linear percentiles sit at position p*(n-1) = 4p of the sorted
# list: p25 -> pos 1 -> 2; p50 -> 3; p75 -> 4; p90 -> pos 3.6 -> 4 + 0.6*6 = 7.6;
# p95 -> 4 + 0.8*6 = 8.8; p99 -> 4 + 0.96*6 = 9.76. IQR = 4 - 2 = 2; IQR/median = 2/3.
X = [4.0, 1.0, 10.0, 3.0, 2.0]


def test_summary_matches_hand_computed_values():
    s = summarize(X, unstable_iqr_ratio=1.0)
    assert s.n == 5
    assert s.mean == pytest.approx(4.0)
    assert s.std == pytest.approx(math.sqrt(12.5))
    assert (s.min, s.max) == (1.0, 10.0)
    assert s.p50 == pytest.approx(3.0)
    assert s.p90 == pytest.approx(7.6)
    assert s.p95 == pytest.approx(8.8)
    assert s.p99 == pytest.approx(9.76)
    assert s.iqr == pytest.approx(2.0)
    assert s.cv == pytest.approx(math.sqrt(12.5) / 4.0)
    assert "linear" in s.percentile_method
    assert "bootstrap" in s.ci_method
    assert s.unstable is False and s.unstable_reason is None


def test_unstable_flag_when_iqr_over_median_exceeds_threshold():
    s = summarize(X, unstable_iqr_ratio=0.25)  # 2/3 > 0.25
    assert s.unstable is True
    assert "IQR/median" in s.unstable_reason and "0.667" in s.unstable_reason
    tight = summarize([1.0, 1.01, 0.99, 1.0, 1.02], unstable_iqr_ratio=0.25)
    assert tight.unstable is False


def test_bootstrap_ci_brackets_median_and_is_seeded():
    x = np.arange(1, 1001, dtype=float)  # median 500.5
    lo, hi = bootstrap_median_ci(x, seed=3)
    assert lo < 500.5 < hi
    # the CI of a median of n=1000 uniform ranks spans about 2*1.96*sqrt(n)/2 ~ 62 ranks
    assert 30 < hi - lo < 100
    assert bootstrap_median_ci(x, seed=3) == (lo, hi)
    s = summarize(x, seed=3)
    assert (s.median_ci_low, s.median_ci_high) == (lo, hi)


def test_single_sample_and_bad_input():
    s = summarize([2.5])
    assert s.n == 1 and s.std == 0.0 and s.median_ci_low == s.median_ci_high == 2.5
    with pytest.raises(ValueError):
        summarize([])
    with pytest.raises(ValueError):
        summarize([1.0, float("nan")])


def test_order_statistic_ci_halfwidth_by_hand():
    # n=5: [min, max] covers the median with 1 - 2/32 = 0.9375 < 0.95 -> undefined
    assert median_ci_halfwidth_pct([1, 2, 3, 4, 5]) == math.inf
    # n=6: [min, max] covers with 1 - 2/64 = 0.969 -> CI [1, 6], median 3.5, half-width 2.5
    assert median_ci_halfwidth_pct([6, 1, 5, 2, 4, 3]) == pytest.approx(100 * 2.5 / 3.5)
    assert median_ci_halfwidth_pct([7] * 50) == 0.0


def test_order_statistic_ci_narrows_with_n():
    rng = np.random.default_rng(0)
    small = median_ci_halfwidth_pct(rng.lognormal(0, 0.2, 50))
    large = median_ci_halfwidth_pct(rng.lognormal(0, 0.2, 5000))
    assert large < small / 3  # width shrinks ~ 1/sqrt(n): 10x


def test_large_samples_use_the_order_statistic_ci_which_agrees_with_the_bootstrap():
    """Above BOOTSTRAP_MAX_N latencies the report's CI is the binomial order-statistic one
    (O(n), no 2000 resamples in every worker); both estimate the same interval."""
    from onnxbench.measure.stats import BOOTSTRAP_MAX_N, order_median_ci

    rng = np.random.default_rng(1)
    x = rng.lognormal(0.0, 0.3, BOOTSTRAP_MAX_N)
    b_lo, b_hi = bootstrap_median_ci(x, seed=0)
    o_lo, o_hi = order_median_ci(x)
    width = b_hi - b_lo
    assert o_lo < np.median(x) < o_hi
    assert abs(o_lo - b_lo) < 0.25 * width and abs(o_hi - b_hi) < 0.25 * width
    big = summarize(np.concatenate([x, x[:10]]))
    assert big.ci_method.startswith("order statistics")
    assert big.median_ci_low < big.p50 < big.median_ci_high
    assert summarize(x).ci_method.startswith("bootstrap")
