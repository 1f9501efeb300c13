"""Peak searches in a report: the table, and the claim each peak makes with its evidence.

A peak is quoted with the run it rests on (``Peak.evidence``): "17 QPS held for 60 s, queue
stable", the window being the confirmation's (the claim the peak makes), ρ beside it, and
a note when ρ ≥ 0.9 (a small rise in load breaks it). A search whose confirmations all
failed has no peak, but says the highest rate that held and for how long ("no rate held for
60 s; at least 12 QPS held for 5 s"), never a bare failure where a lower bound is known.
"""

from __future__ import annotations

from typing import Any

from onnxbench.report.fmt import DASH, pct, sig
from onnxbench.report.load_tables import (
    LoadPoint,
    harness_notes,
    limited_notes,
    ms_cell,
    num_cell,
    rho_cell,
    word_row,
)
from onnxbench.report.tables import Cell, Table

QUEUE = {"stable": "queue stable", "near": "queue stable", "unknown": "queue not tested "
         "(too few requests)"}


def secs(probe: Any) -> str:
    """The window a probe held for: "60 s"."""
    seconds = probe.duration_s or probe.window_s
    return DASH if seconds is None else f"{round(float(seconds), 1):g} s"


def evidence(lp: LoadPoint) -> Any:
    """The probe an ok peak rests on (None for records written before it was kept)."""
    peak = lp.records[0].peak if lp.records else None
    return peak.evidence if peak is not None else None


def claim(lp: LoadPoint) -> str | None:
    """"17 QPS held for 60 s, queue stable"; for a failed search with a lower bound "no rate
    held for 60 s; at least 12 QPS held for 5 s"; None when there is neither."""
    if lp.ok and lp.peak is not None:
        text = f"{'at least ' if lp.limited else ''}{sig(lp.peak)} QPS"
        ev = evidence(lp)
        if ev is not None:
            text += f" held for {secs(ev)}"
            text += f", {QUEUE[ev.queue]}" if ev.queue in QUEUE else ""
        return text
    if lp.lower is not None:
        window = _confirm_window(lp)
        return (f"no rate held{f' for {window}' if window else ''}; at least "
                f"{sig(lp.lower.target_qps)} QPS held for {secs(lp.lower)}")
    return None


def _confirm_window(lp: LoadPoint) -> str | None:
    s = lp.spec
    return f"{s.confirm_s:g} s" if s.confirm_s else None


def peak_table(model: str, lps: list[LoadPoint]) -> Table:
    """Every peak search of a model, highest peak first (lower bounds after)."""
    spec = lps[0].spec
    q = f"p{spec.percentile:g}"
    head = ["Serving", "Bound", "Peak QPS", "Held for", "ρ", "Queue", "Search QPS",
            f"{q} at peak", "p50 at peak", "Confidence", f"Single-stream {q}", "Probes", "Note"]
    rows = []
    for lp in sorted(lps, key=lambda x: -(x.peak or (x.lower.target_qps if x.lower else 0))):
        row = [Cell(lp.label), Cell(f"{q} ≤ {lp.spec.bound_ms:g} ms")]
        if lp.ok:
            rows.append(row + _peak_cells(lp))
        elif lp.lower is not None:
            rows.append(row + _lower_cells(lp))
        else:
            rows.append(row + word_row(lp, len(head) - 2))
    notes = ["Peak: the highest arrival rate whose percentile stayed within the bound with a "
             "queue that did not grow (widen, then bisect, never past the capacity the probes "
             "measured; runs of duration_s each), then confirmed: run for confirm_s, the "
             "window the peak claims, stepping the rate down until it holds. Held for: that "
             "window. ρ: utilisation (rate × busy time per request / workers); from 0.9 a "
             "small rise in load breaks it. Queue: the window's stationarity test. Search "
             "QPS: the short-window rate. Confidence: LoadGen's early-stopping odds that the "
             "true percentile is within the bound at that rate."]
    return Table(f"{model}: peak QPS under the bound", head, rows,
                 notes + limited_notes(lps) + harness_notes(lps))


def _peak_cells(lp: LoadPoint) -> list[Cell]:
    rec = lp.records[0]
    q = f"p{lp.spec.percentile:g}"
    single = (rec.single_stream or {}).get("percentiles_ms", {}).get(q)
    ev = evidence(lp)
    return [num_cell(lp.peak), Cell(secs(ev) if ev is not None else DASH), rho_cell(lp.rho),
            Cell(QUEUE.get(ev.queue, DASH).removeprefix("queue ") if ev is not None else DASH),
            num_cell(lp.search), ms_cell(rec.peak.value_ms if rec.peak else None),
            ms_cell(lp.p["p50"]),
            Cell(pct(lp.confidence)), ms_cell(single), Cell(str(len(rec.probes))), Cell(lp.note())]


def _lower_cells(lp: LoadPoint) -> list[Cell]:
    low = lp.lower
    return [Cell(f"≥ {sig(low.target_qps)}", low.target_qps), Cell(secs(low)),
            rho_cell(low.rho), Cell(QUEUE.get(low.queue, DASH).removeprefix("queue ")),
            Cell(DASH), ms_cell(low.value_ms), ms_cell(low.p50_ms), Cell(pct(low.confidence)),
            Cell(DASH), Cell(DASH), Cell(f"lower bound: {claim(lp)}")]


__all__ = ["claim", "evidence", "peak_table", "secs"]
