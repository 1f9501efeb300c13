"""Split wide Concat nodes into a tree of narrow ones.

ONNX Runtime's CUDA Concat refuses more than 32 inputs while a CUDA graph is captured
("CUDA Concat supports at most 32 inputs during CUDA Graph capture"): seen on the H100 with
DCNv2's 100-feature config, whose input assembly and embedding list are Concats of 100 and
200 tensors. Concatenation is associative along one axis, so a two-level tree of Concats of
at most ``max_inputs`` each computes the same tensor, element for element.
"""

from __future__ import annotations

from pathlib import Path

CUDA_GRAPH_CONCAT_LIMIT = 32


def split_wide_concats(model, max_inputs: int = CUDA_GRAPH_CONCAT_LIMIT) -> int:
    """Rewrite ``model`` (an onnx.ModelProto) in place; return how many Concats were split."""
    from onnx import helper

    graph, split = model.graph, 0
    nodes = []
    for node in graph.node:
        if node.op_type != "Concat" or len(node.input) <= max_inputs:
            nodes.append(node)
            continue
        split += 1
        axis = next(a.i for a in node.attribute if a.name == "axis")
        inputs, level = list(node.input), 0
        while len(inputs) > max_inputs:
            parts = []
            for k in range(0, len(inputs), max_inputs):
                name = f"{node.name or node.output[0]}_split{level}_{k // max_inputs}"
                nodes.append(helper.make_node("Concat", inputs[k:k + max_inputs], [name],
                                              name=name, axis=axis))
                parts.append(name)
            inputs, level = parts, level + 1
        nodes.append(helper.make_node("Concat", inputs, list(node.output),
                                      name=node.name, axis=axis))
    del graph.node[:]
    graph.node.extend(nodes)
    return split


def split_concats_file(src: Path, dst: Path, max_inputs: int = CUDA_GRAPH_CONCAT_LIMIT):
    """The pass on files, as a change-report step."""
    import onnx

    from onnxbench.build.optimize.report import StepReport, summarize_graph

    model = onnx.load(str(src))
    n = split_wide_concats(model, max_inputs)
    onnx.save(model, str(dst))
    return StepReport(step="split_concat", settings={"max_inputs": max_inputs},
                      after=summarize_graph(Path(dst)), applied=n > 0,
                      details={"concats_split": n},
                      notes=[] if n else [f"no Concat has more than {max_inputs} inputs"])
