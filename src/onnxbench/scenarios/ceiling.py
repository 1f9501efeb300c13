"""The generator's own ceiling, and the mark on results that come near it.

In Python, a load generator and a thread pool cost tens of microseconds a request (LoadGen
takes the GIL to call ``issue_query``; a worker takes it to pick a request up and report it),
so a fast model can be limited by the harness rather than by itself. Before each load point
the same generator, layout and batching drive a **no-op runtime** for a moment: the highest
rate the harness completes is its ceiling here and now. A result is marked harness-limited
(never reported as the model's) when

- its achieved rate is at least ``margin`` (default half) of that ceiling: the harness then
  spends at least as long per request as the model does; or
- the generator issued late: its issue delay (issued minus scheduled) at p99 is at least a
  quarter of the latency p99, so the latency is the generator's as much as the model's.
"""

from __future__ import annotations

from collections.abc import Callable

from onnxbench.core.load_record import Harness
from onnxbench.core.load_spec import LoadSpec
from onnxbench.measure.gcpause import GC_NOTE, gc_paused
from onnxbench.scenarios.analysis import Trace, analyse, issue_delay_ms
from onnxbench.scenarios.serving import Front

CEILING_QPS = 20000.0   # the open-loop rate asked of the no-op runtime
CEILING_S = 0.5
MARGIN = 0.5
LATE_SHARE = 0.25


def drive(spec: LoadSpec, front: Front, qps: float, duration_s: float, **kw) -> Trace:
    """One run of the spec's generator at ``qps`` (open loop) or its concurrency, with
    Python's cyclic garbage collector off for the window (``measure.gcpause``)."""
    with gc_paused():
        return _drive(spec, front, qps, duration_s, **kw)


def _drive(spec: LoadSpec, front: Front, qps: float, duration_s: float, **kw) -> Trace:
    if spec.name == "concurrency":
        from onnxbench.scenarios.closed_loop import run_closed_loop

        return run_closed_loop(front, spec.concurrency or 1, duration_s)
    if spec.name == "offline":
        from onnxbench.scenarios.loadgen import run_offline

        return run_offline(front, qps, duration_s, seed=spec.seed)
    if spec.arrival == "constant":
        from onnxbench.scenarios.arrivals import run_constant

        return run_constant(front, qps, duration_s, min_queries=kw.get("min_queries", 0),
                            max_outstanding=kw.get("max_outstanding", 0))
    from onnxbench.scenarios.loadgen import run_server

    return run_server(front, qps, duration_s, percentile=spec.percentile,
                      bound_ms=spec.bound_ms, seed=spec.seed, **kw)


def measure_ceiling(spec: LoadSpec, make_noop_front: Callable[[], Front], *,
                    qps: float = CEILING_QPS, duration_s: float = CEILING_S) -> tuple[float, bool]:
    """The no-op runtime's achieved rate through this spec's generator and layout, and
    whether it is only a lower bound (an open-loop generator that kept up with ``qps``)."""
    front = make_noop_front()
    front.start()
    try:
        trace = drive(spec, front, qps, duration_s, min_queries=0)
    finally:
        front.stop()
    achieved = analyse(trace).get("achieved_qps") or 0.0
    open_loop = spec.name in ("server", "peak")
    return float(achieved), bool(open_loop and achieved >= 0.95 * qps)


def harness_mark(achieved_qps: float | None, ceiling: tuple[float, bool] | None,
                 trace: Trace | None, latency_p99_ms: float | None, *,
                 margin: float = MARGIN) -> Harness:
    """The harness record of a load point (or a peak's best probe)."""
    issue50, issue99 = issue_delay_ms(trace) if trace is not None else (None, None)
    out = Harness(issue_delay_p50_ms=issue50, issue_delay_p99_ms=issue99, margin=margin,
                  python_gc=GC_NOTE)
    if ceiling is not None:
        out.ceiling_qps, out.ceiling_is_lower_bound = ceiling
        if achieved_qps and ceiling[0] > 0 and achieved_qps >= margin * ceiling[0]:
            out.reasons.append(
                f"achieved {achieved_qps:.0f} QPS is {100 * achieved_qps / ceiling[0]:.0f} % of "
                f"the generator's ceiling here ({'≥ ' if ceiling[1] else ''}{ceiling[0]:.0f} QPS "
                "with a no-op runtime, same generator and layout)")
    if issue99 is not None and latency_p99_ms and issue99 >= LATE_SHARE * latency_p99_ms:
        out.reasons.append(f"the generator issued late: issue delay p99 {issue99:.3g} ms is "
                           f"{100 * issue99 / latency_p99_ms:.0f} % of the latency p99 "
                           f"{latency_p99_ms:.3g} ms")
    out.limited = bool(out.reasons)
    return out


__all__ = ["CEILING_QPS", "MARGIN", "drive", "harness_mark", "measure_ceiling"]
