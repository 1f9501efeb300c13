"""The ratio B/A of two latencies with its CI, and the verdict every comparison shares.

An ``Estimate`` is a log ratio with its standard error and degrees of freedom; where it came
from (interleaved block pairs, two runs' process medians) is its ``method``. ``judge`` turns
it into an ``ABResult`` at a given error rate: the t-interval exp(d ± t·se), the p-value of
"no change", and the verdict:

* ``equivalent``: the whole CI lies within ±threshold of 1;
* ``faster`` / ``slower``: the whole CI lies below / above 1 (and it is not equivalent);
* ``cannot tell``: otherwise; ``resolvable_pct`` says the smallest difference this
  measurement could resolve (the CI's half-width, in %).

A family of m comparisons is judged at alpha / m each (Bonferroni): every CI of the family
then holds simultaneously with at least 1 - alpha, and ``p_adjusted`` = min(1, m·p) agrees with
the CI (p_adjusted < alpha exactly when the CI excludes 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from scipy import stats as sps

from onnxbench.core.numbers import sig

VERDICTS = ("faster", "slower", "equivalent", "cannot tell")


@dataclass(frozen=True)
class Estimate:
    """log(B/A) ± se with ``df`` degrees of freedom (inf: normal); centres in ms."""

    log_ratio: float
    se: float
    df: float
    n_a: int
    n_b: int
    method: str
    center_a: float | None = None
    center_b: float | None = None
    note: str | None = None


@dataclass(frozen=True)
class ABResult:
    """One A/B answer; ``ratio`` = B/A (> 1: B is slower). CI and p are None when the
    measurement cannot bound the ratio at all (``note`` says why)."""

    ratio: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    p_adjusted: float | None
    verdict: str
    significant: bool
    method: str
    n_a: int
    n_b: int
    threshold: float
    alpha: float = 0.05
    level: float = 0.95          # the confidence level the CI was computed at
    family: int = 1              # comparisons in the family (Bonferroni m)
    resolvable_pct: float | None = None
    note: str | None = None
    center_a: float | None = None
    center_b: float | None = None

    @property
    def change_pct(self) -> float | None:
        return None if self.ratio is None else (self.ratio - 1.0) * 100.0

    def verdict_text(self) -> str:
        """"cannot tell (resolvable ±3.8 %)", or the bare verdict."""
        if self.verdict == "cannot tell" and self.resolvable_pct is not None:
            return f"cannot tell (resolvable {resolvable_str(self.resolvable_pct)})"
        return self.verdict

    def to_dict(self) -> dict:
        return {**asdict(self), "change_pct": self.change_pct, "verdict_text": self.verdict_text()}


RESOLVABLE_CAP_PCT = 1000.0  # beyond it a half-width says only "unbounded" (2 pairs, say)


def resolvable_str(pct: float, number: Callable[[float], str] = lambda v: sig(v, 2)) -> str:
    """"±3.8 %" (``number`` formats the value); "> ±1000 %" past the cap, where t quantiles
    of 1 degree of freedom and a Bonferroni level give widths like ±1e29 % that read as a
    bug, not as a measurement (the exact value stays in the data)."""
    if pct > RESOLVABLE_CAP_PCT:
        return f"> ±{RESOLVABLE_CAP_PCT:.0f} %"
    return f"±{number(pct)} %"


def cis_overlap(a: tuple[float, float] | Sequence[float],
                b: tuple[float, float] | Sequence[float]) -> bool:
    """Do two (low, high) confidence intervals overlap? Every table, sentence and published
    figure calls two medians whose CIs overlap a tie (within noise), never a win or a loss."""
    return a[0] <= b[1] and b[0] <= a[1]


def verdict_of(ci_low: float, ci_high: float, threshold: float) -> str:
    """The verdict of a CI of B/A against a ±threshold margin (see the module docstring)."""
    if 1 - threshold <= ci_low and ci_high <= 1 + threshold:
        return "equivalent"
    if ci_low > 1:
        return "slower"
    if ci_high < 1:
        return "faster"
    return "cannot tell"


def quantile(df: float, alpha: float) -> float:
    """Two-sided critical value of Student's t (normal for infinite df)."""
    if math.isinf(df):
        return float(sps.norm.isf(alpha / 2))
    return float(sps.t.isf(alpha / 2, df))


def judge(est: Estimate, *, threshold: float, alpha: float = 0.05, family: int = 1,
          level_alpha: float | None = None) -> ABResult:
    """``est`` at error rate ``level_alpha`` (default alpha / family) with its verdict."""
    a = level_alpha if level_alpha is not None else alpha / max(1, family)
    d, se = est.log_ratio, est.se
    if se > 0:
        half = quantile(est.df, a) * se
        z = abs(d) / se
        p = float(2 * (sps.norm.sf(z) if math.isinf(est.df) else sps.t.sf(z, est.df)))
    else:
        half, p = 0.0, (1.0 if d == 0 else 0.0)
    lo, hi = math.exp(d - half), math.exp(d + half)
    p_adj = min(1.0, p * alpha / a) if a > 0 else 1.0
    verdict = verdict_of(lo, hi, threshold)
    return ABResult(ratio=math.exp(d), ci_low=lo, ci_high=hi, p_value=p, p_adjusted=p_adj,
                    verdict=verdict, significant=lo > 1 or hi < 1,
                    method=est.method, n_a=est.n_a, n_b=est.n_b, threshold=threshold,
                    alpha=alpha, level=1 - a, family=family,
                    resolvable_pct=(math.exp(half) - 1) * 100, note=est.note,
                    center_a=est.center_a, center_b=est.center_b)


def unresolved(*, method: str, n_a: int, n_b: int, threshold: float, note: str,
               center_a: float | None = None, center_b: float | None = None,
               alpha: float = 0.05) -> ABResult:
    """A comparison whose uncertainty cannot be measured: ``cannot tell``, with the reason."""
    ratio = center_b / center_a if center_a and center_b else None
    return ABResult(ratio=ratio, ci_low=None, ci_high=None, p_value=None, p_adjusted=None,
                    verdict="cannot tell", significant=False, method=method, n_a=n_a, n_b=n_b,
                    threshold=threshold, alpha=alpha, note=note, center_a=center_a,
                    center_b=center_b)
