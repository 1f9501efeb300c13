"""``torch.profiler`` on a bound PyTorch call (eager or compiled): operators by self time.

``key_averages()`` folds the events by operator name (``aten::addmm``, ``aten::softmax``,
``cudaLaunchKernel``...); an operator's *self* time excludes the operators it calls, so the
self times add up without double counting. On the CPU the record's times are
``self_cpu_time_total``; with CUDA they are ``self_device_time_total`` (the kernels' device
time, CUPTI), with the host side kept beside in ``host_by_op_type``. The profiled runs come
after their own warm-up, in a profiler context of their own: the timed loop never runs with
it on.
"""

from __future__ import annotations

import statistics
import time
from typing import Any, Callable

from onnxbench.profile.record import group_nodes, make_record

TOOL = "torch.profiler (key_averages, self time per operator)"


def _self_device_us(event: Any) -> float:
    for name in ("self_device_time_total", "self_cuda_time_total"):
        value = getattr(event, name, None)
        if value is not None:
            return float(value)
    return 0.0


def record_from_averages(averages: list[Any], *, runs: int, warmup: int, run_ms: float | None,
                         device: str) -> dict[str, Any]:
    """The profile record from ``key_averages()`` rows (``key``, ``count``, self times in µs)."""
    cuda = device == "cuda"
    host = [{"name": e.key, "op_type": e.key, "provider": "cpu",
             "ms": float(e.self_cpu_time_total) / runs / 1000.0,
             "calls": e.count / runs, "count": e.count / runs} for e in averages]
    if not cuda:
        return make_record([r for r in host if r["ms"] > 0 or r["calls"]], tool=TOOL,
                           clock="self_cpu_time_total: host time of each operator, "
                                 "children excluded", runs=runs, warmup=warmup, run_ms=run_ms)
    rows = [{"name": e.key, "op_type": e.key, "provider": "cuda",
             "ms": _self_device_us(e) / runs / 1000.0, "calls": e.count / runs,
             "count": e.count / runs} for e in averages if _self_device_us(e) > 0]
    host_total = sum(r["ms"] for r in host)
    return make_record(rows, tool=TOOL, runs=runs, warmup=warmup, run_ms=run_ms,
                       clock="self_device_time_total: device (CUPTI) time of each operator's "
                             "kernels; host time in host_by_op_type",
                       host_by_op_type=group_nodes(host, "op_type", host_total),
                       host_sum_ms=round(host_total, 6))


def profile_callable(call: Callable[[], Any], *, runs: int = 20, warmup: int = 5,
                     device: str = "cpu", sync: Callable[[], None] | None = None) -> dict[str, Any]:
    """Profile ``runs`` calls of ``call`` (after ``warmup`` unprofiled ones) with
    torch.profiler: CPU activity, plus CUDA on a CUDA device."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    for _ in range(warmup):
        call()
        if sync is not None:
            sync()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    walls = []
    with torch.inference_mode(), profile(activities=activities) as prof:
        for _ in range(runs):
            t0 = time.perf_counter_ns()
            call()
            if sync is not None:
                sync()
            walls.append((time.perf_counter_ns() - t0) / 1e6)
    return record_from_averages(list(prof.key_averages()), runs=runs, warmup=warmup,
                                run_ms=statistics.median(walls), device=device)
