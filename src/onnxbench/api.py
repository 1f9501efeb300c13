"""The library API: what a command can do, a Python user can do.

    import onnxbench

    run = onnxbench.bench("model.onnx", runtimes=["ort-cpu"], batch=[1, 8])
    print(run.point(runtime="ort-cpu", batch=8)["p50_ms"])
    run = onnxbench.run_suite("quickstart")
    comparison = onnxbench.compare("runs/a", "runs/b")
    run = onnxbench.load_run("runs/quickstart_20260101-120000")

Every entry point is a suite run underneath: ``bench`` builds a ``Plan`` from its
arguments (one case per runtime × batch × seq, every option checked before anything runs)
and hands it to the runner, which creates a fresh run directory (never reused), takes its
lock, runs each case in its own worker, aggregates ``summary/`` and writes ``report.md`` /
``report.html``. A ``Run`` reads the directory back. Errors a user can cause raise
``onnxbench.core.errors.UserError`` (one line); nothing here prints.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from pydantic import ValidationError

from onnxbench.core.artifact import read_json
from onnxbench.core.case import Case, point_id
from onnxbench.core.errors import RunFailed, UserError
from onnxbench.core.policy import MeasurePolicy
from onnxbench.core.rundir import RunDir, existing_run_dir, open_run_dir
from onnxbench.executors import make_executor
from onnxbench.model.case_data import CaseData
from onnxbench.model.checks import check_plan_inputs
from onnxbench.profile import required_runs
from onnxbench.runtimes.case_options import check_options
from onnxbench.runtimes.registry import validate_runtime_name
from onnxbench.tuning import resume as run_resume
from onnxbench.tuning import tune as run_tune

if TYPE_CHECKING:
    from onnxbench.core.policy import MeasurePolicy
    from onnxbench.core.result import Result
    from onnxbench.executors.base import Executor
    from onnxbench.report.compare import Comparison
    from onnxbench.suite.plan import Plan
    from onnxbench.suite.runner import Progress, RunOutcome
    from onnxbench.tuning import TuneResult

ProgressFn = Callable[["Progress"], None]
DEFAULT_TIMEOUT_S = 600.0
# worker processes per point: two processes of one model differ by several percent, so a
# point's figure comes from several (``MeasurePolicy.split`` shares the budget)
DEFAULT_PROCESSES = 3


@dataclass
class Run:
    """A run directory read back: its summary rows (one per point, repeats folded), the
    reports written, and the raw results on demand."""

    path: Path
    summary: dict[str, Any] = field(default_factory=dict)
    reports: list[Path] = field(default_factory=list)
    report_error: str | None = None

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One dict per point (``summary.json``'s rows: p50_ms, ci_low_ms, throughput, ...)."""
        return list(self.summary.get("rows", []))

    @property
    def summary_csv(self) -> Path | None:
        """``summary/summary.csv`` when the run has a summary."""
        return self.path / "summary" / "summary.csv" if self.summary else None

    @property
    def statuses(self) -> dict[str, int]:
        """How many cases ended how: ``{"ok": 4, "skipped": 1}``."""
        return dict(self.summary.get("statuses", {}))

    @property
    def status(self) -> str:
        """``ok``, ``partial`` (some cases failed), ``failed`` (no case succeeded),
        ``skipped`` (every case skipped here) or ``empty``."""
        from onnxbench.suite.aggregate import run_status

        return run_status(self.summary)

    def check(self) -> Run:
        """This run; ``RunFailed`` (with the first reason) when no case succeeded."""
        from onnxbench.suite.aggregate import failure_line

        line = failure_line(self.summary, self.path)
        if line:
            raise RunFailed(line, self)
        return self

    def point(self, **fields: Any) -> dict[str, Any]:
        """The one row whose fields equal ``fields`` (``runtime="ort-cpu", batch=8``)."""
        found = [r for r in self.rows if all(r.get(k) == v for k, v in fields.items())]
        if len(found) != 1:
            raise UserError(f"{self.path}: {len(found)} points match {fields}; name more "
                            "fields (model, config, exporter, runtime, batch, seq, precision)")
        return found[0]

    def results(self) -> list[Result]:
        """Every ``raw/<case_id>/result.json``, with all raw latencies."""
        return RunDir(self.path).read_results()

    def __str__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.statuses.items()) or "no results"
        failed = " FAILED: no case succeeded" if self.status == "failed" else ""
        return f"run {self.path} ({len(self.rows)} points; {counts}){failed}"


