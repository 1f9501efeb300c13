"""Commands `report` (report.md / report.html from a run directory) and `compare` (two runs,
A/B statistics against both runs' noise, exit 1 on a regression beyond the threshold and the
noise, or on a case that broke)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from onnxbench.cli.common import console as make_console
from onnxbench.cli.flags import option as opt
from onnxbench.core.errors import UserError


def _formats(text: str) -> list[str]:
    from onnxbench.report import FORMATS

    fmts = [f.strip().lower() for f in text.split(",") if f.strip()]
    bad = [f for f in fmts if f not in FORMATS]
    if bad or not fmts:
        raise UserError(f"--format {text!r}: choose from {','.join(FORMATS)} (comma-separated)")
    return fmts


def report(run_dir: Path = typer.Argument(..., help="run directory (runs/<suite>_<time>/)"),
           format: str = typer.Option("md,html", "--format", help="comma-separated: md,html"),
           baseline: str = typer.Option(None, "--baseline",
                                        help="runtime the speed-ups compare against "
                                             "(default: PyTorch on the same device)"),
           tables: str = typer.Option(None, "--tables", metavar="SHAPES",
                                      help="table shapes of the reference reports, comma-"
                                           "separated: winner, totals, grid (default: the "
                                           "suite's tables:)"),
           total_runs: int = typer.Option(1000, "--total-runs", min=1, metavar="N",
                                          help="totals: the number of runs a total sums"),
           as_json: bool = typer.Option(False, "--json", help="print one JSON document")) -> None:
    """Write report.md and report.html into RUN_DIR: tables, crossovers, speed-ups, A/B."""
    from onnxbench.core.rundir import existing_run_dir
    from onnxbench.report import build_report, save_report
    from onnxbench.report.rundata import load_run
    from onnxbench.report.table_specs import parse_layouts

    fmts = _formats(format)
    layouts = parse_layouts(tables, total_runs) if tables else None
    with existing_run_dir(run_dir).lock():  # not while a run or aggregate writes it
        run = load_run(run_dir)
        _check_baseline(baseline, {r.case.runtime for r in run.results})
        rep = build_report(run, baseline=baseline, layouts=layouts)
        paths = save_report(rep, fmts)
    if as_json:
        doc = rep.to_dict()
        doc["written"] = [str(p) for p in paths]
        print(json.dumps(doc, indent=1, default=str))
        return
    console = make_console()
    for g in rep.groups:
        if g.sentence:
            console.print(g.sentence, highlight=False)
    for p in paths:
        console.print(f"wrote {p}", highlight=False)


def _check_baseline(baseline: str | None, runtimes: set[str]) -> None:
    """``--baseline`` must name a runtime the run measured (else no speed-up has a base)."""
    if baseline is not None and baseline not in runtimes:
        raise UserError(f"--baseline {baseline!r}: no case of this run used that runtime; "
                        f"choose one of: {', '.join(sorted(runtimes))}")


def compare(run_a: Path = typer.Argument(..., help="baseline run directory (A)"),
            run_b: Path = typer.Argument(..., help="candidate run directory (B)"),
            threshold: str = opt("--threshold", "5%",
                                 "practical margin: regressions beyond it fail (exit 1)"),
            allow_missing: bool = typer.Option(
                False, "--allow-missing", help="pass a case ok in A that B does not have"),
            allow_unresolved: bool = typer.Option(
                False, "--allow-unresolved",
                help="pass when the runs are too noisy to see a change of --threshold"),
            as_json: bool = typer.Option(False, "--json", help="print one JSON document")) -> None:
    """Match RUN_A and RUN_B (run directories, or folders given to --out holding one run
    each) by case id; judge each pair against both runs' measured between-process noise; exit
    1 on a regression beyond the threshold and the noise, on a case ok in A but not in B or
    missing from B, or when the runs are too noisy to see a regression of the threshold's size
    (a CI gate)."""
    from onnxbench.report.compare import check_gate, compare_runs, parse_threshold

    comp = compare_runs(run_a, run_b, threshold=parse_threshold(threshold))
    if as_json:
        print(json.dumps(comp.to_dict(), indent=1, default=str))
    else:
        _print_comparison(comp)
    check_gate(comp, allow_missing=allow_missing, allow_unresolved=allow_unresolved)


def _print_comparison(comp) -> None:
    from onnxbench.cli.common import rich_table
    from onnxbench.report.abtable import ab_table
    from onnxbench.report.fmt import sig

    table = ab_table(comp, "B vs A")
    colours = {"slower": "red", "faster": "green"}
    styles = [colours.get(pair.result.verdict if pair.result else "",
                          "red" if pair.broke else "") for pair in comp.pairs]
    console = make_console()
    console.print(rich_table(table, console, keep=("B/A", "CI", "Verdict"),
                             optional=("p (adj.)", "Pairs / processes", ("A (ms)", "B (ms)")),
                             styles=styles))
    for note in table.notes:
        console.print(note, highlight=False, style="dim", markup=False)
    noise = ", ".join(f"{k.upper()} ±{sig(100 * v['between_process_rsd'], 2)} % "
                      f"({v['points']} points)"
                      if v else f"{k.upper()} not measured (one process per point)"
                      for k, v in comp.noise.items())
    console.print(f"between-process noise: {noise}", highlight=False, markup=False)
    console.print(f"{len(comp.regressions)} regression(s), {len(comp.improvements)} improvement(s) "
                  f"beyond {comp.threshold:.0%}; {len(comp.broken)} ok in A but not in B; "
                  f"only in A: {len(comp.only_a)}, only in B: {len(comp.only_b)}; "
                  f"{len(comp.unresolved)} pair(s) too noisy to see {comp.threshold:.0%}",
                  highlight=False)


def register(app: typer.Typer) -> None:
    """Add `report` and `compare` to the app."""
    app.command("report")(report)
    app.command("compare")(compare)
