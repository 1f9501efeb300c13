"""The generators, the generator's own ceiling, and the mark on results the harness limits.

In Python, a load generator and a thread pool cost tens of microseconds a request (LoadGen
takes the GIL to call ``issue_query``; a worker takes it to pick a request up and report it),
so a fast model can be limited by the harness rather than by itself. Before each load point
the same generator, layout and batching drive a **no-op runtime** for a moment: the highest
rate the harness completes is its ceiling here and now, and the report says what it was.
A result is marked harness-limited (never reported as the model's) only when the harness
limits it:

- its achieved rate is at least ``margin`` (default half) of that ceiling: the harness then
  spends at least as long per request as the model does; or
- the generator fell behind its schedule: its issue delay (issued minus scheduled) grew
  over the window (the trend test of ``stationarity``) by at least ``LATE_SHARE`` of the
  latency p99; or
- with a bound, the generator's issue delay p99 is at least ``LATE_SHARE`` of the bound:
  whether the bound is met is then the generator's call as much as the model's.

A generator that is late by a steady fraction of a millisecond does not limit a light
model at a low rate (a 0.01 ms model at 100 QPS has a latency of a few tenths of a ms,
nearly all of it LoadGen's wake-up): the record keeps that share (``issue_share``) as
information, not as a mark.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from onnxbench.core.load_record import Harness
from onnxbench.core.load_spec import LoadSpec
from onnxbench.measure.gcpause import GC_NOTE, gc_paused
from onnxbench.scenarios.affinity import CpuPlan
from onnxbench.scenarios.analysis import Trace, analyse, issue_delay_ms
from onnxbench.scenarios.serving import Front
from onnxbench.scenarios.stationarity import BINS, MIN_PER_BIN, trend

CEILING_QPS = 20000.0   # the open-loop rate asked of the no-op runtime
CEILING_S = 0.5
MARGIN = 0.5
LATE_SHARE = 0.25


def _closed_loop(spec: LoadSpec, front: Front, qps: float, duration_s: float, **kw) -> Trace:
    from onnxbench.scenarios.closed_loop import run_closed_loop

    return run_closed_loop(front, spec.concurrency or 1, duration_s)


def _offline(spec: LoadSpec, front: Front, qps: float, duration_s: float, **kw) -> Trace:
    from onnxbench.scenarios.loadgen import run_offline

    return run_offline(front, qps, duration_s, seed=spec.seed)


def _own_open_loop(spec: LoadSpec, front: Front, qps: float, duration_s: float,
                   **kw) -> Trace:
    from onnxbench.scenarios.arrivals import run_open_loop

    return run_open_loop(front, qps, duration_s, min_queries=kw.get("min_queries", 0),
                         max_outstanding=kw.get("max_outstanding", 0), arrival=spec.arrival,
                         seed=spec.seed)


def _loadgen_server(spec: LoadSpec, front: Front, qps: float, duration_s: float,
                    **kw) -> Trace:
    from onnxbench.scenarios.loadgen import run_server

    return run_server(front, qps, duration_s, percentile=spec.percentile,
                      bound_ms=spec.bound_ms, seed=spec.seed, **kw)


Driver = Callable[..., Trace]
GENERATORS: dict[tuple[str, str], Driver] = {
    ("concurrency", "closed-loop"): _closed_loop,
    ("offline", "loadgen"): _offline,
    ("server", "loadgen"): _loadgen_server,
    ("peak", "loadgen"): _loadgen_server,
    ("server", "onnxbench"): _own_open_loop,
    ("peak", "onnxbench"): _own_open_loop,
}


def drive(spec: LoadSpec, front: Front, qps: float, duration_s: float, *,
          cpus: CpuPlan | None = None, **kw: Any) -> Trace:
    """One run of the spec's generator at ``qps`` (open loop) or its concurrency, with
    Python's cyclic garbage collector off for the window (``measure.gcpause``) and, where
    there are CPUs enough, the generator's thread pinned apart from the serving ones."""
    run = GENERATORS[(spec.name, spec.generator_name)]
    with gc_paused():
        if cpus is None:
            return run(spec, front, qps, duration_s, **kw)
        with cpus.generating():
            return run(spec, front, qps, duration_s, **kw)


