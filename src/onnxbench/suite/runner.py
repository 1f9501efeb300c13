"""Run a plan into a run directory: artifacts first, then one worker per case (placed by
an executor: ``local`` or ``ray``, see ``onnxbench.executors``).

Each case's ``result.json`` is written (atomically) as soon as the case ends, so Ctrl-C or
a kill loses nothing finished, and ``resume`` runs only the cases without one. Progress
goes to a callback (the CLI draws the bar); nothing here prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onnxbench.build.artifacts import cached_artifact, onnx_artifact, prepare_artifact
from onnxbench.core.artifact import META, Artifact
from onnxbench.core.case import Case
from onnxbench.core.errors import Skip, UserError, first_line, os_error_message
from onnxbench.core.result import Result
from onnxbench.executors.base import Batch, Executor, Progress, ProgressFn
from onnxbench.executors.local import LocalExecutor
from onnxbench.isolation.worker import WorkerOutcome, preload, run_isolated, warm_fork_server
from onnxbench.model.onnxfile import is_onnx_file
from onnxbench.suite.aggregate import Summary, aggregate
from onnxbench.suite.plan import Plan
from onnxbench.suite.rundir import (
    RunDir,
    create_run_dir,
    open_run_dir,
    read_env,
    read_plan,
    write_configs,
)
from onnxbench.suite.trust import check_resume

ARTIFACT_TIMEOUT_S = 1800.0


@dataclass
class RunOutcome:
    run_dir: Path
    results: list[Result] = field(default_factory=list)
    summary: Summary | None = None
    report: Any = None
    report_error: str | None = None


def select(cases: list[Case], only: str | None) -> list[Case]:
    """Cases whose id matches ``only`` (a regex, searched); all when None."""
    if not only:
        return list(cases)
    try:
        pattern = re.compile(only)
    except re.error as exc:
        raise UserError(f"--only {only!r}: not a valid regular expression ({exc})") from None
    return [c for c in cases if pattern.search(c.case_id)]


def collect_env() -> dict[str, Any]:
    """The environment fingerprint, once per run."""
    from onnxbench.isolation.env import collect

    return collect()


def prepare_or_skip(case: Case, cache_dir: Path) -> Artifact | Skip:
    """``prepare_artifact`` in the worker, with a ``Skip`` (e.g. an absent extra) returned
    rather than raised: the key's cases are then ``skipped`` with its reason, not failed."""
    try:
        return prepare_artifact(case, cache_dir)
    except Skip as exc:
        return exc


def build_artifacts(cases: list[Case], run: RunDir, plan: Plan, progress: ProgressFn,
                    timeout_s: float | None = None
                    ) -> dict[str, Artifact | Skip | WorkerOutcome]:
    """One artifact per key (cached in ``artifacts/``), each built in its own worker
    (stopped after ``timeout_s``, default: the case's time-out, at least half an hour)."""
    built: dict[str, Artifact | Skip | WorkerOutcome] = {}
    firsts: dict[str, Case] = {}
    for case in cases:
        firsts.setdefault(case.artifact_key, case)
    for key, case in firsts.items():
        if is_onnx_file(case.model):
            built[key] = onnx_artifact(case)
            continue
        run.file("artifacts", key, META)  # the key's folder and record stay inside the run
        cached = cached_artifact(case, run.artifacts)
        if cached is not None:
            built[key] = cached
            continue
        progress(Progress("artifact", "start", key, 0, len(cases)))
        limit = timeout_s or max(plan.timeout_for(case), ARTIFACT_TIMEOUT_S)
        outcome = run_isolated(prepare_or_skip, case, run.artifacts, timeout_s=limit,
                               log_path=run.file("artifacts", key, "worker.log"))
        built[key] = outcome.value if outcome.ok else outcome
        skipped = isinstance(built[key], Skip)
        progress(Progress("artifact", "end", key, 0, len(cases),
                          "skipped" if skipped else outcome.status,
                          str(built[key]) if skipped else outcome.reason, outcome.duration_s))
    return built


