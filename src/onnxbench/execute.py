"""One case end to end, inside its worker: artifact → runtime → inputs → measure → Result.

This runs in the isolated worker process (``onnxbench.worker``), so it may pin threads and
set environment variables freely: they die with the process. It never prints; it returns
a ``Result`` (status ``ok`` or ``skipped``). Any other exception propagates to the worker,
which records it as ``failed`` with its first line.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from onnxbench.artifact import Artifact
from onnxbench.case import Case
from onnxbench.errors import Skip
from onnxbench.result import Result, Timing

THREAD_OPTIONS = ("threads", "intra_op_threads")
# seeded synthetic images for pipeline cases: deterministic, so shared across runs
IMAGE_CACHE = Path(tempfile.gettempdir()) / "onnxbench-images"


def now_iso() -> str:
    """UTC time stamp with microseconds (also tells resume which run wrote a result)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def pin_threads(options: Mapping[str, Any]) -> dict[str, Any]:
    """Pin OMP/MKL/torch threads from ``threads``/``intra_op_threads``; return what was set.

    ORT and torch in one process oversubscribe cores unless both are told the same number.
    """
    n = next((options[k] for k in THREAD_OPTIONS if options.get(k) is not None), None)
    pinned: dict[str, Any] = {}
    if n is not None:
        n = int(n)
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(n)
        pinned["requested_threads"] = n
    if "torch" in sys.modules:  # preloaded by the fork server; never imported just for this
        import torch

        if n is not None:
            torch.set_num_threads(n)
        pinned["torch_threads"] = torch.get_num_threads()
    pinned["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS")
    return pinned


def make_case_inputs(case: Case, artifact: Artifact) -> dict[str, np.ndarray]:
    """Seeded inputs: the zoo spec's own for zoo/factory models, else synthesised from ONNX."""
    if artifact.has_torch:
        from onnxbench.zoo import resolve

        spec = resolve(artifact.model)
        return spec.make_inputs(case.config, case.batch, case.seq, case.seed,
                                options=artifact.options)
    from onnxbench.inputs import synthesize

    return synthesize(artifact.onnx_path, batch=case.batch, seq=case.seq,
                      shapes=case.shapes or None, ranges=case.ranges or None, seed=case.seed)


def _pad(inputs: dict[str, np.ndarray], case: Case) -> tuple[dict[str, np.ndarray], dict]:
    """Pad the batch up to ``pad_batch_to`` (graphs that break at batch 1 need it).

    Returns the inputs and what was done, for runtime_info; throughput still counts only
    the real rows.
    """
    to = case.options.get("pad_batch_to")
    if not to or int(to) <= case.batch:
        return inputs, {}
    from onnxbench.runtimes.pad import pad_batch

    padded, n_real = pad_batch(inputs, int(to))
    return padded, {"padded_batch": int(to), "real_batch": n_real}


def peak_memory_mb() -> dict[str, float]:
    """Peak and current RSS of this worker process, in MB."""
    import psutil

    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"peak_rss_mb": round(peak_kb / 1024.0, 3),
            "rss_mb": round(psutil.Process().memory_info().rss / 2**20, 3)}


def _gpu_memory(info: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in info.items() if k.startswith("gpu_") and "mem" in k}


def execute_case(case: Case, artifact: Artifact, env: dict[str, Any] | None = None) -> Result:
    """Measure one case and return its Result (``ok`` or ``skipped``; errors propagate).

    ``env`` is the environment fingerprint collected once per run; None collects it here.
    """
    started, t0 = now_iso(), time.monotonic()
    threads = pin_threads(case.options)
    from onnxbench.runtimes import get_runtime

    runtime = get_runtime(case.runtime)
    base = dict(case_id=case.case_id, case=case, started_at=started)
    try:
        result = _measure(case, artifact, runtime, base)
    except Skip as exc:
        result = Result(status="skipped", reason=str(exc).strip().splitlines()[0] if str(exc)
                        else "skipped", **base)
    finally:
        _close(runtime)
    result.runtime_info = {**threads, **result.runtime_info}
    result.memory = {**peak_memory_mb(), **result.memory}
    result.env = env if env is not None else _collect_env()
    result.duration_s = round(time.monotonic() - t0, 6)
    return result


