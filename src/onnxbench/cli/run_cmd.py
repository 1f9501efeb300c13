"""``onnxbench run`` (a YAML suite into a run directory) and ``onnxbench aggregate``.

    onnxbench run --suite NAME|PATH [--out runs/] [--only REGEX] [--dry-run] [--quiet] [--json]
                  [--executor local|ray] [--ray-address auto|HOST:PORT]
    onnxbench run --resume RUN_DIR [--only REGEX] [--trust] [--executor E] [--ray-address A]
    onnxbench run --aggregate-only --input-dir RUN_DIR      (alias: onnxbench aggregate RUN_DIR)
"""

from __future__ import annotations

import json
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from onnxbench.cli.common import (
    check_report_written,
    console,
    progress_display,
    render_tables,
)
from onnxbench.cli.flags import option as opt
from onnxbench.core.errors import UserError

if TYPE_CHECKING:
    from onnxbench.api import Run


def _dry_run(plan, only: str | None, json_out: bool) -> None:
    from onnxbench.suite.preflight import forecast
    from onnxbench.suite.runner import select

    cases = select(plan.cases, only)
    keys = sorted({c.artifact_key for c in cases})
    skips = forecast(cases)
    if json_out:
        doc = {"suite": plan.suite, "n_cases": len(cases), "n_artifacts": len(keys),
               "ab_axes": plan.ab_axes, "n_skipped_here": len(skips),
               "cases": [{"case_id": c.case_id, "timeout_s": plan.timeout_for(c),
                          "skip_here": skips.get(c.case_id)} for c in cases]}
        typer.echo(json.dumps(doc, indent=1, default=str))
        return
    out = console()
    out.print(f"suite {plan.suite}: {len(cases)} cases, {len(keys)} artifacts "
                  "(dry run, nothing executed)", highlight=False)
    for c in cases:
        why = skips.get(c.case_id)
        out.print(f"  {c.case_id}" + (f"  [skipped here: {why}]" if why else ""),
                  highlight=False, soft_wrap=True, markup=False)
    if skips:
        reasons = sorted(set(skips.values()))
        out.print(f"{len(skips)} of {len(cases)} cases would be skipped on this machine: "
                  + "; ".join(reasons), highlight=False, soft_wrap=True, markup=False)


def _print_run(run: Run, json_out: bool) -> None:
    """What ``run``, ``run --resume`` and ``aggregate`` print about the run (``api.Run``)."""
    from onnxbench.cli.answer import answer_doc, print_answer

    reports = [str(p) for p in run.reports]
    if json_out:
        doc: dict[str, Any] = {"run_dir": str(run.path), "summary": run.summary or None,
                               "reports": reports, "report_error": run.report_error,
                               **answer_doc(run.path)}
        typer.echo(json.dumps(doc, indent=1, default=str))
        check_report_written(run.report_error, run.path)
        return
    out = console()
    render_tables([r for r in run.rows if not r.get("scenario")], out)
    if any(r.get("scenario") for r in run.rows):
        from onnxbench.cli.load_cmd import render_load

        render_load(run.path, out)
    if run.summary:
        out.print("cases: " + ", ".join(f"{n} {s}" for s, n in run.statuses.items()),
                  highlight=False)
        out.print(f"summary: {run.summary_csv}", highlight=False, soft_wrap=True)
    for path in reports:
        out.print(f"report: {path}", highlight=False, soft_wrap=True)
    out.print(f"run directory: {run.path}", highlight=False, soft_wrap=True)
    print_answer(run.path, out)
    check_report_written(run.report_error, run.path)


