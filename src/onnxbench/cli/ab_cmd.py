"""``onnxbench ab A [B]``: is B faster than A? A and B alternated in short blocks inside each
worker process (or a fresh process per block where they cannot share one), processes as the
replication unit, sequential stopping; a thin layer over ``onnxbench.ab``
(``onnxbench.suite.ab``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from onnxbench.core.errors import UserError


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


def parse_options(flag: str, items: list[str]) -> dict[str, Any]:
    """["threads=1,level=all", "verify=true"] → {"threads": 1, "level": "all", "verify": True}."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        for part in (p.strip() for p in item.split(",")):
            key, sep, value = part.partition("=")
            if not part:
                continue
            if not sep or not key.strip():
                raise UserError(f"{flag} {item!r}: expected KEY=VALUE[,KEY=VALUE...]")
            try:
                out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
            except yaml.YAMLError:
                out[key.strip()] = value
    return out


def _fraction(flag: str, text: str | None) -> float | None:
    from onnxbench.report.compare import parse_threshold

    if text is None or text.strip().lower() in ("none", "off", "0"):
        return None
    return parse_threshold(text, flag)


def ab(
    a: str = typer.Argument(..., help="model A: an .onnx file, a zoo name, or file.py:factory"),
    b: str | None = typer.Argument(None, help="model B (default: A's model, varied by the "
                                                  "flags below)"),
    runtime: str = typer.Option("ort-cpu", "--runtime", "-r", help="runtime, or A,B"),
    precision: str = typer.Option("fp32", "--precision", help="precision, or A,B"),
    config: str | None = typer.Option(None, "--config", help="zoo config, or A,B"),
    exporter: str | None = typer.Option(None, "--exporter", help="exporter (zoo models), or A,B"),
    options: list[str] = typer.Option([], "--options", help="KEY=VALUE,... for both sides"),
    a_options: list[str] = typer.Option([], "--a-options", help="KEY=VALUE,... for A only"),
    b_options: list[str] = typer.Option([], "--b-options", help="KEY=VALUE,... for B only"),
    batch: int = typer.Option(1, "--batch", "-b", min=1, help="batch size"),
    seq: int | None = typer.Option(None, "--seq", min=1, help="sequence length"),
    shape: list[str] = typer.Option([], "--shape", help="NAME=D0,D1,... (repeatable)"),
    range_: list[str] = typer.Option([], "--range", help="NAME=LOW:HIGH (repeatable)"),
    threshold: str = typer.Option("2%", "--threshold", help="practical margin: equivalent "
                                                             "within ±it"),
    target_ci: str = typer.Option("1%", "--target-ci", help="stop once the CI is within ±it "
                                                             "(none: only time stops)"),
    max_time: float = typer.Option(120.0, "--max-time", help="seconds of workers at most"),
    design: str = typer.Option("auto", "--design", help="interleaved (A and B in each "
                               "process), process (a fresh process per block) or auto "
                               "(interleaved where A and B can share a process)"),
    block_time: float | None = typer.Option(None, "--block-time", help="timed seconds per "
                                            "block (default 0.05 interleaved, 0.5 process)"),
    process_time: float | None = typer.Option(None, "--process-time", help="interleaved: "
                                              "timed seconds per worker process (default: "
                                              "sized from the first process, 0.25-5 s)"),
    warmup: int = typer.Option(10, "--warmup", help="untimed runs per side in each process"),
    alpha: float = typer.Option(0.05, "--alpha", help="error rate of the whole run's CI"),
    timeout: float = typer.Option(600.0, "--timeout", help="per-worker time-out (s)"),
    out: Path = typer.Option(Path("runs"), "--out", help="where the run directory goes"),
    quiet: bool = typer.Option(False, "--quiet", help="no per-block log lines"),
    as_json: bool = typer.Option(False, "--json", help="print one JSON document"),
) -> None:
    """Is B faster than A? A and B alternate ABBA BAAB … in short blocks inside each worker
    process (a fresh process per block where they cannot share one), processes as the unit,
    until the ratio's CI is within --target-ci or --max-time is spent."""
    from onnxbench.model.inputs import parse_range, parse_shape
    from onnxbench.suite.ab import ABSettings
    from onnxbench.suite.ab import ab as run

    settings = ABSettings(threshold=_fraction("--threshold", threshold) or 0.0,
                          target_ci=_fraction("--target-ci", target_ci), max_time_s=max_time,
                          block_time_s=block_time, warmup=warmup, alpha=alpha, timeout_s=timeout,
                          design=design, process_time_s=process_time)
    kwargs: dict[str, Any] = dict(
                  runtime=_pair("--runtime", runtime), precision=_pair("--precision", precision),
                  config=_pair("--config", config), exporter=_pair("--exporter", exporter),
                  options=parse_options("--options", options),
                  a_options=parse_options("--a-options", a_options),
                  b_options=parse_options("--b-options", b_options), batch=batch, seq=seq,
                  shapes=dict(parse_shape(s) for s in shape),
                  ranges=dict(parse_range(r) for r in range_))
    result = run(a, b, settings=settings, out=out,
                 progress=None if quiet or as_json else _log_block, **kwargs)
    if as_json:
        print(json.dumps(result.to_dict(), indent=1, default=str))
        return
    _print(result)


def _log_block(p) -> None:
    """One stderr line per worker (a block, or a process of both sides) and per artifact."""
    if p.event != "end":
        return
    took = f" ({p.duration_s:.1f} s)" if p.duration_s is not None else ""
    what = f"worker {p.done}" if p.phase == "case" else "artifact"
    reason = f": {p.reason}" if p.reason and p.status != "ok" else ""
    typer.echo(f"[{what}] {p.name} {p.status}{took}{reason}", err=True)


def _print(result) -> None:
    from rich.console import Console

    from onnxbench.report.abtable import ab_run_table
    from onnxbench.report.markdown import md_table

    doc = result.to_dict()
    console = Console()
    console.print(md_table(ab_run_table(doc), level=2), highlight=False, markup=False,
                  soft_wrap=True)
    console.print(f"verdict: {result.verdict}", highlight=False, markup=False)
    console.print(f"results: {result.run_dir}", highlight=False, soft_wrap=True, markup=False)


def register(app: typer.Typer) -> None:
    """Add the ``ab`` command to the app."""
    app.command("ab")(ab)