def measure_ceiling(spec: LoadSpec, make_noop_front: Callable[[], Front], *,
                    qps: float = CEILING_QPS, duration_s: float = CEILING_S,
                    cpus: CpuPlan | None = None) -> tuple[float, bool]:
    """The no-op runtime's achieved rate through this spec's generator and layout, and
    whether it is only a lower bound (an open-loop generator that kept up with ``qps``)."""
    front = make_noop_front()
    front.start()
    try:
        trace = drive(spec, front, qps, duration_s, cpus=cpus, min_queries=0)
    finally:
        front.stop()
    achieved = analyse(trace).get("achieved_qps") or 0.0
    return float(achieved), bool(spec.open_loop and achieved >= 0.95 * qps)


def fell_behind_ms(trace: Trace) -> tuple[float, float] | None:
    """(slope ms/s, growth ms over the window) of the issue delay when it grew significantly
    (the stationarity trend test); None when it did not."""
    a = trace.arrays()
    n = int(a["issued"].size)
    if n < 3 * MIN_PER_BIN:
        return None
    order = np.argsort(a["scheduled"], kind="stable")
    t_s = (a["scheduled"][order] - a["scheduled"][order][0]) / 1e9
    slope, low = trend(t_s, (a["issued"][order] - a["scheduled"][order]) / 1e6,
                       min(BINS, n // MIN_PER_BIN))
    if slope is None or low is None or low <= 0:
        return None
    return slope, slope * float(t_s[-1])


def harness_mark(achieved_qps: float | None, ceiling: tuple[float, bool] | None,
                 trace: Trace | None, latency_p99_ms: float | None, *,
                 bound_ms: float | None = None, margin: float = MARGIN) -> Harness:
    """The harness record of a load point (or a peak's best probe)."""
    issue50, issue99 = issue_delay_ms(trace) if trace is not None else (None, None)
    out = Harness(issue_delay_p50_ms=issue50, issue_delay_p99_ms=issue99, margin=margin,
                  python_gc=GC_NOTE)
    if issue99 is not None and latency_p99_ms:
        out.issue_share = issue99 / latency_p99_ms
    if ceiling is not None:
        out.ceiling_qps, out.ceiling_is_lower_bound = ceiling
        if achieved_qps and ceiling[0] > 0 and achieved_qps >= margin * ceiling[0]:
            out.reasons.append(
                f"achieved {achieved_qps:.0f} QPS is {100 * achieved_qps / ceiling[0]:.0f} % of "
                f"the generator's ceiling here ({'≥ ' if ceiling[1] else ''}{ceiling[0]:.0f} QPS "
                "with a no-op runtime, same generator and layout)")
    behind = fell_behind_ms(trace) if trace is not None else None
    if behind is not None and latency_p99_ms and behind[1] >= LATE_SHARE * latency_p99_ms:
        out.reasons.append(f"the generator fell behind its schedule: its issue delay grew "
                           f"{behind[0]:.3g} ms/s ({behind[1]:.3g} ms over the window, latency "
                           f"p99 {latency_p99_ms:.3g} ms)")
    if issue99 is not None and bound_ms and issue99 >= LATE_SHARE * bound_ms:
        out.reasons.append(f"the generator issued late: issue delay p99 {issue99:.3g} ms is "
                           f"{100 * issue99 / bound_ms:.0f} % of the bound {bound_ms:g} ms")
    out.limited = bool(out.reasons)
    return out


__all__ = ["CEILING_QPS", "GENERATORS", "MARGIN", "drive", "fell_behind_ms", "harness_mark",
           "measure_ceiling"]