def _measure(case: Case, artifact: Artifact, runtime, base: dict[str, Any]) -> Result:
    """Prepare (timed as session creation), bind, run the timing loop, summarise."""
    from onnxbench.measure.stats import summarize
    from onnxbench.measure.timer import measure
    from onnxbench.runtimes import runtime_device

    if case.runtime.startswith("torch") and not artifact.has_torch:
        raise Skip("PyTorch runtimes need a PyTorch model; this case has only an ONNX file")
    if "pipeline" in case.options:  # an end-to-end image pipeline times its own stages
        from onnxbench.pipeline import run_pipeline_case

        result = run_pipeline_case(case, artifact, IMAGE_CACHE)
        result.started_at = base["started_at"]
        return result
    options = runtime_options(case, artifact)
    inputs, padding = _pad(make_case_inputs(case, artifact), case)
    t = time.perf_counter_ns()
    runtime.prepare(artifact, options)
    session_ms = (time.perf_counter_ns() - t) / 1e6
    inputs = _graph_inputs(runtime, inputs)
    call = runtime.bind(inputs)
    # a CPU runtime's synchronize() is a no-op: leave it out of the timed loop altogether
    sync = runtime.synchronize if runtime_device(case.runtime) == "cuda" else None
    timing: Timing = measure(call, sync, case.measure)
    timing.session_create_ms = session_ms
    timing.stages_ms.update(device_times(runtime, call, timing))
    stats = summarize(timing.latencies_ms, unstable_iqr_ratio=case.measure.unstable_iqr_ratio)
    info = {**dict(runtime.info() or {}), **padding, **_what_ran(case, artifact, runtime)}
    memory = {**peak_memory_mb(), **_gpu_memory(info)}
    parity = _parity(case, artifact, runtime, inputs)
    return Result(status="ok", timing=timing, stats=stats,
                  throughput=case.batch / (stats.mean / 1000.0) if stats.mean > 0 else None,
                  memory=memory, runtime_info=info, parity=parity,
                  accuracy=_accuracy(case, artifact, runtime), **base)


def runtime_options(case: Case, artifact: Artifact) -> dict[str, Any]:
    """The options the runtime is prepared with: the case's, plus its precision for the
    PyTorch runtimes (fp16/bf16 through their ``precision`` option). Skip where the case's
    label cannot be honoured: int8 is an ONNX graph precision, and a bare ``.onnx`` file is
    not optimised by the suite (run ``onnxbench optimize`` and benchmark its output)."""
    from onnxbench.artifacts import OPTIMIZE_OPTIONS, wants_optimization

    options = dict(case.options)
    if case.runtime.startswith("torch") and case.precision != "fp32":
        if case.precision.startswith("int8"):
            raise Skip(f"precision {case.precision} is an ONNX graph quantisation; PyTorch "
                       "runtimes run fp32, fp16 or bf16")
        options.setdefault("precision", case.precision)
    elif not artifact.has_torch and wants_optimization(case):
        asked = sorted(k for k in OPTIMIZE_OPTIONS if case.options.get(k))
        asked += [f"precision {case.precision}"] if case.precision != "fp32" else []
        raise Skip(f"{', '.join(asked)}: a bare .onnx model is not "
                   "optimised in a suite; run `onnxbench optimize` and benchmark its output")
    return options


