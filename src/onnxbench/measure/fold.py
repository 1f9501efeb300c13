"""One fold: the results of one point (its worker processes) become one set of figures.

Every consumer (``summary.csv``, the report, ``compare``) calls ``fold_results``; none folds
on its own, so they cannot disagree.

A point is measured in ``k`` worker processes (the ``_rK`` cases of one point id: a suite's
``processes`` / ``repeats``, or an A/B run's blocks). Two processes of the same model differ by
several percent, so the unit of the point's uncertainty is the process:

* ``median`` is the geometric mean of the per-process medians (the centre every ratio uses:
  a ratio of two points is exactly the ratio of their ``median``\\ s);
* with ``k >= 2`` its CI is the t-interval on the log of the process medians (k - 1 degrees
  of freedom), so it carries the between-process variance; with ``k == 1`` it is that one
  process's bootstrap CI and says so (``ci_method``): the between-process variance is not
  sampled;
* ``mean`` is the mean of every latency (throughput = batch / mean); p90 / p95 / p99 are
  percentiles of the pooled latencies with their order-statistic CI (``tails``);
* ``process_rsd`` is the sample SD of the log process medians (≈ the relative SD between
  processes); ``run_noise`` pools it over the points of a run: the run's own run-to-run noise,
  recorded in the summary and used by ``compare``.

Unstable: a process whose IQR/median is above the policy's threshold, or process medians
that spread more than that threshold (max − min over the median). The number stays; the
flag and its reason go with it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from scipy import stats as sps

from onnxbench.core.case import point_id
from onnxbench.core.result import Result
from onnxbench.measure.tails import Tail, tails

CI_LEVEL = 0.95
ACROSS = "t-interval on log process medians ({k} processes)"
WITHIN = "bootstrap within one process (between-process variance not sampled)"
NOISE_METHOD = ("pooled SD of log process medians over the run's points with ≥ 2 processes "
                "(≈ relative SD between worker processes)")


class Spread(Protocol):
    """What a comparison of two points reads: the centre, the processes behind it and their
    spread. A ``Folded`` point is one; so is a published summary row read back."""

    @property
    def median(self) -> float | None: ...

    @property
    def n_processes(self) -> int: ...

    @property
    def process_rsd(self) -> float | None: ...


@dataclass
class Folded:
    """The figures of one point; ``median`` is None when no process has numbers."""

    status: str
    reason: str | None = None
    n_results: int = 0
    n: int = 0
    median: float | None = None
    ci: tuple[float, float] | None = None
    ci_method: str | None = None
    mean: float | None = None
    tails: dict[str, Tail] = field(default_factory=dict)
    process_medians: list[float] = field(default_factory=list)
    process_repeats: list[int] = field(default_factory=list)
    process_rsd: float | None = None
    unstable: bool = False
    unstable_reason: str | None = None

    @property
    def n_processes(self) -> int:
        return len(self.process_medians)

    def tail(self, name: str) -> float | None:
        t = self.tails.get(name)
        return t.value if t else None

    def tail_notes(self) -> list[str]:
        return [note for name, t in self.tails.items() if (note := t.note(name))]


@dataclass(frozen=True)
class Noise:
    """A run's between-process noise: SD of log process medians, pooled, and its df."""

    rsd: float
    df: int
    points: int
    method: str = NOISE_METHOD

    def to_dict(self) -> dict[str, Any]:
        return {"between_process_rsd": self.rsd, "df": self.df, "points": self.points,
                "method": self.method}

    @classmethod
    def from_dict(cls, doc: dict[str, Any] | None) -> Noise | None:
        if not doc or doc.get("between_process_rsd") is None or not doc.get("df"):
            return None
        return cls(float(doc["between_process_rsd"]), int(doc["df"]), int(doc.get("points", 0)))


def by_point(results: Iterable[Result]) -> dict[str, list[Result]]:
    """Results grouped by point id (sorted), each group in process order."""
    groups: dict[str, list[Result]] = {}
    for r in sorted(results, key=lambda r: (point_id(r.case_id), r.case.repeat)):
        groups.setdefault(point_id(r.case_id), []).append(r)
    return groups


def has_numbers(result: Result) -> bool:
    return result.status == "ok" and (result.stats is not None or bool(result.timing.latencies_ms))


def _median(result: Result) -> float:
    if result.stats is not None:
        return float(result.stats.p50)
    return float(np.median(result.timing.latencies_ms))


