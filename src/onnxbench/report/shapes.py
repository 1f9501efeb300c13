"""The reference reports' own table shapes, from a run's points (``tables:`` / ``--layout``).

- ``winner``: ``| Batch | ORT CPU | ORT GPU | PyTorch GPU | Winner |``: median ms per column,
  the winner in bold, decided by confidence intervals: when the fastest one's CI overlaps
  the runner-up's, the cell says "tie" and names both (never a winner by noise).
- ``totals``: total seconds of N runs per cell (the second report timed 1000 runs with
  ``timeit``): the exact sum when exactly N runs were timed, else N × the mean, said so.
- ``grid``: batch × sequence length in ONE table (rows ``Batch | Seq``), median ms.

Rows are the (batch, seq) points of one model/config; a status word (``oom``, ``skipped``)
stands where there is no number, and an unstable point keeps its number, marked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from onnxbench.measure.ratio import cis_overlap
from onnxbench.report.fmt import DASH, sig
from onnxbench.report.labels import case_label, differing, model_config, split_fields
from onnxbench.report.rundata import Point
from onnxbench.report.tables import PARITY_MARK, Cell, Table, parity_failed, reason_notes_of
from onnxbench.suite.tables import Selector, TableSpec

UNITS = {"winner": "median ms", "grid": "median ms", "totals": "total s"}


@dataclass
class Column:
    header: str
    points: dict[tuple[int, int | None], list[Point]]  # (batch, seq) -> matching points


def shape_tables(points: list[Point], specs: list[TableSpec]) -> list[Table]:
    """Every requested table, one per spec and model/config."""
    by_model: dict[str, list[Point]] = {}
    for p in points:
        by_model.setdefault(model_config(p.case), []).append(p)
    out = []
    for spec in specs:
        for title, pts in by_model.items():
            if spec.model and pts[0].case.model != spec.model:
                continue
            table = shape_table(title, pts, spec)
            if table is not None:
                out.append(table)
    return out


def _columns(pts: list[Point], spec: TableSpec) -> list[Column]:
    selectors = spec.columns or _series_selectors(pts)
    cols = []
    for header, sel in selectors.items():
        matched: dict[tuple[int, int | None], list[Point]] = {}
        for p in pts:
            if sel.matches(p.case) if isinstance(sel, Selector) else sel(p):
                matched.setdefault((p.case.batch, p.case.seq), []).append(p)
        if matched:
            cols.append(Column(header, matched))
    return cols


def _series_selectors(pts: list[Point]) -> dict[str, Any]:
    """One column per series (runtime × exporter × precision × options), by its label."""
    _, varying = split_fields(p.case for p in pts)
    out: dict[str, Any] = {}
    for p in pts:
        c = p.case
        key = json.dumps([c.runtime, c.exporter, c.precision, c.options], sort_keys=True,
                         default=str)
        label = case_label(c, varying, skip=("batch", "seq"))
        out.setdefault(label, lambda q, key=key: json.dumps(
            [q.case.runtime, q.case.exporter, q.case.precision, q.case.options],
            sort_keys=True, default=str) == key)
    return out


def _pick(cands: list[Point]) -> Point:
    """Of several points in one cell (a selector matching several configurations), the
    fastest with a number; else the first."""
    numbered = [p for p in cands if p.median is not None]
    return min(numbered, key=lambda p: float(p.median or 0)) if numbered else cands[0]


def total_seconds(point: Point, runs: int) -> tuple[float | None, bool]:
    """(seconds for ``runs`` runs, exact?): the sum of the timed latencies when every repeat
    timed exactly ``runs`` runs, else ``runs`` × the mean latency."""
    lats = point.latencies()
    if lats and all(len(lat) == runs for lat in lats):
        return float(np.mean([lat.sum() for lat in lats])) / 1000.0, True
    return (None, False) if point.mean is None else (runs * point.mean / 1000.0, False)


def _value(point: Point, spec: TableSpec) -> tuple[float | None, bool]:
    if spec.layout == "totals":
        return total_seconds(point, spec.runs)
    return point.median, True


def _which(point: Point, cands: list[Point]) -> str:
    """What sets the chosen point apart from the other candidates of its cell."""
    if len(cands) < 2:
        return ""
    _, varying = split_fields(p.case for p in cands)
    bits = differing(point.case, varying, skip=("batch", "seq"))
    runtime = point.case.runtime if len({p.case.runtime for p in cands}) > 1 else ""
    return f" [{'; '.join(b for b in [runtime, *bits] if b)}]" if runtime or bits else ""


def _cell(point: Point | None, value: float | None, bold: bool, which: str = "") -> Cell:
    if point is None:
        return Cell(DASH)
    if value is None:
        return Cell(point.status + which, is_word=True)
    text = sig(value) + (" (unstable)" if point.unstable else "") + \
        (PARITY_MARK if parity_failed(point) else "") + which
    return Cell(text, value, bold=bold)


def decide(points: dict[str, Point]) -> tuple[list[str], bool]:
    """(the winners, tied?): the fastest median among points whose parity did not fail; a
    tie when its CI overlaps the next one's."""
    ranked = sorted(((p.median, h, p) for h, p in points.items()
                     if p.median is not None and not parity_failed(p)), key=lambda t: t[0])
    if not ranked:
        return [], False
    best = ranked[0][2]
    tied = [ranked[0][1]]
    for _, header, p in ranked[1:]:
        if best.ci and p.ci and cis_overlap(p.ci, best.ci):
            tied.append(header)
    return tied, len(tied) > 1