def _from_outcome(outcome: RunOutcome, check: bool = True) -> Run:
    """The run read back; with ``check``, ``RunFailed`` when no case succeeded."""
    reports = [Path(p) for p in outcome.report] if isinstance(outcome.report, list) else []
    summary = outcome.summary.document if outcome.summary else {}
    run = Run(Path(outcome.run_dir), summary, reports, outcome.report_error)
    return run.check() if check else run


def load_run(path: str | Path) -> Run:
    """A run directory made by ``bench``/``run_suite`` (finished or not), read back.

    The summary is the one on disk; an unfinished run without one is summarised in
    memory from ``raw/`` (nothing is written).
    """
    run = open_run_dir(path)
    summary = read_json(run.file("summary", "summary.json"))
    if summary is None:
        from onnxbench.suite.aggregate import summary_row

        grouped: dict[str, list[Result]] = {}
        for result in Run(run.path).results():
            grouped.setdefault(point_id(result.case_id), []).append(result)
        summary = {"rows": [summary_row(pid, rs) for pid, rs in sorted(grouped.items())]}
    reports = [p for p in (run.file("report.md"), run.file("report.html")) if p.is_file()]
    return Run(run.path, summary, reports)


# ---------------------------------------------------------------------------- bench

def bench_plan(model: str | Path, runtimes: Iterable[str] = ("ort-cpu",),
               batch: Iterable[int] | None = None, *, seq: Iterable[int] | None = None,
               config: str | None = None, exporter: str | None = None,
               options: Mapping[str, Any] | None = None,
               shapes: Mapping[str, list[int]] | None = None,
               ranges: Mapping[str, tuple[float, float]] | None = None,
               values: Mapping[str, float] | None = None, inputs: str | Path | None = None,
               seq_mix: list[tuple[int, float]] | None = None,
               measure: MeasurePolicy | Mapping[str, Any] | None = None,
               timeout_s: float = DEFAULT_TIMEOUT_S, seed: int = 0,
               name: str | None = None, processes: int = DEFAULT_PROCESSES) -> Plan:
    """The ``bench`` matrix as a Plan (runtime × batch × seq), checked before anything runs.

    ``model``: an ONNX file (any name: decided by content), a zoo name, a
    ``file.py:factory`` or a plugin's source (a ``.keras`` file, a SavedModel directory).
    ``exporter`` defaults to the model's framework's first (``dynamo``, ``tf2onnx``).
    What it runs on: synthesised inputs (``shapes``, inclusive ``ranges``, fixed
    ``values``), the user's ``inputs`` (``.npz``, ``.npy`` folder, ORT test data), or a
    ``seq_mix`` of ``(length, weight)`` pairs; ``batch`` defaults to 1, or to the rows of a
    bare graph's ``inputs``. ``processes``: worker processes per point, the measurement
    budget split over them, interleaved (process 0 of every point, then 1, ...).
    """
    from onnxbench.suite.model_check import check_model, positive
    from onnxbench.suite.plan import Plan

    rts = [validate_runtime_name(r) for r in _names(runtimes, "runtimes")]
    opts = dict(options or {})
    data = CaseData(dict(shapes or {}), dict(ranges or {}), dict(values or {}),
                    str(inputs) if inputs is not None else None, seq_mix,
                    {k: v for k, v in opts.items() if k in DATA_OPTIONS})
    if seq is not None and seq_mix:
        raise UserError("seq and seq_mix: give one (the mix sets the sequence lengths)")
    seqs: list[int | None] = list(positive(seq, "seq")) if seq is not None else [None]
    if timeout_s is None or isinstance(timeout_s, bool) or not timeout_s > 0:
        raise UserError(f"timeout_s {timeout_s!r}: must be a positive number of seconds")
    for rt in rts:
        check_options(rt, opts)
    model, config, exporter, batches = check_model(str(model), config, exporter, data, batch,
                                                   [s for s in seqs if s])
    if isinstance(processes, bool) or not isinstance(processes, int) or processes < 1:
        raise UserError(f"processes {processes!r}: must be a positive number of processes")
    policy = _policy(measure)
    processes = policy.usable_processes(processes)
    share = policy.split(processes)
    cases = [Case(model=model, config=config, exporter=exporter, runtime=rt, batch=b, seq=s,
                  options=opts, measure=share, trim_runs=policy.trim(processes, r), seed=seed,
                  repeat=r, **data.fields())
             for r in range(processes) for rt in rts for b in batches for s in seqs]
    label = re.sub(r"[^A-Za-z0-9.-]+", "-", Path(model.split(":")[0]).stem).strip("-")
    return Plan(name or f"bench-{label or 'model'}", cases,
                {c.case_id: float(timeout_s) for c in cases})


