"""ONNX Runtime fed from torch tensors: an image pipeline's inference stage
(``OrtRuntime.tensor_stage``).

- On the CPU (``ort-cpu``): the tensor's memory handed to ``session.run`` as a numpy view (no
  copy), the output wrapped back as a tensor.
- On the GPU (``ort-cuda``, ``ort-trt``): **IO binding from the torch tensor's device pointer**
  (``bind_input(..., buffer_ptr=x.data_ptr())``) and into a torch output tensor allocated
  once per shape: the device-side preprocessing feeds ORT without a round trip through the
  host. ORT runs on PyTorch's current CUDA stream (``user_compute_stream``), so the
  preprocessing kernels before it and the postprocessing after it are ordered on one stream
  without a host synchronisation in between.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np


def stream_options(options: Mapping[str, Any], device: Any) -> dict[str, Any]:
    """The session options with ORT's CUDA provider on torch's current stream of ``device``."""
    import torch

    if device.type != "cuda":
        return dict(options)
    stream = torch.cuda.current_stream(device).cuda_stream
    provider = dict(options.get("provider_options") or {})
    provider.setdefault("has_user_compute_stream", "1")
    provider.setdefault("user_compute_stream", str(stream))
    return {**options, "provider_options": provider}


def tensor_infer(sess: Any, device: Any) -> tuple[Callable[[Any], Any], dict[str, Any]]:
    """(infer, info) for a prepared session: torch tensor on ``device`` in, out."""
    import torch

    name, out_name = sess.get_inputs()[0].name, sess.get_outputs()[0].name
    in_dtype = _torch_dtype(sess.get_inputs()[0].type)
    info = {"input_dtype": str(in_dtype).removeprefix("torch.")}
    if device.type != "cuda":
        def infer_host(x: Any) -> Any:
            x = x.to(in_dtype).contiguous()
            return torch.from_numpy(sess.run([out_name], {name: x.numpy()})[0])

        return infer_host, {**info, "engine": "ORT session.run on host tensors"}
    return _bound_infer(sess, name, out_name, in_dtype, device), {
        **info, "engine": "ORT IO binding on torch device tensors "
                          "(data_ptr, no host copy; torch's CUDA stream)"}


def _bound_infer(sess: Any, name: str, out_name: str, in_dtype: Any,
                 device: Any) -> Callable[[Any], Any]:
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

    def infer(x: Any) -> Any:
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


def _torch_dtype(onnx_type: str) -> Any:
    import torch

    return getattr(torch, _TYPES.get(onnx_type, "float32"))


def _np_dtype(dtype: Any) -> type:
    import torch

    return {torch.float16: np.float16, torch.float64: np.float64}.get(dtype, np.float32)
