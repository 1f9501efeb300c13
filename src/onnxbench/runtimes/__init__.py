"""Runtimes: the ``Runtime`` interface (``base``) and the registry of names (``registry``).

Importing this package is cheap on purpose: it imports neither torch nor onnxruntime, so
the CLI and the planner can validate names and options without paying for them. The
runtime modules import their heavy libraries inside ``prepare``.

Names: ``ort-cpu``, ``ort-cuda``, ``ort-trt``, ``ort:<AnyProviderName>``, ``torch-cpu``,
``torch-cuda``, ``torch-compile-cpu``, ``torch-compile-cuda``, the plugins' (``tf-*``) and
the ``test-*`` runtimes (crash, out-of-memory, time-out, known delay, skip) used by tests
and validity benchmarks.
"""

from __future__ import annotations

from onnxbench.runtimes.base import Runtime, RuntimeOptions
from onnxbench.runtimes.registry import (
    all_runtime_option_names,
    get_runtime,
    is_reference_runtime,
    register_pattern,
    register_runtime,
    runtime_class,
    runtime_device,
    runtime_label,
    runtime_names,
    validate_runtime_name,
)

__all__ = [
    "Runtime",
    "RuntimeOptions",
    "all_runtime_option_names",
    "get_runtime",
    "is_reference_runtime",
    "register_pattern",
    "register_runtime",
    "runtime_class",
    "runtime_device",
    "runtime_label",
    "runtime_names",
    "validate_runtime_name",
]
