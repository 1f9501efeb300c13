"""``tune``'s rate and throughput goals on fake measurements: fewest cores, short peaks then
the best confirmed, ties of overlapping brackets, a failed confirmation, peaks that are only
lower bounds, engines slower than the bound alone."""

from __future__ import annotations

import math
from types import SimpleNamespace

from onnxbench.tuning.answer import paragraph, rows
from onnxbench.tuning.goals import parse_goal
from onnxbench.tuning.records import Evidence
from onnxbench.tuning.search import Search
from onnxbench.tuning.space import Candidate, Serving, Space
from tune_fakes import make_cand

# ------------------------------------------------------------------------ rate goals

def test_rate_goal_picks_fewest_cores_and_never_measures_more():
    one = make_cand(0, serving=Serving())
    two = make_cand(1, serving=Serving("processes", 2))
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


def _peakcands(n: int, cores: dict[int, int] | None = None) -> list[Candidate]:
    cores = cores or {}
    return [make_cand(i, threads=cores.get(i, 1), serving=Serving()) for i in range(n)]


def _throughput(fake: FakeLoad, cands) -> Search:
    return Search(parse_goal("throughput", p99="50ms"), cands, fake, None, budget_s=1e5,
                  clock=lambda: 0.0)


def test_throughput_short_peaks_then_the_best_confirmed():
    cands = _peakcands(6)
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
    cands = _peakcands(3, cores={2: 2})
    fake = FakeLoad({i: 2.0 for i in range(3)}, {0: 100, 1: 390, 2: 400},
                    {1: 375, 2: 380}, width=0.05)
    s = _throughput(fake, cands)
    d = s.run()
    assert d.winner == cands[1].key and d.ties == [cands[2].key]  # fewer cores wins the tie
    assert "A tie with" in paragraph(s.goal, Space(cands), d)


def test_throughput_failed_confirmation_is_out_and_a_lower_bound_ties_higher_peaks():
    cands = _peakcands(4)
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
    cands = _peakcands(3)
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
