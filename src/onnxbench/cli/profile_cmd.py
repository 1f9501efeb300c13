"""``onnxbench profile``: why is it slow? Per-operator profiles and node placement.

    onnxbench profile MODEL [--runtime ort-cpu,torch-cpu] [--batch 8] [--seq 128] [--runs 20]

Each runtime × batch is one case in its own worker: a timed pass (its median is what the
profile is set against), then an untimed profiling pass on a fresh session (ORT's profiler,
or torch.profiler) and, for ONNX Runtime, the node placement. Prints per case the time by
op type and provider, the heaviest nodes, the unprofiled share and the placement; with two
or more runtimes, the explained A/B of each against the first. Results land in a run
directory like ``bench``'s (report included): the flags become a Plan through
``onnxbench.api.bench_plan``, checked before anything runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from onnxbench.cli.data_opts import InputsFlag, RangeFlag, SeqMixFlag, ShapeFlag, ValueFlag
from onnxbench.cli.flags import option as opt
from onnxbench.core.errors import UserError


def _rich_table(table):
    """A report ``Table`` as a rich table (same content as report.md)."""
    from rich.markup import escape
    from rich.table import Table as RichTable

    out = RichTable(title=escape(table.title), title_justify="left")
    for i, h in enumerate(table.headers):
        out.add_column(escape(h), justify="left" if i == 0 else "right", overflow="fold")
    for row in table.rows:
        out.add_row(*[f"[bold]{escape(c.text)}[/bold]" if c.bold else escape(c.text) for c in row])
    return out


def _node_table(prof: dict[str, Any], top: int):
    from onnxbench.report.fmt import pct, sig
    from onnxbench.report.tables import Cell, Table

    rows = [[Cell(n["name"]), Cell(n["op_type"]), Cell(n["provider"]), Cell(sig(n["ms"])),
             Cell(pct(n["ms"] / prof["op_sum_ms"]) if prof["op_sum_ms"] else "–")]
            for n in prof["nodes"][:top]]
    return Table(f"heaviest {len(rows)} of {len(prof['nodes'])} nodes / operators",
                 ["Node", "Op type", "Provider", "ms per run", "Share"], rows)


def _results(run_dir: Path) -> list:
    from onnxbench.core.rundir import existing_run_dir

    return existing_run_dir(run_dir).read_results()


def _print(results: list, top: int) -> None:
    from onnxbench.cli.common import console as make_console
    from onnxbench.profile.attribution import attribute, profile_of
    from onnxbench.report.profile_tables import Explained, attribution_table, op_type_table

    console = make_console()
    for r in results:
        name = f"{r.case.runtime} b{r.case.batch}" + (f" s{r.case.seq}" if r.case.seq else "")
        if r.status != "ok":
            console.print(f"{name}: {r.status}: {r.reason}", highlight=False)
            continue
        prof = profile_of(r)
        for line in _placement_lines(name, r.placement):
            console.print(line, highlight=False, soft_wrap=True)
        if prof is None:
            why = (r.profile or {}).get("skipped") or (r.profile or {}).get("error")
            console.print(f"{name}: no profile ({why})", highlight=False)
            continue
        console.print(_rich_table(op_type_table(name, prof)))
        console.print(_rich_table(_node_table(prof, top)))
        console.print(f"{name}: median {prof['measured_median_ms']:.4g} ms, profiled op sum "
                      f"{prof['op_sum_ms']:.4g} ms, unprofiled "
                      f"{100 * prof['unprofiled_share']:.1f} % ({prof['clock']})",
                      highlight=False, soft_wrap=True)
    ok = [r for r in results if r.status == "ok" and profile_of(r)]
    for b in ok[1:]:
        att = attribute(ok[0], b, label_a="A", label_b="B")
        label = f"{ok[0].case.runtime} (A) → {b.case.runtime} (B), batch {b.case.batch}"
        console.print(_rich_table(attribution_table(Explained(label, None, None, att))))
        for line in att["sentences"]:
            console.print(f"  {line}", highlight=False, soft_wrap=True)


def _placement_lines(name: str, placement: dict[str, Any] | None) -> list[str]:
    if not placement:
        return []
    if placement.get("error"):
        return [f"{name}: placement: {placement['error']}"]
    per = ", ".join(f"{k} {v}" for k, v in placement["by_provider"].items())
    lines = [f"{name}: {placement['nodes']} nodes ({per}); "
             f"Memcpy nodes: {placement['memcpy_nodes']}"]
    return lines + [f"{name}: WARNING {w}" for w in placement.get("warnings", [])]


def profile_command(
    model: str = typer.Argument(..., help="an .onnx file, a zoo name, or file.py:factory"),
    runtime: list[str] = opt("--runtime", ["ort-cpu"], "runtimes, comma-separated "
                             "(repeatable); with two or more, each is explained against the "
                             "first"),
    batch: str | None = opt("--batch", None),
    seq: str | None = opt("--seq", None),
    shape: ShapeFlag = [],  # noqa: B006 - typer copies list defaults
    range_: RangeFlag = [],  # noqa: B006
    value: ValueFlag = [],  # noqa: B006
    inputs: InputsFlag = None,
    seq_mix: SeqMixFlag = None,
    runs: int = opt("--runs", 20, "profiled runs (after 5 unprofiled warm-ups)"),
    top: int = typer.Option(15, "--top", metavar="N", help="heaviest nodes to list"),
    threads: int | None = opt("--threads", None),
    config: str | None = opt("--config", None),
    exporter: str | None = opt("--exporter", None),
    timeout: float = opt("--timeout", 600.0, "per-case time-out (s)"),
    out: Path = opt("--out", Path("runs"), "where run directories go; each profile makes a new "
                                           "one"),
    quiet: bool = opt("--quiet", False),
    json_out: bool = opt("--json", False),
) -> None:
    """Per-operator profile (untimed pass) and node placement of MODEL on each runtime."""
    from onnxbench.api import PROFILE_TIMING
    from onnxbench.cli.bench_cmd import _run, plan_of
    from onnxbench.cli.data_opts import case_data
    from onnxbench.profile import required_runs

    n_runs = required_runs(runs, "--runs")
    if top < 1:
        raise UserError(f"--top {top}: give a positive number of nodes")
    data = case_data(shape, range_, value, inputs, seq_mix, None, None, None)
    options: dict[str, Any] = {"profile": n_runs, **({"threads": threads} if threads else {})}
    plan = plan_of(model, runtime, batch, seq, data, options, PROFILE_TIMING, config=config,
                   exporter=exporter, timeout_s=timeout)
    run = _run(plan, out, quiet)
    run_dir = run.path
    results = _results(run_dir)
    from onnxbench.cli.answer import answer_doc, print_answer

    if json_out:
        typer.echo(json.dumps({"run_dir": str(run_dir), "results": [
            {"case_id": r.case_id, "status": r.status, "reason": r.reason,
             "placement": r.placement, "profile": r.profile} for r in results],
             **answer_doc(run_dir)}, indent=1, default=str))
    else:
        _print(results, top)
        from onnxbench.cli.common import console as make_console

        screen = make_console()
        screen.print(f"results: {run_dir}", highlight=False, soft_wrap=True)
        print_answer(run_dir, screen, profiles=False)
    run.check()  # no case succeeded: exit 1, the first reason in the last line


def register(app: typer.Typer) -> None:
    """Add the ``profile`` command to the app."""
    app.command("profile")(profile_command)
