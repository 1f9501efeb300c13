"""MLPerf LoadGen as the generator: the Server scenario (Poisson arrivals) and Offline.

How LoadGen is driven (its Python binding, ``loadgen/bindings/python_api.cc``):
``ConstructSUT(issue_query, flush_queries)`` and ``ConstructQSL(total, performance, load,
unload)``; ``StartTestWithLogSettings`` runs one test in the calling thread (the GIL is
released) and, with ``server_num_issue_query_threads = 0``, calls ``issue_query(samples)``
from that same thread at each query's scheduled time. ``issue_query`` must not block: it
submits each sample to the front and returns. When a batch is done the pool's thread calls
``QuerySamplesComplete`` with one ``QuerySampleResponse(id, 0, 0)`` per request.

What is measured from where: LoadGen times each sample from its query's **scheduled** time to
the moment ``QuerySamplesComplete`` is entered (``loadgen.cc``, ``SampleComplete``:
``sched.delta(complete_begin_time)``) and writes it, with the issue delay, to its trace
(``mlperf_log_trace.json``: one ``Sample`` event per sample, ``ts`` = scheduled time in µs,
``issue_start_ns`` and ``complete_ns`` from it). We read those events back, match them to our
requests by issue order (checked against the sample index), and put each request's scheduled
time on our clock: LoadGen's clock is the system clock, ours CLOCK_MONOTONIC, aligned by the
median difference of the completion times (our stamp precedes LoadGen's by a few µs, so the
scheduled time errs early by as much: latencies err long, never short). ``issued`` is our own
time stamp in ``issue_query`` (when the request reached the server, after LoadGen's issue
thread took the GIL), so issued minus scheduled is the generator's whole lateness, LoadGen's
own issue delay included. LoadGen's own summary (``mlperf_log_detail.txt``: validity,
completed QPS, its p99,
early stopping) is kept beside ours as a cross-check.
"""

from __future__ import annotations

import json
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from onnxbench.core.errors import Skip
from onnxbench.scenarios.analysis import Trace
from onnxbench.scenarios.serving import Front, Request, now

_SAMPLE = re.compile(r'"name":"Sample".*?"ph":"b".*?"ts":(?P<ts>[-0-9.]+),"args":\{"sample_seq":'
                     r'(?P<seq>\d+),"query_seq":(?P<q>\d+),"sample_idx":(?P<idx>\d+),'
                     r'"issue_start_ns":(?P<issue>-?\d+),"complete_ns":(?P<done>-?\d+)')
DETAIL_KEYS = ("result_validity", "result_perf_constraints_met", "early_stopping_met",
               "early_stopping_result", "result_scheduled_samples_per_sec",
               "result_completed_samples_per_sec", "result_samples_per_second",
               "result_99.00_percentile_latency_ns", "result_50.00_percentile_latency_ns",
               "result_overlatency_query_count", "result_query_count", "loadgen_version",
               "error_runtime")


def _lg():
    try:
        import mlperf_loadgen
    except ImportError as exc:
        raise Skip("the server, offline and peak scenarios use MLPerf LoadGen: "
                   "pip install mlcommons-loadgen") from exc
    return mlperf_loadgen


def loadgen_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("mlcommons-loadgen")
    except Exception:  # noqa: BLE001 - a version string is informative only
        return None


class LoadGenRun:
    """One LoadGen test against a front: settings in, a Trace out."""

    def __init__(self, front: Front, n_samples: int = 1) -> None:
        self.front, self.n_samples = front, max(1, n_samples)
        self.requests: list[Request] = []
        self.lock = threading.Lock()

    def _issue(self, samples) -> None:
        t = now()
        with self.lock:
            base = len(self.requests)
            reqs = [Request(base + i, 0, t, sample=s.index, tag=s.id)
                    for i, s in enumerate(samples)]
            self.requests.extend(reqs)
        for r in reqs:
            self.front.submit(r)

    def _complete(self, batch: list[Request]) -> None:
        lg = self.lg
        lg.QuerySamplesComplete([lg.QuerySampleResponse(r.tag, 0, 0) for r in batch])

    def run(self, settings_fn, generator: str) -> Trace:
        """Run one test; ``settings_fn(lg)`` returns its TestSettings."""
        lg = self.lg = _lg()
        settings = settings_fn(lg)
        self.front.set_listener(self._complete)
        with tempfile.TemporaryDirectory(prefix="onnxbench-loadgen-") as tmp:
            log = lg.LogSettings()
            log.log_output.outdir = tmp
            log.log_output.copy_summary_to_stdout = False
            log.enable_trace = True
            sut = lg.ConstructSUT(self._issue, lambda: None)
            qsl = lg.ConstructQSL(self.n_samples, self.n_samples, lambda s: None, lambda s: None)
            try:
                lg.StartTestWithLogSettings(sut, qsl, settings, log)
            finally:
                lg.DestroyQSL(qsl)
                lg.DestroySUT(sut)
            detail = read_detail(Path(tmp) / "mlperf_log_detail.txt")
            events = read_trace(Path(tmp) / "mlperf_log_trace.json")
        trace = Trace(generator, self.requests, loadgen=detail)
        trace.overloaded = "Too many outstanding queries" in str(detail.get("error_runtime", ""))
        align(self.requests, events)
        return trace


