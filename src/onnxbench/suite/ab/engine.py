"""Run an interleaved A/B: artifacts once, then blocks ABBA BAAB … in fresh worker processes.

Each block is one ``execute_case`` of A or B in its own worker (``worker.run_isolated``),
timing a short fixed budget after its own warm-up, and writes its own
``raw/<case_id>/result.json`` with the block index as the repeat index: the run directory is
a normal one (``aggregate``, ``report`` and ``compare`` read it like any other), plus
``ab.json``, the answer. The statistics (pairs, looks, stopping) are ``measure.pairs``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from onnxbench.core.artifact import Artifact
from onnxbench.core.case import Case, tag_colliding_models
from onnxbench.core.errors import Skip, UserError
from onnxbench.core.policy import MeasurePolicy
from onnxbench.core.result import atomic_write_text
from onnxbench.executors.base import Progress, ProgressFn, failed_result
from onnxbench.isolation.worker import WorkerOutcome, run_isolated
from onnxbench.measure.pairs import Sequential, SequentialOutcome, run_sequential
from onnxbench.suite.plan import Plan
from onnxbench.suite.rundir import RunDir, create_run_dir, write_configs
from onnxbench.suite.runner import RunOutcome, collect_env, finish, prepare_artifacts

AB_JSON = "ab.json"


@dataclass(frozen=True)
class ABSettings:
    """How long and how precisely to compare (fractions, seconds)."""

    threshold: float = 0.02      # the practical margin: equivalent within ±threshold
    target_ci: float | None = 0.01  # stop once the CI is within ±target
    max_time_s: float = 120.0    # time budget for the blocks
    block_time_s: float = 0.5    # timed seconds per block
    warmup: int = 10             # untimed runs per block (each block is a fresh process)
    alpha: float = 0.05
    timeout_s: float = 600.0     # per block

    def __post_init__(self) -> None:
        checks = [(0 < self.threshold < 1, "--threshold", "a percentage like 2%"),
                  (self.target_ci is None or 0 < self.target_ci < 1, "--target-ci",
                   "a percentage like 1%"),
                  (self.max_time_s > 0, "--max-time", "seconds > 0"),
                  (self.block_time_s > 0, "--block-time", "seconds > 0"),
                  (self.warmup >= 0, "--warmup", "an integer >= 0"),
                  (0 < self.alpha < 1, "--alpha", "a level like 0.05"),
                  (self.timeout_s > 0, "--timeout", "seconds > 0")]
        for ok, flag, right in checks:
            if not ok:
                raise UserError(f"{flag}: expected {right}")

    def block_policy(self) -> MeasurePolicy:
        return MeasurePolicy(warmup=self.warmup, min_runs=1, max_runs=10**9, min_time_s=0.0,
                             max_time_s=self.block_time_s)


@dataclass
class ABRun:
    """What an A/B run produced: its directory, the two sides, the answer and how it stopped."""

    run_dir: Path
    a: Case
    b: Case
    settings: ABSettings
    outcome: SequentialOutcome
    build_s: float

    @property
    def verdict(self) -> str:
        r, o = self.outcome.result, self.outcome
        if o.failed and o.pairs < 2:
            return f"not compared: block {o.failed}"
        if r.ci_low is None:
            return f"cannot tell ({r.note})"
        if r.verdict == "cannot tell" and r.resolvable_pct is not None:
            return f"cannot tell (resolvable: ±{r.resolvable_pct:.2g} % in {o.elapsed_s:.0f} s)"
        return r.verdict

    def to_dict(self) -> dict[str, Any]:
        return {"run_dir": str(self.run_dir), "verdict": self.verdict,
                "a": _side(self.a), "b": _side(self.b), "settings": asdict(self.settings),
                "outcome": self.outcome.to_dict(), "build_s": self.build_s}


def _side(case: Case) -> dict[str, Any]:
    from onnxbench.core.case import point_id
    from onnxbench.report.labels import model_config, runtime_label

    bits = [case.precision] if case.precision != "fp32" else []
    bits += [f"{k}={v}" for k, v in sorted(case.options.items())]
    label = f"{model_config(case)} {runtime_label(case.runtime)}" + (
        f" ({'; '.join(bits)})" if bits else "")
    return {"label": label, "point_id": point_id(case.case_id),
            "case": case.model_dump(mode="json", exclude={"repeat", "measure"})}


def block_case(case: Case, index: int, policy: MeasurePolicy) -> Case:
    """Block ``index`` of a side: the side's case with the block policy and repeat = index."""
    return case.model_copy(update={"repeat": index, "measure": policy})


def _artifact(built: Artifact | Skip | WorkerOutcome, side: str) -> Artifact:
    if isinstance(built, Skip):
        raise UserError(f"{side} cannot run here: {str(built).strip().splitlines()[0]}")
    if isinstance(built, WorkerOutcome):
        raise UserError(f"{side}: building the model failed: {built.reason}")
    return built


class _Blocks:
    """Runs blocks for ``run_sequential`` and remembers every case it ran (for the plan)."""

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


def run_ab(a: Case, b: Case, settings: ABSettings | None = None, *,
           out_root: Path | str = "runs", run: RunDir | None = None,
           progress: ProgressFn | None = None,
           clock: Callable[[], float] = time.monotonic) -> ABRun:
    """Compare B with A in interleaved blocks until the answer is precise or time is spent."""
    settings = settings or ABSettings()
    progress = progress or (lambda _p: None)
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
        built = prepare_artifacts(first, run, plan, progress)
        sides = {"a": (a, _artifact(built[a.artifact_key], "A")),
                 "b": (b, _artifact(built[b.artifact_key], "B"))}
        build_s = clock() - t0
        run_isolated(int)  # start the fork server now, so its start-up is not a block's time
        blocks = _Blocks(run, sides, settings, env, progress)
        state = Sequential(settings.threshold, settings.target_ci, settings.alpha)
        outcome = run_sequential(blocks, state, max_time_s=settings.max_time_s, clock=clock)
        plan.cases = blocks.cases
        plan.timeouts = {c.case_id: settings.timeout_s for c in blocks.cases}
        atomic_write_text(run.file("configs", "plan.json"), plan.to_json())
        result = ABRun(run.path, a, b, settings, outcome, build_s)
        atomic_write_text(run.file(AB_JSON), json.dumps(result.to_dict(), indent=1,
                                                         default=str) + "\n")
        finish(run, RunOutcome(run.path))
        return result
