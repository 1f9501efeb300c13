"""The peak search (scenarios/peak.py) on a fake probe with known capacities: widen, then
bisect; the confirmation run that steps the rate down until one holds; the spec's check that
a confirmation is no shorter than a probe."""

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
    ({"duration_s": 40}, False),  # the default 30 s is shorter
    ({"duration_s": 5, "confirm_s": 5}, True),
    ({"duration_s": 40, "confirm_s": 0}, True),
])
def test_peak_confirm_shorter_than_a_probe_is_refused(fields, ok):
    make = lambda: LoadSpec(name="peak", bound_ms=10, **fields)  # noqa: E731
    if ok:
        assert make().confirm_s == fields.get("confirm_s", 30.0)
        return
    with pytest.raises(ValueError, match="is shorter than duration_s"):
        make()
