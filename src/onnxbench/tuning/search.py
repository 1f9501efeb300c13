"""The decisions of ``tune``, on measurements it is handed (so tests can hand it fake ones).

The search spends time where the answer is decided:

1. **screen** every candidate (or, when the budget cannot, those optuna's sampler picks):
   a short single-stream timing plus accuracy against fp32. A failed candidate, or one whose
   accuracy drop exceeds ``max_drop``, is out with its reason; so is, for a rate goal, an
   engine that alone already exceeds the bound.
2. **rungs** (successive halving, ``ETA`` = 3): the survivors measured again with more
   processes and longer timings; each rung keeps the best third, and every candidate whose
   CI overlaps the cut line's (a tie is not a loss). Rate goals run server windows at the
   goal's rate (fewest cores first) or peak searches instead (``search_rate``).
3. **finalists**: the best and every rival whose CI overlaps it go to ``ab`` (paired,
   interleaved blocks); a ``faster`` verdict changes the pick, ``equivalent`` or ``cannot
   tell`` is a tie, said as one. Ties are broken by fewer cores, then the smaller accuracy
   drop, then the figure.

Every stage asks the budget first: a stage that does not fit is shrunk or skipped, and an
answer reached before the finalists were compared says so (``Decision.exhausted``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from onnxbench.tuning.goals import Goal
from onnxbench.tuning.space import Candidate

ETA = 3
SCREEN_SHARE, RUNG_SHARE = 0.5, 0.8  # of the budget: screening stops at 50 %, rungs at 80 %
FINALISTS = 3
MAX_RIVALS = 2


@dataclass
class Fidelity:
    """How a stage measures: ``kind`` screen | timing | server | peak | confirm."""

    kind: str
    seconds: float            # timed seconds per process (timing) or window (load)
    processes: int = 1
    confirm_s: float = 0.0    # peak: confirmation window


@dataclass
class Evidence:
    """What one measurement of one candidate said (the goal's figure and its CI)."""

    key: str
    status: str = "ok"
    reason: str | None = None
    value: float | None = None           # latency ms (latency/rate goals) or QPS (throughput)
    ci: tuple[float, float] | None = None
    p99_ms: float | None = None
    met: bool | None = None              # rate goals: the bound held in this window
    accuracy_drop: float | None = None
    accuracy: dict[str, Any] | None = None
    confirmed: bool = False
    harness_limited: bool = False
    stage: str = ""
    point_id: str | None = None          # where the evidence lies in the run directory

    @property
    def ok(self) -> bool:
        return self.status == "ok" and self.value is not None


@dataclass
class ABOutcome:
    verdict: str                          # faster | slower | equivalent | cannot tell | ...
    ratio: float | None = None            # B / A
    ci: tuple[float, float] | None = None
    run_dir: str | None = None


Measure = Callable[[str, Fidelity, list[Candidate]], dict[str, Evidence]]
Compare = Callable[[Candidate, Candidate, float], ABOutcome]


@dataclass
class StageLog:
    name: str
    kind: str
    measured: list[str]
    kept: list[str]
    dropped: dict[str, str]
    seconds: float


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


def overlaps(a: Evidence, b: Evidence) -> bool:
    """Two CIs overlap (a tie); without a CI, equal figures only."""
    if a.ci is None or b.ci is None:
        return a.value == b.value
    return a.ci[0] <= b.ci[1] and b.ci[0] <= a.ci[1]


def cut(ranked: Sequence[Evidence], eta: int = ETA, minimum: int = 2) -> list[Evidence]:
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


class Search:
    """One search: the goal, the candidates, how to measure, the budget and its clock."""

    def __init__(self, goal: Goal, candidates: Sequence[Candidate], measure: Measure,
                 compare: Compare | None, *, budget_s: float, max_drop: float | None = None,
                 clock: Callable[[], float] = time.monotonic, seed: int = 0,
                 screen_s: float = 0.3) -> None:
        self.goal, self.candidates = goal, list(candidates)
        self.by_key = {c.key: c for c in self.candidates}
        self.measure, self.compare = measure, compare
        self.budget_s, self.max_drop, self.clock, self.seed = budget_s, max_drop, clock, seed
        self.screen_s = screen_s
        self.t0 = clock()
        self.per_case_s = 6.0  # overhead guess until the first stage measures it
        self.decision = Decision()

    # ---- budget -------------------------------------------------------------------------
    def spent(self) -> float:
        return self.clock() - self.t0

    def left(self, share: float = 1.0) -> float:
        return self.budget_s * share - self.spent()

    def case_cost(self, fid: Fidelity) -> float:
        window = fid.seconds + fid.confirm_s
        return fid.processes * (self.per_case_s + window)

    def fit(self, n: int, fid: Fidelity, share: float) -> int:
        """How many of ``n`` candidates a stage at ``fid`` can measure within ``share``."""
        return max(0, min(n, int(self.left(share) // max(self.case_cost(fid), 1e-9))))

    # ---- stages -------------------------------------------------------------------------
    def run_stage(self, name: str, fid: Fidelity, cands: list[Candidate]) -> dict[str, Evidence]:
        """Measure, learn the per-case overhead, record the evidence and the failures."""
        if not cands:
            return {}
        t = self.clock()
        got = self.measure(name, fid, cands)
        took = self.clock() - t
        window = fid.processes * (fid.seconds + fid.confirm_s)
        self.per_case_s = max(0.5, took / len(cands) / max(fid.processes, 1) -
                              window / max(fid.processes, 1))
        dropped = {}
        for c in cands:
            ev = got.get(c.key) or Evidence(c.key, "failed", "no result")
            ev.stage = name
            self.decision.evidence[c.key] = ev
            if not ev.ok:
                dropped[c.key] = f"{ev.status}: {ev.reason or 'no figure'}"
        self.decision.dropped.update(dropped)
        kept = [c.key for c in cands if c.key not in dropped]
        self.decision.stages.append(StageLog(name, fid.kind, [c.key for c in cands], kept,
                                             dropped, took))
        return {k: v for k, v in got.items() if k in kept}

    def screen(self, engines: list[Candidate]) -> dict[str, Evidence]:
        """Screen ``engines`` (in chunks, the sampler's order when they do not all fit)."""
        from onnxbench.tuning.sampler import ScreenSampler

        fid = Fidelity("screen", self.screen_s)
        passed: dict[str, Evidence] = {}
        sampler = ScreenSampler(engines, seed=self.seed)
        chunk = 0
        while sampler.pending:
            room = self.fit(len(sampler.pending), fid, SCREEN_SHARE)
            if room == 0 and chunk > 0:
                break
            batch = sampler.next_batch(max(room, 2) if chunk == 0 else min(room, 8))
            chunk += 1
            got = self.run_stage(f"screen-{chunk}", fid, batch)
            for c in batch:
                ev = self.decision.evidence[c.key]
                self.decision.screen[c.key] = ev
                reason = self.screen_reason(ev)
                if reason:
                    self.decision.dropped[c.key] = reason
                    got.pop(c.key, None)
                sampler.tell(c.key, self.screen_figure(ev) if c.key in got else None)
            passed.update(got)
        for c in sampler.pending:
            self.decision.dropped[c.key] = "not screened: the budget's screening share was spent"
        if sampler.pending:
            self.decision.exhausted = True
            self.decision.notes.append(f"{len(sampler.pending)} of {len(engines)} candidates "
                                       "were not screened (budget); optuna's TPE sampler "
                                       "chose which to screen")
        return passed

    def screen_reason(self, ev: Evidence) -> str | None:
        """Why a screened candidate is out (None: it goes on)."""
        if not ev.ok:
            return f"{ev.status}: {ev.reason or 'no figure'}"
        if self.max_drop is not None:
            if ev.accuracy_drop is None:
                return "accuracy not measured: cannot show it within the allowed drop"
            if ev.accuracy_drop > self.max_drop + 1e-12:
                return (f"accuracy drop {ev.accuracy_drop:.4g} > the allowed "
                        f"{self.max_drop:.4g} (against fp32)")
        if self.goal.kind != "latency" and ev.value is not None and self.goal.bound_ms and \
                ev.value > self.goal.bound_ms:
            return (f"one request alone takes {ev.value:.3g} ms (median) > the bound "
                    f"{self.goal.bound_ms:g} ms")
        return None

    @staticmethod
    def screen_figure(ev: Evidence) -> float | None:
        return math.log(ev.value) if ev.value and ev.value > 0 else None

    # ---- the latency goal ---------------------------------------------------------------
    def run(self) -> Decision:
        if self.goal.kind != "latency":
            from onnxbench.tuning.search_rate import run_rate

            return run_rate(self)
        alive = self.screen(self.candidates)
        ranked = self.rank(alive.values())
        rung = 0
        while len(ranked) > FINALISTS:
            rung += 1
            fid = Fidelity("timing", self.screen_s * ETA ** rung, processes=3)
            kept = cut(ranked)
            room = self.fit(len(kept), fid, RUNG_SHARE)
            if room < 2:
                self.decision.exhausted = True
                self.decision.notes.append(f"rung {rung} did not fit the budget: the ranking "
                                           "is the previous stage's")
                break
            for ev in ranked[len(kept):]:
                self.decision.dropped[ev.key] = f"cut at rung {rung} (successive halving)"
            measured = self.run_stage(f"rung-{rung}", fid,
                                      [self.by_key[e.key] for e in kept[:room]])
            ranked = self.rank(measured.values())
        self.decision.ranking = [e.key for e in ranked]
        self.finals(ranked)
        return self.decision

    def rank(self, evs: Sequence[Evidence] | Any) -> list[Evidence]:
        sign = 1.0 if self.goal.lower_is_better else -1.0
        return sorted((e for e in evs if e.ok), key=lambda e: sign * float(e.value or 0.0))

    def finals(self, ranked: list[Evidence]) -> None:
        """The best against every rival whose CI overlaps it, by ``ab``; then ties broken."""
        if not ranked:
            self.decision.notes.append("no candidate survived the screens")
            return
        champion = ranked[0]
        rivals = [e for e in ranked[1:] if overlaps(e, champion)][:MAX_RIVALS]
        tied: list[Evidence] = []
        for rival in rivals:
            seconds = self.left() / max(1, len(rivals))
            if self.compare is None or seconds < 2 * self.case_cost(Fidelity("timing", 0.5)):
                self.decision.exhausted = self.compare is not None
                self.decision.notes.append("finalists not compared by ab (budget): their CIs "
                                           "overlap, so they are reported as a tie")
                tied.append(rival)
                continue
            out = self.compare(self.by_key[champion.key], self.by_key[rival.key], seconds)
            self.decision.ab.append({"a": champion.key, "b": rival.key, "verdict": out.verdict,
                                     "ratio": out.ratio, "ci": out.ci, "run_dir": out.run_dir})
            if out.verdict == "faster":  # B (the rival) is faster
                tied = [t for t in tied if overlaps(t, rival)]
                champion = rival
            elif out.verdict != "slower":
                tied.append(rival)
        self.settle(champion, tied)

    def settle(self, champion: Evidence, tied: list[Evidence]) -> None:
        """Break a tie by fewer cores, then the smaller accuracy drop, then the figure."""
        group = [champion, *tied]
        sign = 1.0 if self.goal.lower_is_better else -1.0
        pick = min(group, key=lambda e: (self.by_key[e.key].cores,
                                         self.screen_drop(e.key), sign * float(e.value or 0)))
        self.decision.winner = pick.key
        self.decision.ties = [e.key for e in group if e.key != pick.key]
        rest = [k for k in self.decision.ranking if k != pick.key]
        self.decision.ranking = [pick.key, *rest]

    def screen_drop(self, key: str) -> float:
        engine = self.by_key[key].engine.key
        ev = self.decision.screen.get(engine) or self.decision.screen.get(key)
        return ev.accuracy_drop if ev and ev.accuracy_drop is not None else 0.0


__all__ = ["ABOutcome", "Decision", "Evidence", "Fidelity", "Search", "cut", "overlaps"]
