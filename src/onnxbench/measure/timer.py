"""The timing loop: first run, warm-up, then timed iterations under the stopping rules.

The loop knows nothing about ONNX Runtime or PyTorch: it calls a zero-argument ``fn``
(a runtime's ``bind(inputs)``) and, on devices, ``sync`` after each call so the time is the
device's. Every raw latency is kept.

Stopping rules (``MeasurePolicy``): the max rules always win: stop at ``max_runs`` or once
``max_time_s`` has elapsed, whichever first. With ``target_ci_pct`` set, the loop may stop
earlier, but only after both ``min_runs`` and ``min_time_s`` are met, once the 95 % CI of the
median is within ``target_ci_pct`` % of it. Without a target, the mins do not stop anything.

Overhead: the hot loop is specialised for ``sync is None``, binds everything to locals and
does per iteration only two clock reads, the call, one subtraction, one append of an int
and one comparison against the deadline. The CI check runs between chunks of iterations,
outside any timed region.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from onnxbench.core import timeline
from onnxbench.core.policy import MeasurePolicy
from onnxbench.core.result import Timing
from onnxbench.measure.stats import median_ci_halfwidth_pct

Clock = Callable[[], int]
_NS_PER_MS = 1_000_000
_CI_CHECK_EVERY = 10  # iterations between precision checks (grows with n, see _check_interval)


def measure(fn: Callable[[], Any], sync: Callable[[], None] | None, policy: MeasurePolicy,
            *, clock: Clock = time.perf_counter_ns) -> Timing:
    """Time ``fn`` under ``policy``; returns a ``Timing`` with every raw latency in ms.

    ``clock`` (integer nanoseconds) is injectable so tests can drive the stopping rules
    with a deterministic fake clock; production uses ``time.perf_counter_ns``.
    """
    t0 = clock()
    fn()
    if sync is not None:
        sync()
    first_run_ms = (clock() - t0) / _NS_PER_MS
    for _ in range(policy.warmup):
        fn()
        if sync is not None:
            sync()
    lat_ns: list[int] = []
    timeline.mark("loop_start", first=True)  # a process's first loop: its case's
    rule, timed_ns = _timed_loop(fn, sync, policy, clock, lat_ns)
    timeline.mark("loop_end", first=True)
    return Timing(
        first_run_ms=first_run_ms,
        warmup_runs=policy.warmup,
        stop_rule=rule,
        timed_s=timed_ns / 1e9,
        clock="time.perf_counter_ns, host, after synchronize()" if sync is not None
        else "time.perf_counter_ns, host",
        latencies_ms=[v / _NS_PER_MS for v in lat_ns],
    )


def _timed_loop(fn: Callable[[], Any], sync: Callable[[], None] | None,
                policy: MeasurePolicy, clock: Clock, lat_ns: list[int]) -> tuple[str, int]:
    """Run chunks of timed iterations until a rule stops; returns (rule, elapsed ns)."""
    start = clock()
    max_deadline = start + int(policy.max_time_s * 1e9)
    min_deadline = start + int(policy.min_time_s * 1e9)
    target = policy.target_ci_pct
    last = start
    while True:
        n = len(lat_ns)
        if n >= policy.max_runs:
            return "max_runs", last - start
        if last >= max_deadline:
            return "max_time", last - start
        mins_met = n >= policy.min_runs and last >= min_deadline
        if target is not None and mins_met and median_ci_halfwidth_pct(lat_ns) <= target:
            return "target_ci", last - start
        chunk = policy.max_runs - n
        if target is not None:
            chunk = min(chunk, _check_interval(n, policy.min_runs))
        ended = _run_chunk(fn, sync, chunk, max_deadline, clock, lat_ns.append)
        # defensive: zero-length chunk cannot happen, but never spin
        last = clock() if ended is None else ended


def _check_interval(n: int, min_runs: int) -> int:
    """Iterations until the next CI check: reach min_runs first, then ~every 10 or n/20.

    Growing with n keeps the total cost of the checks O(n log n)-ish for long runs.
    """
    if n < min_runs:
        return min_runs - n
    return max(_CI_CHECK_EVERY, n // 20)


def _run_chunk(fn: Callable[[], Any], sync: Callable[[], None] | None, count: int,
               deadline: int, clock: Clock, append: Callable[[int], None]) -> int | None:
    """The hot loop: ``count`` timed iterations, stopping early at ``deadline``.

    Returns the clock value at the end of the last iteration (None if none ran).
    """
    t1 = None
    if sync is None:
        for _ in range(count):
            t0 = clock()
            fn()
            t1 = clock()
            append(t1 - t0)
            if t1 >= deadline:
                break
    else:
        for _ in range(count):
            t0 = clock()
            fn()
            sync()
            t1 = clock()
            append(t1 - t0)
            if t1 >= deadline:
                break
    return t1
