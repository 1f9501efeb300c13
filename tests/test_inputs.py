"""Input synthesis from ONNX graph metadata: dtypes, scalars, dim resolution, parsers."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxbench.core.errors import UserError
from onnxbench.model.dims import PinnedDim
from onnxbench.model.inputs import describe_inputs, load_onnx, parse_range, parse_shape, synthesize


def identity_model(inputs: dict[str, tuple[int, list]]) -> onnx.ModelProto:
    """One Identity per input: name -> (elem_type, dims)."""
    nodes, vin, vout = [], [], []
    for name, (elem, dims) in inputs.items():
        nodes.append(helper.make_node("Identity", [name], [f"{name}_out"]))
        vin.append(helper.make_tensor_value_info(name, elem, dims))
        vout.append(helper.make_tensor_value_info(f"{name}_out", elem, dims))
    graph = helper.make_graph(nodes, "g", vin, vout)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10  # what this onnxruntime accepts
    return model


def ort_run(model: onnx.ModelProto, feeds: dict) -> list:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


DTYPES = [
    (TensorProto.FLOAT, np.float32), (TensorProto.FLOAT16, np.float16),
    (TensorProto.DOUBLE, np.float64), (TensorProto.INT8, np.int8),
    (TensorProto.INT16, np.int16), (TensorProto.INT32, np.int32),
    (TensorProto.INT64, np.int64), (TensorProto.UINT8, np.uint8),
    (TensorProto.UINT16, np.uint16), (TensorProto.UINT32, np.uint32),
    (TensorProto.UINT64, np.uint64), (TensorProto.BOOL, np.bool_),
]


@pytest.mark.parametrize("elem,np_type", DTYPES,
                         ids=[TensorProto.DataType.Name(e) for e, _ in DTYPES])
def test_every_dtype_is_synthesised_and_accepted_by_ort(elem, np_type):
    model = identity_model({"x": (elem, ["batch", 3])})
    feeds = synthesize(model, batch=4, seed=1)
    assert feeds["x"].dtype == np.dtype(np_type)
    assert feeds["x"].shape == (4, 3)
    (out,) = ort_run(model, feeds)
    np.testing.assert_array_equal(out, feeds["x"])


def test_bfloat16_and_string_inputs():
    model = identity_model({"b": (TensorProto.BFLOAT16, [2, 2]), "s": (TensorProto.STRING, [3])})
    feeds = synthesize(model, batch=1)
    assert feeds["b"].dtype == np.dtype(ml_dtypes.bfloat16) and feeds["b"].shape == (2, 2)
    assert feeds["s"].dtype == object and all(isinstance(v, str) for v in feeds["s"])
    # ORT takes bfloat16 only as an OrtValue
    bval = ort.OrtValue.ortvalue_from_numpy_with_onnx_type(feeds["b"].view(np.uint16),
                                                           TensorProto.BFLOAT16)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    outs = sess.run(["s_out"], {"b": bval, "s": feeds["s"]})
    assert list(outs[0]) == list(feeds["s"])


def test_unsupported_dtype_names_the_input():
    model = identity_model({"f8": (TensorProto.FLOAT8E4M3FN, [2])})
    with pytest.raises(UserError, match=r"f8.*FLOAT8E4M3FN"):
        synthesize(model, batch=1)


def test_scalar_input():
    model = identity_model({"temperature": (TensorProto.FLOAT, []), "k": (TensorProto.INT64, [])})
    feeds = synthesize(model, batch=1, shapes={"k": []})
    assert feeds["temperature"].shape == () and feeds["temperature"].dtype == np.float32
    assert feeds["k"].shape == () and feeds["k"].dtype == np.int64
    ort_run(model, feeds)
    with pytest.raises(PinnedDim, match="no batch axis"):  # batch 8 of scalars: a relabel
        synthesize(model, batch=8, shapes={"k": []})


def test_seeded_and_ranges():
    model = identity_model({"input_ids": (TensorProto.INT64, ["batch", "sequence"]),
                            "attention_mask": (TensorProto.INT64, ["batch", "sequence"]),
                            "x": (TensorProto.FLOAT, ["batch", 4])})
    a = synthesize(model, batch=2, seq=16, seed=7, ranges={"input_ids": (5, 9), "x": (2.0, 3.0)})
    b = synthesize(model, batch=2, seq=16, seed=7, ranges={"input_ids": (5, 9), "x": (2.0, 3.0)})
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert a["input_ids"].shape == (2, 16)
    assert a["input_ids"].min() >= 5 and a["input_ids"].max() <= 9
    assert np.all(a["attention_mask"] == 1)
    assert a["x"].min() >= 2.0 and a["x"].max() < 3.0
    c = synthesize(model, batch=2, seq=16, seed=8)
    assert not np.array_equal(a["x"], c["x"])
    assert c["input_ids"].min() >= 0 and c["input_ids"].max() <= 99
    with pytest.raises(UserError, match="int8"):
        synthesize(identity_model({"q": (TensorProto.INT8, [2])}), batch=1,
                   ranges={"q": (0, 1000)})
    with pytest.raises(UserError, match="--range nope"):
        synthesize(model, batch=1, seq=2, ranges={"nope": (0, 1)})


def test_dim_resolution_batch_seq_and_explicit_shapes():
    model = identity_model({
        "input_ids": (TensorProto.INT64, ["N", "unk__7"]),         # 2nd axis of ints -> seq
        "pixels": (TensorProto.FLOAT, ["unk__1", 3, "height", "width"]),
        "extra": (TensorProto.FLOAT, [5, "batch_size"]),
    })
    feeds = synthesize(model, batch=3, seq=11, shapes={"height": [8], "pixels": [3, 3, 8, 6]})
    assert feeds["input_ids"].shape == (3, 11)
    assert feeds["pixels"].shape == (3, 3, 8, 6)
    assert feeds["extra"].shape == (5, 3)
    ort_run(model, feeds)


def test_symbol_bound_once_applies_everywhere():
    model = identity_model({"a": (TensorProto.FLOAT, ["batch", "height"]),
                            "b": (TensorProto.FLOAT, ["height", 2])})
    feeds = synthesize(model, batch=2, shapes={"height": [5]})
    assert feeds["a"].shape == (2, 5) and feeds["b"].shape == (5, 2)


def test_unresolved_dim_error_names_input_and_dim():
    model = identity_model({"pixels": (TensorProto.FLOAT, ["batch", 3, "height", 32])})
    with pytest.raises(UserError) as err:
        synthesize(model, batch=1)
    msg = str(err.value)
    assert "pixels" in msg and "height" in msg and "dim 2" in msg and "--shape" in msg
    assert "\n" not in msg


def test_missing_seq_and_explicit_shape_errors():
    model = identity_model({"input_ids": (TensorProto.INT64, ["batch", "seq_len"])})
    with pytest.raises(UserError, match=r"input_ids.*--seq"):
        synthesize(model, batch=1)
    with pytest.raises(UserError, match="rank 2"):
        synthesize(model, batch=1, shapes={"input_ids": [1, 2, 3]})
    fixed = identity_model({"x": (TensorProto.FLOAT, ["batch", 4])})
    with pytest.raises(UserError, match="fixed to 4"):
        synthesize(fixed, batch=1, shapes={"x": [1, 5]})
    with pytest.raises(UserError, match="no input or dim"):
        synthesize(fixed, batch=1, shapes={"y": [1, 4]})
    with pytest.raises(UserError, match="--batch"):
        synthesize(fixed, batch=0)


def test_initializers_listed_as_inputs_are_skipped_and_described():
    w = numpy_helper.from_array(np.ones((4, 4), np.float32), "W")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4]),
         helper.make_tensor_value_info("W", TensorProto.FLOAT, [4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    assert list(synthesize(model, batch=2)) == ["x"]
    assert describe_inputs(model) == [
        {"name": "x", "onnx_type": "FLOAT", "dtype": "float32", "dims": ["batch", 4]}]


@pytest.mark.parametrize("text,expected", [
    ("pixel_values=1,3,224,224", ("pixel_values", [1, 3, 224, 224])),
    (" x = 2 , 3", ("x", [2, 3])),
    ("height=224", ("height", [224])),
    ("k=", ("k", [])),  # a scalar
])
def test_parse_shape_ok(text, expected):
    assert parse_shape(text) == expected


@pytest.mark.parametrize("text", ["x", "=1,2", "x=1,a", "x=1,,2", "x=0,3", "x=-1"])
def test_parse_shape_errors_name_the_format(text):
    with pytest.raises(UserError, match="NAME=D0,D1"):
        parse_shape(text)


def test_parse_range():
    assert parse_range("input_ids=0:30000") == ("input_ids", (0, 30000))
    assert parse_range("x=-1.5:2.5") == ("x", (-1.5, 2.5))
    for bad in ["input_ids", "input_ids=5", "x=3:1", "x=a:b", "=0:1", "x=0:inf"]:
        with pytest.raises(UserError, match="NAME=LOW:HIGH"):
            parse_range(bad)


def test_load_onnx_bad_files(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load_onnx(tmp_path / "missing.onnx")
    with pytest.raises(UserError, match="directory"):
        load_onnx(tmp_path)
    text = tmp_path / "notes.onnx"
    text.write_text("definitely not a protobuf\n")
    with pytest.raises(UserError, match="not a valid ONNX model"):
        load_onnx(text)
    good = tmp_path / "good.onnx"
    onnx.save(identity_model({"x": (TensorProto.FLOAT, ["batch", 64])}), good)
    assert load_onnx(good).graph.input[0].name == "x"
    blob = good.read_bytes()
    trunc = tmp_path / "trunc.onnx"
    trunc.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(UserError) as err:
        load_onnx(trunc)
    assert "trunc.onnx" in str(err.value) and "\n" not in str(err.value)
    feeds = synthesize(good, batch=3)
    assert feeds["x"].shape == (3, 64)
