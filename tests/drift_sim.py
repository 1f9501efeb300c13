"""A simulated host for A/B designs: a nanosecond clock that only moves when something runs,
a slow drift shared by everything, an offset per worker process, an offset per session and
per-run noise. Both A/B designs run on it through onnxbench's own code (the timing loop
``measure.timer.measure``, the in-process loop ``measure.interleave.interleave``, the pairs
``measure.twolevel`` and the sequential loop ``measure.pairs``); only the worker process is
simulated. Pure Python and deterministic per seed: no wall clock anywhere."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from onnxbench.core.policy import MeasurePolicy
from onnxbench.measure.interleave import BlockPlan, Side, interleave
from onnxbench.measure.pairs import Sequential, SequentialOutcome, run_sequential, run_units
from onnxbench.measure.timer import measure
from onnxbench.measure.twolevel import PROCESS_PAIRED, pair_blocks


@dataclass
class Noise:
    """How the simulated host misbehaves (log-scale standard deviations, seconds)."""

    base_ms: float = 5.0        # one run of A
    drift: float = 0.10         # amplitude of the slow drift (log scale)
    period_s: float = 30.0      # its period
    walk: float = 0.02          # a random walk on top, per sqrt(second)
    process_sd: float = 0.03    # a worker process's offset (both its sessions)
    session_sd: float = 0.008   # a session's own offset (fixed for its life)
    run_sd: float = 0.03        # run-to-run noise
    start_s: float = 0.3        # starting a worker process and preparing a model


class Host:
    """The simulated machine for one A/B run (``seed`` fixes everything)."""

    def __init__(self, seed: int, noise: Noise, ratio: float = 1.0) -> None:
        self.rng = np.random.default_rng(seed)
        self.noise, self.ratio = noise, ratio
        self.ns = 0
        self.phase = self.rng.uniform(0, 2 * math.pi)
        self.walk, self.walk_t = 0.0, 0.0

    def now_ns(self) -> int:
        return self.ns

    def now_s(self) -> float:
        return self.ns / 1e9

    def _level(self) -> float:
        t, n = self.now_s(), self.noise
        if t > self.walk_t:
            self.walk += self.rng.normal(0, n.walk * math.sqrt(t - self.walk_t))
            self.walk_t = t
        return n.drift * math.sin(2 * math.pi * t / n.period_s + self.phase) + self.walk

    def process(self) -> float:
        """A fresh worker: its start-up time passes; returns its log offset."""
        self.ns += int(self.noise.start_s * 1e9)
        return float(self.rng.normal(0, self.noise.process_sd))

    def session(self, process: float, arm: str) -> Callable[[], None]:
        """One side's session in a process: each call advances the clock by one run."""
        n = self.noise
        offset = process + float(self.rng.normal(0, n.session_sd))
        scale = n.base_ms * 1e6 * (self.ratio if arm == "b" else 1.0)

        def call() -> None:
            log = offset + self._level() + float(self.rng.normal(0, n.run_sd))
            self.ns += int(scale * math.exp(log))

        return call


def process_design(host: Host, block_s: float = 0.5, warmup: int = 10
                   ) -> Callable[[str, int], float]:
    """Today's design: each block a fresh process timing ``block_s`` (``measure``)."""
    policy = MeasurePolicy(warmup=warmup, min_runs=1, max_runs=10**9, min_time_s=0.0,
                           max_time_s=block_s)

    def block(arm: str, index: int) -> float:
        call = host.session(host.process(), arm)
        timing = measure(call, None, policy, clock=host.now_ns)
        return float(np.median(timing.latencies_ms))

    return block


def interleaved_design(host: Host, process_s: float = 0.3, block_s: float = 0.05,
                       min_runs: int = 5) -> Callable[[int], object]:
    """The interleaved design: each unit one process with both sessions, alternated."""
    def unit(index: int):
        first = "a" if index % 2 == 0 else "b"
        process = host.process()
        sessions = {arm: host.session(process, arm)
                    for arm in ((first, "b") if first == "a" else (first, "a"))}
        plan = BlockPlan(block_s=block_s, min_runs=min_runs, process_s=process_s, warmup=10,
                         switch_runs=1, first=first)
        timed = interleave({arm: Side(call) for arm, call in sessions.items()}, plan,
                           clock=host.now_ns)
        pairs = pair_blocks([b.arm for b in timed.blocks], [b.host_ms for b in timed.blocks])
        assert pairs is not None
        return pairs.to_unit()

    return unit


def run(design: str, seed: int, noise: Noise, *, ratio: float = 1.0, max_time_s: float = 60,
        threshold: float = 0.02, target: float | None = 0.01,
        state: type[Sequential] = Sequential) -> SequentialOutcome:
    """One simulated ``onnxbench ab`` in ``design`` (``process`` or ``interleaved``)."""
    host = Host(seed, noise, ratio)
    if design == "process":
        return run_sequential(process_design(host), state(threshold, target),
                              max_time_s=max_time_s, clock=host.now_s)
    return run_units(interleaved_design(host), state(threshold, target, method=PROCESS_PAIRED,
                                                     unit="processes"),
                     max_time_s=max_time_s, clock=host.now_s)