# options that say what a case runs on (checked against a bare graph with its inputs)
DATA_OPTIONS = ("accuracy_data", "metric", "reference")


class PlanArgs(TypedDict, total=False):
    """``bench_plan``'s keyword arguments, for the entry points that pass them on."""

    seq: Iterable[int] | None
    config: str | None
    exporter: str | None
    options: Mapping[str, Any] | None
    shapes: Mapping[str, list[int]] | None
    ranges: Mapping[str, tuple[float, float]] | None
    values: Mapping[str, float] | None
    inputs: str | Path | None
    seq_mix: list[tuple[int, float]] | None
    measure: MeasurePolicy | Mapping[str, Any] | None
    timeout_s: float
    seed: int
    name: str | None
    processes: int


def bench(model: str | Path, runtimes: Iterable[str] = ("ort-cpu",),
          batch: Iterable[int] | None = None, *, out: str | Path = "runs",
          progress: ProgressFn | None = None, check: bool = True,
          **plan: Unpack[PlanArgs]) -> Run:
    """Benchmark ``model`` on each runtime and batch size (and sequence length); returns the
    run read back. Each measurement runs in its own worker; a fresh run directory under
    ``out`` holds the results, the summary and the report. The other arguments are
    ``bench_plan``'s: ``seq``, ``config``, ``exporter``, ``options``, the inputs
    (``shapes``, ``ranges``, ``values``, ``inputs``, ``seq_mix``), ``measure``
    (``{"runs": 100, "warmup": 10}`` or a ``MeasurePolicy``), ``timeout_s``, ``seed``,
    ``processes`` (worker processes per point, 3; the budget split over them).
    ``check``: raise ``RunFailed`` (carrying the run) when no case succeeded."""
    return run_suite(bench_plan(model, runtimes, batch, **plan), out=out, progress=progress,
                     check=check)


