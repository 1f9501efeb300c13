"""Statistics of steady-state latencies: the figures a result reports and the stopping rule's CI.

Two confidence intervals of the median live here, for two different jobs:

* ``summarize`` reports a seeded **bootstrap** (percentile) 95 % CI of the median: robust,
  distribution-free, and the figure people expect in a report.
  Above ``BOOTSTRAP_MAX_N`` latencies it reports the **order-statistic (binomial)** CI
  instead (``order_median_ci``): the two agree for large samples, and resampling 2000 times
  costs O(2000·n) (seconds at 10^5 latencies, paid by every worker after its loop); the
  result's ``ci_method`` says which was used.
* ``median_ci_halfwidth_pct`` is the cheap **order-statistic (binomial)** 95 % CI of the
  median that the timing loop calls between iterations to decide whether the target
  precision is reached: one ``np.partition`` pass, no resampling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from onnxbench.core.result import Stats
from onnxbench.measure.tails import order_ranks

PERCENTILE_METHOD = "linear (numpy default, Hyndman-Fan type 7)"
BOOTSTRAP_RESAMPLES = 2000
CI_LEVEL = 0.95
CI_METHOD = f"bootstrap (percentile, {BOOTSTRAP_RESAMPLES} resamples, seeded)"
BOOTSTRAP_MAX_N = 20_000  # above: the order-statistic CI (same answer, O(n))
ORDER_CI_METHOD = (f"order statistics (binomial, distribution-free; used above "
                   f"{BOOTSTRAP_MAX_N} latencies)")
_BOOTSTRAP_CHUNK_ELEMENTS = 2_000_000  # bounds the resample matrix to ~16 MB per chunk


def summarize(latencies_ms: Sequence[float], *, unstable_iqr_ratio: float = 0.25,
              seed: int = 0) -> Stats:
    """Summary statistics of ``latencies_ms`` (every raw latency, in ms).

    ``unstable`` is set, with a reason, when IQR/median exceeds ``unstable_iqr_ratio``:
    a wide spread is reported, never hidden. ``seed`` makes the bootstrap CI reproducible.
    """
    x = np.asarray(latencies_ms, dtype=np.float64)
    if x.ndim != 1 or x.size == 0:
        raise ValueError("summarize needs at least one latency")
    if not np.all(np.isfinite(x)):
        raise ValueError("latencies must be finite")
    n = int(x.size)
    p25, p50, p75, p90, p95, p99 = np.percentile(x, [25, 50, 75, 90, 95, 99], method="linear")
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if n > 1 else 0.0
    iqr = float(p75 - p25)
    if n > BOOTSTRAP_MAX_N:
        (ci_low, ci_high), ci_method = order_median_ci(x), ORDER_CI_METHOD
    else:
        (ci_low, ci_high), ci_method = bootstrap_median_ci(x, seed=seed), CI_METHOD
    unstable, reason = _stability(iqr, float(p50), unstable_iqr_ratio)
    return Stats(
        n=n, mean=mean, std=std, min=float(x.min()), p50=float(p50), p90=float(p90),
        p95=float(p95), p99=float(p99), max=float(x.max()), iqr=iqr,
        cv=std / mean if mean > 0 else 0.0,
        median_ci_low=ci_low, median_ci_high=ci_high, ci_level=CI_LEVEL,
        percentile_method=PERCENTILE_METHOD, ci_method=ci_method,
        unstable=unstable, unstable_reason=reason,
    )


def _stability(iqr: float, median: float, threshold: float) -> tuple[bool, str | None]:
    """Whether the spread is too wide to trust the figure, and why."""
    if median <= 0:
        return (iqr > 0, "median is zero but latencies vary" if iqr > 0 else None)
    ratio = iqr / median
    if ratio > threshold:
        return True, f"IQR/median = {ratio:.3f} > {threshold:g}"
    return False, None


def bootstrap_median_ci(x: np.ndarray, *, seed: int = 0,
                        resamples: int = BOOTSTRAP_RESAMPLES,
                        level: float = CI_LEVEL) -> tuple[float, float]:
    """Percentile-bootstrap CI of the median, seeded and chunked so 10k samples stay fast.

    Resampling draws indices into the *sorted* sample: the median of a resample is then a
    partition of small integers, which is cheaper than partitioning floats.
    """
    n = x.size
    if n == 1:
        return float(x[0]), float(x[0])
    xs = np.sort(x)
    rng = np.random.default_rng(seed)
    chunk = max(1, _BOOTSTRAP_CHUNK_ELEMENTS // n)
    medians = np.empty(resamples)
    for start in range(0, resamples, chunk):
        rows = min(chunk, resamples - start)
        idx = rng.integers(0, n, size=(rows, n), dtype=np.int32 if n < 2**31 else np.int64)
        medians[start:start + rows] = _row_medians(xs, idx)
    alpha = (1.0 - level) / 2
    lo, hi = np.percentile(medians, [100 * alpha, 100 * (1 - alpha)], method="linear")
    return float(lo), float(hi)


def _order_ci_indices(n: int, level: float) -> tuple[int, int] | None:
    """0-based indices of the binomial CI's order statistics [x_(r), x_(n-r+1)]; None when n
    is too small for the level."""
    r = order_ranks(n, 0.5, level)[0] if n >= 2 else 0  # symmetric: upper rank n - r + 1
    return (r - 1, n - r) if r >= 1 else None


def order_median_ci(x: np.ndarray, level: float = CI_LEVEL) -> tuple[float, float]:
    """Distribution-free binomial CI of the median, [x_(r), x_(n-r+1)]: one partition."""
    idx = _order_ci_indices(int(x.size), level)
    if idx is None:
        return float(np.min(x)), float(np.max(x))
    part = np.partition(x, idx)
    return float(part[idx[0]]), float(part[idx[1]])


def _row_medians(xs_sorted: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Median of ``xs_sorted[idx_row]`` for each row; indices order like values (xs sorted)."""
    n = idx.shape[1]
    mid = n // 2
    if n % 2:
        part = np.partition(idx, mid, axis=1)
        return xs_sorted[part[:, mid]]
    part = np.partition(idx, (mid - 1, mid), axis=1)
    return 0.5 * (xs_sorted[part[:, mid - 1]] + xs_sorted[part[:, mid]])


def median_ci_halfwidth_pct(latencies: Sequence[float] | np.ndarray,
                            level: float = CI_LEVEL) -> float:
    """Half-width of the order-statistic CI of the median, in % of the median.

    Method: distribution-free binomial CI [x_(r), x_(n-r+1)]. Cheap (one partition, cached
    rank), so the timing loop can call it every few iterations outside the timed region.
    Unit-free: works on raw nanosecond ints as well as on ms. ``inf`` when n is too small
    for the level or the median is zero.
    """
    x = np.asarray(latencies)
    n = int(x.size)
    idx = _order_ci_indices(n, level)
    if idx is None:
        return math.inf
    lo_i, hi_i = idx
    mid = n // 2
    kth = sorted({lo_i, hi_i, mid, mid - 1 if n % 2 == 0 else mid})
    part = np.partition(x, kth)
    median = float(part[mid]) if n % 2 else 0.5 * (float(part[mid - 1]) + float(part[mid]))
    if median <= 0:
        return math.inf
    return 100.0 * (float(part[hi_i]) - float(part[lo_i])) / 2.0 / median
