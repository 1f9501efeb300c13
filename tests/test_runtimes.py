"""The runtimes on the CPU: ORT sessions and options, skips, fallback detection, torch, test
runtimes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxbench.core.errors import Skip, UserError
from onnxbench.model.bundle import Bundle
from onnxbench.runtimes import (
    get_runtime,
    runtime_class,
    runtime_device,
    runtime_names,
    validate_runtime_name,
)
from onnxbench.runtimes.base import Runtime

RNG = np.random.default_rng(0)
W = RNG.standard_normal((4, 3)).astype(np.float32)
B = RNG.standard_normal(3).astype(np.float32)


def _reference(x: np.ndarray) -> np.ndarray:
    return np.maximum(x @ W + B, 0)


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory):
    """Y = Relu(X @ W + B), batch dynamic: small enough for every session option."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["X", "W"], ["XW"]),
         helper.make_node("Add", ["XW", "B"], ["Z"]),
         helper.make_node("Relu", ["Z"], ["Y"])],
        "tiny",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 3])],
        [numpy_helper.from_array(W, "W"), numpy_helper.from_array(B, "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    onnx.save(model, path)
    return path


@pytest.fixture()
def inputs():
    return {"X": np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32)}


def _prepared(name, path, options=None):
    rt = get_runtime(name)
    rt.prepare(Bundle.of_onnx(path), options or {})
    return rt


# ---- names and capabilities -----------------------------------------------------------

def test_names_resolve_and_unknown_is_user_error():
    for name in runtime_names():
        assert validate_runtime_name(name) == name
        cls = runtime_class(name)
        assert issubclass(cls, Runtime) and cls.device in ("cpu", "cuda", "other")
        assert cls.framework in ("onnx", "torch", "tf", "test")
    assert validate_runtime_name("ort:OpenVINOExecutionProvider").startswith("ort:")
    with pytest.raises(UserError, match="unknown runtime 'ort-gpu'; did you mean 'ort-cuda'"):
        get_runtime("ort-gpu")
    with pytest.raises(UserError, match="unknown runtime 'ort-cpux'; did you mean 'ort-cpu'"):
        get_runtime("ort-cpux")
    with pytest.raises(UserError, match="provider name"):
        validate_runtime_name("ort:")
    assert runtime_device("ort-trt") == "cuda" and runtime_device("torch-cpu") == "cpu"


def test_one_device_per_provider_whatever_the_spelling():
    """``ort:CUDAExecutionProvider`` is the ``ort-cuda`` runtime: cuda, synchronised."""
    assert runtime_class("ort:CUDAExecutionProvider") is runtime_class("ort-cuda")
    assert runtime_device("ort:CUDAExecutionProvider") == "cuda"
    assert runtime_device("ort:TensorrtExecutionProvider") == "cuda"
    assert runtime_device("ort:CPUExecutionProvider") == "cpu"
    assert runtime_device("ort:OpenVINOExecutionProvider") == "other"
    assert get_runtime("ort:OpenVINOExecutionProvider").provider == "OpenVINOExecutionProvider"


def test_capabilities_are_declared():
    assert runtime_class("torch-cpu").needs_module
    assert runtime_class("torch-cpu").framework == "torch"
    assert not runtime_class("ort-cpu").needs_module and runtime_class("ort-cpu").thread_safe
    assert not runtime_class("torch-compile-cpu").thread_safe
    assert "bf16" in runtime_class("torch-cpu").precisions
    assert runtime_class("ort-cpu").precisions == ("fp32",)
    assert "intra_op_threads" in runtime_class("ort-cpu").Options.names()
    assert "mode" in runtime_class("torch-compile-cuda").Options.names()


def test_importing_runtimes_does_not_import_torch():
    code = ("import sys, onnxbench.runtimes as r; r.get_runtime('ort-cpu'); "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---- ORT on the CPU ----------------------------------------------------------------

@pytest.mark.parametrize("options", [
    {},
    {"graph_optimization_level": "disable"},
    {"graph_optimization_level": "basic", "intra_op_threads": 1, "inter_op_threads": 1},
    {"graph_optimization_level": "extended", "execution_mode": "parallel", "inter_op_threads": 2},
    {"graph_optimization_level": "all", "threads": 1, "provider_options": {}},
])
def test_ort_cpu_session_options(onnx_file, inputs, options):
    rt = _prepared("ort-cpu", onnx_file, options)
    np.testing.assert_allclose(rt.run(inputs)[0], _reference(inputs["X"]), rtol=1e-5, atol=1e-6)
    call = rt.bind(inputs)
    np.testing.assert_allclose(call()[0], _reference(inputs["X"]), rtol=1e-5, atol=1e-6)
    rt.synchronize()
    info = rt.info()
    assert info["active_providers"] == ["CPUExecutionProvider"]
    assert info["session_create_ms"] > 0
    assert info["session_options"]["graph_optimization_level"] == options.get(
        "graph_optimization_level", "all")
    if "intra_op_threads" in options or "threads" in options:
        assert info["threads"]["intra_op"] == 1
    if options.get("execution_mode"):
        assert info["session_options"]["execution_mode"] == "parallel"
    rt.close()


def test_ort_cpu_bind_is_a_bare_session_run(onnx_file, inputs):
    rt = _prepared("ort-cpu", onnx_file)
    call = rt.bind(inputs)
    assert call.func == rt.sess.run  # functools.partial over session.run: no extra layers


@pytest.mark.parametrize("options, message", [
    ({"graph_optimization_level": "max"}, "graph_optimization_level='max' must be one of: disable"),
    ({"intra_op_threads": -1}, "intra_op_threads=-1 must be an integer >= 0"),
    ({"intra_op_threads": True}, "intra_op_threads=True must be an integer >= 0"),
    ({"execution_mode": "async"}, "execution_mode='async' must be one of: sequential, parallel"),
    ({"provider_options": "x"}, "provider_options='x' must be a mapping"),
    ({"io_binding": "maybe"}, "io_binding='maybe' must be true or false"),
    ({"cuda_graph": True, "io_binding": False}, "cuda_graph=true needs io_binding=true"),
])
def test_ort_invalid_options_are_user_errors(onnx_file, options, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _prepared("ort-cpu", onnx_file, options)


def test_ort_records_options_in_effect_and_other_runtimes_ones(onnx_file):
    rt = _prepared("ort-cpu", onnx_file, {"opset": 17, "pipeline": "fast", "tf32": True,
                                          "execution_mode": "PARALLEL"})
    info = rt.info()
    assert info["ignored_options"] == ["tf32"]  # torch's; opset and pipeline have users
    assert info["options"]["execution_mode"] == "parallel"
    assert info["options"]["graph_optimization_level"] == "all"  # the default, said


def test_ort_without_onnx_graph_skips():
    with pytest.raises(Skip, match="no ONNX graph"):
        get_runtime("ort-cpu").prepare(Bundle.of_module(lambda: None), {})


@pytest.mark.parametrize("name, provider", [
    ("ort:NoSuchExecutionProvider", "NoSuchExecutionProvider"),
    ("ort-cuda", "CUDAExecutionProvider"),
    ("ort-trt", "TensorrtExecutionProvider"),
])
def test_absent_provider_skips_with_reason(onnx_file, name, provider):
    import onnxruntime as ort

    if provider in ort.get_available_providers():
        pytest.skip(f"{provider} is available on this machine")
    with pytest.raises(Skip, match=f"ONNX Runtime here has no {provider} "
                                   "\\(available: .*CPUExecutionProvider"):
        _prepared(name, onnx_file)


def test_fallback_to_cpu_is_detected(onnx_file, monkeypatch):
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ort.InferenceSession, "get_providers",
                        lambda self: ["CPUExecutionProvider"])
    with pytest.raises(Skip, match="provider fell back to CPU: CUDAExecutionProvider not active "
                                   r"\(active: CPUExecutionProvider\)"):
        _prepared("ort-cuda", onnx_file, {"use_tf32": 0})


def test_trt_fallback_says_tensorrt_not_installed(onnx_file, monkeypatch):
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["TensorrtExecutionProvider", "CPUExecutionProvider"])
    with pytest.raises(Skip, match="TensorRT not installed"):
        _prepared("ort-trt", onnx_file, {"trt_fp16": True, "trt_workspace_mb": 64})


def test_provider_options_for_gpu_providers():
    from onnxbench.runtimes.ort import OrtOptions, provider_list

    opts = OrtOptions.parse({"cuda_graph": "on", "use_tf32": 0, "device_id": 1,
                             "cudnn_conv_algo_search": "heuristic"}, "ort-cuda")
    (name, po), cpu = provider_list("CUDAExecutionProvider", opts)
    assert name == "CUDAExecutionProvider" and cpu == "CPUExecutionProvider"
    assert po == {"device_id": "1", "use_tf32": "0", "cudnn_conv_algo_search": "HEURISTIC",
                  "enable_cuda_graph": "1"}
    opts = OrtOptions.parse({"trt_fp16": 1, "trt_engine_cache_dir": "/tmp/e",
                             "trt_workspace_mb": 2}, "ort-trt")
    trt, cuda, _ = provider_list("TensorrtExecutionProvider", opts)
    assert trt[1]["trt_fp16_enable"] == "1" and trt[1]["trt_engine_cache_path"] == "/tmp/e"
    assert trt[1]["trt_max_workspace_size"] == str(2 * 1024 * 1024)
    assert cuda[0] == "CUDAExecutionProvider"



def test_trt_int8_is_calibrated_on_the_cpu_before_its_session(onnx_file, monkeypatch):
    """TensorRT INT8: a calibration table (ORT's own format) is written into the engine cache
    folder and the provider is pointed at it, before the session exists; with TensorRT absent
    the case still ends as a Skip naming it."""
    import onnxruntime as ort

    monkeypatch.setattr(ort, "get_available_providers",
                        lambda: ["TensorrtExecutionProvider", "CPUExecutionProvider"])
    seen = {}
    real = ort.InferenceSession.__init__

    def spy(self, path, sess_options=None, providers=None, **kw):
        seen["providers"] = providers
        return real(self, path, sess_options=sess_options, providers=providers, **kw)

    monkeypatch.setattr(ort.InferenceSession, "__init__", spy)
    with pytest.raises(Skip, match="TensorRT not installed"):
        _prepared("ort-trt", onnx_file, {"trt_int8": True})
    po = seen["providers"][0][1]
    assert po["trt_int8_enable"] == "1"
    assert po["trt_int8_calibration_table_name"] == "calibration.flatbuffers"
    table = Path(po["trt_engine_cache_path"]) / "calibration.flatbuffers"
    assert table.is_file() and table.stat().st_size > 0
    ranges = json.loads((table.parent / "calibration.json").read_text())
    assert {"X", "XW", "Z", "Y"} <= set(ranges["data"])  # every tensor's dynamic range
    seen.clear()
    with pytest.raises(Skip):  # a table of the user's own, or none: nothing is written
        _prepared("ort-trt", onnx_file, {"trt_int8": True, "trt_int8_calibration": "none"})
    assert "trt_int8_calibration_table_name" not in seen["providers"][0][1]


def test_digits_calibrate_on_their_training_rows_never_the_held_out_ones():
    from onnxbench.build.optimize.int8 import zoo_calibration

    feeds, source = zoo_calibration("resnet18", "digits", count=2, batch=4)
    assert source.startswith("resnet18 training rows (8 of ")
    assert feeds[0]["pixel_values"].shape[:2] == (4, 3)


# ---- PyTorch -------------------------------------------------------------------------

def _tiny_module():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))


