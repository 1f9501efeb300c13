"""``tune``'s search decisions on fake measurements and a fake clock: successive halving,
ties, ab, accuracy, and the budget (steps planned from learned costs, a hard stop at the
deadline, the best so far). Rate goals: ``test_tune_rate``; remedies: ``test_tune_remedies``."""

from __future__ import annotations

import pytest

from onnxbench.tuning.answer import paragraph
from onnxbench.tuning.budget import FINISH_S
from onnxbench.tuning.goals import parse_goal
from onnxbench.tuning.records import Evidence, cut
from onnxbench.tuning.space import Candidate, Space
from tune_fakes import Fake, make_cand, make_cands, make_search

# ------------------------------------------------------------------- the latency goal

def test_successive_halving_keeps_the_best_and_ties_with_the_cut_line():
    evs = [Evidence(str(i), value=v, ci=(v - 0.5, v + 0.5)) for i, v in
           enumerate([1, 2, 3, 3.2, 6, 7, 8, 9, 10])]
    kept = cut(evs)
    assert [e.key for e in kept] == ["0", "1", "2", "3"]  # 3 kept, "3" ties the cut line


def test_latency_search_picks_the_fastest_and_spends_rungs_on_survivors():
    fake = Fake({i: 10.0 + i for i in range(9)})
    d = make_search(fake, make_cands(9)).run()
    assert d.winner == make_cands(9)[0].key and not d.ties and not d.exhausted
    rung = [i for stage, ids in fake.calls if stage.startswith("rung") for i in ids]
    assert rung and len(set(rung)) < 9 and 0 in rung and 8 not in rung


def test_a_tie_is_said_and_broken_by_cores():
    # two finalists whose CIs overlap; ab says "equivalent"; the 1-thread one has fewer cores
    two = [make_cand(0, threads=2), make_cand(1)]
    fake = Fake({0: 10.0, 1: 10.05}, width=0.02, verdicts={(0, 1): "equivalent"})
    d = make_search(fake, two).run()
    assert fake.compared == [(0, 1)]
    assert d.winner == two[1].key and d.ties == [two[0].key]


def test_ab_faster_verdict_changes_the_pick():
    fake = Fake({0: 10.0, 1: 10.05}, width=0.02, verdicts={(0, 1): "faster"})
    cands = make_cands(2)
    d = make_search(fake, cands).run()
    assert d.winner == cands[1].key and not d.ties


def test_accuracy_violation_is_out_with_its_reason():
    fake = Fake({0: 5.0, 1: 9.0, 2: 12.0}, drops={0: 0.02, 1: 0.001})
    cands = make_cands(3)
    d = make_search(fake, cands, max_drop=0.005).run()
    assert d.winner == cands[1].key
    assert "accuracy drop 0.02 > the allowed 0.005" in d.dropped[cands[0].key]


# ------------------------------------------------------------------------ the budget

