"""The load scenarios' core on plain callables and test runtimes: arrivals, latency from the
scheduled time, closed-loop concurrency, batching, early stopping, the peak search, the
output check under concurrency and the harness mark.

No test asserts a wall-clock time. Service times are sleeps (never shorter than asked, and
they release the GIL as a native runtime does), so the assertions are lower bounds and
counts that a loaded machine cannot break; statistical tests run at strict alpha.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from scipy import stats as sps

from onnxbench.core.artifact import Artifact
from onnxbench.core.case import Case
from onnxbench.core.load_spec import LoadSpec
from onnxbench.measure.early_stopping import confidence, requests_needed
from onnxbench.model.bundle import Bundle
from onnxbench.scenarios.analysis import Trace, analyse, in_flight, quantile_ci
from onnxbench.scenarios.arrivals import run_open_loop
from onnxbench.scenarios.ceiling import harness_mark
from onnxbench.scenarios.check import check_outputs, lock_around
from onnxbench.scenarios.closed_loop import run_closed_loop
from onnxbench.scenarios.loadgen import run_server
from onnxbench.scenarios.serving import Front, Request, ThreadPool, noop_callset

ALPHA = 1e-3


def _bare(path) -> Artifact:
    """The artifact record of a bare ONNX file (no source model behind it)."""
    return Artifact(model=str(path), onnx_path=path, bare_onnx=True)


def _front(callset, workers: int = 1, max_batch: int = 1, max_delay_ms: float = 0.0) -> Front:
    front = Front(lambda done: ThreadPool([callset] * workers, done), max_batch,
                  int(max_delay_ms * 1e6))
    front.start()
    return front


def _sleeper(seconds: float):
    return lambda k: (lambda: time.sleep(seconds))


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    """Y = X @ W, batch dynamic: a real ORT session for the output check."""
    w = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    graph = helper.make_graph([helper.make_node("MatMul", ["X", "W"], ["Y"])], "tiny",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 64])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 64])],
                              [numpy_helper.from_array(w, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path_factory.mktemp("load") / "tiny.onnx"
    onnx.save(model, path)
    return path


# ---- arrivals ----------------------------------------------------------------------

def test_loadgen_server_arrivals_are_poisson_and_constant_ones_are_not():
    """KS test of the scheduled inter-arrival times against Exp(qps), of LoadGen's and of
    onnxbench's own Poisson open loop; the same test rejects the constant schedule, so it
    can fail."""
    qps = 500.0
    front = _front(noop_callset, workers=2)
    try:
        poisson = run_server(front, qps, 2.0, min_queries=0, seed=7)
        own = run_open_loop(front, qps, 2.0, arrival="poisson", seed=7)
        constant = run_open_loop(front, qps, 1.0)
    finally:
        front.stop()
    for trace in (poisson, own):
        gaps = np.diff(np.sort([r.scheduled for r in trace.requests])) / 1e9
        assert gaps.size >= 800
        p = sps.kstest(gaps, "expon", args=(0, 1.0 / qps)).pvalue
        assert p > ALPHA, f"{trace.generator}: not Poisson at {qps} QPS (KS p={p:.2g})"
    assert "Poisson" in own.generator and "LoadGen" not in own.generator
    flat = np.diff(np.sort([r.scheduled for r in constant.requests])) / 1e9
    assert sps.kstest(flat, "expon", args=(0, 1.0 / qps)).pvalue < ALPHA


@pytest.mark.slow
def test_latency_is_measured_from_the_scheduled_arrival_under_a_slow_runtime(tiny_onnx):
    """test-delay sleeps 20 ms on one worker at twice its capacity: every latency is at least
    what a FIFO single server owes from the *scheduled* times; far above the service time."""
    from onnxbench.scenarios.execute import execute_case

    service_ms = 20.0
    case = Case(model=str(tiny_onnx), runtime="test-delay", batch=1,
                options={"delay_us": service_ms * 1000, "wait": "sleep"},
                scenario=LoadSpec(name="server", qps=100, duration_s=1.0, percentile=50,
                                  bound_ms=50))
    result = execute_case(case, _bare(tiny_onnx), env={})
    assert result.status == "ok", result.reason
    load = result.load
    req = load.requests
    sched, done = np.array(req.scheduled), np.array(req.completed)
    assert load.n_completed == len(sched) >= 90 and load.latency_from == "scheduled arrival"
    assert np.all(np.diff(sched) >= 0)
    bound = np.empty_like(sched)
    free = -np.inf
    for i, s in enumerate(sched):  # Lindley: a single FIFO server never finishes earlier
        free = max(free, s) + service_ms * 1000
        bound[i] = free
    assert np.all(done >= bound - 2), "a request completed before a FIFO server could"
    lat = np.array(result.timing.latencies_ms)
    assert np.allclose(lat, (done - sched) / 1000.0, atol=0.002)
    assert load.latency_ms.p99 > 10 * load.service_ms.p50  # the queue shows
    assert not load.bound.met and load.bound.over > 0
    assert not load.harness.limited, load.harness.reasons  # a slow model is not the harness's


# ---- closed loop, batching -----------------------------------------------------------

def test_concurrency_keeps_exactly_n_requests_in_flight():
    lock, active, peak = threading.Lock(), [0], [0]

    def call() -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.01)
        with lock:
            active[0] -= 1

    front = _front(lambda k: call, workers=8)
    try:
        trace = run_closed_loop(front, 4, 1.0)
    finally:
        front.stop()
    a = analyse(trace)
    assert peak[0] == 4, f"the runtime saw {peak[0]} concurrent calls with concurrency 4"
    assert a["in_flight_max"] == 4
    assert a["in_flight_mean"] > 0.8 * 4  # Little's law: in flight nearly all the time
    issued = np.array([r.issued for r in trace.requests])
    assert a["n_requests"] >= 8 and np.all(np.diff(np.sort(issued)) >= 0)


def test_in_flight_counts_overlaps():
    assert in_flight(np.array([0, 1, 2]), np.array([10, 3, 4])) == 3
    assert in_flight(np.array([0, 5]), np.array([5, 6])) == 1  # done before the next issue


def test_batcher_waits_max_delay_and_never_exceeds_max_batch():
    sizes: list[int] = []

    def callset(k: int):
        sizes.append(k)  # the pool asks for the call of each batch's size
        return lambda: time.sleep(0.005)

    front = _front(callset, workers=1, max_batch=4, max_delay_ms=20)
    try:
        lone = run_open_loop(front, 1.0, 1.0)  # one request alone waits for company
        burst = run_open_loop(front, 2000.0, 0.1)
    finally:
        front.stop()
    r = lone.requests[0]
    assert r.started - r.issued >= 20e6 and r.batch == 1
    batches = [q.batch for q in burst.requests]
    assert max(batches) == 4 and min(batches) >= 1 and max(sizes) <= 4


# ---- statistics ----------------------------------------------------------------------

def test_early_stopping_matches_loadgen():
    """Our count of queries needed equals LoadGen's rule, and our verdict equals LoadGen's
    own early_stopping_met on the same run."""
    assert requests_needed(0, 99) == 459  # ceil(ln 0.01 / ln 0.99)
    assert requests_needed(0, 90) == 44
    assert requests_needed(3, 99) > requests_needed(1, 99) > 459
    assert confidence(459, 0, 99) >= 0.99 > confidence(458, 0, 99)
    front = _front(noop_callset, workers=2)
    try:
        for qps in (300.0, 700.0):
            trace = run_server(front, qps, 1.0, bound_ms=1000, min_queries=100, seed=3)
            ours = analyse(trace, bound_ms=1000)["bound"]
            assert ours.early_stopping_met == bool(trace.loadgen["early_stopping_met"]), qps
            assert ours.n == trace.loadgen["result_query_count"]
    finally:
        front.stop()


def test_quantile_ci_covers_and_says_when_it_cannot():
    x = np.sort(np.random.default_rng(0).exponential(size=2000))
    lo, hi = quantile_ci(x, 0.99)
    assert lo < np.percentile(x, 99) < hi
    assert quantile_ci(np.sort(np.arange(50.0)), 0.99)[1] is None  # 50 values: no upper end


# ---- the peak search on a real runtime (fake probes: test_peak_search.py) ------------

@pytest.mark.slow
def test_peak_search_finds_a_known_capacity(tiny_onnx):
    """Two workers sleeping 5 ms each serve at most 2 / 5 ms: with constant arrivals and a
    generous bound the peak is that capacity (from the service time the run measured), and
    no probe goes past the capacity the probes measured."""
    from onnxbench.scenarios.execute import execute_case

    case = Case(model=str(tiny_onnx), runtime="test-delay", batch=1,
                options={"delay_us": 5000, "wait": "sleep"},
                scenario=LoadSpec(name="peak", arrival="constant", bound_ms=50, workers=2,
                                  duration_s=1.0, precision_pct=3, confirm_s=0,
                                  ceiling=False))
    result = execute_case(case, _bare(tiny_onnx), env={})
    assert result.status == "ok", result.reason
    load = result.load
    analytic = 2 / (load.service_ms.mean / 1000.0)
    assert load.peak.converged
    assert abs(load.peak.qps / analytic - 1) <= 0.10, (load.peak.qps, analytic)
    assert any(p.met for p in load.probes)
    assert load.peak.capped or any(not p.met for p in load.probes)
    assert load.peak.capacity_qps and all(p.target_qps <= load.peak.capacity_qps
                                          for p in load.probes)
    assert all(p.rho is not None and p.queue is not None for p in load.probes)


# ---- does one session need a lock? ---------------------------------------------------

def test_one_ort_session_shared_by_threads_gives_the_sequential_outputs(tiny_onnx):
    from onnxbench.runtimes import get_runtime

    rt = get_runtime("ort-cpu")
    rt.prepare(Bundle.of_onnx(tiny_onnx), {"threads": 1})
    rng = np.random.default_rng(1)
    samples = [{"X": rng.standard_normal((8, 64)).astype(np.float32)} for _ in range(4)]
    check = check_outputs([rt.run] * 4, samples, rounds=5)
    assert check.passed and check.bitwise_equal and check.compared == 4 * 4 * 5
    locked = check_outputs([lock_around(rt.run, threading.Lock())] * 4, samples)
    assert locked.passed


def test_an_unsafe_runtime_fails_the_check_with_the_difference():
    buffer = np.zeros(16, dtype=np.float32)  # one output buffer shared by every call

    def unsafe(inputs):
        buffer[:] = inputs["x"]
        time.sleep(0.002)  # another thread overwrites it meanwhile
        return [buffer.copy()]

    samples = [{"x": np.full(16, float(j), dtype=np.float32)} for j in range(4)]
    check = check_outputs([unsafe] * 4, samples)
    assert not check.passed and not check.bitwise_equal
    assert check.max_abs >= 1.0 and "sequential output" in check.problem


# ---- the harness mark ----------------------------------------------------------------

def _trace(delays_ms: list[float]) -> Trace:
    reqs = []
    for i, d in enumerate(delays_ms):
        r = Request(i, scheduled=i * 1_000_000, issued=i * 1_000_000 + int(d * 1e6))
        r.started, r.done = r.issued, r.issued + 1_000_000
        reqs.append(r)
    return Trace("test", reqs)


def test_harness_mark_near_the_ceiling_late_against_the_bound_and_falling_behind():
    near = harness_mark(9000.0, (10000.0, False), _trace([0.0] * 100), 1.0)
    assert near.limited and "90 %" in near.reasons[0]
    far = harness_mark(100.0, (10000.0, False), _trace([0.0] * 100), 1.0)
    assert not far.limited and far.ceiling_qps == 10000.0
    # late by a steady 0.3 ms, 60 % of a light model's p99: information, not a limit
    steady = harness_mark(100.0, (10000.0, False), _trace([0.3] * 100), 0.5)
    assert not steady.limited and steady.issue_share == pytest.approx(0.6)
    late = harness_mark(100.0, (10000.0, False), _trace([0.3] * 100), 0.5, bound_ms=1.0)
    assert late.limited and "issued late" in late.reasons[0] and "of the bound" in late.reasons[0]
    behind = harness_mark(100.0, (10000.0, False), _trace(list(np.linspace(0, 20, 100))), 21.0)
    assert behind.limited and "fell behind its schedule" in behind.reasons[0]


@pytest.mark.parametrize("qps", [100.0, 400.0])
def test_a_light_model_at_low_rates_is_not_harness_limited(tiny_onnx, qps):
    """A 0.01 ms model at 100-400 QPS: LoadGen's wake-up is most of its latency, but the
    generator keeps to its schedule far below its ceiling, so nothing limits it: no mark.
    The record keeps the ceiling and the generator's share of the latency."""
    from onnxbench.scenarios.execute import execute_case

    case = Case(model=str(tiny_onnx), runtime="test-delay", batch=1, options={"delay_us": 10},
                scenario=LoadSpec(name="server", qps=qps, duration_s=1.0, percentile=90))
    result = execute_case(case, _bare(tiny_onnx), env={})
    assert result.status == "ok", result.reason
    harness = result.load.harness
    assert not harness.limited, harness.reasons
    assert harness.ceiling_qps and harness.ceiling_qps > 2 * qps
    assert harness.issue_share is not None and harness.issue_delay_p99_ms is not None


