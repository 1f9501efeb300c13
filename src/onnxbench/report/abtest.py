"""A/B answers with statistics: is B faster, slower, no different, or equivalent to A?

The test runs at the level that carries the noise. On a shared machine run-to-run drift is
far larger than the spread inside one run, so a test on thousands of raw latencies calls any
drift "significant". With repeats (A and B interleaved by the runner so drift hits both), the
unit is one repeat: Welch's t-test on the log of each repeat's median; the ratio of medians
B/A is exp(mean log B - mean log A) (the ratio of geometric means of the repeat medians) and
its 95 % CI comes from the same Welch t interval. The effect size is Hedges' g on those logs.

With a single repeat per arm drift cannot be separated from the effect: the fallback uses the
raw latencies (Mann-Whitney U p-value, CI of the median ratio from order-statistic CIs of each
median) and is deliberately conservative: it calls faster/slower only when the difference is
significant *and* its whole CI lies beyond the threshold, and says "within-run only".

Verdicts (``threshold`` is the practical margin, e.g. 0.05 for ±5 %):
- ``equivalent``: the whole CI of the ratio lies within [1 - threshold, 1 + threshold];
- ``faster`` / ``slower``: otherwise, when the Holm-adjusted p-value is below alpha;
- ``no significant difference``: otherwise.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Sequence

import numpy as np
from scipy import stats as sps

WITHIN_RUN = "within-run only (no repeats): drift not accounted for"
METHOD_REPEATS = "Welch t-test on log per-repeat medians"
METHOD_RAW = "Mann-Whitney U on raw latencies (single repeat)"


@dataclass(frozen=True)
class ABResult:
    """One A/B comparison; ``ratio`` = B/A (> 1: B is slower)."""

    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    p_adjusted: float
    effect_size: float     # Hedges' g on log repeat medians (or rank-biserial r, raw fallback)
    effect_measure: str
    verdict: str
    significant: bool
    method: str
    n_a: int
    n_b: int
    threshold: float
    alpha: float = 0.05
    note: str | None = None
    # the two latencies the ratio compares (ms): the geometric mean of the per-repeat
    # medians, or with a single repeat the median of each arm's first repeat
    center_a: float | None = None
    center_b: float | None = None

    @property
    def change_pct(self) -> float:
        return (self.ratio - 1.0) * 100.0

    def to_dict(self) -> dict:
        return {**asdict(self), "change_pct": self.change_pct}


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (step-down, monotone, capped at 1), in input order."""
    p = np.asarray(p_values, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        adjusted[idx] = running
    return adjusted.tolist()


def _hedges_g(la: np.ndarray, lb: np.ndarray) -> float:
    na, nb = len(la), len(lb)
    pooled = ((na - 1) * la.var(ddof=1) + (nb - 1) * lb.var(ddof=1)) / (na + nb - 2)
    diff = lb.mean() - la.mean()
    if pooled <= 0:
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)
    correction = 1 - 3 / (4 * (na + nb) - 9)
    return float(diff / math.sqrt(pooled) * correction)


def _welch_repeats(med_a: np.ndarray, med_b: np.ndarray, alpha: float) -> tuple[float, float, float, float]:
    """(log ratio, CI low, CI high, p) from Welch's t on log repeat medians."""
    la, lb = np.log(med_a), np.log(med_b)
    diff = float(lb.mean() - la.mean())
    va, vb = la.var(ddof=1) / len(la), lb.var(ddof=1) / len(lb)
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, diff, diff, (1.0 if diff == 0 else 0.0)
    df = (va + vb) ** 2 / (va ** 2 / (len(la) - 1) + vb ** 2 / (len(lb) - 1))
    half = float(sps.t.ppf(1 - alpha / 2, df)) * se
    p = float(2 * sps.t.sf(abs(diff) / se, df))
    return diff, diff - half, diff + half, p


