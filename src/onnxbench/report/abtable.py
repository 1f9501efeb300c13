"""The A/B comparison as one ``Table`` (markdown and HTML both render it; built once)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from onnxbench.report.fmt import DASH, sig
from onnxbench.report.tables import Cell, Table

if TYPE_CHECKING:
    from onnxbench.report.compare import Comparison, Pair

HEADERS = ["Case", "A (ms)", "B (ms)", "B/A", "95 % CI", "p (Holm)", "Effect", "Verdict"]


def _row(p: "Pair") -> list[Cell]:
    r = p.result
    if r is None:
        return [Cell(p.label), *[Cell(DASH) for _ in HEADERS[1:-1]], Cell(p.status, is_word=True)]
    verdict = r.verdict + (f" ({r.note})" if r.note else "")
    return [Cell(p.label), Cell(sig(r.center_a), r.center_a), Cell(sig(r.center_b), r.center_b),
            Cell(sig(r.ratio), r.ratio), Cell(f"{sig(r.ci_low)}–{sig(r.ci_high)}"),
            Cell(sig(r.p_adjusted), r.p_adjusted), Cell(sig(r.effect_size), r.effect_size),
            Cell(verdict, bold=True)]


def ab_table(comp: "Comparison", title: str = "A/B comparison") -> Table:
    """Per pair: medians, ratio B/A with its 95 % CI, Holm-adjusted p, effect size, verdict."""
    methods = sorted({p.result.method for p in comp.tested()})
    notes = [f"A, B = the latencies the ratio compares: geometric mean of the per-repeat medians "
             "(first repeat's median when an arm has one); ratio B/A (>1: B slower); 95 % CI; "
             f"p Holm-adjusted across "
             f"{len(comp.tested())} pairs; equivalent = whole CI within ±{comp.threshold:.0%}.",
             f"Method: {'; '.join(methods) or DASH}."]
    return Table(title, list(HEADERS), [_row(p) for p in comp.pairs], notes)
