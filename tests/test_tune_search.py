"""``tune``'s search decisions on fake measurements and a fake clock: successive halving,
ties, ab, accuracy, the budget (steps planned from learned costs, a hard stop at the
deadline, the best so far), the rate and throughput goals, and the batch-1 remedies."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from onnxbench.tuning.answer import paragraph, rows
from onnxbench.tuning.budget import FINISH_S
from onnxbench.tuning.goals import parse_goal
from onnxbench.tuning.records import ABOutcome, Evidence, Fidelity, cut
from onnxbench.tuning.remedies import pad, squeeze_fix
from onnxbench.tuning.search import Search
from onnxbench.tuning.space import Candidate, Serving, Space


def _cand(i: int, runtime: str = "ort-cpu", threads: int = 1, precision: str = "fp32",
          serving: Serving | None = None, exporter: str | None = None) -> Candidate:
    return Candidate(runtime, exporter, precision, (("threads", threads), ("variant", i)),
                     serving)


def _cands(n: int, threads: int = 1) -> list[Candidate]:
    return [_cand(i, threads=threads) for i in range(n)]


class Fake:
    """Scripted measurements on a fake clock. A step costs, per new graph, ``export`` s
    (fp32) or ``derive`` s (another precision), then per process ``overhead[runtime]`` s
    plus the timed window; past ``limit_s`` it is stopped there (status ``budget``)."""

    def __init__(self, medians: dict[int, float], drops: dict[int, float] | None = None,
                 width: float = 0.01, cost: float = 1.0, verdicts: dict | None = None,
                 overhead: dict[str, float] | None = None, export: float = 0.0,
                 derive: float = 0.0):
        self.medians, self.drops, self.width, self.cost = medians, drops or {}, width, cost
        self.overhead, self.export, self.derive = overhead or {}, export, derive
        self.now = 0.0
        self.calls: list[tuple[str, list[int]]] = []
        self.steps: list[dict] = []
        self.built: set[str] = set()
        self.verdicts = verdicts or {}
        self.compared: list[tuple[int, int]] = []

    def clock(self) -> float:
        return self.now

    def build_cost(self, c: Candidate) -> float:
        if c.graph in self.built:
            return 0.0
        return self.export if c.precision == "fp32" else self.derive

    def step_cost(self, c: Candidate, fid: Fidelity) -> float:
        per = self.overhead.get(c.runtime, self.cost) + fid.seconds
        return self.build_cost(c) + fid.processes * per

    def __call__(self, stage: str, fid: Fidelity, cands: list[Candidate], *,
                 limit_s: float | None = None):
        self.calls.append((stage, [c.opts["variant"] for c in cands]))
        out = {}
        for c in cands:
            cost = self.step_cost(c, fid)
            start = self.now
            if limit_s is not None and cost > limit_s:
                self.now += limit_s
                self.steps.append({"runtime": c.runtime, "start": start, "end": self.now,
                                   "stopped": True})
                out[c.key] = Evidence(c.key, "budget", "ran past the limit")
                continue
            build = self.build_cost(c)
            self.now += cost
            self.steps.append({"runtime": c.runtime, "start": start, "end": self.now,
                               "stopped": False})
            self.built.add(c.graph)
            i = c.opts["variant"]
            m = self.medians[i]
            out[c.key] = Evidence(c.key, value=m, ci=(m * (1 - self.width), m * (1 + self.width)),
                                  accuracy_drop=self.drops.get(i, 0.0), build_s=build)
        return out

    def compare(self, a: Candidate, b: Candidate, seconds: float) -> ABOutcome:
        pair = (a.opts["variant"], b.opts["variant"])
        self.compared.append(pair)
        spent = min(seconds, 10.0)
        self.now += spent + 2.0
        return ABOutcome(self.verdicts.get(pair, "slower"), pairs=4, blocks_s=spent)


def _search(fake: Fake, cands, budget=1000.0, goal="latency", **kw) -> Search:
    return Search(parse_goal(goal), cands, fake, fake.compare, budget_s=budget,
                  clock=fake.clock, **kw)


# ------------------------------------------------------------------- the latency goal

def test_successive_halving_keeps_the_best_and_ties_with_the_cut_line():
    evs = [Evidence(str(i), value=v, ci=(v - 0.5, v + 0.5)) for i, v in
           enumerate([1, 2, 3, 3.2, 6, 7, 8, 9, 10])]
    kept = cut(evs)
    assert [e.key for e in kept] == ["0", "1", "2", "3"]  # 3 kept, "3" ties the cut line


def test_latency_search_picks_the_fastest_and_spends_rungs_on_survivors():
    fake = Fake({i: 10.0 + i for i in range(9)})
    d = _search(fake, _cands(9)).run()
    assert d.winner == _cands(9)[0].key and not d.ties and not d.exhausted
    rung = [i for stage, ids in fake.calls if stage.startswith("rung") for i in ids]
    assert rung and len(set(rung)) < 9 and 0 in rung and 8 not in rung


def test_a_tie_is_said_and_broken_by_cores():
    # two finalists whose CIs overlap; ab says "equivalent"; the 1-thread one has fewer cores
    two = [_cand(0, threads=2), _cand(1)]
    fake = Fake({0: 10.0, 1: 10.05}, width=0.02, verdicts={(0, 1): "equivalent"})
    d = _search(fake, two).run()
    assert fake.compared == [(0, 1)]
    assert d.winner == two[1].key and d.ties == [two[0].key]


def test_ab_faster_verdict_changes_the_pick():
    fake = Fake({0: 10.0, 1: 10.05}, width=0.02, verdicts={(0, 1): "faster"})
    cands = _cands(2)
    d = _search(fake, cands).run()
    assert d.winner == cands[1].key and not d.ties


def test_accuracy_violation_is_out_with_its_reason():
    fake = Fake({0: 5.0, 1: 9.0, 2: 12.0}, drops={0: 0.02, 1: 0.001})
    cands = _cands(3)
    d = _search(fake, cands, max_drop=0.005).run()
    assert d.winner == cands[1].key
    assert "accuracy drop 0.02 > the allowed 0.005" in d.dropped[cands[0].key]


# ------------------------------------------------------------------------ the budget

def _mixed_space() -> list[Candidate]:
    """ORT (two precisions, shared graphs), PyTorch, and a torch.compile whose every
    process costs 50 s: 24 candidates."""
    out = [_cand(i, "ort-cpu", threads=1 + i % 2, precision=("fp32", "int8-dynamic")[i // 6 % 2])
           for i in range(12)]
    out += [_cand(12 + i, "torch-cpu", threads=1 + i % 2) for i in range(6)]
    out += [_cand(18 + i, "torch-compile-cpu", threads=1 + i % 2) for i in range(6)]
    return out


@pytest.mark.parametrize("budget", [60.0, 90.0, 180.0])
def test_budget_holds_steps_planned_from_learned_costs(budget):
    medians = {i: 5.0 + (i % 7) * 0.7 for i in range(24)}
    fake = Fake(medians, overhead={"ort-cpu": 1.5, "torch-cpu": 4.0,
                                   "torch-compile-cpu": 50.0}, export=15.0, derive=2.0)
    cands = _mixed_space()
    s = _search(fake, cands, budget=budget)
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
    s = _search(fake, _mixed_space(), budget=200.0)
    s.run()
    compiled = [st for st in fake.steps if st["runtime"] == "torch-compile-cpu"]
    assert 1 <= len(compiled) <= 3
    assert s.costs.overhead_s("torch-compile-cpu", "screen") >= 49.0


def test_the_screen_keeps_back_time_for_a_rung():
    # 30 candidates at 3 s a screen would take the whole budget: the screen stops where a
    # rung of the best still fits, and that rung runs
    fake = Fake({i: 10.0 + i * 0.1 for i in range(30)}, overhead={"ort-cpu": 2.7}, width=0.001)
    s = _search(fake, _cands(30), budget=104.0)
    d = s.run()
    screened = [i for stage, ids in fake.calls if stage == "screen" for i in ids]
    rungs = [i for stage, ids in fake.calls if stage.startswith("rung") for i in ids]
    assert 10 <= len(screened) < 30 and len(rungs) >= 2
    assert fake.now <= 104.0 - FINISH_S and d.winner == s.by_key[d.winner].key


def test_a_step_past_its_estimate_is_stopped_at_the_deadline():
    # torch.compile's first step looks as cheap as ORT's (nothing learned about it yet) and
    # takes 50 s: it is stopped at the deadline, and the answer is ORT's
    cands = [_cand(0, "ort-cpu"), _cand(1, "torch-compile-cpu")]
    fake = Fake({0: 5.0, 1: 3.0}, overhead={"ort-cpu": 1.5, "torch-compile-cpu": 50.0},
                export=15.0)
    s = _search(fake, cands, budget=60.0)
    d = s.run()
    assert [st["stopped"] for st in fake.steps] == [False, True]
    assert fake.now <= 60.0 - FINISH_S and d.winner == cands[0].key and d.exhausted
    assert "stopped at the budget's end" in d.dropped[cands[1].key]


# ------------------------------------------------------------------------ rate goals

def test_rate_goal_picks_fewest_cores_and_never_measures_more():
    one = _cand(0, serving=Serving())
    two = _cand(1, serving=Serving("processes", 2))
    measured: list[str] = []

    def measure(stage, fid, cands, *, limit_s=None):
        measured.extend(f"{stage}:{c.opts['variant']}" for c in cands)
        return {c.key: Evidence(c.key, value=4.0, ci=(3.5, 4.5), met=True,
                                accuracy_drop=0.0) for c in cands}

    s = Search(parse_goal("p99<=10ms@200qps"), [one, two], measure, None, budget_s=1000,
               clock=lambda: 0.0)
    d = s.run()
    assert d.winner == one.key and d.evidence[one.key].confirmed
    assert not any(m.startswith("rate-2c") for m in measured)
    assert "1 cores holds the rate" in d.dropped[two.key]


class FakeLoad:
    """Single-stream medians for the screen; short peaks; confirmed peaks (or a failed
    confirmation); peaks whose search found no failing rate (lower bounds)."""

    def __init__(self, screen_ms, short, confirmed, *, fail=(), lower=(), width=0.03):
        self.screen_ms, self.short, self.confirmed = screen_ms, short, confirmed
        self.fail, self.lower, self.width = set(fail), set(lower), width
        self.calls: list[tuple[str, int, float]] = []
        self.starts: dict[int, float | None] = {}

    def __call__(self, stage, fid, cands, *, limit_s=None):
        out = {}
        for c in cands:
            v = c.opts["variant"]
            self.calls.append((stage, v, fid.confirm_s))
            if fid.confirm_s:
                self.starts[v] = fid.start_qps
            if fid.kind == "screen":
                m = self.screen_ms[v]
                out[c.key] = Evidence(c.key, value=m, ci=(m, m), accuracy_drop=0.0)
            elif fid.confirm_s and v in self.fail:
                out[c.key] = Evidence(c.key, "failed", "no rate held for 9 s: the 3 s search "
                                      "found 400 QPS, but 9 s at 400, 360 QPS failed")
            else:
                q = (self.confirmed if fid.confirm_s else self.short)[v]
                hi = math.inf if v in self.lower else q * (1 + self.width)
                out[c.key] = Evidence(c.key, value=q, ci=(q, hi), met=True,
                                      confirmed=bool(fid.confirm_s), lower_bound=v in self.lower)
        return out


def _peak_cands(n: int, cores: dict[int, int] | None = None) -> list[Candidate]:
    cores = cores or {}
    return [_cand(i, threads=cores.get(i, 1), serving=Serving()) for i in range(n)]


def _throughput(fake: FakeLoad, cands) -> Search:
    return Search(parse_goal("throughput", p99="50ms"), cands, fake, None, budget_s=1e5,
                  clock=lambda: 0.0)


def test_throughput_short_peaks_then_the_best_confirmed():
    cands = _peak_cands(6)
    fake = FakeLoad({i: 2.0 for i in range(6)}, {0: 100, 1: 150, 2: 200, 3: 250, 4: 300,
                                                 5: 400}, {4: 290, 5: 380})
    s = _throughput(fake, cands)
    d = s.run()
    short = [v for stage, v, _ in fake.calls if stage == "peak-short"]
    long = [(v, conf) for stage, v, conf in fake.calls if stage == "peak-confirmed"]
    assert sorted(short) == list(range(6))
    assert [v for v, _ in long] == [5, 4] and all(conf > 0 for _, conf in long)
    assert fake.starts == {5: 400, 4: 300}  # the longer search starts at the short peak
    assert d.winner == cands[5].key and d.evidence[cands[5].key].confirmed and not d.ties
    assert d.evidence[cands[5].key].value == 380
    assert "cut after the short peak search" in d.dropped[cands[0].key]
    text = paragraph(s.goal, Space(cands), d)
    assert "380 QPS (confirmed)" in text and "Runner-up" in text


def test_throughput_tie_when_confirmed_brackets_overlap_broken_by_cores():
    cands = _peak_cands(3, cores={2: 2})
    fake = FakeLoad({i: 2.0 for i in range(3)}, {0: 100, 1: 390, 2: 400},
                    {1: 375, 2: 380}, width=0.05)
    s = _throughput(fake, cands)
    d = s.run()
    assert d.winner == cands[1].key and d.ties == [cands[2].key]  # fewer cores wins the tie
    assert "A tie with" in paragraph(s.goal, Space(cands), d)


def test_throughput_failed_confirmation_is_out_and_a_lower_bound_ties_higher_peaks():
    cands = _peak_cands(4)
    fake = FakeLoad({i: 2.0 for i in range(4)}, {0: 100, 1: 240, 2: 300, 3: 400},
                    {1: 250, 2: 300, 3: 390}, fail={3}, lower={1})
    s = _throughput(fake, cands)
    d = s.run()
    # the highest short peak failed its confirmation: out, with the reason
    assert "no rate held for 9 s" in d.dropped[cands[3].key]
    # 250 QPS found no failing rate: only a lower bound, so it cannot lose to 300 QPS
    assert d.winner == cands[2].key and d.ties == [cands[1].key]
    row = next(r for r in rows(s.goal, Space(cands), d) if r["key"] == cands[1].key)
    assert row["lower_bound"] and row["ci"] == [250, None]


def test_throughput_engine_slower_than_the_bound_alone_is_never_load_tested():
    cands = _peak_cands(3)
    fake = FakeLoad({0: 2.0, 1: 80.0, 2: 3.0}, {0: 300, 2: 200}, {0: 290, 2: 190})
    d = _throughput(fake, cands).run()
    assert "one request alone takes 80 ms (median) > the bound 50 ms" in d.dropped[cands[1].key]
    assert all(v != 1 for stage, v, _ in fake.calls if stage.startswith("peak"))
    assert d.winner == cands[0].key


def test_peak_evidence_without_a_failing_rate_is_a_lower_bound():
    from onnxbench.tuning.evidence import load_evidence

    def result(bracket, limited=False):
        peak = SimpleNamespace(qps=300.0, bracket=bracket, value_ms=9.0, confirmed=True,
                               reason=None)
        load = SimpleNamespace(peak=peak, harness=SimpleNamespace(limited=limited))
        return SimpleNamespace(status="ok", reason=None, load=load)

    closed = load_evidence("k", result([300.0, 330.0]), "p")
    assert closed.ci == (300.0, 330.0) and not closed.lower_bound
    for res in (result([300.0, None]), result([300.0, 330.0], limited=True)):
        ev = load_evidence("k", res, "p")
        assert ev.lower_bound and ev.ci == (300.0, math.inf)


# ------------------------------------------------------------- the batch-1 remedies

class Hazard(Fake):
    """DCNMix at batch 1: an ORT graph without the export fix, or any runtime without
    padding, fails when it runs (the lint found the bare squeeze); ``broken`` remedies
    fail too."""

    def __init__(self, medians, broken=(), **kw):
        super().__init__(medians, **kw)
        self.broken = set(broken)
        self.failures: list[tuple[str, dict]] = []

    def __call__(self, stage, fid, cands, *, limit_s=None):
        out = super().__call__(stage, fid, cands, limit_s=limit_s)
        for c in cands:
            opts = c.opts
            fixed = ("fix" in opts and "fix" not in self.broken) or \
                ("pad_batch_to" in opts and "pad" not in self.broken)
            if not fixed:
                self.failures.append((c.runtime, opts))
                out[c.key] = Evidence(c.key, "failed", "Concat: Ranks of input data are "
                                      "different", failed_at="run",
                                      findings=("squeeze-no-axes",) if c.exporter else ())
        return out


def _hazard_space() -> list[Candidate]:
    ort = [_cand(i, "ort-cpu", threads=1 + i % 2, exporter="dynamo") for i in range(4)]
    return ort + [_cand(4 + i, "torch-cpu", threads=1 + i % 2) for i in range(2)]


def test_batch1_failure_is_measured_with_the_projects_remedy():
    fake = Hazard({i: 5.0 + i for i in range(6)})
    cands = _hazard_space()
    s = _search(fake, cands, remedies=(squeeze_fix(), pad()))
    d = s.run()
    win = s.by_key[d.winner]
    assert win.runtime == "ort-cpu" and win.opts["fix"] == "squeeze-dims"
    assert "with --fix squeeze-dims" in win.label()
    # each family failed once, then its candidates ran with its remedy: the export fix
    # for the ORT graph (its lint found the bare squeeze), padding for the PyTorch module
    assert sorted(r for r, _ in fake.failures) == ["ort-cpu", "torch-cpu"]
    torch = [c for c in d.added if c.runtime == "torch-cpu"]
    assert torch and all(c.opts["pad_batch_to"] == 2 for c in torch)
    first_ort = next(c for c in cands if c.key in d.dropped and c.runtime == "ort-cpu")
    assert "measured instead with --fix squeeze-dims" in d.dropped[first_ort.key]
    assert any("remedy --fix squeeze-dims" in n for n in d.notes)


def test_batch1_failure_whose_remedies_fail_says_which_were_tried():
    fake = Hazard({i: 5.0 for i in range(6)}, broken={"fix", "pad"})
    cands = _hazard_space()
    s = _search(fake, cands, remedies=(squeeze_fix(), pad()))
    d = s.run()
    assert d.winner is None
    reasons = [d.dropped[c.key] for c in cands]
    assert all("Ranks of input data" in r for r in reasons)
    assert any("--fix squeeze-dims failed too" in r and "pad_batch_to: 2 failed too" in r
               for r in reasons)
    text = paragraph(s.goal, Space(cands + d.added), d)
    assert "pad_batch_to: 2 failed too" in text  # never a bare "no configuration meets"


def test_no_remedy_at_batch_2():
    fake = Hazard({i: 5.0 for i in range(6)})
    s = Search(parse_goal("latency", batch=2), _hazard_space(), fake, fake.compare,
               budget_s=1000, clock=fake.clock, remedies=(squeeze_fix(), pad()))
    d = s.run()
    assert not d.added and d.winner is None


def test_what_to_paste_carries_the_remedy(tmp_path):
    import yaml

    from onnxbench.suite.parse import load_suite
    from onnxbench.tuning.paste import what_to_paste

    goal = parse_goal("latency")
    fixed = squeeze_fix().apply(_cand(0, "ort-cpu", exporter="dynamo"))
    paste = what_to_paste(fixed, goal, model="dcnv2", config="tiny", seq=None, accuracy={})
    assert paste["export"] == ("onnxbench export dcnv2 --config tiny --exporter dynamo "
                               "--fix squeeze-dims --out exports")
    assert "exports/dcnv2.onnx" in paste["session"]
    padded = pad().apply(_cand(1, "torch-cpu"))
    paste = what_to_paste(padded, goal, model="dcnv2", config="tiny", seq=None, accuracy={})
    assert paste["export"] is None and "pad every input to 2 rows" in paste["session"]
    for cand in (fixed, padded):
        text = what_to_paste(cand, goal, model="dcnv2", config="tiny", seq=None,
                             accuracy={})["suite_yaml"]
        doc = yaml.safe_load(text)
        doc["cases"][0]["options"].pop("variant")  # the fake candidates' tag
        (tmp_path / "s.yaml").write_text(yaml.safe_dump(doc))
        suite = load_suite(str(tmp_path / "s.yaml"))[0]
        opts = suite.cases[0].options
        assert opts.get("fix") == "squeeze-dims" or opts.get("pad_batch_to") == 2
