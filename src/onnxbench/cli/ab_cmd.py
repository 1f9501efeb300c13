"""``onnxbench ab A [B]``: is B faster than A? A and B alternated in short blocks inside each
worker process (or a fresh process per block where they cannot share one), processes as the
replication unit, sequential stopping; a thin layer over ``onnxbench.ab``
(``onnxbench.suite.ab``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from onnxbench.cli.common import parse_int_list
from onnxbench.cli.flags import alias, parse_options, parse_pct
from onnxbench.cli.flags import option as opt
from onnxbench.core.errors import CheckFailed, UserError


def _pair(flag: str, text: str | None) -> str | tuple[str, str] | None:
    """"x" → "x" (both sides); "x,y" → ("x", "y") (A, B)."""
    if text is None:
        return None
    parts = [t.strip() for t in text.split(",")]
    if len(parts) == 1 and parts[0]:
        return parts[0]
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    raise UserError(f"{flag} {text!r}: give one value for both sides or two, A,B")


def _fraction(flag: str, text: str | None) -> float | None:
    from onnxbench.report.compare import parse_threshold

    if text is None or text.strip().lower() in ("none", "off", "0"):
        return None
    return parse_threshold(text, flag)


def ab(
    a: str = typer.Argument(..., help="model A: an .onnx file, a zoo name, or file.py:factory"),
    b: str | None = typer.Argument(None, help="model B (default: A's model, varied by the "
                                                  "flags below)"),
    runtime: list[str] = opt("--runtime", ["ort-cpu"], "runtime, or A,B"),
    precision: str = opt("--precision", "fp32", "precision, or A,B"),
    config: str | None = opt("--config", None, "zoo config, or A,B"),
    exporter: str | None = opt("--exporter", None, "exporter (zoo models), or A,B"),
    option: list[str] = opt("--option", [], "KEY=VALUE case option for both sides "
                                            "(repeatable)"),
    a_option: list[str] = typer.Option([], "--a-option", metavar="KEY=VALUE",
                                       help="KEY=VALUE for A only (repeatable)"),
    b_option: list[str] = typer.Option([], "--b-option", metavar="KEY=VALUE",
                                       help="KEY=VALUE for B only (repeatable)"),
    batch: str = opt("--batch", "1", "batch sizes, comma-separated: one A/B run each"),
    seq: str | None = opt("--seq", None, "sequence lengths, comma-separated: one A/B run each"),
    shape: list[str] = opt("--shape", []),
    range_: list[str] = opt("--range", []),
    threshold: str = opt("--threshold", "2%", "practical margin: equivalent within ±it"),
    target_ci: str = opt("--target-ci", "1%", "stop once the CI is within ±PCT % (none: only "
                                               "time stops)"),
    max_time: float = opt("--max-time", 120.0, "seconds of workers at most"),
    design: str = typer.Option("auto", "--design", help="interleaved (A and B in each "
                               "process), process (a fresh process per block) or auto "
                               "(interleaved where A and B can share a process)"),
    block_time: float | None = typer.Option(None, "--block-time", metavar="SECONDS",
                                            help="timed seconds per block (default 0.05 "
                                                 "interleaved, 0.5 process)"),
    process_time: float | None = typer.Option(None, "--process-time", metavar="SECONDS",
                                              help="interleaved: timed seconds per worker "
                                                   "process (default: sized from the first "
                                                   "process, 0.25-5 s)"),
    warmup: int = opt("--warmup", 10, "untimed runs per side in each process"),
    alpha: float = typer.Option(0.05, "--alpha", help="error rate of the whole run's CI"),
    timeout: float = opt("--timeout", 600.0, "per-worker time-out (s)"),
    out: Path = opt("--out", Path("runs"), "where the run directory goes"),
    quiet: bool = opt("--quiet", False, "no per-block log lines"),
    as_json: bool = opt("--json", False),
    old_options: list[str] = alias("--options", "--option", []),
    old_a_options: list[str] = alias("--a-options", "--option", []),
    old_b_options: list[str] = alias("--b-options", "--option", []),
) -> None:
    """Is B faster than A? A and B alternate ABBA BAAB … in short blocks inside each worker
    process (a fresh process per block where they cannot share one), processes as the unit,
    until the ratio's CI is within --target-ci or --max-time is spent."""
    from onnxbench.model.inputs import parse_range, parse_shape
    from onnxbench.suite.ab import ABSettings
    from onnxbench.suite.ab import ab as run

    ci = parse_pct("--target-ci", target_ci)
    settings = ABSettings(threshold=_fraction("--threshold", threshold) or 0.0,
                          target_ci=None if ci is None else ci / 100, max_time_s=max_time,
                          block_time_s=block_time, warmup=warmup, alpha=alpha, timeout_s=timeout,
                          design=design, process_time_s=process_time)
    kwargs: dict[str, Any] = dict(
                  runtime=_pair("--runtime", ",".join(runtime)),
                  precision=_pair("--precision", precision),
                  config=_pair("--config", config), exporter=_pair("--exporter", exporter),
                  options=parse_options("--option", option + old_options),
                  a_options=parse_options("--a-option", a_option + old_a_options),
                  b_options=parse_options("--b-option", b_option + old_b_options),
                  shapes=dict(parse_shape(s) for s in shape),
                  ranges=dict(parse_range(r) for r in range_))
    seqs: list[int | None] = list(parse_int_list("--seq", seq)) if seq else [None]
    points = [(b_, s_) for b_ in parse_int_list("--batch", batch) for s_ in seqs]
    results = [run(a, b, settings=settings, out=out, batch=b_, seq=s_,
                   progress=None if quiet or as_json else _log_block, **kwargs)
               for b_, s_ in points]
    if as_json:
        docs = [r.to_dict() for r in results]
        print(json.dumps(docs[0] if len(docs) == 1 else {"runs": docs}, indent=1, default=str))
    else:
        for result in results:
            _print(result)
    _check_compared(results)


def _check_compared(results: list) -> None:
    """A comparison whose blocks failed is no answer: exit 1 after its table (as a run in
    which no case succeeded does), naming the run directory and why."""
    failed = [r for r in results if r.verdict.startswith("not compared")]
    if failed:
        raise CheckFailed(f"{failed[0].verdict} (results: {failed[0].run_dir})"
                          + (f"; {len(failed) - 1} more comparison(s) not compared"
                             if len(failed) > 1 else ""))


def _log_block(p) -> None:
    """One stderr line per worker (a block, or a process of both sides) and per artifact."""
    if p.event != "end":
        return
    took = f" ({p.duration_s:.1f} s)" if p.duration_s is not None else ""
    what = f"worker {p.done}" if p.phase == "case" else "artifact"
    reason = f": {p.reason}" if p.reason and p.status != "ok" else ""
    typer.echo(f"[{what}] {p.name} {p.status}{took}{reason}", err=True)


def _print(result) -> None:
    from onnxbench.cli.common import console as make_console
    from onnxbench.report.abtable import ab_run_table
    from onnxbench.report.markdown import md_table

    doc = result.to_dict()
    console = make_console()
    console.print(md_table(ab_run_table(doc), level=2), highlight=False, markup=False,
                  soft_wrap=True)
    console.print(f"verdict: {result.verdict}", highlight=False, markup=False)
    console.print(f"results: {result.run_dir}", highlight=False, soft_wrap=True, markup=False)


def register(app: typer.Typer) -> None:
    """Add the ``ab`` command to the app."""
    app.command("ab")(ab)
