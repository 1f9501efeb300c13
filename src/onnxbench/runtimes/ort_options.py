"""ONNX Runtime's options for a case (``OrtOptions``) and the names of its levels and modes."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from onnxbench.core.options import Count, Flag, OptFlag, PosInt, Table, Text, choice, integer
from onnxbench.runtimes.base import RuntimeOptions

LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
          "extended": "ORT_ENABLE_EXTENDED", "layout": "ORT_ENABLE_LAYOUT", "all": "ORT_ENABLE_ALL"}
MODES = {"sequential": "ORT_SEQUENTIAL", "parallel": "ORT_PARALLEL"}


class OrtOptions(RuntimeOptions):
    """ONNX Runtime session and provider options."""

    graph_optimization_level: Annotated[str, choice(*LEVELS)] = Field(
        "all", description="ORT graph optimisation level of the session")
    intra_op_threads: Count = Field(None, description="intra-op threads (ORT's default)")
    threads: Count = Field(None, description="intra-op threads, when intra_op_threads is unset")
    inter_op_threads: Count = Field(None, description="inter-op threads (parallel mode)")
    execution_mode: Annotated[str, choice(*MODES)] = Field("sequential",
                                                            description="sequential or parallel")
    provider_options: Table = Field(default_factory=dict,
                                    description="mapping passed to the provider as is")
    io_binding: Flag = Field(True, description="CUDA: inputs/outputs resident on the device")
    timing: Annotated[str, choice("inference", "e2e")] = Field(
        "inference", description="CUDA: inference (device-resident) or e2e (copies timed)")
    cuda_graph: Flag = Field(False, description="CUDA: CUDA-graph capture, one graph per shape")
    use_tf32: OptFlag = Field(None, description="CUDA: TF32 on/off (ORT's default: on)")
    cudnn_conv_algo_search: Annotated[str | None, choice(
        "EXHAUSTIVE", "HEURISTIC", "DEFAULT", optional=True)] = Field(
        None, description="CUDA: cuDNN convolution algorithm search")
    device_id: Annotated[int, integer(0, optional=False)] = Field(
        0, description="CUDA/TensorRT device")
    trt_fp16: OptFlag = Field(None, description="TensorRT: fp16 kernels")
    trt_int8: OptFlag = Field(None, description="TensorRT: int8 kernels")
    trt_int8_calibration: Annotated[str, choice("own-rows", "none")] = Field(
        "own-rows", description="TensorRT int8: a calibration table from the model's own "
                                "rows (own-rows), or none (a QDQ graph, or your own table in "
                                "provider_options)")
    trt_engine_cache_dir: Text = Field(None, description="TensorRT: engine cache folder")
    trt_workspace_mb: PosInt = Field(None, description="TensorRT: workspace size (MB)")
    gpu_mem_limit_mb: PosInt = Field(None, description="CUDA: cap the CUDA arena at this many "
                                                       "MB (beyond it an allocation fails: oom)")

    @model_validator(mode="after")
    def _graphs_need_binding(self) -> OrtOptions:
        if self.cuda_graph and not self.io_binding:
            raise ValueError("option cuda_graph=true needs io_binding=true (CUDA graphs replay "
                             "fixed device buffers)")
        return self

    @property
    def intra(self) -> int | None:
        return self.intra_op_threads if self.intra_op_threads is not None else self.threads
