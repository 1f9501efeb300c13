"""The inference stage of a pipeline, on any runtime.

An ``Engine`` is the model as the pipeline calls it: a torch tensor on the pipeline's device
in, logits as a torch tensor on that device out. Each is built from the runtime registry,
so options, skips and ``runtime_info`` are the runtime's own:

- PyTorch (``torch-cpu``, ``torch-cuda``, ``torch-compile-*``): the prepared runtime's module,
  called under its ``call_context()`` (inference mode, autocast when asked).
- ONNX Runtime: host views on the CPU, IO binding on torch's CUDA stream on the GPU
  (``onnxbench.runtimes.ort_tensors``).

Each is the runtime's ``tensor_stage`` hook (``onnxbench.runtimes.base``); a runtime without
one, or without the device or provider, raises its ``Skip`` (its reason).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from onnxbench.core.case import Case
from onnxbench.model.bundle import Bundle
from onnxbench.runtimes import get_runtime
from onnxbench.runtimes.prep import runtime_options


@dataclass
class Engine:
    infer: Callable[[Any], Any]      # model input (torch, on the device) -> logits (torch)
    runtime: Any                     # the prepared Runtime (closed with the engine)
    info: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        try:
            self.runtime.close()
        except Exception:  # noqa: BLE001 - closing must not turn a result into a failure
            pass


def build_engine(case: Case, bundle: Bundle, device, example_shape: tuple[int, ...],
                 options: dict[str, Any] | None = None) -> Engine:
    """The runtime ``case.runtime`` prepared for ``bundle``, as an Engine on ``device``
    (``options``: the case's, by default). One untimed first call on zeros of
    ``example_shape`` (a compile, a CUDA graph, ORT's first-run allocations) is recorded as
    ``first_call_ms``."""
    runtime = get_runtime(case.runtime)
    options = runtime_options(case, bundle, runtime) if options is None else options
    infer, info = runtime.tensor_stage(bundle, options, device)
    engine = Engine(infer, runtime, {**runtime.info(), **info})
    import torch

    start = time.perf_counter_ns()
    with torch.inference_mode():
        engine.infer(torch.zeros(example_shape, device=device))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    engine.info["first_call_ms"] = (time.perf_counter_ns() - start) / 1e6
    return engine
