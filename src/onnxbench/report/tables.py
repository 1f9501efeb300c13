"""The tables people paste into READMEs, as plain data (format-free).

A ``Table`` is a title, headers and rows of ``Cell``s (text, a sort value, bold); markdown and
HTML render the same tables. Points are grouped per model/config into sweeps (over batch, or
over sequence length when the batch is fixed) and per *series* (runtime + exporter +
precision + options). A point without numbers (failed, skipped, crashed, oom, timeout) or an
unstable one is shown as the word with its reason, never as a number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from onnxbench.report.fmt import DASH, accuracy_text, one_line, ratio, short_reason, sig
from onnxbench.report.labels import (case_label, common_options_line, model_config,
                                     model_title, split_fields)
from onnxbench.report.load import Point

GPU_MARKERS = ("cuda", "trt", "tensorrt", "gpu", "dml", "rocm", "migraphx")


def device_of(runtime: str) -> str:
    return "gpu" if any(m in runtime.lower() for m in GPU_MARKERS) else "cpu"


@dataclass
class Cell:
    text: str
    value: float | None = None  # for sorting and charts
    bold: bool = False
    is_word: bool = False       # a status word standing where a number would be


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[Cell]]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "headers": self.headers, "notes": self.notes,
                "rows": [[c.value if c.value is not None else c.text for c in r] for r in self.rows]}


@dataclass
class Series:
    label: str
    runtime: str
    points: dict[int, Point]  # sweep value → point


@dataclass
class Group:
    """One model/config (at a fixed seq or batch) swept over ``axis``.

    ``notes`` holds what every case of the group shares (said once, not in every label).
    """

    title: str
    axis: str  # "batch" or "seq"
    xs: list[int]
    series: list[Series]
    notes: list[str] = field(default_factory=list)


def ms(v: float | None) -> str:
    return sig(v)


def word(point: Point | None) -> str | None:
    """The word (with a short reason) that replaces a number, or None when it has a number."""
    if point is None:
        return "not run"
    if point.median is None:
        return f"{point.status}: {short_reason(point.reason)}" if point.reason else point.status
    if point.unstable:
        return f"unstable: {short_reason(point.reason)}"
    return None


def reason_notes_of(items: list[tuple[str, Any, Point | None]], axis: str = "") -> list[str]:
    """The full reason behind each word, once per (label, status, reason), with its xs.

    ``items`` are (label, x, point); x is None where a table has no sweep axis.
    """
    seen: dict[tuple[str, str, str], list[str]] = {}
    for label, x, p in items:
        if p is not None and word(p) and p.reason:
            status = "unstable" if p.median is not None else p.status
            seen.setdefault((label, status, one_line(p.reason)), []).append("" if x is None else str(x))
    return [f"{label} {status}" + (f" at {axis} {', '.join(xs)}" if any(xs) else "") + f": {reason}"
            for (label, status, reason), xs in seen.items()]


def reason_notes(group: Group) -> list[str]:
    """The full reason behind each word in a group's tables (cells carry only its head)."""
    return reason_notes_of([(s.label, x, p) for s in group.series for x, p in sorted(s.points.items())],
                           group.axis)


def _sweep_axis(pts: list[Point]) -> str:
    """Sweep over seq when the batch is fixed and several seq values exist, else over batch."""
    batches, seqs = {p.case.batch for p in pts}, {p.case.seq for p in pts}
    return "seq" if len(batches) == 1 and len(seqs) > 1 and None not in seqs else "batch"


