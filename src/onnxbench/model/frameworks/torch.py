"""PyTorch behind the ``Framework`` interface: build, ``model.pt``, eager outputs, the four
exporters (``dynamo``, ``torchscript``, ``jit-trace``, ``jit-script``) and export-side fixes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from onnxbench.build.export.exporters import EXPORTERS
from onnxbench.model.frameworks import Framework

if TYPE_CHECKING:
    from onnxbench.build.export.exporters import ExportResult
    from onnxbench.model.zoo.base import ModelSpec


class TorchFramework(Framework):
    name: ClassVar[str] = "torch"
    label: ClassVar[str] = "PyTorch"
    exporters: ClassVar[tuple[str, ...]] = EXPORTERS
    fixes: ClassVar[bool] = True

    def build(self, spec: ModelSpec, config: str | None, *, seed: int = 0,
              options: Mapping[str, Any] | None = None, train: bool = True) -> Any:
        return spec.build(config, seed=seed, options=options, train=train).eval()

    def save(self, spec: ModelSpec, model: Any, out_dir: Path) -> dict[str, Any]:
        """The state dict as safetensors (data, never code: ``onnxbench.model.weights``)."""
        from onnxbench.model.weights import save_state

        return {"state_file": save_state(model, Path(out_dir))}

    def outputs(self, spec: ModelSpec | None, config: str | None, model: Any,
                feeds: Mapping[str, np.ndarray]) -> list[np.ndarray]:
        from onnxbench.runtimes.torch_eager import run_module

        return run_module(model, feeds, spec.input_names(config) if spec else None)

    def export(self, spec: ModelSpec, config: str | None, model: Any,
               example: Mapping[str, np.ndarray], *, exporter: str, opset: int | None,
               out_path: Path, fix: str | None = None,
               options: Mapping[str, Any] | None = None) -> ExportResult:
        from onnxbench.build.export.exporters import export
        from onnxbench.build.export.fixes import apply_fix

        with apply_fix(fix, model):  # e.g. squeeze-dims: batch 1 passes natively
            result = export(model, example, input_names=spec.input_names(config),
                            output_names=spec.output_names(config),
                            dynamic_axes=spec.dynamic_axes(config), exporter=exporter,
                            opset=opset, out_path=out_path)
        result.fix = fix
        return result

    def versions(self) -> dict[str, Any]:
        import torch

        return {"torch": torch.__version__}
