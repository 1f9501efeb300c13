"""The peak search (scenarios/peak.py) on a fake probe with known capacities: widen, then
bisect, never past the capacity bound; the confirmation run that steps the rate down until
one holds; the lower bound when none holds; the probe gate on a real front (a queue that
grows is not met whatever its percentile); the spec's check that a confirmation is no
shorter than a probe."""

from __future__ import annotations

import pytest

from onnxbench.core.load_record import Probe
from onnxbench.core.load_spec import LoadSpec
from onnxbench.scenarios.peak import MAX_CONFIRMS, ProbeOutcome, find_peak


def _fake_probe(capacity: float, sustained: float | None = None, long_s: float = 30.0):
    """Passes up to ``capacity`` in short windows, up to ``sustained`` in windows of at least
    ``long_s`` seconds (the stall a short window rarely sees)."""
    def probe(qps: float, phase: str, duration_s: float) -> ProbeOutcome:
        limit = sustained if sustained is not None and duration_s >= long_s else capacity
        met = qps <= limit
        return ProbeOutcome(Probe(target_qps=qps, achieved_qps=min(qps, limit),
                                  value_ms=5.0 if met else 50.0, met=met, confidence=0.999,
                                  n=1000, phase=phase, duration_s=duration_s))
    return probe


@pytest.mark.parametrize("start", [37.0, 5000.0])
def test_peak_search_widens_then_bisects(start):
    peak, tried, best = find_peak(_fake_probe(1000.0), start, bound_ms=10, percentile=99,
                                  precision_pct=2, duration_s=5)
    assert peak.converged and best is not None
    assert 0.98 * 1000 <= peak.qps <= 1000 < peak.bracket[1] <= 1.02 * peak.qps
    phases = [t.probe.phase for t in tried]
    assert "bisect" in phases and phases[0] == "start"


def test_peak_search_says_when_nothing_passes():
    peak, _, best = find_peak(_fake_probe(0.0), 100.0, bound_ms=10, percentile=99,
                              precision_pct=5, duration_s=5)
    assert best is None and peak.qps is None and "no rate met the bound" in peak.reason


def test_peak_confirmation_steps_down_to_a_rate_that_holds():
    """Short windows pass up to 1000 QPS, 30 s windows only up to 800: the peak is the
    highest rate of the step-down grid (search rate × 0.9^k) at or below 800, confirmed."""
    peak, tried, best = find_peak(_fake_probe(1000.0, sustained=800.0), 300.0, bound_ms=10,
                                  percentile=99, precision_pct=2, duration_s=5, confirm_s=30)
    search = peak.search_qps
    assert 0.98 * 1000 <= search <= 1000
    grid = [search * 0.9 ** k for k in range(MAX_CONFIRMS)]
    expected = max(q for q in grid if q <= 800)
    assert peak.confirmed and best is not None and peak.confirm_s == 30
    assert peak.qps == pytest.approx(expected) and peak.qps <= 800
    assert best.probe.phase == "confirm" and best.probe.target_qps == peak.qps
    confirms = [t.probe for t in tried if t.probe.phase == "confirm"]
    assert [c.target_qps for c in confirms] == pytest.approx([q for q in grid if q >= expected])
    assert all(c.duration_s == 30 for c in confirms)
    assert [c.met for c in confirms] == [False] * (len(confirms) - 1) + [True]
    assert all(t.probe.duration_s == 5 for t in tried if t.probe.phase != "confirm")
    assert peak.bracket[0] == search  # the short-window search's bracket is kept


def test_peak_confirmation_that_holds_at_once_keeps_the_search_rate():
    peak, tried, _ = find_peak(_fake_probe(1000.0), 300.0, bound_ms=10, percentile=99,
                               precision_pct=2, duration_s=5, confirm_s=30)
    assert peak.confirmed and peak.qps == peak.search_qps
    assert [t.probe.phase for t in tried].count("confirm") == 1


