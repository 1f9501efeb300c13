"""A trace of requests → the load record's figures.

Latency is completion minus **scheduled** arrival. Percentiles use numpy's linear method
(Hyndman-Fan type 7, as ``measure/stats.py``); their 95 % CIs are distribution-free order
statistics (binomial ranks), so a p99 from 300 requests shows how little it knows. Achieved
QPS is completed requests over the window from the first scheduled arrival to the last
completion (LoadGen's "completed samples per second" up to the end effect). In-flight is
counted from issue to completion; its mean is Little's law (sum of latencies / window).
Given the workers, each window's stationarity (``stationarity.assess``: the queue's trend,
ρ) is recorded and gates the bound: a growing queue is not met, whatever its percentile.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from onnxbench.core.load_record import (
    BoundCheck,
    LoadRecord,
    Quantiles,
    RequestLog,
    Stationarity,
)
from onnxbench.measure.early_stopping import CONFIDENCE, confidence, requests_needed
from onnxbench.scenarios.serving import Request
from onnxbench.scenarios.stationarity import assess

PERCENTILES = (50, 90, 95, 99)
CI_LEVEL = 0.95
MAX_LOGGED = 20_000  # requests whose times result.json keeps (every stride-th above it)


@dataclass
class Trace:
    """What a generator did: its requests (in issue order) and what it says about itself."""

    generator: str
    requests: list[Request]
    overloaded: bool = False
    loadgen: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def arrays(self) -> dict[str, np.ndarray]:
        """Per-request times (ns, int64) and batch sizes, completed requests only."""
        done = [r for r in self.requests if r.done]
        cols = {k: np.fromiter((getattr(r, k) for r in done), dtype=np.int64, count=len(done))
                for k in ("scheduled", "issued", "started", "done", "finished", "batch",
                          "worker")}
        cols["ok"] = np.fromiter((r.error is None for r in done), dtype=bool, count=len(done))
        return cols


def quantile_ci(x_sorted: np.ndarray, q: float, level: float = CI_LEVEL
                ) -> tuple[float, float | None]:
    """Order-statistic CI of the q-quantile: [x_(l), x_(u)] with binomial ranks.

    The upper end is None when n is too small for it (e.g. a p99 of 50 requests).
    """
    from scipy.stats import binom

    n = x_sorted.size
    alpha = (1.0 - level) / 2.0
    lo = int(binom.ppf(alpha, n, q))          # 0-based index of the lower order statistic
    hi = int(binom.ppf(1.0 - alpha, n, q))    # ranks of the upper one (1-based hi + 1)
    low = float(x_sorted[max(lo - 1, 0)])
    high = float(x_sorted[hi]) if hi < n else None
    return low, high


def quantiles(values_ms: np.ndarray) -> Quantiles | None:
    """p50/p90/p95/p99, mean, max, and each percentile's CI."""
    if values_ms.size == 0:
        return None
    xs = np.sort(values_ms)
    ps = np.percentile(xs, PERCENTILES, method="linear")
    ci = {f"p{p}": list(quantile_ci(xs, p / 100.0)) for p in PERCENTILES}
    return Quantiles(p50=float(ps[0]), p90=float(ps[1]), p95=float(ps[2]), p99=float(ps[3]),
                     mean=float(xs.mean()), max=float(xs[-1]), ci=ci)


def bound_check(latency_ms: np.ndarray, percentile: float, bound_ms: float,
                queue: Stationarity | None = None) -> BoundCheck:
    """Is the percentile within the bound (with LoadGen's early-stopping confidence), and
    was the queue not growing? A growing queue is not met whatever its percentile says."""
    n = int(latency_ms.size)
    value = float(np.percentile(latency_ms, percentile, method="linear")) if n else float("nan")
    over = int(np.count_nonzero(latency_ms > bound_ms))
    conf = confidence(n, over, percentile)
    within = bool(n and value <= bound_ms)
    growing = queue is not None and queue.verdict == "growing"
    why = None
    if not within:
        why = f"p{percentile:g} {value:.3g} ms > {bound_ms:g} ms" if n else "no request completed"
    elif growing:
        why = queue.reason if queue is not None else None
    return BoundCheck(percentile=percentile, bound_ms=bound_ms, value_ms=value,
                      met=within and not growing, percentile_met=within, why_not=why, over=over,
                      n=n, confidence=conf, early_stopping_met=conf >= CONFIDENCE,
                      requests_needed=requests_needed(over, percentile))


def in_flight(issued: np.ndarray, done: np.ndarray) -> int:
    """The most requests issued and not yet completed at any instant."""
    if issued.size == 0:
        return 0
    times = np.concatenate([issued, done])
    steps = np.concatenate([np.ones(issued.size, np.int64), -np.ones(done.size, np.int64)])
    order = np.lexsort((steps, times))  # at equal times a completion counts before an issue
    return int(np.cumsum(steps[order]).max())


