"""One load case inside its worker: pre-check, output check, ceiling, the scenario, a Result.

The order, and why:
1. serving processes are forked first (processes layout), before any thread or session;
2. the case's runtime is prepared (timed: ``session_create_ms``) and measured one request at
   a time (the single-stream pre-check): a bound no single request can meet fails the case
   here, saying so with the single-stream percentile;
3. with more than one worker, outputs under concurrency are compared with sequential ones
   (``check_outputs``): a difference beyond tolerance fails the case with the difference;
4. the generator's ceiling is measured with a no-op runtime through the same layout;
5. the workers bind their calls and warm up; then the scenario runs and its trace becomes
   the ``load`` record, the latencies (``timing.latencies_ms``, from the scheduled arrival)
   and ``stats`` of the Result.

Before 1, the case's CPUs are split between the generator and the serving side when there
are enough (``affinity``): everything serving is started from the main thread pinned to the
serving CPUs, and each window's generator runs on its own.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from onnxbench.core.case import Case
from onnxbench.core.load_record import LoadRecord, Probe
from onnxbench.core.load_spec import INFEASIBLE, LoadSpec
from onnxbench.core.policy import MeasurePolicy
from onnxbench.core.result import Result, Timing
from onnxbench.measure.early_stopping import requests_needed
from onnxbench.model.bundle import Bundle
from onnxbench.scenarios.affinity import CpuPlan, plan_cpus
from onnxbench.scenarios.analysis import Trace, analyse, latencies_ms, quantile_ci, summary_of
from onnxbench.scenarios.ceiling import drive, harness_mark, measure_ceiling
from onnxbench.scenarios.context import N_CHECK_SAMPLES, Serving
from onnxbench.scenarios.peak import ProbeOutcome, find_peak

PRECHECK = MeasurePolicy(warmup=5, min_runs=20, max_runs=500, min_time_s=0.2, max_time_s=2.0)
CALIBRATE_S = 1.0
BACKLOG_S = 2.0  # open loop: stop issuing once this many seconds of arrivals wait (overload)


def run_load_case(case: Case, bundle: Bundle, runtime, base: dict[str, Any]) -> Result:
    """Measure one load point (``case.scenario``) and return its Result."""
    spec = _spec_of(case)
    serving = Serving(case, bundle, runtime)
    warmup = case.measure.warmup
    cpus = plan_cpus()
    cpus.serve()
    try:
        serving.fork_processes(warmup)
        t = time.perf_counter_ns()
        runtime.prepare(bundle, serving.options)
        session_ms = (time.perf_counter_ns() - t) / 1e6
        single, first_ms = _single_stream(serving)
        rec = _base_record(spec, single)
        rec.affinity = cpus.record
        problem = _infeasible(spec, single, case.runtime)
        if problem is None and _wants_check(spec):
            rec.check = _check(serving)
            problem = None if rec.check.passed else f"outputs under concurrency differ: " \
                                                    f"{rec.check.problem}"
        if problem is not None:
            return _result(case, base, runtime, rec, None, "failed", problem, session_ms, first_ms)
        ceiling = measure_ceiling(spec, serving.noop_front, cpus=cpus) if spec.ceiling else None
        front = serving.front(warmup)
        front.start()
        try:
            trace = _scenario(spec, front, rec, case.batch, ceiling, cpus)
        finally:
            front.stop()
        status, reason = _status(rec)
        if trace is not None:
            p99 = rec.latency_ms.p99 if rec.latency_ms else None
            rec.harness = harness_mark(rec.achieved_qps if spec.name != "peak" else
                                       (rec.peak.achieved_qps if rec.peak else None),
                                       ceiling, trace, p99, bound_ms=spec.bound_ms)
        return _result(case, base, runtime, rec, trace, status, reason, session_ms, first_ms)
    finally:
        serving.close()


def _spec_of(case: Case) -> LoadSpec:
    if case.scenario is None:
        raise ValueError(f"{case.case_id} has no load scenario")
    return case.scenario


def _single_stream(serving: Serving) -> tuple[dict[str, Any], float | None]:
    """One request at a time on the case's runtime (the pre-check, and the curve's origin)."""
    from onnxbench.measure.timer import measure

    rt = serving.runtimes[0]
    timing = measure(rt.bind(serving.inputs(1)), serving.sync(rt), PRECHECK)
    out: dict[str, Any] = dict(summary_of(timing.latencies_ms))
    out["percentiles_ms"] = {f"p{p:g}": float(np.percentile(timing.latencies_ms, p))
                             for p in (50, 90, 95, 99, serving.spec.percentile)}
    q = serving.spec.percentile
    out[f"p{q:g}_ci_ms"] = list(quantile_ci(np.sort(timing.latencies_ms), q / 100.0))
    return out, timing.first_run_ms


def _infeasible(spec: LoadSpec, single: dict[str, Any], runtime: str) -> str | None:
    """A bound no single request meets: no rate can meet it."""
    if spec.bound_ms is None:
        return None
    q = f"p{spec.percentile:g}"
    value, low = single["percentiles_ms"][q], single[f"{q}_ci_ms"][0]
    if low <= spec.bound_ms:  # infeasible only when even the CI's low end is above the bound
        return None
    return (f"bound {q} <= {spec.bound_ms:g} ms {INFEASIBLE} {q} {value:.3g} ms (95 % CI "
            f"from {low:.3g} ms; p50 {single['p50_ms']:.3g} ms) on {runtime}; use a bound "
            f"above {value:.3g} ms")


def _wants_check(spec: LoadSpec) -> bool:
    if spec.check_outputs is not None:
        return spec.check_outputs and spec.layout != "processes"
    return spec.n_workers > 1 and spec.layout != "processes"


def _check(serving: Serving):
    import threading

    from onnxbench.quality.parity import DEFAULT_ATOL, DEFAULT_RTOL
    from onnxbench.scenarios.check import check_outputs

    n = serving.spec.n_workers
    lock = threading.Lock() if serving.spec.layout == "lock" else None
    fns = [serving.run_fn(i, lock) for i in range(n)]
    samples = [serving.inputs(1, j) for j in range(N_CHECK_SAMPLES)]
    opts = serving.case.options
    return check_outputs(fns, samples, rtol=float(opts.get("rtol") or DEFAULT_RTOL),
                         atol=float(opts.get("atol") or DEFAULT_ATOL))


def _scenario(spec: LoadSpec, front, rec: LoadRecord, batch: int,
              ceiling: tuple[float, bool] | None, cpus: CpuPlan) -> Trace | None:
    """Run the scenario; fill ``rec``; return the trace its latencies come from."""
    if spec.name in ("peak", "offline"):
        capacity = _calibrate(spec, front, ceiling)
        callers = 2 * spec.n_workers * spec.max_batch
        rec.notes.append(f"calibration: {capacity:.0f} QPS with {callers} callers in a closed "
                         "loop for a moment")
        if spec.name == "peak":
            return _peak(spec, front, rec, batch, capacity, cpus)
        trace = drive(spec, front, capacity, spec.duration_s, cpus=cpus)
    else:
        trace = drive(spec, front, spec.qps or 0.0, spec.duration_s, cpus=cpus,
                      **_open_loop_kw(spec))
    _fill(rec, _analyse(spec, trace, batch, spec.qps))
    return trace


def _analyse(spec: LoadSpec, trace: Trace, batch: int, qps: float | None) -> dict[str, Any]:
    """The record's figures, the stationarity test included (at the target rate)."""
    return analyse(trace, batch=batch, percentile=spec.percentile, bound_ms=spec.bound_ms,
                   workers=spec.n_workers, target_qps=qps if spec.open_loop else None,
                   open_loop=spec.open_loop)


