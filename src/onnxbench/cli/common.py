"""What the commands share: the console, flag parsers, the latency tables and the progress
display (a rich bar on a terminal, one log line per case otherwise or with ``--quiet``)."""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from onnxbench.core.errors import UserError

SERIES_KEYS = ("model", "config", "exporter", "runtime", "precision", "options")
LABEL_WIDTH = 60
PIPED_WIDTH = 140  # rich's 80 columns would fold the tables when output is piped


def console(stderr: bool = False) -> Console:
    """A rich console: the terminal's width (``COLUMNS`` when set, piped or not), else 140
    columns when the stream is not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty() or os.environ.get("COLUMNS", "").isdigit():
        return Console(stderr=stderr)
    return Console(stderr=stderr, width=PIPED_WIDTH)


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


def check_report_written(error: str | None, run_dir: Path | str) -> None:
    """After the results are printed: a report that could not be written (a full disk at
    report.html) is the command's failure, one line and exit 2, not a note under exit 0."""
    if error:
        raise UserError(f"report not written: {error}; the results are saved in {run_dir}: "
                        f"once fixed, write it with `onnxbench report {run_dir}`")


def _ms(value: Any) -> str:
    from onnxbench.core.numbers import sig

    return "—" if value is None else sig(value)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) and value else value


def _options(row: dict[str, Any]) -> dict[str, Any]:
    return _json(row.get("options")) or {}


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


def _note(r: dict[str, Any]) -> str:
    """The Note cell: UNSTABLE with its measure, a status with its reason, or a remark."""
    import re

    reason = r.get("reason") or ""
    if r.get("unstable"):
        iqr = re.search(r"IQR/median = ([\d.]+)", reason)
        spread = re.search(r"process medians spread ([\d.]+)", reason)
        what = (f"IQR/median {float(iqr.group(1)):.2f}" if iqr else
                f"processes {100 * float(spread.group(1)):.0f} % apart" if spread
                else reason)
        return f"UNSTABLE ({what})" if what else "UNSTABLE"
    return reason if r["status"] == "ok" else f"{r['status']}: {reason}".rstrip(": ")


def _accuracy(rows: list[dict[str, Any]]) -> tuple[str, dict[int, str]] | None:
    """(header, cell per row index) where the rows carry accuracy: "accuracy" / "94.2 %
    (Δ ±0 pp)"; None when none does."""
    from onnxbench.report.fmt import VERSUS_FP32, metric_delta, metric_name, metric_value

    found = {i: acc for i, r in enumerate(rows) if isinstance(acc := _json(r.get("accuracy")),
                                                              dict) and "value" in acc}
    if not found:
        return None
    metrics = {str(acc.get("metric") or "") for acc in found.values()}
    one = len(metrics) == 1
    cells = {}
    for i, acc in found.items():
        metric = str(acc.get("metric") or "")
        text = metric_value(metric, acc["value"])
        if acc.get("delta") is not None and metric not in VERSUS_FP32:
            text += f" (Δ {metric_delta(metric, acc['delta'])})"
        cells[i] = text if one else f"{metric_name(metric)} {text}"
    header = metric_name(next(iter(metrics))) if one else "accuracy"
    return header[:1].upper() + header[1:], cells


def _latency_table(title: str, group: list[dict[str, Any]], out: Console) -> Any:
    """One series' table, fitted to the console (P95, Mean, P99, Items/s go first, in that
    order, where it is narrow: the median, its CI, the accuracy and the note stay)."""
    from rich.table import Table

    from onnxbench.core.numbers import sig

    rows = sorted(group, key=lambda r: (r["batch"], r.get("seq") or 0))
    has_seq = any(r.get("seq") is not None for r in rows)
    acc = _accuracy(rows)
    heads = ["Batch", *(["Seq"] if has_seq else []), "Median", "95 % CI", "Mean", "P95", "P99",
             "Items/s", *([acc[0]] if acc else []), "Note"]

    def cells(i: int, r: dict[str, Any]) -> dict[str, str]:
        lo, hi = r.get("ci_low_ms"), r.get("ci_high_ms")
        tput = r.get("throughput")
        return {"Batch": str(r["batch"]), "Seq": str(r.get("seq") or ""),
                "Median": _ms(r.get("p50_ms")), "Mean": _ms(r.get("mean_ms")),
                "95 % CI": "—" if lo is None or hi is None else f"{sig(lo)}–{sig(hi)}",
                "P95": _ms(r.get("p95_ms")), "P99": _ms(r.get("p99_ms")),
                "Items/s": "—" if tput is None else f"{tput:,.0f}" if tput >= 100 else sig(tput),
                **({acc[0]: acc[1].get(i, "—")} if acc else {}), "Note": _note(r)}

    def build(drop: list[str]) -> Table:
        table = Table(title=title, title_justify="left")
        for h in heads:
            if h not in drop:
                table.add_column(h, justify="left" if h in ("Note",) else "right",
                                 no_wrap=h not in ("Note",))
        for i, r in enumerate(rows):
            row = cells(i, r)
            table.add_row(*[row[h] for h in heads if h not in drop])
        return table

    return fit_columns(build, out, ("P95", "Mean", "P99", "Items/s"))


