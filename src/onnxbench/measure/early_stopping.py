"""MLPerf LoadGen's early-stopping rule for a latency percentile, with scipy.

LoadGen (``loadgen/early_stopping.cc``, ``results.cc``) asks: given ``n`` queries of which
``t`` were over the latency bound, how sure are we that the true ``p``-quantile is under the
bound? If the true share of over-bound queries were exactly ``1 - p``, the chance of seeing
``t`` or fewer among ``n`` is ``BetaRegularized[p, n - t, 1 + t]`` = ``binom.cdf(t, n, 1 - p)``
(LoadGen's ``odds(h, t, p, d)`` with ``h = n - t`` and tolerance ``d = 0``). The run passes when
that chance is at most ``1 - c`` (LoadGen: ``c = 0.99``), so the **confidence** that the
percentile meets the bound is ``1 - binom.cdf(t, n, 1 - p)``.

``requests_needed(t, p, c)`` is LoadGen's ``find_min_passing`` plus ``t``: the fewest queries
that pass with ``t`` over the bound. With none over it, a p99 needs 459 queries at c = 0.99
(``ceil(ln(0.01) / ln(0.99))``): no scipy needed, so validating a spec stays cheap.
"""

from __future__ import annotations

import math
from functools import lru_cache

CONFIDENCE = 0.99  # LoadGen's early-stopping confidence (results.cc)


def confidence(n: int, over: int, percentile: float) -> float:
    """Confidence that the ``percentile`` (e.g. 99) latency is within the bound, given
    ``over`` of ``n`` requests above it (LoadGen's early-stopping odds, as 1 - odds)."""
    from scipy.stats import binom  # lazily: scipy.stats takes seconds to import

    if n <= 0:
        return 0.0
    p = percentile / 100.0
    return float(1.0 - binom.cdf(over, n, 1.0 - p))


@lru_cache(maxsize=1024)
def requests_needed(over: int, percentile: float, level: float = CONFIDENCE) -> int:
    """The fewest requests whose ``percentile`` passes early stopping at ``level`` when
    ``over`` of them are above the bound (LoadGen's ``h + t``)."""
    p = percentile / 100.0
    if not 0.0 < p < 1.0:
        raise ValueError(f"percentile must be in (0, 100), got {percentile}")
    lo = max(1, math.ceil(math.log(1.0 - level) / math.log(p)))  # the over == 0 answer
    if over == 0:
        return lo
    from scipy.stats import binom

    hi = lo
    while binom.cdf(over, hi + over, 1.0 - p) > 1.0 - level:
        hi *= 2
    while lo < hi:  # smallest h with binom.cdf(t, h + t, 1 - p) <= 1 - level
        mid = (lo + hi) // 2
        if binom.cdf(over, mid + over, 1.0 - p) <= 1.0 - level:
            hi = mid
        else:
            lo = mid + 1
    return lo + over


__all__ = ["CONFIDENCE", "confidence", "requests_needed"]
