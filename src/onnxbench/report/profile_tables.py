"""Why: per-operator profiles, node placement and explained A/Bs as report tables.

Reads what the results carry (``result.json``'s ``profile`` and ``placement``), never a live
profiler. Explained A/Bs are formed for every pair whose two points both have a profile:

- each pair of the run's A/B comparison (``ab:`` axes), as the report's A/B table forms them;
- each optimised variant against the fp32 plain variant of the same runtime in its group
  (fused vs unfused, truncated vs full, int8/fp16 vs fp32), as the optimisation table does.

``onnxbench.profile.attribution.attribute`` does the splitting; this module only lays it out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from onnxbench.profile.attribution import attribute, profile_of
from onnxbench.report.fmt import DASH, pct, sig
from onnxbench.report.labels import case_label, model_config, split_fields
from onnxbench.report.optim import fp32_baseline, is_plain
from onnxbench.report.rundata import Point
from onnxbench.report.tables import Cell, Table

if TYPE_CHECKING:
    from onnxbench.report.compare import Comparison
    from onnxbench.report.tables import Group

TOP_OPS = 8
TOP_NODES = 5


@dataclass
class Explained:
    """One explained A/B: its label, the two points, and ``attribute``'s result."""

    label: str
    a: Point | None  # None where the pair is not of report points (onnxbench profile)
    b: Point | None
    attribution: dict[str, Any]


@dataclass
class ProfileSection:
    """Everything the report's "Why" part shows (plain values; md and html render it)."""

    profiled: list[tuple[str, Point, dict[str, Any]]] = field(default_factory=list)
    placed: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    explained: list[Explained] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.tables)

    def to_dict(self) -> dict[str, Any]:
        return {"profiled": [{"label": lbl, "point": p.key, "profile": _brief(prof)}
                             for lbl, p, prof in self.profiled],
                "explained": [{"label": e.label, "a": e.a.key if e.a else None,
                               "b": e.b.key if e.b else None, **e.attribution}
                              for e in self.explained]}


def _brief(prof: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in prof.items() if k != "nodes"}


def _result_with(point: Point, key: str) -> Any | None:
    return next((r for r in point.ok_results() if getattr(r, key, None)), None)


def point_profile(point: Point) -> dict[str, Any] | None:
    r = _result_with(point, "profile")
    return profile_of(r) if r is not None else None


def _labeller(points: Iterable[Point]):
    points = list(points)
    _, varying = split_fields(p.case for p in points)
    return lambda p: f"{model_config(p.case)} {case_label(p.case, varying)}"


# ---------------------------------------------------------------- pairs to explain

def _ab_pairs(ab: Comparison | None) -> list[tuple[str, Point, Point]]:
    return [(pair.label, pair.a, pair.b) for pair in (ab.pairs if ab else [])]


def _variant_pairs(groups: Iterable[Group]) -> list[tuple[str, Point, Point]]:
    out = []
    for g in groups:
        for s in g.series:
            base = fp32_baseline(g, s)
            if is_plain(s) or base is None or base.runtime != s.runtime:
                continue
            for x in g.xs:
                if x in s.points and x in base.points:
                    out.append((f"{g.title} {g.axis} {x}: {base.label} → {s.label}",
                                base.points[x], s.points[x]))
    return out


def explained_pairs(ab: Comparison | None, groups: Iterable[Group]) -> list[Explained]:
    """Every A/B and variant pair whose two points have profiles and numbers, explained."""
    out, seen = [], set()
    for label, a, b in _ab_pairs(ab) + _variant_pairs(groups):
        if (a.key, b.key) in seen or a.median is None or b.median is None:
            continue
        ra, rb = _result_with(a, "profile"), _result_with(b, "profile")
        if ra is None or rb is None or not profile_of(ra) or not profile_of(rb):
            continue
        seen.add((a.key, b.key))
        try:
            att = attribute(ra, rb, label_a="A", label_b="B")
        except ValueError:
            continue
        out.append(Explained(label, a, b, att))
    return out


# ---------------------------------------------------------------------- tables

def _num(v: float | None) -> Cell:
    """A number of ms (three significant figures), sortable."""
    return Cell(sig(v), v)


def _delta(v: float, bold: bool = False) -> Cell:
    return Cell(f"{v:+.3g}", v, bold=bold)


def profile_summary_table(rows: list[tuple[str, Point, dict[str, Any]]]) -> Table:
    """One row per profiled point: median, profiled run, op sum, unprofiled share, top ops."""
    headers = ["Point", "Median (ms)", "Profiled run (ms)", "Op sum (ms)", "Unprofiled",
               "Top op types (ms per run)", "Profiler"]
    body = []
    for label, _, prof in rows:
        tops = "; ".join(f"{r['op_type']} {sig(r['ms'])}" for r in prof["by_op_type"][:3])
        tool = "torch.profiler" if prof["tool"].startswith("torch") else "ORT profiler"
        body.append([Cell(label), _num(prof.get("measured_median_ms")), _num(prof.get("run_ms")),
                     _num(prof["op_sum_ms"]),
                     Cell(pct(prof.get("unprofiled_share")), prof.get("unprofiled_share")),
                     Cell(tops or DASH), Cell(tool)])
    clocks = sorted({prof["clock"] for _, _, prof in rows})
    notes = ["op sum = per run, the sum of every node's (ORT) or operator's self (PyTorch) time "
             "in a separate, untimed profiling pass; profiled run = one run's wall time inside "
             "the profiler; unprofiled = (median − op sum) / median: framework overhead, "
             "copies, gaps (negative when the profiler's cost inflates the op times)."]
    return Table("Per-operator profiles (untimed pass)", headers, body,
                 notes + [f"clock: {c}" for c in clocks])


