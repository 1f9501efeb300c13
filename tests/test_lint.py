"""Each lint rule on a small hand-built graph, a clean graph, and the lint command's exit codes."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from clitools import run_cli
from onnxbench.build.export.lint import has_errors, lint

F = TensorProto.FLOAT


def _model(nodes, inputs, outputs, inits=(), opset=17, value_info=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits),
                              value_info=list(value_info))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _const(name, values, dtype=np.int64):
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def _rules(model):
    return [(f.rule, f.severity, f.node) for f in lint(model)]


def test_squeeze_without_axes_on_dynamic_dim_is_an_error():
    m = _model([helper.make_node("Squeeze", ["x"], ["y"], name="sq")],
               [helper.make_tensor_value_info("x", F, ["batch", 4, 1])],
               [helper.make_tensor_value_info("y", F, None)])
    assert _rules(m) == [("squeeze-no-axes", "error", "sq")]
    assert "[batch, 4, 1]" in lint(m)[0].message


def test_squeeze_without_axes_and_without_shapes_is_a_warning():
    m = _model([helper.make_node("Relu", ["x"], ["r"]),
                helper.make_node("Squeeze", ["r"], ["y"], name="sq")],
               [helper.make_tensor_value_info("x", F, None)],
               [helper.make_tensor_value_info("y", F, None)])
    assert _rules(m) == [("squeeze-no-axes", "warning", "sq")]


def test_squeeze_with_axes_or_static_shape_is_clean():
    with_axes = _model([helper.make_node("Squeeze", ["x", "ax"], ["y"], name="sq")],
                       [helper.make_tensor_value_info("x", F, ["batch", 4, 1])],
                       [helper.make_tensor_value_info("y", F, ["batch", 4])],
                       inits=[_const("ax", [2])])
    static = _model([helper.make_node("Squeeze", ["x"], ["y"], name="sq")],
                    [helper.make_tensor_value_info("x", F, [2, 4, 1])],
                    [helper.make_tensor_value_info("y", F, [2, 4])])
    assert lint(with_axes) == [] and lint(static) == []


def test_squeeze_of_a_dynamic_axis_is_an_error():
    m = _model([helper.make_node("Squeeze", ["x", "ax"], ["y"], name="sq0")],
               [helper.make_tensor_value_info("x", F, ["batch", 4])],
               [helper.make_tensor_value_info("y", F, None)], inits=[_const("ax", [0])])
    assert ("squeeze-dynamic-axis", "error", "sq0") in _rules(m)


def test_unsqueeze_without_axes_is_an_error():
    m = _model([helper.make_node("Unsqueeze", ["x"], ["y"], name="unsq")],
               [helper.make_tensor_value_info("x", F, ["batch", 4])],
               [helper.make_tensor_value_info("y", F, None)])
    assert ("unsqueeze-no-axes", "error", "unsq") in _rules(m)


def test_reshape_baking_the_batch_size_is_an_error_but_minus_one_is_fine():
    def build(shape):
        return _model([helper.make_node("Reshape", ["x", "shape"], ["y"], name="rs")],
                      [helper.make_tensor_value_info("x", F, ["batch", 2, 3])],
                      [helper.make_tensor_value_info("y", F, None)],
                      inits=[_const("shape", shape)])

    assert ("reshape-baked-batch", "error", "rs") in _rules(build([8, 6]))
    assert lint(build([-1, 6])) == []
    assert lint(build([0, 6])) == []


def test_constant_node_shape_is_seen_too():
    m = _model([helper.make_node("Constant", [], ["shape"], value=helper.make_tensor(
                    "s", TensorProto.INT64, [2], [4, 6])),
                helper.make_node("Reshape", ["x", "shape"], ["y"], name="rs")],
               [helper.make_tensor_value_info("x", F, ["batch", 2, 3])],
               [helper.make_tensor_value_info("y", F, None)])
    assert ("reshape-baked-batch", "error", "rs") in _rules(m)


def test_broadcast_against_a_fixed_size_pins_a_declared_dim():
    m = _model([helper.make_node("Add", ["x", "bias"], ["y"], name="add")],
               [helper.make_tensor_value_info("x", F, ["batch", 4])],
               [helper.make_tensor_value_info("y", F, None)],
               inits=[numpy_helper.from_array(np.zeros((8, 4), np.float32), "bias")])
    rules = _rules(m)
    assert ("dim-pinned", "error", "add") in rules
    assert "'batch'" in lint(m)[0].message


def test_concat_and_expand_pin_dims():
    concat = _model([helper.make_node("Concat", ["x", "c"], ["y"], name="cat", axis=1)],
                    [helper.make_tensor_value_info("x", F, ["batch", 4])],
                    [helper.make_tensor_value_info("y", F, None)],
                    inits=[numpy_helper.from_array(np.zeros((3, 2), np.float32), "c")])
    expand = _model([helper.make_node("Expand", ["x", "shape"], ["y"], name="ex")],
                    [helper.make_tensor_value_info("x", F, ["batch", 4])],
                    [helper.make_tensor_value_info("y", F, None)],
                    inits=[_const("shape", [5, 4])])
    assert ("dim-pinned", "error", "cat") in _rules(concat)
    assert ("dim-pinned", "error", "ex") in _rules(expand)


def test_output_with_fixed_batch_dim_is_a_warning():
    m = _model([helper.make_node("ReduceSum", ["x"], ["y"], name="sum", keepdims=1)],
               [helper.make_tensor_value_info("x", F, ["batch", 4])],
               [helper.make_tensor_value_info("y", F, [1, 1])])
    assert ("output-dim-static", "warning", "y") in _rules(m)
    assert not has_errors(lint(m))


def test_clean_graph_passes():
    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    m = _model([helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
                helper.make_node("Relu", ["h"], ["y"], name="relu")],
               [helper.make_tensor_value_info("x", F, ["batch", 4])],
               [helper.make_tensor_value_info("y", F, ["batch", 3])], inits=[w])
    assert lint(m) == []


@pytest.mark.parametrize("with_axes,expected", [(False, 1), (True, 0)])
def test_lint_command_exit_codes(tmp_path, capsys, with_axes, expected):
    inputs = ["x", "ax"] if with_axes else ["x"]
    m = _model([helper.make_node("Squeeze", inputs, ["y"], name="the_squeeze")],
               [helper.make_tensor_value_info("x", F, ["batch", 4, 1])],
               [helper.make_tensor_value_info("y", F, ["batch", 4])],
               inits=[_const("ax", [2])] if with_axes else [])
    path = tmp_path / "m.onnx"
    onnx.save(m, path)
    code, out, _err = run_cli(capsys, "lint", str(path), "--json")
    assert code == expected
    import json

    doc = json.loads(out)
    assert doc["errors"] is (expected == 1)
    assert [f["node"] for f in doc["findings"]] == ([] if with_axes else ["the_squeeze"])


def test_lint_command_bad_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    code, _out, err = run_cli(capsys, "lint", str(bad))
    assert code == 2 and str(bad) in err and len(err.strip().splitlines()) == 1


def _wide_concat(n: int):
    names = [f"x{i}" for i in range(n)]
    return _model([helper.make_node("Concat", names, ["y"], name="wide", axis=1)],
                  [helper.make_tensor_value_info(x, F, ["batch", 1]) for x in names],
                  [helper.make_tensor_value_info("y", F, ["batch", n])])


def test_wide_concat_is_flagged_for_cuda_graphs_and_split_concat_fixes_it():
    import onnxruntime as ort

    from onnxbench.build.optimize.concat import split_wide_concats

    assert _rules(_wide_concat(32)) == []
    model = _wide_concat(200)
    assert ("concat-cuda-graph", "warning", "wide") in _rules(model)
    rng = np.random.default_rng(0)
    feed = {f"x{i}": rng.normal(size=(3, 1)).astype(np.float32) for i in range(200)}
    before = ort.InferenceSession(model.SerializeToString()).run(None, feed)[0]
    assert split_wide_concats(model) == 1
    onnx.checker.check_model(model)
    assert max(len(n.input) for n in model.graph.node) <= 32
    assert [f for f in lint(model) if f.rule == "concat-cuda-graph"] == []
    after = ort.InferenceSession(model.SerializeToString()).run(None, feed)[0]
    np.testing.assert_array_equal(before, after)  # same tensor, element for element


def test_fp16_cast_to_int_is_flagged_and_onnxbench_fp16_avoids_it(tmp_path):
    """deepctr's id path converted naively carries ids in fp16; onnxbench's pass does not."""
    from onnxbench.build.optimize.fp16 import to_fp16

    table = numpy_helper.from_array(np.ones((5000, 2), np.float32), "table")
    nodes = [helper.make_node("Cast", ["ids"], ["f"], name="to_float", to=F),
             helper.make_node("Cast", ["f"], ["i"], name="to_int", to=TensorProto.INT64),
             helper.make_node("Gather", ["table", "i"], ["y"], name="lookup")]
    model = _model(nodes, [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch"])],
                   [helper.make_tensor_value_info("y", F, ["batch", 2])], [table])
    assert "fp16-id-cast" not in {r for r, _, _ in _rules(model)}
    onnx.save(model, tmp_path / "m.onnx")
    from onnxruntime.transformers.float16 import convert_float_to_float16

    naive = onnx.load(str(tmp_path / "m.onnx"))
    assert ("fp16-id-cast", "warning", "to_int") in _rules(
        convert_float_to_float16(naive, keep_io_types=True))
    to_fp16(tmp_path / "m.onnx", tmp_path / "m16.onnx", keep_io_types=True)
    assert "fp16-id-cast" not in {r for r, _, _ in _rules(onnx.load(str(tmp_path / "m16.onnx")))}


def test_an_unknown_dim_is_not_a_pinned_one():
    """A position table sliced to the sequence length: inference cannot tell its width
    (unk__1), which is fixed (32); the Keras encoder's export looks like this."""
    add = helper.make_node("Add", ["tok", "pos"], ["y"], name="add")
    known = _model([add], [helper.make_tensor_value_info("tok", F, ["batch", "seq", 32]),
                           helper.make_tensor_value_info("pos", F, [1, "seq", "hidden"])],
                   [helper.make_tensor_value_info("y", F, None)])
    unknown = _model([add], [helper.make_tensor_value_info("tok", F, ["batch", "seq", 32]),
                             helper.make_tensor_value_info("pos", F, [1, "seq", "unk__1"])],
                     [helper.make_tensor_value_info("y", F, None)])
    assert ("dim-pinned", "error", "add") in _rules(known)  # a declared dim: a real pin
    assert [r for r in _rules(unknown) if r[0] == "dim-pinned"] == []
