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


RUN_HEADERS = ["A", "B", "A (ms)", "B (ms)", "B/A", "CI", "Units", "Looks", "Time (s)",
               "Stopped by", "Verdict"]


def _units(out: dict[str, Any], design: str) -> Cell:
    """"4 processes (96 pairs)" (interleaved) or "8 pairs (16 blocks)" (process design)."""
    if design == "interleaved":
        n = out.get("units", out["pairs"])
        return Cell(f"{n} processes ({out['pairs']} pairs)", n)
    return Cell(f"{out['pairs']} pairs ({out['blocks']} blocks)", out["pairs"])


def _answer_row(a: str, b: str, r: dict[str, Any], units: Cell, out: dict[str, Any],
                verdict: str) -> list[Cell]:
    return [Cell(a), Cell(b), Cell(sig(r.get("center_a")), r.get("center_a")),
            Cell(sig(r.get("center_b")), r.get("center_b")),
            Cell(sig(r.get("ratio")), r.get("ratio")),
            Cell(DASH if r.get("ci_low") is None else f"{sig(r['ci_low'])}–{sig(r['ci_high'])}"),
            units, Cell(str(out["looks"])), Cell(sig(out["elapsed_s"]), out["elapsed_s"]),
            Cell(out["stop_rule"]), Cell(verdict, bold=True)]


def ab_run_table(doc: dict[str, Any]) -> Table:
    """An `onnxbench ab` run: its one answer (and, with a device clock, the device's beside
    it), the design and the workers behind it, and how it stopped."""
    out, settings = doc["outcome"], doc["settings"]
    design = (doc.get("design") or {}).get("used", "process")
    units = _units(out, design)
    r = out["result"]
    rows = [_answer_row(doc["a"]["label"], doc["b"]["label"], r, units, out, doc["verdict"])]
    device = doc.get("device")
    if device:
        d = device["result"]
        clock = (device.get("a") or {}).get("clock", "device clock")
        rows.append(_answer_row(f"{doc['a']['label']} [{clock}]",
                                f"{doc['b']['label']} [{clock}]", d, units, out,
                                f"{d['verdict_text']} (device, descriptive)"))
    notes = [f"Ratio B/A (>1: B slower) = geometric mean of the units' ratios; CI at level "
             f"{r.get('level', 0.95):.4g} (the last look's share of alpha = "
             f"{settings['alpha']:g}).",
             VERDICT_RULES.format(t=f"{settings['threshold']:.0%}"),
             f"Method: {r.get('method')}. Stopping: at the first look with the CI within "
             f"±{_pct(settings.get('target_ci'))}, or the verdict settled, or "
             f"{settings['max_time_s']:g} s of workers spent.",
             design_note(doc, design)]
    notes += levels_notes(doc.get("levels")) + device_notes(device)
    if out.get("failed"):
        notes.append(f"Stopped early: {out['failed']}")
    return Table("A/B (interleaved blocks)", list(RUN_HEADERS), rows, notes)


def design_note(doc: dict[str, Any], design: str) -> str:
    settings, used = doc["settings"], doc.get("design") or {}
    why = used.get("reason")
    block = settings.get("block_time_s")
    if design == "interleaved":
        timed = used.get("process_s") or settings.get("process_time_s")
        return (f"Design: interleaved: each worker process prepares A and B, warms both up, "
                f"then alternates them ABBA BAAB … in blocks of ~{block or 0.05:g} s (at least "
                f"{settings.get('min_block_runs', 10)} runs, sized from the warm-up) for "
                f"{sig(timed)} s of timed runs; processes alternate which side leads and is "
                "created first, and each process is one unit (its pairs' mean log ratio).")
    return (f"Design: process: blocks ABBA BAAB …, each a fresh worker process timing "
            f"{block or 0.5:g} s after {settings['warmup']} warm-up runs; adjacent blocks "
            f"are the units" + (f" (why: {why})." if why else "."))


def levels_notes(levels: dict[str, Any] | None) -> list[str]:
    """Where the noise is: within a process (block pairs) and between processes."""
    if not levels or levels.get("process_sd") is None:
        return []
    within, between = levels.get("within_pair_sd"), levels.get("between_process_sd")
    share = levels.get("between_share")
    text = (f"Two levels: a process's log ratio varies by sd {_sd(levels['process_sd'])} "
            f"between processes ({levels['processes']} processes, "
            f"{sig(levels.get('pairs_per_process'))} pairs each); a block pair's by sd "
            f"{_sd(within)} inside a process")
    if share is not None:
        more = ("more processes narrow the CI, longer ones hardly" if share >= 0.5
                else "longer processes narrow the CI as well as more of them")
        text += (f"; {100 * share:.0f} % of a process's variance is between processes "
                 f"(sessions, placement; sd {_sd(between)}): {more}")
    return [text + "."]


def device_notes(device: dict[str, Any] | None) -> list[str]:
    """Host and device medians of each side side by side, and the launch-bound sentence."""
    if not device:
        return []
    notes = []
    for arm in ("a", "b"):
        side = device.get(arm)
        if not side:
            continue
        notes.append(f"{arm.upper()}: host {sig(side.get('host_ms'))} ms, device "
                     f"{sig(side.get('device_ms'))} ms ({side.get('clock')}), the call "
                     f"returned after {sig(side.get('launch_ms'))} ms"
                     + (f"; {side['note']}." if side.get("note") else "."))
    return notes


def _sd(value: float | None) -> str:
    return DASH if value is None else f"{100 * value:.2g} %"


def _pct(fraction: float | None) -> str:
    return DASH if fraction is None else f"{100 * fraction:g} %"
