"""onnxbench's own open-loop generator: constant arrivals, and Poisson ones without LoadGen.

LoadGen's Server scenario draws Poisson inter-arrival times (``ScheduleDistribution<Server>``
is an exponential distribution); its constant-rate option exists only on a branch
(``server_constant_gen``, not in the ``mlcommons-loadgen`` 6.0 wheel). So constant arrivals
come from this small open-loop scheduler: request ``i`` is scheduled at ``t0 + i / qps`` and
issued at that time (sleeping until then; never waiting for completions). With ``poisson``
the gaps are exponential (numpy, seeded): the same arrival law as LoadGen's from other code
(no LoadGen, no trace to align), which is what re-checking a LoadGen peak with an
independent generator needs. A late issue keeps its scheduled time, so the delay counts in
its latency, as in LoadGen. When more than ``max_outstanding`` requests are in flight the
generator stops issuing and marks the run overloaded (LoadGen's ``server_max_async_queries``).
"""

from __future__ import annotations

import threading
import time

import numpy as np

from onnxbench.scenarios.analysis import Trace
from onnxbench.scenarios.serving import Front, Request, now


def schedule_ns(qps: float, n: int, arrival: str = "constant", seed: int = 0) -> np.ndarray:
    """Offsets (ns, from the first arrival) of ``n`` arrivals at ``qps``."""
    if arrival == "poisson":
        gaps = np.random.default_rng(seed).exponential(1e9 / qps, n)
        gaps[0] = 0.0
        return np.cumsum(gaps).astype(np.int64)
    return (np.arange(n) * (1e9 / qps)).astype(np.int64)


def run_open_loop(front: Front, qps: float, duration_s: float, *, min_queries: int = 0,
                 max_outstanding: int = 0, drain_s: float = 600.0, arrival: str = "constant",
                 seed: int = 0) -> Trace:
    """Issue ``max(qps × duration, min_queries)`` requests at ``qps`` (constant gaps, or
    Poisson ones with ``arrival="poisson"``); wait for all."""
    n = max(round(qps * duration_s), int(min_queries), 1)
    offsets = schedule_ns(qps, n, arrival, seed).tolist()
    requests: list[Request] = []
    state = {"done": 0}
    lock, all_done = threading.Lock(), threading.Event()

    def listener(batch: list[Request]) -> None:
        with lock:
            state["done"] += len(batch)
            if state["done"] == len(requests) and issuing_over.is_set():
                all_done.set()

    issuing_over = threading.Event()
    front.set_listener(listener)
    overloaded = False
    t0 = now() + 1_000_000
    sleep = time.sleep
    for i in range(n):
        scheduled = t0 + offsets[i]
        wait = scheduled - now()
        if wait > 0:
            sleep(wait / 1e9)
        if max_outstanding and len(requests) - state["done"] > max_outstanding:
            overloaded = True
            break
        req = Request(i, scheduled, now())
        with lock:
            requests.append(req)
        front.submit(req)
    with lock:
        issuing_over.set()
        if state["done"] == len(requests):
            all_done.set()
    if not all_done.wait(drain_s):
        raise RuntimeError(f"{len(requests) - state['done']} requests still in flight "
                           f"{drain_s:g} s after the last arrival")
    notes = [f"stopped issuing after {len(requests)} of {n} requests: more than "
             f"{max_outstanding} outstanding"] if overloaded else []
    what = "constant arrivals" if arrival == "constant" else f"Poisson arrivals, seed {seed}"
    return Trace(f"onnxbench open loop ({what})", requests, overloaded, notes=notes)


__all__ = ["run_open_loop", "schedule_ns"]