def _calibrate(spec: LoadSpec, front, ceiling: tuple[float, bool] | None) -> float:
    """The rate the layout sustains with every worker busy (closed loop, a moment): LoadGen
    sizes Offline by it, and the peak search starts at half of it."""
    from onnxbench.scenarios.closed_loop import run_closed_loop

    trace = run_closed_loop(front, 2 * spec.n_workers * spec.max_batch,
                            min(CALIBRATE_S, spec.duration_s / 4))
    achieved = analyse(trace).get("achieved_qps") or 1.0
    return max(1.0, min(achieved, ceiling[0]) if ceiling else achieved)


def _open_loop_kw(spec: LoadSpec) -> dict[str, Any]:
    if spec.name == "concurrency":
        return {}
    backlog = max(BACKLOG_S, 4 * (spec.bound_ms or 0) / 1000.0)
    return {"min_queries": requests_needed(0, spec.percentile),
            "max_outstanding": max(2000, int((spec.qps or 0.0) * backlog))}


def _probe(spec: LoadSpec, front, batch: int, cpus: CpuPlan, qps: float, phase: str,
           duration_s: float) -> ProbeOutcome:
    """One rate of the peak search: its bound, its queue, its utilisation."""
    kw = _open_loop_kw(spec.model_copy(update={"qps": qps}))
    trace = drive(spec, front, qps, duration_s, cpus=cpus, **kw)
    a = _analyse(spec, trace, batch, qps)
    bound, queue = a.get("bound"), a.get("stationarity")
    met = bool(bound and bound.met and not trace.overloaded and not a["n_errors"])
    why = None if met else (f"{a['n_errors']} requests failed" if a["n_errors"] else
                            "overloaded: the generator stopped issuing" if trace.overloaded
                            else bound.why_not if bound else "no request completed")
    return ProbeOutcome(Probe(target_qps=qps, achieved_qps=a.get("achieved_qps"),
                              value_ms=bound.value_ms if bound else None, met=met,
                              p50_ms=a["latency_ms"].p50 if a.get("latency_ms") else None,
                              confidence=bound.confidence if bound else None,
                              n=a["n_completed"], overloaded=trace.overloaded, phase=phase,
                              duration_s=duration_s, window_s=a.get("window_s"),
                              rho=queue.rho if queue else None,
                              capacity_qps=_capacity(spec, queue),
                              queue=queue.verdict if queue else None,
                              queue_slope=queue.queue_slope if queue else None, why_not=why),
                        (trace, a))