def _median_log_ci(x: np.ndarray, alpha: float) -> tuple[float, float]:
    """Distribution-free CI of the median by order statistics (binomial), on log scale."""
    s = np.sort(x)
    n = len(s)
    lo = int(sps.binom.ppf(alpha / 2, n, 0.5))
    hi = min(n - 1, int(sps.binom.isf(alpha / 2, n, 0.5)))
    return math.log(s[max(lo - 1, 0)]), math.log(s[hi])


def _raw_single(a: np.ndarray, b: np.ndarray, alpha: float) -> tuple[float, float, float, float, float]:
    """(log ratio, CI low, CI high, p, rank-biserial r) from raw latencies of one repeat each."""
    diff = math.log(float(np.median(b)) / float(np.median(a)))
    la_lo, la_hi = _median_log_ci(a, alpha)
    lb_lo, lb_hi = _median_log_ci(b, alpha)
    z = sps.norm.ppf(1 - alpha / 2)
    se = math.hypot((la_hi - la_lo) / (2 * z), (lb_hi - lb_lo) / (2 * z))
    u = sps.mannwhitneyu(b, a, alternative="two-sided")
    r = float(2 * u.statistic / (len(a) * len(b)) - 1)
    return diff, diff - z * se, diff + z * se, float(u.pvalue), r


def compare_arms(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]], *,
                 threshold: float = 0.05, alpha: float = 0.05) -> ABResult:
    """Compare arm B with arm A; each arm is a list of repeats, each repeat its raw latencies.

    The returned p_adjusted equals p_value; call ``adjust`` on a family of results to
    Holm-correct them (and recompute the verdicts).
    """
    reps_a = [np.asarray(r, float) for r in a if len(r)]
    reps_b = [np.asarray(r, float) for r in b if len(r)]
    if not reps_a or not reps_b:
        raise ValueError("each arm needs at least one repeat with latencies")
    if len(reps_a) >= 2 and len(reps_b) >= 2:
        med_a = np.array([np.median(r) for r in reps_a])
        med_b = np.array([np.median(r) for r in reps_b])
        diff, lo, hi, p = _welch_repeats(med_a, med_b, alpha)
        center_a, center_b = (float(np.exp(np.mean(np.log(m)))) for m in (med_a, med_b))
        eff, measure, method, note = _hedges_g(np.log(med_a), np.log(med_b)), "Hedges' g (log repeat medians)", METHOD_REPEATS, None
    else:
        # one repeat per arm at best: compare the first repeat of each (run side by side),
        # never a pool of several repeats against one, which would mix drift into the ratio
        pa, pb = reps_a[0], reps_b[0]
        diff, lo, hi, p, eff = _raw_single(pa, pb, alpha)
        center_a, center_b = float(np.median(pa)), float(np.median(pb))
        measure, method, note = "rank-biserial r (raw latencies)", METHOD_RAW, WITHIN_RUN
    res = ABResult(ratio=math.exp(diff), ci_low=math.exp(lo), ci_high=math.exp(hi), p_value=p,
                   p_adjusted=p, effect_size=eff, effect_measure=measure, verdict="",
                   significant=False, method=method, n_a=len(reps_a), n_b=len(reps_b),
                   threshold=threshold, alpha=alpha, note=note, center_a=center_a,
                   center_b=center_b)
    return _with_verdict(res)


def _with_verdict(res: ABResult) -> ABResult:
    significant = res.p_adjusted < res.alpha
    lo_ok, hi_ok = 1 - res.threshold, 1 + res.threshold
    if lo_ok <= res.ci_low and res.ci_high <= hi_ok:
        verdict = "equivalent"
    elif significant and (res.note is None or res.ci_low > hi_ok or res.ci_high < lo_ok):
        verdict = "slower" if res.ratio > 1 else "faster"
    else:
        verdict = "no significant difference"
    return replace(res, significant=significant, verdict=verdict)


def adjust(results: Sequence[ABResult]) -> list[ABResult]:
    """Holm-correct a family of comparisons and recompute their verdicts."""
    if not results:
        return []
    adj = holm([r.p_value for r in results])
    return [_with_verdict(replace(r, p_adjusted=p)) for r, p in zip(results, adj)]
