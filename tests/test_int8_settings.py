"""int8 settings as options: per-channel weight scales, reduce_range, the op types quantised.

The graph is made here: one MatMul whose weight columns differ in scale by 10^4, the case
where ORT's default (one scale per tensor) rounds the small columns to zero and per-channel
scales keep them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxbench.core.errors import UserError


def matmul_graph(path: Path) -> Path:
    """A 16→8 MatMul whose four columns are 10^4 smaller (int8 scales notice)."""
    rng = np.random.default_rng(0)
    w = rng.normal(size=(16, 8)).astype(np.float32)
    w[:, :4] *= 1e-4  # four columns 10^4 smaller than the others
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])], "mm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 8])],
        [numpy_helper.from_array(w, "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=10), path)
    return path


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"x": x})[0]


def _small_column_error(src: Path, out: Path) -> float:
    x = np.random.default_rng(1).normal(size=(32, 16)).astype(np.float32)
    ref, got = _run(src, x)[:, :4], _run(out, x)[:, :4]
    return float(np.abs(got - ref).max() / np.abs(ref).max())


def test_per_channel_keeps_small_columns(tmp_path):
    from onnxbench.build.optimize import apply_optimizations

    src = matmul_graph(tmp_path / "mm.onnx")
    tensor = apply_optimizations(src, tmp_path / "t", precision="int8-dynamic")
    channel = apply_optimizations(src, tmp_path / "c", precision="int8-dynamic",
                                  per_channel=True)
    assert tensor.report.steps[-1].settings["per_channel"] is False
    assert channel.report.steps[-1].settings["per_channel"] is True
    # per tensor: the small columns are lost in the big columns' scale; per channel: kept
    assert _small_column_error(src, tensor.path) > 0.5
    assert _small_column_error(src, channel.path) < 0.05


def _weight_scales(path: Path) -> list[int]:
    """The sizes of the weight's quantisation scales (1: per tensor, columns: per channel)."""
    model = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return [inits[n.input[1]].size for n in model.graph.node
            if n.op_type == "DequantizeLinear" and n.input[0].startswith("w")]


def test_static_per_channel_scales(tmp_path):
    from onnxbench.build.optimize import apply_optimizations

    src = matmul_graph(tmp_path / "mm.onnx")
    calib = [{"x": np.random.default_rng(s).normal(size=(4, 16)).astype(np.float32)}
             for s in range(4)]
    tensor = apply_optimizations(src, tmp_path / "t", precision="int8-static",
                                 calibration_inputs=calib)
    channel = apply_optimizations(src, tmp_path / "c", precision="int8-static",
                                  calibration_inputs=calib, per_channel=True)
    assert _weight_scales(tensor.path) == [1]
    assert _weight_scales(channel.path) == [8]
    assert channel.report.steps[-1].settings["calibration"] == "minmax"


def test_reduce_range_and_op_types_reach_the_quantiser(tmp_path):
    from onnxbench.build.optimize import apply_optimizations

    src = matmul_graph(tmp_path / "mm.onnx")
    res = apply_optimizations(src, tmp_path / "r", precision="int8-dynamic", reduce_range=True)
    assert res.report.steps[-1].settings["reduce_range"] is True
    assert res.report.final.op_counts.get("MatMulInteger", 0) == 1
    # only Gemm quantised: the MatMul stays float
    res = apply_optimizations(src, tmp_path / "g", precision="int8-dynamic",
                              int8_op_types="Gemm")
    assert res.report.steps[-1].settings["op_types"] == ["Gemm"]
    assert "MatMulInteger" not in res.report.final.op_counts
    assert res.report.final.op_counts.get("MatMul") == 1


def test_bad_op_types_is_one_line(tmp_path):
    from onnxbench.build.optimize import apply_optimizations

    src = matmul_graph(tmp_path / "mm.onnx")
    with pytest.raises(UserError, match="int8_op_types"):
        apply_optimizations(src, tmp_path / "x", precision="int8-dynamic",
                            int8_op_types="Mat Mul")


def test_int8_settings_are_case_options_with_their_own_artifact():
    from onnxbench.core.case import Case
    from onnxbench.runtimes.case_options import check_options

    check_options("ort-cpu", {"per_channel": "yes", "reduce_range": False,
                              "int8_op_types": "MatMul,Gemm"})
    with pytest.raises(UserError, match="per_channel"):
        check_options("ort-cpu", {"per_channel": "maybe"})
    plain = Case(model="bert", config="tiny", exporter="dynamo", runtime="ort-cpu", batch=1,
                 precision="int8-dynamic")
    chan = plain.model_copy(update={"options": {"per_channel": True}})
    assert plain.artifact_key != chan.artifact_key


def test_cli_per_channel(tmp_path, capsys):
    from onnxbench.cli import main

    src = matmul_graph(tmp_path / "mm.onnx")
    with pytest.raises(SystemExit) as exc:
        main(["optimize", str(src), "--per-channel", "--out", str(tmp_path / "a")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--per-channel" in err[0] and "--int8" in err[0]
    with pytest.raises(SystemExit) as exc:
        main(["optimize", str(src), "--int8", "dynamic", "--per-channel", "--reduce-range",
              "--out", str(tmp_path / "b"), "--json"])
        raise SystemExit(0)
    assert exc.value.code == 0
    step = json.loads(capsys.readouterr().out)["steps"][-1]
    assert step["settings"]["per_channel"] is True and step["settings"]["reduce_range"] is True
