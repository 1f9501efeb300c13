"""Merge per-feature embedding lookups into one lookup in one concatenated table.

A CTR model looks up every sparse feature in its own table and concatenates the rows:
``Concat(Gather(T_0, ids_0), …, Gather(T_n, ids_n))`` along the feature axis, each ids
``[batch, 1]``, either along the features (``[batch, n, dim]``) or along the rows
(``[batch, 1, n*dim]``, as deepctr does: the same values, reshaped). DCNv2's 100-feature
config does it twice per call (embeddings and the linear part): 200 small Gathers. The same
tensor comes from one Gather in ``concat(T_0 … T_n)`` with each feature's ids shifted by
its table's offset, the technique fused embedding tables use:

    ids = Concat(ids_0 … ids_n)                      [batch, n+1]
    ids = Where(ids < 0, ids + sizes, ids) + offsets  (Gather's negative ids count from the end)
    out = Gather(concat(T_0 … T_n), ids)            [batch, n+1, dim] (Reshape if by rows)

Every id inside its table gives the same row, bit for bit. An id outside its table, which
the separate lookup rejects with an error, reads a row of a neighbouring table instead:
the one behaviour that changes, and only for inputs the model was never valid for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from onnxbench.build.optimize.graphedit import (
    attribute,
    constant_values,
    producers,
    readers,
    remove_unused,
    tensor_info,
    used_names,
)


def _lookups(concat, producer, reads, values, info):
    """The Gathers feeding ``concat`` if they form a mergeable set, else None."""
    gathers = [producer.get(x) for x in concat.input]
    if len(gathers) < 2 or any(g is None or g.op_type != "Gather" for g in gathers):
        return None
    tables = [values.get(g.input[0]) for g in gathers]
    if any(t is None or t.ndim != 2 for t in tables):
        return None
    if len({(t.shape[1], t.dtype) for t in tables}) != 1:
        return None
    ids = [info.get(g.input[1]) for g in gathers]
    if any(i is None or i[1] is None or len(i[1]) != 2 or i[1][1] != 1 for i in ids):
        return None
    axis = attribute(concat, "axis") % 3
    if len({i[0] for i in ids}) != 1 or axis == 0:
        return None
    if any(attribute(g, "axis", 0) != 0 or len(reads.get(g.output[0], [])) != 1
           for g in gathers):
        return None
    return gathers, tables


def _lookup(stem: str, outputs: list[str], flatten: bool) -> list:
    """The merged Gather: [batch, n, dim]; rows concatenated along their own axis
    ([batch, 1, n*dim], as deepctr does) are the same values reshaped."""
    from onnx import helper

    if not flatten:
        return [helper.make_node("Gather", [f"{stem}_table", f"{stem}_rows"], outputs,
                                 name=stem, axis=0)]
    return [helper.make_node("Gather", [f"{stem}_table", f"{stem}_rows"], [f"{stem}_out"],
                             name=stem, axis=0),
            helper.make_node("Reshape", [f"{stem}_out", f"{stem}_shape"], outputs,
                             name=f"{stem}_reshape")]


def merge_embedding_lookups(model) -> dict[str, int]:
    """Rewrite ``model`` in place; return how many Concats of lookups were merged and how
    many Gathers they replaced."""
    from onnx import helper, numpy_helper

    graph = model.graph
    info, values = tensor_info(model), constant_values(graph)
    producer, reads = producers(graph), readers(graph)
    replaced = 0
    replacement: dict[int, list] = {}  # id(Concat node) → the nodes that stand in for it
    new_inits = []
    for concat in graph.node:
        if concat.op_type != "Concat":
            continue
        found = _lookups(concat, producer, reads, values, info)
        if found is None:
            continue
        gathers, tables = found
        stem = f"{concat.name or concat.output[0]}_merged"
        sizes = np.array([t.shape[0] for t in tables], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        id_type = info[gathers[0].input[1]][0]
        np_ids = {6: np.int32, 7: np.int64}.get(id_type)
        if np_ids is None:
            continue
        new_inits += [numpy_helper.from_array(np.concatenate(tables), f"{stem}_table"),
                      numpy_helper.from_array(sizes.astype(np_ids), f"{stem}_sizes"),
                      numpy_helper.from_array(offsets.astype(np_ids), f"{stem}_offsets"),
                      numpy_helper.from_array(np.zeros((), np_ids), f"{stem}_zero"),
                      numpy_helper.from_array(np.array([0, 1, -1], np.int64), f"{stem}_shape")]
        replacement[id(concat)] = [
            helper.make_node("Concat", [g.input[1] for g in gathers], [f"{stem}_ids"],
                             name=f"{stem}_ids", axis=1),
            helper.make_node("Less", [f"{stem}_ids", f"{stem}_zero"], [f"{stem}_neg"],
                             name=f"{stem}_neg"),
            helper.make_node("Add", [f"{stem}_ids", f"{stem}_sizes"], [f"{stem}_wrapped"],
                             name=f"{stem}_wrapped"),
            helper.make_node("Where", [f"{stem}_neg", f"{stem}_wrapped", f"{stem}_ids"],
                             [f"{stem}_local"], name=f"{stem}_local"),
            helper.make_node("Add", [f"{stem}_local", f"{stem}_offsets"], [f"{stem}_rows"],
                             name=f"{stem}_rows"),
            *_lookup(stem, list(concat.output), flatten=attribute(concat, "axis") % 3 == 2)]
        replaced += len(gathers)
    if not replacement:
        return {"merged": 0, "lookups_replaced": 0}
    nodes = []
    for node in graph.node:
        nodes.extend(replacement.get(id(node), [node]))
    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(new_inits)
    remove_unused(graph)
    used = used_names(graph)
    keep = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)
    return {"merged": len(replacement), "lookups_replaced": replaced}


def merge_file(src: Path, dst: Path):
    """The pass on files, as a change-report step."""
    import onnx

    from onnxbench.build.optimize.report import StepReport, summarize_graph

    model = onnx.load(str(src))
    counts = merge_embedding_lookups(model)
    onnx.save(model, str(dst))
    applied = counts["merged"] > 0
    notes = ([] if applied else ["no Concat of per-feature embedding lookups to merge"])
    if applied:
        notes.append("an id outside its table no longer raises: it reads a neighbouring "
                     "table's row")
    return StepReport(step="merge_embeddings", settings={}, after=summarize_graph(Path(dst)),
                      applied=applied, details=counts, notes=notes)