def _graph_inputs(runtime, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Inputs cast to the ONNX session's declared dtypes (an fp16 graph without
    keep_io_types takes float16), before binding so no cast is timed."""
    sess = getattr(runtime, "sess", None)
    if sess is None or not hasattr(sess, "get_inputs"):
        return inputs
    from onnxbench.accuracy import session_caster

    cast = session_caster(sess)
    return {**inputs, **cast(inputs)}


def _what_ran(case: Case, artifact: Artifact, runtime) -> dict[str, Any]:
    """Proof of what was measured: the ONNX graph's op counts and the optimisation record
    (ORT), or the encoder depth of the PyTorch module (truncation)."""
    from onnxbench.artifacts import graph_record, optimization_record, read_artifact_meta

    info: dict[str, Any] = {}
    if case.runtime.startswith("torch"):
        n_remove = int(artifact.options.get("truncate_layers") or 0)
        module = getattr(runtime, "module", None)
        if n_remove and module is not None:
            from onnxbench.optimize.truncate import find_encoder

            info["module"] = {"encoder_layers": len(find_encoder(module).encoder.layer),
                              "truncated_layers": n_remove}
        return info
    if case.runtime.startswith("ort") and artifact.onnx_path is not None and artifact.has_torch:
        info["graph"] = graph_record(artifact)
        record = optimization_record(read_artifact_meta(artifact))
        if record:
            info["optimization"] = record
    return info


def device_times(runtime, call, timing: Timing, runs: int = 200) -> dict[str, float]:
    """On a CUDA PyTorch runtime, the device's own time per call from CUDA events (median),
    next to the host clock's synchronised figure; measured after the timing loop."""
    if getattr(runtime, "device_kind", None) != "cuda" or not hasattr(runtime, "measure_device_ms"):
        return {}
    n = max(1, min(runs, len(timing.latencies_ms)))
    return {"cuda_events_p50_ms": float(np.median([runtime.measure_device_ms(call)
                                                   for _ in range(n)]))}


def _accuracy(case: Case, artifact: Artifact, runtime) -> dict[str, Any] | None:
    """This runtime's task metric and its delta against fp32 PyTorch (option ``accuracy``;
    zoo/factory models only), after timing so it cannot disturb it."""
    if not case.options.get("accuracy") or not artifact.has_torch:
        return None
    from onnxbench.accuracy import case_accuracy

    to = int(case.options.get("pad_batch_to") or 0)
    sess = getattr(runtime, "sess", None)

    def predict(inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        from onnxbench.runtimes.pad import pad_batch, trim

        padded, n_real = pad_batch(inputs, to) if to else (dict(inputs), None)
        out = runtime.run(_graph_inputs(runtime, padded) if sess is not None else padded)
        return trim(out, n_real) if n_real is not None else list(out)

    return case_accuracy(case, artifact, predict)


def _parity(case: Case, artifact: Artifact, runtime, inputs) -> dict[str, Any] | None:
    """Parity of this runtime against PyTorch at this case's batch (option ``verify``),
    else the export's own record (artifact.json) when this case runs the exported graph.

    ``verify`` builds the PyTorch module in this worker, after the timing loop (so it
    cannot disturb the timings; peak memory is read before it).
    """
    if case.options.get("verify") and artifact.has_torch and not case.runtime.startswith("torch"):
        return verify_case(case, artifact, runtime, inputs)
    if artifact.onnx_path is None or not case.runtime.startswith("ort"):
        return None
    from onnxbench.artifacts import read_artifact_meta

    meta = read_artifact_meta(artifact)
    return meta.get("parity") if meta else None


def verify_case(case: Case, artifact: Artifact, runtime, inputs) -> dict[str, Any]:
    """This runtime's outputs against the PyTorch module's on the same (real) rows."""
    import torch

    from onnxbench.parity import DEFAULT_ATOL, DEFAULT_RTOL, compare
    from onnxbench.runtimes.pad import trim
    from onnxbench.zoo import resolve

    spec = resolve(artifact.model)
    names = spec.input_names(case.config)
    actual = trim(runtime.run(inputs), case.batch)
    module = artifact.load_module()
    with torch.inference_mode():
        expected = module(*(torch.from_numpy(np.ascontiguousarray(inputs[n])) for n in names))
    expected = [expected] if isinstance(expected, torch.Tensor) else list(expected)
    expected = trim([t.detach().cpu().numpy() for t in expected], case.batch)
    rtol = float(case.options.get("rtol", DEFAULT_RTOL))
    atol = float(case.options.get("atol", DEFAULT_ATOL))
    report = compare(expected, actual, spec.output_names(case.config), rtol=rtol, atol=atol)
    return {"batch": case.batch, "against": "torch", **report.to_dict()}


def _close(runtime) -> None:
    try:
        runtime.close()
    except Exception:  # noqa: BLE001 - closing must not turn a result into a failure
        pass


def _collect_env() -> dict[str, Any]:
    try:
        from onnxbench.env import collect
    except ImportError:
        return {}
    return collect()