def _executor(spec, name: str | None, address: str | None, cases, connect: bool = True):
    """The executor the flags (or else the suite's ``executor:``) ask for, opened: a case it
    cannot place, a cluster it cannot join or Ray's extra missing fails before anything runs.
    ``connect=False`` (a dry run): only the checks that start nothing (``Executor.check``)."""
    from onnxbench.executors import make_executor
    from onnxbench.suite.schema import ExecutorSpec

    spec = spec or ExecutorSpec()
    name = name or spec.name
    same = name == spec.name  # the suite's options belong to the suite's executor
    executor = make_executor(name, address=address or (spec.address if same else None),
                             share_cpu_nodes=(spec.share_cpu_nodes or None) if same else None)
    try:
        executor.open(cases) if connect else executor.check(cases)
    except BaseException:
        executor.close()
        raise
    return executor


def _suite_executor(run_dir: Path):
    """The ``executor:`` of the suite a run directory was made from (None: not recorded)."""
    from onnxbench.core.rundir import RunDir
    from onnxbench.suite.parse import executor_spec
    from onnxbench.suite.yamlsafe import read_suite_text

    path = RunDir(Path(run_dir)).file("configs", "suite.yaml")
    return executor_spec(read_suite_text(path), str(path)) if path.is_file() else None


def _pending(run_dir: Path, only: str | None, trust: bool):
    """The cases a resume would run, checked as resume checks them (before Ray starts)."""
    from onnxbench.core.rundir import open_run_dir
    from onnxbench.suite.plan import read_plan
    from onnxbench.suite.runner import select
    from onnxbench.suite.trust import check_resume

    run = open_run_dir(run_dir)
    cases = [c for c in select(read_plan(run).cases, only) if not run.done(c)]
    check_resume(cases, run.path, trust)
    return cases


def _aggregate_only(run_dir: Path, json_out: bool) -> None:
    from onnxbench import api

    _print_run(api.aggregate(run_dir), json_out)


