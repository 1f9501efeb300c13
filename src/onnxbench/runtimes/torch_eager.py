"""PyTorch eager behind the Runtime interface: ``torch-cpu`` and ``torch-cuda``.

The module comes from ``bundle.load_module()`` (Skip when the case has only an ONNX file).
``bind`` converts the inputs to tensors on the device once, in the spec's input order, so
the timed callable is only ``module(*tensors)`` under ``inference_mode``. Settings that
change the numbers (threads, TF32, precision) are recorded in ``info()``: PyTorch's TF32
default for matmul is off while ONNX Runtime's CUDA provider's is on, and a comparison that
does not say so is not a fair one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import numpy as np
from pydantic import Field

from onnxbench.core.errors import Skip, UserError
from onnxbench.core.options import OptFlag, PosInt, choice, integer
from onnxbench.runtimes.base import Device, Inputs, Runtime, RuntimeOptions

if TYPE_CHECKING:
    from onnxbench.model.bundle import Bundle

PRECISIONS = ("fp32", "fp16", "bf16")
AUTOCAST = ("fp16", "bf16")


class TorchOptions(RuntimeOptions):
    """PyTorch eager options."""

    threads: PosInt = Field(None, description="torch.set_num_threads")
    precision: Annotated[str, choice(*PRECISIONS)] = Field(
        "fp32", description="module dtype: fp32, fp16 (CUDA only), bf16; set from the case's "
                            "precision")
    tf32: OptFlag = Field(None, description="CUDA: TF32 for matmul and cuDNN (PyTorch: off)")
    device_id: Annotated[int, integer(0, optional=False)] = Field(0, description="CUDA device")
    autocast: Annotated[str | None, choice(*AUTOCAST, optional=True)] = Field(
        None, description="mixed precision: the module stays fp32, torch.autocast runs "
                          "eligible ops in fp16 or bf16")
    gpu_mem_limit_mb: PosInt = Field(None, description="CUDA: cap PyTorch's allocator at this "
                                                       "many MB (beyond it: oom)")


def to_numpy_list(out: Any) -> list[np.ndarray]:
    """Flatten a module's output (tensor, tuple/list, dict or ModelOutput) to host arrays."""
    import torch

    if isinstance(out, torch.Tensor):
        return [out.detach().float().cpu().numpy() if out.dtype == torch.bfloat16
                else out.detach().cpu().numpy()]
    if isinstance(out, Mapping):  # ModelOutput is a Mapping of its non-None fields
        out = list(out.values())
    if isinstance(out, (list, tuple)):
        return [arr for item in out if item is not None for arr in to_numpy_list(item)]
    return [np.asarray(out)]


def run_module(module: Any, inputs: Inputs, names: list[str] | None = None) -> list[np.ndarray]:
    """A PyTorch module on numpy feeds, on the CPU under ``inference_mode``: the inputs taken
    positionally in ``names`` order (default: the mapping's), the outputs as host arrays.
    The reference every check compares with (export parity, ``verify``, accuracy)."""
    import torch

    order = list(inputs) if names is None else names
    args = [torch.from_numpy(np.ascontiguousarray(inputs[n])) for n in order]
    with torch.inference_mode():
        return to_numpy_list(module(*args))


class CudaEvents:
    """A ``measure.device.DeviceClock`` from a pair of timing CUDA events."""

    label = "CUDA events"

    def __init__(self, torch: Any) -> None:
        self._start = torch.cuda.Event(enable_timing=True)
        self._end = torch.cuda.Event(enable_timing=True)

    def start(self) -> None:
        self._start.record()

    def stop(self) -> None:
        self._end.record()

    def elapsed_ms(self) -> float:
        self._end.synchronize()
        return float(self._start.elapsed_time(self._end))


