"""The graph lint: dynamic-shape hazards found statically, before anything runs.

The batch-1 failure of deepctr-torch's DCNMix is the model case: a bare ``squeeze()`` is
exported as ``Squeeze`` with no axes, which at batch 1 also drops the batch axis, and a
later ``Concat`` fails. Each rule below names the node so the user can find it in Netron.

Rules (id, severity):
- ``squeeze-no-axes`` (error; warning without shape information): Squeeze without axes on
  a tensor with a dynamic dim: the output rank depends on the runtime shape.
- ``unsqueeze-no-axes`` (error): Unsqueeze without axes (invalid ONNX).
- ``squeeze-dynamic-axis`` (error): Squeeze whose explicit axes hit a dynamic dim; it only
  works when that dim happens to be 1.
- ``reshape-baked-batch`` (error): Reshape to a constant shape whose first element is a
  concrete size (not 0/-1) while the data's first dim is dynamic: the batch size is baked in.
- ``dim-pinned`` (error for a declared input dim, warning otherwise): an op (broadcasting
  elementwise op, Concat, Expand to a constant shape) combines a dynamic dim with a
  concrete size > 1 on the same axis, so the graph only runs when the dim has that value.
  A dim shape inference could not work out (unnamed, or its ``unk__N`` placeholder) is
  not taken for a dynamic one.
- ``output-dim-static`` (warning): a graph output's first dim is concrete while an input's
  first dim is dynamic: the batch axis was lost on the way.
- ``concat-cuda-graph`` (warning): a Concat with more than 32 inputs; ONNX Runtime's CUDA
  provider refuses it during CUDA-graph capture (seen with DCNv2's 100-feature config on an
  H100). The ``split_concat: 32`` optimisation option splits it into an equivalent tree.
- ``fp16-id-cast`` (warning): a Cast from float16/bfloat16 to an integer type. When the
  value is an id (deepctr casts ids to float and back before the embedding lookup), fp16
  is exact only up to 2048 and overflows at 65504: the lookup reads a wrong row. The
  ``fp16`` pass of onnxbench keeps such paths in float32.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference

from onnxbench.build.optimize.concat import CUDA_GRAPH_CONCAT_LIMIT
from onnxbench.build.optimize.graphedit import EXACT_INTEGERS, INTEGER_TYPES

Dim = int | str | None  # concrete size, symbolic name, or unknown
ERROR, WARNING = "error", "warning"
BROADCAST_OPS = frozenset({"Add", "Sub", "Mul", "Div", "Pow", "Mod", "Equal", "Less", "Greater",
                           "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Where", "Max",
                           "Min", "Sum", "Mean", "PRelu", "BitShift"})
_SMALL_CONSTANT = 64  # only small initializers can be shapes or axes; skip decoding weights


@dataclass(frozen=True)
class Finding:
    """One hazard: which rule, how bad, and where."""

    rule: str
    severity: str
    node: str
    op: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Graph:
    """Shapes (after shape inference) and small constants of one graph, by tensor name."""

    def __init__(self, model: onnx.ModelProto):
        self.model = _infer(model)
        graph = self.model.graph
        self.shapes: dict[str, list[Dim] | None] = {}
        self.types: dict[str, int] = {}
        for info in [*graph.input, *graph.value_info, *graph.output]:
            self.shapes[info.name] = _dims(info)
            self.types[info.name] = info.type.tensor_type.elem_type
        self.constants: dict[str, np.ndarray] = {}
        for init in graph.initializer:
            self.shapes[init.name] = list(init.dims)
            if np.prod(init.dims, dtype=np.int64) <= _SMALL_CONSTANT:
                self.constants[init.name] = numpy_helper.to_array(init)
        for node in graph.node:
            if node.op_type == "Constant" and node.output:
                value = _constant_value(node)
                if value is not None:
                    self.constants[node.output[0]] = value
        self.input_dim_names = {d for i in graph.input for d in (self.shapes.get(i.name) or [])
                                if isinstance(d, str)}

    def shape(self, name: str) -> list[Dim] | None:
        return self.shapes.get(name)


def _infer(model: onnx.ModelProto) -> onnx.ModelProto:
    """Shape-inferred copy (symbolic dims propagated); the model itself if inference fails."""
    try:
        return shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception:  # noqa: BLE001  (inference is best effort; the lint still runs)
        return model


def _dims(info: onnx.ValueInfoProto) -> list[Dim] | None:
    ttype = info.type.tensor_type
    if not ttype.HasField("shape"):
        return None
    out: list[Dim] = []
    for d in ttype.shape.dim:
        out.append(d.dim_value if d.HasField("dim_value") else (d.dim_param or None))
    return out


def _constant_value(node: onnx.NodeProto) -> np.ndarray | None:
    for attr in node.attribute:
        if attr.name == "value":
            return numpy_helper.to_array(attr.t)
        if attr.name == "value_ints":
            return np.asarray(list(attr.ints), dtype=np.int64)
        if attr.name == "value_int":
            return np.asarray(attr.i, dtype=np.int64)
    return None


def _is_dynamic(dim: Dim) -> bool:
    return not isinstance(dim, int)


def _is_unknown(dim: Dim) -> bool:
    """A dim shape inference could not work out: no name, or a placeholder it (or
    tf2onnx) invented (``unk__N``). Not evidence of a dynamic axis: a position-embedding
    table sliced to the sequence length has an unknown but fixed width."""
    return dim is None or (isinstance(dim, str) and dim.startswith("unk__"))


def _label(node: onnx.NodeProto, index: int) -> str:
    return node.name or f"{node.op_type}#{index}"


def _attr(node: onnx.NodeProto, name: str) -> Any:
    for attr in node.attribute:
        if attr.name == name:
            return onnx.helper.get_attribute_value(attr)
    return None


def _axes(node: onnx.NodeProto, g: _Graph) -> tuple[bool, list[int] | None]:
    """(has axes, constant axes or None when computed at runtime) of a (Un)Squeeze."""
    if len(node.input) > 1 and node.input[1]:
        value = g.constants.get(node.input[1])
        return True, (None if value is None else [int(v) for v in np.ravel(value)])
    axes = _attr(node, "axes")
    if axes is not None:
        return True, [int(a) for a in axes]
    return False, None


def _check_squeeze(node, idx, g: _Graph) -> list[Finding]:
    label, shape = _label(node, idx), g.shape(node.input[0])
    has_axes, axes = _axes(node, g)
    if node.op_type == "Unsqueeze":
        if not has_axes:
            return [Finding("unsqueeze-no-axes", ERROR, label, node.op_type,
                            "Unsqueeze without axes: the graph is invalid")]
        return []
    if not has_axes:
        if shape is None:
            return [Finding("squeeze-no-axes", WARNING, label, node.op_type,
                            f"Squeeze without axes on {node.input[0]!r} (shape unknown): it "
                            "drops every dim that is 1 at run time, batch 1 included")]
        dynamic = [i for i, d in enumerate(shape) if _is_dynamic(d)]
        if dynamic:
            return [Finding("squeeze-no-axes", ERROR, label, node.op_type,
                            f"Squeeze without axes on {node.input[0]!r} {_fmt(shape)}: dynamic "
                            f"dim(s) {dynamic} are dropped too when they are 1 (batch 1); "
                            "give the squeeze an explicit dim")]
        return []
    if axes is not None and shape is not None:
        hit = [a for a in axes if -len(shape) <= a < len(shape) and _is_dynamic(shape[a])]
        if hit:
            return [Finding("squeeze-dynamic-axis", ERROR, label, node.op_type,
                            f"Squeeze axes {hit} of {node.input[0]!r} {_fmt(shape)} are dynamic: "
                            "it only runs when that dim is 1")]
    return []


def _check_reshape(node, idx, g: _Graph) -> list[Finding]:
    target = g.constants.get(node.input[1]) if len(node.input) > 1 else None
    shape = g.shape(node.input[0])
    if target is None or shape is None or not shape or np.ndim(target) != 1 or not len(target):
        return []
    first = int(target[0])
    if first > 0 and _is_dynamic(shape[0]):
        return [Finding("reshape-baked-batch", ERROR, _label(node, idx), node.op_type,
                        f"Reshape of {node.input[0]!r} {_fmt(shape)} to constant shape "
                        f"{[int(t) for t in target]}: dynamic first dim {shape[0]!r} is baked in "
                        f"as {first} (use 0 or -1, or a shape computed from Shape)")]
    return []


def _pin_finding(node, idx, g: _Graph, dim: Dim, size: int, tensor: str) -> list[Finding]:
    if _is_unknown(dim):
        return []
    declared = isinstance(dim, str) and dim in g.input_dim_names
    what = f"input dim {dim!r}" if declared else f"dynamic dim {dim or '?'!r}"
    return [Finding("dim-pinned", ERROR if declared else WARNING, _label(node, idx),
                    node.op_type,
                    f"{node.op_type} combines {what} of {tensor!r} with a fixed size {size}: "
                    f"the graph only runs when it is {size}" + (" (or 1)" if
                                                                node.op_type != "Concat" else ""))]


def _input_shapes(node, g: _Graph) -> list[tuple[str, list[Dim]]] | None:
    """(name, shape) of each named input; None when any shape is unknown."""
    shapes = [(n, g.shape(n)) for n in node.input if n]
    known = [(n, s) for n, s in shapes if s is not None]
    return known if len(known) == len(shapes) else None


def _check_broadcast(node, idx, g: _Graph) -> list[Finding]:
    shapes = _input_shapes(node, g)
    if shapes is None or len(shapes) < 2:
        return []
    rank = max(len(s) for _, s in shapes)
    for axis in range(1, rank + 1):  # aligned from the right, as numpy broadcasting
        col = [(n, s[-axis]) for n, s in shapes if len(s) >= axis]
        fixed = [d for _, d in col if isinstance(d, int) and d > 1]
        dyn = [(n, d) for n, d in col if _is_dynamic(d) and not _is_unknown(d)]
        if fixed and dyn and (found := _pin_finding(node, idx, g, dyn[0][1], fixed[0],
                                                    dyn[0][0])):
            return found
    return []


def _check_concat(node, idx, g: _Graph) -> list[Finding]:
    wide = []
    if len(node.input) > CUDA_GRAPH_CONCAT_LIMIT:
        wide = [Finding("concat-cuda-graph", WARNING, _label(node, idx), node.op_type,
                        f"Concat of {len(node.input)} inputs: ONNX Runtime's CUDA provider "
                        f"takes at most {CUDA_GRAPH_CONCAT_LIMIT} during CUDA-graph capture; "
                        f"option split_concat: {CUDA_GRAPH_CONCAT_LIMIT} splits it")]
    return wide + _concat_pins(node, idx, g)


def _concat_pins(node, idx, g: _Graph) -> list[Finding]:
    shapes = _input_shapes(node, g)
    if shapes is None or len({len(s) for _, s in shapes}) != 1:
        return []
    rank = len(shapes[0][1])
    axis = int(_attr(node, "axis") or 0) % max(rank, 1)
    for k in range(rank):
        if k == axis:
            continue
        col = [(n, s[k]) for n, s in shapes]
        fixed = [d for _, d in col if isinstance(d, int) and d > 0]
        dyn = [(n, d) for n, d in col if _is_dynamic(d) and not _is_unknown(d)]
        if fixed and dyn and (found := _pin_finding(node, idx, g, dyn[0][1], fixed[0],
                                                    dyn[0][0])):
            return found
    return []


def _check_expand(node, idx, g: _Graph) -> list[Finding]:
    target = g.constants.get(node.input[1]) if len(node.input) > 1 else None
    shape = g.shape(node.input[0])
    if target is None or shape is None or np.ndim(target) != 1:
        return []
    for axis in range(1, min(len(shape), len(target)) + 1):
        dim, size = shape[-axis], int(target[-axis])
        if _is_dynamic(dim) and size > 1 and (
                found := _pin_finding(node, idx, g, dim, size, node.input[0])):
            return found
    return []


def _check_cast(node, idx, g: _Graph) -> list[Finding]:
    source, to = g.types.get(node.input[0]), _attr(node, "to")
    if source not in (onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16) \
            or to not in INTEGER_TYPES:
        return []
    name, exact = onnx.TensorProto.DataType.Name(source).lower(), EXACT_INTEGERS[source]
    return [Finding("fp16-id-cast", WARNING, _label(node, idx), node.op_type,
                    f"casts {name} {node.input[0]!r} to "
                    f"{onnx.TensorProto.DataType.Name(to).lower()}: if it carries ids, "
                    f"{name} is exact only up to {exact} and larger ids land on the wrong "
                    "row; keep that path in float32")]


def _check_outputs(g: _Graph) -> list[Finding]:
    graph = g.model.graph
    dynamic_batch = any((s := g.shape(i.name)) and _is_dynamic(s[0]) for i in graph.input)
    if not dynamic_batch:
        return []
    findings = []
    for out in graph.output:
        shape = g.shape(out.name)
        if shape and isinstance(shape[0], int):
            findings.append(Finding("output-dim-static", WARNING, out.name, "output",
                                    f"output {out.name!r} {_fmt(shape)} has a fixed first dim "
                                    f"{shape[0]} while the inputs' batch dim is dynamic"))
    return findings


def _fmt(shape: list[Dim]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


_CHECKS = {"Squeeze": _check_squeeze, "Unsqueeze": _check_squeeze, "Reshape": _check_reshape,
           "Concat": _check_concat, "Expand": _check_expand, "Cast": _check_cast}


def lint(model: onnx.ModelProto) -> list[Finding]:
    """Every hazard found in the model's main graph, in node order (outputs last)."""
    g = _Graph(model)
    findings: list[Finding] = []
    for idx, node in enumerate(g.model.graph.node):
        if node.domain not in ("", "ai.onnx"):
            continue
        check = _CHECKS.get(node.op_type)
        if check is None and node.op_type in BROADCAST_OPS:
            check = _check_broadcast
        if check is not None:
            findings.extend(check(node, idx, g))
    findings.extend(_check_outputs(g))
    return findings


# what to do when a graph with this finding fails at run time (the rule's known remedies)
REMEDIES = {
    "squeeze-no-axes": "try -o fix=squeeze-dims or -o pad_batch_to=2",
    "reshape-baked-batch": "run the batch it was exported at, or export a dynamic batch",
}


def remedy_hint(findings: list[dict[str, Any]]) -> str | None:
    """One sentence for a run-time failure of a graph whose lint (``artifact.json``'s
    ``lint``) found an error with a known remedy; None when none applies."""
    for f in findings:
        fix = REMEDIES.get(str(f.get("rule")))
        if fix and f.get("severity") == ERROR:
            return f"lint: {f['rule']} at {f.get('node')}; {fix}"
    return None


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity == ERROR for f in findings)