def run(
    suite: str | None = typer.Option(None, "--suite", "-s",
                                        help="built-in suite name or path to a YAML file"),
    out: Path = opt("--out", Path("runs")),
    only: str | None = typer.Option(None, "--only", help="run only case ids matching REGEX"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the plan, run nothing"),
    resume: Path | None = opt("--resume", None, "finish RUN_DIR: run cases without a result"),
    aggregate_only: bool = typer.Option(False, "--aggregate-only",
                                        help="rebuild summary/ from raw/ of --input-dir"),
    input_dir: Path | None = typer.Option(None, "--input-dir",
                                             help="run directory for --aggregate-only"),
    trust: bool = typer.Option(False, "--trust",
                               help="--resume a plan that names code (file.py:factory) or "
                                    "files outside RUN_DIR: only for a run you made"),
    quiet: bool = typer.Option(False, "--quiet", help="one log line per case, no bar"),
    json_out: bool = typer.Option(False, "--json", help="print one JSON document"),
    executor: str | None = typer.Option(
        None, "--executor", help="where cases run: local (here, one after another) or ray "
        "(a Ray cluster, exclusive placement); default: the suite's executor:, else local"),
    ray_address: str | None = typer.Option(
        None, "--ray-address", help="Ray cluster to join: auto or HOST:PORT (default: start "
        "a local cluster, or RAY_ADDRESS)"),
) -> None:
    """Run a suite: one isolated worker per case, results in runs/<suite>_<time>/."""
    from onnxbench import api
    from onnxbench.model.checks import check_plan_inputs
    from onnxbench.suite import expand, load_suite, runner

    if aggregate_only:
        if input_dir is None:
            raise UserError("--aggregate-only needs --input-dir RUN_DIR")
        return _aggregate_only(input_dir, json_out)
    if (suite is None) == (resume is None):
        raise UserError("give exactly one of --suite NAME|PATH or --resume RUN_DIR "
                        f"(built-in suites: {', '.join(_builtin())})")
    if resume is not None:
        return _resume(resume, only, quiet, json_out, executor, ray_address, trust)
    assert suite is not None  # exactly one of --suite / --resume, and not --resume
    if trust:
        raise UserError("--trust: only applies to --resume RUN_DIR (a plan read back from a "
                        "run directory); a fresh run already runs the suite you give it")
    parsed, _path, text = load_suite(suite)
    plan = expand(parsed)
    check_plan_inputs(plan.cases)
    selected = runner.select(plan.cases, only)
    if not selected:
        raise UserError(f"--only {only!r}: matches none of the {len(plan.cases)} case ids; "
                        "see them with --dry-run (without --only)")
    if dry_run:  # what the run would refuse before it starts, the dry run refuses too
        _executor(parsed.executor, executor, ray_address, selected, connect=False).close()
        return _dry_run(plan, only, json_out)
    from onnxbench.core.rundir import create_run_dir

    ex = _executor(parsed.executor, executor, ray_address, selected)
    with closing(ex):
        run_dir = create_run_dir(out, plan.suite)
        with progress_display(quiet, selected) as progress:
            done = _interruptible(
                lambda: api.run_suite(plan, out=out, suite_text=text, only=only,
                                      progress=progress, run_dir=run_dir, executor=ex,
                                      check=False),
                run_dir.path)
    _print_run(done, json_out)
    done.check()  # no case succeeded: exit 1, the first reason in the last line


def _resume(run_dir: Path, only: str | None, quiet: bool, json_out: bool,
            executor: str | None, ray_address: str | None, trust: bool) -> None:
    """``run --resume``: the cases without a result, with the executor asked for (else the
    suite's); a run may be resumed with another executor than the one that started it."""
    from onnxbench import api
    from onnxbench.cli.common import progress_display

    pending = _pending(run_dir, only, trust)  # first: the run directory checked whole
    ex = _executor(_suite_executor(run_dir), executor, ray_address, pending)
    with progress_display(quiet, pending) as progress, closing(ex):
        done = _interruptible(lambda: api.resume(run_dir, only=only, progress=progress,
                                                 trust=trust, executor=ex, check=False),
                              run_dir)
    _print_run(done, json_out)
    done.check()  # no case succeeded: exit 1, the first reason in the last line


def _interruptible(fn, run_dir: Path):
    """Run; on Ctrl-C or an OS error (disk full, read-only, ...) say how to resume (finished
    results are already on disk): exit 130, or 2 with one line."""
    try:
        return fn()
    except KeyboardInterrupt:
        typer.echo(f"onnxbench: interrupted; finished cases are saved in {run_dir}; continue "
                   f"with `{_resume_command(run_dir)}`", err=True)
        raise typer.Exit(130) from None
    except OSError as exc:
        from onnxbench.core.errors import os_error_message

        raise UserError(f"{os_error_message(exc)}; finished cases are saved in {run_dir}; once "
                        f"fixed, continue with `{_resume_command(run_dir)}`") from None


def _resume_command(run_dir: Path) -> str:
    """``onnxbench run --resume DIR``, with ``--trust`` when its plan needs it (the user
    just made this directory, so it is theirs to trust)."""
    from onnxbench.core.rundir import open_run_dir
    from onnxbench.suite.plan import read_plan
    from onnxbench.suite.trust import plan_references

    try:
        code, outside = plan_references(read_plan(open_run_dir(run_dir)).cases, Path(run_dir))
    except Exception:  # noqa: BLE001 - only a hint; the resume itself will say what is wrong
        code, outside = [], []
    return f"onnxbench run --resume {run_dir}" + (" --trust" if code or outside else "")


def _builtin() -> list[str]:
    from onnxbench.suite.parse import builtin_names

    return builtin_names()


def aggregate(run_dir: Path = typer.Argument(..., help="run directory (runs/<suite>_<time>/)"),
              json_out: bool = typer.Option(False, "--json", help="print one JSON document")
              ) -> None:
    """Rebuild summary/summary.{csv,json} (and the report) from RUN_DIR/raw alone."""
    _aggregate_only(run_dir, json_out)


def register(app: typer.Typer) -> None:
    """Add the ``run`` and ``aggregate`` commands to the app."""
    app.command("run")(run)
    app.command("aggregate")(aggregate)