def op_type_table(label: str, prof: dict[str, Any], k: int = TOP_OPS) -> Table:
    """The heaviest op types of one profile, the rest folded into one row."""
    rows = [[Cell(r["op_type"]), Cell(f"{r['nodes']:g}", r["nodes"]), _num(r["ms"]),
             Cell(pct(r["share"]), r["share"])] for r in prof["by_op_type"][:k]]
    rest = prof["by_op_type"][k:]
    if rest:
        ms = sum(r["ms"] for r in rest)
        share = pct(ms / prof["op_sum_ms"]) if prof["op_sum_ms"] else DASH
        rows.append([Cell(f"{len(rest)} other op types"),
                     Cell(f"{sum(r['nodes'] for r in rest):g}"), _num(ms), Cell(share)])
    providers = ", ".join(f"{r['provider']} {sig(r['ms'])} ms" for r in prof["by_provider"])
    return Table(f"{label}: time by op type", ["Op type", "Nodes", "ms per run", "Share"], rows,
                 [f"by provider: {providers}"] if len(prof["by_provider"]) > 1 else [])


def attribution_table(e: Explained, k: int = TOP_OPS) -> Table:
    """Δ per op type (B − A), the rest folded, the unprofiled term, and the measured total."""
    att = e.attribution
    rows = [[Cell(r["op_type"]), _num(r["a_ms"]), _num(r["b_ms"]), _delta(r["delta_ms"], True),
             Cell(f"{r['a_nodes']:g} → {r['b_nodes']:g}")] for r in att["by_op_type"][:k]]
    rest = att["by_op_type"][k:]
    if rest:
        rows.append([Cell(f"{len(rest)} other {att['vocabulary']}s"),
                     _num(sum(r["a_ms"] for r in rest)), _num(sum(r["b_ms"] for r in rest)),
                     _delta(sum(r["delta_ms"] for r in rest)), Cell("")])
    rows.append([Cell("unprofiled (overhead, copies, gaps)"), _num(att["unprofiled_a_ms"]),
                 _num(att["unprofiled_b_ms"]), _delta(att["unprofiled_diff_ms"]), Cell("")])
    rows.append([Cell("measured median", bold=True), _num(att["measured_a_ms"]),
                 _num(att["measured_b_ms"]), _delta(att["measured_diff_ms"], True), Cell("")])
    headers = [att["vocabulary"].capitalize(), "A (ms)", "B (ms)", "Δ B−A (ms)", "Nodes A → B"]
    return Table(f"Explained A/B: {e.label}", headers, rows,
                 list(att["sentences"]) + _node_notes(att))


def _node_notes(att: dict[str, Any]) -> list[str]:
    nodes = att.get("nodes")
    if not nodes or not nodes["top"]:
        return []
    tops = "; ".join(f"{n['name']} ({n['op_type']}) {n['delta_ms']:+.3g} ms"
                     for n in nodes["top"][:TOP_NODES] if n["delta_ms"])
    if not tops:
        return []
    return [f"largest changes among the {nodes['shared']} nodes both graphs share: {tops}"]


def _placement_row(name: str, pl: dict[str, Any]) -> list[Cell]:
    if pl.get("error"):
        return [Cell(name), Cell(pl["error"], is_word=True), Cell(""), Cell(""), Cell("")]
    per = ", ".join(f"{k.removesuffix('ExecutionProvider')} {v}"
                    for k, v in pl["by_provider"].items())
    cpu = pl.get("cpu_op_types")
    on_cpu = (", ".join(f"{k} ×{v}" for k, v in cpu.items()) if cpu else
              ("none" if cpu is not None else "n/a (CPU session)"))
    return [Cell(name), _num(pl["nodes"]), Cell(per or DASH), Cell(on_cpu),
            Cell(str(pl["memcpy_nodes"]), pl["memcpy_nodes"])]


def placement_table(points: list[Point], label) -> Table | None:
    """Nodes per execution provider, CPU nodes of GPU sessions, Memcpy nodes, warnings."""
    placed = [(label(p), r.placement) for p in points
              if (r := _result_with(p, "placement")) is not None]
    if not placed:
        return None
    notes = [f"WARNING {name}: {w}" for name, pl in placed for w in pl.get("warnings", [])]
    method = next((pl["method"] for _, pl in placed if pl.get("method")), None)
    headers = ["Point", "Nodes", "Nodes per provider", "CPU nodes of a GPU session",
               "Memcpy nodes"]
    return Table("Where each node ran (ONNX Runtime placement)", headers,
                 [_placement_row(name, pl) for name, pl in placed],
                 notes + ([f"method: {method}"] if method else []))


def profile_section(points: list[Point], groups: Iterable[Group],
                    ab: Comparison | None = None) -> ProfileSection:
    """The report's "Why" part: placement, profiles, and the explained A/Bs."""
    label = _labeller(points)
    section = ProfileSection()
    section.profiled = [(label(p), p, prof) for p in points if (prof := point_profile(p))]
    section.placed = [(label(p), r.placement) for p in points
                      if (r := _result_with(p, "placement")) and not r.placement.get("error")]
    section.explained = explained_pairs(ab, list(groups))
    placed = placement_table(points, label)
    section.tables += [placed] if placed else []
    if section.profiled:
        section.tables.append(profile_summary_table(section.profiled))
    section.tables += [attribution_table(e) for e in section.explained]
    section.tables += [op_type_table(lbl, prof) for lbl, _, prof in section.profiled]
    return section