def read_detail(path: Path) -> dict[str, Any]:
    """LoadGen's own results (``:::MLLOG {json}`` lines of the detail log)."""
    out: dict[str, Any] = {}
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.startswith(":::MLLOG "):
            continue
        try:
            doc = json.loads(line[9:])
        except json.JSONDecodeError:
            continue
        if doc.get("key") in DETAIL_KEYS:
            out.setdefault(doc["key"], doc.get("value"))
    return out


def read_trace(path: Path) -> np.ndarray:
    """Sample events of LoadGen's trace as rows (seq, sample_idx, scheduled_ns, issue_ns,
    complete_ns), sorted by sample sequence. The file is not strict JSON: read line by line."""
    rows = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if '"Sample"' not in line or '"ph":"b"' not in line:
                continue
            m = _SAMPLE.search(line)
            if m:
                rows.append((int(m["seq"]), int(m["idx"]), round(float(m["ts"]) * 1000),
                             int(m["issue"]), int(m["done"])))
    arr = np.array(rows, dtype=np.int64).reshape(-1, 5)
    return arr[np.argsort(arr[:, 0], kind="stable")]


def align(requests: list[Request], events: np.ndarray) -> None:
    """Give our requests LoadGen's scheduled/issued times on our clock (see the module doc)."""
    done = [r for r in requests if r.done]
    if len(events) != len(requests) or not done:
        raise RuntimeError(f"LoadGen's trace has {len(events)} samples for {len(requests)} "
                           "issued requests; cannot match them")
    idx = np.fromiter((r.sample for r in requests), dtype=np.int64, count=len(requests))
    if not np.array_equal(idx, events[:, 1]):
        raise RuntimeError("LoadGen's trace does not list the samples in the order they were "
                           "issued; cannot match them")
    sched_lg = events[:, 2]
    ours_done = np.fromiter((r.done for r in requests), dtype=np.int64, count=len(requests))
    has = ours_done > 0
    offset = int(np.median(ours_done[has] - (sched_lg[has] + events[has, 4])))
    for r, s in zip(requests, sched_lg, strict=True):
        r.scheduled = int(s) + offset  # issued stays ours: when issue_query handed it over


def server_settings(qps: float, duration_s: float, percentile: float, bound_ms: float | None,
                    min_queries: int, seed: int, max_outstanding: int = 0):
    """TestSettings of one Server (Poisson) run."""
    def make(lg):
        s = lg.TestSettings()
        s.scenario = lg.TestScenario.Server
        s.mode = lg.TestMode.PerformanceOnly
        s.server_target_qps = float(qps)
        s.server_target_latency_ns = int((bound_ms if bound_ms else 1e6) * 1e6)
        s.server_target_latency_percentile = percentile / 100.0
        s.min_duration_ms = int(duration_s * 1000)
        s.min_query_count = int(min_queries)
        s.server_max_async_queries = int(max_outstanding)
        s.schedule_rng_seed = s.sample_index_rng_seed = s.qsl_rng_seed = int(seed)
        return s
    return make


def offline_settings(expected_qps: float, duration_s: float, seed: int):
    """TestSettings of one Offline run: one query holding expected_qps × duration × 1.1 samples."""
    def make(lg):
        s = lg.TestSettings()
        s.scenario = lg.TestScenario.Offline
        s.mode = lg.TestMode.PerformanceOnly
        s.offline_expected_qps = float(expected_qps)
        s.min_duration_ms = int(duration_s * 1000)
        s.min_query_count = 1
        s.sample_index_rng_seed = s.qsl_rng_seed = int(seed)
        return s
    return make


def run_server(front: Front, qps: float, duration_s: float, *, percentile: float = 99.0,
               bound_ms: float | None = None, min_queries: int = 100, seed: int = 0,
               max_outstanding: int = 0, n_samples: int = 1) -> Trace:
    """Poisson arrivals at ``qps`` from LoadGen's Server scenario."""
    settings = server_settings(qps, duration_s, percentile, bound_ms, min_queries, seed,
                               max_outstanding)
    return LoadGenRun(front, n_samples).run(settings, f"mlperf-loadgen {loadgen_version()} Server")


def run_offline(front: Front, expected_qps: float, duration_s: float, *, seed: int = 0,
                n_samples: int = 1) -> Trace:
    """Every request available at once, from LoadGen's Offline scenario."""
    return LoadGenRun(front, n_samples).run(offline_settings(expected_qps, duration_s, seed),
                                            f"mlperf-loadgen {loadgen_version()} Offline")


__all__ = ["align", "loadgen_version", "read_detail", "read_trace", "run_offline", "run_server"]
