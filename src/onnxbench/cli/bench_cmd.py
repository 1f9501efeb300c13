"""``onnxbench bench``: one model over runtimes × batch sizes, each measurement in a worker.

Also holds the two renderers the ``run`` command shares: the latency tables (one per
model/config/exporter/runtime series, rows by batch) and the progress display (a rich bar
on a terminal, one log line per case otherwise or with ``--quiet``).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Optional

import typer

from onnxbench.cli.data_opts import (ACCURACY_HELP, METRIC_HELP, REFERENCE_HELP, InputsFlag,
                                     RangeFlag, SeqMixFlag, ShapeFlag, ValueFlag)
from onnxbench.errors import UserError

SERIES_KEYS = ("model", "config", "exporter", "runtime", "precision", "options")
LABEL_WIDTH = 48


# ------------------------------------------------------------------------- rendering

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


def render_tables(rows: list[dict[str, Any]], console) -> None:
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
        console.print(table)
    if common:
        console.print("options (all cases): " + ", ".join(f"{k}={v}" for k, v in
                                                          sorted(common.items())),
                      highlight=False)
    console.print("latencies in ms; Median = p50; UNSTABLE = IQR/median above the threshold",
                  highlight=False, style="dim")


@contextmanager
def progress_display(quiet: bool = False) -> Iterator:
    """A progress callback: a rich bar (case, done/total, ETA) on a terminal, else log lines."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, \
        TimeElapsedColumn, TimeRemainingColumn

    err = Console(stderr=True)
    if quiet or not err.is_terminal:
        yield lambda p: _log_line(p, err)
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                   console=err, transient=True)
    task = None

    def update(p) -> None:
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


def _log_line(p, console) -> None:
    if p.event != "end":
        return
    where = f"[{p.done}/{p.total}] " if p.phase == "case" else "[artifact] "
    took = f" ({p.duration_s:.1f} s)" if p.duration_s is not None else ""
    reason = f": {p.reason}" if p.reason and p.status != "ok" else ""
    console.print(f"{where}{p.name} {p.status}{took}{reason}", highlight=False, markup=False,
                  soft_wrap=True)


# ----------------------------------------------------------------------- bench command

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


def _policy(runs, warmup, min_time, max_time, target_ci):
    from onnxbench.measure.policy import MeasurePolicy

    fields: dict[str, Any] = {}
    if warmup is not None:
        fields["warmup"] = warmup
    if runs is not None:
        fields.update(max_runs=runs, min_runs=runs if target_ci is None else min(10, runs))
        fields["min_time_s"] = 0.0
    for key, value in (("min_time_s", min_time), ("max_time_s", max_time),
                       ("target_ci_pct", target_ci)):
        if value is not None:
            fields[key] = value
    try:
        return MeasurePolicy(**fields)
    except Exception as exc:  # pydantic: a negative or zero value
        err = exc.errors()[0] if hasattr(exc, "errors") else {"loc": ("?",), "msg": str(exc)}
        field = str(err["loc"][0])
        raise UserError(f"{POLICY_FLAGS.get(field, '--' + field)}: {err['msg']}; got "
                        f"{err.get('input')!r}") from None


# the flag that sets each MeasurePolicy field (--runs sets both run counts)
POLICY_FLAGS = {"warmup": "--warmup", "min_runs": "--runs", "max_runs": "--runs",
                "min_time_s": "--min-time", "max_time_s": "--max-time",
                "target_ci_pct": "--target-ci"}


def _check_model(model: str, data, batches: list[int], seq: int | None,
                 config: str | None) -> bool:
    """True for an ONNX file (by content: validated, dims resolvable, inputs and values
    matching the graph, inputs that fit in memory), False for a zoo/factory model (its
    config checked, its inputs fit)."""
    from onnxbench.onnxfile import is_onnx_file
    from onnxbench.preflight import check_bench_inputs, check_config

    seqs = [seq] if seq else []
    if is_onnx_file(model):
        from onnxbench.cli.data_opts import check_against_graph
        from onnxbench.inputs import load_onnx

        proto = load_onnx(model)
        if not data.inputs:  # the user's own arrays are already in memory
            check_bench_inputs(proto, batches, seqs, shapes=data.shapes)
        check_against_graph(proto, data, batches, seq)
        return True
    from onnxbench.zoo import resolve

    spec = resolve(model)
    check_config(spec, config)
    check_bench_inputs(spec, batches, seqs, config=config)
    return False


