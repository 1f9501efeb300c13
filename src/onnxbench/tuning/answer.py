"""``tune``'s answer from its decision: one paragraph, the Pareto front (speed × accuracy ×
cores), what to paste (ORT SessionOptions or the torch.compile call, the serving settings)
and a suite YAML that reproduces the winner. Plain data; ``tune.json`` in the run directory
holds it (the report reads it from there) and ``tune.md`` renders it.
"""

from __future__ import annotations

import math
from typing import Any

from onnxbench.report.tune_section import ci_text
from onnxbench.tuning.goals import Goal
from onnxbench.tuning.records import Decision, Evidence
from onnxbench.tuning.sampler import pareto_front
from onnxbench.tuning.space import Candidate, Space


def _fig(goal: Goal, ev: Evidence | None) -> str:
    if ev is None or ev.value is None:
        return "–"
    if goal.kind == "throughput":
        return f"{'at least ' if ev.lower_bound else ''}{ev.value:.4g} QPS"
    what = "median" if goal.kind == "latency" else f"p{goal.percentile:g}"
    ci = f" (95 % CI {ci_text(_ci(ev.ci), '.3g')})" if ev.ci else ""
    return f"{what} {ev.value:.3g} ms{ci}"


def _drop(ev: Evidence | None) -> str:
    if ev is None or ev.accuracy is None:
        return "accuracy not measured"
    acc = ev.accuracy
    return (f"{acc.get('metric', 'metric')} {acc.get('value', float('nan')):.4g} against fp32's "
            f"{acc.get('reference_value', float('nan')):.4g} (drop {ev.accuracy_drop or 0:.3g})")


def rows(goal: Goal, space: Space, d: Decision) -> list[dict[str, Any]]:
    """One row per measured candidate: its latest figure, accuracy, cores, where it ended."""
    by_key = {c.key: c for c in space.candidates}
    out: list[dict[str, Any]] = []
    for key, ev in d.evidence.items():
        cand = by_key.get(key)
        if cand is None:
            continue
        screen = d.screen.get(cand.engine.key)
        out.append({"key": key, "label": cand.label(), "runtime": cand.runtime,
                    "cores": cand.cores, "stage": ev.stage, "status": ev.status,
                    "value": ev.value, "ci": _ci(ev.ci), "lower_bound": ev.lower_bound,
                    "p99_ms": ev.p99_ms, "met": ev.met, "confirmed": ev.confirmed,
                    "accuracy_drop": screen.accuracy_drop if screen else None,
                    "point_id": ev.point_id, "dropped": d.dropped.get(key),
                    "winner": key == d.winner, "tie": key in d.ties})
    front = pareto_front({str(r["key"]): (_objective(goal, float(r["value"])),
                                          float(r["accuracy_drop"] or 0.0), float(r["cores"]))
                          for r in out if r["value"] is not None and r["status"] == "ok"})
    for r in out:
        r["pareto"] = r["key"] in front
    sign = -1.0 if goal.kind == "throughput" else 1.0
    return sorted(out, key=lambda r: (not r["winner"], not r["pareto"], r["value"] is None,
                                      sign * (r["value"] or 0.0)))


def _ci(ci: tuple[float, float] | None) -> list[float | None] | None:
    """A CI for tune.json: an open upper end (a peak that is a lower bound) is null."""
    return None if ci is None else [ci[0], ci[1] if math.isfinite(ci[1]) else None]


def _objective(goal: Goal, value: float) -> float:
    return -value if goal.kind == "throughput" else value


def paragraph(goal: Goal, space: Space, d: Decision) -> str:
    by_key = {c.key: c for c in space.candidates}
    if d.winner is None:
        why = "; ".join(d.remedies + d.notes) or \
            "every candidate was dropped (their reasons are in the table)"
        if d.exhausted:
            return (f"No configuration was shown to meet {goal.describe()} before the budget "
                    f"ran out: {why}.")
        return f"No configuration meets {goal.describe()}: {why}."
    win, ev = by_key[d.winner], d.evidence[d.winner]
    text = f"Ship {win.label()}: {_fig(goal, ev)}"
    if goal.kind == "rate":
        text += f" at {goal.qps:g} QPS with {win.cores} core{'s' * (win.cores > 1)}"
    if ev.confirmed:
        text += " (confirmed)"
    text += f"; {_drop(d.screen.get(win.engine.key))}."
    if d.ties:
        names = ", ".join(by_key[k].label() for k in d.ties)
        text += (f" A tie with {names}: the difference is within the noise "
                 f"({_ab_words(d)}); picked for fewer cores, then accuracy.")
    runner = next((k for k in d.ranking if k != d.winner and k not in d.ties), None)
    if runner:
        text += f" Runner-up: {by_key[runner].label()}, {_fig(goal, d.evidence[runner])}."
    text += _other_families(goal, by_key, d, win)
    if d.remedies:
        text += f" {'; '.join(d.remedies)}."
    if d.exhausted:
        text += " The budget ran out before the search finished: this is the best answer so far."
    return text


def _ab_words(d: Decision) -> str:
    said = [a["verdict"] for a in d.ab if a["verdict"] in ("equivalent", "cannot tell")]
    return f"ab: {', '.join(said)}" if said else "CIs overlap"


def _other_families(goal: Goal, by_key: dict[str, Candidate], d: Decision,
                    win: Candidate) -> str:
    """The best of each other runtime, so the answer says what the alternatives give."""
    best: dict[str, tuple[str, Evidence]] = {}
    for key, ev in d.evidence.items():
        cand = by_key.get(key)
        if cand is None or cand.runtime == win.runtime or not ev.ok:
            continue
        seen = best.get(cand.runtime)
        better = seen is None or (_objective(goal, ev.value or 0) <
                                  _objective(goal, seen[1].value or 0))
        if better:
            best[cand.runtime] = (key, ev)
    from onnxbench.runtimes import runtime_label

    parts = [f"{runtime_label(rt)} best {_fig(goal, ev)}" for rt, (_, ev) in sorted(best.items())]
    return f" {'; '.join(parts)}." if parts else ""


__all__ = ["paragraph", "rows"]
