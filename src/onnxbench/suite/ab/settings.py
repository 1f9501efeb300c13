"""How long and how precisely an A/B compares, and in which design: ``ABSettings``."""

from __future__ import annotations

from dataclasses import dataclass

import onnxbench.suite.ab.design as designs
from onnxbench.core.errors import UserError
from onnxbench.core.policy import MeasurePolicy
from onnxbench.measure.interleave import BlockPlan

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
