"""Small in-place edits of an ONNX graph shared by the rewriting passes (fp16, fold).

ONNX nodes have no side effects, so a node none of whose outputs is read can go; names
read inside subgraphs (If/Loop bodies) count as read.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

# onnx.TensorProto element types: (u)int8/16/32/64; float, float16, double, bfloat16
INTEGER_TYPES = frozenset({2, 3, 4, 5, 6, 7, 12, 13})
FLOAT_TYPES = frozenset({1, 10, 11, 16})
# the largest integer each float type holds exactly: 2^(mantissa bits + 1)
EXACT_INTEGERS = {1: 2 ** 24, 10: 2 ** 11, 11: 2 ** 53, 16: 2 ** 8}


def producers(graph) -> dict:
    """Tensor name → the node that writes it."""
    return {out: node for node in graph.node for out in node.output}


def readers(graph) -> dict[str, list]:
    """Tensor name → the nodes that read it (in node order)."""
    found: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            found.setdefault(name, []).append(node)
    return found


def used_names(graph) -> set[str]:
    """Every tensor name a node reads, subgraphs (If/Loop bodies) included, plus outputs."""
    used = {o.name for o in graph.output}
    for node in graph.node:
        used.update(node.input)
        for attr in node.attribute:
            for sub in [attr.g] if attr.HasField("g") else list(attr.graphs):
                used |= used_names(sub)
    return used


def remove_unused(graph, only: Iterable[str] | None = None) -> int:
    """Drop nodes none of whose outputs is read, until nothing changes; ``only``: limit
    the removal to these node names. Returns how many went."""
    allowed = None if only is None else set(only)
    removed = 0
    while True:
        used = used_names(graph)
        dead = [n for n in graph.node if (allowed is None or n.name in allowed)
                and not any(o in used for o in n.output)]
        if not dead:
            return removed
        for node in dead:
            graph.node.remove(node)
        removed += len(dead)


def rename_inputs(graph, mapping: dict[str, str]) -> int:
    """Make every node that reads a key of ``mapping`` read its value instead."""
    changed = 0
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in mapping:
                node.input[i] = mapping[name]
                changed += 1
    return changed


def constant_values(graph) -> dict[str, np.ndarray]:
    """Values known without running the graph: initializers and Constant nodes' tensors."""
    from onnx import numpy_helper

    values = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(attr.t)
    return values


def attribute(node, name: str, default=None):
    """A node attribute's value (``onnx.helper.get_attribute_value``) or ``default``."""
    from onnx import helper

    for attr in node.attribute:
        if attr.name == name:
            return helper.get_attribute_value(attr)
    return default


def tensor_info(model) -> dict[str, tuple[int, list | None]]:
    """name → (elem_type, dims: int or None per axis) from ONNX shape inference."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    info = {}
    for v in [*g.input, *g.value_info, *g.output]:
        t = v.type.tensor_type
        dims = ([d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
                if t.HasField("shape") else None)
        info[v.name] = (t.elem_type, dims)
    for init in g.initializer:
        info[init.name] = (init.data_type, list(init.dims))
    return info
