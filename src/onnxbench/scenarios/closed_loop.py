"""N callers in a closed loop (perf_analyzer's concurrency mode): the concurrency scenario.

Each caller sends its next request the moment its last one returns, until ``duration_s``
has passed since the start; then the requests in flight drain. No caller threads: the first
``concurrency`` requests are submitted at once, and each completion submits its caller's
next one from the completion callback, so exactly ``concurrency`` requests are in flight
(issued and not completed) at every instant but the few microseconds of each hand-over.
A request's scheduled time is when its caller would send it (the previous one's completion,
or the start), so latency is measured the same way as in the open-loop scenarios.
"""

from __future__ import annotations

import itertools
import threading

from onnxbench.scenarios.analysis import Trace
from onnxbench.scenarios.serving import Front, Request, now


def run_closed_loop(front: Front, concurrency: int, duration_s: float, *,
                    drain_s: float = 600.0) -> Trace:
    """Keep ``concurrency`` requests in flight for ``duration_s``; return every request."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    requests: list[Request] = []
    ids = itertools.count()
    lock, finished = threading.Lock(), threading.Event()
    state = {"in_flight": 0}
    start = now()
    deadline = start + int(duration_s * 1e9)

    def send(scheduled: int) -> None:
        """Submit a caller's request (its in-flight slot is already counted)."""
        req = Request(next(ids), scheduled, now())
        with lock:
            requests.append(req)
        front.submit(req)

    def listener(batch: list[Request]) -> None:
        for r in batch:
            with lock:  # decide under the lock: the last completion after the end finishes
                again = r.done < deadline
                if not again:
                    state["in_flight"] -= 1
                    if state["in_flight"] == 0:
                        finished.set()
            if again:
                send(r.done)

    front.set_listener(listener)
    state["in_flight"] = concurrency
    for _ in range(concurrency):
        send(start)
    if not finished.wait(duration_s + drain_s):
        raise RuntimeError(f"closed loop: {state['in_flight']} requests still in flight "
                           f"{drain_s:g} s after the end")
    with lock:
        return Trace(f"onnxbench closed loop ({concurrency} callers)", list(requests))


__all__ = ["run_closed_loop"]
