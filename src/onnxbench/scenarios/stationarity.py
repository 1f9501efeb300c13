"""Was a load window's queue stable? The evidence that a rate is sustainable, not just met.

Near saturation (utilisation ρ → 1) an open-loop server's queue grows slowly, and a short
window ends before its tail shows it: a percentile from such a window says nothing about the
next minute (MLPerf's Server scenario asks 600 s for that reason). So every open-loop window
is tested on what it measured, per request (ordered by scheduled arrival):

- **capacity**: ρ = rate × mean busy time per request / workers, the busy time being a
  worker's started → finished (a batch's call counted once, shared by its requests), the
  rate the generator's target (else the offered one). By Little's law the mean number of
  busy workers is rate × busy ≤ workers in any stable system, so a ρ whose lower
  confidence bound is ≥ 1 means the workers cannot keep up: the queue grows.
  ``capacity_qps`` = workers / busy time is the rate no search needs to probe past.
- **trend**: the window is cut into ``BINS`` bins of arrival time; the median queueing delay
  (scheduled → started) of each bin, and the median latency (scheduled → completed), are
  regressed on time (``scipy.stats.linregress``). The queue has memory, so the slope's
  standard error is inflated by the residuals' lag-1 autocorrelation; the queue *grew*
  when the slope's one-sided ``CONFIDENCE`` lower bound is above zero and the growth over
  the window is at least one busy time. Bin medians: one stall that drains is a spike in
  one bin, not a trend. The backlog at the last arrival (requests not yet completed) and
  the first and last thirds' mean queueing delay are kept as the evidence's plain words.

Verdict: ``growing`` (either test; the record says why: "queue grew 3.1 ms/s over the 10 s
window ..."), else ``near`` (ρ ≥ ``NEAR_RHO``: a small rise in load takes it over), else
``stable``; ``unknown`` when the window holds too few requests to bin (ρ still applies).
Closed loops and offline runs cannot queue without bound (callers wait for replies): their
verdict is ``n/a``, with ρ. A queue whose relaxation time (~ busy / (1 − √ρ)² for one
worker) exceeds the window cannot be told from a growing one by any test: such a window
is ``growing`` if its queue rose, and a longer window settles it.
"""

from __future__ import annotations

import math

import numpy as np

from onnxbench.core.load_record import Stationarity
from onnxbench.core.numbers import sig

NEAR_RHO = 0.9
BINS = 10
MIN_PER_BIN = 5
MIN_BINS = 5
CONFIDENCE = 0.999
METHOD = (f"median per bin of arrival time ({BINS} bins) regressed on time (scipy "
          f"linregress), SE inflated by the residuals' lag-1 autocorrelation; growing when the "
          f"one-sided {100 * CONFIDENCE:g} % lower bound of the slope is above 0 and the growth "
          f"over the window is at least one busy time, or when ρ's lower bound is >= 1")


