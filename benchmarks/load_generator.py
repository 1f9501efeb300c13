"""The load generator's own ceiling and scheduling error, against a no-op runtime.

What limits onnxbench's load numbers on this machine before any model does: each generator
(MLPerf LoadGen's Server scenario, Poisson; the constant-arrival open loop; the closed loop;
LoadGen's Offline) drives a no-op runtime through a thread pool (1 and 2 workers) and, for
the closed loop, through 2 worker processes. Every window runs with Python's cyclic garbage
collector off, as onnxbench's load windows do (docs/benchmarks/gc_stalls.md says why). For
the open-loop generators, at each target rate: the achieved rate, and the scheduling error
of the arrivals (issued minus scheduled: when the request reached the server against when it
should have, median and p99) with the no-op's latency from the scheduled arrival (p99). The
ceiling of a generator and layout is the highest rate it completed. ``onnxbench load``
measures the same ceiling before each load point (briefly) and marks a result within half of
it harness-limited.

    PYTHONPATH=src .venv/bin/python benchmarks/load_generator.py [--seconds 3] [--write]

``--write`` saves the markdown to docs/benchmarks/load_generator.md. ``--seconds 0.3`` is a
dry run (numbers not for committing). Run it on a quiet machine: every other process steals
the generator's time slices, which is exactly what it measures.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import numpy as np

from _output import DOCS, emit
from onnxbench.isolation import env as env_mod
from onnxbench.measure.gcpause import gc_paused
from onnxbench.scenarios.analysis import analyse, issue_delay_ms
from onnxbench.scenarios.arrivals import run_open_loop
from onnxbench.scenarios.closed_loop import run_closed_loop
from onnxbench.scenarios.loadgen import loadgen_version, run_offline, run_server
from onnxbench.scenarios.serving import Front, ProcessPool, ThreadPool, noop_callset

OUT = DOCS / "load_generator.md"
RATES = (500, 1000, 2000, 5000, 10000, 20000, 40000)
CONCURRENCY = (1, 2, 4, 8)


def thread_front(workers: int) -> Front:
    front = Front.around(ThreadPool([noop_callset] * workers))
    front.start()
    return front


def process_front(workers: int) -> Front:
    pool = ProcessPool(workers, lambda i: noop_callset)
    pool.fork()
    front = Front.around(pool)
    front.start()
    return front


def open_loop_rows(seconds: float) -> list[list[str]]:
    rows = []
    for workers in (1, 2):
        for name, run in (("LoadGen Server (Poisson)", _loadgen), ("open loop (constant)",
                                                                   _constant)):
            for rate in RATES:
                front = thread_front(workers)
                try:
                    trace = run(front, rate, seconds)
                finally:
                    front.stop()
                a = analyse(trace)
                d50, d99 = issue_delay_ms(trace)
                rows.append([name, f"{workers} thread{'s' if workers > 1 else ''}", f"{rate}",
                             f"{a.get('achieved_qps') or 0:.0f}", f"{1000 * d50:.0f}",
                             f"{1000 * d99:.0f}", f"{1000 * a['latency_ms'].p99:.0f}",
                             "overloaded" if trace.overloaded else ""])
    return rows


def _loadgen(front, rate, seconds):
    with gc_paused():  # as every onnxbench load window
        return run_server(front, rate, seconds, min_queries=0, max_outstanding=max(2000, rate))


def _constant(front, rate, seconds):
    with gc_paused():
        return run_open_loop(front, rate, seconds, max_outstanding=max(2000, rate))


def ceiling_rows(seconds: float) -> list[list[str]]:
    rows = []
    for layout, make in (("threads", thread_front), ("processes", process_front)):
        for workers in (1, 2):
            for c in CONCURRENCY:
                front = make(workers if layout == "processes" else max(workers, c))
                try:
                    with gc_paused():
                        trace = run_closed_loop(front, c, seconds)
                finally:
                    front.stop()
                a = analyse(trace)
                label = f"{workers} process{'es' if workers > 1 else ''}" if layout == "processes" \
                    else "a thread per caller"
                rows.append(["closed loop", label, f"{c}", f"{a['achieved_qps']:.0f}",
                             f"{1000 * a['latency_ms'].p50:.0f}",
                             f"{1000 * a['latency_ms'].p99:.0f}"])
            if layout == "threads":
                break  # a thread per caller: one row per concurrency is enough
    for workers in (1, 2):
        front = thread_front(workers)
        try:
            with gc_paused():
                trace = run_offline(front, 50000, seconds)
        finally:
            front.stop()
        a = analyse(trace)
        rows.append(["LoadGen Offline", f"{workers} thread{'s' if workers > 1 else ''}", "all",
                     f"{a['achieved_qps']:.0f}", "", ""])
    return rows


def table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + \
        ["| " + " | ".join(r) + " |" for r in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0, help="seconds per rate / point")
    ap.add_argument("--write", action="store_true", help="write docs/benchmarks/load_generator.md")
    args = ap.parse_args()
    open_rows = open_loop_rows(args.seconds)
    closed_rows = ceiling_rows(args.seconds)
    best: dict[tuple, tuple[float, bool]] = {}
    for r in open_rows:  # the highest completed rate; "≥" when it kept up with the top rate
        key, achieved = (r[0], r[1]), float(r[3])
        kept_up = int(r[2]) == max(RATES) and achieved >= 0.95 * max(RATES)
        if achieved >= best.get(key, (0.0, False))[0]:
            best[key] = (achieved, kept_up)
    lines = ["# The load generator's ceiling and scheduling error (no-op runtime)", "",
             f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with "
             f"`benchmarks/load_generator.py --seconds {args.seconds:g}`, mlcommons-loadgen "
             f"{loadgen_version()}. A no-op runtime: every figure is the harness's own.", "",
             "## Ceilings", ""]
    lines += table(["Generator", "Workers", "Ceiling (QPS completed)"],
                   [[k[0], k[1], f"{'≥ ' if up else ''}{v:.0f}"] for k, (v, up) in best.items()])
    lines += ["", "## Open loop: scheduling error by target rate", "",
              "Issue delay: when the request reached the server minus its scheduled arrival; "
              "latency: completion minus scheduled arrival (µs).", ""]
    lines += table(["Generator", "Workers", "Target QPS", "Achieved QPS", "Issue delay p50 (µs)",
                    "Issue delay p99 (µs)", "Latency p99 (µs)", "Note"], open_rows)
    lines += ["", "## Closed loop and Offline", ""]
    lines += table(["Generator", "Workers", "Concurrency", "Achieved QPS", "Latency p50 (µs)",
                    "Latency p99 (µs)"], closed_rows)
    lines += ["", "## Environment", ""] + env_mod.markdown_lines(env_mod.collect())
    emit("\n".join(lines) + "\n", OUT, args.write)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
