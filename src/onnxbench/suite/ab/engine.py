"""Run an A/B: artifacts once, then A and B alternated until the answer is precise.

Two designs (``design``): **interleaved** (where A and B can share a process): each worker
process prepares both sides and alternates them ABBA BAAB … in short blocks
(``cohost.execute_pair``, ``measure.interleave``); a process is the replication unit (its
geometric-mean A and B, ``measure.twolevel``), processes alternate which side leads and is
created first. **process** (the fallback): each block is one ``execute_case`` of A or B in
a fresh worker (``worker.run_isolated``) and adjacent blocks are the units. Either way every
worker writes ``raw/<case_id>/result.json`` with its process (or block) index as the repeat
index, so the run directory is a normal one (``aggregate``, ``report`` and ``compare`` read
it like any other), plus ``ab.json``, the answer, with the design used and why. The
sequential statistics (units, looks, stopping) are ``measure.pairs``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from onnxbench.core.artifact import Artifact
from onnxbench.core.case import Case, tag_colliding_models
from onnxbench.core.errors import Skip, UserError
from onnxbench.core.policy import MeasurePolicy
from onnxbench.core.result import atomic_write_text
from onnxbench.executors.base import ProgressFn
from onnxbench.isolation.worker import WorkerOutcome, preload, run_isolated
from onnxbench.measure.interleave import BlockPlan
from onnxbench.measure.pairs import (
    PAIRED,
    Sequential,
    SequentialOutcome,
    run_sequential,
    run_units,
)
from onnxbench.measure.ratio import resolvable_str
from onnxbench.measure.twolevel import PROCESS_PAIRED, components
from onnxbench.suite.ab import design as designs
from onnxbench.suite.ab.analysis import device as device_answer
from onnxbench.suite.ab.workers import Blocks, Measured, Processes, block_case
from onnxbench.suite.plan import Plan
from onnxbench.suite.rundir import RunDir, create_run_dir, write_configs
from onnxbench.suite.runner import RunOutcome, collect_env, finish, prepare_artifacts

AB_JSON = "ab.json"
# what an interleaved worker runs and imports: preloaded by the fork server
COHOST = ["onnxbench.suite.ab.cohost", "onnxbench.runtimes.prep", "threadpoolctl"]
BLOCK_S = {"interleaved": 0.05, "process": 0.5}  # default timed seconds per block


@dataclass(frozen=True)
class ABSettings:
    """How long and how precisely to compare (fractions, seconds), and in which design."""

    threshold: float = 0.02      # the practical margin: equivalent within ±threshold
    target_ci: float | None = 0.01  # stop once the CI is within ±target
    max_time_s: float = 120.0    # time budget for the workers
    block_time_s: float | None = None  # timed seconds per block (None: BLOCK_S[design])
    warmup: int = 10             # untimed runs per side, in each process
    alpha: float = 0.05
    timeout_s: float = 600.0     # per worker process
    design: str = "auto"         # auto | interleaved | process (``design``)
    process_time_s: float | None = None  # interleaved: timed s per process (None: sized)
    min_block_runs: int = 10     # interleaved: timed runs per block at least
    switch_runs: int = 1         # interleaved: untimed runs starting each block

    def __post_init__(self) -> None:
        checks = [(0 < self.threshold < 1, "--threshold", "a percentage like 2%"),
                  (self.target_ci is None or 0 < self.target_ci < 1, "--target-ci",
                   "a percentage like 1%"),
                  (self.max_time_s > 0, "--max-time", "seconds > 0"),
                  (self.block_time_s is None or self.block_time_s > 0, "--block-time",
                   "seconds > 0"),
                  (self.warmup >= 0, "--warmup", "an integer >= 0"),
                  (0 < self.alpha < 1, "--alpha", "a level like 0.05"),
                  (self.timeout_s > 0, "--timeout", "seconds > 0"),
                  (self.design in designs.DESIGNS, "--design", " | ".join(designs.DESIGNS)),
                  (self.process_time_s is None or self.process_time_s > 0, "--process-time",
                   "seconds > 0"),
                  (self.min_block_runs >= 1, "min_block_runs", "an integer >= 1"),
                  (self.switch_runs >= 0, "switch_runs", "an integer >= 0")]
        for ok, flag, right in checks:
            if not ok:
                raise UserError(f"{flag}: expected {right}")

    def block_s(self, design: str) -> float:
        return self.block_time_s if self.block_time_s is not None else BLOCK_S[design]

    def block_policy(self) -> MeasurePolicy:
        """The process design's block: a fresh process timing ``block_s`` after its warm-up."""
        return MeasurePolicy(warmup=self.warmup, min_runs=1, max_runs=10**9, min_time_s=0.0,
                             max_time_s=self.block_s("process"))

    def block_plan(self, first: str, process_s: float) -> BlockPlan:
        """The interleaved design's process: whole quads of blocks for ``process_s``."""
        return BlockPlan(block_s=self.block_s("interleaved"), min_runs=self.min_block_runs,
                         process_s=process_s, warmup=self.warmup,
                         switch_runs=self.switch_runs, first=first)


