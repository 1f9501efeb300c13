"""The timing loop's stopping rules, driven by a deterministic fake clock."""

from __future__ import annotations

import numpy as np

from onnxbench.core.policy import MeasurePolicy
from onnxbench.measure import measure_case
from onnxbench.measure.timer import measure

MS = 1_000_000


class FakeModel:
    """A clock and a model that 'takes' a set number of fake nanoseconds per call."""

    def __init__(self, costs_ns):
        self.t = 0
        self.calls = 0
        self._costs = costs_ns

    def clock(self) -> int:
        return self.t

    def __call__(self) -> None:
        self.t += self._costs(self.calls)
        self.calls += 1


def constant(ns):
    return lambda i: ns


def policy(**kw) -> MeasurePolicy:
    base = dict(warmup=0, min_runs=1, max_runs=10_000, min_time_s=0.0, max_time_s=1000.0)
    base.update(kw)
    return MeasurePolicy(**base)


def test_max_runs_rule_and_first_run_and_warmup_apart():
    m = FakeModel(lambda i: 50 * MS if i == 0 else 1 * MS)
    t = measure(m, None, policy(warmup=3, max_runs=25), clock=m.clock)
    assert t.stop_rule == "max_runs"
    assert len(t.latencies_ms) == 25
    assert m.calls == 1 + 3 + 25
    assert t.first_run_ms == 50.0
    assert t.latencies_ms == [1.0] * 25
    assert t.warmup_runs == 3


def test_max_time_rule():
    m = FakeModel(constant(1 * MS))
    t = measure(m, None, policy(max_time_s=0.010, max_runs=1000), clock=m.clock)
    assert t.stop_rule == "max_time"
    assert len(t.latencies_ms) == 10
    assert t.timed_s == 0.010


def test_max_rules_win_over_mins():
    m = FakeModel(constant(1 * MS))
    t = measure(m, None, policy(min_runs=5, min_time_s=5.0, max_runs=5), clock=m.clock)
    assert (t.stop_rule, len(t.latencies_ms)) == ("max_runs", 5)
    m = FakeModel(constant(1 * MS))
    t = measure(m, None, policy(min_runs=50, max_time_s=0.003, target_ci_pct=50),
                clock=m.clock)
    assert (t.stop_rule, len(t.latencies_ms)) == ("max_time", 3)


def test_target_ci_stops_early_on_constant_latencies_once_min_runs_met():
    m = FakeModel(constant(1 * MS))
    t = measure(m, None, policy(min_runs=30, target_ci_pct=1.0), clock=m.clock)
    assert t.stop_rule == "target_ci"
    assert len(t.latencies_ms) == 30


def test_target_ci_waits_for_min_time():
    m = FakeModel(constant(1 * MS))
    t = measure(m, None, policy(min_runs=1, min_time_s=0.050, target_ci_pct=1.0), clock=m.clock)
    assert t.stop_rule == "target_ci"
    assert t.timed_s >= 0.050
    assert 50 <= len(t.latencies_ms) <= 60  # checked between chunks of ~10


def test_target_ci_not_reached_on_noisy_latencies():
    rng = np.random.default_rng(0)
    costs = (rng.uniform(0.1, 10.0, 400) * MS).astype(int)
    m = FakeModel(lambda i: int(costs[i % 400]))
    t = measure(m, None, policy(min_runs=10, max_runs=200, target_ci_pct=0.01), clock=m.clock)
    assert (t.stop_rule, len(t.latencies_ms)) == ("max_runs", 200)


def test_without_target_mins_do_not_stop_the_loop():
    m = FakeModel(constant(1 * MS))
    t = measure(m, None, policy(min_runs=5, max_runs=40), clock=m.clock)
    assert (t.stop_rule, len(t.latencies_ms)) == ("max_runs", 40)


def test_sync_runs_inside_the_timed_region_every_iteration():
    m = FakeModel(constant(1 * MS))
    syncs = []

    def sync():  # the 'device' finishes 2 ms after the host call returns
        syncs.append(1)
        m.t += 2 * MS

    t = measure(m, sync, policy(warmup=2, max_runs=7), clock=m.clock)
    assert len(syncs) == 1 + 2 + 7
    assert t.latencies_ms == [3.0] * 7
    assert "synchronize" in t.clock


def test_real_clock_and_measure_case():
    t, s = measure_case(lambda: sum(range(50)), None,
                        MeasurePolicy(warmup=2, max_runs=30, min_time_s=0, max_time_s=5))
    assert t.stop_rule == "max_runs"
    assert len(t.latencies_ms) == s.n == 30
    assert all(v > 0 for v in t.latencies_ms)
    assert s.min <= s.p50 <= s.max
