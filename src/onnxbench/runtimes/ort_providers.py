"""The ``providers`` argument of an ONNX Runtime session, from ``OrtOptions``.

The requested provider comes first with its options; CUDA backs TensorRT, the CPU backs both
(the session's active providers are checked after creation: a fallback is a ``Skip``, never
a relabelled figure).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onnxbench.runtimes.ort import OrtOptions

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TRT = "TensorrtExecutionProvider"


def _cuda_provider_options(opts: OrtOptions) -> dict[str, str]:
    po = {"device_id": str(opts.device_id)}
    if opts.use_tf32 is not None:
        po["use_tf32"] = "1" if opts.use_tf32 else "0"
    if opts.cudnn_conv_algo_search:
        po["cudnn_conv_algo_search"] = opts.cudnn_conv_algo_search
    if opts.gpu_mem_limit_mb is not None:
        po["gpu_mem_limit"] = str(opts.gpu_mem_limit_mb * 2**20)
    return po


def _trt_provider_options(opts: OrtOptions) -> dict[str, str]:
    po = {"device_id": str(opts.device_id)}
    for flag, name in ((opts.trt_fp16, "trt_fp16_enable"), (opts.trt_int8, "trt_int8_enable")):
        if flag is not None:
            po[name] = "1" if flag else "0"
    if opts.trt_engine_cache_dir:
        po.update(trt_engine_cache_enable="1", trt_engine_cache_path=opts.trt_engine_cache_dir)
    if opts.trt_workspace_mb is not None:
        po["trt_max_workspace_size"] = str(opts.trt_workspace_mb * 1024 * 1024)
    if opts.cuda_graph:
        po["trt_cuda_graph_enable"] = "1"
    return po


def provider_list(provider: str, opts: OrtOptions) -> list[Any]:
    """The providers argument for InferenceSession, requested provider first."""
    extra = {k: str(v) for k, v in opts.provider_options.items()}
    if provider == CUDA:
        po = _cuda_provider_options(opts)
        if opts.cuda_graph:
            po["enable_cuda_graph"] = "1"
        return [(CUDA, {**po, **extra}), CPU]
    if provider == TRT:
        return [(TRT, {**_trt_provider_options(opts), **extra}),
                (CUDA, _cuda_provider_options(opts)), CPU]
    if provider == CPU:
        return [(CPU, extra)]
    return [(provider, extra), CPU]
