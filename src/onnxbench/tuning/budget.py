"""A tune's budget: what is left, and what each step will cost, learned from the steps so far.

A *step* is one candidate measured at one fidelity (its graph built if it is new, then its
processes: worker start, session creation or ``torch.compile``, warm-up, the timed window or
the load windows, accuracy on a screen), or one ``ab`` comparison (its set-up, then pairs of
blocks). The search starts a step only when its estimate fits in what is left, and gives it
what is left as a hard limit, so a step that overruns its estimate is stopped at the
deadline (its case is marked to run again on resume): the budget holds within the time it
takes to stop a worker. An estimate that is too low costs a stopped step; one too high, a
candidate not measured.

What is learned (a prior until the first observation; then the median of the recent
ones):

- ``export``: a new exported graph (the model built, exported, linted, checked);
- ``derive``: a graph derived from an export already built (precision, passes);
- per runtime and stage kind, each process's time beyond its nominal window (session,
  compile, warm-up, accuracy, the generator's ceiling, a peak search's extra probes);
- ``ab``: its set-up (artifacts, report), and per runtime the cost of a pair of blocks.

The time the run directory's summary and report take at the end is kept back
(``finish_s``), and the clock starts when ``tune`` is called, not when the search does.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from onnxbench.tuning.space import Candidate

PRIOR_EXPORT_S = 20.0
PRIOR_DERIVE_S = 3.0
PRIOR_OVERHEAD_S = 6.0
PRIOR_AB_SETUP_S = 8.0
FINISH_S = 4.0   # aggregate raw/ and write report.md/html at the end (~1 s for 30 cases)
RECENT = 3


@dataclass
class Budget:
    """The wall-clock budget of one tune, from ``start`` (the call), less ``finish_s``."""

    total_s: float
    clock: Callable[[], float] = time.monotonic
    start: float | None = None
    finish_s: float = FINISH_S

    def __post_init__(self) -> None:
        if self.start is None:
            self.start = self.clock()

    def spent(self) -> float:
        return self.clock() - float(self.start or 0.0)

    @property
    def usable_s(self) -> float:
        """The budget less what the end keeps back (``finish_s``)."""
        return max(0.0, self.total_s - self.finish_s)

    def left(self, share: float = 1.0) -> float:
        """Seconds left of ``share`` of the usable budget."""
        return self.usable_s * share - self.spent()


def _recent(values: list[float], prior: float) -> float:
    """The median of the recent observations (a one-off, such as a cold start or the fp32
    accuracy reference the first screen computes, does not stay)."""
    if not values:
        return prior
    return float(statistics.median(values[-RECENT:]))


@dataclass
class Costs:
    """Per-step cost estimates, learned from what the steps took."""

    prior_export_s: float = PRIOR_EXPORT_S  # 0 for a bare ONNX file: nothing to export
    export: list[float] = field(default_factory=list)
    derive: list[float] = field(default_factory=list)
    overhead: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    ab_setup: list[float] = field(default_factory=list)
    pair: dict[str, list[float]] = field(default_factory=dict)
    bases: set[str] = field(default_factory=set)
    graphs: set[str] = field(default_factory=set)

    # ---- estimates ----------------------------------------------------------------------
    def graph_s(self, cand: Candidate) -> float:
        """Building what ``cand`` runs on: 0 when built, else the export and/or derivation."""
        if cand.graph in self.graphs:
            return 0.0
        cost = _recent(self.derive, PRIOR_DERIVE_S) if cand.graph != cand.base else 0.0
        if cand.base not in self.bases:
            cost += _recent(self.export, self.prior_export_s)
        return cost

    def overhead_s(self, runtime: str, kind: str) -> float:
        """A process's time beyond its window: this runtime at this kind of step, else this
        runtime at any, else any runtime at this kind, else the prior."""
        own = self.overhead.get((runtime, kind))
        if own:
            return _recent(own, PRIOR_OVERHEAD_S)
        for match in (lambda r, k: r == runtime, lambda r, k: k == kind):
            seen = [v for (r, k), vs in self.overhead.items() if match(r, k) for v in vs]
            if seen:
                return float(statistics.median(seen))
        return PRIOR_OVERHEAD_S

    def step_s(self, cand: Candidate, kind: str, processes: int, nominal_s: float) -> float:
        return self.graph_s(cand) + processes * (nominal_s + self.overhead_s(cand.runtime, kind))

    def pair_s(self, runtime: str, block_s: float) -> float:
        seen = self.pair.get(runtime)
        return _recent(seen, 0.0) if seen else 2 * (block_s + self.overhead_s(runtime, "timing"))

    def ab_s(self, runtime: str, pairs: int, block_s: float) -> float:
        return _recent(self.ab_setup, PRIOR_AB_SETUP_S) + pairs * self.pair_s(runtime, block_s)

    # ---- learning -----------------------------------------------------------------------
    def observe(self, cand: Candidate, kind: str, processes: int, nominal_s: float,
                took: float, build_s: float, finished: bool = True,
                cached: bool = False) -> None:
        """What a step of ``cand`` took (``build_s`` of it building graphs); a step stopped at
        the deadline (not ``finished``) teaches nothing, nor does one read back from an
        earlier run (``cached``: its graph is built, though)."""
        if cached:
            self.bases.add(cand.base)
            self.graphs.add(cand.graph)
        if cached or not finished:
            return
        if build_s > 0 or cand.graph not in self.graphs:
            derive = _recent(self.derive, PRIOR_DERIVE_S) if cand.graph != cand.base else 0.0
            if cand.base not in self.bases:
                self.export.append(max(0.0, build_s - derive))
            elif cand.graph not in self.graphs:
                self.derive.append(build_s)
        self.bases.add(cand.base)
        self.graphs.add(cand.graph)
        per = max(0.0, (took - build_s) / max(processes, 1) - nominal_s)
        self.overhead.setdefault((cand.runtime, kind), []).append(per)

    def observe_ab(self, runtime: str, took: float, blocks_s: float, pairs: int) -> None:
        self.ab_setup.append(max(0.0, took - blocks_s))
        if pairs:
            self.pair.setdefault(runtime, []).append(blocks_s / pairs)


__all__ = ["FINISH_S", "Budget", "Costs"]