def ModuleArtifact(model: str = "tiny") -> Bundle:  # CamelCase: reads like the record it was
    """A bundle whose module is built in the test (no zoo needed)."""
    return Bundle.of_module(_tiny_module, model=model)


class TwoInputs:
    """Outputs a tuple, takes two inputs: checks the order and the output flattening."""

    @staticmethod
    def build():
        import torch

        class M(torch.nn.Module):
            def forward(self, a, b):
                return a - b, (a * 2,)

        return M()


def test_torch_cpu_matches_module_and_records_settings(inputs):
    import torch

    rt = get_runtime("torch-cpu")
    rt.prepare(ModuleArtifact(model="tiny"), {"threads": 1})
    expected = _tiny_module()(torch.from_numpy(inputs["X"])).detach().numpy()
    np.testing.assert_allclose(rt.run(inputs)[0], expected, rtol=1e-6)
    out = rt.bind(inputs)()
    assert isinstance(out, torch.Tensor) and not out.requires_grad
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    info = rt.info()
    assert info["threads"]["torch"] == 1 and info["device"] == "cpu" and info["tf32"] is None
    assert "cuda_events" not in info["clock"]
    assert rt.device_time_ms(rt.bind(inputs)) is None  # no device clock on the CPU
    rt.close()


def test_torch_input_order_and_tuple_outputs():
    rt = get_runtime("torch-cpu")
    rt.prepare(Bundle.of_module(TwoInputs.build, model="two"), {})
    a, b = np.ones((2, 2), np.float32), np.full((2, 2), 3, np.float32)
    diff, double = rt.run({"a": a, "b": b})
    np.testing.assert_array_equal(diff, a - b)
    np.testing.assert_array_equal(double, a * 2)


