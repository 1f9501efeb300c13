"""ONNX Runtime's own profiler on a fresh, untimed session: per node op type, provider, time.

``SessionOptions.enable_profiling`` makes ORT write a Chrome-trace JSON (``end_profiling()``
returns its path; Perfetto and chrome://tracing open it). The events read here:

- ``{"cat": "Node", "name": "<node>_kernel_time", "dur": µs, "args": {"op_name",
  "provider", ...}}``: one per node execution (``_fence_before``/``_fence_after`` events are
  not node work and are skipped);
- ``{"cat": "Session", "name": "model_run", "dur": µs}``: one per ``run``, which delimits
  runs, so the warm-up runs are dropped and the wall time inside the profiler is known;
- ``{"cat": "Kernel", "dur": µs, "args": {"op_name"}}``: device kernels, present only in ORT
  builds with CUPTI profiling (not the PyPI wheels).

What the node times mean depends on the provider: on the CPU a node's ``kernel_time`` is its
compute; for CUDA/TensorRT nodes it is the host time to enqueue the node's kernels (they run
asynchronously), unless the build records ``Kernel`` events, whose device times are then
reported beside (``device_by_op_type``). The record says which in ``clock``.
"""

from __future__ import annotations

import bisect
import json
import os
import shutil
import statistics
import tempfile
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from onnxbench.profile.record import group_nodes, make_record

KERNEL_SUFFIX = "_kernel_time"
GPU_PROVIDERS = ("CUDAExecutionProvider", "TensorrtExecutionProvider", "ROCMExecutionProvider",
                 "MIGraphXExecutionProvider", "DmlExecutionProvider")
TOOL = "onnxruntime profiler (SessionOptions.enable_profiling, Chrome-trace JSON)"


def parse_trace(events: list[dict[str, Any]], runs: int | None = None) -> dict[str, Any]:
    """The profile record of an ORT trace; only the last ``runs`` ``model_run``s count.

    Each node event belongs to the run whose window holds it; a node's time is the MEDIAN
    over runs of its time in that run (a noisy run cannot dominate, as in the timed loop).
    """
    run_events = sorted((e for e in events if e.get("cat") == "Session"
                         and e.get("name") == "model_run"), key=lambda e: e["ts"])
    kept = run_events[-runs:] if runs else run_events
    starts = [e["ts"] for e in kept]
    n_runs = len(kept) or 1
    first = starts[0] if starts else float("-inf")
    per_run: dict[str, list[float]] = {}
    meta: dict[str, tuple[str, str]] = {}
    calls: dict[str, int] = defaultdict(int)
    device: dict[str, list[float]] = {}
    for e in events:
        ts = e.get("ts", 0)
        if ts < first or e.get("cat") not in ("Node", "Kernel"):
            continue
        k = max(bisect.bisect_right(starts, ts) - 1, 0) if starts else 0
        args = e.get("args") or {}
        if e["cat"] == "Kernel":
            op = str(args.get("op_name") or e.get("name"))
            device.setdefault(op, [0.0] * n_runs)[k] += float(e.get("dur", 0))
            continue
        if not str(e.get("name", "")).endswith(KERNEL_SUFFIX):
            continue
        name = e["name"][: -len(KERNEL_SUFFIX)]
        meta.setdefault(name, (str(args.get("op_name") or "?"), str(args.get("provider") or "?")))
        per_run.setdefault(name, [0.0] * n_runs)[k] += float(e.get("dur", 0))
        calls[name] += 1
    nodes = [{"name": name, "op_type": meta[name][0], "provider": meta[name][1],
              "ms": statistics.median(us) / 1000.0, "calls": calls[name] / n_runs}
             for name, us in per_run.items()]
    run_ms = statistics.median(e["dur"] / 1000.0 for e in kept) if kept else None
    extra: dict[str, Any] = {}
    if device:
        rows: list[dict[str, Any]] = [
            {"name": k, "op_type": k, "provider": "device", "ms": statistics.median(v) / 1000.0}
            for k, v in device.items()]
        total = sum(r["ms"] for r in rows)
        extra["device_by_op_type"] = group_nodes(rows, "op_type", total)
        extra["device_sum_ms"] = round(total, 6)
    return make_record(nodes, tool=TOOL, clock=_clock(nodes, bool(device)), runs=len(kept),
                       warmup=0, run_ms=run_ms, **extra)


def _clock(nodes: list[dict[str, Any]], has_device: bool) -> str:
    gpu = sorted({n["provider"] for n in nodes if n["provider"] in GPU_PROVIDERS})
    if not gpu:
        return "node kernel_time: host wall time of each node's compute, median over runs"
    text = (f"node kernel_time: for {', '.join(gpu)} nodes the host time to enqueue their "
            "kernels (they run asynchronously), for CPU nodes their compute")
    return text + ("; device kernel times (CUPTI) in device_by_op_type" if has_device else
                   "; this ORT build records no device kernel times")


def read_trace(path: str | Path) -> list[dict[str, Any]]:
    """The events of an ORT profile file (a JSON list; older builds wrap it in an object)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return data.get("traceEvents", []) if isinstance(data, dict) else list(data)


def profile_session(model: str | Path, providers: list, make_options: Callable[[], Any],
                    feeds: Mapping[str, Any], *, runs: int = 20, warmup: int = 5,
                    trace_dir: str | Path | None = None) -> dict[str, Any]:
    """Profile ``runs`` runs of ``model`` in a NEW session (never the timed one).

    ``make_options()`` returns the timed session's ``SessionOptions`` (threads, level,
    execution mode): profiling is switched on in that copy only. ``warmup`` runs come
    first and are dropped from the record. With ``trace_dir`` the trace file is kept there
    (open it in Perfetto), else it is deleted.
    """
    import onnxruntime as ort

    with tempfile.TemporaryDirectory(prefix="onnxbench-profile-") as tmp:
        so = make_options()
        so.enable_profiling = True
        so.profile_file_prefix = os.path.join(tmp, "ort")
        sess = ort.InferenceSession(str(model), sess_options=so, providers=providers)
        try:
            for _ in range(warmup + runs):
                sess.run(None, dict(feeds))
        finally:
            path = sess.end_profiling()
        record = parse_trace(read_trace(path), runs=runs)
        if trace_dir is not None:
            dest = Path(trace_dir) / "ort_profile.json"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(path, dest)
            record["trace"] = str(dest)
    record.update(warmup=warmup, feeds="session.run with host (numpy) inputs and outputs")
    return record
