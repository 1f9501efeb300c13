"""The stationarity test of a load window (scenarios/stationarity.py) on synthetic traces:
a FIFO queue of ``workers`` servers with Poisson arrivals and a known service time
(Lindley's recursion), so the truth is known: stable, near saturation, growing."""

from __future__ import annotations

import numpy as np
import pytest

from onnxbench.scenarios.analysis import Trace, analyse, bound_check
from onnxbench.scenarios.serving import Request
from onnxbench.scenarios.stationarity import MIN_BINS, MIN_PER_BIN, NEAR_RHO, assess, trend

MS = 1_000_000


def queue_trace(rho: float, *, service_ms: float = 1.0, workers: int = 1, seconds: float = 10.0,
                seed: int = 0, stall: tuple[float, float] | None = None) -> dict[str, np.ndarray]:
    """Per-request ns arrays of an M/D/c FIFO queue at utilisation ``rho`` (service times
    jittered 5 %); ``stall=(at_s, for_s)``: no worker starts anything during it."""
    rng = np.random.default_rng(seed)
    rate = rho * workers / (service_ms / 1000.0)
    n = rng.poisson(rate * seconds)
    sched = np.sort(rng.uniform(0.0, seconds, n))
    service = service_ms / 1000.0 * rng.lognormal(0.0, 0.05, n)
    free = np.zeros(workers)
    start = np.empty(n)
    who = np.empty(n, dtype=np.int64)
    for i in range(n):
        w = int(np.argmin(free))
        t = max(sched[i], free[w])
        if stall and stall[0] <= t < stall[0] + stall[1]:
            t = stall[0] + stall[1]
        start[i], who[i] = t, w
        free[w] = t + service[i]
    ns = lambda x: (np.asarray(x) * 1e9).astype(np.int64)  # noqa: E731
    done = ns(start + service)
    return {"scheduled": ns(sched), "issued": ns(sched), "started": ns(start), "done": done,
            "finished": done.copy(), "batch": np.ones(n, dtype=np.int64), "worker": who,
            "ok": np.ones(n, dtype=bool)}


def _verdict(rho: float, **kw) -> str:
    workers = kw.get("workers", 1)
    s = assess(queue_trace(rho, **kw), workers=workers,
               target_qps=rho * workers / (kw.get("service_ms", 1.0) / 1000.0))
    assert s is not None
    return s.verdict


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("rho,expected", [(0.6, "stable"), (0.95, "near"), (1.1, "growing")])
def test_verdict_on_queues_of_known_utilisation(rho, expected, seed):
    assert _verdict(rho, seed=seed) == expected
    assert _verdict(rho, seed=seed, workers=2, service_ms=3.0) == expected


def test_a_growing_queue_says_how_fast_it_grew():
    """ρ 1.1 for 10 s: the queue grows by (ρ − 1) s per s, 100 ms/s; the reason says so."""
    s = assess(queue_trace(1.1), workers=1, target_qps=1100.0)
    assert s.verdict == "growing" and s.queue_slope_low > 0
    assert 60 <= s.queue_slope <= 140, s.queue_slope  # (1.1 - 1) × 1000 ms/s, with noise
    assert s.reason.startswith("queue grew ") and " ms/s over the " in s.reason
    assert s.queue_last_third_ms > 3 * s.queue_first_third_ms  # ~ (5/6) / (1/6)
    assert s.backlog > 100 and s.rho == pytest.approx(1.1, rel=0.05)
    assert s.capacity_qps == pytest.approx(1000.0, rel=0.05)


def test_overload_is_growing_from_utilisation_alone():
    """ρ is taken at the target rate: one worker busy 1 ms per request cannot serve 1500 QPS,
    whatever this window's queue did (here it saw a third of that), so the rate is not
    sustainable: ρ's lower bound is above 1."""
    s = assess(queue_trace(0.5), workers=1, target_qps=1500.0)
    assert s.queue_slope_low is not None and s.queue_slope_low <= 0  # no trend here
    assert s.rho_ci and s.rho_ci[0] >= 1.0 and s.verdict == "growing"
    assert "exceeds the workers' capacity" in s.reason and "ρ 1.5" in s.reason


@pytest.mark.parametrize("seed", range(3))
def test_one_stall_that_drains_is_not_a_trend(seed):
    """100 ms near the end with no worker starting anything, then the queue drains (ρ 0.6):
    the tail shows it, the trend of bin medians does not (bin means would tilt it)."""
    a = queue_trace(0.6, stall=(9.2, 0.1), seed=seed)
    s = assess(a, workers=1, target_qps=600.0)
    assert s.verdict == "stable", s.reason
    assert abs(s.queue_slope) < 0.3, s.queue_slope
    assert (a["started"] - a["scheduled"]).max() > 50 * MS  # the stall is in the trace