def test_torch_on_onnx_only_artifact_skips(onnx_file):
    with pytest.raises(Skip, match="torch-cpu runs a PyTorch model; this case has only an "
                                   "ONNX file"):
        get_runtime("torch-cpu").prepare(Bundle.of_onnx(onnx_file), {})


def test_torch_cuda_skips_without_cuda():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(Skip, match=r"no CUDA device: torch.cuda.is_available\(\) is False"):
        get_runtime("torch-cuda").prepare(ModuleArtifact(model="tiny"), {})


def test_torch_invalid_option_is_user_error():
    with pytest.raises(UserError, match="option precision='int4' must be one of: fp32, fp16, bf16"):
        get_runtime("torch-cpu").prepare(ModuleArtifact(model="tiny"), {"precision": "int4"})


def test_torch_compile_cpu(inputs):
    rt = get_runtime("torch-compile-cpu")
    try:
        rt.prepare(ModuleArtifact(model="tiny"), {"backend": "eager", "threads": 1})
    except Skip as exc:
        pytest.skip(str(exc))
    eager = get_runtime("torch-cpu")
    eager.prepare(ModuleArtifact(model="tiny"), {})
    call = rt.bind(inputs)  # compiles here, outside the timed calls
    info = rt.info()
    assert info["compile_ms"] > 0 and info["compile_backend"] == "eager"
    np.testing.assert_allclose(call().numpy(), eager.run(inputs)[0], rtol=1e-5)
    with pytest.raises(UserError, match="backend='nope' must be one of"):
        get_runtime("torch-compile-cpu").prepare(ModuleArtifact(model="tiny"), {"backend": "nope"})
    with pytest.raises(UserError, match="mode='fast' must be one of"):
        get_runtime("torch-compile-cpu").prepare(ModuleArtifact(model="tiny"), {"mode": "fast"})


