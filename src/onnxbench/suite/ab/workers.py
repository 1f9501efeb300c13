"""The workers of an A/B, one unit at a time, for ``measure.pairs``' sequential loop.

``Blocks`` (the process design): block ``i`` is one ``execute_case`` of its arm in a fresh
worker; ``run_sequential`` pairs adjacent blocks. ``Processes`` (the interleaved design):
unit ``i`` is one worker running ``cohost.execute_pair`` (A and B alternated), leading with
A in even processes and B in odd ones; the unit is the process's geometric-mean A and B.
Both write every result into ``raw/`` as it comes and remember the cases they ran.

A process's timed seconds (``--process-time``), unless given, are sized from the first
process: as long as what a process costs beyond its timed runs (start, preparing both
sides, warm-up, summaries), within ``PROCESS_S``. A unit's variance is
between + within / T and its cost overhead + T: T = overhead is within 2× of the best
time per unit of precision whichever of the two dominates, and it needs neither known.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from onnxbench.core.artifact import Artifact
from onnxbench.core.case import Case
from onnxbench.core.policy import MeasurePolicy
from onnxbench.core.result import Result
from onnxbench.executors.base import Progress, ProgressFn, failed_result
from onnxbench.isolation.worker import run_isolated
from onnxbench.measure.interleave import ARMS
from onnxbench.measure.pairs import SequentialOutcome, Unit
from onnxbench.measure.twolevel import ProcessPairs
from onnxbench.suite.rundir import RunDir

if TYPE_CHECKING:
    from onnxbench.suite.ab.design import Design
    from onnxbench.suite.ab.engine import ABSettings


def block_case(case: Case, index: int, policy: MeasurePolicy) -> Case:
    """Block (or process) ``index`` of a side: the side's case with ``policy``, repeat = index."""
    return case.model_copy(update={"repeat": index, "measure": policy})


@dataclass
class Measured:
    """What the sequential loop gave, in which design, with the cases it ran."""

    outcome: SequentialOutcome
    design: Design
    cases: list[Case]
    levels: dict[str, Any] | None = None
    device: dict[str, Any] | None = None


class Blocks:
    """The process design: one block per fresh worker (``execute_case``)."""

    def __init__(self, run: RunDir, sides: dict[str, tuple[Case, Artifact]],
                 settings: ABSettings, env: dict[str, Any], progress: ProgressFn) -> None:
        self.run, self.sides, self.settings = run, sides, settings
        self.env, self.progress = env, progress
        self.policy = settings.block_policy()
        self.cases: list[Case] = []

    def __call__(self, arm: str, index: int) -> float | str:
        from onnxbench.scenarios.execute import execute_case, now_iso

        base, artifact = self.sides[arm]
        case = block_case(base, index, self.policy)
        self.cases.append(case)
        self.progress(Progress("case", "start", case.case_id, index, index + 1))
        started = now_iso()
        outcome = run_isolated(execute_case, case, artifact, self.env,
                               timeout_s=self.settings.timeout_s,
                               log_path=self.run.log_path(case))
        result = outcome.value if outcome.ok else failed_result(case, outcome, started)
        self.run.write_result(result)
        self.progress(Progress("case", "end", case.case_id, index + 1, index + 1, result.status,
                               result.reason, result.duration_s))
        if result.status != "ok" or result.stats is None:
            return f"{result.status}: {result.reason}"
        return float(result.stats.p50)


PROCESS_S = (0.25, 5.0)  # sized timed seconds per process: the first one's, and the cap


class Processes:
    """The interleaved design: one worker per unit, both sides in it (``execute_pair``)."""

    def __init__(self, run: RunDir, sides: dict[str, tuple[Case, Artifact]],
                 settings: ABSettings, env: dict[str, Any], progress: ProgressFn) -> None:
        self.run, self.sides, self.settings = run, sides, settings
        self.env, self.progress = env, progress
        self.policy = settings.block_policy()
        self.cases: list[Case] = []
        self.host: list[ProcessPairs] = []
        self.device: list[ProcessPairs | None] = []
        self.results: list[dict[str, Result]] = []
        self.oom_first: str | None = None  # why the first process ran out of memory
        self._inputs: dict[str, Any] | None = None
        self.process_s = settings.process_time_s or PROCESS_S[0]

    def inputs(self) -> dict[str, Any]:
        """Each side's inputs, made once (``cohost.side_inputs``)."""
        if self._inputs is None:
            from onnxbench.suite.ab.cohost import side_inputs

            self._inputs = {arm: side_inputs(*self.sides[arm]) for arm in ARMS}
        return self._inputs

    def __call__(self, index: int) -> Unit | str:
        from onnxbench.scenarios.execute import now_iso
        from onnxbench.suite.ab.cohost import execute_pair, process_pairs

        cases = {arm: block_case(self.sides[arm][0], index, self.policy) for arm in ARMS}
        artifacts = {arm: self.sides[arm][1] for arm in ARMS}
        self.cases += [cases["a"], cases["b"]]
        name = f"{cases['a'].case_id} + {cases['b'].case_id}"
        self.progress(Progress("case", "start", name, index, index + 1))
        started = now_iso()
        plan = self.settings.block_plan("a" if index % 2 == 0 else "b", self.process_s)
        outcome = run_isolated(execute_pair, cases, artifacts, plan, self.env, self.inputs(),
                               timeout_s=self.settings.timeout_s,
                               log_path=self.run.log_path(cases["a"]))
        results = outcome.value if outcome.ok else {
            arm: failed_result(cases[arm], outcome, started) for arm in ARMS}
        for result in results.values():
            self.run.write_result(result)
        worst = next((results[arm] for arm in ARMS if results[arm].status != "ok"),
                     results["a"])
        self.progress(Progress("case", "end", name, index + 1, index + 1, worst.status,
                               worst.reason, worst.duration_s))
        if worst.status != "ok":
            if index == 0 and worst.status == "oom":
                self.oom_first = worst.reason or "oom"
            who = f" ({'a' if worst is results['a'] else 'b'})" if outcome.ok else ""
            return f"process {index}{who}: {worst.status}: {worst.reason}"
        host = process_pairs(results)
        if host is None:
            return f"process {index}: no pair of blocks came back"
        self.host.append(host)
        self.device.append(process_pairs(results, "device_ms"))
        self.results.append(results)
        if index == 0 and self.settings.process_time_s is None:
            timed = sum(r.timing.timed_s or 0.0 for r in results.values())
            self.process_s = min(PROCESS_S[1], max(PROCESS_S[0], outcome.duration_s - timed))
        return host.to_unit()

    def add_stats(self) -> None:
        """Each result's summary statistics, once the verdict is in (``cohost.add_stats``),
        written over the result the process left (which had its latencies only)."""
        from onnxbench.suite.ab.cohost import add_stats

        for results in self.results:
            for result in results.values():
                self.run.write_result(add_stats(result))

    def discard(self) -> None:
        """Remove what the processes wrote (before the design falls back)."""
        for case in self.cases:
            shutil.rmtree(self.run.file("raw", case.case_id), ignore_errors=True)


__all__ = ["Blocks", "Measured", "Processes", "block_case"]
