"""The model zoo: a registry of ModelSpecs by name, and resolution of user models.

``resolve(name)`` accepts a zoo name, a ``path/to/file.py:factory`` or an ``.onnx`` path.
"""

from __future__ import annotations

from onnxbench.zoo.base import ModelSpec

REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    REGISTRY[spec.name] = spec
    return spec


def resolve(model: str) -> ModelSpec:
    """The spec for a zoo name or ``file.py:factory``; UserError otherwise."""
    from onnxbench.errors import UserError
    from onnxbench.zoo import catalog  # noqa: F401  (registers the built-in specs)

    if model in REGISTRY:
        return REGISTRY[model]
    if ":" in model and model.split(":", 1)[0].endswith(".py"):
        from onnxbench.zoo.external import FactorySpec

        return FactorySpec.from_path(model)
    from onnxbench.tf.zoo import tf_source  # keras-* names, SavedModel dirs, .keras; no TF import

    tf_spec = tf_source(model)
    if tf_spec is not None:
        return tf_spec
    raise UserError(f"unknown model {model!r}; choose one of: {', '.join(sorted(REGISTRY))}, "
                    "a path/to/file.py:factory, or an .onnx file")
