"""Which cases of a plan this machine will skip, and why, before anything runs (``--dry-run``).

A GPU suite prepared on a CPU-only box should say up front that its GPU cases will be
``skipped`` and with which reason, so its author knows the plan is right and the rest of
it runs. The checks are the cheap ones that decide a skip whatever the model: the device
(PyTorch's CUDA), ONNX Runtime's providers, TensorFlow's presence, a C++ compiler for
torch.compile on the CPU, and the pipeline's own rules. The runtimes still decide for
real when the case runs; this is a forecast, and says so.
"""

from __future__ import annotations

from onnxbench.core.case import Case
from onnxbench.model.onnxfile import is_onnx_file
from onnxbench.runtimes import runtime_class
from onnxbench.scenarios.pipeline.run import unfit


def _runtime_reason(case: Case) -> str | None:
    """The device, provider, framework and compiler checks: the runtime's own ``available``."""
    return runtime_class(case.runtime).available(case.runtime)


def _pipeline_reason(case: Case) -> str | None:
    return unfit(case) if "pipeline" in case.options else None


def skip_reason(case: Case) -> str | None:
    """Why this machine would skip ``case`` (None: it should run here)."""
    if runtime_class(case.runtime).framework == "onnx" and not case.exporter \
            and not is_onnx_file(case.model):
        return f"no ONNX graph: {case.runtime} runs an exported .onnx file and this case has none"
    return _runtime_reason(case) or _pipeline_reason(case)


def forecast(cases: list[Case]) -> dict[str, str]:
    """case id -> the reason it would be skipped here, for the cases that would be."""
    return {c.case_id: reason for c in cases if (reason := skip_reason(c))}
