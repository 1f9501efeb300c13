"""What a runtime runs: an ONNX file and/or a way to rebuild the PyTorch module.

An Artifact is plain, picklable data so it can cross into a worker process. The PyTorch
module is rebuilt inside the worker from the zoo spec (or factory) and, when given, a saved
state dict; nothing heavy is built before a runtime asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Artifact:
    model: str                      # zoo name, .onnx path, or path/to/file.py:factory
    config: str | None = None
    onnx_path: Path | None = None   # the exported / given ONNX graph, if any
    torch_state: Path | None = None  # saved state_dict of the trained module, if any
    options: dict[str, Any] = field(default_factory=dict)  # model build options (weights dir, image_size, ...)

    @property
    def has_torch(self) -> bool:
        return not self.model.endswith(".onnx")

    def load_module(self):
        """Build the PyTorch module (eval mode) for this artifact; raises Skip if there is none."""
        from onnxbench.errors import Skip

        if not self.has_torch:
            raise Skip("PyTorch runtimes need a PyTorch model; this case has only an ONNX file")
        from onnxbench.zoo import resolve

        spec = resolve(self.model)
        module = spec.load(self.config, state_path=self.torch_state, options=self.options)
        n_remove = int(self.options.get("truncate_layers") or 0)
        if n_remove:  # run the truncated encoder its ONNX graph was made from (like for like)
            from onnxbench.optimize.truncate import truncate_encoder

            module = truncate_encoder(module, n_remove, copy_module=False)
        return module
