"""What a case runs: an ONNX file and/or the saved weights of its source model.

An Artifact is a plain, picklable record (no imports beyond the standard library) so it
can cross into a worker process and be rebuilt from ``artifact.json``. The worker turns it
into a ``onnxbench.model.bundle.Bundle`` (the model's spec resolved once) before anything reads
it; nothing heavy is built before a runtime asks for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

META = "artifact.json"  # the build record beside an artifact's files


@dataclass(frozen=True)
class Artifact:
    model: str                       # zoo name, .onnx path, path/to/file.py:factory, ...
    config: str | None = None
    onnx_path: Path | None = None    # the exported / given ONNX graph, if any
    state_path: Path | None = None   # saved weights of the source model (torch or Keras)
    options: dict[str, Any] = field(default_factory=dict)  # model build options
    bare_onnx: bool = False          # the model *is* an ONNX file: there is no source model

    @property
    def has_module(self) -> bool:
        """True when a source model (PyTorch or Keras) stands behind the graph."""
        return not self.bare_onnx


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object from ``path``, or None when it is missing or unreadable."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def read_artifact_meta(artifact: Artifact) -> dict[str, Any] | None:
    """``artifact.json`` beside the artifact's files, if any."""
    where = artifact.onnx_path or artifact.state_path
    return read_json(Path(where).parent / META) if where else None
