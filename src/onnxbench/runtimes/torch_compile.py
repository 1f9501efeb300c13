"""torch.compile behind the Runtime protocol: ``torch-compile-cpu`` / ``torch-compile-cuda``.

Compilation is lazy in PyTorch: ``torch.compile`` returns at once and the real work
(tracing, Inductor code generation, the C++/Triton build) happens on the first call for a
shape. So ``bind`` makes that first call itself and reports it as ``compile_ms`` (per shape
too), keeping compile time out of the steady-state latencies. A missing C++ compiler for
Inductor on the CPU is a ``Skip``; any other compile failure propagates with a message that
names the backend and mode.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from typing import Annotated, Any, ClassVar

import numpy as np
from pydantic import Field

from onnxbench.core.errors import Skip, UserError, first_line
from onnxbench.core.options import Flag, OptFlag, choice
from onnxbench.runtimes.base import Device, Inputs, RuntimeOptions
from onnxbench.runtimes.torch_eager import TorchEagerRuntime, TorchOptions, to_numpy_list

MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


class CompileOptions(TorchOptions):
    """torch.compile options, on top of PyTorch eager's."""

    mode: Annotated[str, choice(*MODES)] = Field("default", description="torch.compile mode")
    backend: str = Field("inductor", description="a torch._dynamo backend")
    dynamic: OptFlag = Field(None, description="torch.compile(dynamic=...)")
    fullgraph: Flag = Field(False, description="torch.compile(fullgraph=...)")


class TorchCompileRuntime(TorchEagerRuntime):
    """PyTorch eager module wrapped in ``torch.compile`` (compiled on the first call per shape)."""

    thread_safe = False  # dynamo's compilation and guards are not made for concurrent calls
    reference = False  # compiled, not the plain call a speed-up is measured against
    Options: ClassVar[type[RuntimeOptions]] = CompileOptions

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.opts: CompileOptions = CompileOptions()
        self.compile_ms: dict[str, float] = {}

    def _wrap(self, module: Any) -> Any:
        import torch._dynamo  # binds ``torch`` too, with the compiler's backends loaded

        backend = self.opts.backend
        known = torch._dynamo.list_backends(exclude_tags=())
        if backend not in known:
            raise UserError(f"runtime {self.name}: option backend={backend!r} must be one of: "
                            f"{', '.join(known)}")
        if backend == "inductor" and self.device == "cpu" and not cxx_compiler():
            raise Skip("torch.compile (inductor, CPU) needs a C++ compiler and none was found "
                       "(install g++ or set CXX)")
        mode = None if self.opts.mode == "default" else self.opts.mode
        start = time.perf_counter_ns()
        compiled = torch.compile(module, mode=mode, backend=backend,
                                 dynamic=self.opts.dynamic, fullgraph=self.opts.fullgraph)
        self.compile_ms["wrap"] = (time.perf_counter_ns() - start) / 1e6
        return compiled

    def _describe(self, load_ms: float) -> dict[str, Any]:
        info = super()._describe(load_ms)
        info.update(backend="torch.compile", compile_backend=self.opts.backend,
                    compile_mode=self.opts.mode, dynamic=self.opts.dynamic,
                    fullgraph=self.opts.fullgraph)
        return info

    def bind(self, inputs: Inputs) -> Callable[[], Any]:
        call = super().bind(inputs)
        key = "x".join(",".join(map(str, np.shape(a))) for a in inputs.values()) or "scalar"
        if key not in self.compile_ms:
            start = time.perf_counter_ns()
            try:
                call()
                self.synchronize()
            except Exception as exc:
                raise RuntimeError(f"torch.compile failed (backend={self.opts.backend}, "
                                   f"mode={self.opts.mode}, shapes {key}): "
                                   f"{first_line(exc)}") from exc
            self.compile_ms[key] = (time.perf_counter_ns() - start) / 1e6
            shape_ms = {k: v for k, v in self.compile_ms.items() if k != "wrap"}
            self._info["compile_ms"] = self.compile_ms["wrap"] + next(iter(shape_ms.values()))
            self._info["compile_ms_by_shape"] = shape_ms
        return call

    def run(self, inputs: Inputs) -> list[np.ndarray]:
        call = self.bind(inputs)  # compiles (and records compile time) on a new shape
        return to_numpy_list(call())


class TorchCompileCpuRuntime(TorchCompileRuntime):
    """``torch-compile-cpu`` (Inductor needs a C++ compiler: Skip without one)."""

    device: ClassVar[Device] = "cpu"
    label = "PyTorch compiled CPU"


class TorchCompileCudaRuntime(TorchCompileRuntime):
    """``torch-compile-cuda``."""

    device: ClassVar[Device] = "cuda"
    label = "PyTorch compiled CUDA"


def cxx_compiler() -> str | None:
    """The C++ compiler Inductor would use on the CPU, or None."""
    return (os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")
            or shutil.which("clang++"))
