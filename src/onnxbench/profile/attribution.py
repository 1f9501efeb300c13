"""Explained A/B: where the end-to-end difference between two profiled points comes from.

``attribute(a, b)`` takes two result records (``Result`` objects or their ``result.json``
dicts, each with a ``profile``) and splits the measured difference of the medians, B − A, into

- one term per op type (its per-run time in B minus in A; ORT against PyTorch compares by
  category, see ``categories``), which add up to the difference of the profiled op sums;
- the *unprofiled* term, B's unprofiled time minus A's (framework overhead, copies, gaps),

so ``sum(op deltas) + unprofiled delta == measured difference`` exactly, and the op deltas
alone explain the difference up to the two points' unprofiled shares. Where both graphs have
nodes of the same name (fp32 vs fp16, CPU vs CUDA of one graph, a pass that keeps most
nodes) the nodes are compared one by one; nodes only in A or only in B (what a fusion
removed and added) are summed apart. The numbers come from the profiling pass, the measured
medians from the timed loop.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from onnxbench.core.numbers import sig
from onnxbench.profile.categories import category

TOP_NODES = 10


def profile_of(result: Any) -> dict[str, Any] | None:
    """The ``profile`` record of a result (object or dict), or None."""
    prof = (result.get("profile") if isinstance(result, Mapping)
            else getattr(result, "profile", None))
    if isinstance(prof, Mapping) and prof.get("by_op_type") is not None:
        return dict(prof)
    return None


def _median(result: Any, prof: Mapping[str, Any]) -> float | None:
    if prof.get("measured_median_ms") is not None:
        return float(prof["measured_median_ms"])
    stats = result.get("stats") if isinstance(result, Mapping) else getattr(result, "stats", None)
    p50 = stats.get("p50") if isinstance(stats, Mapping) else getattr(stats, "p50", None)
    return None if p50 is None else float(p50)


def _family(prof: Mapping[str, Any]) -> str:
    return "torch" if str(prof.get("tool", "")).startswith("torch") else "ort"


def _by_key(prof: Mapping[str, Any], use_category: bool) -> dict[str, tuple[float, float]]:
    out: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in prof["by_op_type"]:
        key = category(row["op_type"]) if use_category else row["op_type"]
        out[key][0] += float(row["ms"])
        out[key][1] += float(row["nodes"])
    return {k: (v[0], v[1]) for k, v in out.items()}


def op_deltas(pa: Mapping[str, Any], pb: Mapping[str, Any], use_category: bool) -> list[dict]:
    """Per op type (or category): A and B time per run and node count, and B − A."""
    a, b = _by_key(pa, use_category), _by_key(pb, use_category)
    rows = []
    for key in set(a) | set(b):
        ams, an = a.get(key, (0.0, 0))
        bms, bn = b.get(key, (0.0, 0))
        rows.append({"op_type": key, "a_ms": round(ams, 6), "b_ms": round(bms, 6),
                     "delta_ms": round(bms - ams, 6), "a_nodes": an, "b_nodes": bn})
    return sorted(rows, key=lambda r: (-abs(r["delta_ms"]), r["op_type"]))


def node_deltas(pa: Mapping[str, Any], pb: Mapping[str, Any], top: int = TOP_NODES) -> dict | None:
    """Node-by-node B − A where the graphs share node names; None when they share none."""
    a = {n["name"]: n for n in pa.get("nodes") or []}
    b = {n["name"]: n for n in pb.get("nodes") or []}
    shared = set(a) & set(b)
    if not shared or _family(pa) != _family(pb):
        return None
    rows = [{"name": k, "op_type": b[k]["op_type"], "a_ms": a[k]["ms"], "b_ms": b[k]["ms"],
             "delta_ms": round(b[k]["ms"] - a[k]["ms"], 6),
             "providers": _providers(a[k], b[k])} for k in shared]
    rows.sort(key=lambda r: (-abs(r["delta_ms"]), r["name"]))
    only_a, only_b = set(a) - shared, set(b) - shared
    return {"shared": len(shared), "shared_delta_ms": round(sum(r["delta_ms"] for r in rows), 6),
            "only_a": len(only_a), "only_a_ms": round(sum(a[k]["ms"] for k in only_a), 6),
            "only_b": len(only_b), "only_b_ms": round(sum(b[k]["ms"] for k in only_b), 6),
            "only_a_ops": _ops(a, only_a), "only_b_ops": _ops(b, only_b), "top": rows[:top]}


def _providers(na: Mapping[str, Any], nb: Mapping[str, Any]) -> str:
    pa, pb = na.get("provider"), nb.get("provider")
    return str(pa) if pa == pb else f"{pa} → {pb}"


def _ops(nodes: Mapping[str, Mapping[str, Any]], names: set[str]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for k in names:
        counts[nodes[k]["op_type"]] += 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def attribute(a: Any, b: Any, *, label_a: str = "A", label_b: str = "B") -> dict[str, Any]:
    """The explained A/B of two profiled results (see the module docstring).

    Raises ValueError when either has no profile or no measured median.
    """
    pa, pb = profile_of(a), profile_of(b)
    if pa is None or pb is None:
        raise ValueError(f"{label_a if pa is None else label_b} has no profile (option profile)")
    ma, mb = _median(a, pa), _median(b, pb)
    if ma is None or mb is None:
        raise ValueError("both results need a measured median")
    use_category = _family(pa) != _family(pb)
    ops = op_deltas(pa, pb, use_category)
    profiled = float(pb["op_sum_ms"]) - float(pa["op_sum_ms"])
    out = {"a": label_a, "b": label_b, "measured_a_ms": ma, "measured_b_ms": mb,
           "measured_diff_ms": round(mb - ma, 6), "profiled_diff_ms": round(profiled, 6),
           "unprofiled_diff_ms": round((mb - ma) - profiled, 6),
           "unprofiled_a_ms": round(ma - float(pa["op_sum_ms"]), 6),
           "unprofiled_b_ms": round(mb - float(pb["op_sum_ms"]), 6),
           "vocabulary": "category" if use_category else "op type", "by_op_type": ops,
           "nodes": node_deltas(pa, pb), "clock_a": pa.get("clock"), "clock_b": pb.get("clock")}
    out["sentences"] = explain(out)
    return out


def explain(att: Mapping[str, Any], n: int = 3) -> list[str]:
    """A few sentences: the largest op-type terms, what B adds and drops, the rest."""
    diff = att["measured_diff_ms"]
    word = "slower" if diff > 0 else "faster"
    lines = [f"{att['b']} is {abs(diff):.3g} ms {word} than {att['a']} "
             f"({att['measured_a_ms']:.3g} → {att['measured_b_ms']:.3g} ms); the profiled "
             f"{att['vocabulary']}s account for {att['profiled_diff_ms']:+.3g} ms, the unprofiled "
             f"time for {att['unprofiled_diff_ms']:+.3g} ms."]
    for r in att["by_op_type"][:n]:
        if r["delta_ms"] == 0:
            break
        change = _presence(r, att)
        lines.append(f"{r['delta_ms']:+.3g} ms in {r['op_type']} ({r['a_ms']:.3g} → "
                     f"{r['b_ms']:.3g} ms per run{change})")
    nodes = att.get("nodes")
    if nodes and (nodes["only_a"] or nodes["only_b"]):
        lines.append(f"{att['b']} drops {nodes['only_a']} node(s) of {att['a']} "
                     f"({_op_list(nodes['only_a_ops'])}: {nodes['only_a_ms']:.3g} ms) and adds "
                     f"{nodes['only_b']} ({_op_list(nodes['only_b_ops'])}: "
                     f"{nodes['only_b_ms']:.3g} ms); the {nodes['shared']} shared nodes change by "
                     f"{nodes['shared_delta_ms']:+.3g} ms.")
    return lines


def _presence(row: Mapping[str, Any], att: Mapping[str, Any]) -> str:
    """What changed about an op type besides its time; for one only in A or B (a fused op,
    or the ops a fusion removed) its share of that side's measured median."""
    if not row["a_nodes"]:
        return (f"; only in {att['b']}, {_n(row['b_nodes'])} node(s), "
                f"{sig(100 * row['b_ms'] / att['measured_b_ms'])} % of its median")
    if not row["b_nodes"]:
        return (f"; only in {att['a']}, {_n(row['a_nodes'])} node(s), "
                f"{sig(100 * row['a_ms'] / att['measured_a_ms'])} % of its median")
    if row["a_nodes"] != row["b_nodes"]:
        return f"; {_n(row['a_nodes'])} → {_n(row['b_nodes'])} nodes"
    return ""


def _n(v: float) -> str:
    return f"{v:g}"


def _op_list(ops: Mapping[str, int], k: int = 4) -> str:
    items = [f"{op} ×{c}" for op, c in list(ops.items())[:k]]
    more = len(ops) - k
    return ", ".join(items) + (f", +{more} more" if more > 0 else "") if items else "none"


def share_of(att: Mapping[str, Any], op_types: tuple[str, ...]) -> dict[str, float] | None:
    """The per-run time and share of ``op_types`` (e.g. the fused attention) in A and B."""
    rows = [r for r in att["by_op_type"] if r["op_type"] in op_types]
    if not rows:
        return None
    a_ms, b_ms = sum(r["a_ms"] for r in rows), sum(r["b_ms"] for r in rows)
    return {"a_ms": a_ms, "b_ms": b_ms, "a_share": a_ms / att["measured_a_ms"],
            "b_share": b_ms / att["measured_b_ms"]}
