"""Optimisation passes over an exported ONNX graph, chained, each one reported.

``apply_optimizations`` is the one entry point the artifact builder (suites) and the
``onnxbench optimize`` command share. The passes are a registry (``passes.PASSES``: each
declares its options and its place in the chain); each writes its own file in ``out_dir``
so every intermediate graph can be inspected, and adds a step to the change report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onnxbench.build.optimize.passes import (
    INT8_SETTINGS,
    PASS_ORDER,
    PASSES,
    PRECISIONS,
    STRUCTURAL_OPTIONS,
    fusion_type,
    pass_options,
)
from onnxbench.build.optimize.report import ChangeReport, summarize_graph


@dataclass(frozen=True)
class OptimizeResult:
    """The final graph's path and the report of how it was made."""

    path: Path
    report: ChangeReport


def apply_optimizations(onnx_path: Path, out_dir: Path, *, precision: str = "fp32",
                        level: str | None = None, fuse: str | bool | None = None,
                        model_type_hint: str | None = None,
                        calibration_inputs: Iterable[Mapping] | None = None,
                        **opts: Any) -> OptimizeResult:
    """Run the requested passes on ``onnx_path``, writing each graph under ``out_dir``.

    ``opts``: each pass's options (``passes.PASSES``: ``truncate_layers``; ``fuse`` (a
    transformer optimizer type, a zoo model's name, or true: ``model``'s own),
    ``num_heads``/``hidden_size``; ``fold_slices``; ``merge_embeddings``; ``split_concat``;
    ``keep_io_types``, ``op_block_list``, ``calibration``, ``per_channel``, ``reduce_range``,
    ``int8_op_types``; ``level``), and what they need of the model: ``model``, ``config``,
    ``seq``, ``seed``, ``model_options`` (rebuilding the zoo model as it was exported),
    ``ranges`` (calibration inputs of a bare graph). With nothing requested the result is
    the input graph and an empty step list.
    """
    from onnxbench.model.inputs import load_onnx  # onnx: the CLI's start does without it

    opts = {**opts, "precision": precision, "level": level, "fuse": fuse,
            "model_type_hint": model_type_hint, "calibration_inputs": calibration_inputs}
    for p in PASSES:
        p.check(opts)
    onnx_path, out_dir = Path(onnx_path), Path(out_dir)
    load_onnx(onnx_path)  # UserError on a missing / not-ONNX file
    out_dir.mkdir(parents=True, exist_ok=True)
    report = ChangeReport(source=summarize_graph(onnx_path))
    current, stem = onnx_path, onnx_path.stem
    for p in PASSES:
        if not p.wanted(opts):
            continue
        step = p.run(current, out_dir, stem, opts)
        report.steps.append(step)
        if step.after is not None:
            current, stem = Path(step.after.path), Path(step.after.path).stem
    report.output = str(current)
    return OptimizeResult(current, report)


__all__ = ["INT8_SETTINGS", "PASSES", "PASS_ORDER", "PRECISIONS", "STRUCTURAL_OPTIONS",
           "OptimizeResult", "apply_optimizations", "fusion_type", "pass_options"]
