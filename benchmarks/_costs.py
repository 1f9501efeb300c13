"""A run's per-case costs, from its results: what the Ray benchmarks report.

A case's fixed cost is its dispatch-to-result wall time less its timed loop: from the
executor's progress events when the benchmark logged them (any version of onnxbench), else
from the results' ``timeline`` (``onnxbench.core.timeline``). A device is what the
executor placed a case on: its GPUs, and its cores where it pinned them.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path


def _device(doc: dict) -> str:
    ran_on = doc.get("ran_on") or {}
    return json.dumps([ran_on.get("gpus"), ran_on.get("cores") if ran_on.get("pinned") else None])


def case_costs(run_dir: Path, events_path: Path | None = None
               ) -> tuple[list[dict], dict[str, int]]:
    """Per case measured ok: its start and end (progress events, else its timeline's
    ``dispatched`` and ``returned``), timed seconds, fixed cost, device and timeline; and
    every result's status count."""
    start: dict[str, float] = {}
    end: dict[str, float] = {}
    if events_path is not None:
        events = json.loads(events_path.read_text())
        start = {cid: t for cid, ev, t in events if ev == "start"}
        end = {cid: t for cid, ev, t in events if ev == "end"}
    rows, statuses = [], {}
    for path in sorted((run_dir / "raw").glob("*/result.json")):
        doc = json.loads(path.read_text())
        statuses[doc["status"]] = statuses.get(doc["status"], 0) + 1
        cid, line = doc["case_id"], doc.get("timeline") or {}
        timed = (doc.get("timing") or {}).get("timed_s")
        t0, t1 = start.get(cid, line.get("dispatched")), end.get(cid, line.get("returned"))
        if doc["status"] != "ok" or timed is None or t0 is None or t1 is None:
            continue
        rows.append({"start": t0, "end": t1, "timed": timed, "fixed": t1 - t0 - timed,
                     "device": _device(doc), "timeline": line})
    return rows, statuses


def analyse(run_dir: Path, events_path: Path | None = None) -> dict:
    """Cases/hour over the span (first start to last end), the fixed cost per case (each
    device's first case apart: a worker's or fork server's start), the device time per case
    that was not measurement, and, where results carry timelines, each phase's median."""
    from onnxbench.core.timeline import phases

    rows, statuses = case_costs(run_dir, events_path)
    n = sum(statuses.values())
    if not rows:
        return {"n": n, "statuses": statuses, "timed": 0}
    rows.sort(key=lambda r: r["start"])
    span = max(r["end"] for r in rows) - min(r["start"] for r in rows)
    devices = len({r["device"] for r in rows})
    seen: set[str] = set()
    first, later = [], []
    for r in rows:
        (later if r["device"] in seen else first).append(r["fixed"])
        seen.add(r["device"])
    fixed = [r["fixed"] for r in rows]
    measured = statistics.mean(r["timed"] for r in rows)
    each = [phases(r["timeline"]) for r in rows if r["timeline"]]
    names = list(dict.fromkeys(k for ph in each for k in ph))
    return {"n": n, "statuses": statuses, "timed": len(rows), "devices": devices,
            "span_s": span, "cases_per_hour": 3600 * len(rows) / span, "measured_s": measured,
            "fixed_median_s": statistics.median(fixed), "fixed_mean_s": statistics.mean(fixed),
            "fixed_later_median_s": statistics.median(later) if later else None,
            "fixed_first_mean_s": statistics.mean(first),
            "device_cost_s": span * devices / len(rows) - measured,
            "phases": {m: statistics.median(ph.get(m, 0.0) for ph in each) for m in names}}


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def arm_table(by_arm: dict[str, list[dict]]) -> list[str]:
    cols = ["arm", "round", "cases", "statuses", "devices", "measured (s/case)", "span (s)",
            "cases/hour", "fixed p50 (s)", "fixed p50, later cases (s)",
            "fixed, first case (s)", "fixed mean (s)", "device s/case not measuring",
            "start (s)"]
    rows = ["| " + " | ".join(cols) + " |", "|" + " --- |" * len(cols)]
    for name, runs in by_arm.items():
        for i, r in enumerate(runs):
            st = ", ".join(f"{n} {s}" for s, n in sorted(r["statuses"].items()))
            cells = [name, str(i), str(r["n"]), st]
            if r.get("timed"):
                cells += [str(r["devices"]), _fmt(r["measured_s"], 2), _fmt(r["span_s"], 1),
                          f"{r['cases_per_hour']:.0f}", _fmt(r["fixed_median_s"]),
                          _fmt(r["fixed_later_median_s"]), _fmt(r["fixed_first_mean_s"]),
                          _fmt(r["fixed_mean_s"]), _fmt(r["device_cost_s"]),
                          _fmt(r.get("cluster_s"), 1)]
            rows.append("| " + " | ".join(cells + [""] * (len(cols) - len(cells))) + " |")
    return rows


def phase_table(by_arm: dict[str, list[dict]]) -> list[str]:
    """Each phase's median seconds per case, per arm (rounds pooled by median)."""
    from onnxbench.core.timeline import MARKS

    arms = [a for a, rs in by_arm.items() if any(r.get("phases") for r in rs)]
    if not arms:
        return []
    lines = ["Median seconds per case in each phase of the results' timelines (a phase is "
             "named by the mark that ends it; the code before #29 records none):", "",
             "| phase | " + " | ".join(arms) + " | what it holds |",
             "|" + " --- |" * (len(arms) + 2)]
    for mark, what in MARKS.items():
        vals = [[r["phases"][mark] for r in by_arm[a] if mark in r.get("phases", {})]
                for a in arms]
        if any(vals):
            cells = " | ".join(_fmt(statistics.median(v)) if v else "" for v in vals)
            lines.append(f"| {mark} | {cells} | {what} |")
    return lines
