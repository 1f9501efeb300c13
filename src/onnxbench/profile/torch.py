"""``torch.profiler`` on a bound PyTorch call (eager or compiled): operators by self time.

A scheduled profiler (``schedule(warmup=2, active=runs)``, one ``prof.step()`` per call)
marks each run with a ``ProfilerStep*`` annotation; every operator event (``aten::addmm``,
``aten::softmax``, ``cudaLaunchKernel``...) falls in one step, and an operator's *self* time
excludes the operators it calls, so the self times add up without double counting. Each
operator's time is its median over the steps (one noisy step cannot dominate, as the
timed loop's median does not either). On the CPU the record's times are
``self_cpu_time_total``; with CUDA they are ``self_device_time_total`` (the kernels' device
time, CUPTI), with the host side kept beside in ``host_by_op_type``. The profiled runs come
after their own warm-up, in a profiler context of their own: the timed loop never runs with
it on.
"""

from __future__ import annotations

import bisect
import statistics
import time
from collections.abc import Callable
from typing import Any

from onnxbench.profile.record import group_nodes, make_record

TOOL = "torch.profiler (self time per operator per profiler step)"
PROFILER_WARMUP = 2  # steps the profiler runs and discards before its active ones


def _self_device_us(event: Any) -> float:
    for name in ("self_device_time_total", "self_cuda_time_total"):
        value = getattr(event, name, None)
        if value is not None:
            return float(value)
    return 0.0


def _host_op(event: Any) -> bool:
    """A synchronous host-side event (an operator, a runtime call). Device kernels are events
    too, but their time is already each launching operator's device time: counting them
    again would count every kernel twice."""
    kind = getattr(event, "device_type", None)
    return not getattr(event, "is_async", False) and (kind is None or str(kind).endswith("CPU"))


def per_step_rows(events: list[Any], device: str) -> tuple[list[dict], list[dict], int]:
    """(rows, host rows, steps) from ``prof.events()``: each operator's self time per
    profiler step, folded by the MEDIAN over steps (a noisy step cannot dominate); the
    ``ProfilerStep*`` annotations themselves (Python and loop overhead) are left out."""
    steps = sorted((e for e in events if e.name.startswith("ProfilerStep")),
                   key=lambda e: e.time_range.start)
    starts = [s.time_range.start for s in steps]
    host: dict[str, list[float]] = {}
    dev: dict[str, list[float]] = {}
    calls: dict[str, int] = {}
    n = len(steps) or 1
    for e in events:
        if e.name.startswith("ProfilerStep") or not _host_op(e):
            continue
        k = max(bisect.bisect_right(starts, e.time_range.start) - 1, 0) if steps else 0
        host.setdefault(e.name, [0.0] * n)[k] += float(e.self_cpu_time_total)
        dev.setdefault(e.name, [0.0] * n)[k] += _self_device_us(e)
        calls[e.name] = calls.get(e.name, 0) + 1

    def rows(times: dict[str, list[float]], provider: str) -> list[dict]:
        return [{"name": k, "op_type": k, "provider": provider,
                 "ms": statistics.median(v) / 1000.0, "calls": calls[k] / n,
                 "count": calls[k] / n} for k, v in times.items() if any(v)]

    return rows(dev if device == "cuda" else host, device), rows(host, "cpu"), len(steps)


def record_from_events(events: list[Any], *, runs: int, warmup: int, run_ms: float | None,
                       device: str) -> dict[str, Any]:
    """The profile record from ``prof.events()`` of a scheduled profiler (module docstring)."""
    rows, host, steps = per_step_rows(events, device)
    runs = steps or runs
    if device != "cuda":
        return make_record(rows, tool=TOOL, runs=runs, warmup=warmup, run_ms=run_ms,
                           clock="self_cpu_time_total: host time of each operator, children "
                                 "excluded; median over profiled runs")
    host_total = sum(r["ms"] for r in host)
    return make_record(rows, tool=TOOL, runs=runs, warmup=warmup, run_ms=run_ms,
                       clock="self_device_time_total: device (CUPTI) time of each operator's "
                             "kernels, median over profiled runs; host time in host_by_op_type",
                       host_by_op_type=group_nodes(host, "op_type", host_total),
                       host_sum_ms=round(host_total, 6))


def profile_callable(call: Callable[[], Any], *, runs: int = 20, warmup: int = 5,
                     device: str = "cpu", sync: Callable[[], None] | None = None) -> dict[str, Any]:
    """Profile ``runs`` calls of ``call`` with torch.profiler (CPU activity, plus CUDA on a
    CUDA device): ``warmup`` unprofiled calls, then the profiler's own warm-up steps
    (discarded), then ``runs`` active steps."""
    import torch
    from torch.profiler import ProfilerActivity, profile, schedule

    for _ in range(warmup):
        call()
        if sync is not None:
            sync()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    plan = schedule(wait=0, warmup=PROFILER_WARMUP, active=runs, repeat=1)
    walls = []
    with torch.inference_mode(), profile(activities=activities, schedule=plan) as prof:
        for step in range(PROFILER_WARMUP + runs):
            t0 = time.perf_counter_ns()
            call()
            if sync is not None:
                sync()
            if step >= PROFILER_WARMUP:
                walls.append((time.perf_counter_ns() - t0) / 1e6)
            prof.step()
    return record_from_events(list(prof.events()), runs=runs, warmup=warmup,
                              run_ms=statistics.median(walls), device=device)