def _exporter(name: str, where: str) -> str:
    from onnxbench.artifacts import known_exporters

    exporters = known_exporters()
    if name not in exporters:
        raise UserError(f"{where} {name!r}: unknown exporter; choose one of: "
                        f"{', '.join(exporters)}")
    return name


def build_cases(model, runtimes, batches, seqs, policy, data, config, exporter, threads,
                options: dict[str, Any] | None = None, processes: int = 1) -> list:
    """The bench matrix: runtime × batch × seq (``data``: CaseData), each point in
    ``processes`` worker processes (the budget split over them, interleaved: process 0 of
    every point, then 1, ...)."""
    from onnxbench.case import Case
    from onnxbench.options import check_options

    options = {**({"threads": threads} if threads else {}), **data.options, **(options or {})}
    for rt in runtimes:  # every option of every case, before anything runs
        check_options(rt, options)
    seqs = [None] if data.seq_mix else (seqs or [None])
    share = policy.split(processes)
    return [Case(model=model, config=config, exporter=exporter, runtime=rt, batch=b, seq=s,
                 options=options, measure=share, repeat=r, **data.fields())
            for r in range(processes) for rt in runtimes for b in batches for s in seqs]


def bench(
    model: str = typer.Argument(..., help="an .onnx file, a zoo name, or file.py:factory"),
    runtime: list[str] = typer.Option(["ort-cpu"], "--runtime", "-r",
                                      help="runtimes, comma-separated (repeatable)"),
    batch: Optional[str] = typer.Option(None, "--batch", "-b",
                                        help="batch sizes, e.g. 1,2,8,32 (default 1, or the "
                                             "rows of --inputs)"),
    seq: Optional[str] = typer.Option(None, "--seq", help="sequence lengths, e.g. 128,512"),
    shape: ShapeFlag = [],  # noqa: B006 - typer copies list defaults
    range_: RangeFlag = [],  # noqa: B006
    value: ValueFlag = [],  # noqa: B006
    inputs: InputsFlag = None,
    seq_mix: SeqMixFlag = None,
    profile: bool = typer.Option(False, "--profile",
                                 help="an untimed per-operator profiling pass after each "
                                      "timed one (ORT profiler / torch.profiler)"),
    accuracy_data: Optional[Path] = typer.Option(None, "--accuracy-data", help=ACCURACY_HELP),
    metric: Optional[str] = typer.Option(None, "--metric", help=METRIC_HELP),
    reference: Optional[Path] = typer.Option(None, "--reference", help=REFERENCE_HELP),
    runs: Optional[int] = typer.Option(None, "--runs", help="timed runs"),
    warmup: Optional[int] = typer.Option(None, "--warmup", help="untimed warm-up runs"),
    threads: Optional[int] = typer.Option(None, "--threads", help="intra-op/torch threads"),
    min_time: Optional[float] = typer.Option(None, "--min-time", help="timed seconds at least"),
    max_time: Optional[float] = typer.Option(None, "--max-time", help="timed seconds at most"),
    target_ci: Optional[float] = typer.Option(None, "--target-ci",
                                              help="stop once the median's 95% CI is within PCT %"),
    timeout: float = typer.Option(600.0, "--timeout", help="per-measurement time-out (s)"),
    processes: int = typer.Option(3, "--processes", min=1,
                                  help="worker processes per point (the budget split over them)"),
    config: Optional[str] = typer.Option(None, "--config", help="zoo model config"),
    exporter: Optional[str] = typer.Option(None, "--exporter",
                                           help="exporter for a zoo model (default dynamo)"),
    out: Optional[Path] = typer.Option(None, "--out", help="run directory to write"),
    quiet: bool = typer.Option(False, "--quiet", help="log lines instead of a progress bar"),
    json_out: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """Benchmark MODEL on each runtime and batch size; one isolated worker per measurement."""
    from onnxbench.cli.data_opts import case_data
    from onnxbench.runtimes import validate_runtime_name
    from onnxbench.suite.schema import absolute_model

    runtimes = [validate_runtime_name(r.strip()) for item in runtime for r in item.split(",")
                if r.strip()]
    data = case_data(shape, range_, value, inputs, seq_mix, accuracy_data, metric, reference)
    batches = _batches(model, batch, data)
    seqs = _seqs(seq, data)
    if timeout <= 0:
        raise UserError(f"--timeout {timeout:g}: must be a positive number of seconds")
    if threads is not None and threads < 1:
        raise UserError(f"--threads {threads}: must be a positive number of threads (leave "
                        "it out for the runtime's default)")
    policy = _policy(runs, warmup, min_time, max_time, target_ci)
    model = absolute_model(model)  # the plan then resumes from anywhere
    is_onnx = _check_model(model, data, batches, _first_seq(seqs, data), config)
    if is_onnx:
        config, exporter = None, None
    else:
        exporter = _exporter(exporter or "dynamo", "--exporter")
    cases = build_cases(model, runtimes, batches, seqs, policy, data, config, exporter, threads,
                        {"profile": True} if profile else None, processes)
    run_dir, rows = _run_bench(cases, out, timeout, quiet)
    _print(run_dir, rows, json_out)


def _batches(model: str, batch: str | None, data) -> list[int]:
    """``--batch``, else the rows of a bare graph's ``--inputs``, else 1."""
    if batch is not None:
        return parse_int_list("--batch", batch)
    if data.inputs and (model.endswith(".onnx") or Path(model).is_file()):
        from onnxbench.cli.data_opts import batch_from_inputs
        from onnxbench.inputs import load_onnx

        return [batch_from_inputs(load_onnx(model), data) or 1]
    return [1]


def _seqs(seq: str | None, data) -> list[int]:
    """``--seq`` values; none with ``--seq-mix`` (the mix sets every length)."""
    if seq is not None and data.seq_mix:
        raise UserError("--seq and --seq-mix: give one (the mix sets the sequence lengths)")
    return parse_int_list("--seq", seq)


def _first_seq(seqs: list[int], data) -> int | None:
    """The sequence length the graph is checked at: the first --seq, or the mix's main one."""
    from onnxbench.shape_mix import main_length

    return seqs[0] if seqs else main_length(data.seq_mix)


def _run_bench(cases, out: Path | None, timeout: float, quiet: bool):
    from onnxbench.suite.aggregate import aggregate
    from onnxbench.suite.plan import Plan
    from onnxbench.suite.rundir import create_run_dir, use_run_dir, write_configs
    from onnxbench.suite.runner import collect_env, run_cases

    if out is None:
        run = create_run_dir(Path("runs"), "bench", datetime.now())
    else:
        run = use_run_dir(out)
    plan = Plan("bench", cases, {c.case_id: timeout for c in cases})
    with run.lock():
        env = collect_env()
        write_configs(run, plan.to_json(), env)
        with progress_display(quiet) as progress:
            run_cases(plan, run, progress=progress, env=env)
        summary = aggregate(run.path)
    return run.path, summary.rows


def _print(run_dir: Path, rows: list[dict[str, Any]], json_out: bool) -> None:
    if json_out:
        typer.echo(json.dumps({"run_dir": str(run_dir), "rows": rows}, indent=1, default=str))
        return
    from rich.console import Console

    console = Console()
    render_tables(rows, console)
    console.print(f"results: {run_dir}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``bench`` command to the app."""
    app.command("bench")(bench)


__all__ = ["bench", "render_tables", "progress_display", "parse_int_list", "register"]