def stride_for(n: int) -> int:
    """Keep every ``stride``-th request so at most MAX_LOGGED are written."""
    return max(1, -(-n // MAX_LOGGED))


def request_log(a: dict[str, np.ndarray], origin: int) -> RequestLog:
    """The per-request times (µs from ``origin``), every ``stride``-th request."""
    step = stride_for(int(a["done"].size))

    def us(key: str) -> list[int]:
        return ((a[key][::step] - origin) // 1000).astype(np.int64).tolist()

    own = not np.array_equal(a["finished"], a["done"])  # processes: the worker's own end
    return RequestLog(total=int(a["done"].size), stride=step, scheduled=us("scheduled"),
                      issued=us("issued"), started=us("started"), completed=us("done"),
                      finished=us("finished") if own else [],
                      batch=a["batch"][::step].tolist(), worker=a["worker"][::step].tolist())


def analyse(trace: Trace, *, batch: int = 1, percentile: float = 99.0,
            bound_ms: float | None = None, workers: int | None = None,
            target_qps: float | None = None, open_loop: bool = True) -> dict[str, Any]:
    """The load record's measured fields from a trace (a dict for ``LoadRecord(**...)``).

    With ``workers`` the window's stationarity (ρ at ``target_qps``, else the offered rate;
    the queue's trend when ``open_loop``) is tested and gates the bound."""
    a = trace.arrays()
    n_req, n_done = len(trace.requests), int(a["done"].size)
    errors = [r.error for r in trace.requests if r.error]
    out: dict[str, Any] = {"generator": trace.generator, "n_requests": n_req,
                           "n_completed": int(a["ok"].sum()), "n_errors": len(errors),
                           "first_error": errors[0] if errors else None,
                           "overloaded": trace.overloaded, "loadgen": trace.loadgen,
                           "notes": list(trace.notes)}
    if n_done == 0:
        return out
    origin = int(a["scheduled"].min())
    window_ns = int(a["done"].max()) - origin
    latency = (a["done"] - a["scheduled"]) / 1e6
    sched = np.sort(a["scheduled"])
    span = int(sched[-1] - sched[0])
    out.update(
        window_s=window_ns / 1e9,
        achieved_qps=out["n_completed"] / (window_ns / 1e9) if window_ns > 0 else None,
        offered_qps=(n_done - 1) / (span / 1e9) if span > 0 else None,
        latency_ms=quantiles(latency),
        service_ms=quantiles((a["done"] - a["started"]) / 1e6),
        queue_ms=quantiles((a["started"] - a["scheduled"]) / 1e6),
        in_flight_mean=float(latency.sum() / (window_ns / 1e6)) if window_ns > 0 else None,
        in_flight_max=in_flight(a["issued"], a["done"]),
        mean_batch=float(a["batch"].mean()),
        requests=request_log(a, origin))
    if out["achieved_qps"] is not None:
        out["items_per_s"] = out["achieved_qps"] * batch
    if workers is not None:
        out["stationarity"] = assess(a, workers=workers, target_qps=target_qps,
                                     open_loop=open_loop)
    if bound_ms is not None:
        out["bound"] = bound_check(latency, percentile, bound_ms, out.get("stationarity"))
    return out


def latencies_ms(trace: Trace) -> list[float]:
    """Completed requests' latencies from their scheduled arrival (ms), in issue order: all
    of them up to MAX_LOGGED, else every ``stride_for(n)``-th (as the request log)."""
    a = trace.arrays()
    return ((a["done"] - a["scheduled"])[::stride_for(int(a["done"].size))] / 1e6).tolist()


def issue_delay_ms(trace: Trace) -> tuple[float | None, float | None]:
    """Median and p99 of issued minus scheduled (the generator's own lateness)."""
    a = trace.arrays()
    if a["issued"].size == 0:
        return None, None
    d = (a["issued"] - a["scheduled"]) / 1e6
    p50, p99 = np.percentile(d, [50, 99], method="linear")
    return float(p50), float(p99)


def record(trace: Trace, base: dict[str, Any], **kw: Any) -> LoadRecord:
    """A LoadRecord from the fixed fields ``base`` (what was asked) and the trace."""
    return LoadRecord(**base, **analyse(trace, **kw))


def summary_of(values: Sequence[float]) -> dict[str, float]:
    """p50/p99/n of a list of ms latencies (the single-stream pre-check)."""
    x = np.asarray(values, dtype=float)
    p50, p99 = np.percentile(x, [50, 99], method="linear")
    return {"p50_ms": float(p50), "p99_ms": float(p99), "mean_ms": float(x.mean()),
            "n": int(x.size)}


__all__ = [
    "Trace",
    "analyse",
    "bound_check",
    "in_flight",
    "issue_delay_ms",
    "latencies_ms",
    "quantile_ci",
    "quantiles",
    "record",
    "summary_of",
]
