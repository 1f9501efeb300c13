"""Mixed-shape cases (``seq_mix``): latency per sequence length and the mix's own, one table.

Reads ``result.json['mix']`` (``onnxbench.measure.shape_mix``); with repeats, each repeat's rows are
shown under its point (the per-length numbers of different processes are not pooled here).
"""

from __future__ import annotations

from onnxbench.report.fmt import pct, sig
from onnxbench.report.labels import case_label, model_config, split_fields
from onnxbench.report.rundata import Point
from onnxbench.report.tables import Cell, Table


def mix_table(points: list[Point]) -> Table | None:
    """| Point | Seq | Weight | n | Mean | p50 | p90 | p99 |, the mix's overall row last."""
    mixed = [(p, r) for p in points for r in p.ok_results() if r.mix]
    if not mixed:
        return None
    _, varying = split_fields(p.case for p, _ in mixed)
    rows = []
    for p, r in mixed:
        mix = r.mix or {}
        label = f"{model_config(r.case)} {case_label(r.case, varying)}"
        label += f" (repeat {r.case.repeat})" if len(p.results) > 1 else ""
        lines = [(str(s["seq"]), pct(s["weight"]), s) for s in mix["per_shape"]]
        lines.append(("mix (all)", "100 %", mix["overall"]))
        for seq, weight, s in lines:
            rows.append([Cell(label), Cell(seq, bold=seq == "mix (all)"), Cell(weight),
                         Cell(str(s["n"]), s["n"]),
                         *[Cell(sig(s[k]), s[k]) for k in ("mean", "p50", "p90", "p99")]])
    notes = ["one session; lengths drawn in a seeded random order by weight, each warmed up "
             "first; the mix row is over every latency of the case (ms)"]
    return Table("Mixed shapes: latency per sequence length and for the mix", ["Point", "Seq",
                 "Weight", "n", "Mean (ms)", "p50 (ms)", "p90 (ms)", "p99 (ms)"], rows, notes)