def render_tables(rows: list[dict[str, Any]], out: Console) -> None:
    """One table per series of summary rows: | Batch | Median | 95 % CI | Mean | P95 | P99 |
    Items/s | (accuracy) | Note | (ms), fitted to the console."""
    series: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        series.setdefault(tuple(str(row.get(k)) for k in SERIES_KEYS), []).append(row)
    common = _common_options(rows)
    for group in series.values():
        out.print(_latency_table(_series_title(group[0], common), group, out))
    if common:
        out.print("options (all cases): " + ", ".join(f"{k}={v}" for k, v in
                                                      sorted(common.items())),
                  highlight=False)
    out.print("latencies in ms; Median = p50 with its 95 % CI; UNSTABLE = a wide spread "
              "(IQR/median, or between processes), kept and marked", highlight=False,
              style="dim")


def fit_columns(build: Callable[[list[str]], Any], out: Console,
                optional: Sequence[str | tuple[str, ...]]) -> Any:
    """``build(left_out)`` → a rich table; while it is wider than ``out``, leave out the
    ``optional`` columns (a name, or names that go together) in order, and say so in the
    caption. Essential columns are the builder's to mark ``no_wrap``."""
    from rich.measure import Measurement

    drop: list[str] = []
    table = build(drop)
    wide = out.options.update_width(10**4)  # the table's natural width, not the console's
    for names in optional:
        if Measurement.get(out, wide, table).maximum <= out.width:
            break
        drop.extend((names,) if isinstance(names, str) else names)
        table = build(drop)
    if drop:
        table.caption = f"left out at this width: {', '.join(drop)} (see --json)"
        table.caption_justify = "left"
    return table


def rich_table(table: Any, out: Console, *, optional: Sequence[str | tuple[str, ...]] = (),
               keep: Sequence[str] = (), styles: Sequence[str] | None = None) -> Any:
    """A report ``Table`` (the same content as report.md) as a rich table that fits ``out``
    (``fit_columns``): the first column and those named in ``keep`` never wrap.
    ``styles``: a rich style per row (e.g. a verdict's colour), or None."""
    from rich.table import Table as RichTable

    headers = list(table.headers)

    def build(drop: list[str]) -> RichTable:
        cols = [i for i, h in enumerate(headers) if h not in drop]
        rt = RichTable(title=escape(table.title), title_justify="left")
        for i in cols:
            rt.add_column(escape(headers[i]), justify="left" if i in (0, len(headers) - 1)
                          else "right", no_wrap=i == 0 or headers[i] in keep)
        for n, row in enumerate(table.rows):
            cells = [f"[bold]{escape(row[i].text)}[/bold]" if row[i].bold and row[i].text
                     else escape(row[i].text) for i in cols]
            rt.add_row(*cells, style=styles[n] if styles else None)
        return rt

    return fit_columns(build, out, optional)


def progress_labels(cases: Iterable[Any]) -> dict[str, str]:
    """case id → what a person needs to tell it from the plan's other cases: "ORT CPU batch
    8 · process 2/3" (``report.labels.row_labels``), not a 120-character id."""
    from onnxbench.report.labels import row_labels

    cases = list(cases)
    points: dict[str, Any] = {}
    for case in cases:
        points.setdefault(case.point_id, case)
    names = dict(zip(points, row_labels(points.values())))
    repeats = Counter(case.point_id for case in cases)
    return {c.case_id: names[c.point_id] + (f" · process {c.repeat + 1}/{repeats[c.point_id]}"
                                             if repeats[c.point_id] > 1 else "")
            for c in cases}


def _label(name: str, labels: dict[str, str]) -> str:
    """A case's short label; any other name (an artifact key) cut to LABEL_WIDTH."""
    text = labels.get(name, name)
    return text if len(text) <= LABEL_WIDTH else text[:LABEL_WIDTH - 1] + "…"


@contextmanager
def progress_display(quiet: bool = False, cases: Iterable[Any] = ()
                     ) -> Iterator[Callable[[Any], None]]:
    """A progress callback: a rich bar (case, done/total, ETA) on a terminal, else log lines;
    ``cases`` (the plan's) name each case by what tells it apart, not by its id."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    err = console(stderr=True)
    labels = progress_labels(cases)
    if quiet or not err.is_terminal:
        yield lambda p: _log_line(p, err, labels)
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                   console=err, transient=True)
    task = None

    def update(p: Any) -> None:
        nonlocal task
        if task is None:
            task = bar.add_task("starting", total=p.total)
        # short: the bar and ETA must stay visible
        label = f"{'building ' if p.phase == 'artifact' else ''}{_label(p.name, labels)}"
        if p.phase == "case":
            bar.update(task, total=p.total, completed=p.done, description=label)
        else:
            bar.update(task, description=label)
        if p.event == "end" and p.status != "ok":
            err.print(f"[yellow]{escape(_label(p.name, labels))}: {p.status}[/] "
                      f"{escape(p.reason or '')}", highlight=False)

    with bar:
        yield update


def _log_line(p: Any, out: Console, labels: dict[str, str]) -> None:
    if p.event != "end":
        return
    where = f"[{p.done}/{p.total}] " if p.phase == "case" else "[artifact] "
    took = f" ({p.duration_s:.1f} s)" if p.duration_s is not None else ""
    reason = f": {p.reason}" if p.reason and p.status != "ok" else ""
    out.print(f"{where}{_label(p.name, labels)} {p.status}{took}{reason}", highlight=False,
              markup=False, soft_wrap=True)




__all__ = ["console", "fit_columns", "parse_int_list", "progress_display", "render_tables",
           "rich_table"]