def load(model: str | Path, runtimes: Iterable[str] = ("ort-cpu",), *,
         scenario: str | None = None, qps: Iterable[float] | None = None,
         concurrency: Iterable[int] | None = None, layouts: Iterable[str] = ("shared",),
         batch: int = 1, seq: int | None = None, config: str | None = None,
         exporter: str | None = None, threads: int | None = None, out: str | Path = "runs",
         progress: ProgressFn | None = None, **point: Any) -> Run:
    """``onnxbench load`` in Python: serve ``model`` under load on each runtime; one case per
    runtime × load point (``scenarios.spec.LoadSpec``): ``qps`` (server), ``concurrency``
    (closed loop), or ``scenario="peak"`` / ``"offline"``; ``point``: the other LoadSpec
    fields (``bound_ms``, ``percentile``, ``duration_s``, ``workers``, ``max_batch``, ...).
    """
    from onnxbench.suite.load_plan import load_cases, load_specs, run_load, scenario_name
    from onnxbench.suite.model_check import check_model

    rates, callers = (list(qps) if qps else None), (list(concurrency) if concurrency else None)
    name = scenario_name(rates, callers, scenario == "peak", scenario)
    specs = load_specs(name, qps=rates, concurrency=callers, layouts=list(layouts), **point)
    model, config, exporter, _ = check_model(str(model), config, exporter, None, [batch], seq)
    rts = _names(runtimes, "runtimes")
    cases = load_cases(model, rts, specs, batch=batch, seq=seq, config=config,
                       exporter=exporter, threads=threads)
    return _from_outcome(run_load(cases, out, progress=progress))


# the timed pass a profile is set against (the profile itself is a separate, untimed pass)
PROFILE_TIMING = {"warmup": 10, "min_runs": 10, "max_runs": 200, "min_time_s": 0.0,
                  "max_time_s": 5.0}


def profile_model(model: str | Path, runtimes: Iterable[str] = ("ort-cpu",),
                  batch: Iterable[int] | None = None, *, runs: int = 20,
                  out: str | Path = "runs", progress: ProgressFn | None = None,
                  **plan: Unpack[PlanArgs]) -> Run:
    """``onnxbench profile`` in Python: a short timed pass per case, then an untimed
    per-operator profile of ``runs`` runs on a fresh session and the node placement
    (``Result.profile``, ``Result.placement``). ``plan``: ``bench_plan``'s other arguments
    (``measure`` defaults to a short timed pass).
    (Named so because ``onnxbench.profile`` is the profiler package.)"""
    plan["options"] = {**(plan.get("options") or {}), "profile": required_runs(runs, "runs")}
    plan.setdefault("measure", PROFILE_TIMING)
    plan.setdefault("processes", 1)  # the profile is taken in a point's first process
    return run_suite(bench_plan(model, runtimes, batch, **plan), out=out, progress=progress)


def _names(values: Iterable[str] | str, what: str) -> list[str]:
    items = [values] if isinstance(values, str) else list(values)
    names = [n.strip() for item in items for n in str(item).split(",") if n.strip()]
    if not names:
        raise UserError(f"{what}: give at least one, e.g. ort-cpu")
    return names


def _policy(measure: MeasurePolicy | Mapping[str, Any] | None) -> MeasurePolicy:
    """A MeasurePolicy from one, a mapping of suite ``measure:`` fields, or None."""
    from onnxbench.suite.plan import measure_policy
    from onnxbench.suite.schema import MeasureSpec

    if measure is None or isinstance(measure, MeasurePolicy):
        return measure or MeasurePolicy()
    try:
        return measure_policy(MeasureSpec.model_validate(dict(measure)))
    except ValidationError as exc:
        err = exc.errors()[0]
        message = str(err["msg"]).removeprefix("Value error, ")
        if not err["loc"]:  # a check of the fields together (min above max)
            raise UserError(f"measure: {message}") from None
        raise UserError(f"measure.{'.'.join(map(str, err['loc']))}: {message}; "
                        f"got {err.get('input')!r}") from None


# ------------------------------------------------------------------ suites and runs

