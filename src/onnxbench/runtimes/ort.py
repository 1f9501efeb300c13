"""ONNX Runtime behind the Runtime protocol, for any execution provider.

Why the care: ONNX Runtime silently falls back to the CPU when a requested provider fails
to load, so a "GPU" figure may really be a CPU one. After creating the session we compare
its active providers with the requested one and raise ``Skip`` on a fallback. On CUDA the
"inference" figure uses IO binding (inputs and outputs resident on the device, nothing
copied per run); "e2e" timing keeps host numpy in and out so the copies are timed too.
CUDA graphs need fixed buffers, so outputs are pre-allocated and each input shape gets its
own graph id (``gpu_graph_id``), captured during ``bind`` (warm-up per shape).
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import numpy as np
from pydantic import Field, model_validator

from onnxbench.core.errors import Skip, UserError, first_line
from onnxbench.core.options import Count, Flag, OptFlag, PosInt, Table, Text, choice, integer
from onnxbench.runtimes.base import Device, Inputs, Runtime, RuntimeOptions
from onnxbench.runtimes.ort_providers import CPU, CUDA, TRT, provider_list

if TYPE_CHECKING:
    from onnxbench.model.bundle import Bundle

LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
          "extended": "ORT_ENABLE_EXTENDED", "layout": "ORT_ENABLE_LAYOUT", "all": "ORT_ENABLE_ALL"}
MODES = {"sequential": "ORT_SEQUENTIAL", "parallel": "ORT_PARALLEL"}
# CUDA EP: graph capture starts after a couple of regular runs; bind() runs past that.
_GRAPH_WARMUP_RUNS = 3


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


def session_options(ort: Any, opts: OrtOptions) -> Any:
    """SessionOptions from parsed options (threads pinned only where asked)."""
    so = ort.SessionOptions()
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel,
                                          LEVELS[opts.graph_optimization_level])
    so.execution_mode = getattr(ort.ExecutionMode, MODES[opts.execution_mode])
    if opts.intra is not None:
        so.intra_op_num_threads = opts.intra
    if opts.inter_op_threads is not None:
        so.inter_op_num_threads = opts.inter_op_threads
    so.log_severity_level = 3  # errors only: provider warnings are not onnxbench's output
    return so


def input_caster(sess: Any) -> Callable[[Inputs], dict[str, np.ndarray]]:
    """Inputs restricted to an ORT session's inputs and cast to their declared dtypes (an
    fp16 graph without keep_io_types takes float16 inputs; the zoo makes float32 ones)."""
    kinds = {"tensor(float16)": np.float16, "tensor(float)": np.float32,
             "tensor(double)": np.float64, "tensor(int64)": np.int64,
             "tensor(int32)": np.int32}
    types = {i.name: kinds.get(i.type) for i in sess.get_inputs()}

    def cast(inputs: Inputs) -> dict[str, np.ndarray]:
        return {k: (np.asarray(v).astype(types[k], copy=False) if types.get(k) else
                    np.asarray(v)) for k, v in inputs.items() if k in types}

    return cast


class OrtRuntime(Runtime):
    """ONNX Runtime session for one provider (``ort-cpu``, ``ort-cuda``, ``ort-trt``,
    ``ort:<Provider>``). This class serves any provider onnxbench has no class for: its
    calls return host arrays, so they are synchronous (``device = "other"``)."""

    device: ClassVar[Device] = "other"
    framework = "onnx"
    needs_module = False
    thread_safe = True  # InferenceSession.run is thread-safe; each bind() has its own binding
    Options = OrtOptions
    PROVIDER: ClassVar[str | None] = None  # None: the part of the name after "ort:"

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.provider = self.PROVIDER or name.partition(":")[2]
        self.opts: OrtOptions = OrtOptions()
        self.sess: Any = None
        self._ort: Any = None
        self._info: dict[str, Any] = {}
        self._binding: Any = None
        self._keep: list[Any] = []  # device buffers must outlive the bound callables
        self._graph_ids = 0
        self._plain_run_options: Any = None
        self._cast: Callable[[Inputs], dict[str, np.ndarray]] | None = None
        self._providers: list[Any] = []

    # ---- prepare ------------------------------------------------------------------
    def prepare(self, bundle: Bundle, options: Mapping[str, Any]) -> None:
        self.accept(bundle, options)
        import onnxruntime as ort

        self._ort = ort
        ort.set_default_logger_severity(3)  # errors only: the CLI is the only place that prints
        available = ort.get_available_providers()
        if self.provider not in available:
            raise Skip(f"ONNX Runtime here has no {self.provider} "
                       f"(available: {', '.join(available)})")
        providers = provider_list(self.provider, self.opts)
        calibration = self._calibrate(bundle, providers)
        self._providers = providers
        start = time.perf_counter_ns()
        self.sess = self._create(ort, str(bundle.onnx_path), providers)
        create_ms = (time.perf_counter_ns() - start) / 1e6
        self._check_active()
        self._cast = input_caster(self.sess)
        if self.opts.cuda_graph and self.device == "cuda":
            self._plain_run_options = ort.RunOptions()
            self._plain_run_options.add_run_config_entry("gpu_graph_id", "-1")
        self._info = self._describe(providers, create_ms)
        if calibration:
            self._info["trt_int8_calibration"] = calibration

    def _calibrate(self, bundle: Bundle, providers: list[Any]) -> dict[str, Any] | None:
        """TensorRT INT8: the calibration table from the model's own rows (``trt_int8``)."""
        from onnxbench.runtimes import trt_int8

        if self.provider != TRT or not trt_int8.needs_table(self.opts):
            return None
        return trt_int8.calibrate(bundle, self.opts, providers[0][1])

    def _create(self, ort: Any, path: str, providers: list[Any]) -> Any:
        try:
            with warnings.catch_warnings():  # "provider not available" is checked just after
                warnings.simplefilter("ignore")
                return ort.InferenceSession(path, sess_options=session_options(ort, self.opts),
                                            providers=providers, enable_fallback=0)
        except Exception as exc:
            if self.provider == TRT:
                raise Skip("TensorRT not installed: session creation failed: "
                           f"{first_line(exc)}") from exc
            text = str(exc).lower()
            if self.provider != CPU and any(k in text for k in ("failed to load", ".so", ".dll",
                                                                  "cannot open shared")):
                raise Skip(f"{self.provider} could not start here: {first_line(exc)}") from exc
            raise

    def _check_active(self) -> None:
        active = self.sess.get_providers()
        if self.provider in active:
            return
        listed = ", ".join(active)
        if self.provider == TRT:
            raise Skip(f"TensorRT not installed: provider fell back to {active[0]}: "
                       f"{TRT} not active (active: {listed})")
        raise Skip(f"provider fell back to CPU: {self.provider} not active (active: {listed})")

    def _describe(self, providers: list[Any], create_ms: float) -> dict[str, Any]:
        in_effect = self.sess.get_provider_options()
        tf32 = None
        cuda_opts = in_effect.get(CUDA)
        if cuda_opts and "use_tf32" in cuda_opts:
            tf32 = cuda_opts["use_tf32"] not in ("0", "false", "False")
        so = self.sess.get_session_options()
        cuda = self.device == "cuda"
        return {
            **self.base_info(),
            "backend": "onnxruntime",
            "ort_version": self._ort.__version__,
            "requested_provider": self.provider,
            "requested_providers": [p[0] if isinstance(p, tuple) else p for p in providers],
            "active_providers": self.sess.get_providers(),
            "provider_options": dict(in_effect.get(self.provider, {})),
            "session_options": {
                "graph_optimization_level": self.opts.graph_optimization_level,
                "execution_mode": self.opts.execution_mode,
                "intra_op_threads": so.intra_op_num_threads,
                "inter_op_threads": so.inter_op_num_threads,
            },
            "threads": {"intra_op": so.intra_op_num_threads, "inter_op": so.inter_op_num_threads},
            "tf32": tf32,
            "device_id": self.opts.device_id if cuda else None,
            "io_binding": cuda and self.opts.io_binding,
            "timing": self.opts.timing if cuda else "inference",
            "cuda_graph": self.opts.cuda_graph and cuda,
            "session_create_ms": create_ms,
            "clock": "time.perf_counter_ns, host, after synchronize()",
        }

    # ---- running ------------------------------------------------------------------
    def _feed(self, inputs: Inputs) -> dict[str, np.ndarray]:
        names = [i.name for i in self.sess.get_inputs()]
        missing = [n for n in names if n not in inputs]
        if missing:
            raise UserError(f"runtime {self.name}: missing input(s) {', '.join(missing)}; "
                            f"the model's inputs are: {', '.join(names)}")
        return {n: inputs[n] for n in names}

    def cast_inputs(self, inputs: Inputs) -> dict[str, np.ndarray]:
        return {**inputs, **self._cast(inputs)} if self._cast else dict(inputs)

    def run(self, inputs: Inputs) -> list[np.ndarray]:
        return list(self.sess.run(None, self._feed(inputs), self._plain_run_options))

    def bind(self, inputs: Inputs) -> Callable[[], Any]:
        feed = self._feed(inputs)
        device_bound = self.device == "cuda" and self.opts.io_binding
        if not device_bound or (self.opts.timing == "e2e" and not self.opts.cuda_graph):
            # zero extra Python layers: the overhead benchmark needs the bare session.run
            return functools.partial(self.sess.run, None, feed, self._plain_run_options)
        binding, pairs, outputs, run_options = self._device_binding(feed)
        if self.opts.timing == "e2e":
            return functools.partial(_graph_e2e_call, self.sess, binding, run_options, pairs,
                                     outputs)
        return functools.partial(self.sess.run_with_iobinding, binding, run_options)

    def _device_binding(self, feed: Mapping[str, np.ndarray]
                        ) -> tuple[Any, list[Any], list[Any], Any]:
        """Inputs copied to the device once; outputs bound on the device (pre-allocated for
        CUDA graphs)."""
        ort, dev = self._ort, self.opts.device_id
        binding = self.sess.io_binding()
        pairs = []
        for name, arr in feed.items():
            value = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(arr), "cuda", dev)
            binding.bind_ortvalue_input(name, value)
            pairs.append((value, arr))
        run_options = None  # measured on an H100: passing a RunOptions costs ~90 us per run
        names = [o.name for o in self.sess.get_outputs()]
        outputs: list[Any] = []
        # pre-allocated outputs: no per-run allocation, and fixed addresses for CUDA graphs
        probe = self.sess.run(None, dict(feed), self._plain_run_options)
        for name, arr in zip(names, probe):
            value = ort.OrtValue.ortvalue_from_shape_and_type(arr.shape, arr.dtype, "cuda", dev)
            binding.bind_ortvalue_output(name, value)
            outputs.append(value)
        if self.opts.cuda_graph:
            self._graph_ids += 1  # 0 is reserved by ORT, -1 disables capture
            run_options = ort.RunOptions()
            run_options.add_run_config_entry("gpu_graph_id", str(self._graph_ids))
        binding.synchronize_inputs()
        if self.opts.cuda_graph:
            for _ in range(_GRAPH_WARMUP_RUNS):  # regular runs, then the capture, per shape
                self.sess.run_with_iobinding(binding, run_options)
            self._info["cuda_graph_ids"] = self._graph_ids
        self._binding = binding
        self._keep.append((binding, pairs, outputs, run_options))
        return binding, pairs, outputs, run_options

    def synchronize(self) -> None:
        if self._binding is not None:
            self._binding.synchronize_outputs()

    def info(self) -> dict[str, Any]:
        return dict(self._info)

    def device_memory(self) -> dict[str, float]:
        """NVML: this process's and the device's memory in use (MB), on CUDA."""
        if self.device != "cuda" or self.sess is None:
            return {}
        from onnxbench.runtimes.gpu_memory import nvml_memory

        return nvml_memory(self.opts.device_id)

    def what_ran(self) -> dict[str, Any]:
        """The graph's op counts and the optimisation record (an artifact built here)."""
        bundle = self.bundle
        if bundle is None or bundle.onnx_path is None or not bundle.has_module:
            return {}
        from onnxbench.build.artifacts import graph_record, optimization_record

        info: dict[str, Any] = {"graph": graph_record(bundle.artifact, bundle.meta)}
        record = optimization_record(bundle.meta)
        if record:
            info["optimization"] = record
        return info

    # ---- diagnostics on fresh sessions (onnxbench.profile), never the timed one ---------
    def _fresh_session_args(self) -> tuple[str, list[Any], Callable[[], Any]]:
        """Model, providers (CUDA graphs off: plain runs) and an options factory like the
        timed session's."""
        off = ("enable_cuda_graph", "trt_cuda_graph_enable")
        providers = [(p[0], {k: v for k, v in p[1].items() if k not in off})
                     if isinstance(p, tuple) else p for p in self._providers]
        path = str(self.bundle.onnx_path) if self.bundle else ""
        return path, providers, lambda: session_options(self._ort, self.opts)

    def placement(self) -> dict[str, Any] | None:
        """Nodes per provider, CPU fallbacks and Memcpy nodes (onnxbench.profile.placement)."""
        if self.sess is None:
            return None
        from onnxbench.profile.placement import session_placement

        model, providers, make = self._fresh_session_args()
        return session_placement(model, providers, make, self.provider)

    def profile(self, inputs: Inputs, runs: int = 10) -> dict[str, Any] | None:
        """ORT's session profiler over ``runs`` runs (onnxbench.profile.ort)."""
        if self.sess is None:
            return None
        from onnxbench.profile.ort import profile_session

        model, providers, make = self._fresh_session_args()
        return profile_session(model, providers, make, self._feed(inputs), runs=runs)

    def close(self) -> None:
        self._keep.clear()
        self._binding = None
        self.sess = None


class OrtCpuRuntime(OrtRuntime):
    """``ort-cpu`` / ``ort:CPUExecutionProvider``."""

    device: ClassVar[Device] = "cpu"
    label = "ORT CPU"
    PROVIDER = CPU


class OrtCudaRuntime(OrtRuntime):
    """``ort-cuda`` / ``ort:CUDAExecutionProvider``: IO binding, CUDA graphs, TF32."""

    device: ClassVar[Device] = "cuda"
    label = "ORT CUDA"
    PROVIDER = CUDA


class OrtTensorrtRuntime(OrtRuntime):
    """``ort-trt`` / ``ort:TensorrtExecutionProvider`` (CUDA as its fallback for the rest)."""

    device: ClassVar[Device] = "cuda"
    label = "ORT TensorRT"
    PROVIDER = TRT


def _graph_e2e_call(sess: Any, binding: Any, run_options: Any, pairs: list[Any],
                    outputs: list[Any]) -> list[np.ndarray]:
    """End-to-end on fixed device buffers: host -> device copy, replay, device -> host copy."""
    for value, host in pairs:
        value.update_inplace(host)
    sess.run_with_iobinding(binding, run_options)
    return [value.numpy() for value in outputs]