class TorchEagerRuntime(Runtime):
    """PyTorch eager inference on the CPU or one CUDA device."""

    framework = "torch"
    needs_module = True
    thread_safe = True  # inference_mode forward calls share no mutable state
    precisions = PRECISIONS
    Options: ClassVar[type[RuntimeOptions]] = TorchOptions
    # process-wide: torch.set_num_threads, the TF32 flags, the allocator's memory fraction
    process_options = frozenset({"threads", "tf32", "gpu_mem_limit_mb", "device_id"})

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.opts: TorchOptions = TorchOptions()
        self.module: Any = None
        self.torch_device: str = self.device
        self._info: dict[str, Any] = {}
        self._dtype: Any = None
        self._torch: Any = None
        self._cap: dict[str, float] = {}

    def prepare(self, bundle: Bundle, options: Mapping[str, Any]) -> None:
        self.accept(bundle, options)
        import torch

        self._torch = torch
        cuda = self.device == "cuda"
        if cuda and not torch.cuda.is_available():
            raise Skip("no CUDA device: torch.cuda.is_available() is False")
        if self.opts.precision == "fp16" and not cuda:
            raise Skip(f"{self.name}: fp16 runs on CUDA only here; use precision bf16 or fp32 "
                       "on the CPU")
        if self.opts.threads is not None:
            torch.set_num_threads(self.opts.threads)
        if cuda:
            self.torch_device = f"cuda:{self.opts.device_id}"
            torch.cuda.set_device(self.opts.device_id)
            if self.opts.tf32 is not None:
                torch.backends.cuda.matmul.allow_tf32 = self.opts.tf32
                torch.backends.cudnn.allow_tf32 = self.opts.tf32
            if self.opts.gpu_mem_limit_mb is not None:
                from onnxbench.runtimes.gpu_memory import cap_torch_memory

                self._cap = cap_torch_memory(self.opts.gpu_mem_limit_mb, self.opts.device_id)
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter_ns()
        module = bundle.load_module()
        self._dtype = {"fp32": torch.float32, "fp16": torch.float16,
                       "bf16": torch.bfloat16}[self.opts.precision]
        module = module.to(self.torch_device).eval()
        if self._dtype != torch.float32:
            module = module.to(self._dtype)
        self.module = self._wrap(module)
        load_ms = (time.perf_counter_ns() - start) / 1e6
        self._info = self._describe(load_ms)

    def _wrap(self, module: Any) -> Any:
        """Hook for subclasses (torch.compile); eager runs the module itself."""
        return module

    def _describe(self, load_ms: float) -> dict[str, Any]:
        torch = self._torch
        cuda = self.device == "cuda"
        info = {
            **self.base_info(),
            "backend": "torch",
            "torch_version": torch.__version__,
            "device": self.torch_device,
            "precision": self.opts.precision,
            "threads": {"torch": torch.get_num_threads(),
                        "interop": torch.get_num_interop_threads()},
            "tf32": {"matmul": bool(torch.backends.cuda.matmul.allow_tf32),
                     "cudnn": bool(torch.backends.cudnn.allow_tf32)} if cuda else None,
            "session_create_ms": load_ms,
            "clock": "time.perf_counter_ns, host, after synchronize()",
            # the executor adds the device's own time: timing.stages_ms.cuda_events_p50_ms
            "device_clock": "CUDA events (per run in `ab`; median after the timing loop)"
            if cuda else None,
            "autocast": self.opts.autocast,
        }
        if cuda:
            info["gpu_name"] = torch.cuda.get_device_name(self.torch_device)
            info.update(self._cap)
        return info

    def call_context(self) -> Any:
        """What every inference runs under: inference_mode, plus autocast when asked."""
        import contextlib

        torch = self._torch
        if self.opts.autocast is None:
            return torch.inference_mode()
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        dtype = torch.float16 if self.opts.autocast == "fp16" else torch.bfloat16
        stack.enter_context(torch.autocast(self.device, dtype=dtype))
        return stack

    def _tensors(self, inputs: Inputs) -> list[Any]:
        """Inputs as tensors on the device, in the mapping's (= the spec's) order."""
        torch = self._torch
        tensors = []
        for name, arr in inputs.items():
            try:
                tensor = torch.from_numpy(np.ascontiguousarray(arr)).to(self.torch_device)
            except TypeError as exc:
                raise UserError(f"runtime {self.name}: input {name!r} of dtype {arr.dtype} "
                                "cannot become a torch tensor") from exc
            if tensor.is_floating_point() and tensor.dtype != self._dtype:
                tensor = tensor.to(self._dtype)
            tensors.append(tensor)
        self.synchronize()
        return tensors

    def run(self, inputs: Inputs) -> list[np.ndarray]:
        with self.call_context():
            out = self.module(*self._tensors(inputs))
        return to_numpy_list(out)

    def bind(self, inputs: Inputs) -> Callable[[], Any]:
        tensors = self._tensors(inputs)
        module, inference_mode = self.module, self._torch.inference_mode
        if self.opts.autocast is not None:
            context = self.call_context

            def call_autocast() -> Any:
                with context():
                    return module(*tensors)

            return call_autocast

        def call() -> Any:
            with inference_mode():
                return module(*tensors)

        return call

    def synchronize(self) -> None:
        if self.device == "cuda":
            self._torch.cuda.synchronize(self.torch_device)

    def device_clock(self) -> CudaEvents | None:
        """CUDA events on the current stream (the module's calls are asynchronous); None on
        the CPU."""
        if self.device != "cuda" or self._torch is None:
            return None
        return CudaEvents(self._torch)

    def profile(self, inputs: Inputs, runs: int = 10) -> dict[str, Any] | None:
        """torch.profiler over ``runs`` calls bound to ``inputs`` (onnxbench.profile.torch)."""
        if self.module is None:
            return None
        from onnxbench.profile.torch import profile_callable

        cuda = self.device == "cuda"
        return profile_callable(self.bind(inputs), runs=runs, device=self.device,
                                sync=self.synchronize if cuda else None)

    def device_memory(self) -> dict[str, float]:
        """Peak allocated / reserved device memory of this process since prepare (MB)."""
        if self.device != "cuda" or self._torch is None:
            return {}
        cuda = self._torch.cuda
        return {"gpu_mem_peak_allocated_mb": cuda.max_memory_allocated(self.torch_device) / 2**20,
                "gpu_mem_peak_reserved_mb": cuda.max_memory_reserved(self.torch_device) / 2**20}

    def what_ran(self) -> dict[str, Any]:
        """The encoder depth of a truncated module (like for like with its ONNX graph)."""
        n_remove = int((self.bundle.artifact.options if self.bundle else {})
                       .get("truncate_layers") or 0)
        if not n_remove or self.module is None:
            return {}
        from onnxbench.model.encoder import find_encoder

        module = getattr(self.module, "_orig_mod", self.module)  # torch.compile's wrapper
        return {"module": {"encoder_layers": len(find_encoder(module).encoder.layer),
                           "truncated_layers": n_remove}}

    def info(self) -> dict[str, Any]:
        return dict(self._info)

    def close(self) -> None:
        self.module = None
        if self.device == "cuda" and self._torch is not None:
            self._torch.cuda.empty_cache()


class TorchCpuRuntime(TorchEagerRuntime):
    """``torch-cpu``."""

    device: ClassVar[Device] = "cpu"
    label = "PyTorch CPU"
    reference = True  # the speed-up baseline on the CPU


class TorchCudaRuntime(TorchEagerRuntime):
    """``torch-cuda``: one CUDA device, synchronised; CUDA events for the device's time."""

    device: ClassVar[Device] = "cuda"
    label = "PyTorch CUDA"
    reference = True  # the speed-up baseline on the GPU
