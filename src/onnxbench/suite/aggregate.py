"""Fold ``raw/*/result.json`` into ``summary/summary.{csv,json}`` — from files alone.

One row per case point (a case minus its repeat index): repeats fold into the mean of
their medians (``p50_ms``), the spread across repeats (``repeat_std_ms``, min/max of the
medians) and ``n_repeats``. The output is deterministic (rows sorted by point id, floats
with a fixed format, keys in a fixed order), so ``onnxbench aggregate RUN_DIR`` reproduces
both files byte for byte from ``raw/``.

``summary.json``: ``{"suite", "n_points", "n_results", "statuses", "ab_axes", "columns",
"rows": [...]}``; each row has the ``COLUMNS`` below (floats rounded to 6 decimals).
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as sps

from onnxbench.errors import UserError
from onnxbench.result import Result, atomic_write_text, read_results

COLUMNS = ["point_id", "model", "config", "exporter", "runtime", "batch", "seq", "precision",
           "options", "status", "reason", "n_repeats", "n", "mean_ms", "p50_ms", "p95_ms",
           "p99_ms", "ci_low_ms", "ci_high_ms", "repeat_std_ms", "repeat_min_ms",
           "repeat_max_ms", "unstable", "throughput", "session_create_ms", "first_run_ms",
           "peak_rss_mb", "accuracy", "scenario"]
DECIMALS = 6


@dataclass
class Summary:
    rows: list[dict[str, Any]]
    csv_path: Path
    json_path: Path
    document: dict[str, Any]


def point_id(case_id: str) -> str:
    """The case id without its ``_rK`` repeat suffix (repeats of one point share it)."""
    head, sep, tail = case_id.rpartition("_r")
    return head if sep and tail.isdigit() else case_id


def _num(x: Any) -> float | None:
    return None if x is None else round(float(x), DECIMALS)


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def _ci(ok: list[Result], medians: list[float]) -> tuple[float | None, float | None]:
    """Bootstrap CI of one repeat's median; a t-interval over the medians of several."""
    if len(medians) >= 2:
        m, se = float(np.mean(medians)), float(sps.sem(medians))
        half = float(sps.t.ppf(0.975, len(medians) - 1) * se) if se > 0 else 0.0
        return m - half, m + half
    st = ok[0].stats
    return st.median_ci_low, st.median_ci_high


def _status(results: list[Result], ok: list[Result]) -> tuple[str, str | None]:
    bad = [r for r in results if r.status != "ok" or r.stats is None]
    if not ok:
        first = results[0]
        return (first.status if first.status != "ok" else "failed",
                first.reason or ("no latencies recorded" if first.status == "ok" else None))
    if bad:
        return "ok", f"{len(bad)} of {len(results)} repeats {bad[0].status}: {bad[0].reason}"
    unstable = next((r.stats.unstable_reason for r in ok if r.stats.unstable), None)
    return "ok", unstable


def fold(pid: str, results: list[Result]) -> dict[str, Any]:
    """One summary row from the results (repeats) of one point."""
    case = results[0].case
    ok = [r for r in results if r.status == "ok" and r.stats is not None]
    status, reason = _status(results, ok)
    row: dict[str, Any] = {
        "point_id": pid, "model": case.model, "config": case.config, "exporter": case.exporter,
        "runtime": case.runtime, "batch": case.batch, "seq": case.seq,
        "precision": case.precision,
        "options": json.dumps(case.options, sort_keys=True, default=str) if case.options else "",
        "status": status, "reason": reason, "n_repeats": len(results)}
    medians = [r.stats.p50 for r in ok]
    ci = _ci(ok, medians) if ok else (None, None)
    mean = _mean([r.stats.mean for r in ok])
    row.update({
        "n": sum(r.stats.n for r in ok) if ok else None, "mean_ms": _num(mean),
        "p50_ms": _num(_mean(medians)), "p95_ms": _num(_mean([r.stats.p95 for r in ok])),
        "p99_ms": _num(_mean([r.stats.p99 for r in ok])),
        "ci_low_ms": _num(ci[0]), "ci_high_ms": _num(ci[1]),
        "repeat_std_ms": _num(np.std(medians, ddof=1)) if len(medians) > 1 else
        (_num(0.0) if medians else None),
        "repeat_min_ms": _num(min(medians)) if medians else None,
        "repeat_max_ms": _num(max(medians)) if medians else None,
        "unstable": any(r.stats.unstable for r in ok),
        "throughput": _num(_throughput(case, ok, mean)),
        "session_create_ms": _num(_mean([r.timing.session_create_ms for r in ok])),
        "first_run_ms": _num(_mean([r.timing.first_run_ms for r in ok])),
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
        return _mean([r.throughput for r in ok])
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


def _plan_meta(run_dir: Path) -> dict[str, Any]:
    try:
        doc = json.loads((run_dir / "configs" / "plan.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return {"suite": doc.get("suite"), "ab_axes": doc.get("ab_axes") or {},
            "n_planned": doc.get("n_cases")}


def aggregate(run_dir: Path | str) -> Summary:
    """Rebuild ``summary/`` from ``raw/`` (and the plan's name/axes); returns the rows."""
    run = Path(run_dir)
    if not (run / "raw").is_dir():
        raise UserError(f"{run}: not a run directory (no raw/ folder); pass a directory "
                        "made by `onnxbench run`")
    results = read_results(run / "raw")  # UserError naming an unreadable result.json
    groups: dict[str, list[Result]] = {}
    for r in sorted(results, key=lambda r: (point_id(r.case_id), r.case.repeat)):
        groups.setdefault(point_id(r.case_id), []).append(r)
    rows = [fold(pid, rs) for pid, rs in sorted(groups.items())]
    meta = _plan_meta(run)
    doc = {"suite": meta.get("suite"), "n_planned": meta.get("n_planned"),
           "n_results": len(results), "n_points": len(rows),
           "statuses": dict(sorted(Counter(r.status for r in results).items())),
           "ab_axes": meta.get("ab_axes", {}), "columns": COLUMNS, "rows": rows}
    out = run / "summary"
    atomic_write_text(out / "summary.csv", _csv_text(rows))
    atomic_write_text(out / "summary.json", json.dumps(doc, indent=1, default=str) + "\n")
    return Summary(rows, out / "summary.csv", out / "summary.json", doc)
