"""The load section of a report: per model, a sentence, the tables and the curve data.

"At p95 ≤ 500 ms: ORT CPU, 2 sessions × 1 thread, 17 QPS held for 60 s, queue stable (ρ
0.93: near saturation, a small rise in load breaks it); PyTorch CPU, 1 module × 2 threads,
4.5 QPS held for 60 s, queue stable." names, per bound, each runtime's best serving
configuration by its peak QPS, highest first, each with the window it held for and its
queue (``load_peaks.claim``). Two peaks closer than the search's precision are a tie and
say so; a harness-limited peak says so (it is the generator's figure, not the model's); a
runtime whose searches all failed gives its lower bound ("no rate held for 60 s; at least
12 QPS held for 5 s"). Without peak searches the sentence names the highest throughput a
sweep reached, with its p99.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from onnxbench.report.fmt import pct, sig
from onnxbench.report.labels import model_config, runtime_label
from onnxbench.report.load_peaks import claim, peak_table
from onnxbench.report.load_tables import (
    LoadPoint,
    _series_key,
    batching_table,
    find_knee,
    fold,
    fragility,
    is_load,
    layouts_table,
    num,
    offline_table,
    sweep_table,
)
from onnxbench.report.rundata import Point
from onnxbench.report.tables import Table

LIMITED = " (harness-limited: the generator's ceiling here, not the model's)"


@dataclass
class Curve:
    """One series of the latency-throughput curve: (inferences/s, p50, p99) per load point."""

    label: str
    points: list[tuple[float, float | None, float | None]]
    knee: tuple[float, float] | None = None


@dataclass
class ModelLoad:
    title: str
    sentence: str
    tables: list[Table]
    curves: list[Curve] = field(default_factory=list)
    bounds: list[float] = field(default_factory=list)


@dataclass
class LoadReport:
    models: list[ModelLoad]

    @property
    def sentences(self) -> list[str]:
        return [m.sentence for m in self.models if m.sentence]

    def to_dict(self) -> dict[str, Any]:
        return {"models": [{"title": m.title, "sentence": m.sentence,
                            "tables": [t.to_dict() for t in m.tables],
                            "curves": [{"label": c.label, "points": c.points, "knee": c.knee}
                                       for c in m.curves], "bounds": m.bounds}
                           for m in self.models]}


def load_report(points: list[Point]) -> LoadReport | None:
    """The load section, or None when the run has no load point."""
    lps = [fold(p) for p in points if is_load(p)]
    if not lps:
        return None
    by_model: dict[str, list[LoadPoint]] = {}
    for lp in lps:
        by_model.setdefault(_model_key(lp), []).append(lp)
    return LoadReport([_model(title, group) for title, group in sorted(by_model.items())])


def _model_key(lp: LoadPoint) -> str:
    c = lp.case
    return model_config(c) + (f", batch {c.batch}" if c.batch != 1 else "") + \
        (f", seq {c.seq}" if c.seq else "")


def _model(title: str, lps: list[LoadPoint]) -> ModelLoad:
    series: dict[tuple, list[LoadPoint]] = {}
    for lp in lps:
        series.setdefault(_series_key(lp), []).append(lp)
    tables: list[Table] = []
    for group in series.values():
        if group[0].spec.name in ("concurrency", "server"):
            tables.append(sweep_table(title, group[0].label, group))
    peaks = [lp for lp in lps if lp.spec.name == "peak"]
    for bound in sorted({(lp.spec.percentile, lp.spec.bound_ms) for lp in peaks}):
        tables.append(peak_table(title, [lp for lp in peaks
                                         if (lp.spec.percentile, lp.spec.bound_ms) == bound]))
    offline = [lp for lp in lps if lp.spec.name == "offline"]
    tables += [offline_table(title, offline)] if offline else []
    tables += [t for t in (layouts_table(title, lps), batching_table(title, peaks)) if t]
    bounds = sorted({lp.spec.bound_ms for lp in lps if lp.spec.bound_ms})
    return ModelLoad(title, f"{title}: {sentence(lps)}", tables, curves(lps), bounds)


def sentence(lps: list[LoadPoint]) -> str:
    peaks = [lp for lp in lps if lp.spec.name == "peak"]
    if peaks:
        parts = []
        for bound in sorted({(lp.spec.percentile, lp.spec.bound_ms) for lp in peaks}):
            parts.append(_peak_sentence(bound, [lp for lp in peaks if
                                                (lp.spec.percentile, lp.spec.bound_ms) == bound]))
        return " ".join(parts)
    best = [lp for lp in lps if lp.ok and lp.items]
    if not best:
        return "no load point has a number: " + "; ".join(
            f"{lp.label}: {lp.note()}" for lp in lps[:3])
    top = max(best, key=lambda lp: num(lp.items))
    where = f" at concurrency {top.spec.concurrency}" if top.spec.name == "concurrency" else ""
    least = "at least " if top.limited else ""
    return (f"highest throughput {least}{sig(top.items)} inferences/s{where} with {top.label} "
            f"(p99 {sig(top.p['p99'])} ms){LIMITED if top.limited else ''}.")


def _peak_sentence(bound: tuple[float, float], lps: list[LoadPoint]) -> str:
    """Each runtime's best configuration at this bound, highest peak first; runtimes with
    no peak but a lower bound after them."""
    best: dict[str, LoadPoint] = {}
    lower: dict[str, LoadPoint] = {}
    for lp in lps:
        rt = lp.case.runtime
        if lp.ok and lp.peak is not None:
            if rt not in best or lp.peak > num(best[rt].peak):
                best[rt] = lp
        elif lp.lower is not None and (rt not in lower or
                                       lp.lower.target_qps > lower[rt].lower.target_qps):
            lower[rt] = lp
    head = f"At p{bound[0]:g} ≤ {bound[1]:g} ms:"
    lower = {rt: lp for rt, lp in lower.items() if rt not in best}
    if not best and not lower:
        measured = [lp for lp in lps if lp.point.status not in ("skipped",)]
        if not measured:
            return f"{head} nothing measured, every case skipped ({lps[0].point.reason})."
        return f"{head} no configuration met the bound."
    ranked = sorted(best.values(), key=lambda lp: -num(lp.peak))
    bits = [_peak_bit(lp, i, ranked) for i, lp in enumerate(ranked)]
    bits += [f"{lp.label}, {claim(lp)}" for lp in
             sorted(lower.values(), key=lambda lp: -lp.lower.target_qps)]
    return f"{head} {'; '.join(bits)}."


def _peak_bit(lp: LoadPoint, i: int, ranked: list[LoadPoint]) -> str:
    marks = []
    top = num(ranked[0].peak)
    if i and top - num(lp.peak) <= lp.spec.precision_pct / 100 * top:
        marks.append(f"a tie with {runtime_label(ranked[0].case.runtime)} within the "
                     f"search's {lp.spec.precision_pct:g} %")
    if lp.limited:
        marks.append(LIMITED.strip(" ()"))
    fragile = fragility(lp.rho)
    if fragile:
        marks.append(fragile)
    if lp.confidence is not None and lp.confidence < 0.99:
        marks.append(f"bound at {pct(lp.confidence)} confidence")
    return f"{lp.label}, {claim(lp)}" + (f" ({'; '.join(marks)})" if marks else "")


def curves(lps: list[LoadPoint]) -> list[Curve]:
    """Latency against throughput per series: sweep points and every peak probe."""
    series: dict[str, list[tuple[float, float | None, float | None]]] = {}
    knees: dict[str, tuple[float, float]] = {}
    groups: dict[tuple, list[LoadPoint]] = {}
    for lp in lps:
        if not lp.ok:
            continue
        pts = series.setdefault(lp.label, [])
        if lp.spec.name == "peak":
            batch = lp.case.batch
            pts += [(p.achieved_qps * batch, p.p50_ms, p.value_ms)
                    for r in lp.records for p in r.probes if p.achieved_qps and not p.overloaded]
        elif lp.items:
            pts.append((lp.items, lp.p["p50"], lp.p["p99"]))
            groups.setdefault(_series_key(lp), []).append(lp)
    for group in groups.values():
        knee = find_knee(group)
        if knee:
            knees[knee.label] = (num(knee.items), num(knee.p["p99"]))
    return [Curve(label, sorted(pts), knees.get(label)) for label, pts in series.items() if pts]


def markdown_lines(load: LoadReport, md_table) -> list[str]:
    """The load section in markdown (``md_table`` renders a Table)."""
    out = ["## Which runtime, for which traffic", ""] + [f"- {s}" for s in load.sentences] + [""]
    for m in load.models:
        out += [f"## Load: {m.title}", ""] + [md_table(t) for t in m.tables]
    return out


__all__ = ["Curve", "LoadReport", "ModelLoad", "is_load", "load_report", "markdown_lines"]
