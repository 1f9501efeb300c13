"""End-to-end image pipelines: where the time goes around inference, per model.

Pipeline cases (``case.options["pipeline"]``) time decode → preprocess → host-to-device →
inference → postprocess per stage (``timing.stages_ms``, one median per stage) and end to end
(the latencies). One table per model shows every stage, the pure inference time, E2E, the
share of E2E that inference is, and the agreement with the ``current`` pipeline's predictions
(naming the first stage that diverges); one sentence says how much E2E costs over inference
and which pipeline is fastest. Their A/B verdicts (pin_memory, non_blocking) are the A/B
section's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from onnxbench.report.fmt import DASH, pct, ratio, sig
from onnxbench.report.labels import differing, model_config, runtime_label, split_fields
from onnxbench.report.rundata import Point
from onnxbench.report.tables import Cell, Table, number_cell, reason_notes_of, word

SWITCHES = ("pin_memory", "non_blocking")
SKIP = ("batch", "seq", "options.pipeline", *(f"options.{s}" for s in SWITCHES))


def is_pipeline(point: Point) -> bool:
    return "pipeline" in point.case.options


@dataclass
class PipelineRow:
    """One pipeline point, its per-stage medians (ms, over repeats) and E2E median."""

    point: Point
    name: str
    stages: dict[str, float] = field(default_factory=dict)
    runtime: str = ""  # the runtime's label when a model's pipelines ran on several

    @property
    def full_name(self) -> str:
        return f"{self.runtime} {self.name}" if self.runtime else self.name

    @property
    def e2e(self) -> float | None:
        return self.point.median

    @property
    def inference(self) -> float | None:
        return self.stages.get("inference")

    def switch(self, name: str) -> bool:
        return bool(self.point.case.options.get(name, False))


@dataclass
class PipelineReport:
    title: str
    rows: list[PipelineRow]
    stages: list[str]
    table: Table
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        return {"title": self.title, "sentence": self.sentence, "stages": self.stages,
                "table": self.table.to_dict()}


def _stage_medians(point: Point) -> dict[str, float]:
    runs = [r.timing.stages_ms for r in point.ok_results() if r.timing.stages_ms]
    names = [n for s in runs for n in s]
    return {n: float(np.median([s[n] for s in runs if n in s])) for n in dict.fromkeys(names)}


def _stage_order(rows: list[PipelineRow]) -> list[str]:
    """Stages in pipeline order (runtime_info's list, else the stages_ms keys), merged."""
    order: list[str] = []
    for r in rows:
        declared = next((x.runtime_info.get("stages") for x in r.point.results
                         if x.runtime_info.get("stages")), None) or list(r.stages)
        for i, name in enumerate(declared):
            if name not in order:
                after = [order.index(d) for d in declared[:i] if d in order]
                order.insert(max(after) + 1 if after else len(order), name)
    return order


def _name(point: Point, varying: list[str]) -> str:
    extra = differing(point.case, [v for v in varying if v not in SKIP and v != "runtime"])
    return str(point.case.options["pipeline"]) + (f" ({'; '.join(extra)})" if extra else "")


def _row_cells(r: PipelineRow, stages: list[str], labelled: bool = False) -> list[Cell]:
    """Stage medians are their own measurement: shown even when E2E is unstable; E2E and the
    inference share are shown only when E2E has a trustworthy number (else the word)."""
    acc = r.point.accuracy() or {}
    cells = [Cell(r.runtime)] if r.runtime else []
    cells += [Cell(r.name), *[Cell(str(r.switch(s))) for s in SWITCHES]]
    cells += [Cell(sig(r.stages.get(s)), r.stages.get(s)) for s in stages]
    w = word(r.point)
    share = r.inference / r.e2e if not w and r.inference is not None and r.e2e else None
    agree = acc.get("value") if str(acc.get("metric", "")).startswith("top1_agreement") else None
    n = f" (n={acc['n']})" if agree is not None and acc.get("n") else ""
    cells += [Cell(w.split(":")[0], is_word=True) if w else number_cell(r.point, r.e2e),
              Cell(pct(share), share)]
    if labelled:
        labels = acc.get("label_accuracy")
        cells.append(Cell(pct(labels) if labels is not None else DASH, labels))
    return cells + [Cell(pct(agree) + n if agree is not None else DASH, agree),
                    Cell(acc.get("first_divergent_stage") or ("none" if acc else DASH))]


def _labelled(rows: list[PipelineRow]) -> bool:
    return any((r.point.accuracy() or {}).get("label_accuracy") is not None for r in rows)


def pipeline_table(title: str, rows: list[PipelineRow], stages: list[str]) -> Table:
    labelled = _labelled(rows)
    headers = ["Runtime"] * any(r.runtime for r in rows) + [
        "Pipeline", *SWITCHES, *[f"{s} (ms)" for s in stages], "E2E median (ms)",
        "inference share", *["accuracy (labels)"] * labelled, "agreement vs current",
        "first divergent stage"]
    notes = ["stage medians are timed with a synchronize() after every stage; E2E runs the "
             "stages back to back with one synchronize() at the end, so the stages need not "
             "add up to E2E"]
    if labelled:
        image_set = next(((r.point.accuracy() or {}).get("image_set") for r in rows), None)
        notes.append(f"accuracy (labels): top-1 against the true labels of {image_set}; "
                     "agreement vs current: the same runtime's current pipeline")
    notes += reason_notes_of([(r.full_name + _switches(r), None, r.point) for r in rows])
    return Table(f"{title}: end-to-end pipeline stages (medians)", headers,
                 [_row_cells(r, stages, labelled) for r in rows], notes)


def _reference(rows: list[PipelineRow]) -> PipelineRow | None:
    """The plain current pipeline (no pin_memory, no non_blocking) if measured, else a current
    one."""
    current = [r for r in rows if r.point.case.options["pipeline"] == "current" and r.e2e]
    plain = [r for r in current if not any(r.switch(s) for s in SWITCHES)]
    return next(iter(plain or current), None)


def _switches(r: PipelineRow) -> str:
    on = [s for s in SWITCHES if r.switch(s)]
    return f" with {' and '.join(on)}" if on else ""


def pipeline_sentence(title: str, rows: list[PipelineRow]) -> str:
    """"E2E is 3.1× the pure inference time for the current pipeline; the fastest is …"."""
    timed = [r for r in rows if r.e2e and word(r.point) is None]
    if not timed:
        return (f"{title}: no pipeline has a trustworthy E2E figure here (every one is "
                f"{', '.join(sorted({(word(r.point) or '').split(':')[0] for r in rows}))}); "
                "see the table.")
    ref = _reference(timed) or timed[0]
    best = min(timed, key=lambda r: r.e2e or 0.0)
    ref_e2e, best_e2e = ref.e2e or 0.0, best.e2e or 0.0  # every timed row has an E2E
    head = f"{title}: "
    if ref.inference:
        head += (f"E2E is {ratio(ref_e2e / ref.inference)} the pure inference time for the "
                 f"{ref.full_name} pipeline ({sig(ref_e2e)} vs {sig(ref.inference)} ms); ")
    tail = f"the fastest pipeline is {best.full_name}{_switches(best)} (E2E {sig(best_e2e)} ms"
    if best is not ref:
        tail += f", {ratio(ref_e2e / best_e2e)} faster than {ref.full_name}{_switches(ref)}"
    return head + tail + ")."


def pipeline_reports(points: list[Point]) -> list[PipelineReport]:
    """One table and sentence per model/config that has pipeline points."""
    by_model: dict[str, list[Point]] = {}
    for p in points:
        if is_pipeline(p):
            by_model.setdefault(model_config(p.case), []).append(p)
    out = []
    for title, pts in by_model.items():
        _, varying = split_fields(p.case for p in pts)
        several = len({p.case.runtime for p in pts}) > 1
        rows = [PipelineRow(p, _name(p, varying), _stage_medians(p),
                            runtime_label(p.case.runtime) if several else "") for p in pts]
        rows.sort(key=lambda r: (r.runtime, r.name != "current", r.name,
                                 *[r.switch(s) for s in SWITCHES]))
        stages = _stage_order(rows)
        out.append(PipelineReport(title, rows, stages, pipeline_table(title, rows, stages),
                                  pipeline_sentence(title, rows)))
    return out
