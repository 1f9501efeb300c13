"""What a measured case gets after its timed loop, so nothing of it is timed: the device
clock's figure, parity (``verify``), accuracy (``accuracy``, ``accuracy_data``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from onnxbench.core.case import Case
from onnxbench.core.result import Timing
from onnxbench.model.bundle import Bundle
from onnxbench.model.pad import pad_batch, trim
from onnxbench.quality import accuracy as task_accuracy
from onnxbench.quality.labelled import case_labelled_accuracy
from onnxbench.quality.parity import DEFAULT_ATOL, DEFAULT_RTOL, compare
from onnxbench.runtimes.base import Runtime


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


def case_accuracy(case: Case, bundle: Bundle, runtime: Runtime) -> dict[str, Any] | None:
    """This runtime's task metric and its delta against fp32, after timing so it cannot
    disturb it: option ``accuracy_data`` (the user's labelled .npz, any model; see
    ``onnxbench.quality.labelled``), or option ``accuracy`` (models with a source module).
    Deterministic, so only a point's first process evaluates it (the others measure latency
    only)."""
    labelled = case.options.get("accuracy_data")
    if case.repeat or (not labelled and (not case.options.get("accuracy")
                                         or not bundle.has_module)):
        return None
    to = int(case.options.get("pad_batch_to") or 0)

    def predict(inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        padded, n_real = pad_batch(inputs, to) if to else (dict(inputs), None)
        out = runtime.run(runtime.cast_inputs(padded))
        return trim(out, n_real) if n_real is not None else list(out)

    if labelled:
        return case_labelled_accuracy(case, bundle, predict)
    return task_accuracy.case_accuracy(case, bundle, predict)


def case_parity(case: Case, bundle: Bundle, runtime: Runtime,
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
    actual = trim(runtime.run(runtime.cast_inputs(inputs)), case.batch)
    expected = trim(bundle.reference()(inputs), case.batch)
    rtol = case.options.get("rtol")
    atol = case.options.get("atol")
    report = compare(expected, actual, bundle.output_names(),
                     rtol=DEFAULT_RTOL if rtol is None else float(rtol),
                     atol=DEFAULT_ATOL if atol is None else float(atol))
    return {"batch": case.batch, "against": bundle.framework, **report.to_dict()}
