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
from typing import Any, Callable, Mapping

import numpy as np

from onnxbench.errors import Skip, UserError
from onnxbench.runtimes import as_bool, as_choice
from onnxbench.runtimes.torch_eager import TORCH_OPTIONS, TorchEagerRuntime, parse_options

COMPILE_OPTIONS = TORCH_OPTIONS | {"mode", "backend", "dynamic", "fullgraph"}
MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


class TorchCompileRuntime(TorchEagerRuntime):
    """PyTorch eager module wrapped in ``torch.compile`` (compiled on the first call per shape)."""

    def __init__(self, name: str, device: str) -> None:
        super().__init__(name, device)
        self.compile_ms: dict[str, float] = {}

    def _parse(self, options: Mapping[str, Any] | None) -> dict[str, Any]:
        opts = parse_options(self.name, options, COMPILE_OPTIONS)
        raw = opts["raw"]
        opts["mode"] = as_choice(self.name, "mode", raw.get("mode", "default"), MODES)
        opts["backend"] = str(raw.get("backend", "inductor"))
        opts["dynamic"] = None if raw.get("dynamic") is None else as_bool(self.name, "dynamic", raw["dynamic"])
        opts["fullgraph"] = as_bool(self.name, "fullgraph", raw.get("fullgraph", False))
        return opts

    def _wrap(self, module):
        import torch._dynamo  # binds ``torch`` too, with the compiler's backends loaded

        backend = self.opts["backend"]
        known = torch._dynamo.list_backends(exclude_tags=())
        if backend not in known:
            raise UserError(f"runtime {self.name}: option backend={backend!r} must be one of: "
                            f"{', '.join(known)}")
        if backend == "inductor" and self.device_kind == "cpu" and not _cxx_compiler():
            raise Skip("torch.compile (inductor, CPU) needs a C++ compiler and none was found "
                       "(install g++ or set CXX)")
        mode = None if self.opts["mode"] == "default" else self.opts["mode"]
        start = time.perf_counter_ns()
        compiled = torch.compile(module, mode=mode, backend=backend,
                                 dynamic=self.opts["dynamic"], fullgraph=self.opts["fullgraph"])
        self.compile_ms["wrap"] = (time.perf_counter_ns() - start) / 1e6
        return compiled

    def _describe(self, load_ms: float) -> dict[str, Any]:
        info = super()._describe(load_ms)
        info.update(backend="torch.compile", compile_backend=self.opts["backend"],
                    compile_mode=self.opts["mode"], dynamic=self.opts["dynamic"],
                    fullgraph=self.opts["fullgraph"])
        return info

    def bind(self, inputs: Mapping[str, np.ndarray]) -> Callable[[], Any]:
        call = super().bind(inputs)
        key = "x".join(",".join(map(str, np.shape(a))) for a in inputs.values()) or "scalar"
        if key not in self.compile_ms:
            start = time.perf_counter_ns()
            try:
                call()
                self.synchronize()
            except Exception as exc:
                raise RuntimeError(f"torch.compile failed (backend={self.opts['backend']}, "
                                   f"mode={self.opts['mode']}, shapes {key}): "
                                   f"{type(exc).__name__}: {_first_line(exc)}") from exc
            self.compile_ms[key] = (time.perf_counter_ns() - start) / 1e6
            shape_ms = {k: v for k, v in self.compile_ms.items() if k != "wrap"}
            self._info["compile_ms"] = self.compile_ms["wrap"] + next(iter(shape_ms.values()))
            self._info["compile_ms_by_shape"] = shape_ms
        return call

    def run(self, inputs: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        from onnxbench.runtimes.torch_eager import to_numpy_list

        call = self.bind(inputs)  # compiles (and records compile time) on a new shape
        out = call()
        return to_numpy_list(out)


def _cxx_compiler() -> str | None:
    return os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0] if lines else "")[:300]
