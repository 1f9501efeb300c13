"""The profile record every profiler writes: one plain dict, the same shape for ORT and torch.

``result.json['profile']`` holds it, so the report, ``onnxbench profile`` and the A/B
attribution read files, never live profilers::

    {"tool": "...", "clock": "what the op times measure", "runs": 20, "warmup": 5,
     "run_ms": 1.93,            # median wall time of one profiled run (inside the profiler)
     "op_sum_ms": 1.71,         # per run: the sum of every node's / operator's own time
     "measured_median_ms": 1.80,  # the timed loop's median (set by ``attach_measured``)
     "unprofiled_ms": 0.09, "unprofiled_share": 0.05,  # median - op_sum, and / median
     "nodes": [{"name", "op_type", "provider", "ms", "calls"}, ...],   # ORT: every node
     "by_op_type": [{"op_type", "nodes", "ms", "share"}, ...],
     "by_provider": [{"provider", "nodes", "ms", "share"}, ...]}

Times are milliseconds per run (a node that runs twice in a run counts twice). The
unprofiled share is what no node accounts for: framework overhead, Python, launch gaps,
copies of inputs and outputs, idle threads. It can be negative when the profiler's own cost
inflates the node times past the unprofiled median, or when nodes overlap (parallel
execution): the record keeps the number, never clamps it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

ROUND = 6  # ms to the nanosecond: enough, and result.json stays readable


def _r(v: float) -> float:
    return round(float(v), ROUND)


def group_nodes(nodes: Iterable[Mapping[str, Any]], key: str, total_ms: float) -> list[dict]:
    """Nodes folded by ``key`` (``op_type`` or ``provider``), heaviest first, with shares."""
    ms: dict[str, float] = defaultdict(float)
    count: dict[str, float] = defaultdict(float)
    for n in nodes:
        ms[n[key]] += n["ms"]
        count[n[key]] += n.get("count", 1)
    rows = [{key: k, "nodes": _count(count[k]), "ms": _r(v),
             "share": _r(v / total_ms) if total_ms > 0 else None} for k, v in ms.items()]
    return sorted(rows, key=lambda r: (-r["ms"], r[key]))


def _count(v: float) -> int | float:
    return int(v) if float(v).is_integer() else round(v, 3)


def make_record(nodes: list[dict], *, tool: str, clock: str, runs: int, warmup: int,
                run_ms: float | None, **extra: Any) -> dict[str, Any]:
    """The profile record from per-run node rows (``name``, ``op_type``, ``provider``,
    ``ms``, ``calls``); nodes sorted heaviest first."""
    nodes = sorted(({**n, "ms": _r(n["ms"])} for n in nodes), key=lambda n: (-n["ms"], n["name"]))
    total = sum(n["ms"] for n in nodes)
    return {"tool": tool, "clock": clock, "runs": runs, "warmup": warmup,
            "run_ms": None if run_ms is None else _r(run_ms), "op_sum_ms": _r(total),
            "measured_median_ms": None, "unprofiled_ms": None, "unprofiled_share": None,
            "nodes": nodes, "by_op_type": group_nodes(nodes, "op_type", total),
            "by_provider": group_nodes(nodes, "provider", total), **extra}


def attach_measured(record: dict[str, Any], median_ms: float | None) -> dict[str, Any]:
    """Set the timed median and the unprofiled share (median − op sum) on ``record``."""
    if median_ms is None or median_ms <= 0:
        return record
    gap = median_ms - record["op_sum_ms"]
    record.update(measured_median_ms=_r(median_ms), unprofiled_ms=_r(gap),
                  unprofiled_share=_r(gap / median_ms))
    return record


def top(rows: list[dict], k: int) -> list[dict]:
    """The ``k`` heaviest rows (rows are stored heaviest first)."""
    return rows[:k]