def shape_table(title: str, pts: list[Point], spec: TableSpec) -> Table | None:
    cols = _columns(pts, spec)
    if not cols:
        return None
    keys = sorted({k for c in cols for k in c.points}, key=lambda k: (k[0], k[1] or 0))
    with_seq = spec.layout == "grid" or any(s is not None for _, s in keys)
    unit = f"total s, {spec.runs} runs" if spec.layout == "totals" else "ms"
    headers = ["Batch"] + ["Seq"] * with_seq + [f"{c.header} ({unit})" for c in cols]
    headers += ["Winner"] * (spec.layout == "winner")
    rows, extrapolated = [], False
    for key in keys:
        row, approx = _row(key, cols, spec, with_seq)
        rows.append(row)
        extrapolated |= approx
    picked = {c.header for c in cols if any(len(v) > 1 for v in c.points.values())}
    notes = _notes(spec, picked, extrapolated)
    notes += reason_notes_of([(h, k[0], p) for k in keys for h, p in
                              ((c.header, _pick(c.points[k])) for c in cols if k in c.points)],
                             "batch")
    name = spec.title or {"winner": "winner per batch", "totals": f"total time of {spec.runs} runs",
                          "grid": "batch × sequence length"}[spec.layout]
    return Table(f"{title}: {name}", headers, rows, notes)


def _row(key: tuple[int, int | None], cols: list[Column], spec: TableSpec,
         with_seq: bool) -> tuple[list[Cell], bool]:
    """One (batch, seq) row and whether any of its totals is extrapolated."""
    chosen = {c.header: _pick(c.points[key]) for c in cols if key in c.points}
    winners, tied = decide(chosen) if spec.layout == "winner" else ([], False)
    row = [Cell(str(key[0]), key[0])]
    row += [Cell(str(key[1] or DASH), key[1])] if with_seq else []
    extrapolated = False
    for c in cols:
        p = chosen.get(c.header)
        value, exact = _value(p, spec) if p else (None, True)
        extrapolated |= p is not None and value is not None and not exact
        which = _which(p, c.points[key]) if p else ""
        row.append(_cell(p, value, bold=c.header in winners and not tied, which=which))
    if spec.layout == "winner":
        text = ("tie: " + ", ".join(winners)) if tied else (winners[0] if winners else DASH)
        row.append(Cell(text, bold=bool(winners) and not tied))
    return row, extrapolated


def _notes(spec: TableSpec, picked: set[str], extrapolated: bool) -> list[str]:
    notes = []
    if spec.layout == "winner":
        notes.append("winner = lowest median among outputs that agree with PyTorch (parity ✗ "
                     "never wins); 'tie' when the winner's 95 % CI overlaps another's (the "
                     "difference is within noise)")
    if spec.layout == "totals":
        notes.append(f"total = the sum of {spec.runs} timed latencies" + (
            f"; where fewer runs were timed, {spec.runs} × the mean latency (extrapolated)"
            if extrapolated else ""))
    if picked:
        notes.append(f"{', '.join(sorted(picked))}: several configurations match; each cell "
                     "shows the fastest of them, [named]")
    return notes