def _capacity(spec: LoadSpec, queue) -> float | None:
    """The capacity bound a probe offers the search (its upper confidence bound). None with
    dynamic batching: batches grow with the load, so a capacity measured at one rate
    understates what a higher one allows."""
    if queue is None or spec.batching:
        return None
    return queue.capacity_high_qps or queue.capacity_qps


def _peak(spec: LoadSpec, front, rec: LoadRecord, batch: int, capacity: float,
          cpus: CpuPlan) -> Trace | None:
    """Widen then bisect the rate; the best probe's trace is the case's latencies."""
    def probe(qps: float, phase: str, duration_s: float) -> ProbeOutcome:
        return _probe(spec, front, batch, cpus, qps, phase, duration_s)

    start = spec.qps or 0.5 * capacity
    peak, tried, best = find_peak(probe, start, bound_ms=spec.bound_ms or 0.0,
                                  percentile=spec.percentile, precision_pct=spec.precision_pct,
                                  duration_s=spec.duration_s, confirm_s=spec.confirm_s)
    rec.peak, rec.probes = peak, [t.probe for t in tried]
    if best is None:
        return None
    trace, a = best.detail
    _fill(rec, a)
    rec.target_qps = best.probe.target_qps
    return trace


def _fill(rec: LoadRecord, analysed: dict[str, Any]) -> None:
    for key, value in analysed.items():
        setattr(rec, key, rec.notes + value if key == "notes" else value)


def _base_record(spec: LoadSpec, single: dict[str, Any]) -> LoadRecord:
    return LoadRecord(scenario=spec.name, generator="", layout=spec.layout,
                      workers=spec.n_workers, max_batch=spec.max_batch,
                      max_delay_ms=spec.max_delay_ms if spec.batching else None,
                      arrival=spec.arrival if spec.name in ("server", "peak") else None,
                      target_qps=spec.qps if spec.name == "server" else None,
                      concurrency=spec.concurrency, single_stream=single)


def _status(rec: LoadRecord) -> tuple[str, str | None]:
    if rec.n_errors:
        return "failed", f"{rec.n_errors} of {rec.n_requests} requests failed: {rec.first_error}"
    if rec.scenario == "peak" and (rec.peak is None or rec.peak.qps is None):
        return "failed", rec.peak.reason if rec.peak else "the peak search found no rate"
    return "ok", None


def _result(case: Case, base: dict[str, Any], runtime, rec: LoadRecord, trace: Trace | None,
            status: str, reason: str | None, session_ms: float, first_ms: float | None) -> Result:
    from onnxbench.isolation.memory import peak_memory_mb
    from onnxbench.measure.stats import summarize

    lat = latencies_ms(trace) if trace is not None else []
    timing = Timing(session_create_ms=session_ms, first_run_ms=first_ms,
                    warmup_runs=case.measure.warmup,
                    stop_rule="peak search" if rec.scenario == "peak" else "duration",
                    timed_s=rec.window_s or None, latencies_ms=lat,
                    clock="time.perf_counter_ns (CLOCK_MONOTONIC), from each request's "
                          "scheduled arrival to its completion")
    # no IQR instability mark: under load the spread of latencies is what is measured (the
    # queue), not noise; the percentiles carry CIs and repeats show run-to-run noise
    stats = summarize(lat, unstable_iqr_ratio=float("inf")) if lat else None
    info = {**runtime.info(), **runtime.what_ran(),
            "layout": {"layout": rec.layout, "workers": rec.workers, "max_batch": rec.max_batch,
                       "max_delay_ms": rec.max_delay_ms}}
    return Result(status=status, reason=reason, timing=timing, stats=stats,
                  throughput=rec.items_per_s,
                  memory={**peak_memory_mb(), **runtime.device_memory()},
                  runtime_info=info, load=rec, **base)


__all__ = ["run_load_case"]
