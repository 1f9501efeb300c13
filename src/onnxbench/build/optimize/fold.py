"""Fold the feature shuffling that CTR models export: slices of a Concat, id cast pairs.

deepctr-style models (DCNv2 here) take every feature column in one float tensor: the
export concatenates the inputs (ids cast to float), slices each column back out, and casts
the id columns back to int64 for the embedding lookups. For the 100-feature config that is
about 600 tiny kernels per call (100 + 100 casts, 200 slices, a 200-input Concat) around a
few dozen that compute, and on a GPU each costs a launch. Three rewrites remove them, each
exact for every input the graph accepts:

- **slice of a Concat**: a single-axis, step-1 ``Slice`` of ``Concat(a_0 … a_n)`` along the
  concatenation axis whose range is exactly one input ``a_j`` (static sizes along the
  axis) is ``a_j``;
- **id cast pair**: ``Cast(int → float → int)`` of the same integer type is the identity for
  |x| ≤ 2^24 (float32; 2^11 float16, 2^53 double); it is folded only where every reader
  (through reshaping ops) is a ``Gather`` from a constant table with at most that many rows,
  which rejects any larger id;
- **shape of a Concat**: ``Shape(Concat(...))`` read only by ``Gather`` of dims other than the
  axis is the shape of the first input (so the Concat itself can go).

Nodes left without readers are dropped.
"""

from __future__ import annotations

from pathlib import Path

from onnxbench.build.optimize.graphedit import (
    EXACT_INTEGERS,
    INTEGER_TYPES,
    attribute,
    constant_values,
    producers,
    readers,
    remove_unused,
    rename_inputs,
    tensor_info,
)


def _scalar(values: dict, name: str | None) -> int | None:
    if not name or name not in values or values[name].size != 1:
        return None
    return int(values[name].reshape(-1)[0])


def _fold_slices(graph, producer, values, info) -> dict[str, str]:
    """Slice outputs that are exactly one Concat input → that input."""
    mapping = {}
    for node in graph.node:
        if node.op_type != "Slice" or len(node.input) < 3:
            continue
        concat = producer.get(node.input[0])
        if concat is None or concat.op_type != "Concat":
            continue
        maybe_dims = [(info.get(x) or (None, None))[1] for x in concat.input]
        dims = [d for d in maybe_dims if d is not None]
        if len(dims) != len(maybe_dims):
            continue
        rank = len(dims[0])
        axis = attribute(concat, "axis") % rank
        start, end = _scalar(values, node.input[1]), _scalar(values, node.input[2])
        s_axis = _scalar(values, node.input[3]) if len(node.input) > 3 and node.input[3] else 0
        step = _scalar(values, node.input[4]) if len(node.input) > 4 and node.input[4] else 1
        if (start is None or end is None or s_axis is None or step is None
                or step != 1 or s_axis % rank != axis):
            continue
        offset = 0
        for x, d in zip(concat.input, dims):
            size = d[axis]
            if size is None:
                break
            if start == offset and end == offset + size:
                mapping[node.output[0]] = x
                break
            offset += size
    return mapping


def _fold_id_casts(graph, producer, reads, values, info) -> dict[str, str]:
    """Cast(int→float→int) read only by Gathers from small enough tables → the int tensor."""
    mapping = {}
    for node in graph.node:
        if node.op_type != "Cast" or attribute(node, "to") not in INTEGER_TYPES:
            continue
        inner = producer.get(node.input[0])
        if inner is None or inner.op_type != "Cast" or attribute(inner, "to") not in EXACT_INTEGERS:
            continue
        source = inner.input[0]
        if (info.get(source) or (None,))[0] != attribute(node, "to"):
            continue
        if _only_small_lookups(node.output[0], reads, values,
                               EXACT_INTEGERS[attribute(inner, "to")]):
            mapping[node.output[0]] = source
    return mapping


RESHAPING = frozenset({"Squeeze", "Unsqueeze", "Reshape", "Flatten", "Identity"})


def _only_small_lookups(name: str, reads, values, limit: int) -> bool:
    """Is every use of ``name`` (through reshaping ops) the indices of a Gather from a
    constant table of at most ``limit`` rows along the gathered axis?"""
    users = reads.get(name, [])
    if not users:
        return False
    for user in users:
        if user.op_type in RESHAPING and user.input[0] == name:
            if not _only_small_lookups(user.output[0], reads, values, limit):
                return False
        elif not (user.op_type == "Gather" and list(user.input[1:]) == [name]
                  and user.input[0] in values
                  and values[user.input[0]].shape[attribute(user, "axis", 0)] <= limit):
            return False
    return True


def _fold_shapes(graph, producer, reads, values, info) -> int:
    """Shape(Concat) read only for dims other than the axis → Shape(first input)."""
    changed = 0
    for node in graph.node:
        if node.op_type != "Shape" or node.attribute:
            continue
        concat = producer.get(node.input[0])
        if concat is None or concat.op_type != "Concat":
            continue
        dims = (info.get(concat.input[0]) or (None, None))[1]
        if dims is None:
            continue
        axis = attribute(concat, "axis") % len(dims)
        users = reads.get(node.output[0], [])
        if users and all(u.op_type == "Gather" and u.input[0] == node.output[0]
                         and u.input[1] in values and attribute(u, "axis", 0) == 0
                         and axis not in {int(i) % len(dims)
                                          for i in values[u.input[1]].reshape(-1)}
                         for u in users):
            node.input[0] = concat.input[0]
            changed += 1
    return changed


def fold_feature_shuffling(model) -> dict[str, int]:
    """Rewrite ``model`` in place; return what was folded and how many nodes went."""
    graph = model.graph
    before = len(graph.node)
    counts = {}
    info, values = tensor_info(model), constant_values(graph)
    producer = producers(graph)  # renaming inputs below leaves who writes what unchanged
    outputs = {o.name for o in graph.output}
    slices = {k: v for k, v in _fold_slices(graph, producer, values, info).items()
              if k not in outputs}
    rename_inputs(graph, slices)
    counts["slices"] = len(slices)
    reads = readers(graph)
    casts = {k: v for k, v in _fold_id_casts(graph, producer, reads, values, info).items()
             if k not in outputs}
    rename_inputs(graph, casts)
    counts["id_casts"] = len(casts)
    counts["shapes"] = _fold_shapes(graph, producer, reads, values, info)
    remove_unused(graph)
    counts["nodes_removed"] = before - len(graph.node)
    return counts


def fold_file(src: Path, dst: Path):
    """The pass on files, as a change-report step."""
    import onnx

    from onnxbench.build.optimize.report import StepReport, summarize_graph

    model = onnx.load(str(src))
    counts = fold_feature_shuffling(model)
    onnx.save(model, str(dst))
    applied = counts["nodes_removed"] > 0
    return StepReport(step="fold_slices", settings={}, after=summarize_graph(Path(dst)),
                      applied=applied, details=counts,
                      notes=[] if applied else ["no slice of a Concat or id cast pair to fold"])
