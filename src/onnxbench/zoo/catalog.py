"""Imports every built-in spec so it registers itself.

Each spec module imports torch/transformers/deepctr only inside its methods, so importing
the catalog (and listing the zoo) stays cheap.
"""

from onnxbench.tf import zoo as _tf_zoo  # noqa: F401  (Keras specs; TensorFlow loads lazily)
from onnxbench.zoo import dcnv2, moe, resnet, transformers_text  # noqa: F401

BUILTIN = ("dcnv2", "moe", "resnet18", "resnet50", "bert", "deberta-v2",
           "keras-resnet50", "keras-encoder")


def describe_zoo(model: str | None = None) -> list[dict]:
    """One row per (model, config): name, config, description, parameters, inputs, outputs.

    Parameter counts are taken on the meta device (no memory, no weights initialised), so
    listing base/large transformers and the 40M-parameter DCNv2 configs stays quick.
    """
    from onnxbench.errors import Skip
    from onnxbench.zoo import REGISTRY, resolve

    specs = [resolve(model)] if model else [REGISTRY[name] for name in BUILTIN]
    rows = []
    for spec in specs:
        for config in spec.configs:
            rows.append({
                "model": spec.name, "config": config,
                "default": config == spec.default_config,
                "description": spec.description,
                "settings": spec.describe(config),
                "params": _params(spec, config, Skip),
                "inputs": spec.input_names(config),
                "outputs": spec.output_names(config),
                "has_seq": spec.has_seq, "default_seq": spec.default_seq,
            })
    return rows


def _params(spec, config: str, skip: type[Exception]) -> int | None:
    """The parameter count, or None where the framework is not installed (the [tf] extra)."""
    try:
        return spec.param_count(config)
    except skip:
        return None
