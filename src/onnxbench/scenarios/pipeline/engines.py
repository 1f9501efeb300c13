"""The inference stage of a pipeline, on any runtime.

An ``Engine`` is the model as the pipeline calls it: a torch tensor on the pipeline's device
in, logits as a torch tensor on that device out. Each is built from the runtime registry,
so options, skips and ``runtime_info`` are the runtime's own:

- PyTorch (``torch-cpu``, ``torch-cuda``, ``torch-compile-*``): the prepared runtime's module,
  called under its ``call_context()`` (inference mode, autocast when asked).
- ONNX Runtime on the CPU (``ort-cpu``): the tensor's memory handed to ``session.run`` as a
  numpy view (no copy), the output wrapped back as a tensor.
- ONNX Runtime on the GPU (``ort-cuda``, ``ort-trt``): **IO binding from the torch tensor's
  device pointer** (``bind_input(..., buffer_ptr=x.data_ptr())``) and into a torch output
  tensor allocated once per shape: the device-side preprocessing feeds ORT without a
  round trip through the host. ORT runs on PyTorch's current CUDA stream
  (``user_compute_stream``), so the preprocessing kernels before it and the postprocessing
  after it are ordered on one stream without a host synchronisation in between.

Without the device or provider, ``prepare`` raises the runtime's ``Skip`` (its reason).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from onnxbench.core.case import Case
from onnxbench.model.bundle import Bundle


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
    from onnxbench.runtimes import get_runtime
    from onnxbench.runtimes.prep import runtime_options

    runtime = get_runtime(case.runtime)
    options = runtime_options(case, bundle, runtime) if options is None else options
    if runtime.framework == "onnx":
        engine = _ort_engine(runtime, bundle, device, options)
    else:
        engine = _torch_engine(runtime, bundle, options)
    import torch

    start = time.perf_counter_ns()
    with torch.inference_mode():
        engine.infer(torch.zeros(example_shape, device=device))
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    engine.info["first_call_ms"] = (time.perf_counter_ns() - start) / 1e6
    return engine


def _torch_engine(runtime, bundle: Bundle, options: dict[str, Any]) -> Engine:
    runtime.prepare(bundle, options)
    module, dtype, context = runtime.module, runtime._dtype, runtime.call_context

    def infer(x):
        with context():
            return module(x.to(dtype) if x.dtype != dtype else x)

    return Engine(infer, runtime, {**runtime.info(), "engine": "torch module"})


def _ort_engine(runtime, bundle: Bundle, device, options: dict[str, Any]) -> Engine:
    import torch

    if device.type == "cuda":
        stream = torch.cuda.current_stream(device).cuda_stream
        provider = dict(options.get("provider_options") or {})
        provider.setdefault("has_user_compute_stream", "1")
        provider.setdefault("user_compute_stream", str(stream))
        options = {**options, "provider_options": provider}
    runtime.prepare(bundle, options)
    sess = runtime.sess
    name, out_name = sess.get_inputs()[0].name, sess.get_outputs()[0].name
    in_dtype = _torch_dtype(sess.get_inputs()[0].type)
    info = {**runtime.info(), "input_dtype": str(in_dtype).removeprefix("torch.")}
    if device.type != "cuda":
        def infer_host(x):
            x = x.to(in_dtype).contiguous()
            return torch.from_numpy(sess.run([out_name], {name: x.numpy()})[0])

        return Engine(infer_host, runtime, {**info, "engine": "ORT session.run on host tensors"})
    return Engine(_bound_infer(runtime, sess, name, out_name, in_dtype, device), runtime,
                  {**info, "engine": "ORT IO binding on torch device tensors "
                                     "(data_ptr, no host copy; torch's CUDA stream)"})


def _bound_infer(runtime, sess, name: str, out_name: str, in_dtype, device):
    """``infer`` for ORT on CUDA: bind the torch input's device memory and a torch output."""
    import onnxruntime as ort
    import torch

    binding = sess.io_binding()
    device_id = device.index or 0
    outputs: dict[tuple[int, ...], Any] = {}
    run_options = ort.RunOptions()
    # ORT and torch share one stream: no host synchronisation at the end of each run
    run_options.add_run_config_entry("disable_synchronize_execution_providers", "1")
    out_dtype = _torch_dtype(sess.get_outputs()[0].type)

    def infer(x):
        x = x.to(in_dtype).contiguous()
        shape = tuple(x.shape)
        if shape not in outputs:  # the output shape from one host run, then allocated once
            probe = sess.run([out_name], {name: x.cpu().numpy()})[0]
            outputs[shape] = torch.empty(probe.shape, dtype=out_dtype, device=device)
        out = outputs[shape]
        binding.bind_input(name, "cuda", device_id, _np_dtype(in_dtype), list(shape),
                           x.data_ptr())
        binding.bind_output(out_name, "cuda", device_id, _np_dtype(out_dtype),
                            list(out.shape), out.data_ptr())
        sess.run_with_iobinding(binding, run_options)
        return out  # x may be freed now: torch reuses its memory in stream order, after ORT

    return infer


_TYPES = {"tensor(float)": "float32", "tensor(float16)": "float16", "tensor(double)": "float64",
          "tensor(bfloat16)": "bfloat16"}


def _torch_dtype(onnx_type: str):
    import torch

    return getattr(torch, _TYPES.get(onnx_type, "float32"))


def _np_dtype(dtype) -> type:
    import torch

    return {torch.float16: np.float16, torch.float64: np.float64}.get(dtype, np.float32)