def run_suite(suite: str | Path | Plan, *, out: str | Path = "runs", only: str | None = None,
              progress: ProgressFn | None = None, executor: Executor | str | None = None,
              run_dir: RunDir | None = None, suite_text: str | None = None,
              check: bool = True) -> Run:
    """Run a suite (a built-in name, a YAML path, or a ``Plan``) into a fresh run directory
    under ``out`` (or ``run_dir``, made by the caller with ``create_run_dir`` so it knows
    where to resume); returns the run read back (summary rows, reports). Every case's inputs
    are checked (``preflight.check_plan_inputs``) before anything is created or runs: a
    UserError names the case that cannot fit. ``executor``: where the cases run (an
    ``Executor``, or a name: ``local``, the default, or ``ray``); ``suite_text``: the YAML a
    ``Plan`` came from, kept in ``configs/suite.yaml``. ``check``: raise ``RunFailed``
    (carrying the run) when no case succeeded."""
    from onnxbench.suite import runner
    from onnxbench.suite.parse import load_suite
    from onnxbench.suite.plan import Plan, expand

    text = suite_text
    if isinstance(suite, Plan):
        plan = suite
    else:
        parsed, _path, text = load_suite(str(suite))
        plan = expand(parsed)
    check_plan_inputs(plan.cases)
    if only and not runner.select(plan.cases, only):
        raise UserError(f"--only {only!r}: matches none of the {len(plan.cases)} case ids; "
                        "see them with --dry-run (without --only)")
    outcome = runner.run_suite(plan, out, suite_text=text, only=only, progress=progress,
                               run=run_dir, executor=_executor(executor))
    return _from_outcome(outcome, check)


def resume(run_dir: str | Path, *, only: str | None = None,
           progress: ProgressFn | None = None, trust: bool = False,
           executor: Executor | str | None = None, check: bool = True) -> Run:
    """Run the cases of ``run_dir`` that have no result yet (with any executor), then
    re-aggregate and report. A plan that names code or files outside the directory needs
    ``trust``. ``check``: ``RunFailed`` (carrying the run) when no case succeeded."""
    from onnxbench.suite import runner

    return _from_outcome(runner.resume(run_dir, only=only, progress=progress, trust=trust,
                                       executor=_executor(executor)), check)


def aggregate(run_dir: str | Path) -> Run:
    """Rebuild ``summary/`` (and the reports) from ``raw/`` alone; the run read back, as
    ``load_run`` reads it (a run where no case succeeded is returned, not raised: its
    ``status`` says so and ``Run.check()`` raises)."""
    from onnxbench.suite.runner import RunOutcome, finish

    run = existing_run_dir(run_dir)  # a link out of it: one line, before the lock is taken
    with run.lock():
        return _from_outcome(finish(run, RunOutcome(run.path)), check=False)


def _executor(executor: Executor | str | None) -> Executor | None:
    if isinstance(executor, str):
        return make_executor(executor)
    return executor


def compare(run_a: str | Path | Run, run_b: str | Path | Run, *,
            threshold: float | str = 0.05) -> Comparison:
    """Pair two runs point by point: ratio of medians with its CI, Holm-adjusted p and a
    verdict per point (``Comparison.regressions`` beyond ``threshold``, e.g. ``"5%"``)."""
    from onnxbench.report.compare import compare_runs, parse_threshold

    limit = parse_threshold(threshold) if isinstance(threshold, str) else float(threshold)
    a = run_a.path if isinstance(run_a, Run) else run_a
    b = run_b.path if isinstance(run_b, Run) else run_b
    return compare_runs(a, b, threshold=limit)


def tune(model: str | Path, goal: str = "latency", **kwargs: Any) -> TuneResult:
    """``onnxbench tune`` in Python: what should I deploy for ``goal``? See
    ``onnxbench.tuning.tune`` for the arguments (batch, p99, max_accuracy_drop, accuracy_data,
    budget, runtimes, space, config, seq, out, dry_run); returns a ``TuneResult`` (the run
    directory, the paragraph, what to paste, every candidate's row)."""
    return run_tune(model, goal, **kwargs)


def tune_resume(run_dir: str | Path, *, progress: ProgressFn | None = None,
                trust: bool = False) -> TuneResult:
    """Continue a tune run directory: finished cases are read, the search decides again.
    A request naming code or files outside the directory needs ``trust`` (as ``resume``)."""

    return run_resume(run_dir, progress=progress, trust=trust)


__all__ = ["Run", "bench", "bench_plan", "compare", "load_run", "resume", "run_suite", "tune",
           "tune_resume"]
