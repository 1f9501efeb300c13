"""Commands `report` (report.md / report.html from a run directory) and `compare` (two runs,
A/B statistics, exit 1 on a significant regression beyond the threshold)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table as RichTable

from onnxbench.errors import UserError


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
           layout: str = typer.Option(None, "--layout",
                                      help="table shapes of the reference reports, comma-"
                                           "separated: winner, totals, grid (default: the "
                                           "suite's tables:)"),
           runs: int = typer.Option(1000, "--runs", min=1,
                                    help="totals: the number of runs a total sums"),
           as_json: bool = typer.Option(False, "--json", help="print one JSON document")) -> None:
    """Write report.md and report.html into RUN_DIR: tables, crossovers, speed-ups, A/B."""
    from onnxbench.report import build_report, save_report
    from onnxbench.report.load import load_run
    from onnxbench.suite.tables import parse_layouts

    fmts = _formats(format)
    run = load_run(run_dir)
    _check_baseline(baseline, {r.case.runtime for r in run.results})
    layouts = parse_layouts(layout, runs) if layout else None
    rep = build_report(run, baseline=baseline, layouts=layouts)
    paths = save_report(rep, fmts)
    if as_json:
        doc = rep.to_dict()
        doc["written"] = [str(p) for p in paths]
        print(json.dumps(doc, indent=1, default=str))
        return
    console = Console()
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
            threshold: str = typer.Option("5%", "--threshold",
                                          help="practical margin: regressions beyond it fail (exit 1)"),
            as_json: bool = typer.Option(False, "--json", help="print one JSON document")) -> None:
    """Match RUN_A and RUN_B by case id; A/B statistics per case; exit 1 on a significant
    regression beyond the threshold (a CI gate)."""
    from onnxbench.report.compare import check_gate, compare_runs, parse_threshold

    comp = compare_runs(run_a, run_b, threshold=parse_threshold(threshold))
    if as_json:
        print(json.dumps(comp.to_dict(), indent=1, default=str))
    else:
        _print_comparison(comp)
    check_gate(comp)


def _print_comparison(comp) -> None:
    table = RichTable(title=f"B vs A (ratio of medians B/A, 95% CI, Holm-adjusted p; "
                            f"equivalent = CI within ±{comp.threshold:.0%})")
    for col in ("case", "A ms", "B ms", "B/A", "95% CI", "p (Holm)", "effect", "verdict"):
        table.add_column(col, justify="left" if col in ("case", "verdict") else "right")
    for p in comp.pairs:
        r = p.result
        if r is None:
            table.add_row(p.label, "–", "–", "–", "–", "–", "–", p.status)
            continue
        verdict = r.verdict + (f" ({r.note})" if r.note else "")
        style = {"slower": "red", "faster": "green"}.get(r.verdict, "")
        table.add_row(p.label, f"{p.a.median:.3g}", f"{p.b.median:.3g}", f"{r.ratio:.3f}",
                      f"{r.ci_low:.3f}–{r.ci_high:.3f}", f"{r.p_adjusted:.2g}",
                      f"{r.effect_size:.2f}", f"[{style}]{verdict}[/{style}]" if style else verdict)
    console = Console()
    console.print(table)
    console.print(f"{len(comp.regressions)} regression(s), {len(comp.improvements)} improvement(s) "
                  f"beyond {comp.threshold:.0%}; only in A: {len(comp.only_a)}, "
                  f"only in B: {len(comp.only_b)}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `report` and `compare` to the app."""
    app.command("report")(report)
    app.command("compare")(compare)
