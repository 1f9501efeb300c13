"""One case end to end, inside its worker: bundle → runtime → inputs → measure → Result.

This runs in the isolated worker process (``onnxbench.isolation.worker``), so it may pin threads and
set environment variables freely: they die with the process. It never prints; it returns
a ``Result`` (status ``ok`` or ``skipped``). Any other exception propagates to the worker,
which records it as ``failed`` with its first line.

It knows runtimes only through the ``Runtime`` interface (``onnxbench.runtimes.base``):
their declared capabilities (``device``, ``framework``, ``needs_module``, ``precisions``)
and hooks (``cast_inputs``, ``device_time_ms``, ``device_memory``, ``what_ran``). The model
is resolved once into a ``Bundle`` (``onnxbench.model.bundle``) that every step reads.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from onnxbench.core import timeline
from onnxbench.core.artifact import Artifact
from onnxbench.core.case import Case
from onnxbench.core.errors import Skip, first_line
from onnxbench.core.result import Result, Timing
from onnxbench.isolation.memory import peak_memory_mb
from onnxbench.isolation.threads import THREAD_OPTIONS  # noqa: F401  (read by executors.placement)
from onnxbench.model.bundle import Bundle
from onnxbench.runtimes.base import Runtime
from onnxbench.runtimes.case_options import check_options
from onnxbench.runtimes.prep import pad_inputs, runtime_options
from onnxbench.runtimes.registry import get_runtime

# seeded synthetic images for pipeline cases: deterministic, so shared across runs
IMAGE_CACHE = Path(tempfile.gettempdir()) / "onnxbench-images"


def now_iso() -> str:
    """UTC time stamp with microseconds (also tells resume which run wrote a result)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def pin_threads(options: Mapping[str, Any]) -> dict[str, Any]:
    """Size OMP/MKL/OpenBLAS pools and torch threads from ``threads``/``intra_op_threads``;
    return what is in effect (``onnxbench.isolation.threads``)."""
    from onnxbench.isolation.threads import pin_threads as pin

    return pin(options)


def execute_case(case: Case, artifact: Artifact, env: dict[str, Any] | None = None) -> Result:
    """Measure one case and return its Result (``ok`` or ``skipped``; errors propagate).

    ``env`` is the environment fingerprint collected once per run; None collects it here.
    """
    started, t0 = now_iso(), time.monotonic()
    check_options(case.runtime, case.options)  # the planner checked; a library call may not
    threads = pin_threads(case.options)
    runtime = get_runtime(case.runtime)
    base = dict(case_id=case.case_id, case=case, started_at=started)
    try:
        result = _measure(case, Bundle.resolve(artifact), runtime, base)
    except Skip as exc:
        result = Result(status="skipped", reason=first_line(exc, with_type=False) or "skipped",
                        **base)
    finally:
        _close(runtime)
    result.runtime_info = {**threads, **result.runtime_info}
    result.memory = {**peak_memory_mb(), **result.memory}
    if env is None:
        from onnxbench.isolation.env import collect

        env = collect()
    result.env = env
    result.duration_s = round(time.monotonic() - t0, 6)
    return result


def _measure(case: Case, bundle: Bundle, runtime: Runtime, base: dict[str, Any]) -> Result:
    """Prepare (timed as session creation), bind, run the timing loop, summarise."""
    from onnxbench.measure.stats import summarize
    from onnxbench.measure.timer import measure

    reason = runtime.unfit(bundle)
    if reason:
        raise Skip(reason)
    if case.options.get("pipeline"):  # an end-to-end image pipeline times its own stages
        from onnxbench.scenarios.pipeline import run_pipeline_case

        result = run_pipeline_case(case, bundle, IMAGE_CACHE)
        result.started_at = base["started_at"]
        return result
    if case.scenario is not None:  # a load point: onnxbench.scenarios serves it
        from onnxbench.scenarios.run import run_load_case

        return run_load_case(case, bundle, runtime, base)
    options = runtime_options(case, bundle, runtime)
    inputs, padding = pad_inputs(bundle.make_inputs(case), case)
    timeline.mark("session_start")
    t = time.perf_counter_ns()
    runtime.prepare(bundle, options)
    session_ms = (time.perf_counter_ns() - t) / 1e6
    timeline.mark("session_ready")
    # a CPU runtime's synchronize() is a no-op: leave it out of the timed loop altogether
    sync = runtime.synchronize if runtime.device == "cuda" else None
    mix = None
    if case.seq_mix:  # mixed shapes: one session, a seeded order of lengths
        timing, mix = _timed_mix(case, bundle, runtime, sync)
    else:
        call = runtime.bind(runtime.cast_inputs(inputs))
        timing = measure(call, sync, case.policy)
        timing.stages_ms.update(device_times(runtime, call, timing))
    timing.session_create_ms = session_ms
    stats = summarize(timing.latencies_ms, unstable_iqr_ratio=case.measure.unstable_iqr_ratio)
    info = {**runtime.info(), **padding, **runtime.what_ran()}
    memory = {**peak_memory_mb(), **runtime.device_memory()}
    parity = _parity(case, bundle, runtime, inputs)
    accuracy = _accuracy(case, bundle, runtime)
    from onnxbench.profile import after_timing  # fresh sessions: the timed one is done

    placement, profile = (None, None) if case.repeat else (  # a point's first process only
        after_timing(runtime, runtime.cast_inputs(inputs), case.options, stats.p50))
    return Result(status="ok", timing=timing, stats=stats,
                  throughput=case.batch / (stats.mean / 1000.0) if stats.mean > 0 else None,
                  memory=memory, runtime_info=info, parity=parity, accuracy=accuracy,
                  placement=placement, profile=profile, mix=mix, **base)


