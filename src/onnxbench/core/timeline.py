"""Where a case's wall time goes, from its dispatch to its result: named time stamps.

Each process a case passes through (the driver, a Ray worker, the case's own isolated
process) marks the moments it sees with ``mark(name)``; the executor gathers them into the
case's ``Result.timeline`` (``{mark: seconds since the epoch}``, ``time.time()``: the
processes are different, and a cluster's hosts share only the wall clock). ``phases`` turns
a timeline into the durations between consecutive marks: the per-case fixed cost is every
phase but ``loop_end``'s (the timed iterations).

``MARKS`` lists the marks in the order a case meets them, each with what the phase ending
at it holds. A mark a path does not pass is absent: ``local`` has no Ray worker, a load
scenario or a pipeline case no single session and timing loop.
"""

from __future__ import annotations

import itertools
import time

# mark -> what the phase that ENDS at it holds (the docstring's table, and the doc's)
MARKS: dict[str, str] = {
    "dispatched": "",
    "worker_born": "schedule: the task or call waits for a Ray worker that is then started",
    "started": "to the executor's code where the case runs (Ray: scheduling, argument "
               "transfer; after worker_born: the new Ray worker's start and imports)",
    "artifact_ready": "artifact: the files at hand on the node (fetched, unpacked or found)",
    "fork_requested": "placement: the cores claimed (flock), the log's temp dir",
    "forkserver_ready": "fork server: started, its imports preloaded (only where this case "
                        "had to start it)",
    "worker_up": "fork: the case's own process forked and running",
    "imported": "imports: what the fork server had not preloaded",
    "session_start": "load: bundle resolved (graph, weights), inputs made",
    "session_ready": "session: the runtime's session created",
    "loop_start": "warm-up: first run and the policy's warm-up runs",
    "loop_end": "timed: the timed iterations (the measurement itself)",
    "worker_done": "after: statistics, parity, accuracy, profile pass, memory",
    "collected": "result back: pickled through the pipe, the process joined",
    "returned": "return: the Result to the driver (Ray's object transfer)",
}
TIMED = "loop_end"  # the phase that ends at this mark is the measurement, not overhead

_MARKS: dict[str, float] = {}


def mark(name: str, at: float | None = None, *, first: bool = False) -> None:
    """Record ``name`` now (or at ``at``) in this process's marks; ``first``: unless it
    is marked already (a case's timing loop is its first: a load point's pre-check is not
    its measurement, so the executor drops those marks there)."""
    if name not in MARKS:
        raise ValueError(f"unknown timeline mark {name!r}; known: {', '.join(MARKS)}")
    if not (first and name in _MARKS):
        _MARKS[name] = time.time() if at is None else at


def forget(*names: str) -> None:
    for name in names:
        _MARKS.pop(name, None)


def take() -> dict[str, float]:
    """This process's marks, and forget them (the next case starts clean)."""
    marks = dict(_MARKS)
    _MARKS.clear()
    return marks


def reset() -> None:
    _MARKS.clear()


def phases(timeline: dict[str, float]) -> dict[str, float]:
    """Seconds between consecutive marks, each phase named by the mark that ends it, in
    ``MARKS`` order. ``worker_born`` counts only when the Ray worker started after the
    dispatch (an older worker's birth is no part of this case)."""
    marks = [(m, timeline[m]) for m in MARKS if timeline.get(m) is not None]
    born, dispatched = timeline.get("worker_born"), timeline.get("dispatched")
    if born is not None and dispatched is not None and born <= dispatched:
        marks = [(m, t) for m, t in marks if m != "worker_born"]
    return {m: max(0.0, t - prev) for (_, prev), (m, t) in itertools.pairwise(marks)}


def overhead(timeline: dict[str, float]) -> float | None:
    """The case's fixed cost: dispatch to result, less the timed iterations (None: the
    timeline lacks an end or the timing loop)."""
    if any(timeline.get(m) is None for m in ("dispatched", "loop_start", TIMED, "returned")):
        return None
    return sum(s for m, s in phases(timeline).items() if m != TIMED)