def _status(results: Sequence[Result], ok: Sequence[Result]) -> tuple[str, str | None]:
    if not ok:
        first = results[0]
        if first.status == "ok":  # ok but no numbers at all: say so rather than invent one
            return "failed", "no latencies recorded"
        return first.status, first.reason
    bad = [r for r in results if not has_numbers(r)]
    if bad:
        return "ok", (f"{len(bad)} of {len(results)} processes {bad[0].status}: "
                      f"{bad[0].reason}")
    return "ok", None


def median_ci(log_medians: np.ndarray, level: float = CI_LEVEL) -> tuple[float, float, float]:
    """(centre, low, high) from the log process medians: exp of the mean and its t-interval."""
    k = len(log_medians)
    centre = float(log_medians.mean())
    if k < 2:
        return math.exp(centre), math.exp(centre), math.exp(centre)
    se = float(log_medians.std(ddof=1)) / math.sqrt(k)
    half = float(sps.t.ppf(0.5 + level / 2, k - 1)) * se
    return math.exp(centre), math.exp(centre - half), math.exp(centre + half)


def _unstable(ok: Sequence[Result], medians: np.ndarray) -> str | None:
    reasons = [r.stats.unstable_reason or "wide spread (IQR/median above threshold)"
               for r in ok if r.stats is not None and r.stats.unstable]
    if reasons:
        return reasons[0]
    if len(medians) >= 2:
        threshold = ok[0].case.measure.unstable_iqr_ratio
        spread = float((medians.max() - medians.min()) / np.median(medians))
        if spread > threshold:
            return f"process medians spread {spread:.3f} of the median > {threshold:g}"
    return None


def fold_results(results: Iterable[Result]) -> Folded:
    """Fold the results of one point (any order; its processes) into one ``Folded``."""
    results = sorted(results, key=lambda r: r.case.repeat)
    if not results:
        raise ValueError("fold_results needs at least one result")
    ok = [r for r in results if has_numbers(r)]
    status, reason = _status(results, ok)
    out = Folded(status, reason, n_results=len(results))
    if not ok:
        return out
    medians = np.array([_median(r) for r in ok])
    out.process_medians = medians.tolist()
    out.process_repeats = [r.case.repeat for r in ok]
    logs = np.log(medians)
    if len(ok) >= 2:
        out.median, lo, hi = median_ci(logs)
        out.ci, out.ci_method = (lo, hi), ACROSS.format(k=len(ok))
        out.process_rsd = float(logs.std(ddof=1))
    else:
        out.median, out.ci_method = float(medians[0]), WITHIN
        st = ok[0].stats
        out.ci = (float(st.median_ci_low), float(st.median_ci_high)) if st else \
            (out.median, out.median)
    _pooled(out, ok)
    unstable = _unstable(ok, medians)
    if unstable:
        out.unstable, out.unstable_reason = True, unstable
    return out


def _pooled(out: Folded, ok: Sequence[Result]) -> None:
    """Mean, n and tails from every latency (per-process stats where latencies are absent)."""
    lats = [np.asarray(r.timing.latencies_ms, dtype=float) for r in ok]
    if all(len(x) for x in lats):
        pooled = np.concatenate(lats)
        out.n, out.mean, out.tails = int(pooled.size), float(pooled.mean()), tails(pooled)
        return
    # stats only (no raw latencies kept): n-weighted mean; tails without CIs
    stats = [r.stats for r in ok if r.stats is not None]
    ns = [float(st.n) for st in stats]
    out.n = int(sum(ns))
    out.mean = float(np.dot(ns, [st.mean for st in stats]) / sum(ns))
    for name in ("p90", "p95", "p99"):
        value = float(np.median([getattr(st, name) for st in stats]))
        out.tails[name] = Tail(value, None, None, out.n, 10**9)


def run_noise(folds: Iterable[Folded]) -> Noise | None:
    """The pooled between-process SD (log scale) over points with ≥ 2 processes; None if none."""
    return pool_noise((f.process_rsd, f.n_processes) for f in folds
                      if f.n_processes >= 2 and f.process_rsd is not None)


def pool_noise(spreads: Iterable[tuple[float, int]]) -> Noise | None:
    """Pool (SD of the log process medians, processes) of several points into one ``Noise``:
    the sum of squares is SD² · (k − 1) per point; None when no point has 2 processes. The
    same pooling from ``Folded`` points (``run_noise``) or from a summary's rows."""
    ss, df, points = 0.0, 0, 0
    for rsd, k in spreads:
        if k >= 2:
            ss += float(rsd) ** 2 * (k - 1)
            df += k - 1
            points += 1
    if df == 0:
        return None
    return Noise(math.sqrt(ss / df), df, points)