def _bins(t_s: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """``bins`` equal bins of arrival time: their edges, and each request's bin."""
    edges = np.linspace(float(t_s.min()), float(t_s.max()), bins + 1)
    return edges, np.clip(np.searchsorted(edges, t_s, side="right") - 1, 0, bins - 1)


def trend(t_s: np.ndarray, values: np.ndarray, bins: int,
          confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    """Slope of ``values`` (per bin medians) against ``t_s`` and its one-sided lower bound,
    in values' unit per second; (None, None) with fewer than 3 non-empty bins."""
    from scipy import stats

    if t_s.size == 0 or bins < 3:
        return None, None
    edges, idx = _bins(t_s, bins)
    xs, ms = [], []
    for k in range(bins):
        sel = values[idx == k]
        if sel.size:
            xs.append((edges[k] + edges[k + 1]) / 2.0)
            ms.append(float(np.median(sel)))
    if len(xs) < 3 or xs[-1] == xs[0]:
        return None, None
    x, m = np.asarray(xs), np.asarray(ms)
    fit = stats.linregress(x, m)
    resid = m - (fit.intercept + fit.slope * x)
    r1 = 0.0
    if resid.std() > 0:
        r1 = float(np.clip(np.corrcoef(resid[:-1], resid[1:])[0, 1], 0.0, 0.9))
    se = float(fit.stderr) * math.sqrt((1.0 + r1) / (1.0 - r1))
    low = float(fit.slope) - float(stats.t.ppf(confidence, len(x) - 2)) * se
    return float(fit.slope), low


def _busy_ci(t_s: np.ndarray, busy_ms: np.ndarray, bins: int) -> tuple[float, float | None]:
    """Mean busy time per request and the half-width of its one-sided bound (from bins'
    means, which absorb the correlation of neighbouring requests); None without bins."""
    from scipy import stats

    mean = float(busy_ms.mean())
    if bins < 3:
        return mean, None
    _, idx = _bins(t_s, bins)
    means = np.array([busy_ms[idx == k].mean() for k in range(bins) if np.any(idx == k)])
    if means.size < 3:
        return mean, None
    t = float(stats.t.ppf(CONFIDENCE, means.size - 1))
    half = t * float(means.std(ddof=1)) / math.sqrt(means.size)
    return mean, half


def assess(a: dict[str, np.ndarray], *, workers: int, target_qps: float | None = None,
           open_loop: bool = True) -> Stationarity | None:
    """The stationarity record of a window's completed requests (``Trace.arrays()``)."""
    n = int(a["scheduled"].size)
    if n < 2:
        return None
    order = np.argsort(a["scheduled"], kind="stable")
    sched = a["scheduled"][order]
    origin = int(sched[0])
    t_s = (sched - origin) / 1e9
    span = float(t_s[-1])
    done = a["done"][order]
    finished = a.get("finished", a["done"])[order]
    busy_ms = (finished - a["started"][order]) / 1e6 / np.maximum(a["batch"][order], 1)
    bins = min(BINS, n // MIN_PER_BIN)
    rate = _rate(open_loop, target_qps, n, span, int(done.max()) - origin)
    out = Stationarity(verdict="n/a", window_s=span, workers=workers, bins=bins,
                       confidence=CONFIDENCE, method=METHOD)
    _utilisation(out, t_s, busy_ms, rate, bins)
    if not open_loop:
        out.reason = "closed loop: each caller waits for its reply, so no queue can grow"
        return out
    queue_ms = (a["started"][order] - sched) / 1e6
    out.queue_slope, out.queue_slope_low = trend(t_s, queue_ms, bins)
    out.latency_slope, out.latency_slope_low = trend(t_s, (done - sched) / 1e6, bins)
    third = max(1, n // 3)
    out.queue_first_third_ms = float(queue_ms[:third].mean())
    out.queue_last_third_ms = float(queue_ms[-third:].mean())
    out.backlog = int(np.count_nonzero(done > sched[-1]))
    out.backlog_s = out.backlog / rate if rate else None
    out.verdict, out.reason = verdict(out, n)
    return out


def _rate(open_loop: bool, target: float | None, n: int, span_s: float,
          window_ns: int) -> float | None:
    if open_loop:
        return target if target else ((n - 1) / span_s if span_s > 0 else None)
    return n / (window_ns / 1e9) if window_ns > 0 else None


def _utilisation(out: Stationarity, t_s: np.ndarray, busy_ms: np.ndarray, rate: float | None,
                 bins: int) -> None:
    busy, half = _busy_ci(t_s, busy_ms, bins)
    out.rate_qps, out.busy_ms = rate, busy
    if busy <= 0:
        return
    out.capacity_qps = out.workers / (busy / 1000.0)
    low = busy - half if half is not None else None
    out.capacity_high_qps = out.workers / (low / 1000.0) if low and low > 0 else None
    if rate:
        out.rho = rate * busy / 1000.0 / out.workers
        if half is not None:
            out.rho_ci = [rate * max(busy - half, 0.0) / 1000.0 / out.workers,
                          rate * (busy + half) / 1000.0 / out.workers]


def verdict(s: Stationarity, n: int) -> tuple[str, str | None]:
    """growing | near | stable | unknown, and the one-line reason."""
    floor = (s.busy_ms or 0.0) / max(s.window_s, 1e-9)  # one busy time over the window
    for what, slope, low in (("queue", s.queue_slope, s.queue_slope_low),
                             ("latency", s.latency_slope, s.latency_slope_low)):
        if slope is not None and low is not None and low > 0 and slope >= floor:
            return "growing", _grew(s, what, slope, low)
    low_rho = s.rho_ci[0] if s.rho_ci else None
    if low_rho is not None and low_rho >= 1.0 and s.rho is not None:
        return "growing", (
            f"offered load exceeds the workers' capacity: ρ {s.rho:.3g} (lower bound "
            f"{low_rho:.3g}) = {sig(s.rate_qps, 4)} QPS × {s.busy_ms:.3g} ms busy per request / "
            f"{s.workers} worker{'s' if s.workers != 1 else ''}, capacity ≈ "
            f"{sig(s.capacity_qps, 4)} QPS")
    if s.bins < MIN_BINS:
        return "unknown", (f"{n} requests: too few to test the queue's trend (needs "
                           f"{MIN_BINS * MIN_PER_BIN})")
    if s.rho is not None and s.rho >= NEAR_RHO:
        return "near", (f"ρ {s.rho:.2f} ≥ {NEAR_RHO:g}: near saturation, a small rise in "
                        "load takes it over")
    return "stable", None


def _grew(s: Stationarity, what: str, slope: float, low: float) -> str:
    text = (f"{what} grew {slope:.3g} ms/s over the {s.window_s:.3g} s window (one-sided "
            f"{100 * s.confidence:g} % lower bound {low:.3g} ms/s; mean queueing delay "
            f"{s.queue_first_third_ms:.3g} ms in the first third, {s.queue_last_third_ms:.3g} "
            f"ms in the last; {s.backlog} requests waiting at the last arrival")
    if what == "latency":
        text += "; the service slowed while the queue did not grow"
    return text + (f"; ρ {s.rho:.3g})" if s.rho is not None else ")")


__all__ = ["BINS", "CONFIDENCE", "MIN_BINS", "MIN_PER_BIN", "NEAR_RHO", "assess", "trend",
           "verdict"]