@pytest.mark.slow
def test_torch_compile_cpu_inductor(inputs):
    """Inductor builds C++ here: skipped only where there is no C++ compiler; any other
    compile error fails the test."""
    from onnxbench.runtimes.torch_compile import cxx_compiler

    if not cxx_compiler():
        pytest.skip("torch.compile (inductor, CPU) needs a C++ compiler and none was found")
    rt = get_runtime("torch-compile-cpu")
    rt.prepare(ModuleArtifact(model="tiny"), {"threads": 1})
    call = rt.bind(inputs)
    eager = get_runtime("torch-cpu")
    eager.prepare(ModuleArtifact(model="tiny"), {})
    np.testing.assert_allclose(call().numpy(), eager.run(inputs)[0], rtol=1e-4, atol=1e-6)


def test_inductor_without_a_compiler_is_a_skip(monkeypatch):
    from onnxbench.runtimes import torch_compile

    monkeypatch.setattr(torch_compile, "cxx_compiler", lambda: None)
    with pytest.raises(Skip, match="needs a C\\+\\+ compiler"):
        get_runtime("torch-compile-cpu").prepare(ModuleArtifact(model="tiny"), {})


# ---- test runtimes -----------------------------------------------------------------

def test_test_runtimes_misbehave_as_documented():
    art = Bundle.of_onnx("anything.onnx")
    with pytest.raises(Skip, match="always skips"):
        get_runtime("test-skip").prepare(art, {})
    with pytest.raises(MemoryError):
        get_runtime("test-oom").prepare(art, {})
    late = get_runtime("test-oom")
    late.prepare(art, {"at": "run"})
    with pytest.raises(MemoryError):
        late.run({"x": np.zeros(1)})


def test_test_abort_crashes_the_process():
    code = ("from onnxbench.runtimes import get_runtime; "
            "from onnxbench.model.bundle import Bundle; "
            "get_runtime('test-abort').prepare(Bundle.of_onnx('m.onnx'), {})")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert proc.returncode == -6  # SIGABRT


def test_test_delay_is_slowed_by_the_known_fraction(monkeypatch):
    from onnxbench.runtimes import testing

    base, slow = get_runtime("test-delay"), get_runtime("test-delay")
    base.prepare(Bundle.of_onnx("m.onnx"), {"delay_us": 200})
    slow.prepare(Bundle.of_onnx("m.onnx"), {"delay_us": 200, "slowdown": 0.1})
    assert slow.info()["delay_ns"] == 220_000 and base.info()["delay_ns"] == 200_000
    ticks = iter(range(0, 10**9, 1000))  # a fake clock: 1 us per reading
    monkeypatch.setattr(testing.time, "perf_counter_ns", lambda: next(ticks))
    slow.bind({})()
    assert next(ticks) == 221_000  # read at 0, then spun until the clock read 220 us
    with pytest.raises(UserError, match="option delay_us='soon' must be a number >= 0"):
        get_runtime("test-delay").prepare(Bundle.of_onnx("m.onnx"), {"delay_us": "soon"})
    with pytest.raises(UserError, match="option slowdown=-1 must be a number > -1"):
        get_runtime("test-delay").prepare(Bundle.of_onnx("m.onnx"), {"slowdown": -1})


def test_gpu_memory_is_empty_on_cpu_runtimes(onnx_file):
    assert _prepared("ort-cpu", onnx_file).device_memory() == {}
    rt = get_runtime("torch-cpu")
    rt.prepare(ModuleArtifact(model="tiny"), {})
    assert rt.device_memory() == {}


def test_nvml_index_follows_cuda_visible_devices(monkeypatch):
    from onnxbench.runtimes.gpu_memory import nvml_index

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert nvml_index(0) == 2 and nvml_index(1) == 3
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-1234")  # a UUID: leave the index alone
    assert nvml_index(0) == 0
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert nvml_index(1) == 1
