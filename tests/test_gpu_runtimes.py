"""The GPU runtimes (ORT CUDA with IO binding and CUDA graphs, TensorRT, torch on CUDA).

Marked ``gpu``; each is skipped with the reason on a machine without a CUDA provider or
device. Parity on CUDA is checked with TF32 off (ORT's CUDA provider uses TF32 by default
on Ampere and newer, which moves results by ~1e-4 relative).
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxbench.core.errors import Skip
from onnxbench.model.bundle import Bundle
from onnxbench.runtimes import get_runtime

pytestmark = pytest.mark.gpu

RNG = np.random.default_rng(0)
W1 = (RNG.standard_normal((64, 256)) / 8).astype(np.float32)
W2 = (RNG.standard_normal((256, 16)) / 16).astype(np.float32)


def _ort_cuda_or_skip():
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("no CUDAExecutionProvider in this onnxruntime build "
                    f"(available: {', '.join(ort.get_available_providers())})")


def _torch_cuda_or_skip():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device: torch.cuda.is_available() is False")


@pytest.fixture(scope="module")
def mlp_file(tmp_path_factory):
    """Y = Relu(X @ W1) @ W2 with a dynamic batch: big enough for TF32 to show."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W1"], ["H"]), helper.make_node("Relu", ["H"], ["R"]),
         helper.make_node("MatMul", ["R", "W2"], ["Y"])],
        "mlp",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 64])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 16])],
        [numpy_helper.from_array(W1, "W1"), numpy_helper.from_array(W2, "W2")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path_factory.mktemp("gpu") / "mlp.onnx"
    onnx.save(model, path)
    return path


def _x(batch: int, seed: int = 1) -> dict[str, np.ndarray]:
    return {"X": np.random.default_rng(seed).standard_normal((batch, 64)).astype(np.float32)}


def _prepared(name, path, options):
    rt = get_runtime(name)
    rt.prepare(Bundle.of_onnx(path), options)
    return rt


def _cpu_reference(path, inputs):
    return _prepared("ort-cpu", path, {}).run(inputs)[0]


def test_ort_cuda_io_binding_parity_without_tf32(mlp_file):
    _ort_cuda_or_skip()
    rt = _prepared("ort-cuda", mlp_file, {"use_tf32": 0})
    info = rt.info()
    assert info["active_providers"][0] == "CUDAExecutionProvider"
    assert info["tf32"] is False and info["io_binding"] is True
    inputs = _x(32)
    rt.bind(inputs)()
    rt.synchronize()
    bound = rt._binding.copy_outputs_to_cpu()[0]
    expected = _cpu_reference(mlp_file, inputs)
    np.testing.assert_allclose(bound, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(rt.run(inputs)[0], expected, rtol=1e-5, atol=1e-5)
    assert rt.device_memory().get("gpu_mem_device_used_mb", 0) > 0


def test_ort_cuda_default_tf32_is_recorded(mlp_file):
    _ort_cuda_or_skip()
    rt = _prepared("ort-cuda", mlp_file, {})
    assert isinstance(rt.info()["tf32"], bool)  # whatever ORT's default is, it is said


def test_ort_cuda_e2e_timing_returns_host_outputs(mlp_file):
    _ort_cuda_or_skip()
    rt = _prepared("ort-cuda", mlp_file, {"use_tf32": 0, "timing": "e2e"})
    inputs = _x(8)
    out = rt.bind(inputs)()
    assert isinstance(out[0], np.ndarray)
    np.testing.assert_allclose(out[0], _cpu_reference(mlp_file, inputs), rtol=1e-5, atol=1e-5)


def test_ort_cuda_graph_per_shape(mlp_file):
    _ort_cuda_or_skip()
    rt = _prepared("ort-cuda", mlp_file, {"use_tf32": 0, "cuda_graph": True})
    assert rt.info()["cuda_graph"] is True
    for graph_id, batch in enumerate((4, 16), start=1):
        inputs = _x(batch, seed=batch)
        call = rt.bind(inputs)
        for _ in range(3):  # replays of the captured graph
            call()
        rt.synchronize()
        assert rt.info()["cuda_graph_ids"] == graph_id
        np.testing.assert_allclose(rt._binding.copy_outputs_to_cpu()[0],
                                   _cpu_reference(mlp_file, inputs), rtol=1e-5, atol=1e-5)
    # the plain run() must not capture over the bound buffers
    np.testing.assert_allclose(rt.run(_x(4, seed=4))[0], _cpu_reference(mlp_file, _x(4, seed=4)),
                               rtol=1e-5, atol=1e-5)


def test_ort_cuda_graph_e2e_sees_new_host_data(mlp_file):
    _ort_cuda_or_skip()
    rt = _prepared("ort-cuda", mlp_file, {"use_tf32": 0, "cuda_graph": True, "timing": "e2e"})
    inputs = _x(8, seed=3)
    call = rt.bind(inputs)
    inputs["X"][:] = _x(8, seed=5)["X"]  # the closure copies the host array on every call
    np.testing.assert_allclose(call()[0], _cpu_reference(mlp_file, _x(8, seed=5)),
                               rtol=1e-5, atol=1e-5)


def test_ort_trt_runs_or_skips_with_reason(mlp_file):
    _ort_cuda_or_skip()
    try:
        rt = _prepared("ort-trt", mlp_file, {})
    except Skip as exc:
        assert "TensorRT" in str(exc)
        return
    np.testing.assert_allclose(rt.run(_x(4))[0], _cpu_reference(mlp_file, _x(4)),
                               rtol=1e-3, atol=1e-3)


def _mlp():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 16))


def MlpArtifact(model: str = "mlp") -> Bundle:  # CamelCase: reads like the record it was
    return Bundle.of_module(_mlp, model=model)


def _torch_reference(inputs):
    import torch

    with torch.inference_mode():
        return _mlp()(torch.from_numpy(inputs["X"])).numpy()


def test_torch_cuda_parity_events_and_memory():
    _torch_cuda_or_skip()
    rt = get_runtime("torch-cuda")
    rt.prepare(MlpArtifact(model="mlp"), {"tf32": False})
    info = rt.info()
    assert info["tf32"] == {"matmul": False, "cudnn": False}
    assert info["device_clock"].startswith("CUDA events")
    inputs = _x(32)
    call = rt.bind(inputs)
    assert rt.device_time_ms(call) > 0
    rt.synchronize()
    np.testing.assert_allclose(call().cpu().numpy(), _torch_reference(inputs), rtol=1e-5, atol=1e-5)
    memory = rt.device_memory()
    assert memory["gpu_mem_peak_allocated_mb"] > 0
    assert memory["gpu_mem_peak_reserved_mb"] >= memory["gpu_mem_peak_allocated_mb"]


def test_torch_cuda_fp16_is_close():
    _torch_cuda_or_skip()
    rt = get_runtime("torch-cuda")
    rt.prepare(MlpArtifact(model="mlp"), {"precision": "fp16"})
    inputs = _x(16)
    np.testing.assert_allclose(rt.run(inputs)[0], _torch_reference(inputs), rtol=2e-2, atol=2e-2)


def test_torch_compile_cuda():
    _torch_cuda_or_skip()
    rt = get_runtime("torch-compile-cuda")
    try:
        rt.prepare(MlpArtifact(model="mlp"), {"tf32": False})
    except Skip as exc:
        pytest.skip(str(exc))
    inputs = _x(32)
    out = rt.bind(inputs)()
    assert rt.info()["compile_ms"] > 0
    np.testing.assert_allclose(out.cpu().numpy(), _torch_reference(inputs), rtol=1e-4, atol=1e-4)
