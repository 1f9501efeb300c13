"""The runtime registry: runtime names -> ``Runtime`` classes, loaded lazily.

A name maps to ``"module:Class"``; the module is imported only when the name is used, and
runtime modules import their heavy libraries (onnxruntime, torch, tensorflow) inside
``prepare``, so the CLI and the planner validate names and options without paying for them.

- ``RUNTIMES``: fixed names (``ort-cpu``, ``torch-cuda``, ``test-delay``, ...);
- ``PATTERNS``: name prefixes with a resolver (``ort:<ProviderName>`` picks the class of
  that provider: ``ort:CUDAExecutionProvider`` is the same ``cuda`` runtime as
  ``ort-cuda``);
- plugins (``onnxbench.core.plugins``) add theirs with :func:`register_runtime` /
  :func:`register_pattern` (TensorFlow's ``tf-*`` runtimes).

The API others use: :func:`runtime_names`, :func:`validate_runtime_name`,
:func:`runtime_class` (the class: its capabilities and ``Options``, no instance),
:func:`get_runtime` (a fresh, unprepared instance), :func:`runtime_device`,
:func:`runtime_label` (what reports call it), :func:`is_reference_runtime` (its framework's
plain call: the default speed-up baseline), :func:`all_runtime_option_names`.

Labels and the reference flag are declared by each runtime class (``Runtime.label``,
``Runtime.reference``), so a plugin's runtime declares its own; nothing here knows a runtime
by its name.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable

from onnxbench.core.errors import UserError
from onnxbench.core.plugins import load_plugins
from onnxbench.runtimes.base import Runtime

RUNTIMES: dict[str, str] = {
    "ort-cpu": "onnxbench.runtimes.ort:OrtCpuRuntime",
    "ort-cuda": "onnxbench.runtimes.ort:OrtCudaRuntime",
    "ort-trt": "onnxbench.runtimes.ort:OrtTensorrtRuntime",
    "torch-cpu": "onnxbench.runtimes.torch_eager:TorchCpuRuntime",
    "torch-cuda": "onnxbench.runtimes.torch_eager:TorchCudaRuntime",
    "torch-compile-cpu": "onnxbench.runtimes.torch_compile:TorchCompileCpuRuntime",
    "torch-compile-cuda": "onnxbench.runtimes.torch_compile:TorchCompileCudaRuntime",
    "test-abort": "onnxbench.runtimes.testing:AbortRuntime",
    "test-oom": "onnxbench.runtimes.testing:OomRuntime",
    "test-sleep": "onnxbench.runtimes.testing:SleepRuntime",
    "test-delay": "onnxbench.runtimes.testing:DelayRuntime",
    "test-skip": "onnxbench.runtimes.testing:SkipRuntime",
}
Resolver = Callable[[str], str]  # the part after the prefix -> "module:Class"; UserError if bad
PATTERNS: dict[str, tuple[Resolver, str]] = {}  # prefix -> (resolver, how to spell it)

_PROVIDER_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
ORT_PROVIDER_CLASSES = {
    "CPUExecutionProvider": "onnxbench.runtimes.ort:OrtCpuRuntime",
    "CUDAExecutionProvider": "onnxbench.runtimes.ort:OrtCudaRuntime",
    "TensorrtExecutionProvider": "onnxbench.runtimes.ort:OrtTensorrtRuntime",
}


def _ort_provider(provider: str) -> str:
    if not _PROVIDER_RE.match(provider):
        raise UserError(f"runtime 'ort:{provider}': 'ort:' must be followed by an ONNX Runtime "
                        "provider name, e.g. ort:OpenVINOExecutionProvider")
    return ORT_PROVIDER_CLASSES.get(provider, "onnxbench.runtimes.ort:OrtRuntime")


def register_runtime(name: str, target: str) -> None:
    """Register ``name`` -> ``"module:Class"`` (a plugin's runtime; imported when used)."""
    RUNTIMES[name] = target


def register_pattern(prefix: str, resolver: Resolver, spelling: str) -> None:
    """Register names ``<prefix><rest>``: ``resolver(rest)`` gives ``"module:Class"``."""
    PATTERNS[prefix] = (resolver, spelling)


register_pattern("ort:", _ort_provider, "ort:<ProviderName> (e.g. ort:OpenVINOExecutionProvider)")


def runtime_names() -> tuple[str, ...]:
    """Every fixed runtime name (plugins included); patterns are listed by ``spellings``."""
    load_plugins()
    return tuple(RUNTIMES)


def _target(name: str) -> str:
    if name in RUNTIMES:
        return RUNTIMES[name]
    for prefix, (resolver, _) in PATTERNS.items():
        if name.startswith(prefix):
            return resolver(name[len(prefix):])
    load_plugins()
    if name in RUNTIMES:
        return RUNTIMES[name]
    from onnxbench.core.options import did_you_mean

    near = name.replace("gpu", "cuda") if name.replace("gpu", "cuda") in RUNTIMES else (
        did_you_mean(name, RUNTIMES))
    spellings = ", ".join(s for _, s in PATTERNS.values())
    raise UserError(f"unknown runtime {name!r}; {f'did you mean {near!r}? ' if near else ''}"
                    f"choose one of: {', '.join(RUNTIMES)}, or {spellings}")


def validate_runtime_name(name: str) -> str:
    """Return ``name`` if it names a runtime; UserError listing the valid names otherwise."""
    _target(name)
    return name


def runtime_class(name: str) -> type[Runtime]:
    """The class registered for ``name`` (capabilities, ``Options``); imports its module."""
    module_name, _, attr = _target(name).partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Runtime)):
        raise TypeError(f"runtime {name!r}: {module_name}:{attr} is not a Runtime subclass")
    return cls


def get_runtime(name: str) -> Runtime:
    """A fresh, unprepared runtime for ``name`` (heavy libraries load in ``prepare``)."""
    return runtime_class(name)(name)


def runtime_device(name: str) -> str:
    """The device a runtime needs: ``cpu``, ``cuda`` or ``other`` (planning and skips)."""
    return runtime_class(name).device


def runtime_label(name: str) -> str:
    """What reports call ``name``: its class's ``label`` for a fixed name; the name as spelt
    for a pattern name (one class serves many: ``ort:CUDAExecutionProvider`` is not shown as
    ``ort-cuda``'s label) or a class that declares none. UserError for an unknown name."""
    cls = runtime_class(name)
    return (cls.label if name in RUNTIMES else None) or name


def is_reference_runtime(name: str) -> bool:
    """Is ``name`` its framework's plain call on its device (``Runtime.reference``: the
    series speed-ups are measured against when no baseline is named)? UserError if unknown."""
    return bool(runtime_class(name).reference)


def all_runtime_option_names() -> frozenset[str]:
    """Every option name some registered runtime declares (patterns' default classes too)."""
    names: set[str] = set()
    targets = {*(RUNTIMES[n] for n in runtime_names()), *ORT_PROVIDER_CLASSES.values(),
               "onnxbench.runtimes.ort:OrtRuntime"}
    for target in targets:
        module_name, _, attr = target.partition(":")
        names |= getattr(importlib.import_module(module_name), attr).Options.names()
    return frozenset(names)


__all__ = [
    "PATTERNS",
    "RUNTIMES",
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