def build_groups(points: list[Point]) -> list[Group]:
    """Per model/config: sweeps over batch (or seq when batch is fixed), one series per
    runtime × exporter × precision × options."""
    by_model: dict[tuple, list[Point]] = {}
    for p in points:
        by_model.setdefault((p.case.model, p.case.config), []).append(p)
    groups = []
    for (model, config), pts in by_model.items():
        axis = _sweep_axis(pts)
        fixed_name = "batch" if axis == "seq" else "seq"
        by_fixed: dict[Any, list[Point]] = {}
        for p in pts:
            by_fixed.setdefault(getattr(p.case, fixed_name), []).append(p)
        for fixed, sub in sorted(by_fixed.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
            title = model_title(model) + (f" / {config}" if config else "")
            if fixed is not None and (axis == "seq" or len(by_fixed) > 1 or fixed_name == "seq"):
                title += f" ({fixed_name} {fixed})"
            groups.append(_group(title, axis, sub))
    return groups


def _group(title: str, axis: str, pts: list[Point]) -> Group:
    _, varying = split_fields(p.case for p in pts)
    series: dict[str, Series] = {}
    for p in pts:
        c = p.case
        key = json.dumps([c.runtime, c.exporter, c.precision, c.options, c.hardware],
                         sort_keys=True, default=str)
        label = case_label(c, varying, skip=("batch", "seq"))
        s = series.setdefault(key, Series(label, c.runtime, {}))
        s.points[getattr(c, axis)] = p
    xs = sorted({x for s in series.values() for x in s.points})
    note = common_options_line(p.case for p in pts)
    return Group(title, axis, xs, sorted(series.values(), key=lambda s: s.label), [note] if note else [])


def latency_table(group: Group, series: Series) -> Table:
    """| Batch | Mean | Median | P95 | P99 | (+ Accuracy, Note where any point has one)."""
    pts = [series.points.get(x) for x in group.xs]
    has_acc = any(p is not None and p.accuracy() for p in pts)
    notes_needed = any(p is None or word(p) or p.reason for p in pts)
    headers = [group.axis.capitalize(), "Mean (ms)", "Median (ms)", "P95 (ms)", "P99 (ms)"]
    headers += ["Accuracy"] * has_acc + ["Note"] * notes_needed
    rows = []
    for x, p in zip(group.xs, pts):
        w = word(p)
        nums = [Cell(w.split(":")[0], is_word=True) for _ in range(4)] if w else \
            [Cell(ms(v), v) for v in (p.mean, p.median, p.p95, p.p99)]
        row = [Cell(str(x), x), *nums]
        if has_acc:
            row.append(Cell(accuracy_text(p.accuracy() if p else None)))
        if notes_needed:
            row.append(Cell(w or (short_reason(p.reason) if p and p.reason else ""), is_word=bool(w)))
        rows.append(row)
    only = Group(group.title, group.axis, group.xs, [series])
    return Table(f"{group.title}: {series.label}", headers, rows, reason_notes(only))


def winner(group: Group, i: int) -> Series | None:
    """The series with the lowest median at xs[i] among points with a trustworthy number."""
    x = group.xs[i]
    cands = [(s.points[x].median, s.label, s) for s in group.series
             if x in s.points and word(s.points[x]) is None]
    return min(cands, key=lambda c: (c[0], c[1]))[2] if cands else None


def comparison_table(group: Group) -> Table:
    """| Batch | <runtime…> | Winner | with medians (ms) and the winner in bold."""
    headers = [group.axis.capitalize(), *[f"{s.label} (ms)" for s in group.series], "Winner"]
    rows = []
    for i, x in enumerate(group.xs):
        best = winner(group, i)
        row = [Cell(str(x), x)]
        for s in group.series:
            p = s.points.get(x)
            w = word(p)
            row.append(Cell(w, is_word=True) if w else Cell(ms(p.median), p.median, bold=s is best))
        row.append(Cell(best.label if best else DASH, bold=best is not None))
        rows.append(row)
    return Table(f"{group.title}: runtime comparison (median latency)", headers, rows,
                 reason_notes(group))


def baseline_for(group: Group, series: Series, baseline: str | None) -> Series | None:
    """The baseline series: the named runtime, else the source framework on the same device
    (PyTorch; for a TensorFlow model, TensorFlow's plain call)."""
    names = [baseline] if baseline else (
        ["torch-cuda"] if device_of(series.runtime) == "gpu" else ["torch-cpu", "tf-call"])
    return next((s for name in names for s in group.series if s.runtime == name), None)


def speedup_table(group: Group, baseline: str | None = None) -> Table | None:
    """Speed-up of each series over its baseline per x (baseline median / series median)."""
    cols = [(s, b) for s in group.series if (b := baseline_for(group, s, baseline)) and b is not s]
    if not cols:
        return None
    headers = [group.axis.capitalize(), *[f"{s.label} vs {b.label}" for s, b in cols]]
    rows = []
    for x in group.xs:
        row = [Cell(str(x), x)]
        for s, b in cols:
            ps, pb = s.points.get(x), b.points.get(x)
            if word(ps) or word(pb):
                row.append(Cell(DASH))
            else:
                r = pb.median / ps.median
                row.append(Cell(ratio(r), r, bold=r > 1))
        rows.append(row)
    keep = [0] + [i for i in range(1, len(headers)) if any(r[i].value is not None for r in rows)]
    if len(keep) == 1:
        return None  # no baseline number anywhere: nothing to say
    headers, rows = [headers[i] for i in keep], [[r[i] for i in keep] for r in rows]
    return Table(f"{group.title}: speed-up over baseline (× faster, >1 is better)", headers, rows,
                 ["speed-up = baseline median / runtime median, per " + group.axis])


def _flatten(data: Any, prefix: str = "", depth: int = 0) -> list[tuple[str, str]]:
    if isinstance(data, dict) and depth < 3:
        out = []
        for k, v in data.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k), depth + 1)
        return out
    if isinstance(data, list):
        text = ", ".join(json.dumps(v, default=str) if isinstance(v, (dict, list)) else str(v)
                         for v in data)
        return [(prefix, text or DASH)]
    return [(prefix, DASH if data is None else str(data))]