def test_peak_without_confirmation_is_todays_search():
    with_off, tried, best = find_peak(_fake_probe(1000.0, sustained=800.0), 300.0, bound_ms=10,
                                      percentile=99, precision_pct=2, duration_s=5, confirm_s=0)
    assert "confirm" not in [t.probe.phase for t in tried] and best is not None
    assert not with_off.confirmed and with_off.confirm_s == 0
    assert with_off.qps == with_off.search_qps == best.probe.target_qps > 800


def test_peak_with_no_confirmation_holding_fails_naming_both_rates():
    peak, tried, best = find_peak(_fake_probe(1000.0, sustained=100.0), 300.0, bound_ms=10,
                                  percentile=99, precision_pct=2, duration_s=5, confirm_s=30)
    confirms = [t.probe for t in tried if t.probe.phase == "confirm"]
    assert best is None and peak.qps is None and not peak.confirmed
    assert len(confirms) == MAX_CONFIRMS and not any(c.met for c in confirms)
    assert peak.reason and "\n" not in peak.reason and "no rate held for 30 s" in peak.reason
    assert f"{peak.search_qps:.4g} QPS" in peak.reason
    assert f"{confirms[-1].target_qps:.4g} QPS" in peak.reason


@pytest.mark.parametrize("fields,ok", [
    ({"duration_s": 5, "confirm_s": 4}, False),
    ({"duration_s": 90}, False),  # the default 60 s is shorter
    ({"duration_s": 5, "confirm_s": 5}, True),
    ({"duration_s": 90, "confirm_s": 0}, True),
])
def test_peak_confirm_shorter_than_a_probe_is_refused(fields, ok):
    make = lambda: LoadSpec(name="peak", bound_ms=10, **fields)  # noqa: E731
    if ok:
        assert make().confirm_s == fields.get("confirm_s", 60.0)
        return
    with pytest.raises(ValueError, match="is shorter than duration_s"):
        make()


# ---- utilisation, the capacity bound, the lower bound ---------------------------------

def _queue_probe(capacity: float, sustained: float | None = None, long_s: float = 30.0,
                 met_below: float = 1.0):
    """Each probe measures ρ = qps / capacity and reports the capacity (1 % above: an upper
    confidence bound); short windows pass while ρ < ``met_below``, windows of ``long_s`` or
    more only up to ``sustained``."""
    def probe(qps: float, phase: str, duration_s: float) -> ProbeOutcome:
        rho = qps / capacity
        met = rho <= met_below if sustained is None or duration_s < long_s else qps <= sustained
        return ProbeOutcome(Probe(target_qps=qps, achieved_qps=min(qps, capacity),
                                  value_ms=5.0, met=met, confidence=0.999, n=1000, phase=phase,
                                  duration_s=duration_s, window_s=duration_s, rho=rho,
                                  capacity_qps=1.01 * capacity,
                                  queue="stable" if met else "growing",
                                  why_not=None if met else "queue grew 40 ms/s"))
    return probe


@pytest.mark.parametrize("met_below", [0.97, 1.0])
def test_the_search_never_probes_past_the_capacity_bound(met_below):
    """Workers busy 1 ms each (capacity 1000 QPS): the search bisects below the measured
    capacity instead of widening to 1600 QPS; where no probe below it fails, the bracket's
    upper end is the capacity itself (``capped``)."""
    peak, tried, best = find_peak(_queue_probe(1000.0, met_below=met_below), 100.0,
                                  bound_ms=10, percentile=99, precision_pct=2, duration_s=5)
    rates = [t.probe.target_qps for t in tried]
    assert max(rates) <= 1010.0 and best is not None and peak.converged, rates
    assert 0.98 * met_below * 1000 <= peak.qps <= met_below * 1000
    assert peak.capacity_qps == pytest.approx(1010.0)
    assert peak.capped == (met_below == 1.0)
    if peak.capped:
        assert peak.bracket[1] == pytest.approx(1010.0)


