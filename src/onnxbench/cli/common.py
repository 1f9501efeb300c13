"""What the commands share: the console, flag parsers, the latency tables and the progress
display (a rich bar on a terminal, one log line per case otherwise or with ``--quiet``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from onnxbench.core.errors import UserError

SERIES_KEYS = ("model", "config", "exporter", "runtime", "precision", "options")
LABEL_WIDTH = 48
PIPED_WIDTH = 140  # rich's 80 columns would fold the tables when output is piped


def console(stderr: bool = False) -> Console:
    """A rich console; 140 columns wide when the stream is not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr) if stream.isatty() else Console(stderr=stderr,
                                                                  width=PIPED_WIDTH)


def check_outcome(outcome: Any) -> None:
    """``RunFailed`` (exit 1, the first reason in the last line) when no case of the run
    (a runner's ``RunOutcome``) succeeded."""
    from onnxbench.core.errors import RunFailed
    from onnxbench.suite.aggregate import failure_line

    line = failure_line(outcome.summary.document if outcome.summary else {}, outcome.run_dir)
    if line:
        raise RunFailed(line)


def parse_int_list(flag: str, text: str | None) -> list[int]:
    """``"1,2,8"`` → [1, 2, 8]; UserError naming the flag unless all are positive integers."""
    if text is None:
        return []
    try:
        values = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        values = []
    if not values or any(v < 1 for v in values):
        raise UserError(f"{flag} {text!r}: expected positive integers separated by commas, "
                        "e.g. 1,2,8,32")
    return values


def _ms(value: Any) -> str:
    return "—" if value is None else f"{float(value):.3f}"


def _options(row: dict[str, Any]) -> dict[str, Any]:
    return json.loads(row["options"]) if row.get("options") else {}


def _series_title(row: dict[str, Any], common: dict[str, Any]) -> str:
    """model · config · exporter · runtime [· precision] [· options that differ]."""
    parts = [Path(row["model"]).name, row.get("config"), row.get("exporter"), row["runtime"]]
    if row.get("precision") not in (None, "fp32"):
        parts.append(row["precision"])
    varying = {k: v for k, v in _options(row).items() if common.get(k, object()) != v}
    parts += [f"{k}={v}" for k, v in sorted(varying.items())]
    return " · ".join(str(p) for p in parts if p)


def _common_options(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Options every row shares (said once under the tables, not in every title)."""
    if not rows:
        return {}
    common = _options(rows[0])
    for row in rows[1:]:
        opts = _options(row)
        common = {k: v for k, v in common.items() if k in opts and opts[k] == v}
    return common


def render_tables(rows: list[dict[str, Any]], out: Console) -> None:
    """One ``| Batch | Mean | Median | P95 | P99 |`` table (ms) per series of summary rows."""
    from rich.table import Table

    series: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        series.setdefault(tuple(str(row.get(k)) for k in SERIES_KEYS), []).append(row)
    common = _common_options(rows)
    for group in series.values():
        has_seq = any(r.get("seq") is not None for r in group)
        table = Table(title=_series_title(group[0], common), title_justify="left")
        for col in ["Batch"] + (["Seq"] if has_seq else []) + ["Mean", "Median", "P95", "P99"]:
            table.add_column(col, justify="right")
        table.add_column("Items/s", justify="right")
        table.add_column("Note")
        for r in sorted(group, key=lambda r: (r["batch"], r.get("seq") or 0)):
            note = "" if r["status"] == "ok" else f"{r['status']}: {r.get('reason') or ''}"
            if r.get("unstable"):
                note = f"UNSTABLE {r.get('reason') or ''}".strip()
            elif r["status"] == "ok" and r.get("reason"):
                note = r["reason"]
            cells = [str(r["batch"])] + ([str(r.get("seq") or "")] if has_seq else [])
            cells += [_ms(r.get(k)) for k in ("mean_ms", "p50_ms", "p95_ms", "p99_ms")]
            cells += ["—" if r.get("throughput") is None else f"{r['throughput']:.1f}", note]
            table.add_row(*cells)
        out.print(table)
    if common:
        out.print("options (all cases): " + ", ".join(f"{k}={v}" for k, v in
                                                      sorted(common.items())),
                  highlight=False)
    out.print("latencies in ms; Median = p50; UNSTABLE = IQR/median above the threshold",
                  highlight=False, style="dim")


@contextmanager
def progress_display(quiet: bool = False) -> Iterator[Callable[[Any], None]]:
    """A progress callback: a rich bar (case, done/total, ETA) on a terminal, else log lines."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    err = Console(stderr=True)
    if quiet or not err.is_terminal:
        yield lambda p: _log_line(p, err)
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                   console=err, transient=True)
    task = None

    def update(p: Any) -> None:
        nonlocal task
        if task is None:
            task = bar.add_task("starting", total=p.total)
        label = f"{'building ' if p.phase == 'artifact' else ''}{p.name}"
        if len(label) > LABEL_WIDTH:  # case ids are long; the bar and ETA must stay visible
            label = label[:LABEL_WIDTH - 1] + "…"
        if p.phase == "case":
            bar.update(task, total=p.total, completed=p.done, description=label)
        else:
            bar.update(task, description=label)
        if p.event == "end" and p.status != "ok":
            err.print(f"[yellow]{p.name}: {p.status}[/] {p.reason or ''}", highlight=False)

    with bar:
        yield update


def _log_line(p: Any, out: Console) -> None:
    if p.event != "end":
        return
    where = f"[{p.done}/{p.total}] " if p.phase == "case" else "[artifact] "
    took = f" ({p.duration_s:.1f} s)" if p.duration_s is not None else ""
    reason = f": {p.reason}" if p.reason and p.status != "ok" else ""
    out.print(f"{where}{p.name} {p.status}{took}{reason}", highlight=False, markup=False,
              soft_wrap=True)




__all__ = ["console", "parse_int_list", "progress_display", "render_tables"]
