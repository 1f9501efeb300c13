"""The model zoo: ModelSpecs by name (a lazy table), and resolution of user models.

``resolve(model)`` accepts a zoo name, a ``path/to/file.py:factory``, or whatever a
plugin's *source* recognises (TensorFlow: SavedModel directories, ``.keras`` files). An
ONNX file is not a spec: the caller checks ``onnxbench.model.onnxfile.is_onnx_file`` first.

- ``SPECS``: name -> ``"module:ATTRIBUTE"`` of a ``ModelSpec`` instance, imported when the
  name is first resolved (spec modules import torch/transformers only inside methods);
- ``SOURCES``: ``"module:function"`` hooks, ``function(model) -> ModelSpec | None``, asked
  in turn for a name no table knows;
- ``REGISTRY``: the spec instances loaded so far, and any registered directly
  (``register(spec)``, e.g. by a test).

Plugins add theirs with :func:`register_spec` and :func:`register_source`; the table and
the hooks load lazily, so listing and resolving stay cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from onnxbench.core.errors import UserError
from onnxbench.core.plugins import load_plugins
from onnxbench.model.zoo.base import ModelSpec

SPECS: dict[str, str] = {
    "dcnv2": "onnxbench.model.zoo.dcnv2:DCNV2",
    "moe": "onnxbench.model.zoo.moe:MOE",
    "resnet18": "onnxbench.model.zoo.resnet:RESNET18",
    "resnet50": "onnxbench.model.zoo.resnet:RESNET50",
    "bert": "onnxbench.model.zoo.transformers_text:BERT",
    "deberta-v2": "onnxbench.model.zoo.transformers_text:DEBERTA_V2",
}
SOURCES: list[str] = []
REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Register a spec instance under its name (module-level specs call this)."""
    REGISTRY[spec.name] = spec
    return spec


def register_spec(name: str, target: str) -> None:
    """Register ``name`` -> ``"module:ATTRIBUTE"`` (a plugin's spec; imported when used)."""
    SPECS[name] = target


def register_source(target: str) -> None:
    """Register a ``"module:function"`` that turns a model string into a spec, or None."""
    if target not in SOURCES:
        SOURCES.append(target)


def _load(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def spec_names() -> list[str]:
    """Every zoo name: the built-in table, the plugins', then specs registered directly."""
    load_plugins()
    return [*SPECS, *(n for n in REGISTRY if n not in SPECS)]


def is_factory(model: str) -> bool:
    """``path/to/file.py:factory``?"""
    return ":" in model and model.split(":", 1)[0].endswith(".py")


def resolve(model: str) -> ModelSpec:
    """The spec for a zoo name, ``file.py:factory`` or a plugin's source; UserError otherwise."""
    if model in REGISTRY:
        return REGISTRY[model]
    if model not in SPECS:
        load_plugins()
    if model in SPECS:
        return register(_load(SPECS[model]))
    if is_factory(model):
        from onnxbench.model.zoo.external import FactorySpec

        return FactorySpec.from_path(model)
    for target in SOURCES:
        source: Callable[[str], ModelSpec | None] = _load(target)
        spec = source(model)
        if spec is not None:
            return spec
    from onnxbench.core.options import did_you_mean

    near = did_you_mean(model, spec_names())
    raise UserError(f"unknown model {model!r}; {f'did you mean {near!r}? ' if near else ''}"
                    f"choose one of: {', '.join(spec_names())}, a path/to/file.py:factory, "
                    "or an ONNX file")


__all__ = [
    "REGISTRY",
    "SOURCES",
    "SPECS",
    "ModelSpec",
    "is_factory",
    "register",
    "register_source",
    "register_spec",
    "resolve",
    "spec_names",
]