def _mixed_space() -> list[Candidate]:
    """ORT (two precisions, shared graphs), PyTorch, and a torch.compile whose every
    process costs 50 s: 24 candidates."""
    out = [make_cand(i, "ort-cpu", threads=1 + i % 2,
                     precision=("fp32", "int8-dynamic")[i // 6 % 2]) for i in range(12)]
    out += [make_cand(12 + i, "torch-cpu", threads=1 + i % 2) for i in range(6)]
    out += [make_cand(18 + i, "torch-compile-cpu", threads=1 + i % 2) for i in range(6)]
    return out


@pytest.mark.parametrize("budget", [60.0, 90.0, 180.0])
def test_budget_holds_steps_planned_from_learned_costs(budget):
    medians = {i: 5.0 + (i % 7) * 0.7 for i in range(24)}
    fake = Fake(medians, overhead={"ort-cpu": 1.5, "torch-cpu": 4.0,
                                   "torch-compile-cpu": 50.0}, export=15.0, derive=2.0)
    cands = _mixed_space()
    s = make_search(fake, cands, budget=budget)
    d = s.run()
    # the search, ab included, ends inside the budget, leaving the report its time
    assert fake.now <= budget - FINISH_S + 1e-9
    assert all(step["end"] <= budget - FINISH_S + 1e-9 for step in fake.steps)
    # a step is started only when its learned cost fits: at most the first step of a
    # runtime (its cost still unknown) can be stopped at the deadline
    stopped = [st["runtime"] for st in fake.steps if st["stopped"]]
    assert len(stopped) <= 1 and len(set(stopped)) == len(stopped)
    # the answer is the best of what was measured, said as the best so far
    assert d.winner is not None and d.exhausted
    measured = [k for k, ev in d.evidence.items() if ev.ok]
    best = min(measured, key=lambda k: d.evidence[k].value)
    assert d.evidence[d.winner].value <= d.evidence[best].value * 1.02 + 1e-9
    assert "best answer so far" in paragraph(parse_goal("latency"), Space(cands), d)
    # what was not measured says why
    assert any("did not fit" in r for r in d.dropped.values())


def test_budget_learns_that_a_runtime_is_expensive():
    # one torch.compile step teaches 50 s a process: the other five are not started when
    # they cannot finish, while cheap ORT steps still are
    medians = {i: 5.0 for i in range(24)}
    fake = Fake(medians, overhead={"ort-cpu": 1.0, "torch-cpu": 1.0,
                                   "torch-compile-cpu": 50.0}, export=5.0, derive=1.0)
    s = make_search(fake, _mixed_space(), budget=200.0)
    s.run()
    compiled = [st for st in fake.steps if st["runtime"] == "torch-compile-cpu"]
    assert 1 <= len(compiled) <= 3
    assert s.costs.overhead_s("torch-compile-cpu", "screen") >= 49.0


def test_the_screen_keeps_back_time_for_a_rung():
    # 30 candidates at 3 s a screen would take the whole budget: the screen stops where a
    # rung of the best still fits, and that rung runs
    fake = Fake({i: 10.0 + i * 0.1 for i in range(30)}, overhead={"ort-cpu": 2.7}, width=0.001)
    s = make_search(fake, make_cands(30), budget=104.0)
    d = s.run()
    screened = [i for stage, ids in fake.calls if stage == "screen" for i in ids]
    rungs = [i for stage, ids in fake.calls if stage.startswith("rung") for i in ids]
    assert 10 <= len(screened) < 30 and len(rungs) >= 2
    assert fake.now <= 104.0 - FINISH_S and d.winner == s.by_key[d.winner].key


def test_a_step_past_its_estimate_is_stopped_at_the_deadline():
    # torch.compile's first step looks as cheap as ORT's (nothing learned about it yet) and
    # takes 50 s: it is stopped at the deadline, and the answer is ORT's
    cands = [make_cand(0, "ort-cpu"), make_cand(1, "torch-compile-cpu")]
    fake = Fake({0: 5.0, 1: 3.0}, overhead={"ort-cpu": 1.5, "torch-compile-cpu": 50.0},
                export=15.0)
    s = make_search(fake, cands, budget=60.0)
    d = s.run()
    assert [st["stopped"] for st in fake.steps] == [False, True]
    assert fake.now <= 60.0 - FINISH_S and d.winner == cands[0].key and d.exhausted
    assert "stopped at the budget's end" in d.dropped[cands[1].key]


def test_a_step_read_back_on_resume_teaches_no_cost():
    from onnxbench.tuning.budget import PRIOR_OVERHEAD_S, Costs

    costs, cand = Costs(), make_cand(0)
    costs.observe(cand, "screen", 1, 0.3, took=0.05, build_s=0.0, cached=True)
    assert costs.graph_s(cand) == 0.0  # its graph is there
    assert costs.overhead_s("ort-cpu", "screen") == PRIOR_OVERHEAD_S  # nothing learned
