"""What every executor shares: the progress events, the batch of work, and one case measured.

An executor takes the cases of a plan that have no result yet and runs each in its own
isolated worker process (``onnxbench.isolation.worker.run_isolated``), wherever it places
them: here, one after another (``local``), or on the nodes of a Ray cluster (``ray``). Whatever the
executor, a case ends as one ``Result`` written to ``raw/<case_id>/result.json`` by the
process that owns the run directory, so resume, aggregate, report and compare never know
which executor ran a case (apart from its ``ran_on`` record: where it was placed).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol

from onnxbench.core import timeline
from onnxbench.core.artifact import Artifact
from onnxbench.core.case import Case
from onnxbench.core.errors import Skip
from onnxbench.core.result import Result
from onnxbench.isolation.worker import WorkerOutcome


@dataclass
class Progress:
    """One progress event: a phase starts/ends one item; ``done``/``total`` count cases."""

    phase: Literal["artifact", "case"]
    event: Literal["start", "end"]
    name: str
    done: int
    total: int
    status: str | None = None
    reason: str | None = None
    duration_s: float | None = None


ProgressFn = Callable[[Progress], None]
Built = Artifact | Skip | WorkerOutcome  # what building a key's artifact gave


@dataclass
class Batch:
    """The work an executor gets: the plan (time-outs), the run directory, each key's
    artifact (or why there is none), the run's environment fingerprint and the modules the
    workers' fork server should preload."""

    plan: Any  # onnxbench.suite.plan.Plan
    run: Any   # onnxbench.suite.rundir.RunDir
    artifacts: dict[str, Built]
    env: dict[str, Any] = field(default_factory=dict)
    preload: list[str] = field(default_factory=list)


class Executor(Protocol):
    """Runs cases in isolated workers and writes each result as it ends."""

    name: ClassVar[str]

    def check(self, cases: list[Case]) -> None:
        """What ``open`` would refuse that needs nothing started or joined (a dry run):
        UserError naming it."""

    def open(self, cases: list[Case]) -> None:
        """Connect and check that every case can be placed: UserError before anything runs
        (idempotent: the CLI opens early, ``run_cases`` again)."""

    def run(self, cases: list[Case], batch: Batch, progress: ProgressFn) -> list[Result]:
        """Run every case; write each ``result.json`` as it ends; return the results."""

    def close(self) -> None:
        """Give back what ``open`` took (idempotent)."""


def failed_result(case: Case, outcome: WorkerOutcome, started: str, prefix: str = "") -> Result:
    """A Result for a worker that did not return one (crash, oom, timeout, exception)."""
    result = Result(case_id=case.case_id, case=case, status=outcome.status,
                    reason=f"{prefix}{outcome.reason}", started_at=started,
                    duration_s=round(outcome.duration_s, 6))
    if outcome.traceback:
        result.traceback = outcome.traceback  # type: ignore[attr-defined]  # an extra, for debugging
    return result


def skipped_result(case: Case, skip: Skip | str, started: str) -> Result:
    """The Result of a case that cannot run here (its artifact's ``Skip``, or a reason)."""
    text = str(skip).strip()
    reason = text.splitlines()[0] if text else "skipped"
    return Result(case_id=case.case_id, case=case, status="skipped", reason=reason,
                  started_at=started, duration_s=0.0)


def settled(case: Case, built: Skip | WorkerOutcome, started: str) -> Result:
    """The result of a case whose artifact could not be built: nothing to run. It keeps the
    build's own status (a time-out, an OOM or a crash is not ``failed``)."""
    if isinstance(built, Skip):
        return skipped_result(case, built, started)
    prefix = "export failed: " if built.status == "failed" else "artifact build: "
    result = failed_result(case, built, started, prefix=prefix)
    result.duration_s = 0.0
    return result


def local_placement(executor: str = "local") -> dict[str, Any]:
    """Where a case runs when nothing pins it: this host, every core it may use, the GPUs
    ``CUDA_VISIBLE_DEVICES`` leaves visible (None: all)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    return {"executor": executor, "host": socket.gethostname(), "node_id": None,
            "gpus": None if visible is None else [g for g in visible.split(",") if g],
            "cores": sorted(os.sched_getaffinity(0)), "pinned": False}


def placed_execute(placement: dict[str, Any], case: Case, artifact: Artifact,
                   env: dict[str, Any]) -> Result:
    """``execute_case`` inside the worker, after taking the placement (cores, GPU) it was
    given; the worker's timeline marks go with the result."""
    from onnxbench.executors.placement import take
    from onnxbench.scenarios.execute import execute_case

    timeline.mark("imported")
    take(placement, case)
    result = execute_case(case, artifact, env)
    result.ran_on = placement
    if case.scenario is not None:  # a load point's timing loop is its pre-check, not its window
        timeline.forget("loop_start", "loop_end")
    timeline.mark("worker_done")
    result.timeline = {**result.timeline, **timeline.take()}
    return result


def measure(case: Case, artifact: Artifact, env: dict[str, Any], *, timeout_s: float,
            log_path: Path, placement: dict[str, Any],
            marks: dict[str, float] | None = None) -> Result:
    """One case in a fresh isolated worker; a crash, an OOM or a time-out becomes its status.
    ``marks``: the timeline so far (``dispatched``...); the result's timeline adds the
    worker's marks and this process's (``onnxbench.core.timeline``)."""
    from onnxbench.isolation.worker import run_isolated, warm_fork_server
    from onnxbench.scenarios.execute import now_iso

    started, marks = now_iso(), dict(marks or {})
    marks["fork_requested"] = time.time()
    if warm_fork_server():  # this case had to start it: its own phase
        marks["forkserver_ready"] = time.time()
    outcome = run_isolated(placed_execute, placement, case, artifact, env, timeout_s=timeout_s,
                           mem_limit_mb=case.options.get("mem_limit_mb"), log_path=log_path)
    marks["collected"] = time.time()
    result = outcome.value if outcome.ok else failed_result(case, outcome, started)
    result.ran_on = placement
    result.timeline = {**marks, **result.timeline}
    return result
