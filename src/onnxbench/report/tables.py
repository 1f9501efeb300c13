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

from onnxbench.report.load import Point

RUNTIME_LABELS = {
    "ort-cpu": "ORT CPU", "ort-cuda": "ORT CUDA", "ort-trt": "ORT TensorRT",
    "torch-cpu": "PyTorch CPU", "torch-cuda": "PyTorch CUDA",
    "torch-compile-cpu": "PyTorch compiled CPU", "torch-compile-cuda": "PyTorch compiled CUDA",
}
GPU_MARKERS = ("cuda", "trt", "tensorrt", "gpu", "dml", "rocm", "migraphx")


def runtime_label(runtime: str) -> str:
    return RUNTIME_LABELS.get(runtime, runtime)


def model_title(model: str) -> str:
    """A zoo name as is; a path (``.onnx`` or ``file.py:factory``) by its file name."""
    return model.rsplit("/", 1)[-1] if "/" in model else model


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
    """One model/config (at a fixed seq or batch) swept over ``axis``."""

    title: str
    axis: str  # "batch" or "seq"
    xs: list[int]
    series: list[Series]


def ms(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:.0f}" if v >= 1000 else f"{v:.3g}"


def word(point: Point | None) -> str | None:
    """The word (with reason) that replaces a number, or None when the point has a number."""
    if point is None:
        return "not run"
    if point.median is None:
        return f"{point.status}: {_short(point.reason)}" if point.reason else point.status
    if point.unstable:
        return f"unstable: {_short(point.reason)}"
    return None


def _short(text: str | None, limit: int = 80) -> str:
    text = (text or "").splitlines()[0] if text else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _series_label(case, multi_exporter: bool) -> str:
    parts = [runtime_label(case.runtime)]
    if multi_exporter and case.exporter:
        parts.append(case.exporter)
    if case.precision != "fp32":
        parts.append(case.precision)
    if case.options:
        parts.append(", ".join(f"{k}={v}" for k, v in sorted(case.options.items())))
    return " ".join(parts[:1]) + (f" ({'; '.join(parts[1:])})" if len(parts) > 1 else "")


def build_groups(points: list[Point]) -> list[Group]:
    """Per model/config: sweeps over batch (or seq when batch is fixed), one series per runtime."""
    by_model: dict[tuple, list[Point]] = {}
    for p in points:
        by_model.setdefault((p.case.model, p.case.config), []).append(p)
    groups = []
    for (model, config), pts in by_model.items():
        batches = {p.case.batch for p in pts}
        seqs = {p.case.seq for p in pts}
        axis = "seq" if len(batches) == 1 and len(seqs) > 1 and None not in seqs else "batch"
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
    multi = len({p.case.exporter for p in pts if p.case.exporter}) > 1
    series: dict[str, Series] = {}
    for p in pts:
        c = p.case
        key = json.dumps([c.runtime, c.exporter, c.precision, c.options], sort_keys=True, default=str)
        s = series.setdefault(key, Series(_series_label(c, multi), c.runtime, {}))
        s.points[getattr(c, axis)] = p
    xs = sorted({x for s in series.values() for x in s.points})
    return Group(title, axis, xs, sorted(series.values(), key=lambda s: s.label))


def _accuracy_text(acc: dict[str, Any] | None) -> str:
    if not acc:
        return "–"
    return ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in acc.items() if isinstance(v, (int, float, str)))


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
            row.append(Cell(_accuracy_text(p.accuracy() if p else None)))
        if notes_needed:
            row.append(Cell(w or (_short(p.reason) if p and p.reason else ""), is_word=bool(w)))
        rows.append(row)
    return Table(f"{group.title}: {series.label}", headers, rows)


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
        row.append(Cell(best.label if best else "–", bold=best is not None))
        rows.append(row)
    return Table(f"{group.title}: runtime comparison (median latency)", headers, rows)


def baseline_for(group: Group, series: Series, baseline: str | None) -> Series | None:
    """The baseline series: the named runtime, else PyTorch on the same device."""
    name = baseline or ("torch-cuda" if device_of(series.runtime) == "gpu" else "torch-cpu")
    return next((s for s in group.series if s.runtime == name), None)


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
                row.append(Cell("–"))
            else:
                r = pb.median / ps.median
                row.append(Cell(f"{r:.2f}×", r, bold=r > 1))
        rows.append(row)
    if not any(c.value is not None for r in rows for c in r[1:]):
        return None  # no baseline number anywhere: nothing to say
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
        return [(prefix, text or "–")]
    return [(prefix, "–" if data is None else str(data))]


def env_table(env: dict[str, Any]) -> Table:
    rows = [[Cell(k), Cell(v)] for k, v in _flatten(env)]
    return Table("Environment", ["Field", "Value"], rows)


def exporter_table(points: list[Point]) -> Table | None:
    """Exporter matrix with parity: one row per (model, config, exporter, runtime, batch, seq)."""
    pts = [p for p in points if p.case.exporter or p.parity()]
    if not pts or not any(p.parity() for p in pts) and len({p.case.exporter for p in pts}) < 2:
        return None
    keys: list[str] = []
    for p in pts:
        for k, v in (p.parity() or {}).items():
            if isinstance(v, (int, float, str, bool)) and k not in keys:
                keys.append(k)
    headers = ["Model", "Exporter", "Runtime", "Batch", "Seq", "Status", *keys]
    rows = []
    for p in sorted(pts, key=lambda p: (p.case.model, p.case.config or "", p.case.exporter or "",
                                        p.case.runtime, p.case.batch, p.case.seq or 0)):
        c, par = p.case, p.parity() or {}
        rows.append([Cell(c.model + (f"/{c.config}" if c.config else "")), Cell(c.exporter or "–"),
                     Cell(runtime_label(c.runtime)), Cell(str(c.batch), c.batch),
                     Cell(str(c.seq or "–"), c.seq),
                     Cell(word(p) or "ok", is_word=word(p) is not None),
                     *[_parity_cell(par.get(k)) for k in keys]])
    return Table("Exporter matrix and parity", headers, rows)


def _parity_cell(v: Any) -> Cell:
    if isinstance(v, bool) or v is None:
        return Cell("–" if v is None else ("yes" if v else "NO"))
    if isinstance(v, (int, float)):
        return Cell(f"{v:.3g}", float(v))
    return Cell(str(v))
