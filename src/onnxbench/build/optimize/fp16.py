"""float16 conversion (``onnxruntime.transformers.float16``) and the values it cannot hold.

fp16 holds magnitudes up to 65504 and, below about 6e-8, flushes to zero. The converter
clamps initializers silently; this step lists every float32 initializer with values
outside that range first, so an accuracy loss has a named cause. ``keep_io_types`` keeps
the graph's inputs and outputs float32 (a Cast at each edge) so callers need not change;
``op_block_list`` keeps the named op types in float32.

Integer ids that travel as floats are the other trap. deepctr-style models (DCNv2) cast
their int64 ids to float, concatenate them with the dense values, slice them back out and
cast them to int64 for the embedding lookup. Converted naively, that path runs in fp16,
which holds integers exactly only up to 2048 and overflows at 65504: ids are silently
rounded to a neighbouring embedding row, or become out of range. ``id_path_nodes`` finds
every data-movement node between such an int→float Cast and the float→int Cast, the
converter keeps them in float32, and the fp32→fp16→fp32 round trips it inserts between
them are dropped so the ids stay exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from onnxbench.build.optimize.graphedit import (
    FLOAT_TYPES,
    INTEGER_TYPES,
    attribute,
    producers,
    remove_unused,
    tensor_info,
)
from onnxbench.build.optimize.report import StepReport, summarize_graph

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


# ops that move values without computing on them: an id passing through stays an id
DATA_MOVEMENT = frozenset({"Slice", "Concat", "Squeeze", "Unsqueeze", "Reshape", "Flatten",
                           "Transpose", "Gather", "GatherElements", "Split", "Identity",
                           "Expand", "Tile"})


def id_path_nodes(graph, types: dict[str, int] | None = None) -> list[str]:
    """Names of the nodes that carry integer ids as floats, back from each float→int Cast.

    From every Cast of a float to an integer type (``types``: element type per tensor
    name, from shape inference; without it every Cast to an integer counts), walk
    producers back through data-movement ops (every input of a Concat, the data input of
    the others) and stop at a Cast (kept: it is where ids become floats) or at anything
    that computes. Nodes must be named.
    """
    producer = producers(graph)
    found: dict[str, None] = {}
    for node in graph.node:
        if node.op_type != "Cast" or attribute(node, "to") not in INTEGER_TYPES:
            continue
        if types and types.get(node.input[0], 1) not in FLOAT_TYPES:
            continue  # an integer already (e.g. a Shape element): fp16 never touches it
        path, stack, seen = [node.name], [node.input[0]], set()
        while stack:
            src = producer.get(stack.pop())
            if src is None or src.name in seen:
                continue
            seen.add(src.name)
            if src.op_type == "Cast":
                path.append(src.name)
            elif src.op_type in DATA_MOVEMENT:
                path.append(src.name)
                stack.extend(src.input if src.op_type == "Concat" else src.input[:1])
        if len(path) > 1:  # a float→int Cast fed by a path back to where ids became floats
            found.update(dict.fromkeys(path))
    return list(found)


def _element_types(model) -> dict[str, int] | None:
    """Element type per tensor name from ONNX shape inference; None when it cannot run
    (e.g. a model over 2 GB in memory)."""
    try:
        return {name: elem for name, (elem, _) in tensor_info(model).items()}
    except Exception:  # noqa: BLE001 - the walk then treats every Cast to int as a candidate
        return None


def _drop_round_trips(model, keep_fp32: set[str]) -> None:
    """Feed the ``keep_fp32`` nodes their fp32 values directly: drop fp32→fp16→fp32 Casts.

    The converter casts a blocked node's fp32 output to fp16 and back again before the next
    blocked node; for ids that round trip is the corruption.
    """
    from onnx import TensorProto

    graph = model.graph
    types = {v.name: v.type.tensor_type.elem_type
             for v in [*graph.input, *graph.value_info, *graph.output]}
    producer = producers(graph)
    rename: dict[str, str] = {}
    casts: set[str] = set()
    for node in graph.node:
        if node.op_type != "Cast" or attribute(node, "to") != TensorProto.FLOAT:
            continue
        down = producer.get(node.input[0])
        if (down is not None and down.op_type == "Cast"
                and attribute(down, "to") == TensorProto.FLOAT16
                and types.get(down.input[0]) == TensorProto.FLOAT):
            rename[node.output[0]] = down.input[0]
            casts |= {node.name, down.name}
    for node in graph.node:
        if node.name in keep_fp32:
            node.input[:] = [rename.get(name, name) for name in node.input]
    remove_unused(graph, only=casts)


def to_fp16(src: Path, dst: Path, *, keep_io_types: bool = False,
            op_block_list: Iterable[str] | None = None) -> StepReport:
    """Convert ``src`` to float16 and save to ``dst``; report out-of-range initializers."""
    import onnx
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    model = onnx.load(str(src))
    block = sorted(set(DEFAULT_OP_BLOCK_LIST) | set(op_block_list or ()))
    outside = out_of_range_initializers(model)
    for i, node in enumerate(model.graph.node):
        node.name = node.name or f"_fp16_unnamed_{i}"
    ids = id_path_nodes(model.graph, _element_types(model))
    converted = convert_float_to_float16(model, keep_io_types=keep_io_types,
                                         op_block_list=block, node_block_list=ids,
                                         max_finite_val=FP16_MAX,
                                         min_positive_val=FP16_MIN_POSITIVE)
    if ids:
        _drop_round_trips(converted, set(ids))
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    onnx.save(converted, str(dst))
    step = StepReport(step="fp16", settings={"keep_io_types": keep_io_types,
                                             "op_block_list": sorted(set(op_block_list or ()))},
                      after=summarize_graph(Path(dst)))
    step.details["out_of_range_initializers"] = outside
    step.details["id_path_nodes"] = len(ids)
    if ids:
        step.notes.append(f"{len(ids)} node(s) carrying integer ids as floats kept in float32 "
                          "(fp16 holds integers exactly only up to 2048)")
    if outside:
        n = sum(o["overflow"] + o["underflow"] for o in outside)
        step.notes.append(f"{n} initializer value(s) in {len(outside)} tensor(s) lie outside "
                          f"fp16's range and were clamped (|x|>{FP16_MAX:g} or "
                          f"0<|x|<{FP16_MIN_POSITIVE:g})")
    return step
