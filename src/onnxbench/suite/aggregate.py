"""Fold ``raw/*/result.json`` into ``summary/summary.{csv,json}`` — from files alone.

One row per point (a case minus its process index), folded by
``onnxbench.measure.fold.fold_results``, the one fold the report and ``compare`` use too:
``p50_ms`` is the geometric mean of the process medians with its CI across processes
(``ci_method`` says which), tails pooled with order-statistic CIs, the spread between
processes (``process_rsd``, min/max of the process medians). The output is deterministic
(rows sorted by point id, floats with a fixed format, keys in a fixed order), so
``onnxbench aggregate RUN_DIR`` reproduces both files byte for byte from ``raw/``.

``summary.json``: ``{"suite", "n_planned", "n_results", "n_points", "statuses", "ab_axes",
"noise", "columns", "rows": [...]}``; ``noise`` is the run's between-process noise (pooled
SD of log process medians, its df and the points behind it; null with one process per
point), which ``compare`` uses as this run's run-to-run noise.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onnxbench.core.case import point_id
from onnxbench.core.files import atomic_write_text
from onnxbench.core.result import Result
from onnxbench.core.rundir import RunDir, existing_run_dir
from onnxbench.measure.fold import (
    Folded,
    by_point,
    fold_results,
    has_numbers,
    mean_of,
    run_noise,
)

COLUMNS = ["point_id", "model", "config", "exporter", "runtime", "batch", "seq", "precision",
           "options", "status", "reason", "n_processes", "n", "mean_ms", "p50_ms", "ci_low_ms",
           "ci_high_ms", "ci_method", "p90_ms", "p95_ms", "p95_ci_low_ms", "p95_ci_high_ms",
           "p99_ms", "p99_ci_low_ms", "p99_ci_high_ms", "tail_note", "process_rsd",
           "process_min_ms", "process_max_ms", "unstable", "throughput", "session_create_ms",
           "first_run_ms", "peak_rss_mb", "accuracy", "scenario"]
DECIMALS = 6

__all__ = ["COLUMNS", "Summary", "aggregate", "point_id", "summary_row"]


@dataclass
class Summary:
    rows: list[dict[str, Any]]
    csv_path: Path
    json_path: Path
    document: dict[str, Any]


def _num(x: Any) -> float | None:
    return None if x is None else round(float(x), DECIMALS)


def _tail_cells(f: Folded) -> dict[str, Any]:
    row: dict[str, Any] = {"p90_ms": _num(f.tail("p90"))}
    for name in ("p95", "p99"):
        t = f.tails.get(name)
        row[f"{name}_ms"] = _num(t.value) if t else None
        row[f"{name}_ci_low_ms"] = _num(t.ci_low) if t else None
        row[f"{name}_ci_high_ms"] = _num(t.ci_high) if t else None
    row["tail_note"] = "; ".join(f.tail_notes()) or None
    return row


def summary_row(pid: str, results: list[Result], folded: Folded | None = None
                ) -> dict[str, Any]:
    """One summary row from the results (processes) of one point."""
    case = results[0].case
    f = folded or fold_results(results)
    ok = [r for r in results if has_numbers(r)]
    row: dict[str, Any] = {
        "point_id": pid, "model": case.model, "config": case.config, "exporter": case.exporter,
        "runtime": case.runtime, "batch": case.batch, "seq": case.seq,
        "precision": case.precision,
        "options": json.dumps(case.options, sort_keys=True, default=str) if case.options else "",
        "status": f.status, "reason": f.unstable_reason or f.reason,
        "n_processes": f.n_processes, "n": f.n or None, "mean_ms": _num(f.mean),
        "p50_ms": _num(f.median), "ci_low_ms": _num(f.ci[0]) if f.ci else None,
        "ci_high_ms": _num(f.ci[1]) if f.ci else None, "ci_method": f.ci_method}
    row.update(_tail_cells(f))
    meds = f.process_medians
    row.update({
        "process_rsd": _num(f.process_rsd), "process_min_ms": _num(min(meds)) if meds else None,
        "process_max_ms": _num(max(meds)) if meds else None, "unstable": f.unstable,
        "throughput": _num(_throughput(case, ok, f.mean)),
        "session_create_ms": _num(mean_of([r.timing.session_create_ms for r in ok])),
        "first_run_ms": _num(mean_of([r.timing.first_run_ms for r in ok])),
        "peak_rss_mb": _num(max((r.memory.get("peak_rss_mb") or 0 for r in ok), default=None)
                            if ok else None),
        "accuracy": next((json.dumps(r.accuracy, sort_keys=True, default=str)
                          for r in results if r.accuracy), ""),
        "scenario": case.scenario.slug() if case.scenario is not None else "",
    })
    return row


def _throughput(case, ok: list[Result], mean: float | None) -> float | None:
    """items/s: batch / mean latency; a load point's achieved rate (its latency includes
    the queue, so batch / latency is not its throughput)."""
    if case.scenario is not None:
        return mean_of([r.throughput for r in ok])
    return case.batch / (mean / 1000.0) if mean else None


def _csv_text(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(row[k]) for k in COLUMNS})
    return buf.getvalue()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{DECIMALS}f}"
    return str(value)


def _rounded(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: _num(v) if isinstance(v, float) else v for k, v in doc.items()}


def _plan_meta(run: RunDir) -> dict[str, Any]:
    try:
        doc = json.loads(run.file("configs", "plan.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    if not isinstance(doc, dict):
        return {}
    return {"suite": doc.get("suite"), "ab_axes": doc.get("ab_axes") or {},
            "n_planned": doc.get("n_cases")}


def aggregate(run_dir: Path | str) -> Summary:
    """Rebuild ``summary/`` from ``raw/`` (and the plan's name/axes); returns the rows.
    ``run_dir`` may be the folder holding exactly one run (``--out DIR``)."""
    run = existing_run_dir(run_dir)  # links out of it refused, in one line
    results = run.read_results()  # UserError naming an unreadable result.json
    groups = by_point(results)
    folds = {pid: fold_results(rs) for pid, rs in groups.items()}
    rows = [summary_row(pid, rs, folds[pid]) for pid, rs in groups.items()]
    noise = run_noise(folds.values())
    meta = _plan_meta(run)
    doc = {"suite": meta.get("suite"), "n_planned": meta.get("n_planned"),
           "n_results": len(results), "n_points": len(rows),
           "statuses": dict(sorted(Counter(r.status for r in results).items())),
           "ab_axes": meta.get("ab_axes", {}),
           "noise": _rounded(noise.to_dict()) if noise else None,
           "columns": COLUMNS, "rows": rows}
    csv_path, json_path = run.file("summary", "summary.csv"), run.file("summary", "summary.json")
    atomic_write_text(csv_path, _csv_text(rows))
    atomic_write_text(json_path, json.dumps(doc, indent=1, default=str) + "\n")
    return Summary(rows, csv_path, json_path, doc)


NOT_MEASURED = ("skipped",)  # statuses that are no failure: the case could not run here


def run_status(summary: dict[str, Any]) -> str:
    """A run's status from its ``summary.json`` document: ``ok`` (every case that could run
    here measured), ``partial`` (some measured, some failed), ``failed`` (no case measured and
    at least one failed, crashed, ran out of memory or timed out), ``skipped`` (every case
    skipped here), ``empty`` (no result)."""
    statuses = dict(summary.get("statuses") or {})
    if not statuses:
        return "empty"
    failed = sum(n for s, n in statuses.items() if s != "ok" and s not in NOT_MEASURED)
    if statuses.get("ok"):
        return "partial" if failed else "ok"
    return "failed" if failed else "skipped"


def failure_line(summary: dict[str, Any], run_dir: Path | str) -> str | None:
    """One line saying that no case of the run succeeded, and the first reason; None unless
    ``run_status`` is ``failed``."""
    if run_status(summary) != "failed":
        return None
    counts = ", ".join(f"{n} {s}" for s, n in sorted((summary.get("statuses") or {}).items()))
    first: dict[str, Any] = next((r for r in summary.get("rows", []) if r.get("status")
                                  not in ("ok", *NOT_MEASURED)), {})
    why = f"; first: {first.get('status')}: {first.get('reason')}" if first else ""
    return f"no case succeeded in {run_dir} ({counts}){why}"

