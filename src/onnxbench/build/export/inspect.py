"""What an ONNX file holds: inputs/outputs with symbolic dims, opsets, producer, parameters,
op histogram. Plain data (``inspect_model`` returns a dict), so ``--json`` is free.

Parameters are the initializers' elements plus the weights held in ``Constant`` nodes
(graphs converted from Paddle, and some exporters, store every weight so): a Constant's
``value`` tensor counts when it is a weight type (floating point, or 8-bit integer for
quantised weights) and has more than one element; int64 constants (shapes, axes, indices)
and scalars (epsilons, scales) do not.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import helper

from onnxbench.core.errors import UserError


def _dim(d: onnx.TensorShapeProto.Dimension) -> int | str:
    if d.HasField("dim_value"):
        return d.dim_value
    return d.dim_param or "?"


def _value_info(info: onnx.ValueInfoProto) -> dict[str, Any]:
    ttype = info.type.tensor_type
    dtype = helper.tensor_dtype_to_np_dtype(ttype.elem_type).name if ttype.elem_type else "?"
    shape = [_dim(d) for d in ttype.shape.dim] if ttype.HasField("shape") else None
    return {"name": info.name, "dtype": dtype, "shape": shape}


def _itemsize(elem_type: int) -> int:
    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(elem_type)).itemsize
    except (KeyError, TypeError, ValueError):
        return 0


def _all_nodes(graph: onnx.GraphProto):
    """Nodes of the graph and of its subgraphs (If/Loop/Scan bodies)."""
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _all_nodes(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    yield from _all_nodes(sub)


WEIGHT_TYPES = frozenset({onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE,
                          onnx.TensorProto.BFLOAT16, onnx.TensorProto.INT8, onnx.TensorProto.UINT8})


def constant_weights(graph: onnx.GraphProto) -> list[onnx.TensorProto]:
    """The weight tensors held in ``Constant`` nodes (subgraphs included; see the module
    docstring for which count)."""
    out = []
    for node in _all_nodes(graph):
        if node.op_type != "Constant" or node.domain not in ("", "ai.onnx"):
            continue
        for attr in node.attribute:
            if attr.name != "value" or attr.type != onnx.AttributeProto.TENSOR:
                continue
            if attr.t.data_type in WEIGHT_TYPES and int(np.prod(attr.t.dims, dtype=np.int64)) > 1:
                out.append(attr.t)
    return out


def _count(tensors) -> tuple[int, int]:
    """(elements, bytes) of ``tensors``."""
    n = [int(np.prod(t.dims, dtype=np.int64)) for t in tensors]
    return sum(n), sum(k * _itemsize(t.data_type) for k, t in zip(n, tensors))


def describe(model: onnx.ModelProto) -> dict[str, Any]:
    """Everything ``inspect`` reports, from a loaded model (external data not needed)."""
    graph = model.graph
    init_names = {i.name for i in graph.initializer}
    init_params, init_bytes = _count(list(graph.initializer))
    constants = constant_weights(graph)
    const_params, const_bytes = _count(constants)
    params, param_bytes = init_params + const_params, init_bytes + const_bytes
    ops = Counter((f"{n.domain}::" if n.domain not in ("", "ai.onnx") else "") + n.op_type
                  for n in _all_nodes(graph))
    return {
        "graph": graph.name,
        "ir_version": model.ir_version,
        "opsets": {(o.domain or "ai.onnx"): o.version for o in model.opset_import},
        "producer": {"name": model.producer_name, "version": model.producer_version},
        "inputs": [_value_info(i) for i in graph.input if i.name not in init_names],
        "outputs": [_value_info(o) for o in graph.output],
        "parameters": params,
        "parameter_bytes": param_bytes,
        "initializers": len(graph.initializer),
        "initializer_parameters": init_params,
        "constant_parameters": const_params,
        "constant_weights": len(constants),
        "nodes": sum(ops.values()),
        "ops": dict(ops.most_common()),
        "metadata": {p.key: p.value for p in model.metadata_props if not p.key.startswith("pkg.")},
    }


def inspect_model(path: Path) -> dict[str, Any]:
    """``describe`` of the file at ``path``, plus its path and size; UserError if unreadable."""
    from onnxbench.model.inputs import load_onnx

    path = Path(path)
    info = describe(load_onnx(path))
    return {"path": str(path), "file_bytes": path.stat().st_size, **info}


def open_netron(path: Path) -> str:
    """Serve the graph in Netron (optional ``viz`` extra); returns the address it serves on."""
    try:
        import netron
    except ImportError:
        raise UserError("--netron needs the optional viz extra: pip install onnxbench[viz]") \
            from None
    address = netron.start(str(path), browse=False)
    if isinstance(address, tuple):
        return f"http://{address[0]}:{address[1]}"
    return str(address)