def env_table(env: dict[str, Any]) -> Table:
    rows = [[Cell(k), Cell(v)] for k, v in _flatten(env)]
    return Table("Environment", ["Field", "Value"], rows)


def _runs_export(p: Point) -> bool:
    """A point that ran an exported graph (or carries parity): PyTorch rows do not."""
    return bool(p.parity()) or bool(p.case.exporter) and not p.case.runtime.startswith("torch")


def exporter_table(points: list[Point]) -> Table | None:
    """Exporter matrix with parity: one row per (model, config, exporter, runtime, batch, seq)."""
    pts = [p for p in points if _runs_export(p)]
    if not pts or not any(p.parity() for p in pts) and len({p.case.exporter for p in pts}) < 2:
        return None
    keys: list[str] = []
    for p in pts:
        for k, v in (p.parity() or {}).items():
            if isinstance(v, (int, float, str, bool)) and k not in keys + ["batch", "seq"]:
                keys.append(k)
    _, varying = split_fields(p.case for p in pts)
    headers = ["Model", "Exporter", "Runtime", "Batch", "Seq", "Status", *keys]
    rows = []
    for p in sorted(pts, key=lambda p: (p.case.model, p.case.config or "", p.case.exporter or "",
                                        p.case.runtime, p.case.batch, p.case.seq or 0)):
        c, par = p.case, p.parity() or {}
        rows.append([Cell(model_config(c)), Cell(c.exporter or DASH),
                     Cell(case_label(c, varying, skip=("batch", "seq", "exporter", "options.verify"))),
                     Cell(str(c.batch), c.batch), Cell(str(c.seq or DASH), c.seq),
                     Cell(word(p) or "ok", is_word=word(p) is not None),
                     *[_parity_cell(par.get(k)) for k in keys]])
    notes = [n for n in [common_options_line(p.case for p in pts)] if n]
    return Table("Exporter matrix and parity", headers, rows, notes)


def _parity_cell(v: Any) -> Cell:
    if isinstance(v, bool) or v is None:
        return Cell(DASH if v is None else ("yes" if v else "NO"))
    if isinstance(v, (int, float)):
        return Cell(sig(v), float(v))
    return Cell(str(v))
