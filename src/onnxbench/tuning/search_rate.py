"""The rate goals' search: ``p99<=Xms@Yqps`` (the cheapest configuration that holds it) and
``throughput --p99 X`` (the highest confirmed peak).

Both screen the *engines* first (runtime, precision, passes, threads: single-stream timing
and accuracy), since an engine that alone exceeds the bound can hold no rate. Then:

- rate: server windows at the goal's rate, by cores, fewest first. A cores level whose
  configurations hold the rate in a short window are re-run ``ETA`` times longer; the first
  level with survivors decides, and candidates with more cores are never measured (a
  cheaper one holds). The lowest percentile among them is confirmed with a long window
  (``CONFIRM_S``); if the confirmation fails, the next one is tried.
- throughput: a short-probe peak search for every configuration, the best third kept
  (ties: brackets that overlap), then a longer search with a confirmation run; the highest
  confirmed peak wins, a tie when the brackets overlap.
"""

from __future__ import annotations

from itertools import groupby
from typing import TYPE_CHECKING

from onnxbench.tuning.search import ETA, RUNG_SHARE, Evidence, Fidelity, cut, overlaps

if TYPE_CHECKING:
    from onnxbench.tuning.search import Decision, Search

CONFIRM_S = 30.0
MAX_CONFIRMS = 3


def _window(search: Search) -> float:
    """The shortest server window that can show the percentile (LoadGen's early stopping)."""
    from onnxbench.scenarios.early_stopping import requests_needed

    goal = search.goal
    need = requests_needed(0, goal.percentile) / float(goal.qps or 1.0)
    return max(2.0, round(1.2 * need, 1))


def _screen_engines(search: Search) -> list:
    """Screen the distinct engines; the serving candidates of the survivors."""
    engines = list({c.engine.key: c.engine for c in search.candidates}.values())
    alive = search.screen(engines)
    out = []
    for c in search.candidates:
        if c.engine.key in alive:
            out.append(c)
        else:
            search.decision.dropped.setdefault(
                c.key, search.decision.dropped.get(c.engine.key, "engine screened out"))
    return out


def run_rate(search: Search) -> Decision:
    cands = _screen_engines(search)
    if search.goal.kind == "throughput":
        return _throughput(search, cands)
    return _rate(search, cands)


def _rate(search: Search, cands: list) -> Decision:
    d = search.decision
    short = Fidelity("server", _window(search))
    levels = groupby(sorted(cands, key=lambda c: c.cores), key=lambda c: c.cores)
    holding: list[Evidence] = []
    for cores, group in levels:
        members = list(group)
        if holding:
            for c in members:
                fewer = search.by_key[holding[0].key].cores
                d.dropped[c.key] = (f"not measured: a configuration with {fewer} cores holds "
                                    "the rate")
            continue
        room = search.fit(len(members), short, RUNG_SHARE)
        if room == 0:
            d.exhausted = True
            d.notes.append(f"the budget ran out before configurations with {cores} cores "
                           "were measured")
            break
        first = search.run_stage(f"rate-{cores}c", short, members[:room])
        passed = [e for e in first.values() if e.met]
        for e in first.values():
            if not e.met:
                d.dropped[e.key] = f"missed the bound in {short.seconds:g} s at the goal's rate"
        if not passed:
            continue
        longer = Fidelity("server", short.seconds * ETA)
        room = search.fit(len(passed), longer, RUNG_SHARE)
        if room == 0:
            d.exhausted = True
            holding = passed
            break
        second = search.run_stage(f"rate-{cores}c-long", longer,
                                  [search.by_key[e.key] for e in _by_value(passed)[:room]])
        holding = [e for e in second.values() if e.met]
        for e in second.values():
            if not e.met:
                d.dropped[e.key] = f"missed the bound in {longer.seconds:g} s"
    ranked = _by_value(holding)
    d.ranking = [e.key for e in ranked]
    if not ranked:
        d.notes.append("no configuration held the rate")
        return d
    _confirm_rate(search, ranked)
    return d


def _by_value(evs: list[Evidence]) -> list[Evidence]:
    return sorted(evs, key=lambda e: float(e.value or 0.0))


def _confirm_rate(search: Search, ranked: list[Evidence]) -> None:
    d = search.decision
    fid = Fidelity("confirm", min(CONFIRM_S, max(search.left() / 2, _window(search))))
    for ev in ranked[:MAX_CONFIRMS]:
        if search.left() < search.case_cost(fid):
            d.exhausted = True
            d.notes.append("no confirmation run fitted the budget: the pick held only in "
                           "the search's windows")
            break
        got = search.run_stage("confirm", fid, [search.by_key[ev.key]])
        conf = got.get(ev.key)
        if conf is not None and conf.met:
            conf.confirmed = True
            tied = [e for e in ranked if e.key != ev.key and overlaps(e, ev)]
            search.settle(ev, tied[:2])
            return
        d.dropped[ev.key] = f"failed the {fid.seconds:g} s confirmation at the goal's rate"
    rest = [e for e in ranked if e.key not in d.dropped]
    if rest:
        search.settle(rest[0], [e for e in rest[1:] if overlaps(e, rest[0])][:2])


def _throughput(search: Search, cands: list) -> Decision:
    d = search.decision
    short = Fidelity("peak", max(1.0, search.screen_s * 4))
    room = search.fit(len(cands), short, 0.7)
    if room < len(cands):
        d.exhausted = True
        for c in cands[room:]:
            d.dropped[c.key] = "not measured: the budget's search share was spent"
    first = search.run_stage("peak-short", short, cands[:max(room, 1)])
    ranked = search.rank(first.values())
    kept = cut(ranked)
    for e in ranked[len(kept):]:
        d.dropped[e.key] = "cut after the short peak search (successive halving)"
    longer = Fidelity("peak", short.seconds * ETA,
                      confirm_s=min(CONFIRM_S, 3 * short.seconds * ETA))
    room = search.fit(len(kept), longer, 1.0)
    if room >= 1:
        second = search.run_stage("peak-confirmed", longer,
                                  [search.by_key[e.key] for e in kept[:room]])
        final = search.rank(second.values())
    else:
        d.exhausted = True
        d.notes.append("no confirmed peak fitted the budget: short-probe peaks only")
        final = kept
    d.ranking = [e.key for e in final]
    if final:
        best = final[0]
        search.settle(best, [e for e in final[1:] if overlaps(e, best)][:2])
    return d


__all__ = ["run_rate"]
