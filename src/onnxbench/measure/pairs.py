"""Interleaved A/B units: the paired analysis and the sequential stopping rule.

A **unit** is one (A, B) pair of medians, whatever produced it:

* the process design: blocks run in the order ABBA BAAB …, each in a fresh worker process,
  so the between-process variance and slow drift are sampled; adjacent blocks form the
  units (A1 B1)(B2 A2)(B3 A3)(A4 B4)… (``block_pairs``);
* the interleaved design: one worker process alternates A and B in short blocks and its
  geometric-mean A and B medians form the unit (``measure.twolevel``: processes as the
  replication unit).

The analysis works on the units' log ratios d_i = log(B_i / A_i): drift that moves both
sides of a unit cancels, and a linear trend cancels between the AB and BA pairs of each
quad. The ratio is exp(mean d) with the paired t-interval exp(mean d ± t·sd/√n), n - 1
degrees of freedom.

Sequential stopping: the CI is looked at after 4, 8, 16, 32, … units (and once more when the
time budget ends). Look k is judged at alpha_k = alpha · 6 / (π² k²); since Σ alpha_k = alpha,
by the union bound every interval looked at holds simultaneously with probability at least
1 - alpha, whatever rule decides when to stop (Bonferroni alpha spending over looks). The
run stops at the first look where the verdict cannot change any more (the CI lies within
±threshold, or wholly beyond it: ``decided``, which wins when both hold), or where the CI is
narrower than the target (±target: ``target_ci``), or when the next unit would not fit in the
time budget.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from onnxbench.measure.ratio import ABResult, Estimate, judge, unresolved

PATTERNS = ("ABBA", "BAAB")
FIRST_LOOK = 4
PAIRED = "paired t on log(B/A) of adjacent A and B blocks"
SPENDING = "Bonferroni alpha spending over looks, alpha_k = alpha·6/(π²k²)"


def block_arm(index: int) -> str:
    """"a" or "b": the arm of block ``index`` in the order ABBA BAAB ABBA …"""
    return PATTERNS[(index // 4) % 2][index % 4].lower()


def look_alpha(k: int, alpha: float) -> float:
    """The error rate spent at look k (1-based): alpha·6/(π²k²), summing to alpha."""
    return alpha * 6.0 / (math.pi ** 2 * k * k)


def is_look(n_pairs: int) -> bool:
    """Looks fall after 4, 8, 16, 32, … pairs."""
    return n_pairs >= FIRST_LOOK and (n_pairs & (n_pairs - 1)) == 0


def paired_estimate(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
                    method: str = PAIRED, unit: str = "pairs") -> Estimate | None:
    """log(B/A) from paired block medians (a[i] with b[i]); None with fewer than 2 pairs."""
    la, lb = np.log(np.asarray(a, dtype=float)), np.log(np.asarray(b, dtype=float))
    n = len(la)
    if n != len(lb):
        raise ValueError("paired_estimate needs as many A as B medians")
    if n < 2:
        return None
    d = lb - la
    se = float(d.std(ddof=1)) / math.sqrt(n)
    return Estimate(float(d.mean()), se, n - 1, n, n, f"{method} ({n} {unit})",
                    center_a=float(np.exp(la.mean())), center_b=float(np.exp(lb.mean())))


def judge_pairs(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
                threshold: float,
                alpha: float = 0.05, family: int = 1, level_alpha: float | None = None,
                method: str = PAIRED, unit: str = "pairs") -> ABResult:
    """The paired verdict; ``cannot tell`` (with the reason) below two units."""
    est = paired_estimate(a, b, method=method, unit=unit)
    if est is None:
        ca = float(np.exp(np.mean(np.log(a)))) if len(a) else None
        cb = float(np.exp(np.mean(np.log(b)))) if len(b) else None
        return unresolved(method=method, n_a=len(a), n_b=len(b), threshold=threshold,
                          alpha=alpha, center_a=ca, center_b=cb,
                          note=f"{min(len(a), len(b))} {unit}: at least 2 are needed "
                               "for a CI (measure in more processes)")
    return judge(est, threshold=threshold, alpha=alpha, family=family, level_alpha=level_alpha)


@dataclass
class Sequential:
    """The state of an interleaved A/B run: paired medians, looks spent, the last answer."""

    threshold: float
    target: float | None          # stop once the CI is within ±target (a fraction)
    alpha: float = 0.05
    a: list[float] = field(default_factory=list)
    b: list[float] = field(default_factory=list)
    looks: int = 0
    result: ABResult | None = None
    method: str = PAIRED          # what a unit is (``measure.twolevel.PROCESS_PAIRED``)
    unit: str = "pairs"           # its name, plural ("processes")

    @property
    def pairs(self) -> int:
        return len(self.a)

    def add(self, a_median: float, b_median: float) -> None:
        self.a.append(float(a_median))
        self.b.append(float(b_median))

    def look(self) -> ABResult:
        """Spend the next look's alpha on the units so far."""
        self.looks += 1
        self.result = judge_pairs(self.a, self.b, threshold=self.threshold, alpha=self.alpha,
                                  level_alpha=look_alpha(self.looks, self.alpha),
                                  method=f"{self.method}; {SPENDING}", unit=self.unit)
        return self.result

    def stop_rule(self) -> str | None:
        """Why the last look may stop the run (None: keep going).

        ``decided`` (the verdict cannot change any more) is checked first: when the same look
        also meets the target CI, the run stopped on a settled verdict and says so.
        """
        r = self.result
        if r is None or r.ci_low is None or r.ci_high is None:
            return None
        t = self.threshold
        if r.verdict == "equivalent" or r.ci_low > 1 + t or r.ci_high < 1 - t:
            return "decided"
        if self.target is not None and r.resolvable_pct is not None \
                and r.resolvable_pct <= 100 * self.target:
            return "target_ci"
        return None


