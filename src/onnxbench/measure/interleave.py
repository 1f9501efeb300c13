"""A and B alternated inside one process: short blocks in the order ABBA BAAB …

The loop behind ``onnxbench ab``'s interleaved design (``onnxbench.suite.ab``): both
sides are prepared in one worker process; each is warmed up, and the warm-up's run times
size its blocks (``runs_per_block``: ~``block_s`` of runs, at least ``min_runs``); then
blocks alternate ABBA BAAB … (or BAAB ABBA … when ``first`` is ``"b"``) in whole quads until
``process_s`` timed seconds are spent. Each block starts with ``switch_runs`` untimed runs
(the other side has just evicted this one's caches), then times its runs one by one, on the
host clock and, when a side has one, on its device clock (``measure.device``).

Adjacent blocks form pairs (A B)(B A)(B A)(A B)…; a linear drift cancels within each quad.
What the pairs and processes give is analysed by ``measure.twolevel``. The loop knows the
two sides only as zero-argument calls, their ``sync`` and their optional device clocks, and
takes an injectable nanosecond clock, so tests drive it with a simulated one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from onnxbench.measure.device import DeviceClock, DeviceRun, timed_call
from onnxbench.measure.pairs import block_arm

ARMS = ("a", "b")
MAX_BLOCK_RUNS = 100_000


@dataclass(frozen=True)
class BlockPlan:
    """How one process alternates A and B (seconds; runs)."""

    block_s: float = 0.05       # timed seconds per block (sized from the warm-up)
    min_runs: int = 10          # timed runs per block at least
    process_s: float = 1.0      # timed seconds per process (whole quads; at least one)
    warmup: int = 10            # untimed runs per side before the first block
    switch_runs: int = 1        # untimed runs at the start of every block
    first: str = "a"            # the arm of the first block ("b": BAAB ABBA …)

    def arm(self, index: int) -> str:
        """The arm of block ``index`` in this process."""
        arm = block_arm(index)
        return arm if self.first == "a" else ("b" if arm == "a" else "a")


@dataclass
class Side:
    """What the loop needs of one side."""

    call: Callable[[], Any]
    sync: Callable[[], None] | None = None
    device: DeviceClock | None = None


@dataclass
class Block:
    """One block: its arm, its position, and the medians of its timed runs (ms)."""

    arm: str
    index: int
    runs: int
    host_ms: float
    device_ms: float | None = None
    launch_ms: float | None = None


@dataclass
class Interleaved:
    """Everything one process timed: the blocks in order and every raw run per side."""

    blocks: list[Block]
    runs_per_block: dict[str, int]
    warmup_ms: dict[str, float]          # median warm-up run time per side (sizes the blocks)
    first_run_ms: dict[str, float]
    timed_s: float
    runs: dict[str, list[DeviceRun]] = field(default_factory=dict)

    def latencies_ms(self, arm: str) -> list[float]:
        return [r.host_ms for r in self.runs[arm]]

    def column(self, arm: str, name: str) -> list[float]:
        """Every run's ``device_ms`` or ``launch_ms`` of one side (empty without a clock)."""
        values = (getattr(r, name) for r in self.runs[arm])
        return [v for v in values if v is not None]


def runs_per_block(run_ms: float, block_s: float, min_runs: int) -> int:
    """Timed runs that fill ~``block_s`` at ``run_ms`` a run, at least ``min_runs``."""
    if run_ms <= 0 or not math.isfinite(run_ms):
        return max(min_runs, 1)
    return int(min(MAX_BLOCK_RUNS, max(min_runs, round(block_s * 1000 / run_ms))))


def _warm(side: Side, warmup: int, clock: Callable[[], int]) -> tuple[float, float]:
    """First run and the median warm-up run (ms) on the host clock."""
    first = timed_call(side.call, side.sync, None, clock).host_ms
    times = [timed_call(side.call, side.sync, None, clock).host_ms for _ in range(warmup)]
    return first, float(np.median(times)) if times else first


def interleave(sides: Mapping[str, Side], plan: BlockPlan, *,
               clock: Callable[[], int] = time.perf_counter_ns) -> Interleaved:
    """Warm both sides up (the first block's arm first), size their blocks, then time
    blocks ABBA BAAB … until ``plan.process_s`` timed seconds are spent (whole quads)."""
    first_run, warm = {}, {}
    for arm in (plan.arm(0), plan.arm(1)):
        first_run[arm], warm[arm] = _warm(sides[arm], plan.warmup, clock)
    sizes = {arm: runs_per_block(warm[arm], plan.block_s, plan.min_runs) for arm in ARMS}
    out = Interleaved([], sizes, warm, first_run, 0.0, {arm: [] for arm in ARMS})
    budget_ns = int(plan.process_s * 1e9)
    timed_ns, index = 0, 0
    while index == 0 or index % 4 or timed_ns < budget_ns:
        arm = plan.arm(index)
        side = sides[arm]
        for _ in range(plan.switch_runs):
            side.call()
            if side.sync is not None:
                side.sync()
        runs = [timed_call(side.call, side.sync, side.device, clock) for _ in range(sizes[arm])]
        timed_ns += int(sum(r.host_ms for r in runs) * 1e6)
        out.runs[arm] += runs
        out.blocks.append(_block(arm, index, runs))
        index += 1
    out.timed_s = timed_ns / 1e9
    return out


def _block(arm: str, index: int, runs: list[DeviceRun]) -> Block:
    def med(values: list[float | None]) -> float | None:
        kept = [v for v in values if v is not None]
        return float(np.median(kept)) if kept else None

    host = med([r.host_ms for r in runs])
    assert host is not None  # a block has at least one run
    return Block(arm, index, len(runs), host, med([r.device_ms for r in runs]),
                 med([r.launch_ms for r in runs]))


__all__ = ["ARMS", "Block", "BlockPlan", "Interleaved", "Side", "interleave", "runs_per_block"]
