"""TensorFlow behind the ``Framework`` interface: Keras build, weights and SavedModel beside
the graph, TensorFlow's outputs as the reference, the ``tf2onnx`` exporter."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from onnxbench.core.errors import Skip, UserError
from onnxbench.model.frameworks import Framework
from onnxbench.tf import import_tf2onnx, versions
from onnxbench.tf.export import EXPORTER, export_tf, save_saved_model, save_weights, tf_outputs

if TYPE_CHECKING:
    from onnxbench.build.export.exporters import ExportResult
    from onnxbench.model.zoo.base import ModelSpec


class TFFramework(Framework):
    name: ClassVar[str] = "tf"
    label: ClassVar[str] = "TensorFlow"
    exporters: ClassVar[tuple[str, ...]] = (EXPORTER,)

    def require(self, error: type[Exception] = Skip) -> None:
        import_tf2onnx(error)  # without the extra: the install line

    def build(self, spec: ModelSpec, config: str | None, *, seed: int = 0,
              options: Mapping[str, Any] | None = None, train: bool = True) -> Any:
        return spec.build(config, seed=seed, options=options)

    def save(self, spec: ModelSpec, model: Any, out_dir: Path) -> dict[str, Any]:
        """Keras weights (``spec.load`` reads them back) and a SavedModel, once per artifact:
        ``tf-saved-model`` cases load it as a deployment would."""
        return {"state_file": save_weights(spec, model, out_dir),
                **save_saved_model(spec, model, out_dir)}

    def outputs(self, spec: ModelSpec | None, config: str | None, model: Any,
                feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        if spec is None:
            raise UserError("TensorFlow reference outputs need the model's spec (its input "
                            "and output names)")
        return tf_outputs(spec, config, model, feeds)

    def export(self, spec: ModelSpec, config: str | None, model: Any,
               example: Mapping[str, np.ndarray], *, exporter: str, opset: int | None,
               out_path: Path, fix: str | None = None,
               options: Mapping[str, Any] | None = None) -> ExportResult:
        return export_tf(spec, config, out_path, opset, options=options, model=model)

    def versions(self) -> dict[str, Any]:
        return versions()