@dataclass
class SequentialOutcome:
    result: ABResult
    pairs: int                   # A/B pairs of blocks behind the answer
    blocks: int                  # blocks timed
    looks: int
    stop_rule: str               # target_ci | decided | max_time | block_failed
    elapsed_s: float
    failed: str | None = None    # "a: <reason>" when a block failed
    units: int = 0               # the replication units analysed (pairs, or processes)
    processes: int = 0           # worker processes that timed blocks

    def to_dict(self) -> dict:
        return {**asdict(self), "result": self.result.to_dict()}


@dataclass(frozen=True)
class Unit:
    """One unit's A and B medians (ms) and what it took: blocks, block pairs, processes."""

    a: float
    b: float
    blocks: int = 2
    pairs: int = 1
    processes: int = 2


BlockFn = Callable[[str, int], "float | str"]  # arm, block index -> median ms, or a failure reason
UnitFn = Callable[[int], "Unit | str"]         # unit index -> the unit, or "<who>: <reason>"


def block_pairs(measure_block: BlockFn) -> UnitFn:
    """The process design's units: blocks ``2i`` and ``2i + 1`` (ABBA BAAB …), one process
    each; a failed block fails the unit with ``"<arm>: <reason>"``."""
    def unit(i: int) -> Unit | str:
        got: dict[str, float] = {}
        for index in (2 * i, 2 * i + 1):
            arm = block_arm(index)
            value = measure_block(arm, index)
            if isinstance(value, str):
                return f"{arm}: {value}"
            got[arm] = value
        return Unit(got["a"], got["b"])

    return unit


def run_sequential(measure_block: BlockFn, state: Sequential, *, max_time_s: float,
                   clock: Callable[[], float] = time.monotonic) -> SequentialOutcome:
    """Run blocks ABBA BAAB … through ``measure_block`` until a stopping rule holds.

    ``measure_block(arm, index)`` returns the block's median latency, or a string (why the
    block has no number), which ends the run.
    """
    return run_units(block_pairs(measure_block), state, max_time_s=max_time_s, clock=clock)


def run_units(measure_unit: UnitFn, state: Sequential, *, max_time_s: float,
              clock: Callable[[], float] = time.monotonic) -> SequentialOutcome:
    """Measure units through ``measure_unit`` until a stopping rule holds.

    The time budget counts from the first unit; a unit starts only when the mean unit so far
    still fits in it. A failed unit (a string) ends the run with rule ``block_failed``.
    """
    start = clock()
    index, rule, failed = 0, None, None
    blocks = pairs = processes = 0
    while rule is None:
        elapsed = clock() - start
        if state.pairs and elapsed + elapsed / state.pairs > max_time_s:
            rule = "max_time"
            break
        unit = measure_unit(index)
        index += 1
        if isinstance(unit, str):
            failed, rule = unit, "block_failed"
            break
        blocks, pairs, processes = (blocks + unit.blocks, pairs + unit.pairs,
                                    processes + unit.processes)
        state.add(unit.a, unit.b)
        if is_look(state.pairs):
            state.look()
            rule = state.stop_rule()
    if rule != "target_ci" and rule != "decided" and (state.result is None
                                                      or state.result.n_a != state.pairs):
        state.look()  # the final look, on every unit measured
    assert state.result is not None  # a look always leaves an answer
    return SequentialOutcome(state.result, pairs, blocks, state.looks, rule, clock() - start,
                             failed, state.pairs, processes)
