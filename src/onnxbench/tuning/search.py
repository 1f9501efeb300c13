"""The decisions of ``tune``, on measurements it is handed (so tests can hand it fake ones).

The search spends time where the answer is decided:

1. **screen** the candidates one step at a time, the space's baseline first, then in the
   order optuna's sampler suggests, while their steps fit (the latency goal keeps back what
   its rungs and an ab will need for the survivors; rate goals half the budget): a short
   single-stream timing plus accuracy against fp32. A failed candidate, or one whose
   accuracy drop exceeds ``max_drop``, is out with its reason; so is, for a rate goal, an
   engine that alone already exceeds the bound. A candidate that fails at batch 1 is
   measured again with the project's remedy (``remedies``) before it is dropped.
2. **rungs** (successive halving, ``ETA`` = 3): the survivors measured again with more
   processes and longer timings; each rung keeps the best third, and every candidate whose
   CI overlaps the cut line's (a tie is not a loss). Rate goals run server windows at the
   goal's rate (fewest cores first) or peak searches instead (``search_rate``).
3. **finalists**: the best and every rival whose CI overlaps it go to ``ab`` (paired,
   interleaved blocks); a ``faster`` verdict changes the pick, ``equivalent`` or ``cannot
   tell`` is a tie, said as one. Ties are broken by fewer cores, then the smaller accuracy
   drop, then the figure.

Every step asks the budget first (``budget``): one whose estimated cost (learned from the
steps so far) does not fit what is left is not started, one that runs past it is stopped,
and an answer reached before the search finished says so (``Decision.exhausted``): the
best so far.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from functools import partial

from onnxbench.tuning.budget import Budget, Costs
from onnxbench.tuning.goals import Goal
from onnxbench.tuning.policy import (
    AB_BLOCK_S,
    ETA,
    FINALISTS,
    MAX_RIVALS,
    PEAK_PROBES_GUESS,
    SCREEN_SHARE,
)
from onnxbench.tuning.records import (
    Compare,
    Decision,
    Evidence,
    Fidelity,
    Measure,
    StageLog,
    cut,
    overlaps,
)
from onnxbench.tuning.remedies import Remedy, Remedying
from onnxbench.tuning.search_rate import run_rate
from onnxbench.tuning.space import Candidate


class Search:
    """One search: the goal, the candidates, how to measure, the budget and its costs."""

    def __init__(self, goal: Goal, candidates: Sequence[Candidate], measure: Measure,
                 compare: Compare | None, *, budget_s: float, max_drop: float | None = None,
                 clock: Callable[[], float] = time.monotonic, start: float | None = None,
                 seed: int = 0, screen_s: float = 0.3, costs: Costs | None = None,
                 remedies: Sequence[Remedy] = ()) -> None:
        self.goal, self.candidates = goal, list(candidates)
        self.by_key = {c.key: c for c in self.candidates}
        self.measure, self.compare = measure, compare
        self.max_drop, self.seed, self.screen_s = max_drop, seed, screen_s
        self.budget = Budget(budget_s, clock, start)
        self.costs = costs or Costs()
        self.remedy = Remedying(list(remedies))
        self.decision = Decision()

    # ---- budget -------------------------------------------------------------------------
    def nominal(self, cand: Candidate, fid: Fidelity) -> float:
        """The step's measured seconds per process (its window, or a peak search's probes)."""
        if fid.kind in ("screen", "timing"):
            return fid.seconds
        if fid.kind in ("server", "confirm"):
            return max(fid.seconds, self.goal.need_s())
        screen = self.decision.screen.get(cand.engine.key)
        workers = cand.serving.workers if cand.serving else 1
        rate = fid.start_qps or (workers * 1000.0 / screen.value if screen and screen.value
                                 else 1.0)
        return PEAK_PROBES_GUESS * max(fid.seconds, self.goal.need_s(rate)) + 2 * fid.confirm_s

    def estimate(self, cand: Candidate, fid: Fidelity) -> float:
        return self.costs.step_s(cand, fid.kind, fid.processes, self.nominal(cand, fid))

    def fits(self, cand: Candidate, fid: Fidelity, room: float | None = None) -> bool:
        """Its step's estimate fits in ``room`` seconds (default: what is left)."""
        return self.estimate(cand, fid) <= (self.budget.left() if room is None else room)

    def out_of_budget(self, cand: Candidate, fid: Fidelity, where: str, room: float) -> str:
        self.decision.exhausted = True
        left = max(0.0, self.budget.left())
        kept = f" (of {left:.0f} s left, the rest kept for the later stages)" \
            if room < left - 0.5 else ""
        return (f"not measured {where}: its step (about {self.estimate(cand, fid):.0f} s) did "
                f"not fit the {max(0.0, room):.0f} s it could use{kept}")

    def screen_room(self, passed: Sequence[Evidence], more: int = 1) -> float:
        """Seconds the screen may still use: for the latency goal, all that is left but what
        the rungs of the ``passed`` (and ``more``) need, at most half the budget, and
        nothing when not even one rung of two fits in that half (a candidate screened is
        then worth more); for rate goals, the screen's share."""
        if self.goal.kind != "latency":
            return self.budget.left(SCREEN_SHARE)
        cap = 0.5 * self.budget.usable_s
        top = self.rank(passed)[:max(2, math.ceil((len(passed) + more) / ETA))]
        runtimes = {self.by_key[e.key].runtime for e in top}
        n = len(passed) + more
        keep = 0.0 if self.later_s(FINALISTS + 1, runtimes=runtimes) > cap else \
            min(self.later_s(n, runtimes=runtimes), cap)
        return self.budget.left() - keep

    def rung_room(self, kept: Sequence[Evidence], rung: int) -> float:
        """Seconds rung ``rung`` (of the ``kept``) may use: what is left but the later rungs,
        when all of them fit; else all that is left (a later rung needs this one whole)."""
        runtimes = {self.by_key[e.key].runtime for e in kept}
        left, later = self.budget.left(), self.later_s(len(kept), rung, runtimes)
        this = self.rung_s(len(kept), rung, runtimes)
        return left - later if this + later <= left else left

    def rung_s(self, n: int, rung: int, runtimes: set[str]) -> float:
        """The estimated cost of rung ``rung`` for ``n`` candidates of ``runtimes``."""
        over = max((self.costs.overhead_s(r, "timing") for r in runtimes),
                   default=self.costs.overhead_s("", "timing"))
        return n * 3 * (self.screen_s * ETA ** rung + over)

    def later_s(self, survivors: int, rung: int = 0, runtimes: set[str] | None = None
                ) -> float:
        """The estimated cost of the successive-halving rungs after ``rung`` for
        ``survivors`` of ``runtimes`` (an ab of the finalists is not kept back for: it runs,
        on what is left, only when their CIs overlap, and a tie it cannot decide is said as
        one)."""
        cost, n = 0.0, survivors
        while n > FINALISTS:
            rung += 1
            n = max(2, math.ceil(n / ETA))
            cost += self.rung_s(n, rung, runtimes or set())
        return cost

    # ---- steps --------------------------------------------------------------------------
    def step(self, name: str, fid: Fidelity, cand: Candidate,
             room: float | None = None) -> Evidence:
        """Measure one candidate (the caller checked that it fits), stopped after ``room``
        seconds (default: what is left); learn what it cost, record its evidence, and drop
        it with its reason when it failed."""
        t = self.budget.clock()
        limit = self.budget.left() if room is None else min(room, self.budget.left())
        got = self.measure(name, fid, [cand], limit_s=max(0.0, limit))
        took = self.budget.clock() - t
        ev = got.get(cand.key) or Evidence(cand.key, "failed", "no result")
        ev.stage = name
        self.costs.observe(cand, fid.kind, fid.processes, self.nominal(cand, fid), took,
                           ev.build_s, finished=ev.status != "budget", cached=ev.cached)
        self.decision.evidence[cand.key] = ev
        log = self._log(name, fid.kind)
        log.measured.append(cand.key)
        log.seconds += took
        if ev.ok:
            log.kept.append(cand.key)
        else:
            reason = self.failure(ev)
            log.dropped[cand.key] = self.decision.dropped[cand.key] = reason
        return ev

    def failure(self, ev: Evidence) -> str:
        if ev.status == "budget":
            self.decision.exhausted = True
            return f"stopped at the budget's end: {ev.reason or 'its step ran past it'}"
        return f"{ev.status}: {ev.reason or 'no figure'}"

    def _log(self, name: str, kind: str) -> StageLog:
        stages = self.decision.stages
        if not stages or stages[-1].name != name:
            stages.append(StageLog(name, kind))
        return stages[-1]

    def stage(self, name: str, fid: Fidelity, cands: Iterable[Candidate],
              room: Callable[[], float]) -> tuple[dict[str, Evidence], list[Candidate]]:
        """Each candidate in turn (best first) whose step fits in ``room()`` seconds: the
        evidence of those that passed, and the candidates not started (the budget)."""
        passed: dict[str, Evidence] = {}
        left_out = []
        for c in cands:
            if not self.fits(c, fid, room()):
                left_out.append(c)
                self.decision.dropped[c.key] = self.out_of_budget(c, fid, f"at {name}", room())
                continue
            ev = self.step(name, fid, c, room())
            if ev.ok:
                passed[c.key] = ev
        return passed, left_out

    # ---- the screen, with the batch-1 remedies ------------------------------------------
    def remedied(self, cand: Candidate) -> Candidate:
        """``cand`` with the remedy its family needed (itself when none)."""
        fix = self.remedy.fixed.get(cand.family)
        return self.add(fix.apply(cand)) if fix else cand

    def add(self, cand: Candidate) -> Candidate:
        if cand.key not in self.by_key:
            self.by_key[cand.key] = cand
            self.decision.added.append(cand)
        return cand

    def screen(self, engines: list[Candidate]) -> dict[str, Evidence]:
        """Screen ``engines`` in the sampler's order while their steps fit; the passed."""
        from onnxbench.tuning.sampler import ScreenSampler

        fid = Fidelity("screen", self.screen_s)
        passed: dict[str, Evidence] = {}
        sampler = ScreenSampler(engines, seed=self.seed)
        base = engines[0] if engines else None  # the space's baseline (ORT fp32) first,
                                                # with all the budget: no answer without it

        def room(c: Candidate, more: int = 1) -> float:
            return self.budget.left() if c is base else \
                self.screen_room(list(passed.values()), more)

        while True:
            cand = sampler.next(lambda c: self.fits(self.remedied(c), fid, room(c)),
                                base if base in sampler.pending else None)
            if cand is None:
                break
            ev = self.screen_one(self.remedied(cand), fid, room(cand, 0))
            ok = ev.ok and ev.key not in self.decision.dropped
            if ok:
                passed[ev.key] = ev
            sampler.tell(cand.key, self.screen_figure(ev) if ok else None)
        for c in sampler.pending:
            self.decision.dropped[self.remedied(c).key] = self.out_of_budget(
                self.remedied(c), fid, "at the screen", room(c))
        if sampler.pending:
            self.decision.note(f"{len(sampler.pending)} of {len(engines)} candidates were not "
                               "screened (budget); optuna's TPE sampler chose which to screen")
        return passed

    def screen_one(self, cand: Candidate, fid: Fidelity, room: float) -> Evidence:
        ev = self.step("screen", fid, cand, room)
        if not ev.ok and ev.status in ("failed", "skipped", "timeout", "crashed"):
            ev = self.remedy.attempt(self, cand, ev, fid, room + self.budget.spent())
        self.decision.screen[ev.key] = ev
        reason = self.screen_reason(ev)
        if reason:
            self.decision.dropped[ev.key] = reason
        return ev

    def screen_reason(self, ev: Evidence) -> str | None:
        """Why a screened candidate is out (None: it goes on)."""
        if not ev.ok:
            return self.decision.dropped.get(ev.key) or self.failure(ev)
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
            return run_rate(self)
        ranked = self.rank(self.screen(self.candidates).values())
        rung = 0
        while len(ranked) > FINALISTS:
            rung += 1
            fid = Fidelity("timing", self.screen_s * ETA ** rung, processes=3)
            kept = cut(ranked)
            for ev in ranked[len(kept):]:
                self.decision.dropped[ev.key] = f"cut at rung {rung} (successive halving)"
            measured, left_out = self.stage(f"rung-{rung}", fid,
                                            [self.by_key[e.key] for e in kept],
                                            partial(self.rung_room, kept, rung))
            if len(measured) < 2 and left_out:
                self.decision.note(f"rung {rung} did not fit the budget: the ranking is the "
                                   "previous stage's")
                waiting = {c.key for c in left_out} | set(measured)
                for key in waiting:
                    self.decision.dropped.pop(key, None)
                ranked = [e for e in kept if e.key in waiting]
                break
            ranked = self.rank(measured.values())
        self.decision.ranking = [e.key for e in ranked]
        self.finals(ranked)
        return self.decision

    def rank(self, evs: Iterable[Evidence]) -> list[Evidence]:
        sign = 1.0 if self.goal.lower_is_better else -1.0
        return sorted((e for e in evs if e.ok), key=lambda e: sign * float(e.value or 0.0))

    def finals(self, ranked: list[Evidence]) -> None:
        """The best against every rival whose CI overlaps it, by ``ab``; then ties broken."""
        if not ranked:
            self.decision.note("no candidate survived the screens")
            return
        champion = ranked[0]
        rivals = [e for e in ranked[1:] if overlaps(e, champion)][:MAX_RIVALS]
        tied: list[Evidence] = []
        for i, rival in enumerate(rivals):
            out = self.ab(champion, rival, len(rivals) - i)
            if out is None:
                tied.append(rival)
            elif out == "faster":  # B (the rival) is faster
                tied = [t for t in tied if overlaps(t, rival)]
                champion = rival
            elif out != "slower":
                tied.append(rival)
        self.settle(champion, tied)

    def ab(self, champion: Evidence, rival: Evidence, remaining: int) -> str | None:
        """``ab`` of the two when its first look fits the budget; its verdict, or None."""
        from onnxbench.measure.pairs import FIRST_LOOK

        a, b = self.by_key[champion.key], self.by_key[rival.key]
        runtime = a.runtime
        need = self.costs.ab_s(runtime, FIRST_LOOK, AB_BLOCK_S)
        if self.compare is None or need > self.budget.left():
            if self.compare is not None:
                self.decision.exhausted = True
            self.decision.note("finalists not compared by ab (budget): their CIs overlap, so "
                               "they are reported as a tie")
            return None
        first_look = FIRST_LOOK * self.costs.pair_s(runtime, AB_BLOCK_S)
        seconds = (self.budget.left() - (need - first_look)) / remaining
        if seconds < first_look:
            self.decision.exhausted = True
            self.decision.note("a finalist was not compared by ab (budget): their CIs "
                               "overlap, so they are reported as a tie")
            return None
        t = self.budget.clock()
        out = self.compare(a, b, seconds)
        self.costs.observe_ab(runtime, self.budget.clock() - t, out.blocks_s, out.pairs)
        self.decision.ab.append({"a": a.key, "b": b.key, "verdict": out.verdict,
                                 "ratio": out.ratio, "ci": out.ci, "run_dir": out.run_dir})
        return out.verdict

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


__all__ = ["Search"]
