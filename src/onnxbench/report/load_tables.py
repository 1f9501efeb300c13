"""Load points in a report: perf_analyzer's table, rate sweeps, offline, layouts, batching
(the peak table and the peak's claim: ``load_peaks``).

Reads results only (``Result.load``, written by ``onnxbench.scenarios``). Repeats of a point
fold into the mean of their figures. Every point shows its utilisation ρ and, under open-loop
arrivals, whether its queue was stable; ρ ≥ 0.9 gets a note that a small rise in load breaks
it. A point the harness limits keeps its number and is marked *harness-limited*; each table
says what the generator's ceiling was. A failed point shows its status and reason, never a
number (a peak search that failed shows its lower bound, with the window it held for).

The **knee** of a series (a runtime × layout × batching over its load points) is its highest
throughput whose p99 is at most twice the series' lowest p99: past it, latency grows faster
than throughput.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from onnxbench.report.fmt import DASH, one_line, pct, plain, short_reason, sig
from onnxbench.report.labels import runtime_framework, runtime_label
from onnxbench.report.rundata import Point
from onnxbench.report.tables import Cell, Table
from onnxbench.scenarios.stationarity import NEAR_RHO

THREAD_OPTIONS = ("intra_op_threads", "threads")
KNEE_FACTOR = 2.0


def is_load(point: Point) -> bool:
    return point.case.scenario is not None


@dataclass
class LoadPoint:
    """One load point, repeats folded (means of the ok repeats' figures)."""

    point: Point
    records: list[Any]
    label: str = ""
    qps: float | None = None       # achieved requests/s (peak: at the best probe)
    items: float | None = None     # inferences/s = qps × batch
    p: dict[str, float | None] = field(default_factory=dict)  # p50/p90/p95/p99 (ms)
    peak: float | None = None      # the peak's target rate (confirmed when confirmation ran)
    search: float | None = None    # peak: the short-window search's rate
    confidence: float | None = None
    limited: list[str] = field(default_factory=list)  # harness reasons
    rho: float | None = None       # utilisation (at the best probe for a peak)
    queue: Any = None              # the Stationarity record of the (first) repeat
    lower: Any = None              # a failed peak search's lower bound (a Probe)

    @property
    def case(self):
        return self.point.case

    @property
    def spec(self):
        return self.point.case.scenario

    @property
    def ok(self) -> bool:
        return bool(self.records) and self.point.status == "ok"

    def note(self) -> str:
        if not self.ok:
            return f"{self.point.status}: {short_reason(self.point.reason, 60)}"
        bits = ["harness-limited"] if self.limited else []
        rec = self.records[0]
        if rec.overloaded:
            bits.append("overloaded")
        if rec.bound is not None and not rec.bound.met and rec.bound.percentile_met:
            bits.append("not met: the queue grew")
        if self.confidence is not None and self.confidence < 0.99 and rec.bound is not None:
            bits.append(f"bound at {pct(self.confidence)} confidence")
        fragile = fragility(self.rho)
        if fragile:
            bits.append(fragile)
        if rec.peak is not None:
            bits += _confirm_note(self, rec.peak)
        return "; ".join(bits)


def fragility(rho: float | None) -> str | None:
    """The note of a point near saturation (ρ ≥ 0.9) or past it."""
    if rho is None or rho < NEAR_RHO:
        return None
    if rho >= 1.0:
        return f"ρ {rho:.2f}: past the workers' capacity, the queue grows without bound"
    return f"ρ {rho:.2f}: near saturation, a small rise in load breaks it"


def queue_word(s: Any) -> str:
    """A Stationarity record in a word or three: "stable", "growing 3.1 ms/s"."""
    if s is None or s.verdict == "n/a":
        return DASH
    if s.verdict == "growing":
        slope = s.queue_slope if s.reason and s.reason.startswith("queue") else \
            s.latency_slope if s.reason and s.reason.startswith("latency") else None
        return f"growing {sig(slope)} ms/s" if slope is not None else "growing (ρ ≥ 1)"
    return {"near": "stable (near)", "unknown": "too few requests"}.get(s.verdict, s.verdict)


def _confirm_note(lp: LoadPoint, peak: Any) -> list[str]:
    if not peak.confirm_s:
        return ["not confirmed (confirm_s 0)"]
    if lp.search and lp.peak is not None and lp.peak < lp.search:
        return [f"confirmation ({peak.confirm_s:g} s) lowered it from {sig(lp.search)} QPS"]
    return []


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def fold(point: Point) -> LoadPoint:
    records = [r.load for r in point.results if r.status == "ok" and r.load is not None]
    lp = LoadPoint(point, records, label=serving_label(point.case))
    lows = [r.load.peak.lower_bound for r in point.results
            if r.load is not None and r.load.peak is not None and r.load.peak.lower_bound]
    lp.lower = max(lows, key=lambda p: p.target_qps) if lows else None
    if not records:
        return lp
    lp.queue = records[0].stationarity
    lp.rho = _mean([r.stationarity.rho if r.stationarity else None for r in records])
    lp.qps = _mean([r.achieved_qps for r in records])
    lp.items = _mean([r.items_per_s for r in records])
    for q in ("p50", "p90", "p95", "p99"):
        lp.p[q] = _mean([getattr(r.latency_ms, q) if r.latency_ms else None for r in records])
    peaks = [r.peak for r in records if r.peak is not None]
    bounds = [r.bound for r in records if r.bound is not None]
    if peaks:
        lp.peak = _mean([p.qps for p in peaks])
        lp.search = _mean([p.search_qps if p.search_qps is not None else p.qps for p in peaks])
        lp.confidence = _mean([p.confidence for p in peaks])
    elif bounds:
        lp.confidence = _mean([b.confidence for b in bounds])
    lp.limited = [reason for r in records if r.harness for reason in r.harness.reasons]
    return lp


# ---- labels ------------------------------------------------------------------------

def threads_of(case) -> str:
    n = next((case.options[k] for k in THREAD_OPTIONS if case.options.get(k) is not None), None)
    return "default threads" if n is None else f"{n} thread{'s' if int(n) != 1 else ''}"


def serving_label(case) -> str:
    """"ORT CPU, 2 sessions × 1 thread" and friends: runtime, layout, threads, batching.

    A concurrency sweep whose workers follow its callers (the default) says "per caller",
    so the points of one sweep share one label."""
    spec, rt = case.scenario, runtime_label(case.runtime)
    unit = "module" if runtime_framework(case.runtime) == "torch" else "session"
    t = threads_of(case)
    per_caller = spec.name == "concurrency" and spec.workers is None
    w = spec.n_workers
    many = "a {} per caller" if per_caller else f"{w} {{}}"
    threads = ", a thread per caller" if per_caller else (f", {w} threads" if w > 1 else "")
    text = {
        "per-thread": f"{many.format(_plural(unit, per_caller or w))} × {t}"
        if per_caller or w > 1 else f"1 {unit} × {t}",
        "processes": f"{many.format(_plural('process', per_caller or w))} × {t}",
        "lock": f"1 {unit} × {t} behind a lock{threads}",
        "streams": f"{many.format(_plural('CUDA stream', per_caller or w))} × {t}",
    }.get(spec.layout, f"1 {unit} × {t}{threads}")
    if spec.batching:
        text += f", batching ≤ {spec.max_batch} / {spec.max_delay_ms:g} ms"
    return f"{rt}, {text}"


def _plural(word: str, n: int | bool) -> str:
    if n is True or n == 1:
        return word
    return word + ("es" if word.endswith("s") else "s")


def _series_key(lp: LoadPoint) -> tuple:
    spec, case = lp.spec, lp.case
    opts = {k: v for k, v in sorted(case.options.items()) if k not in THREAD_OPTIONS}
    return (lp.label, case.precision, str(opts), spec.name, spec.arrival, spec.bound_ms,
            spec.percentile, spec.concurrency if spec.name != "concurrency" else None)


def ms_cell(v: float | None) -> Cell:
    return Cell(sig(v), v)


def num_cell(v: float | None) -> Cell:
    return Cell(DASH if v is None else sig(v), v)


def word_row(lp: LoadPoint, width: int) -> list[Cell]:
    return [Cell(lp.note(), is_word=True)] + [Cell("")] * (width - 1)


# ---- tables ------------------------------------------------------------------------

def sweep_table(model: str, label: str, lps: list[LoadPoint]) -> Table:
    """perf_analyzer's shape for concurrency; a rate sweep's for the server scenario."""
    spec = lps[0].spec
    closed = spec.name == "concurrency"
    head = ["Concurrency" if closed else "Target QPS", "Inferences/s"] + \
        ([] if closed else ["Achieved QPS"]) + ["p50", "p90", "p95", "p99", "ρ"] + \
        ([] if closed else ["Queue"])
    bound = spec.bound_ms is not None
    if bound:
        head += [f"p{spec.percentile:g} ≤ {spec.bound_ms:g} ms", "Confidence"]
    rows = []
    for lp in sorted(lps, key=lambda x: (x.spec.concurrency or 0, x.spec.qps or 0)):
        x = lp.spec.concurrency if closed else lp.spec.qps
        row = [Cell(f"{x:g}", x)]
        if not lp.ok:
            rows.append(row + word_row(lp, len(head)))
            continue
        row += [num_cell(lp.items)] + ([] if closed else [num_cell(lp.qps)])
        row += [ms_cell(lp.p[q]) for q in ("p50", "p90", "p95", "p99")] + [rho_cell(lp.rho)]
        row += [] if closed else [Cell(queue_word(lp.queue))]
        if bound:
            met = lp.records[0].bound.met if lp.records[0].bound else None
            row += [Cell({True: "yes", False: "no", None: DASH}[met]), Cell(pct(lp.confidence))]
        rows.append(row + [Cell(lp.note())])
    knee = find_knee(lps)
    notes = [f"knee ≈ {sig(knee.items)} inferences/s (p99 {sig(knee.p['p99'])} ms): the last "
             "point whose p99 is within twice the series' lowest"] if knee else []
    notes += limited_notes(lps) + harness_notes(lps)
    kind = "concurrency sweep" if closed else \
        "arrival-rate sweep (latency from the scheduled arrival)"
    return Table(f"{model}: {label}, {kind}", head + ["Note"], rows, notes)


def offline_table(model: str, lps: list[LoadPoint]) -> Table:
    head = ["Serving", "Inferences/s", "p50", "p99", "Note"]
    rows = [[Cell(lp.label)] + ([num_cell(lp.items), ms_cell(lp.p["p50"]), ms_cell(lp.p["p99"]),
                                 Cell(lp.note())] if lp.ok else word_row(lp, 4))
            for lp in sorted(lps, key=lambda x: -(x.items or 0))]
    return Table(f"{model}: offline (every request at once)", head, rows,
                 limited_notes(lps) + harness_notes(lps))


def layouts_table(model: str, lps: list[LoadPoint]) -> Table | None:
    """Lock vs shared vs per-thread (vs processes, streams) side by side, with the output
    check: does one session need a lock?"""
    layouts = {lp.spec.layout for lp in lps}
    if len(layouts) < 2:
        return None
    head = ["Serving", "Scenario", "Inferences/s", "p99", "Outputs under concurrency", "Note"]
    rows = []
    for lp in sorted(lps, key=lambda x: (x.case.runtime, x.spec.name, x.spec.layout,
                                         x.spec.concurrency or 0, x.spec.qps or 0)):
        check = lp.records[0].check if lp.records else None
        verdict = DASH if check is None else (
            ("equal (bitwise)" if check.bitwise_equal else f"within tolerance (max abs "
             f"{sig(check.max_abs)})") if check.passed
            else f"DIFFER: {short_reason(check.problem, 50)}")
        value = lp.peak if lp.spec.name == "peak" else lp.items
        rows.append([Cell(lp.label), Cell(scenario_text(lp.spec)),
                     num_cell(value if lp.ok else None),
                     ms_cell(lp.p.get("p99")), Cell(verdict), Cell(lp.note())])
    notes = ["Peak scenario: the value is the peak QPS under the bound."] \
        if any(lp.spec.name == "peak" for lp in lps) else []
    return Table(f"{model}: serving layouts side by side (does one session need a lock?)", head,
                 rows, notes)


def batching_table(model: str, lps: list[LoadPoint]) -> Table | None:
    """Dynamic batching on vs off: does it raise the peak, and what does it cost in p50?"""
    if len({lp.spec.batching for lp in lps}) < 2:
        return None
    head = ["Serving", "Batching", "Peak QPS", "p50 at peak", "p99 at peak", "Mean batch", "Note"]
    rows = [[Cell(lp.label), Cell(f"≤ {lp.spec.max_batch} / {lp.spec.max_delay_ms:g} ms"
                                  if lp.spec.batching else "off")]
            + ([num_cell(lp.peak), ms_cell(lp.p["p50"]), ms_cell(lp.p["p99"]),
                num_cell(lp.records[0].mean_batch), Cell(lp.note())] if lp.ok else word_row(lp, 5))
            for lp in sorted(lps, key=lambda x: (x.case.runtime, x.spec.layout, x.spec.max_batch))]
    return Table(f"{model}: dynamic batching on and off (peak under the bound)", head, rows)


def scenario_text(spec) -> str:
    if spec.name == "concurrency":
        return f"concurrency {spec.concurrency}"
    if spec.name == "server":
        return f"server {plain(spec.qps)} QPS"
    if spec.name == "peak":
        return f"peak, p{spec.percentile:g} ≤ {spec.bound_ms:g} ms"
    return spec.name


def rho_cell(rho: float | None) -> Cell:
    return Cell(DASH if rho is None else f"{rho:.2f}", rho)


def harness_notes(lps: list[LoadPoint]) -> list[str]:
    """What the generator's ceiling was here, and where the generator ran."""
    harness = [r.harness for lp in lps for r in lp.records
               if r.harness is not None and r.harness.ceiling_qps]
    out = []
    if harness:
        lo = min(h.ceiling_qps or 0.0 for h in harness)
        hi = max(h.ceiling_qps or 0.0 for h in harness)
        at_least = "≥ " if any(h.ceiling_is_lower_bound for h in harness) else ""
        span = f"{at_least}{sig(lo)}" + (f"–{sig(hi)}" if sig(hi) != sig(lo) else "")
        out.append(f"generator's ceiling here: {span} QPS (a no-op runtime through the same "
                   f"generator and layout); a point is harness-limited only from "
                   f"{pct(harness[0].margin)} of it, when the generator fell behind its "
                   "schedule, or when its issue delay is a quarter of the bound")
    affinity = next((r.affinity for lp in lps for r in lp.records if r.affinity), None)
    if affinity is not None:
        out.append(f"CPUs: {affinity.note}")
    return out


def limited_notes(lps: list[LoadPoint]) -> list[str]:
    out = []
    for lp in lps:
        if lp.limited:
            out.append(one_line(f"harness-limited, {lp.label} {scenario_text(lp.spec)}: "
                                f"{lp.limited[0]}", 300))
        elif not lp.ok and lp.point.reason:
            out.append(one_line(f"{lp.label} {scenario_text(lp.spec)}: {lp.point.reason}", 300))
    return out


def find_knee(lps: list[LoadPoint]) -> LoadPoint | None:
    pts = [lp for lp in lps if lp.ok and lp.items and lp.p.get("p99")]
    if len(pts) < 3:
        return None
    floor = min(num(lp.p["p99"]) for lp in pts)
    inside = [lp for lp in pts if num(lp.p["p99"]) <= KNEE_FACTOR * floor]
    return max(inside, key=lambda lp: num(lp.items)) if inside else None


def num(value: float | None) -> float:
    """A figure known to be there (the caller filtered out the missing ones)."""
    return float(value or 0.0)
