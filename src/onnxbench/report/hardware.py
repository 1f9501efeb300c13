"""Hardware side by side: the same points measured on several machine types, a column each.

A suite's ``hardware: [a10g, h100]`` axis (run with the Ray executor) measures every case on
each machine type; this table puts the medians of one point on every hardware in one row,
with each hardware's speed-up over the first. Where the two CIs overlap the speed-up reads
"tie": it is within the noise, not a difference.
"""

from __future__ import annotations

from typing import Any

from onnxbench.core.case import Case
from onnxbench.report.fmt import DASH, ratio, sig
from onnxbench.report.labels import differing, model_config, runtime_label, split_fields
from onnxbench.report.rundata import Point
from onnxbench.report.tables import Cell, Table, parity_failed, reason_notes_of, word


def _row_key(case: Case) -> Case:
    return case.model_copy(update={"hardware": None, "repeat": 0})


def _label(case: Case, varying: list[str]) -> str:
    bits = differing(case, varying, skip=("batch", "seq", "hardware"))
    shape = f"b{case.batch}" + (f" s{case.seq}" if case.seq is not None else "")
    return f"{model_config(case)} {runtime_label(case.runtime)} {shape}" + \
        (f" ({'; '.join(bits)})" if bits else "")


def _cell(p: Point | None, best: bool) -> Cell:
    w = word(p)
    if w or p is None or p.median is None:
        return Cell(w or "not run", is_word=True)
    ci = f" [{sig(p.ci[0])}–{sig(p.ci[1])}]" if p.ci else ""
    return Cell(sig(p.median) + ci, p.median, bold=best)


def _versus(base: Point | None, other: Point | None) -> Cell:
    """base median / other median (× faster on ``other``), or "tie" where the CIs overlap."""
    if word(base) or word(other) or base is None or other is None \
            or base.median is None or not other.median:
        return Cell(DASH)
    r = base.median / other.median
    if base.ci and other.ci and base.ci[0] <= other.ci[1] and other.ci[0] <= base.ci[1]:
        return Cell(f"tie ({ratio(r)})", r)
    return Cell(ratio(r), r, bold=r > 1)


def hardware_tables(points: list[Point]) -> list[Table]:
    """One table when the run measured points on two or more hardware types, else none."""
    names = sorted({p.case.hardware for p in points if p.case.hardware})
    if len(names) < 2:
        return []
    rows: dict[str, dict[str, Point]] = {}
    cases: dict[str, Case] = {}
    for p in points:
        if p.case.hardware:
            key = _row_key(p.case).case_id
            rows.setdefault(key, {})[p.case.hardware] = p
            cases.setdefault(key, p.case)
    _, varying = split_fields(_row_key(c) for c in cases.values())
    headers = ["Case", *[f"{h} (ms)" for h in names], *[f"{h} vs {names[0]}" for h in names[1:]]]
    body: list[list[Cell]] = []
    items: list[tuple[str, Any, Point | None]] = []
    for key in sorted(rows, key=lambda k: (_label(cases[k], varying), cases[k].batch)):
        by_hw, label = rows[key], _label(cases[key], varying)
        numbers = {h: p.median for h, p in by_hw.items()
                   if not word(p) and p.median is not None and not parity_failed(p)}
        fastest = min(numbers, key=numbers.__getitem__) if numbers else None
        body.append([Cell(label), *[_cell(by_hw.get(h), h == fastest) for h in names],
                     *[_versus(by_hw.get(names[0]), by_hw.get(h)) for h in names[1:]]])
        items += [(f"{label} on {h}", None, p) for h, p in by_hw.items()]
    notes = [("median latency with its 95 % CI; speed-up = first hardware's median / this "
              "hardware's; overlapping CIs are a tie"), *reason_notes_of(items)]
    return [Table("Hardware side by side (median latency, ms)", headers, body, notes)]
