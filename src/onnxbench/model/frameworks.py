"""Framework adapters: what the artifact builder and the exporter matrix need of a source
model's framework, behind one interface, so one builder and one matrix serve every
framework.

A ``Framework`` builds a spec's model, saves its weights beside the graph, runs it on numpy
feeds (the reference outputs of every parity check), lists its exporters and exports.
``torch`` is built in; plugins add theirs (TensorFlow: ``tf``, exporter ``tf2onnx``) with
:func:`register_framework`. A spec says which one it needs (``ModelSpec.framework``).

The API others use: :func:`framework` (by name), :func:`framework_of` (a spec's),
:func:`known_exporters`, :func:`exporter_framework`.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from onnxbench.core.errors import Skip, UserError
from onnxbench.core.plugins import load_plugins

if TYPE_CHECKING:
    from onnxbench.model.zoo.base import ModelSpec

FRAMEWORKS: dict[str, str] = {"torch": "onnxbench.build.export.pytorch:TorchFramework"}
_INSTANCES: dict[str, Framework] = {}


@dataclass
class ExportResult:
    """What one exporter did: status, time, and the graph's vital statistics."""

    exporter: str
    status: str  # ok | failed
    path: str | None = None
    error: str | None = None
    export_s: float | None = None
    opset: int | None = None
    nodes: int | None = None
    top_ops: list[tuple[str, int]] = field(default_factory=list)
    size_bytes: int | None = None
    fix: str | None = None
    # what the tracer could not record (TracerWarning: tensor → Python value), by source line
    trace_warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["top_ops"] = [list(t) for t in self.top_ops]
        return out


class Framework(ABC):
    """One framework's build, save, run and export, for the artifact builder and the matrix."""

    name: ClassVar[str]
    label: ClassVar[str]              # for people: "PyTorch", "TensorFlow"
    exporters: ClassVar[tuple[str, ...]]
    fixes: ClassVar[bool] = False     # export-side fixes (``fix: squeeze-dims``) apply

    def require(self, error: type[Exception] = Skip) -> None:  # noqa: B027 - no-op default
        """Raise ``error`` (with the install line) when the framework is not installed."""

    @abstractmethod
    def build(self, spec: ModelSpec, config: str | None, *, seed: int = 0,
              options: Mapping[str, Any] | None = None, train: bool = True) -> Any:
        """A fresh model of ``spec`` in inference mode, deterministic in ``seed``."""

    @abstractmethod
    def save(self, spec: ModelSpec, model: Any, out_dir: Path) -> dict[str, Any]:
        """Save the model's weights into ``out_dir``; the ``artifact.json`` fields
        (``state_file``, relative to ``out_dir``, and any extra such as ``saved_model``)."""

    @abstractmethod
    def outputs(self, spec: ModelSpec | None, config: str | None, model: Any,
                feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        """The model's outputs on numpy ``feeds`` (host arrays, the spec's output order;
        without a spec, the feeds' order in and the model's order out)."""

    @abstractmethod
    def export(self, spec: ModelSpec, config: str | None, model: Any,
               example: Mapping[str, np.ndarray], *, exporter: str, opset: int | None,
               out_path: Path, fix: str | None = None,
               options: Mapping[str, Any] | None = None) -> ExportResult:
        """Export ``model`` with ``exporter`` to ``out_path``; a failure is a result."""

    def versions(self) -> dict[str, Any]:
        """Versions of the framework's packages (for the artifact record)."""
        return {}

    def check_exporter(self, exporter: str, model: str) -> None:
        """UserError unless ``exporter`` is one of this framework's."""
        if exporter not in self.exporters:
            raise UserError(f"model {model!r} is a {self.label} model: exporter {exporter!r} "
                            f"does not apply; choose one of: {', '.join(self.exporters)}")


def register_framework(name: str, target: str) -> None:
    """Register ``name`` -> ``"module:Class"`` (a plugin's framework; imported when used)."""
    FRAMEWORKS[name] = target


def framework(name: str) -> Framework:
    """The adapter of framework ``name`` (one instance per process)."""
    if name not in FRAMEWORKS:
        load_plugins()
    if name not in FRAMEWORKS:
        raise UserError(f"unknown framework {name!r}; known: {', '.join(FRAMEWORKS)}")
    if name not in _INSTANCES:
        module_name, _, attr = FRAMEWORKS[name].partition(":")
        _INSTANCES[name] = getattr(importlib.import_module(module_name), attr)()
    return _INSTANCES[name]


def framework_of(spec: ModelSpec) -> Framework:
    """The adapter of the framework a spec's ``build`` returns a model of."""
    return framework(spec.framework)


def default_exporter(spec: ModelSpec) -> str:
    """The exporter used where none is named (``bench``, a suite entry that runs an ONNX
    graph, ``tune``): the spec's framework's first (``dynamo``, ``tf2onnx``)."""
    return framework_of(spec).exporters[0]


def known_exporters() -> tuple[str, ...]:
    """Every exporter of every framework (PyTorch's first, then the plugins')."""
    load_plugins()
    return tuple(e for name in FRAMEWORKS for e in framework(name).exporters)


def exporter_framework(exporter: str) -> Framework | None:
    """The framework that owns ``exporter``, or None."""
    load_plugins()
    return next((framework(n) for n in FRAMEWORKS if exporter in framework(n).exporters), None)


__all__ = [
    "FRAMEWORKS",
    "Framework",
    "default_exporter",
    "exporter_framework",
    "framework",
    "framework_of",
    "known_exporters",
    "register_framework",
]
