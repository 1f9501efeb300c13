"""The rate goals' search: ``p99<=Xms@Yqps`` (the cheapest configuration that holds it) and
``throughput --p99 X`` (the highest confirmed peak).

Both screen the *engines* first (runtime, precision, passes, threads: single-stream timing
and accuracy), since an engine whose single request alone exceeds the bound can hold no
rate (one request's median is a lower bound of any percentile under load). Then:

- rate: server windows at the goal's rate, by cores, fewest first. A cores level whose
  configurations hold the rate in a short window are re-run ``ETA`` times longer; the first
  level with survivors decides, and candidates with more cores are never measured (a
  cheaper one holds). The lowest percentile among them is confirmed with a long window
  (``CONFIRM_S``); if the confirmation fails, the next one is tried.
- throughput: a short-probe peak search for every configuration (the fastest engines
  first), the best third kept (ties: brackets that overlap), then a longer search with a
  confirmation run; the highest confirmed peak wins, a tie when the brackets overlap. A
  peak whose search found no failing rate (or reached the generator's ceiling) is only a
  lower bound: its bracket is open above, so it ties with every higher peak.
"""

from __future__ import annotations

from itertools import groupby
from typing import TYPE_CHECKING

from onnxbench.tuning.policy import CONFIRM_S, ETA, MAX_CONFIRMS, PEAK_SHARE, RUNG_SHARE
from onnxbench.tuning.records import Evidence, Fidelity, cut, overlaps
from onnxbench.tuning.space import Candidate

if TYPE_CHECKING:
    from onnxbench.tuning.records import Decision
    from onnxbench.tuning.search import Search


def _rungs(search: Search) -> float:
    """Seconds the rate goal's windows may use (the rest is the confirmation's)."""
    return search.budget.left(RUNG_SHARE)


def _screen_engines(search: Search) -> list[Candidate]:
    """Screen the distinct engines; the serving candidates of the survivors (with the remedy
    their engine needed), fastest engine first."""
    engines = list({c.engine.key: c.engine for c in search.candidates}.values())
    alive = search.screen(engines)
    out = []
    for c in search.candidates:
        fixed = search.remedied(c)
        if fixed.engine.key in alive:
            out.append(fixed)
        else:
            engine = search.remedied(c.engine).key
            search.decision.dropped.setdefault(
                fixed.key, search.decision.dropped.get(engine, "engine screened out"))
    return sorted(out, key=lambda c: float(alive[c.engine.key].value or 0.0))


def run_rate(search: Search) -> Decision:
    cands = _screen_engines(search)
    if search.goal.kind == "throughput":
        return _throughput(search, cands)
    return _rate(search, cands)


def _rate(search: Search, cands: list[Candidate]) -> Decision:
    d = search.decision
    short = Fidelity("server", search.goal.window_s())
    holding: list[Evidence] = []
    for cores, group in groupby(sorted(cands, key=lambda c: c.cores), key=lambda c: c.cores):
        members = list(group)
        if holding:
            fewer = search.by_key[holding[0].key].cores
            for c in members:
                d.dropped[c.key] = (f"not measured: a configuration with {fewer} cores holds "
                                    "the rate")
            continue
        first, left_out = search.stage(f"rate-{cores}c", short, members,
                                       lambda: _rungs(search))
        if left_out and not first:
            d.note(f"the budget ran out before configurations with {cores} cores were "
                   "measured")
            break
        holding = _held(search, first, short, cores)
    ranked = _by_value(holding)
    d.ranking = [e.key for e in ranked]
    if not ranked:
        d.note("no configuration held the rate")
        return d
    _confirm_rate(search, ranked)
    return d


def _held(search: Search, first: dict[str, Evidence], short: Fidelity,
          cores: int) -> list[Evidence]:
    """Of a cores level's short windows, those that also hold a window ``ETA`` times longer
    (only the short ones when the longer do not fit the budget)."""
    d = search.decision
    passed = [e for e in first.values() if e.met]
    for e in first.values():
        if not e.met:
            d.dropped[e.key] = f"missed the bound in {short.seconds:g} s at the goal's rate"
    if not passed:
        return []
    longer = Fidelity("server", short.seconds * ETA)
    second, left_out = search.stage(f"rate-{cores}c-long", longer,
                                    [search.by_key[e.key] for e in _by_value(passed)],
                                    lambda: _rungs(search))
    if not second and left_out:
        d.note(f"the {longer.seconds:g} s windows did not fit the budget: the pick held "
               f"the rate in {short.seconds:g} s windows only")
        for c in left_out:
            d.dropped.pop(c.key, None)
        return passed
    for e in second.values():
        if not e.met:
            d.dropped[e.key] = f"missed the bound in {longer.seconds:g} s"
    return [e for e in second.values() if e.met]


def _by_value(evs: list[Evidence]) -> list[Evidence]:
    return sorted(evs, key=lambda e: float(e.value or 0.0))


def _confirm_rate(search: Search, ranked: list[Evidence]) -> None:
    d = search.decision
    fid = Fidelity("confirm", min(CONFIRM_S, max(search.budget.left() / 2, search.goal.window_s())))
    for ev in ranked[:MAX_CONFIRMS]:
        cand = search.by_key[ev.key]
        if not search.fits(cand, fid):
            d.exhausted = True
            d.note("no confirmation run fitted the budget: the pick held only in the "
                   "search's windows")
            break
        conf = search.step("confirm", fid, cand)
        if conf.ok and conf.met:
            conf.confirmed = True
            tied = [e for e in ranked if e.key != ev.key and overlaps(e, ev)]
            search.settle(conf, tied[:2])
            return
        if conf.ok:
            d.dropped[ev.key] = f"failed the {fid.seconds:g} s confirmation at the goal's rate"
    rest = [e for e in ranked if e.key not in d.dropped]
    if rest:
        search.settle(rest[0], [e for e in rest[1:] if overlaps(e, rest[0])][:2])


def _throughput(search: Search, cands: list[Candidate]) -> Decision:
    d = search.decision
    short = Fidelity("peak", max(1.0, search.screen_s * 4))
    first, left_out = search.stage("peak-short", short, cands,
                                   lambda: search.budget.left(PEAK_SHARE))
    ranked = search.rank(first.values())
    kept = cut(ranked)
    for e in ranked[len(kept):]:
        d.dropped[e.key] = "cut after the short peak search (successive halving)"
    second: dict[str, Evidence] = {}
    left_out = []
    for e in kept:  # a longer search from the short one's peak, then its confirmation
        longer = Fidelity("peak", short.seconds * ETA, start_qps=e.value,
                          confirm_s=min(CONFIRM_S, 3 * short.seconds * ETA))
        got, out = search.stage("peak-confirmed", longer, [search.by_key[e.key]],
                                search.budget.left)
        second.update(got)
        left_out += out
    if second or not left_out:
        final = search.rank(second.values())
    else:
        d.note("no confirmed peak fitted the budget: short-probe peaks only")
        for c in left_out:
            d.dropped.pop(c.key, None)
        final = kept
    d.ranking = [e.key for e in final]
    if final:
        best = final[0]
        search.settle(best, [e for e in final[1:] if overlaps(e, best)][:2])
    else:
        d.note("no configuration sustained a rate within the bound")
    return d


__all__ = ["run_rate"]
