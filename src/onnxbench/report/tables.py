"""The tables people paste into READMEs, as plain data (format-free).

A ``Table`` is a title, headers and rows of ``Cell``s (text, a sort value, bold); markdown and
HTML render the same tables. Points are grouped per model/config into sweeps (over batch, or
over sequence length when the batch is fixed) and per *series* (runtime + exporter +
precision + options). A point without numbers (failed, skipped, crashed, oom, timeout) is
shown as the word with its reason. An unstable point keeps its number, marked (``Cell.unstable``:
"†" in markdown, a coloured cell in HTML) with the reason in the table's notes.

Winners and speed-ups are decided with the CIs of the medians: where the CIs overlap the
runtimes are tied, and a tie is never a loss.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from onnxbench.measure.ratio import cis_overlap
from onnxbench.report.fmt import DASH, accuracy_text, one_line, ratio, short_reason, sig
from onnxbench.report.labels import (
    case_label,
    common_options_line,
    is_reference,
    model_config,
    model_title,
    runtime_framework,
    runtime_traits,
    split_fields,
)
from onnxbench.report.rundata import Point

GPU_MARKERS = ("cuda", "trt", "tensorrt", "gpu", "dml", "rocm", "migraphx")


def device_of(runtime: str) -> str:
    """``gpu`` or ``cpu``: the registry's declared device; the name's markers only for a
    provider runtime of device ``other`` or a runtime not registered here."""
    traits = runtime_traits(runtime)
    if traits and traits.device in ("cpu", "cuda"):
        return "gpu" if traits.device == "cuda" else "cpu"
    return "gpu" if any(m in runtime.lower() for m in GPU_MARKERS) else "cpu"


@dataclass
class Cell:
    text: str
    value: float | None = None  # for sorting and charts
    bold: bool = False
    is_word: bool = False       # a status word standing where a number would be
    unstable: bool = False      # a number from an unstable point: shown, marked


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[Cell]]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "headers": self.headers, "notes": self.notes,
                "rows": [[c.value if c.value is not None else c.text for c in r]
                         for r in self.rows]}


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


UNSTABLE_MARK = "†"


def word(point: Point | None) -> str | None:
    """The word (with a short reason) that replaces a number, or None when it has a number
    (an unstable point has one: it is marked, not replaced)."""
    if point is None:
        return "not run"
    if point.median is None:
        return f"{point.status}: {short_reason(point.reason)}" if point.reason else point.status
    return None


PARITY_MARK = " (parity ✗)"
PARITY_NOTE = ("parity ✗: the export's outputs disagreed with the source model; its number "
               "is kept, but it is never named fastest")


def parity_failed(point: Point | None) -> bool:
    """Its outputs disagreed with the source model (``verify``): fast, but not a result that
    may win a comparison."""
    return point is not None and (point.parity() or {}).get("passed") is False


def number_cell(point: Point, value: float | None, *, bold: bool = False) -> Cell:
    """A figure of ``point``, marked when the point is unstable."""
    return Cell(ms(value), value, bold=bold, unstable=point.unstable)


def _band(p: Point) -> tuple[float, float]:
    if p.ci is not None:
        return p.ci
    m = p.median or 0.0
    return m, m


def overlap(a: Point, b: Point) -> bool:
    """Do the two points' median CIs overlap (a tie within noise)?"""
    return cis_overlap(_band(a), _band(b))


def speedup_cell(point: Point, base: Point, suffix: str = "") -> Cell:
    """base median / point median (both have numbers); bold only when the CIs separate and
    it is a gain, "(tie)" when they overlap."""
    r = (base.median or 0.0) / (point.median or 1.0)
    if overlap(point, base):
        return Cell(f"{ratio(r)}{suffix} (tie)", r, unstable=point.unstable or base.unstable)
    return Cell(ratio(r) + suffix, r, bold=r > 1, unstable=point.unstable or base.unstable)


