"""Tail latency (p90 / p95 / p99) with a distribution-free CI and the samples behind it.

Method: the order-statistic (binomial) confidence interval of a quantile. For ``n``
independent samples, the number falling at or below the true q-quantile is Binomial(n, q),
so the interval [x_(l), x_(u)] covers it with probability F(u-1) - F(l-1), with F the
Binomial(n, q) CDF. ``l`` and ``u`` are chosen so that each tail keeps at most
(1 - level) / 2. No distribution is assumed.

The upper end exists only when q^n <= (1 - level) / 2: a p99 needs at least 368 samples for a
two-sided 95 % interval (p95: 72, p90: 36). Below that the estimate is reported with its
lower bound only and flagged ``too few samples`` (MLPerf LoadGen's early-stopping idea: a
percentile claim needs a minimum number of queries before it can be bounded at all).
Pooled latencies of several processes are treated as one sample here: the tail CI is the
within-run uncertainty of the tail, not a run-to-run band.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
from scipy.stats import binom

TAIL_LEVEL = 0.95
QUANTILES = {"p90": 0.90, "p95": 0.95, "p99": 0.99}
TAIL_METHOD = "order statistics (binomial), distribution-free; pooled over processes"


@dataclass(frozen=True)
class Tail:
    """One percentile: its value, its CI (None where n cannot bound it) and n behind it."""

    value: float
    ci_low: float | None
    ci_high: float | None
    n: int
    min_n: int  # samples needed for a two-sided CI at this level

    @property
    def enough(self) -> bool:
        return self.n >= self.min_n

    def note(self, name: str) -> str | None:
        """"p99 from n=120: too few samples for a CI (needs ≥ 368)", or None when bounded."""
        if self.enough:
            return None
        return f"{name} from n={self.n}: too few samples for a CI (needs ≥ {self.min_n})"

    def to_dict(self) -> dict:
        return {**asdict(self), "enough": self.enough}


def min_samples(q: float, level: float = TAIL_LEVEL) -> int:
    """The smallest n for which the q-quantile has a two-sided order-statistic CI."""
    return math.ceil(math.log((1.0 - level) / 2.0) / math.log(q) - 1e-9)


@lru_cache(maxsize=4096)
def order_ranks(n: int, q: float, level: float = TAIL_LEVEL) -> tuple[int, int]:
    """1-based ranks (l, u) of the CI [x_(l), x_(u)]; l = 0 or u = n + 1 where unbounded."""
    tail = (1.0 - level) / 2.0
    # largest lo with P(B <= lo - 1) <= tail
    lo = int(binom.ppf(tail, n, q))
    while lo > 0 and binom.cdf(lo - 1, n, q) > tail:
        lo -= 1
    while binom.cdf(lo, n, q) <= tail:
        lo += 1
    # smallest u with P(B <= u - 1) >= 1 - tail
    u = int(binom.ppf(1.0 - tail, n, q)) + 1
    while u > 1 and binom.cdf(u - 2, n, q) >= 1.0 - tail:
        u -= 1
    return lo, min(u, n + 1)


def order_ci(x_sorted: np.ndarray, q: float, level: float = TAIL_LEVEL
             ) -> tuple[float | None, float | None]:
    """The order-statistic CI [x_(l), x_(u)] of the q-quantile of a sorted sample; an end
    is None where the sample is too small for it (a p99 of 50 values has no upper end)."""
    n = int(x_sorted.size)
    lo_rank, hi_rank = order_ranks(n, q, level)
    return (float(x_sorted[lo_rank - 1]) if lo_rank >= 1 else None,
            float(x_sorted[hi_rank - 1]) if hi_rank <= n else None)


def tail(latencies: Sequence[float] | np.ndarray, q: float, level: float = TAIL_LEVEL) -> Tail:
    """The q-quantile (linear interpolation, as every percentile here) with its CI."""
    x = np.sort(np.asarray(latencies, dtype=float))
    n = int(x.size)
    if n == 0:
        raise ValueError("tail needs at least one latency")
    value = float(np.percentile(x, 100 * q, method="linear"))
    lo, hi = order_ci(x, q, level)
    return Tail(value, lo, hi, n, min_samples(q, level))


def tails(latencies: Sequence[float] | np.ndarray, level: float = TAIL_LEVEL) -> dict[str, Tail]:
    """p90, p95 and p99 of one (pooled) sample."""
    return {name: tail(latencies, q, level) for name, q in QUANTILES.items()}