def _model_modules(cases: list[Case]) -> list[str]:
    """The heavy modules the plan's zoo models import (a spec's ``preload``)."""
    from onnxbench.model.zoo import resolve, spec_names

    names = set(spec_names())
    return sorted({m for name in {c.model for c in cases} if name in names
                   for m in resolve(name).preload})


def prepare_artifacts(cases: list[Case], run: RunDir, plan: Plan,
                      progress: ProgressFn) -> dict[str, Artifact | Skip | WorkerOutcome]:
    """Preload what the cases' models import into the fork server, then build each artifact."""
    preload(_model_modules(cases))
    return build_artifacts(cases, run, plan, progress)


def run_cases(plan: Plan, run: RunDir, *, only: str | None = None,
              progress: ProgressFn | None = None, env: dict[str, Any] | None = None,
              executor: Executor | None = None) -> list[Result]:
    """Run every selected case that has no result yet; each result is written as it ends.

    ``executor`` places the cases (default: ``local``, one after another on this host); it
    is opened before the artifacts are built, so a case it cannot place fails first.
    """
    progress = progress or (lambda _p: None)
    pending = [c for c in select(plan.cases, only) if not run.done(c)]
    modules = _model_modules(pending)
    preload(modules)
    executor = executor or LocalExecutor()
    executor.open(pending)
    try:
        artifacts = build_artifacts(pending, run, plan, progress)
        batch = Batch(plan, run, artifacts, env if env is not None else read_env(run), modules)
        return executor.run(pending, batch, progress)
    finally:
        executor.close()


def finish(run: RunDir, outcome: RunOutcome) -> RunOutcome:
    """Aggregate ``raw/`` and write the reports (a report problem is recorded, not raised:
    the results are safe on disk)."""
    from onnxbench.report import write_reports

    outcome.summary = aggregate(run.path)
    try:
        outcome.report = write_reports(run.path)
    except OSError as exc:  # a full disk, a read-only folder: the path and what to do
        outcome.report_error = os_error_message(exc, "writing the report")
    except Exception as exc:  # noqa: BLE001 - a report problem must not lose the run
        outcome.report_error = first_line(exc)
    return outcome


def run_suite(plan: Plan, out_root: Path | str, *, suite_text: str | None = None,
              only: str | None = None, progress: ProgressFn | None = None,
              run: RunDir | None = None, executor: Executor | None = None) -> RunOutcome:
    """A fresh run directory for the plan (or ``run``, made by the caller with
    ``create_run_dir`` so it knows where to resume): configs, every case, summary, report."""
    run = run or create_run_dir(out_root, plan.suite)
    with run.lock():
        if executor is None or isinstance(executor, LocalExecutor):
            # the fork server imports torch & co. while this process collects the environment
            preload(_model_modules(select(plan.cases, only)))
            warm_fork_server(wait=False)
        env = collect_env()
        write_configs(run, plan.to_json(), env, suite_text)
        outcome = RunOutcome(run.path)
        outcome.results = run_cases(plan, run, only=only, progress=progress, env=env,
                                    executor=executor)
        return finish(run, outcome)


def resume(run_dir: Path | str, *, only: str | None = None,
           progress: ProgressFn | None = None, trust: bool = False,
           executor: Executor | None = None) -> RunOutcome:
    """Run the cases of an existing run directory that have no result, then re-aggregate
    (with any executor: results do not depend on which one ran them).

    Before anything runs: a plan that names code or files outside the directory is refused
    unless ``trust`` (a run directory is data), and every model it needs must be found.
    """
    run = open_run_dir(run_dir)
    with run.lock():
        plan = read_plan(run)
        check_resume([c for c in select(plan.cases, only) if not run.done(c)], run.path, trust)
        outcome = RunOutcome(run.path)
        outcome.results = run_cases(plan, run, only=only, progress=progress,
                                    executor=executor)
        return finish(run, outcome)