def reason_notes_of(items: list[tuple[str, Any, Point | None]], axis: str = "") -> list[str]:
    """The full reason behind each word or unstable mark, once per (label, status, reason),
    with its xs.

    ``items`` are (label, x, point); x is None where a table has no sweep axis.
    """
    seen: dict[tuple[str, str, str], list[str]] = {}
    for label, x, p in items:
        if p is not None and (word(p) or p.unstable) and p.reason:
            status = f"unstable ({UNSTABLE_MARK})" if p.median is not None else p.status
            seen.setdefault((label, status, one_line(p.reason)), []).append(
                "" if x is None else str(x))
    return [f"{label} {status}" + (f" at {axis} {', '.join(xs)}" if any(xs) else "") + f": {reason}"
            for (label, status, reason), xs in seen.items()]


def reason_notes(group: Group) -> list[str]:
    """The full reason behind each word in a group's tables (cells carry only its head)."""
    return reason_notes_of([(s.label, x, p) for s in group.series
                            for x, p in sorted(s.points.items())],
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
    return Group(title, axis, xs, sorted(series.values(), key=lambda s: s.label),
                 [note] if note else [])


def latency_table(group: Group, series: Series) -> Table:
    """| Batch | Mean | Median | P95 | P99 | (+ Accuracy, Note where any point has one)."""
    pts = [series.points.get(x) for x in group.xs]
    has_acc = any(p is not None and p.accuracy() for p in pts)
    notes_needed = any(p is None or word(p) or p.reason for p in pts)
    headers = [group.axis.capitalize(), "Mean (ms)", "Median (ms)", "95 % CI (ms)", "P95 (ms)",
               "P99 (ms)", "n", "Processes"]
    headers += ["Accuracy"] * has_acc + ["Note"] * notes_needed
    rows = []
    for x, p in zip(group.xs, pts):
        w = word(p)
        # a missing point has a word too (word(None) is "not run")
        nums = [Cell((w or "").split(":")[0], is_word=True) for _ in range(7)] if w or p is None \
            else _figures(p)
        row = [Cell(str(x), x), *nums]
        if has_acc:
            row.append(Cell(accuracy_text(p.accuracy() if p else None)))
        if notes_needed:
            row.append(Cell(w or (short_reason(p.reason) if p and p.reason else ""),
                            is_word=bool(w)))
        rows.append(row)
    only = Group(group.title, group.axis, group.xs, [series])
    notes = reason_notes(only) + [n for p in pts if p is not None for n in p.fold.tail_notes()]
    methods = sorted({p.fold.ci_method for p in pts if p is not None and p.fold.ci_method})
    notes += [f"Median: geometric mean of the process medians; 95 % CI: {'; '.join(methods)}; "
              "P95/P99 of the pooled latencies (order-statistic CIs in summary.csv)."] \
        if methods else []
    return Table(f"{group.title}: {series.label}", headers, rows, notes)


def _figures(p: Point) -> list[Cell]:
    ci = f"{ms(p.ci[0])}–{ms(p.ci[1])}" if p.ci else DASH
    return [number_cell(p, p.mean), number_cell(p, p.median), Cell(ci, unstable=p.unstable),
            number_cell(p, p.p95), number_cell(p, p.p99), Cell(str(p.fold.n), p.fold.n),
            Cell(str(p.fold.n_processes), p.fold.n_processes)]


def leaders(group: Group, i: int) -> list[Series]:
    """The series fastest at xs[i]: the lowest median and every series whose CI overlaps it
    (a tie within noise), fastest first; [] where no series has a number there. A point
    whose parity failed is never a candidate."""
    x = group.xs[i]
    cands = sorted(((s.points[x].median, s.label, s) for s in group.series
                    if x in s.points and word(s.points[x]) is None
                    and not parity_failed(s.points[x])), key=lambda c: c[:2])
    if not cands:
        return []
    best = cands[0][2].points[x]
    return [s for _, _, s in cands if overlap(s.points[x], best)]


def winner(group: Group, i: int) -> Series | None:
    """The one series fastest at xs[i] beyond noise; None where none has a number or tied."""
    lead = leaders(group, i)
    return lead[0] if len(lead) == 1 else None


def leader_text(labels: list[str]) -> str:
    """"ORT CPU", or "tie: ORT CPU, PyTorch CPU" (CIs overlap)."""
    if not labels:
        return DASH
    return labels[0] if len(labels) == 1 else "tie: " + ", ".join(labels)


def _comparison_cell(p: Point | None, *, bold: bool) -> Cell:
    """A median, or the word in its place; a parity-failed point keeps its number, marked."""
    w = word(p)
    if w or p is None:
        return Cell(w or DASH, is_word=True)
    cell = number_cell(p, p.median, bold=bold)
    if parity_failed(p):
        cell.text += PARITY_MARK
    return cell


def comparison_table(group: Group) -> Table:
    """| Batch | <runtime…> | Fastest | with medians (ms); the fastest in bold, ties named."""
    headers = [group.axis.capitalize(), *[f"{s.label} (ms)" for s in group.series], "Fastest"]
    rows = []
    for i, x in enumerate(group.xs):
        lead = leaders(group, i)
        row = [Cell(str(x), x)]
        for s in group.series:
            p = s.points.get(x)
            row.append(_comparison_cell(p, bold=s in lead))
        row.append(Cell(leader_text([s.label for s in lead]), bold=len(lead) == 1))
        rows.append(row)
    notes = ["Fastest: the lowest median; a runtime whose 95 % CI overlaps it is tied (named "
             "after \"tie:\"), never a loser."]
    if any(parity_failed(p) for s in group.series for p in s.points.values()):
        notes.append(PARITY_NOTE)
    return Table(f"{group.title}: runtime comparison (median latency)", headers, rows,
                 notes + reason_notes(group))


# where a group holds reference series of several frameworks on one device, the first of
# these wins (a model has one source framework, so a group rarely holds two)
REFERENCE_FRAMEWORKS = ("torch", "tf")


def baseline_for(group: Group, series: Series, baseline: str | None) -> Series | None:
    """The baseline series: the named runtime's first series, else the first series of a
    runtime the registry declares its framework's plain call (``Runtime.reference``:
    ``torch-cpu``, ``torch-cuda``, ``tf-call``) on the same device; PyTorch's before
    TensorFlow's where a group has both."""
    if baseline:
        return next((s for s in group.series if s.runtime == baseline), None)
    device = device_of(series.runtime)
    refs = [s for s in group.series if is_reference(s.runtime) and device_of(s.runtime) == device]

    def rank(s: Series) -> int:
        fw = runtime_framework(s.runtime)
        return REFERENCE_FRAMEWORKS.index(fw) if fw in REFERENCE_FRAMEWORKS else len(
            REFERENCE_FRAMEWORKS)

    return min(refs, key=rank, default=None)  # min keeps the first of equal rank


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
            row.append(Cell(DASH) if word(ps) or word(pb) or ps is None or pb is None
                       else speedup_cell(ps, pb))
        rows.append(row)
    keep = [0] + [i for i in range(1, len(headers)) if any(r[i].value is not None for r in rows)]
    if len(keep) == 1:
        return None  # no baseline number anywhere: nothing to say
    headers, rows = [headers[i] for i in keep], [[r[i] for i in keep] for r in rows]
    return Table(f"{group.title}: speed-up over baseline (× faster, >1 is better)", headers, rows,
                 ["speed-up = baseline median / runtime median, per " + group.axis
                  + "; (tie) where the two medians' 95 % CIs overlap"] + reason_notes(group))


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
    return bool(p.parity()) or (bool(p.case.exporter)
                                and runtime_framework(p.case.runtime) != "torch")


def exporter_table(points: list[Point]) -> Table | None:
    """Exporter matrix with parity: one row per (model, config, exporter, runtime, batch, seq)."""
    pts = [p for p in points if _runs_export(p)]
    if not pts or (not any(p.parity() for p in pts) and len({p.case.exporter for p in pts}) < 2):
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
                     Cell(case_label(c, varying,
                                     skip=("batch", "seq", "exporter", "options.verify"))),
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
