"""onnxbench: does it export, which runtime for which load, what does optimisation buy.

The library API (the CLI is a thin layer over it)::

    import onnxbench

    run = onnxbench.bench("model.onnx", runtimes=["ort-cpu", "torch-cpu"], batch=[1, 8])
    run = onnxbench.run_suite("quickstart")             # a built-in suite, a YAML path, a Plan
    run = onnxbench.load_run("runs/quickstart_20260101-120000")
    run = onnxbench.load("model.onnx", concurrency=[1, 2, 4])   # serving under load
    comparison = onnxbench.compare(run_a, run_b, threshold="5%")

Attributes load on first use (PEP 562), so ``import onnxbench`` stays cheap: no torch, no
onnxruntime, no TensorFlow until something runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> module that defines it. The A/B entry point joins this table as it lands
# ("ab": "onnxbench.<module>"); profiling is ``profile_model`` because ``onnxbench.profile``
# is the profiler package.
_API: dict[str, str] = {
    "ab": "onnxbench.suite.ab",
    "bench": "onnxbench.api",
    "load": "onnxbench.api",
    "profile_model": "onnxbench.api",
    "bench_plan": "onnxbench.api",
    "run_suite": "onnxbench.api",
    "resume": "onnxbench.api",
    "compare": "onnxbench.api",
    "load_run": "onnxbench.api",
    "tune": "onnxbench.api",
    "tune_resume": "onnxbench.api",
    "Run": "onnxbench.api",
    "UserError": "onnxbench.core.errors",
    "CheckFailed": "onnxbench.core.errors",
    "RunFailed": "onnxbench.core.errors",
    "Skip": "onnxbench.core.errors",
}

__all__ = ["__version__", *_API]

if TYPE_CHECKING:  # the names __getattr__ loads, for type checkers and editors
    from onnxbench.api import (  # noqa: F401
        Run,
        bench,
        bench_plan,
        compare,
        load,
        load_run,
        profile_model,
        resume,
        run_suite,
        tune,
        tune_resume,
    )
    from onnxbench.core.errors import CheckFailed, RunFailed, Skip, UserError  # noqa: F401
    from onnxbench.suite.ab import ab  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'onnxbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
