"""The plain data of a tune's search: how a step measures (``Fidelity``), what it said
(``Evidence``, ``ABOutcome``), what the search decided and how (``Decision``, ``StageLog``),
and the two CI rules every decision uses (``overlaps``: a tie; ``cut``: successive halving).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from onnxbench.tuning.space import Candidate


@dataclass
class Fidelity:
    """How a step measures: ``kind`` screen | timing | server | peak | confirm."""

    kind: str
    seconds: float            # timed seconds per process (timing) or window (load)
    processes: int = 1
    confirm_s: float = 0.0    # peak: confirmation window
    start_qps: float | None = None  # peak: the rate the search starts from


@dataclass
class Evidence:
    """What one measurement of one candidate said (the goal's figure and its CI)."""

    key: str
    status: str = "ok"                   # ok | failed | skipped | budget (stopped at the deadline)
    reason: str | None = None
    value: float | None = None           # latency ms (latency/rate goals) or QPS (throughput)
    ci: tuple[float, float] | None = None
    p99_ms: float | None = None
    met: bool | None = None              # rate goals: the bound held in this window
    accuracy_drop: float | None = None
    accuracy: dict[str, Any] | None = None
    confirmed: bool = False
    harness_limited: bool = False
    lower_bound: bool = False            # peaks: no failing rate found, the peak is at least this
    stage: str = ""
    point_id: str | None = None          # where the evidence lies in the run directory
    failed_at: str | None = None         # build | run: where a failure happened
    findings: tuple[str, ...] = ()       # the graph's lint errors (rule names)
    build_s: float = 0.0                 # seconds this step spent building graphs
    cached: bool = False                 # read back from an earlier run (resume): no cost

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.value is not None


@dataclass
class ABOutcome:
    verdict: str                          # faster | slower | equivalent | cannot tell | ...
    ratio: float | None = None            # B / A
    ci: tuple[float, float] | None = None
    run_dir: str | None = None
    pairs: int = 0                        # replication units run (pairs, or processes)
    blocks_s: float = 0.0                 # seconds spent in them (the rest is set-up)


class Measure(Protocol):
    """Measures ``cands`` at ``fid``; ``limit_s``: stop (status ``budget``) past this."""

    def __call__(self, stage: str, fid: Fidelity, cands: list[Candidate], *,
                 limit_s: float | None = None) -> dict[str, Evidence]: ...


class Compare(Protocol):
    """``ab`` of two candidates within ``seconds`` of blocks."""

    def __call__(self, a: Candidate, b: Candidate, seconds: float) -> ABOutcome: ...


@dataclass
class StageLog:
    name: str
    kind: str
    measured: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class Decision:
    """The answer and how it was reached."""

    winner: str | None = None
    ties: list[str] = field(default_factory=list)
    ranking: list[str] = field(default_factory=list)
    evidence: dict[str, Evidence] = field(default_factory=dict)   # latest per candidate
    screen: dict[str, Evidence] = field(default_factory=dict)     # the screen's, per engine
    dropped: dict[str, str] = field(default_factory=dict)
    stages: list[StageLog] = field(default_factory=list)
    ab: list[dict[str, Any]] = field(default_factory=list)
    exhausted: bool = False
    notes: list[str] = field(default_factory=list)
    added: list[Candidate] = field(default_factory=list)          # remedied candidates
    remedies: list[str] = field(default_factory=list)  # what batch-1 remedies did, said

    def note(self, text: str, to: list[str] | None = None) -> None:
        said = self.notes if to is None else to
        if text not in said:
            said.append(text)


def overlaps(a: Evidence, b: Evidence) -> bool:
    """Two CIs overlap (a tie); without a CI, equal figures only."""
    if a.ci is None or b.ci is None:
        return a.value == b.value
    return a.ci[0] <= b.ci[1] and b.ci[0] <= a.ci[1]


def cut(ranked: Sequence[Evidence], eta: int = 3, minimum: int = 2) -> list[Evidence]:
    """Successive halving's cut: the best ``1/eta`` (at least ``minimum``), plus every one
    whose CI overlaps the last kept one's (tied with the cut line), at most twice as many."""
    keep = max(minimum, math.ceil(len(ranked) / eta))
    kept = list(ranked[:keep])
    if not kept:
        return kept
    line = kept[-1]
    for ev in ranked[keep:]:
        if len(kept) >= 2 * keep or not overlaps(ev, line):
            break
        kept.append(ev)
    return kept


__all__ = ["ABOutcome", "Compare", "Decision", "Evidence", "Fidelity", "Measure", "StageLog",
           "cut", "overlaps"]