def test_a_slowing_service_is_a_growing_latency():
    """The queue stays short but each request takes longer and longer: not stationary."""
    a = queue_trace(0.3)
    stretch = ((a["scheduled"] - a["scheduled"][0]) * 0.002).astype(np.int64)  # +2 ms/s
    a["done"] = a["done"] + stretch
    a["finished"] = a["done"].copy()
    s = assess(a, workers=4, target_qps=300.0)
    assert s.verdict == "growing" and s.reason.startswith("latency grew"), s.reason


def test_too_few_requests_to_bin_is_unknown_and_closed_loops_are_not_tested():
    few = queue_trace(0.5, seconds=0.04)
    n = few["scheduled"].size
    assert n < MIN_BINS * MIN_PER_BIN
    s = assess(few, workers=1, target_qps=500.0)
    assert s.verdict == "unknown" and "too few" in s.reason
    closed = assess(queue_trace(0.5), workers=1, open_loop=False)
    assert closed.verdict == "n/a" and closed.queue_slope is None and closed.rho is not None


def test_utilisation_counts_the_workers_own_time_and_a_batch_once():
    """Processes: completion is when the reply is back (later than the worker's own end);
    a batch's call is shared by its requests. ρ counts the worker's busy time."""
    a = queue_trace(0.5, workers=2, service_ms=2.0)
    base = assess(a, workers=2, target_qps=500.0)
    late = dict(a, done=a["done"] + 3 * MS)  # 3 ms of IPC after the worker is free
    assert assess(late, workers=2, target_qps=500.0).rho == pytest.approx(base.rho)
    paired = dict(a, batch=np.full(a["batch"].size, 2), started=a["started"])
    assert assess(paired, workers=2, target_qps=500.0).rho == pytest.approx(base.rho / 2)
    assert base.rho == pytest.approx(0.5, rel=0.05) and base.rho < NEAR_RHO


def test_trend_slope_and_its_bound():
    t = np.linspace(0.0, 10.0, 1000)
    flat = np.random.default_rng(0).normal(5.0, 1.0, t.size)
    slope, low = trend(t, flat, 10)
    assert low < 0 < slope + 1 and abs(slope) < 0.5
    slope, low = trend(t, flat + 3.0 * t, 10)
    assert 2.5 < slope < 3.5 and low > 0
    assert trend(t[:2], flat[:2], 2) == (None, None)


def test_a_growing_queue_fails_the_bound_whatever_its_percentile():
    a = queue_trace(1.1)
    s = assess(a, workers=1, target_qps=1100.0)
    latency = (a["done"] - a["scheduled"]) / 1e6
    generous = float(latency.max()) + 1.0
    check = bound_check(latency, 99.0, generous, s)
    assert check.percentile_met and not check.met and check.why_not == s.reason
    stable = assess(queue_trace(0.5), workers=1, target_qps=500.0)
    assert bound_check(latency, 99.0, generous, stable).met


def test_analyse_records_the_stationarity_of_a_trace():
    a = queue_trace(1.1)
    reqs = []
    for i in range(a["scheduled"].size):
        r = Request(i, int(a["scheduled"][i]), int(a["issued"][i]))
        r.started, r.done, r.finished = int(a["started"][i]), int(a["done"][i]), int(a["done"][i])
        r.batch, r.worker = 1, int(a["worker"][i])
        reqs.append(r)
    out = analyse(Trace("synthetic", reqs), bound_ms=1e6, workers=1, target_qps=1100.0)
    assert out["stationarity"].verdict == "growing" and not out["bound"].met
    assert "stationarity" not in analyse(Trace("synthetic", reqs))  # no workers: not tested


def test_a_drift_smaller_than_one_busy_time_over_the_window_is_not_growth():
    """0.08 ms/s over 10 s (0.8 ms, under one 1 ms service time): significant, immaterial."""
    a = queue_trace(0.3)
    drift = ((a["scheduled"] - a["scheduled"][0]) * 0.00008).astype(np.int64)
    a["started"], a["done"] = a["started"] + drift, a["done"] + drift
    a["finished"] = a["done"].copy()
    s = assess(a, workers=1, target_qps=300.0)
    assert s.queue_slope_low > 0 and s.verdict == "stable"
