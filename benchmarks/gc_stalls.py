"""Python's garbage collector as a source of tail latency in the load harness.

A load window is driven by MLPerf LoadGen (Server, Poisson) against a no-op runtime in a
process that has torch, onnxruntime and transformers imported (the heap a serving case
has). With the cyclic collector on (Python's default) and with it off for the window
(what ``onnxbench load`` and the peak search do: ``measure.gcpause``), each window records
its latency p99, p99.9 and maximum from the scheduled arrival, and every collection that
ran inside it (``gc.callbacks``): how many were full (oldest-generation) ones and the
longest pause.

    PYTHONPATH=src .venv/bin/python benchmarks/gc_stalls.py [--qps 10000] [--seconds 10 60]
        [--reps 3] [--write]

``--write`` saves docs/benchmarks/gc_stalls.md. Run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import gc
import time
from contextlib import nullcontext
from datetime import UTC, datetime

import numpy as np

from _output import DOCS, emit
from load_generator import table, thread_front
from onnxbench.isolation import env as env_mod
from onnxbench.measure.gcpause import gc_paused
from onnxbench.scenarios.loadgen import loadgen_version, run_server

OUT = DOCS / "gc_stalls.md"


class Pauses:
    """Every collection between ``start()`` and ``stop()``: (generation, seconds)."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, float]] = []
        self._t0 = 0.0
        self._on = False

    def __call__(self, phase: str, info: dict) -> None:
        if not self._on:
            return
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.seen.append((info["generation"], time.perf_counter() - self._t0))

    def start(self) -> None:
        self.seen, self._on = [], True

    def stop(self) -> None:
        self._on = False


def window(qps: float, seconds: float, paused: bool, pauses: Pauses) -> list[str]:
    front = thread_front(1)
    gc.collect()  # both start from a collected heap (gc_paused collects too)
    try:
        with gc_paused() if paused else nullcontext():
            pauses.start()
            trace = run_server(front, qps, seconds, min_queries=0, max_outstanding=2 * qps)
            pauses.stop()
    finally:
        front.stop()
    a = trace.arrays()
    lat = np.sort((a["done"] - a["scheduled"]) / 1e6)
    full = [p for g, p in pauses.seen if g == 2]
    longest = max((p for _, p in pauses.seen), default=0.0)
    return [f"{len(lat) / seconds:.0f}", f"{np.quantile(lat, 0.99):.2f}",
            f"{np.quantile(lat, 0.999):.2f}", f"{lat[-1]:.1f}", f"{len(pauses.seen)}",
            f"{len(full)}", f"{1000 * longest:.1f}"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qps", type=float, default=10000.0)
    ap.add_argument("--seconds", type=float, nargs="+", default=[10.0, 60.0],
                    help="window lengths (a table each)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    import onnxruntime  # noqa: F401  (the heap of a serving case)
    import torch  # noqa: F401
    from transformers import BertModel  # noqa: F401

    gc.collect()
    tracked = len(gc.get_objects())
    t0 = time.perf_counter()
    gc.collect()
    full_s = time.perf_counter() - t0
    pauses = Pauses()
    gc.callbacks.append(pauses)
    tables = {}
    for seconds in args.seconds:
        rows = tables[seconds] = []
        for rep in range(args.reps):  # interleaved: on, off, on, off, ...
            for paused in (False, True):
                rows.append(["off in the window" if paused else "on (Python's default)",
                             f"{rep + 1}", *window(args.qps, seconds, paused, pauses)])
    lines = ["# The harness's own garbage-collector stalls", "",
             f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `benchmarks/gc_stalls.py "
             f"--qps {args.qps:g} --seconds {' '.join(f'{x:g}' for x in args.seconds)} "
             f"--reps {args.reps}`, "
             f"mlcommons-loadgen {loadgen_version()}: LoadGen Server (Poisson) at "
             f"{args.qps:g} QPS, one serving thread, a no-op runtime, in a process with torch, "
             f"onnxruntime and transformers imported ({tracked} objects tracked by the "
             f"collector; one full collection of them took {1000 * full_s:.0f} ms here). "
             "Windows alternate between the collector on and off. Latency is from the "
             "scheduled arrival (ms); collections are those that ran inside the window.", ""]
    for seconds, rows in tables.items():
        lines += [f"## {seconds:g} s windows", ""]
        lines += table(["Collector", "Window", "Achieved QPS", "p99 (ms)", "p99.9 (ms)",
                        "Max (ms)", "Collections", "Full collections", "Longest pause (ms)"],
                       rows)
        lines += [""]
    lines += ["## Environment", ""] + env_mod.markdown_lines(env_mod.collect())
    emit("\n".join(lines) + "\n", OUT, args.write)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
