"""The ``local`` executor: one isolated worker per case, one case after another, on this host."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from onnxbench.core.artifact import Artifact
from onnxbench.core.case import Case
from onnxbench.core.errors import UserError
from onnxbench.core.result import Result
from onnxbench.executors.base import (
    Batch,
    Progress,
    ProgressFn,
    local_placement,
    measure,
    settled,
)


@dataclass
class LocalExecutor:
    """Cases in plan order, each in a fresh worker process forked from the fork server."""

    name: ClassVar[str] = "local"

    def check(self, cases: list[Case]) -> None:
        self.open(cases)  # nothing to start: opening is checking

    def open(self, cases: list[Case]) -> None:
        named = sorted({c.hardware for c in cases if c.hardware})
        if named:
            raise UserError(f"hardware: {', '.join(named)}: naming machine types needs a Ray "
                            "cluster whose nodes have those resources; run with --executor ray")

    def run(self, cases: list[Case], batch: Batch, progress: ProgressFn) -> list[Result]:
        from onnxbench.scenarios.execute import now_iso

        placement = local_placement()
        results = []
        for i, case in enumerate(cases):
            progress(Progress("case", "start", case.case_id, i, len(cases)))
            built = batch.artifacts[case.artifact_key]
            if isinstance(built, Artifact):
                result = measure(case, built, batch.env, timeout_s=batch.plan.timeout_for(case),
                                 log_path=batch.run.log_path(case),
                                 placement=placement, marks={"dispatched": time.time()})
                result.timeline["returned"] = result.timeline["collected"]
            else:
                result = settled(case, built, now_iso())
            batch.run.write_result(result)
            results.append(result)
            progress(Progress("case", "end", case.case_id, i + 1, len(cases), result.status,
                              result.reason, result.duration_s))
        return results

    def close(self) -> None:
        return None
