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

from onnxbench.cli.common import (
    check_report_written,
    console,
    parse_int_list,
    progress_display,
    render_tables,
)
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
from onnxbench.cli.flags import option as opt
from onnxbench.cli.flags import parse_options, parse_pct
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
    flags = {"min_time_s": "--min-time", "max_time_s": "--max-time",
             "target_ci_pct": "--target-ci", "min_runs": "--runs", "max_runs": "--runs"}
    if sep and head == "measure":  # fields together: "min_time_s 5 is more than max_time_s 1"
        for name, flag in flags.items():
            rest = rest.replace(name, flag)
        return rest
    if not sep or not head.startswith("measure."):
        return message
    name = head.removeprefix("measure.")
    return f"{flags.get(name, '--' + name.replace('_', '-'))}: {rest}"


def bench(
    model: str = typer.Argument(..., help="an ONNX file, a zoo name, file.py:factory, or a "
                                          "plugin's source (.keras file, SavedModel directory)"),
    runtime: list[str] = opt("--runtime", ["ort-cpu"]),
    batch: str | None = opt("--batch", None, "batch sizes, e.g. 1,2,8,32 (default 1, or the "
                                             "rows of --inputs)"),
    seq: str | None = opt("--seq", None),
    shape: ShapeFlag = [],  # noqa: B006 - typer copies list defaults
    range_: RangeFlag = [],  # noqa: B006
    value: ValueFlag = [],  # noqa: B006
    inputs: InputsFlag = None,
    seq_mix: SeqMixFlag = None,
    option: list[str] = opt("--option", []),
    profile: bool = typer.Option(False, "--profile",
                                 help="an untimed per-operator profiling pass after each "
                                      "timed one (ORT profiler / torch.profiler)"),
    accuracy_data: Path | None = opt("--accuracy-data", None, ACCURACY_HELP),
    metric: str | None = opt("--metric", None, METRIC_HELP),
    reference: Path | None = opt("--reference", None, REFERENCE_HELP),
    runs: int | None = opt("--runs", None, "timed runs"),
    warmup: int | None = opt("--warmup", None),
    threads: int | None = opt("--threads", None),
    min_time: float | None = typer.Option(None, "--min-time", metavar="SECONDS",
                                          help="timed seconds at least"),
    max_time: float | None = opt("--max-time", None, "timed seconds at most"),
    target_ci: str | None = opt("--target-ci", None, "stop once the median's 95 % CI is "
                                                      "within ±PCT % (5 or 5%)"),
    timeout: float = opt("--timeout", 600.0, "per-measurement time-out (s)"),
    processes: int = typer.Option(3, "--processes", min=1,
                                  help="worker processes per point (the budget split over them)"),
    config: str | None = opt("--config", None),
    exporter: str | None = opt("--exporter", None),
    out: Path = opt("--out", Path("runs"), "where run directories go; each bench makes a new "
                                           "one"),
    quiet: bool = opt("--quiet", False),
    json_out: bool = opt("--json", False),
) -> None:
    """Benchmark MODEL on each runtime and batch size; one isolated worker per measurement,
    results, summary and report in a new run directory."""
    from onnxbench.cli.data_opts import case_data

    data = case_data(shape, range_, value, inputs, seq_mix, accuracy_data, metric, reference)
    options = {**data.options, **parse_options("--option", option)}
    if threads is not None:
        if threads < 1:
            raise UserError(f"--threads {threads}: must be a positive number of threads (leave "
                            "it out for the runtime's default)")
        options["threads"] = threads
    if profile:
        options["profile"] = True
    plan = plan_of(model, runtime, batch, seq, data, options,
                   _policy(runs, warmup, min_time, max_time, parse_pct("--target-ci", target_ci)),
                   config=config,
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

    with progress_display(quiet, plan.cases) as progress:
        return run_suite(plan, out=out, progress=progress, check=False)


def _print(run: Any, json_out: bool) -> None:
    from onnxbench.cli.answer import answer_doc, print_answer

    if json_out:
        typer.echo(json.dumps({"run_dir": str(run.path), "rows": run.rows,
                               "reports": [str(p) for p in run.reports],
                               "report_error": run.report_error, **answer_doc(run.path)},
                              indent=1, default=str))
        check_report_written(run.report_error, run.path)
        return
    out = console()
    render_tables(run.rows, out)
    for path in run.reports:
        out.print(f"report: {path}", highlight=False, soft_wrap=True)
    out.print(f"results: {run.path}", highlight=False, soft_wrap=True)
    print_answer(run.path, out)
    check_report_written(run.report_error, run.path)


def register(app: typer.Typer) -> None:
    """Add the ``bench`` command to the app."""
    app.command("bench")(bench)


__all__ = ["bench", "register"]
