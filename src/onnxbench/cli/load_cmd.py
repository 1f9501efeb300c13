"""``onnxbench load``: a model under real traffic, each load point a case in its own worker.

    onnxbench load MODEL -r ort-cpu,torch-cpu --qps 100,200,400          (server, Poisson)
    onnxbench load MODEL --concurrency 1,2,4,8 [--layout shared,per-thread]
    onnxbench load MODEL --find-peak --p99 10ms [--workers 1,2] [--max-batch 1,8] [--confirm 60s]
    onnxbench load MODEL --scenario offline

Also holds ``render_load``, the terminal view of a run's load points (the ``run`` command
prints it too): one sentence per model, then perf_analyzer's table and the others.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from onnxbench.cli.common import parse_int_list
from onnxbench.cli.data_opts import RangeFlag, ShapeFlag, ValueFlag, case_data
from onnxbench.cli.flags import option as opt
from onnxbench.core.errors import UserError


def _split(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _rich_table(table):
    from rich.table import Table

    out = Table(title=table.title, title_justify="left")
    for i, head in enumerate(table.headers):
        out.add_column(head, justify="right" if i else "left")
    for row in table.rows:
        out.add_row(*[f"[bold]{c.text}[/]" if c.bold and c.text else c.text for c in row])
    return out


def render_load(run_dir: Path, console) -> bool:
    """Print a run's load tables and notes (the sentences come last: ``cli.answer``); False
    when it has none."""
    from onnxbench.report import build_report

    load = build_report(run_dir).load
    if load is None:
        return False
    for model in load.models:
        for table in model.tables:
            console.print(_rich_table(table))
            for note in table.notes:
                console.print(note, style="dim", highlight=False, soft_wrap=True)
    console.print("latencies in ms, from each request's scheduled arrival", style="dim",
                  highlight=False)
    return True


def load(
    model: str = typer.Argument(..., help="an .onnx file, a zoo name, or file.py:factory"),
    runtime: list[str] = opt("--runtime", ["ort-cpu"]),
    scenario: str | None = typer.Option(None, "--scenario",
                                           help="server | offline | concurrency | peak "
                                                "(implied by --qps, --concurrency, --find-peak)"),
    qps: str | None = typer.Option(None, "--qps", help="server: target rates, e.g. 100,200,400"),
    concurrency: str | None = typer.Option(None, "--concurrency",
                                              help="closed loop: callers in flight, e.g. 1,2,4,8"),
    find_peak: bool = typer.Option(False, "--find-peak",
                                   help="the highest rate whose percentile is within the bound"),
    p99: str | None = opt("--p99", None, "latency bound of the p99, e.g. 10ms"),
    bound: str | None = typer.Option(None, "--bound",
                                        help="latency bound of --percentile, e.g. 25ms"),
    percentile: float | None = typer.Option(None, "--percentile",
                                               help="the percentile --bound is on (default 99)"),
    layout: list[str] = opt("--layout", ["shared"]),
    workers: str | None = typer.Option(None, "--workers",
                                          help="serving threads/processes, e.g. 1,2"),
    threads: int | None = opt("--threads", None),
    max_batch: str | None = typer.Option(None, "--max-batch",
                                            help="dynamic batching: largest batch, e.g. 1,8"),
    max_delay: str = typer.Option("1ms", "--max-delay", help="dynamic batching: longest wait"),
    arrival: str = typer.Option("poisson", "--arrival", help="poisson (LoadGen) | constant"),
    generator: str | None = typer.Option(None, "--generator",
                                            help="loadgen (Poisson; the default) | onnxbench "
                                                 "(its own open loop: constant, or Poisson "
                                                 "without LoadGen)"),
    duration: str = typer.Option("10s", "--duration", help="measured time per point (probe)"),
    resolution: float = typer.Option(5.0, "--resolution", metavar="PCT",
                                     help="peak: stop once the rate is bracketed within PCT %"),
    confirm: str | None = typer.Option(None, "--confirm",
                                          help="peak: the window the peak claims: run the "
                                               "found rate this long (default 60s; >= "
                                               "--duration), stepping down until it holds; "
                                               "0 = no confirmation"),
    no_ceiling: bool = typer.Option(False, "--no-ceiling",
                                    help="skip measuring the generator's ceiling"),
    batch: str = opt("--batch", "1", "rows per request: batch sizes, comma-separated (each a "
                                     "case)"),
    shape: ShapeFlag = [],  # noqa: B006 - typer reads the default, never mutates it
    range_: RangeFlag = [],  # noqa: B006
    value: ValueFlag = [],  # noqa: B006
    seq: str | None = opt("--seq", None, "sequence lengths, comma-separated (each a case)"),
    config: str | None = opt("--config", None),
    exporter: str | None = opt("--exporter", None),
    timeout: float | None = opt("--timeout", None, "per-case time-out (s)"),
    out: Path = opt("--out", Path("runs")),
    quiet: bool = opt("--quiet", False),
    json_out: bool = opt("--json", False),
) -> None:
    """Serve MODEL under load: arrival rates, concurrency, peak QPS under a latency bound."""
    data = case_data(shape, range_, value, None, None, None, None, None)
    cases = _cases(model, runtime, scenario, qps, concurrency, find_peak, p99, bound, percentile,
                   layout, workers, threads, max_batch, max_delay, arrival, generator, duration,
                   resolution, confirm, no_ceiling, batch, seq, config, exporter, data)
    if timeout is not None and timeout <= 0:
        raise UserError(f"--timeout {timeout:g}: must be a positive number of seconds")
    from onnxbench.cli.common import check_outcome, progress_display
    from onnxbench.suite.load_plan import infeasible_reason, run_load

    with progress_display(quiet, cases) as progress:
        outcome = run_load(cases, out, timeout_s=timeout, progress=progress)
    problem = infeasible_reason(outcome.results)
    if problem:
        raise UserError(f"{problem} (results: {outcome.run_dir})")
    from onnxbench.cli.common import check_report_written

    if json_out:
        from onnxbench.report import build_report
        from onnxbench.report.answer import answers

        rep = build_report(outcome.run_dir)
        typer.echo(json.dumps({"run_dir": str(outcome.run_dir),
                               "load": rep.load.to_dict() if rep.load else None,
                               "rows": outcome.summary.rows if outcome.summary else [],
                               "answers": answers(rep)}, indent=1, default=str))
        check_report_written(outcome.report_error, outcome.run_dir)
    else:
        from onnxbench.cli.common import console as make_console

        console = make_console()
        render_load(outcome.run_dir, console)
        console.print(f"results: {outcome.run_dir}", highlight=False, soft_wrap=True)
        from onnxbench.cli.answer import print_answer

        print_answer(outcome.run_dir, console)
        check_report_written(outcome.report_error, outcome.run_dir)
    check_outcome(outcome)  # no case succeeded: exit 1, the first reason in the last line


def _confirm_s(text: str | None) -> float | None:
    """``--confirm 20s`` → 20.0; ``0`` (or ``off``) → 0.0, no confirmation; None: the default."""
    from onnxbench.core.load_spec import parse_time

    if text is None:
        return None
    if text.strip().lower() in ("0", "0s", "off", "none"):
        return 0.0
    return parse_time("--confirm", text, "s")


def _cases(model, runtime, scenario, qps, concurrency, find_peak, p99, bound, percentile,
           layout, workers, threads, max_batch, max_delay, arrival, generator, duration,
           resolution, confirm, no_ceiling, batch, seq, config, exporter, data):
    """Flags → validated cases (UserError, one line, before anything runs)."""
    from onnxbench.core.load_spec import parse_number_list, parse_time
    from onnxbench.runtimes import validate_runtime_name
    from onnxbench.suite.load_plan import load_cases, load_specs, scenario_name
    from onnxbench.suite.model_check import check_model

    runtimes = [validate_runtime_name(r) for r in _split(runtime)]
    rates = parse_number_list("--qps", qps) if qps is not None else None
    callers = parse_number_list("--concurrency", concurrency, int) \
        if concurrency is not None else None
    name = scenario_name(rates, callers, find_peak, scenario)
    if p99 and bound:
        raise UserError("give the bound once: --p99 10ms, or --bound 10ms --percentile 95")
    if p99 and percentile not in (None, 99):
        raise UserError(f"--p99 is a bound on the p99; for the p{percentile:g} use --bound")
    limit = parse_time("--p99" if p99 else "--bound", p99 or bound, "ms") \
        if (p99 or bound) else None
    if confirm is not None and name != "peak":
        raise UserError(f"--confirm is for --find-peak (the peak scenario), not {name}")
    if name == "peak" and limit is None:
        raise UserError("--find-peak needs a latency bound, e.g. --p99 10ms")
    batches = parse_int_list("--batch", batch)
    seqs: list[int | None] = list(parse_int_list("--seq", seq)) if seq else [None]
    specs = load_specs(
        name, qps=rates, concurrency=callers, layouts=_split(layout),
        workers=parse_number_list("--workers", workers, int) if workers else [None],
        max_batch=parse_number_list("--max-batch", max_batch, int) if max_batch else [1],
        arrival=arrival, generator=generator, duration_s=parse_time("--duration", duration, "s"),
        bound_ms=limit * 1000 if limit else None, percentile=percentile,
        max_delay_ms=parse_time("--max-delay", max_delay, "ms") * 1000, precision_pct=resolution,
        confirm_s=_confirm_s(confirm), ceiling=not no_ceiling)
    cases = []
    for length in seqs:  # each batch size and length its own cases (its own report section)
        name_, config_, exporter_, _ = check_model(model, config, exporter, data, batches, length)
        cases += [c for b in batches for c in
                  load_cases(name_, runtimes, specs, batch=b, seq=length, config=config_,
                             exporter=exporter_, threads=threads, shapes=data.shapes,
                             ranges=data.ranges, values=data.values)]
    return cases


def register(app: typer.Typer) -> None:
    """Add the ``load`` command to the app."""
    app.command("load")(load)


__all__ = ["load", "register", "render_load"]
