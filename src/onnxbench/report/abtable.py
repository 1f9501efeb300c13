"""The A/B answers as ``Table``\\ s (markdown and HTML both render them; built once): a suite's
``ab:`` pairs or two runs (``Comparison``), and an ``onnxbench ab`` run (its ``ab.json``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onnxbench.measure.ratio import ABResult, resolvable_str
from onnxbench.report.fmt import DASH, sig
from onnxbench.report.tables import Cell, Table

if TYPE_CHECKING:
    from onnxbench.report.compare import Comparison, Pair

HEADERS = ["Case", "A (ms)", "B (ms)", "B/A", "CI", "p (adj.)", "Pairs / processes",
           "Resolvable", "Verdict"]
VERDICT_RULES = ("equivalent = the whole CI within ±{t}; faster / slower = the whole CI below / "
                 "above 1; cannot tell = neither (resolvable = the CI's half-width: the "
                 "smallest difference this measurement could resolve).")


CI_SHOWN = (1e-3, 1e3)  # a ratio's CI end beyond these prints as "<0.001" / ">1000"


def ci_text(r: ABResult) -> str:
    if r.ci_low is None or r.ci_high is None:
        return DASH
    low = f"<{CI_SHOWN[0]:g}" if r.ci_low < CI_SHOWN[0] else sig(r.ci_low)
    high = f">{CI_SHOWN[1]:g}" if r.ci_high > CI_SHOWN[1] else sig(r.ci_high)
    return f"{low}–{high}"


def resolvable_text(r: ABResult) -> str:
    return DASH if r.resolvable_pct is None else resolvable_str(r.resolvable_pct)


def _row(p: Pair, kind: str) -> list[Cell]:
    r = p.result
    if r is None:
        return [Cell(p.label), *[Cell(DASH) for _ in HEADERS[1:-1]], Cell(p.status, is_word=True)]
    units = f"{r.n_a} pairs" if kind == "ab" else f"{r.n_a} / {r.n_b}"
    # the Resolvable column says how close "cannot tell" came: the verdict alone here
    verdict = r.verdict + (f" ({r.note})" if r.note and r.ci_low is None else "")
    return [Cell(p.label), Cell(sig(r.center_a), r.center_a), Cell(sig(r.center_b), r.center_b),
            Cell(sig(r.ratio), r.ratio), Cell(ci_text(r)), Cell(sig(r.p_adjusted), r.p_adjusted),
            Cell(units), Cell(resolvable_text(r), r.resolvable_pct), Cell(verdict, bold=True)]


def ab_table(comp: Comparison, title: str = "A/B comparison") -> Table:
    """Per pair: centres, ratio B/A with its family-wise CI, adjusted p, units, verdict."""
    results = comp.results()
    family = sum(r.ci_low is not None for _, r in results)
    levels = sorted({round(r.level, 6) for _, r in results if r.ci_low is not None})
    units = ("A and B of one process round ran back to back (ABBA); pairs = process rounds "
             "with both" if comp.kind == "ab" else "processes of A / of B")
    notes = [f"A, B: geometric mean of the process medians (ms); ratio B/A (>1: B slower); "
             f"CI at level {', '.join(f'{lv:.4g}' for lv in levels) or DASH} = 1 − 0.05/{family} "
             f"(Bonferroni over the {family} pairs with a CI); p adjusted alike. {units}.",
             VERDICT_RULES.format(t=f"{comp.threshold:.0%}"),
             f"Method: {'; '.join(comp.methods()) or DASH}."]
    notes += _pair_notes(results)
    return Table(title, list(HEADERS), [_row(p, comp.kind) for p in comp.pairs], notes)


def _pair_notes(results: list) -> list[str]:
    """One line per distinct note: "noise: A run, B run (10 of 12 pairs)", or the pair's
    label where one pair has it."""
    by_note: dict[str, list[str]] = {}
    for p, r in results:
        if r.note:
            by_note.setdefault(r.note, []).append(p.label)
    return [f"{labels[0]}: {note}" if len(labels) == 1
            else f"{note} ({len(labels)} of {len(results)} pairs)"
            for note, labels in by_note.items()]


RUN_HEADERS = ["A", "B", "A (ms)", "B (ms)", "B/A", "CI", "Pairs (blocks)", "Looks", "Time (s)",
               "Stopped by", "Verdict"]


def ab_run_table(doc: dict[str, Any]) -> Table:
    """An `onnxbench ab` run: its one answer, the blocks behind it, and how it stopped."""
    out, settings = doc["outcome"], doc["settings"]
    r = out["result"]
    cells = [Cell(doc["a"]["label"]), Cell(doc["b"]["label"]),
             Cell(sig(r.get("center_a")), r.get("center_a")),
             Cell(sig(r.get("center_b")), r.get("center_b")),
             Cell(sig(r.get("ratio")), r.get("ratio")),
             Cell(DASH if r.get("ci_low") is None else f"{sig(r['ci_low'])}–{sig(r['ci_high'])}"),
             Cell(f"{out['pairs']} ({out['blocks']})", out["pairs"]), Cell(str(out["looks"])),
             Cell(sig(out["elapsed_s"]), out["elapsed_s"]), Cell(out["stop_rule"]),
             Cell(doc["verdict"], bold=True)]
    notes = [f"Ratio B/A (>1: B slower) = geometric mean of the pairs' ratios; CI at level "
             f"{r.get('level', 0.95):.4g} (the last look's share of alpha = "
             f"{settings['alpha']:g}).",
             VERDICT_RULES.format(t=f"{settings['threshold']:.0%}"),
             f"Method: {r.get('method')}. Stopping: at the first look with the CI within "
             f"±{_pct(settings.get('target_ci'))}, or the verdict settled, or "
             f"{settings['max_time_s']:g} s of blocks spent.",
             f"Blocks: ABBA BAAB …, each a fresh worker process timing "
             f"{settings['block_time_s']:g} s after {settings['warmup']} warm-up runs."]
    if out.get("failed"):
        notes.append(f"Stopped early: block {out['failed']}")
    return Table("A/B (interleaved blocks)", list(RUN_HEADERS), [cells], notes)


def _pct(fraction: float | None) -> str:
    return DASH if fraction is None else f"{100 * fraction:g} %"
