"""``onnxbench tune MODEL --goal ...``: what should I deploy? A thin layer over
``onnxbench.tune``: parse, call, print (the candidates, what to paste, the answer last)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from onnxbench.cli.flags import alias
from onnxbench.cli.flags import option as opt
from onnxbench.core.errors import UserError


def _print_dry_run(result: Any, out: Any) -> None:
    space = result.space
    out.print(f"goal: {result.goal.describe()}", highlight=False)
    out.print(f"{len(space.candidates)} candidates to search:", highlight=False)
    for c in space.candidates:
        out.print(f"  {c.label()}", highlight=False, soft_wrap=True)
    if space.dropped:
        out.print(f"{len(space.dropped)} dropped before measuring (skipped here, or "
                  "invalid), with the reason:", highlight=False)
        for what, why in space.dropped:
            out.print(f"  {what}: {why}", highlight=False, soft_wrap=True)


def _print_answer(result: Any, out: Any) -> None:
    from rich.table import Table

    from onnxbench.core.numbers import sig
    from onnxbench.report.tune_section import ci_text

    table = Table(title="candidates (the pick, ties and the Pareto front first)",
                  title_justify="left")
    for col in ("candidate", "", "figure", "95 % CI", "acc. drop", "cores", "stage", "outcome"):
        table.add_column(col, overflow="fold")
    for r in result.rows[:25]:
        mark = "pick" if r["winner"] else ("tie" if r["tie"] else
                                           ("Pareto" if r["pareto"] else ""))
        ci = r["ci"]
        table.add_row(r["label"], mark, "–" if r["value"] is None else sig(r["value"], 4),
                      ci_text(ci),
                      "–" if r["accuracy_drop"] is None else f"{r['accuracy_drop']:.3g}",
                      str(r["cores"]), str(r["stage"]), str(r["dropped"] or r["status"]))
    out.print(table)
    paste = result.paste
    if paste:
        out.print("\nwhat to paste:", highlight=False)
        for key in ("export", "optimize", "session", "serving"):
            if paste.get(key):
                out.print(paste[key], highlight=False, soft_wrap=True, markup=False)
        out.print("\nsuite that reproduces it:", highlight=False)
        out.print(paste["suite_yaml"].rstrip(), highlight=False, soft_wrap=True, markup=False)
    out.print(f"\nrun directory: {result.run_dir} (report.html, tune.md)", highlight=False,
              soft_wrap=True)
    out.print(f"\n{result.paragraph}", highlight=False, soft_wrap=True, markup=False)


def _one(flag: str, text: str | None) -> int | None:
    """``--batch 8`` → 8: the shared list flag, where tune takes one value."""
    from onnxbench.cli.common import parse_int_list
    from onnxbench.cli.flags import one_value

    return one_value(flag, parse_int_list(flag, text), "tune") if text else None


def tune(
    model: str | None = typer.Argument(None, help="an .onnx file, a zoo name, or file.py:factory"),
    goal: str = typer.Option("latency", "--goal", help="latency | throughput (with --p99) | "
                                                       "a rate such as p99<=10ms@200qps"),
    batch: str | None = opt("--batch", None, "rows per request (one value; default 1)"),
    p99: str | None = opt("--p99", None, "throughput: the latency bound, e.g. 50ms"),
    max_drop: str | None = typer.Option(None, "--max-accuracy-drop",
                                        help="e.g. 0.5%: the most the metric may drop vs fp32"),
    accuracy_data: Path | None = opt("--accuracy-data", None),
    metric: str | None = opt("--metric", None, "--accuracy-data's metric"),
    budget: str = typer.Option("15m", "--budget", help="wall time of the whole search"),
    runtime: list[str] = opt("--runtime", [], "runtimes to search, comma-separated "
                                              "(default: all that fit)"),
    space: list[str] = typer.Option([], "--space", help="KEY=V1,V2: narrow or widen one "
                                                        "dimension (repeatable)"),
    config: str | None = opt("--config", None, "zoo config, e.g. tiny"),
    seq: str | None = opt("--seq", None, "sequence length (one value)"),
    seed: int = typer.Option(0, "--seed", help="the sampler's and the inputs' seed"),
    out: Path = opt("--out", Path("runs"), "where the run directory goes"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the space (and what is "
                                                          "dropped, why); measure nothing"),
    resume: Path | None = opt("--resume", None, "continue a tune run directory"),
    trust: bool = opt("--trust", False, "--resume a tune whose request names code "
                                        "(file.py:factory) or files outside RUN_DIR: only for "
                                        "a run you made"),
    quiet: bool = opt("--quiet", False, "no per-case progress lines"),
    as_json: bool = opt("--json", False),
    old_runtimes: list[str] = alias("--runtimes", "--runtime", []),
) -> int:
    """What should I deploy? Search runtimes, precisions, passes, threads and serving for
    GOAL within --budget; print the evidence, what to paste, and the answer."""
    import onnxbench
    from onnxbench.cli.common import console, progress_display

    if (model is None) == (resume is None):
        raise UserError("give a MODEL to tune, or --resume RUN_DIR (not both)")
    if trust and resume is None:
        raise UserError("--trust: only applies to --resume RUN_DIR (a request read back from "
                        "a run directory)")
    with progress_display(quiet or as_json) as progress:
        try:
            if resume is not None:
                result = onnxbench.tune_resume(resume, progress=progress, trust=trust)
            else:
                names = [n.strip() for item in runtime + old_runtimes
                         for n in item.split(",") if n.strip()]
                result = onnxbench.tune(
                    str(model), goal, batch=_one("--batch", batch), p99=p99,
                    max_accuracy_drop=max_drop, accuracy_data=accuracy_data, metric=metric,
                    budget=budget, runtimes=names or None, space=space, config=config,
                    seq=_one("--seq", seq), seed=seed, out=out, dry_run=dry_run,
                    progress=progress)
        except KeyboardInterrupt:
            console(stderr=True).print("onnxbench: interrupted; finished cases are kept: "
                                       "onnxbench tune --resume RUN_DIR continues",
                                       highlight=False)
            return 130
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=1, default=str))
    elif dry_run:
        _print_dry_run(result, console())
    else:
        _print_answer(result, console())
    return 0


def register(app: typer.Typer) -> None:
    """Add ``tune`` to the app."""
    app.command("tune")(tune)