def test_a_failed_confirmation_steps_down_to_what_its_utilisation_allows():
    """The 60 s run at the search's 1000 QPS measured ρ 1.43: the next rate is 95 % of the
    capacity that run saw (665 QPS), not 10 % less (900, 810, 729: all would fail)."""
    peak, tried, best = find_peak(_queue_probe(700.0, sustained=600.0, long_s=60,
                                               met_below=1.0e9), 1000.0, bound_ms=10,
                                  percentile=99, precision_pct=50, duration_s=5, confirm_s=60)
    confirms = [t.probe.target_qps for t in tried if t.probe.phase == "confirm"]
    assert confirms[0] == peak.search_qps
    assert confirms[1] == pytest.approx(0.95 * confirms[0] / (confirms[0] / 700.0))
    assert peak.confirmed and peak.qps <= 600.0 and best is not None
    assert peak.evidence is best.probe and peak.evidence.window_s == 60


def test_no_confirmation_holding_leaves_the_highest_rate_that_held_as_a_lower_bound():
    peak, tried, best = find_peak(_fake_probe(1000.0, sustained=0.0), 300.0, bound_ms=10,
                                  percentile=99, precision_pct=2, duration_s=5, confirm_s=30)
    assert best is None and peak.qps is None and peak.evidence is None
    held = peak.lower_bound
    top = max(t.probe.target_qps for t in tried if t.probe.met)
    assert held is not None and held.target_qps == top and held.duration_s == 5
    assert held.phase != "confirm" and "the highest rate that held" in peak.reason
    assert f"{top:.4g} QPS for 5 s" in peak.reason


def test_a_search_where_nothing_held_has_no_lower_bound():
    peak, _, _ = find_peak(_fake_probe(0.0), 100.0, bound_ms=10, percentile=99,
                           precision_pct=5, duration_s=5, confirm_s=30)
    assert peak.lower_bound is None and "highest rate that held" not in (peak.reason or "")


# ---- the probe on a real front: a growing queue is not met ----------------------------

def test_a_probe_whose_queue_grows_is_not_met_whatever_its_percentile():
    """One worker sleeping 2 ms (capacity ~ 500 QPS) under a bound of 100 s that any window
    meets: at ρ ≈ 1.4 the probe fails, saying the queue grew; at ρ ≈ 0.3 it holds."""
    import time

    from onnxbench.scenarios.affinity import plan_cpus
    from onnxbench.scenarios.run import _probe
    from onnxbench.scenarios.serving import Front, ThreadPool

    spec = LoadSpec(name="peak", arrival="constant", bound_ms=100_000, percentile=90,
                    duration_s=1.0, confirm_s=0, ceiling=False)
    front = Front(lambda done: ThreadPool([lambda k: (lambda: time.sleep(0.002))], done))
    front.start()
    try:
        over = _probe(spec, front, 1, plan_cpus([0]), 700.0, "widen", 1.0).probe
        under = _probe(spec, front, 1, plan_cpus([0]), 150.0, "widen", 1.0).probe
    finally:
        front.stop()
    assert over.value_ms is not None and over.value_ms < 100_000  # the percentile passed
    assert not over.met and over.queue == "growing" and over.rho > 1
    assert over.why_not and ("grew" in over.why_not or "capacity" in over.why_not)
    assert under.met and under.queue in ("stable", "near") and under.rho < 1
    assert over.capacity_qps and over.capacity_qps < 700.0


def test_dynamic_batching_offers_no_capacity_bound():
    """Batches grow with the load: a capacity measured at one rate understates a higher one."""
    from onnxbench.core.load_record import Stationarity
    from onnxbench.scenarios.run import _capacity

    queue = Stationarity(verdict="stable", window_s=5, capacity_qps=900.0,
                         capacity_high_qps=950.0)
    plain = LoadSpec(name="peak", bound_ms=10)
    assert _capacity(plain, queue) == 950.0
    assert _capacity(plain.model_copy(update={"max_batch": 8}), queue) is None
