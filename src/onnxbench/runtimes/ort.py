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
from typing import Any, Callable, Mapping

import numpy as np

from onnxbench.artifact import Artifact
from onnxbench.errors import Skip, UserError
from onnxbench.runtimes import as_bool, as_choice, as_int, split_options

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TRT = "TensorrtExecutionProvider"

LEVELS = {"disable": "ORT_DISABLE_ALL", "basic": "ORT_ENABLE_BASIC",
          "extended": "ORT_ENABLE_EXTENDED", "layout": "ORT_ENABLE_LAYOUT", "all": "ORT_ENABLE_ALL"}
MODES = {"sequential": "ORT_SEQUENTIAL", "parallel": "ORT_PARALLEL"}
CONV_SEARCH = ("EXHAUSTIVE", "HEURISTIC", "DEFAULT")
ORT_OPTIONS = frozenset({
    "graph_optimization_level", "intra_op_threads", "inter_op_threads", "threads",
    "execution_mode", "provider_options", "io_binding", "timing", "cuda_graph", "use_tf32",
    "cudnn_conv_algo_search", "device_id", "trt_fp16", "trt_int8", "trt_engine_cache_dir",
    "trt_workspace_mb",
})
# CUDA EP: graph capture starts after a couple of regular runs; bind() runs past that.
_GRAPH_WARMUP_RUNS = 3