def _timed_mix(case: Case, bundle: Bundle, runtime: Runtime,
               sync: Callable[[], None] | None) -> tuple[Timing, dict[str, Any]]:
    """The timing loop over the case's ``seq_mix`` (``onnxbench.measure.shape_mix``)."""
    from onnxbench.measure.shape_mix import run_mix

    def bind(seq: int) -> Callable[[], Any]:
        feeds, _ = pad_inputs(bundle.make_inputs(case, seq=seq), case)
        return runtime.bind(runtime.cast_inputs(feeds))

    return run_mix(bind, sync, case.policy, case.seq_mix or [], case.seed)


def device_times(runtime: Runtime, call: Callable[[], Any], timing: Timing,
                 runs: int = 200) -> dict[str, float]:
    """The device's own time per call (CUDA events on a CUDA PyTorch runtime), median of up
    to ``runs`` calls, next to the host clock's synchronised figure; after the timing loop."""
    first = runtime.device_time_ms(call)
    if first is None:
        return {}
    n = max(1, min(runs, len(timing.latencies_ms)))
    samples = [first] + [runtime.device_time_ms(call) or 0.0 for _ in range(n - 1)]
    return {"cuda_events_p50_ms": float(np.median(samples))}


def _accuracy(case: Case, bundle: Bundle, runtime: Runtime) -> dict[str, Any] | None:
    """This runtime's task metric and its delta against fp32, after timing so it cannot
    disturb it: option ``accuracy_data`` (the user's labelled .npz, any model; see
    ``onnxbench.quality.labelled``), or option ``accuracy`` (models with a source module).
    Deterministic, so only a point's first process evaluates it (the others measure latency
    only)."""
    labelled = case.options.get("accuracy_data")
    if case.repeat or (not labelled and (not case.options.get("accuracy")
                                         or not bundle.has_module)):
        return None
    from onnxbench.model.pad import pad_batch, trim
    from onnxbench.quality.accuracy import case_accuracy

    to = int(case.options.get("pad_batch_to") or 0)

    def predict(inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        padded, n_real = pad_batch(inputs, to) if to else (dict(inputs), None)
        out = runtime.run(runtime.cast_inputs(padded))
        return trim(out, n_real) if n_real is not None else list(out)

    if labelled:
        from onnxbench.quality.labelled import case_labelled_accuracy

        return case_labelled_accuracy(case, bundle, predict)
    return case_accuracy(case, bundle, predict)


def _parity(case: Case, bundle: Bundle, runtime: Runtime,
            inputs: Mapping[str, np.ndarray]) -> dict[str, Any] | None:
    """Parity of this runtime against the source model at this case's batch (option
    ``verify``), else the export's own record (artifact.json) when this case runs the
    exported graph.

    ``verify`` builds the source model in this worker, after the timing loop (so it cannot
    disturb the timings; peak memory is read before it); only in a point's first process
    (the outputs do not change between processes).
    """
    if case.options.get("verify") and bundle.has_module and not runtime.needs_module \
            and not case.repeat:
        return verify_case(case, bundle, runtime, inputs)
    if bundle.onnx_path is None or runtime.framework != "onnx":
        return None
    return bundle.meta.get("parity")


def verify_case(case: Case, bundle: Bundle, runtime: Runtime,
                inputs: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """This runtime's outputs against the source model's (PyTorch or TensorFlow, through its
    framework adapter) on the same (real) rows."""
    from onnxbench.model.pad import trim
    from onnxbench.quality.parity import DEFAULT_ATOL, DEFAULT_RTOL, compare

    actual = trim(runtime.run(runtime.cast_inputs(inputs)), case.batch)
    expected = trim(bundle.reference()(inputs), case.batch)
    rtol = case.options.get("rtol")
    atol = case.options.get("atol")
    report = compare(expected, actual, bundle.output_names(),
                     rtol=DEFAULT_RTOL if rtol is None else float(rtol),
                     atol=DEFAULT_ATOL if atol is None else float(atol))
    return {"batch": case.batch, "against": bundle.framework, **report.to_dict()}


def _close(runtime: Runtime) -> None:
    try:
        runtime.close()
    except Exception:  # noqa: BLE001 - closing must not turn a result into a failure
        pass
