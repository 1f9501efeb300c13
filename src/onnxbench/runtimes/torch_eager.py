"""PyTorch eager behind the Runtime protocol: ``torch-cpu`` and ``torch-cuda``.

The module comes from ``artifact.load_module()`` (Skip when the case has only an ONNX
file). ``bind`` converts the inputs to tensors on the device once, in the spec's input
order, so the timed callable is only ``module(*tensors)`` under ``inference_mode``.
Settings that change the numbers (threads, TF32, precision) are recorded in ``info()``:
PyTorch's TF32 default for matmul is off while ONNX Runtime's CUDA provider's is on, and a
comparison that does not say so is not a fair one.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

import numpy as np

from onnxbench.artifact import Artifact
from onnxbench.errors import Skip, UserError
from onnxbench.runtimes import as_bool, as_choice, as_int, split_options

TORCH_OPTIONS = frozenset({"threads", "precision", "tf32", "device_id"})
PRECISIONS = ("fp32", "fp16", "bf16")


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


def parse_options(runtime: str, options: Mapping[str, Any] | None,
                  known: frozenset[str] = TORCH_OPTIONS) -> dict[str, Any]:
    """Validated torch options with defaults; UserError names a bad option/value."""
    raw, ignored = split_options(runtime, options, known)
    return {
        "raw": raw,
        "threads": None if raw.get("threads") is None else as_int(runtime, "threads", raw["threads"], 1),
        "precision": as_choice(runtime, "precision", raw.get("precision", "fp32"), PRECISIONS),
        "tf32": None if raw.get("tf32") is None else as_bool(runtime, "tf32", raw["tf32"]),
        "device_id": as_int(runtime, "device_id", raw.get("device_id", 0)),
        "ignored_options": ignored,
    }


class TorchEagerRuntime:
    """PyTorch eager inference on the CPU or one CUDA device."""

    def __init__(self, name: str, device: str) -> None:
        self.name = name
        self.device_kind = device  # "cpu" | "cuda"
        self.device = device
        self.module = None
        self.opts: dict[str, Any] = {}
        self._info: dict[str, Any] = {}
        self._dtype = None
        self._torch = None

    def _parse(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        return parse_options(self.name, options)

    def prepare(self, artifact: Artifact, options: Mapping[str, Any]) -> None:
        self.opts = self._parse(options)
        import torch

        self._torch = torch
        if self.device_kind == "cuda" and not torch.cuda.is_available():
            raise Skip("no CUDA device: torch.cuda.is_available() is False")
        if self.opts["precision"] == "fp16" and self.device_kind == "cpu":
            raise Skip(f"{self.name}: fp16 runs on CUDA only here; use precision bf16 or fp32 on the CPU")
        if self.opts["threads"] is not None:
            torch.set_num_threads(self.opts["threads"])
        if self.device_kind == "cuda":
            self.device = f"cuda:{self.opts['device_id']}"
            torch.cuda.set_device(self.opts["device_id"])
            if self.opts["tf32"] is not None:
                torch.backends.cuda.matmul.allow_tf32 = self.opts["tf32"]
                torch.backends.cudnn.allow_tf32 = self.opts["tf32"]
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter_ns()
        module = artifact.load_module()
        self._dtype = {"fp32": torch.float32, "fp16": torch.float16,
                       "bf16": torch.bfloat16}[self.opts["precision"]]
        module = module.to(self.device).eval()
        if self._dtype != torch.float32:
            module = module.to(self._dtype)
        self.module = self._wrap(module)
        load_ms = (time.perf_counter_ns() - start) / 1e6
        self._info = self._describe(load_ms)

    def _wrap(self, module):
        """Hook for subclasses (torch.compile); eager runs the module itself."""
        return module

    def _describe(self, load_ms: float) -> dict[str, Any]:
        torch = self._torch
        cuda = self.device_kind == "cuda"
        info = {
            "runtime": self.name,
            "backend": "torch",
            "torch_version": torch.__version__,
            "device": self.device,
            "precision": self.opts["precision"],
            "threads": {"torch": torch.get_num_threads(), "interop": torch.get_num_interop_threads()},
            "tf32": {"matmul": bool(torch.backends.cuda.matmul.allow_tf32),
                     "cudnn": bool(torch.backends.cudnn.allow_tf32)} if cuda else None,
            "session_create_ms": load_ms,
            "clock": "time.perf_counter_ns, host, after synchronize()",
            # the executor adds the device's own time: timing.stages_ms.cuda_events_p50_ms
            "device_clock": "CUDA events (median after the timing loop)" if cuda else None,
            "ignored_options": self.opts["ignored_options"],
        }
        if cuda:
            info["gpu_name"] = torch.cuda.get_device_name(self.device)
        return info

    def _tensors(self, inputs: Mapping[str, np.ndarray]) -> list:
        """Inputs as tensors on the device, in the mapping's (= the spec's) order."""
        torch = self._torch
        tensors = []
        for name, arr in inputs.items():
            try:
                tensor = torch.from_numpy(np.ascontiguousarray(arr)).to(self.device)
            except TypeError as exc:
                raise UserError(f"runtime {self.name}: input {name!r} of dtype {arr.dtype} "
                                "cannot become a torch tensor") from exc
            if tensor.is_floating_point() and tensor.dtype != self._dtype:
                tensor = tensor.to(self._dtype)
            tensors.append(tensor)
        if self.device_kind == "cuda":
            torch.cuda.synchronize(self.device)
        return tensors

    def run(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        with self._torch.inference_mode():
            out = self.module(*self._tensors(inputs))
        return to_numpy_list(out)

    def bind(self, inputs: Mapping[str, np.ndarray]) -> Callable[[], Any]:
        tensors = self._tensors(inputs)
        module, inference_mode = self.module, self._torch.inference_mode

        def call():
            with inference_mode():
                return module(*tensors)

        return call

    def synchronize(self) -> None:
        if self.device_kind == "cuda":
            self._torch.cuda.synchronize(self.device)

    def measure_device_ms(self, call: Callable[[], Any]) -> float:
        """Device time of one ``call`` in ms from CUDA events (the executor's device clock)."""
        torch = self._torch
        if self.device_kind != "cuda":
            raise RuntimeError(f"{self.name}: CUDA events need a CUDA runtime")
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        call()
        end.record()
        end.synchronize()
        return float(start.elapsed_time(end))

    def gpu_memory(self) -> dict[str, float]:
        """Peak allocated / reserved device memory of this process since prepare (MB)."""
        if self.device_kind != "cuda" or self._torch is None:
            return {}
        cuda = self._torch.cuda
        return {"gpu_mem_peak_allocated_mb": cuda.max_memory_allocated(self.device) / 2**20,
                "gpu_mem_peak_reserved_mb": cuda.max_memory_reserved(self.device) / 2**20}

    def info(self) -> dict[str, Any]:
        """Settings in effect, plus the GPU memory peaks so far (read after the timing loop)."""
        return {**self._info, **self.gpu_memory()}

    def close(self) -> None:
        self.module = None
        if self.device_kind == "cuda" and self._torch is not None:
            self._torch.cuda.empty_cache()
