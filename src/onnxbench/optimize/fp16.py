"""float16 conversion (``onnxruntime.transformers.float16``) and the values it cannot hold.

fp16 holds magnitudes up to 65504 and, below about 6e-8, flushes to zero. The converter
clamps initializers silently; this step lists every float32 initializer with values
outside that range first, so an accuracy loss has a named cause. ``keep_io_types`` keeps
the graph's inputs and outputs float32 (a Cast at each edge) so callers need not change;
``op_block_list`` keeps the named op types in float32.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from onnxbench.optimize.report import StepReport, summarize_graph

FP16_MAX = 65504.0
FP16_MIN_POSITIVE = 5.96e-08  # smallest subnormal; smaller non-zero values become 0


def out_of_range_initializers(model) -> list[dict]:
    """float32 initializers with values fp16 cannot represent: overflow or underflow counts."""
    from onnx import TensorProto, numpy_helper

    found = []
    for init in model.graph.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        values = np.abs(numpy_helper.to_array(init))
        if values.size == 0:
            continue
        over = int(np.count_nonzero(values > FP16_MAX))
        under = int(np.count_nonzero((values > 0) & (values < FP16_MIN_POSITIVE)))
        if over or under:
            found.append({"name": init.name, "size": int(values.size), "overflow": over,
                          "underflow": under, "max_abs": float(values.max())})
    return found


def to_fp16(src: Path, dst: Path, *, keep_io_types: bool = False,
            op_block_list: Iterable[str] | None = None) -> StepReport:
    """Convert ``src`` to float16 and save to ``dst``; report out-of-range initializers."""
    import onnx
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    model = onnx.load(str(src))
    block = sorted(set(DEFAULT_OP_BLOCK_LIST) | set(op_block_list or ()))
    outside = out_of_range_initializers(model)
    converted = convert_float_to_float16(model, keep_io_types=keep_io_types,
                                         op_block_list=block, max_finite_val=FP16_MAX,
                                         min_positive_val=FP16_MIN_POSITIVE)
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    onnx.save(converted, str(dst))
    step = StepReport(step="fp16", settings={"keep_io_types": keep_io_types,
                                             "op_block_list": sorted(set(op_block_list or ()))},
                      after=summarize_graph(Path(dst)))
    step.details["out_of_range_initializers"] = outside
    if outside:
        n = sum(o["overflow"] + o["underflow"] for o in outside)
        step.notes.append(f"{n} initializer value(s) in {len(outside)} tensor(s) lie outside "
                          f"fp16's range and were clamped (|x|>{FP16_MAX:g} or "
                          f"0<|x|<{FP16_MIN_POSITIVE:g})")
    return step