def parse_options(runtime: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validated ORT options with defaults filled in; UserError names a bad option/value."""
    raw, ignored = split_options(runtime, options, ORT_OPTIONS)
    level = raw.get("graph_optimization_level", "all")
    intra = raw.get("intra_op_threads", raw.get("threads"))
    provider_options = raw.get("provider_options") or {}
    if not isinstance(provider_options, Mapping):
        raise UserError(f"runtime {runtime}: option provider_options must be a mapping "
                        f"of provider option names to values, got {provider_options!r}")
    parsed = {
        "graph_optimization_level": as_choice(runtime, "graph_optimization_level", level, LEVELS),
        "intra_op_threads": None if intra is None else as_int(runtime, "intra_op_threads", intra),
        "inter_op_threads": None if raw.get("inter_op_threads") is None
        else as_int(runtime, "inter_op_threads", raw["inter_op_threads"]),
        "execution_mode": as_choice(runtime, "execution_mode",
                                    raw.get("execution_mode", "sequential"), MODES),
        "provider_options": {str(k): str(v) for k, v in provider_options.items()},
        "io_binding": as_bool(runtime, "io_binding", raw.get("io_binding", True)),
        "timing": as_choice(runtime, "timing", raw.get("timing", "inference"), ("inference", "e2e")),
        "cuda_graph": as_bool(runtime, "cuda_graph", raw.get("cuda_graph", False)),
        "use_tf32": None if raw.get("use_tf32") is None
        else as_bool(runtime, "use_tf32", raw["use_tf32"]),
        "cudnn_conv_algo_search": None if raw.get("cudnn_conv_algo_search") is None
        else as_choice(runtime, "cudnn_conv_algo_search", raw["cudnn_conv_algo_search"], CONV_SEARCH),
        "device_id": as_int(runtime, "device_id", raw.get("device_id", 0)),
        "trt": {k: raw[k] for k in ("trt_fp16", "trt_int8", "trt_engine_cache_dir",
                                    "trt_workspace_mb") if k in raw},
        "ignored_options": ignored,
    }
    if parsed["cuda_graph"] and not parsed["io_binding"]:
        raise UserError(f"runtime {runtime}: option cuda_graph=true needs io_binding=true "
                        "(CUDA graphs replay fixed device buffers)")
    return parsed


def _cuda_provider_options(opts: Mapping[str, Any]) -> dict[str, str]:
    po = {"device_id": str(opts["device_id"])}
    if opts["use_tf32"] is not None:
        po["use_tf32"] = "1" if opts["use_tf32"] else "0"
    if opts["cudnn_conv_algo_search"]:
        po["cudnn_conv_algo_search"] = opts["cudnn_conv_algo_search"]
    return po


def _trt_provider_options(runtime: str, opts: Mapping[str, Any]) -> dict[str, str]:
    trt = opts["trt"]
    po = {"device_id": str(opts["device_id"])}
    for key, name in (("trt_fp16", "trt_fp16_enable"), ("trt_int8", "trt_int8_enable")):
        if key in trt:
            po[name] = "1" if as_bool(runtime, key, trt[key]) else "0"
    if trt.get("trt_engine_cache_dir"):
        po.update(trt_engine_cache_enable="1", trt_engine_cache_path=str(trt["trt_engine_cache_dir"]))
    if "trt_workspace_mb" in trt:
        mb = as_int(runtime, "trt_workspace_mb", trt["trt_workspace_mb"], minimum=1)
        po["trt_max_workspace_size"] = str(mb * 1024 * 1024)
    if opts["cuda_graph"]:
        po["trt_cuda_graph_enable"] = "1"
    return po


def provider_list(runtime: str, provider: str, opts: Mapping[str, Any]) -> list:
    """The providers argument for InferenceSession, requested provider first."""
    if provider == CUDA:
        po = _cuda_provider_options(opts)
        if opts["cuda_graph"]:
            po["enable_cuda_graph"] = "1"
        chain = [(CUDA, {**po, **opts["provider_options"]}), CPU]
    elif provider == TRT:
        chain = [(TRT, {**_trt_provider_options(runtime, opts), **opts["provider_options"]}),
                 (CUDA, _cuda_provider_options(opts)), CPU]
    elif provider == CPU:
        chain = [(CPU, dict(opts["provider_options"]))]
    else:
        chain = [(provider, dict(opts["provider_options"])), CPU]
    return chain


def session_options(ort, opts: Mapping[str, Any]):
    """SessionOptions from parsed options (threads pinned only where asked)."""
    so = ort.SessionOptions()
    so.graph_optimization_level = getattr(ort.GraphOptimizationLevel,
                                          LEVELS[opts["graph_optimization_level"]])
    so.execution_mode = getattr(ort.ExecutionMode, MODES[opts["execution_mode"]])
    if opts["intra_op_threads"] is not None:
        so.intra_op_num_threads = opts["intra_op_threads"]
    if opts["inter_op_threads"] is not None:
        so.inter_op_num_threads = opts["inter_op_threads"]
    so.log_severity_level = 3  # errors only: provider warnings are not onnxbench's output
    return so


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


class OrtRuntime:
    """ONNX Runtime session for one provider (``ort-cpu``, ``ort-cuda``, ``ort-trt``, ``ort:X``)."""

    def __init__(self, name: str, provider: str) -> None:
        self.name = name
        self.provider = provider
        self.device = "cuda" if provider in (CUDA, TRT) else "cpu" if provider == CPU else "other"
        self.sess = None
        self.opts: dict[str, Any] = {}
        self._info: dict[str, Any] = {}
        self._binding = None
        self._keep: list[Any] = []  # device buffers must outlive the bound callables
        self._graph_ids = 0
        self._plain_run_options = None

    # ---- prepare ------------------------------------------------------------------
    def prepare(self, artifact: Artifact, options: Mapping[str, Any]) -> None:
        if artifact.onnx_path is None:
            raise Skip(f"no ONNX graph: {self.name} runs an exported .onnx file and this "
                       "case has none")
        self.opts = parse_options(self.name, options)
        import onnxruntime as ort

        self._ort = ort
        ort.set_default_logger_severity(3)  # errors only: the CLI is the only place that prints
        available = ort.get_available_providers()
        if self.provider not in available:
            raise Skip(f"ONNX Runtime here has no {self.provider} "
                       f"(available: {', '.join(available)})")
        providers = provider_list(self.name, self.provider, self.opts)
        start = time.perf_counter_ns()
        self.sess = self._create(ort, str(artifact.onnx_path), providers)
        create_ms = (time.perf_counter_ns() - start) / 1e6
        self._check_active()
        if self.opts["cuda_graph"] and self.device == "cuda":
            self._plain_run_options = ort.RunOptions()
            self._plain_run_options.add_run_config_entry("gpu_graph_id", "-1")
        self._info = self._describe(providers, create_ms)

    def _create(self, ort, path: str, providers: list):
        try:
            with warnings.catch_warnings():  # "provider not available" is checked just after
                warnings.simplefilter("ignore")
                return ort.InferenceSession(path, sess_options=session_options(ort, self.opts),
                                            providers=providers, enable_fallback=0)
        except Exception as exc:  # noqa: BLE001 - re-raised unless it is a provider load failure
            if self.provider == TRT:
                raise Skip(f"TensorRT not installed: session creation failed: {_first_line(exc)}") from exc
            text = str(exc).lower()
            if self.provider != CPU and any(k in text for k in ("failed to load", ".so", ".dll",
                                                                  "cannot open shared")):
                raise Skip(f"{self.provider} could not start here: {_first_line(exc)}") from exc
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

    def _describe(self, providers: list, create_ms: float) -> dict[str, Any]:
        ort = self._ort
        in_effect = self.sess.get_provider_options()
        mine = dict(in_effect.get(self.provider, {}))
        tf32 = None
        cuda_opts = in_effect.get(CUDA)
        if cuda_opts and "use_tf32" in cuda_opts:
            tf32 = cuda_opts["use_tf32"] not in ("0", "false", "False")
        so = self.sess.get_session_options()
        return {
            "runtime": self.name,
            "backend": "onnxruntime",
            "ort_version": ort.__version__,
            "requested_provider": self.provider,
            "requested_providers": [p[0] if isinstance(p, tuple) else p for p in providers],
            "active_providers": self.sess.get_providers(),
            "provider_options": mine,
            "session_options": {
                "graph_optimization_level": self.opts["graph_optimization_level"],
                "execution_mode": self.opts["execution_mode"],
                "intra_op_threads": so.intra_op_num_threads,
                "inter_op_threads": so.inter_op_num_threads,
            },
            "threads": {"intra_op": so.intra_op_num_threads, "inter_op": so.inter_op_num_threads},
            "tf32": tf32,
            "device": self.device,
            "device_id": self.opts["device_id"] if self.device == "cuda" else None,
            "io_binding": self.device == "cuda" and self.opts["io_binding"],
            "timing": self.opts["timing"] if self.device == "cuda" else "inference",
            "cuda_graph": self.opts["cuda_graph"] and self.device == "cuda",
            "session_create_ms": create_ms,
            "clock": "time.perf_counter_ns, host, after synchronize()",
            "ignored_options": self.opts["ignored_options"],
        }

    # ---- running ------------------------------------------------------------------
    def _feed(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        names = [i.name for i in self.sess.get_inputs()]
        missing = [n for n in names if n not in inputs]
        if missing:
            raise UserError(f"runtime {self.name}: missing input(s) {', '.join(missing)}; "
                            f"the model's inputs are: {', '.join(names)}")
        return {n: inputs[n] for n in names}

    def run(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        return list(self.sess.run(None, self._feed(inputs), self._plain_run_options))

    def bind(self, inputs: Mapping[str, np.ndarray]) -> Callable[[], Any]:
        feed = self._feed(inputs)
        device_bound = self.device == "cuda" and self.opts["io_binding"]
        if not device_bound or (self.opts["timing"] == "e2e" and not self.opts["cuda_graph"]):
            # zero extra Python layers: the overhead benchmark needs the bare session.run
            return functools.partial(self.sess.run, None, feed, self._plain_run_options)
        binding, pairs, outputs, run_options = self._device_binding(feed)
        if self.opts["timing"] == "e2e":
            return functools.partial(_graph_e2e_call, self.sess, binding, run_options, pairs, outputs)
        return functools.partial(self.sess.run_with_iobinding, binding, run_options)

    def _device_binding(self, feed: Mapping[str, np.ndarray]):
        """Inputs copied to the device once; outputs bound on the device (pre-allocated for graphs)."""
        ort, dev = self._ort, self.opts["device_id"]
        binding = self.sess.io_binding()
        pairs = []
        for name, arr in feed.items():
            value = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(arr), "cuda", dev)
            binding.bind_ortvalue_input(name, value)
            pairs.append((value, arr))
        run_options = None  # measured on an H100: passing a RunOptions costs ~90 us per run
        names = [o.name for o in self.sess.get_outputs()]
        outputs: list = []
        # pre-allocated outputs: no per-run allocation, and fixed addresses for CUDA graphs
        probe = self.sess.run(None, dict(feed), self._plain_run_options)
        for name, arr in zip(names, probe):
            value = ort.OrtValue.ortvalue_from_shape_and_type(arr.shape, arr.dtype, "cuda", dev)
            binding.bind_ortvalue_output(name, value)
            outputs.append(value)
        if self.opts["cuda_graph"]:
            self._graph_ids += 1  # 0 is reserved by ORT, -1 disables capture
            run_options = ort.RunOptions()
            run_options.add_run_config_entry("gpu_graph_id", str(self._graph_ids))
        binding.synchronize_inputs()
        if self.opts["cuda_graph"]:
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
        """Settings in effect, plus device memory in use (NVML) on CUDA."""
        if self.device != "cuda" or self.sess is None:
            return dict(self._info)
        from onnxbench.runtimes.gpu_memory import nvml_memory

        return {**self._info, **nvml_memory(self.opts["device_id"])}

    def close(self) -> None:
        self._keep.clear()
        self._binding = None
        self.sess = None


def _graph_e2e_call(sess, binding, run_options, pairs, outputs) -> list[np.ndarray]:
    """End-to-end on fixed device buffers: host -> device copy, replay, device -> host copy."""
    for value, host in pairs:
        value.update_inplace(host)
    sess.run_with_iobinding(binding, run_options)
    return [value.numpy() for value in outputs]
