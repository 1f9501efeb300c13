"""Which cases of a plan this machine will skip, and why, before anything runs (``--dry-run``).

A GPU suite prepared on a CPU-only box should say up front that its GPU cases will be
``skipped`` and with which reason, so its author knows the plan is right and the rest of
it runs. The checks are the cheap ones that decide a skip whatever the model: the device
(PyTorch's CUDA), ONNX Runtime's providers, TensorFlow's presence, a C++ compiler for
torch.compile on the CPU, and the pipeline's own rules. The runtimes still decide for
real when the case runs; this is a forecast, and says so.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache

from onnxbench.core.case import Case


@lru_cache(maxsize=1)
def _cuda() -> bool:
    import torch

    return bool(torch.cuda.is_available())


@lru_cache(maxsize=1)
def _ort_providers() -> tuple[str, ...]:
    import onnxruntime

    return tuple(onnxruntime.get_available_providers())


def _provider_reason(provider: str) -> str | None:
    if provider in _ort_providers():
        return None
    if provider == "TensorrtExecutionProvider":
        return "TensorRT not installed: ONNX Runtime here has no TensorrtExecutionProvider"
    return f"ONNX Runtime here has no {provider} (available: {', '.join(_ort_providers())})"


def _runtime_reason(case: Case) -> str | None:
    """The device, provider, framework and compiler checks, by the runtime's capabilities."""
    from onnxbench.runtimes import runtime_class

    cls = runtime_class(case.runtime)
    if cls.framework == "onnx":
        provider = getattr(cls, "PROVIDER", None) or case.runtime.partition(":")[2]
        return _provider_reason(provider) if provider else None
    if cls.device == "cuda" and cls.framework == "torch" and not _cuda():
        return "no CUDA device: torch.cuda.is_available() is False"
    if cls.framework == "tf" and importlib.util.find_spec("tensorflow") is None:
        return "TensorFlow is not installed (the [tf] extra)"
    return _compiler_reason(cls)


def _compiler_reason(cls) -> str | None:
    from onnxbench.runtimes.torch_compile import TorchCompileRuntime, cxx_compiler

    if issubclass(cls, TorchCompileRuntime) and cls.device == "cpu" and not cxx_compiler():
        return "torch.compile (inductor, CPU) needs a C++ compiler and none was found"
    return None


def _pipeline_reason(case: Case) -> str | None:
    from onnxbench.scenarios.pipeline.run import unfit

    return unfit(case) if "pipeline" in case.options else None


def skip_reason(case: Case) -> str | None:
    """Why this machine would skip ``case`` (None: it should run here)."""
    from onnxbench.model.onnxfile import is_onnx_file
    from onnxbench.runtimes import runtime_class

    if runtime_class(case.runtime).framework == "onnx" and not case.exporter \
            and not is_onnx_file(case.model):
        return f"no ONNX graph: {case.runtime} runs an exported .onnx file and this case has none"
    return _runtime_reason(case) or _pipeline_reason(case)


def forecast(cases: list[Case]) -> dict[str, str]:
    """case id -> the reason it would be skipped here, for the cases that would be."""
    return {c.case_id: reason for c in cases if (reason := skip_reason(c))}