@dataclass
class ABRun:
    """What an A/B run produced: its directory, the two sides, the answer, how it stopped,
    the design it used (and why), the two levels of noise and the device clock's answer."""

    run_dir: Path
    a: Case
    b: Case
    settings: ABSettings
    outcome: SequentialOutcome
    build_s: float
    design: designs.Design = field(default_factory=lambda: designs.Design(
        "process", "process", "asked for: a fresh process per block"))
    levels: dict[str, Any] | None = None
    device: dict[str, Any] | None = None

    @property
    def verdict(self) -> str:
        r, o = self.outcome.result, self.outcome
        if o.failed and o.units < 2:
            where = "block " if self.design.used == "process" else ""
            return f"not compared: {where}{o.failed}"
        if r.ci_low is None:
            return f"cannot tell ({r.note})"
        if r.verdict == "cannot tell" and r.resolvable_pct is not None:
            return (f"cannot tell (resolvable: {resolvable_str(r.resolvable_pct)} in "
                    f"{o.elapsed_s:.0f} s)")
        return r.verdict

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": str(self.run_dir), "verdict": self.verdict,
                "a": _side(self.a), "b": _side(self.b), "settings": asdict(self.settings),
                "design": self.design.to_dict(), "outcome": self.outcome.to_dict(),
                "levels": self.levels, "device": self.device, "build_s": self.build_s}


def _side(case: Case) -> dict[str, Any]:
    from onnxbench.core.case import point_id
    from onnxbench.report.labels import model_config, runtime_label

    bits = [case.precision] if case.precision != "fp32" else []
    bits += [f"{k}={v}" for k, v in sorted(case.options.items())]
    label = f"{model_config(case)} {runtime_label(case.runtime)}" + (
        f" ({'; '.join(bits)})" if bits else "")
    return {"label": label, "point_id": point_id(case.case_id),
            "case": case.model_dump(mode="json", exclude={"repeat", "measure"})}


def _artifact(built: Artifact | Skip | WorkerOutcome, side: str) -> Artifact:
    if isinstance(built, Skip):
        raise UserError(f"{side} cannot run here: {str(built).strip().splitlines()[0]}")
    if isinstance(built, WorkerOutcome):
        raise UserError(f"{side}: building the model failed: {built.reason}")
    return built


def run_ab(a: Case, b: Case, settings: ABSettings | None = None, *,
           out_root: Path | str = "runs", run: RunDir | None = None,
           progress: ProgressFn | None = None,
           clock: Callable[[], float] = time.monotonic) -> ABRun:
    """Compare B with A until the answer is precise or time is spent; the design is chosen
    (``design.choose``) before anything runs, and checked against memory after the build."""
    from onnxbench.runtimes.case_options import check_options

    settings = settings or ABSettings()
    progress = progress or (lambda _p: None)
    for case in (a, b):  # once here: the workers of the interleaved design trust it
        check_options(case.runtime, case.options)
    design = designs.choose(a, b, settings.design)
    a, b = tag_colliding_models([a, b])  # a/model.onnx vs b/model.onnx: two artifacts
    run = run or create_run_dir(out_root, "ab")
    with run.lock():
        env = collect_env()
        policy = settings.block_policy()
        first = [block_case(a, 0, policy), block_case(b, 1, policy)]
        plan = Plan("ab", first, {c.case_id: settings.timeout_s for c in first},
                    description=f"A/B: {a.model} vs {b.model}")
        write_configs(run, plan.to_json(), env)
        t0 = clock()
        if design.used == "interleaved":  # before the fork server starts: no worker imports it
            preload(COHOST)
        built = prepare_artifacts(first, run, plan, progress)
        sides = {"a": (a, _artifact(built[a.artifact_key], "A")),
                 "b": (b, _artifact(built[b.artifact_key], "B"))}
        build_s = clock() - t0
        design = designs.after_build(design, {arm: art for arm, (_, art) in sides.items()})
        run_isolated(int)  # start the fork server now, so its start-up is not a worker's time
        result = _measure(run, sides, settings, design, env, progress, clock)
        plan.cases = result.cases
        plan.timeouts = {c.case_id: settings.timeout_s for c in result.cases}
        atomic_write_text(run.file("configs", "plan.json"), plan.to_json())
        answer = ABRun(run.path, a, b, settings, result.outcome, build_s, result.design,
                       result.levels, result.device)
        atomic_write_text(run.file(AB_JSON), json.dumps(answer.to_dict(), indent=1,
                                                         default=str) + "\n")
        finish(run, RunOutcome(run.path))
        return answer


def _measure(run: RunDir, sides: dict[str, tuple[Case, Artifact]], settings: ABSettings,
             design: designs.Design, env: dict[str, Any], progress: ProgressFn,
             clock: Callable[[], float]) -> Measured:
    """The sequential run in ``design``; the interleaved design falls back to the process
    design (``auto`` only) when A and B together ran out of memory in the first process."""
    def state(method: str, unit: str) -> Sequential:
        return Sequential(settings.threshold, settings.target_ci, settings.alpha,
                          method=method, unit=unit)

    if design.used == "interleaved":
        procs = Processes(run, sides, settings, env, progress)
        st = state(PROCESS_PAIRED, "processes")
        outcome = run_units(procs, st, max_time_s=settings.max_time_s, clock=clock)
        procs.add_stats()
        if procs.oom_first is None or design.requested != "auto":
            units = procs.host[:outcome.units]
            design = replace(design, process_s=procs.process_s)
            return Measured(outcome, design, procs.cases, components(units) if units else None,
                            device_answer(procs.device[:outcome.units],
                                          procs.results[:outcome.units],
                                          threshold=settings.threshold, alpha=settings.alpha,
                                          looks=st.looks))
        procs.discard()
        design = designs.after_oom(design, procs.oom_first)
    blocks = Blocks(run, sides, settings, env, progress)
    outcome = run_sequential(blocks, state(PAIRED, "pairs"), max_time_s=settings.max_time_s,
                             clock=clock)
    return Measured(outcome, design, blocks.cases)