def test_a_no_op_runtime_is_marked_harness_limited(tiny_onnx):
    """A no-op asked for far more arrivals than a Python generator can issue: the generator
    falls behind its schedule, so the latency is the harness's and says so."""
    from onnxbench.scenarios.execute import execute_case

    case = Case(model=str(tiny_onnx), runtime="test-delay", batch=1, options={"delay_us": 0},
                scenario=LoadSpec(name="server", qps=100_000, duration_s=0.3))
    result = execute_case(case, _bare(tiny_onnx), env={})
    assert result.status == "ok", result.reason
    harness = result.load.harness
    assert harness.limited and harness.ceiling_qps is not None, harness
    assert any("issued late" in r or "ceiling" in r for r in harness.reasons)


# ---- torch, and the GPU layouts (skipped without CUDA, with the reason) ----------------

def _zoo_case(runtime: str, layout: str, workers: int = 4):
    from onnxbench.core.artifact import Artifact

    case = Case(model="dcnv2", config="tiny", runtime=runtime, batch=2,
                scenario=LoadSpec(name="concurrency", concurrency=workers, layout=layout,
                                  duration_s=0.5, ceiling=False))
    return case, Artifact(model="dcnv2", config="tiny")


@pytest.mark.parametrize("layout", ["shared", "lock", "per-thread"])
def test_torch_module_under_concurrency_gives_the_sequential_outputs(layout):
    from onnxbench.scenarios.execute import execute_case

    case, artifact = _zoo_case("torch-cpu", layout, workers=2)
    result = execute_case(case, artifact, env={})
    assert result.status == "ok", result.reason
    assert result.load.check.passed and result.load.in_flight_max == 2


