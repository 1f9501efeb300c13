"""The change report of ``onnxbench optimize``: what each pass did to the graph.

Users try optimisations one at a time and often cannot say what changed. Every pass
records a ``StepReport`` (its graph before/after and, for fusion, which fused operators
appeared and which expected ones did not, with the reason), and the whole chain is one
``ChangeReport`` that the CLI prints as a table or as JSON and the suite stores next to
the artifact.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field


class GraphSummary(BaseModel):
    """Size and composition of one ONNX file (cheap to compute, enough to compare)."""

    path: str
    nodes: int
    op_counts: dict[str, int] = Field(default_factory=dict)
    file_bytes: int = 0
    initializer_bytes: int = 0
    opset: dict[str, int] = Field(default_factory=dict)
    io_types: dict[str, str] = Field(default_factory=dict)  # graph input/output name -> elem type


class StepReport(BaseModel):
    """One pass: what it was asked to do, the graph it produced, and what it found."""

    step: str                      # level|fuse|fp16|int8|truncate
    settings: dict[str, Any] = Field(default_factory=dict)
    after: GraphSummary | None = None
    fused: dict[str, int] = Field(default_factory=dict)       # fused operator -> count
    not_fused: dict[str, str] = Field(default_factory=dict)   # expected fused op -> why not
    applied: bool = True           # False when the pass found nothing to do (reason in notes)
    notes: list[str] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)     # pass-specific findings


class ChangeReport(BaseModel):
    """The whole chain: the input graph, each step, and the final graph."""

    source: GraphSummary
    steps: list[StepReport] = Field(default_factory=list)
    output: str | None = None

    @property
    def final(self) -> GraphSummary:
        for step in reversed(self.steps):
            if step.after is not None:
                return step.after
        return self.source

    def op_delta(self) -> dict[str, int]:
        """Per op type, how many nodes the chain added (+) or removed (-)."""
        before, after = Counter(self.source.op_counts), Counter(self.final.op_counts)
        keys = sorted(set(before) | set(after))
        return {k: after[k] - before[k] for k in keys if after[k] != before[k]}

    def summary(self) -> dict[str, Any]:
        """The JSON document of the CLI: a stable, flat-ish view of the report."""
        data = self.model_dump()
        data["final"] = self.final.model_dump()
        data["nodes_before"] = self.source.nodes
        data["nodes_after"] = self.final.nodes
        data["bytes_before"] = self.source.file_bytes
        data["bytes_after"] = self.final.file_bytes
        data["op_delta"] = self.op_delta()
        return data


@contextlib.contextmanager
def quiet():
    """Silence a pass's own prints and log advice: only the CLI prints (``--json`` stays
    one document); what matters from a pass goes into its step report instead."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        root.setLevel(level)


_ELEM_NAMES = {1: "float32", 10: "float16", 7: "int64", 6: "int32", 9: "bool", 2: "uint8",
               3: "int8", 11: "float64", 16: "bfloat16"}


def summarize_graph(path: Path) -> GraphSummary:
    """Count nodes by op type (``domain::op`` for non-default domains) and sizes of a file."""
    import onnx

    path = Path(path)
    model = onnx.load(str(path), load_external_data=False)
    counts: Counter[str] = Counter()
    for node in model.graph.node:
        key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}::{node.op_type}"
        counts[key] += 1
    init_bytes = sum(len(t.raw_data) for t in model.graph.initializer)
    io_types = {}
    for value in list(model.graph.input) + list(model.graph.output):
        elem = value.type.tensor_type.elem_type
        io_types[value.name] = _ELEM_NAMES.get(elem, str(elem))
    return GraphSummary(
        path=str(path), nodes=len(model.graph.node), op_counts=dict(sorted(counts.items())),
        file_bytes=path.stat().st_size, initializer_bytes=init_bytes,
        opset={(o.domain or "ai.onnx"): o.version for o in model.opset_import},
        io_types=io_types,
    )
