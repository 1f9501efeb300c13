"""Placement and profiles on the GPU (ORT CUDA, PyTorch CUDA): marked ``gpu``, skipped with
the reason on a machine without a CUDA provider or device."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxbench.core.artifact import Artifact
from onnxbench.runtimes import get_runtime

pytestmark = pytest.mark.gpu


def _graph(path):
    """MatMul (a CUDA kernel) fed by shape math ORT keeps on the CPU (Shape → Gather →
    Unsqueeze → Concat → Reshape): the placement of a real GPU session."""
    w = numpy_helper.from_array(
        np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32), "w"
    )
    idx = numpy_helper.from_array(np.array(0, np.int64), "i0")
    axes = numpy_helper.from_array(np.array([0], np.int64), "ax")
    minus1 = numpy_helper.from_array(np.array([-1], np.int64), "m1")
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], name="mm"),
        helper.make_node("Shape", ["x"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "i0"], ["b"], axis=0, name="gather"),
        helper.make_node("Unsqueeze", ["b", "ax"], ["b1"], name="unsq"),
        helper.make_node("Concat", ["b1", "m1"], ["shp"], axis=0, name="concat"),
        helper.make_node("Reshape", ["h", "shp"], ["y"], name="reshape"),
    ]
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", None])],
        [w, idx, axes, minus1],
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), path)
    return path


def _cuda_runtime(tmp_path):
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip(
            "no CUDAExecutionProvider in this onnxruntime build "
            f"(available: {', '.join(ort.get_available_providers())})"
        )
    path = _graph(tmp_path / "g.onnx")
    runtime = get_runtime("ort-cuda")
    runtime.prepare(Artifact(model=str(path), onnx_path=path), {})
    return runtime


def test_ort_cuda_placement_counts_nodes_per_provider_and_memcpy(tmp_path):
    runtime = _cuda_runtime(tmp_path)
    placed = runtime.placement()
    assert "error" not in placed, placed
    assert placed["requested_provider"] == "CUDAExecutionProvider"
    assert placed["by_provider"].get("CUDAExecutionProvider", 0) >= 1
    assert sum(placed["by_provider"].values()) == placed["nodes"]
    on_cpu = placed["by_provider"].get("CPUExecutionProvider", 0)
    if on_cpu:  # ORT keeps shape math on the CPU: listed by op type, with a warning
        assert sum(placed["cpu_op_types"].values()) == on_cpu
        assert "MatMul" not in placed["cpu_op_types"]
        assert any("on the CPU" in w for w in placed["warnings"])
        assert "MatMul" in placed["op_types_by_provider"]["CUDAExecutionProvider"]
    runtime.close()


def test_ort_cuda_profile_has_cuda_nodes_and_says_what_its_times_are(tmp_path):
    runtime = _cuda_runtime(tmp_path)
    prof = runtime.profile({"x": np.ones((256, 64), np.float32)}, runs=5)
    providers = {r["provider"] for r in prof["by_provider"]}
    assert "CUDAExecutionProvider" in providers
    assert "enqueue" in prof["clock"] and prof["runs"] == 5
    runtime.close()


def test_torch_cuda_profile_reports_device_time():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: torch.cuda.is_available() is False")
    from onnxbench.profile.categories import category
    from onnxbench.profile.torch import profile_callable

    module = torch.nn.Sequential(torch.nn.Linear(1024, 4096), torch.nn.ReLU()).cuda().eval()
    x = torch.randn(256, 1024, device="cuda")
    prof = profile_callable(
        lambda: module(x), runs=5, warmup=2, device="cuda", sync=torch.cuda.synchronize
    )
    assert prof["op_sum_ms"] > 0 and "device" in prof["clock"]
    assert (
        category(prof["by_op_type"][0]["op_type"]) == "matmul"
        or "gemm" in prof["by_op_type"][0]["op_type"].lower()
    ), prof["by_op_type"][:3]
    assert prof["host_by_op_type"]