def test_a_runtime_not_declared_thread_safe_is_not_shared():
    """torch.compile declares concurrent calls on one compiled module unsafe: the shared
    layout is skipped with the reason (lock and per-thread serve it)."""
    from onnxbench.scenarios.execute import execute_case

    case, artifact = _zoo_case("torch-compile-cpu", "shared", workers=2)
    result = execute_case(case, artifact, env={})
    assert result.status == "skipped" and "thread_safe" in result.reason
    assert "per-thread or lock" in result.reason


def test_streams_layout_needs_cuda(tiny_onnx):
    from onnxbench.scenarios.execute import execute_case

    case = Case(model=str(tiny_onnx), runtime="ort-cpu", batch=1,
                scenario=LoadSpec(name="concurrency", concurrency=2, layout="streams",
                                  duration_s=0.5))
    result = execute_case(case, _bare(tiny_onnx), env={})
    assert result.status == "skipped" and "CUDA" in result.reason


def _cuda_or_skip():
    import onnxruntime as ort
    import torch

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("no CUDAExecutionProvider in this onnxruntime build")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: torch.cuda.is_available() is False")


@pytest.mark.gpu
@pytest.mark.parametrize("layout", ["shared", "per-thread", "streams", "lock"])
def test_ort_cuda_session_layouts_keep_sequential_outputs(tiny_onnx, layout):
    """Concurrent Run on one CUDA session (shared), a session per thread, a stream per
    thread: outputs under concurrency equal the sequential ones, and 4 stay in flight."""
    from onnxbench.scenarios.execute import execute_case

    _cuda_or_skip()
    case = Case(model=str(tiny_onnx), runtime="ort-cuda", batch=8, options={"use_tf32": False},
                scenario=LoadSpec(name="concurrency", concurrency=4, layout=layout,
                                  duration_s=1.0))
    result = execute_case(case, _bare(tiny_onnx), env={})
    assert result.status == "ok", result.reason
    assert result.load.check.passed, result.load.check.problem
    assert result.load.in_flight_max == 4


