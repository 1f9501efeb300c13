"""``onnxbench bench``: one model over runtimes × batch sizes, a thin layer over
``onnxbench.bench``.

The flags become a ``Plan`` (``onnxbench.api.bench_plan``: every option checked before
anything runs) that runs like any suite: a fresh run directory under ``--out`` (default
``runs/``; never reused: an existing directory gets a new ``bench-<model>_<time>`` inside),
one isolated worker per measurement, the summary and ``report.md`` / ``report.html``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
import yaml

from onnxbench.cli.common import console, parse_int_list, progress_display, render_tables
from onnxbench.cli.data_opts import (
    ACCURACY_HELP,
    METRIC_HELP,
    REFERENCE_HELP,
    InputsFlag,
    RangeFlag,
    SeqMixFlag,
    ShapeFlag,
    ValueFlag,
)
from onnxbench.core.errors import UserError


def _policy(runs: int | None, warmup: int | None, min_time: float | None,
            max_time: float | None, target_ci: float | None) -> dict[str, Any]:
    """The measurement flags as suite ``measure:`` fields (the same validation)."""
    fields: dict[str, Any] = {}
    if runs is not None:
        fields["runs"] = runs
        if target_ci is not None:  # the precision target may stop before --runs
            fields.update(min_runs=min(10, runs), max_runs=runs)
    for key, value in (("warmup", warmup), ("min_time_s", min_time), ("max_time_s", max_time),
                       ("target_ci_pct", target_ci)):
        if value is not None:
            fields[key] = value
    return fields


def _flag_of(message: str) -> str:
    """``measure.runs: ...`` (the API's wording) → ``--runs: ...`` (the command's)."""
    for api, flag in (("timeout_s ", "--timeout "), ("seq and seq_mix:", "--seq and --seq-mix:")):
        message = message.replace(api, flag, 1) if message.startswith(api) else message
    head, sep, rest = message.partition(": ")
    if not sep or not head.startswith("measure."):
        return message
    name = head.removeprefix("measure.")
    flags = {"min_time_s": "--min-time", "max_time_s": "--max-time",
             "target_ci_pct": "--target-ci", "min_runs": "--runs", "max_runs": "--runs"}
    return f"{flags.get(name, '--' + name.replace('_', '-'))}: {rest}"


def parse_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with the value read as YAML (``4``, ``true``, ``all``)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UserError(f"--option {text!r}: expected KEY=VALUE, e.g. intra_op_threads=2")
    try:
        return key.strip(), yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError:
        return key.strip(), value


def bench(
    model: str = typer.Argument(..., help="an ONNX file, a zoo name, file.py:factory, or a "
                                          "plugin's source (.keras file, SavedModel directory)"),
    runtime: list[str] = typer.Option(["ort-cpu"], "--runtime", "-r",
                                      help="runtimes, comma-separated (repeatable)"),
    batch: str | None = typer.Option(None, "--batch", "-b",
                                        help="batch sizes, e.g. 1,2,8,32 (default 1, or the "
                                             "rows of --inputs)"),
    seq: str | None = typer.Option(None, "--seq", help="sequence lengths, e.g. 128,512"),
    shape: ShapeFlag = [],  # noqa: B006 - typer copies list defaults
    range_: RangeFlag = [],  # noqa: B006
    value: ValueFlag = [],  # noqa: B006
    inputs: InputsFlag = None,
    seq_mix: SeqMixFlag = None,
    option: list[str] = typer.Option([], "--option", "-o",
                                     help="KEY=VALUE case option (repeatable), as in a suite"),
    profile: bool = typer.Option(False, "--profile",
                                 help="an untimed per-operator profiling pass after each "
                                      "timed one (ORT profiler / torch.profiler)"),
    accuracy_data: Path | None = typer.Option(None, "--accuracy-data", help=ACCURACY_HELP),
    metric: str | None = typer.Option(None, "--metric", help=METRIC_HELP),
    reference: Path | None = typer.Option(None, "--reference", help=REFERENCE_HELP),
    runs: int | None = typer.Option(None, "--runs", help="timed runs"),
    warmup: int | None = typer.Option(None, "--warmup", help="untimed warm-up runs"),
    threads: int | None = typer.Option(None, "--threads", help="intra-op/torch threads"),
    min_time: float | None = typer.Option(None, "--min-time", help="timed seconds at least"),
    max_time: float | None = typer.Option(None, "--max-time", help="timed seconds at most"),
    target_ci: float | None = typer.Option(None, "--target-ci",
                                              help="stop once the median's 95% CI is within PCT %"),
    timeout: float = typer.Option(600.0, "--timeout", help="per-measurement time-out (s)"),
    processes: int = typer.Option(3, "--processes", min=1,
                                  help="worker processes per point (the budget split over them)"),
    config: str | None = typer.Option(None, "--config", help="zoo model config"),
    exporter: str | None = typer.Option(None, "--exporter",
                                           help="exporter for a zoo model (default: the "
                                                "framework's first, dynamo / tf2onnx)"),
    out: Path = typer.Option(Path("runs"), "--out",
                             help="where run directories go; each bench makes a new one"),
    quiet: bool = typer.Option(False, "--quiet", help="log lines instead of a progress bar"),
    json_out: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """Benchmark MODEL on each runtime and batch size; one isolated worker per measurement,
    results, summary and report in a new run directory."""
    from onnxbench.cli.data_opts import case_data

    data = case_data(shape, range_, value, inputs, seq_mix, accuracy_data, metric, reference)
    options = {**data.options, **dict(parse_option(o) for o in option)}
    if threads is not None:
        if threads < 1:
            raise UserError(f"--threads {threads}: must be a positive number of threads (leave "
                            "it out for the runtime's default)")
        options["threads"] = threads
    if profile:
        options["profile"] = True
    plan = plan_of(model, runtime, batch, seq, data, options,
                   _policy(runs, warmup, min_time, max_time, target_ci), config=config,
                   exporter=exporter, timeout_s=timeout, processes=processes)
    run = _run(plan, out, quiet)
    _print(run, json_out)
    run.check()  # no case succeeded: exit 1, the first reason in the last line


def plan_of(model: str, runtime: list[str], batch: str | None, seq: str | None, data: Any,
            options: dict[str, Any], measure: dict[str, Any], *, config: str | None,
            exporter: str | None, timeout_s: float, name: str | None = None,
            processes: int = 1) -> Any:
    """The flags (``bench``'s, and ``profile``'s) as a checked Plan (``api.bench_plan``);
    the API's argument names in its messages become the flags'."""
    from onnxbench.api import bench_plan

    try:
        return bench_plan(model, runtime, parse_int_list("--batch", batch) if batch else None,
                          seq=parse_int_list("--seq", seq) if seq else None, config=config,
                          exporter=exporter, options=options, shapes=data.shapes,
                          ranges=data.ranges, values=data.values, inputs=data.inputs,
                          seq_mix=data.seq_mix, measure=measure, timeout_s=timeout_s,
                          name=name, processes=processes)
    except UserError as exc:
        raise UserError(_flag_of(str(exc))) from None


def _run(plan: Any, out: Path, quiet: bool) -> Any:
    from onnxbench.api import run_suite

    with progress_display(quiet) as progress:
        return run_suite(plan, out=out, progress=progress, check=False)


def _print(run: Any, json_out: bool) -> None:
    if json_out:
        typer.echo(json.dumps({"run_dir": str(run.path), "rows": run.rows,
                               "reports": [str(p) for p in run.reports],
                               "report_error": run.report_error}, indent=1, default=str))
        return
    out = console()
    render_tables(run.rows, out)
    for path in run.reports:
        out.print(f"report: {path}", highlight=False, soft_wrap=True)
    if run.report_error:
        out.print(f"report not written: {run.report_error}", highlight=False)
    out.print(f"results: {run.path}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``bench`` command to the app."""
    app.command("bench")(bench)


__all__ = ["bench", "parse_option", "register"]
