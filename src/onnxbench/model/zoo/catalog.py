"""The zoo as a table: one row per (model, config), for ``onnxbench zoo``.

Specs import torch/transformers/deepctr only inside their methods, so listing the zoo
imports no framework at all; a plugin's specs (Keras) list without their framework installed.
Parameter counts build each model (on the meta device): they are counted only when asked.
"""

from __future__ import annotations

from typing import Any

from onnxbench.core.errors import Skip
from onnxbench.model.zoo import resolve, spec_names
from onnxbench.model.zoo.base import ModelSpec


def describe_zoo(model: str | None = None, *, params: bool = True) -> list[dict[str, Any]]:
    """One row per (model, config): name, config, description, parameters, inputs, outputs.

    ``params``: count the parameters (``None`` otherwise). Counting builds each model on the
    meta device (no memory, no weights initialised) but imports its framework (torch,
    deepctr, transformers, TensorFlow): seconds per model, where the rest takes none.
    """
    specs = [resolve(model)] if model else [resolve(name) for name in spec_names()]
    rows = []
    for spec in specs:
        for config in spec.configs:
            rows.append({
                "model": spec.name, "config": config,
                "default": config == spec.default_config,
                "description": spec.description,
                "settings": spec.describe(config),
                "params": _params(spec, config) if params else None,
                "inputs": spec.input_names(config),
                "outputs": spec.output_names(config),
                "has_seq": spec.has_seq, "default_seq": spec.default_seq,
            })
    return rows


def _params(spec: ModelSpec, config: str) -> int | None:
    """The parameter count, or None where the framework is not installed (the [tf] extra)."""
    try:
        return spec.param_count(config)
    except Skip:
        return None