@pytest.mark.gpu
@pytest.mark.parametrize("runtime,layout", [("torch-cuda", "streams"), ("torch-cuda", "shared"),
                                            ("torch-compile-cuda", "lock")])
def test_torch_cuda_layouts_keep_sequential_outputs(runtime, layout):
    from onnxbench.scenarios.execute import execute_case

    _cuda_or_skip()
    case, artifact = _zoo_case(runtime, layout)
    result = execute_case(case, artifact, env={})
    assert result.status == "ok", result.reason
    assert result.load.check.passed, result.load.check.problem


@pytest.mark.gpu
def test_dynamic_batching_on_cuda_batches_under_load(tiny_onnx):
    from onnxbench.scenarios.execute import execute_case

    _cuda_or_skip()
    case = Case(model=str(tiny_onnx), runtime="ort-cuda", batch=1,
                scenario=LoadSpec(name="concurrency", concurrency=16, workers=1, max_batch=8,
                                  max_delay_ms=1, duration_s=1.0))
    result = execute_case(case, _bare(tiny_onnx), env={})
    assert result.status == "ok", result.reason
    assert 1 < result.load.mean_batch <= 8 and max(result.load.requests.batch) <= 8


# ---- the generator's CPUs -----------------------------------------------------------------

def test_cpus_are_split_when_there_are_enough_and_shared_otherwise():
    from onnxbench.scenarios.affinity import plan_cpus

    two = plan_cpus([0, 1]).record
    assert two.shared and two.generator == two.serving == [0, 1] and "share" in two.note
    eight = plan_cpus(range(8)).record
    assert not eight.shared and eight.generator == [7] and eight.serving == list(range(7))
    assert not set(eight.generator) & set(eight.serving)
    big = plan_cpus(range(32)).record
    assert big.generator == [28, 29, 30, 31] and "0-27" in big.note


def test_the_generator_runs_apart_from_the_serving_threads():
    """Forced apart on this machine's CPUs: a worker thread started after ``serve()`` runs on
    the serving CPUs, the generator's thread on its own during a window and back after."""
    import os

    from onnxbench.scenarios.affinity import plan_cpus

    mine = sorted(os.sched_getaffinity(0))
    if len(mine) < 2:
        pytest.skip("needs 2 CPUs to keep two sets apart")
    cpus = plan_cpus(mine, min_apart=2)
    seen: dict[str, set[int]] = {}

    def probe_worker(k):
        return lambda: seen.setdefault("worker", os.sched_getaffinity(0))

    def generator_thread() -> None:  # a thread of its own: the test's thread keeps its mask
        cpus.serve()
        front = _front(probe_worker)
        try:
            with cpus.generating():
                seen["generator"] = os.sched_getaffinity(0)
                run_open_loop(front, 200.0, 0.05)
            seen["after"] = os.sched_getaffinity(0)
        finally:
            front.stop()

    t = threading.Thread(target=generator_thread)
    t.start()
    t.join()
    assert seen["generator"] == set(cpus.record.generator)
    assert seen["worker"] == seen["after"] == set(cpus.record.serving)
