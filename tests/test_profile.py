"""Per-operator profiles, node placement and the explained A/B (onnxbench.profile)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxbench.core.errors import UserError
from onnxbench.profile import profile_runs
from onnxbench.profile.attribution import attribute
from onnxbench.profile.ort import parse_trace, profile_session
from onnxbench.profile.placement import parse_placement_log, session_placement
from onnxbench.profile.record import attach_measured


def _graph(path, n_heavy: int = 1, width: int = 256, heavy: int = 1024):
    """x[64, width] → light Relu → n_heavy × (MatMul [.., heavy] → MatMul back) → light Add.

    The heavy MatMuls do ~64·width·heavy·2 multiply-adds each; the Relu and the Add touch
    64·width numbers: the heaviest node is a heavy MatMul by a wide margin."""
    rng = np.random.default_rng(0)
    inits, nodes, cur = [], [helper.make_node("Relu", ["x"], ["r"], name="light_relu")], "r"
    for i in range(n_heavy):
        up = numpy_helper.from_array(
            rng.standard_normal((width, heavy)).astype(np.float32) * 0.01, f"up{i}"
        )
        down = numpy_helper.from_array(
            rng.standard_normal((heavy, width)).astype(np.float32) * 0.01, f"dn{i}"
        )
        inits += [up, down]
        nodes += [
            helper.make_node("MatMul", [cur, f"up{i}"], [f"h{i}"], name=f"heavy_up{i}"),
            helper.make_node("MatMul", [f"h{i}", f"dn{i}"], [f"o{i}"], name=f"heavy_down{i}"),
        ]
        cur = f"o{i}"
    inits.append(numpy_helper.from_array(np.ones((width,), np.float32), "bias"))
    nodes.append(helper.make_node("Add", [cur, "bias"], ["y"], name="light_add"))
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", width])],
        inits,
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _options(threads: int = 1):
    import onnxruntime as ort

    def make():
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.log_severity_level = 3
        # no graph rewrites (MatMul+Add → Gemm): the nodes profiled are the nodes built
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        return so

    return make


FEEDS = {"x": np.random.default_rng(1).standard_normal((64, 256)).astype(np.float32)}
CPU = ["CPUExecutionProvider"]


def test_ort_profile_node_table_heaviest_node_is_the_heavy_one(tmp_path):
    path = _graph(tmp_path / "g.onnx")
    prof = profile_session(path, CPU, _options(), FEEDS, runs=10, warmup=2)
    names = [n["name"] for n in prof["nodes"]]
    assert set(names) == {"light_relu", "heavy_up0", "heavy_down0", "light_add"}
    assert names[0] in ("heavy_up0", "heavy_down0") and names[-1].startswith("light_")
    heavy = sum(n["ms"] for n in prof["nodes"] if n["name"].startswith("heavy"))
    assert heavy > 5 * sum(n["ms"] for n in prof["nodes"] if n["name"].startswith("light"))
    assert prof["by_op_type"][0]["op_type"] == "MatMul" and prof["by_op_type"][0]["nodes"] == 2
    assert [r["provider"] for r in prof["by_provider"]] == ["CPUExecutionProvider"]
    assert prof["op_sum_ms"] == pytest.approx(sum(n["ms"] for n in prof["nodes"]), abs=1e-5)
    assert prof["runs"] == 10 and prof["warmup"] == 2 and prof["run_ms"] > 0
    attach_measured(prof, 2 * prof["op_sum_ms"])
    assert prof["unprofiled_share"] == pytest.approx(0.5, abs=1e-4)


def test_parse_trace_drops_warmup_runs_takes_medians_and_device_kernels():
    def run(ts, dur):
        return {"cat": "Session", "name": "model_run", "ts": ts, "dur": dur}

    def node(name, ts, dur, op="MatMul", provider="CUDAExecutionProvider"):
        return {
            "cat": "Node",
            "name": f"{name}_kernel_time",
            "ts": ts,
            "dur": dur,
            "args": {"op_name": op, "provider": provider},
        }

    events = [
        run(0, 100),
        node("mm", 10, 900),  # warm-up run: dropped
        run(200, 50),
        node("mm", 210, 10),
        node("mm", 215, 4),  # mm runs twice
        node("sh", 220, 2, "Shape", "CPUExecutionProvider"),
        {"cat": "Node", "name": "mm_fence_before", "ts": 211, "dur": 99},
        {"cat": "Kernel", "name": "gemm", "ts": 230, "dur": 30, "args": {"op_name": "MatMul"}},
        run(300, 40),
        node("mm", 310, 20),
        node("sh", 320, 2, "Shape", "CPUExecutionProvider"),
        {"cat": "Kernel", "name": "gemm", "ts": 330, "dur": 10, "args": {"op_name": "MatMul"}},
        run(400, 60),
        node("mm", 410, 1000),
        node("sh", 420, 4, "Shape", "CPUExecutionProvider"),
    ]
    prof = parse_trace(events, runs=3)
    by = {n["name"]: n for n in prof["nodes"]}
    assert by["mm"]["ms"] == pytest.approx(0.020)  # per-run totals 14, 20, 1000 us → median 20
    assert by["mm"]["calls"] == pytest.approx(4 / 3)
    assert by["sh"]["ms"] == pytest.approx(0.002) and by["sh"]["provider"] == "CPUExecutionProvider"
    assert prof["run_ms"] == pytest.approx(0.050) and prof["runs"] == 3
    assert prof["device_by_op_type"][0]["op_type"] == "MatMul"
    assert prof["device_by_op_type"][0]["ms"] == pytest.approx(0.010)  # 30, 10, 0 → median 10
    assert "enqueue" in prof["clock"] and "CUPTI" in prof["clock"]


def test_placement_counts_on_a_cpu_session(tmp_path):
    import onnxruntime as ort

    path = _graph(tmp_path / "g.onnx", n_heavy=2)
    so = _options()()
    so.optimized_model_filepath = str(tmp_path / "opt.onnx")
    ort.InferenceSession(str(path), so, providers=CPU)
    optimized_nodes = len(onnx.load(str(tmp_path / "opt.onnx")).graph.node)
    placed = session_placement(path, CPU, _options(), "CPUExecutionProvider")
    assert placed["by_provider"] == {"CPUExecutionProvider": optimized_nodes}
    assert placed["nodes"] == optimized_nodes and optimized_nodes >= 4
    assert placed["memcpy_nodes"] == 0 and placed["warnings"] == [] and "error" not in placed


# ORT's own log lines of a CUDA session at VERBOSE (time stamps left out)
VERIFY = "[V:onnxruntime:, session_state.cc:1606 VerifyEachNodeIsAssignedToAnEp] "
GPU_LOG = "\n".join([
    "[I:onnxruntime:, cuda_execution_provider.cc:2500 GetCapability] CUDA kernel not found in "
    "registries for Op type: NonZero node name: /nz",
    "[I:onnxruntime:Default, fallback_cpu_capability.cc:140 GetCpuPreferedNodes] ORT "
    "optimization- Force fallback to CPU execution for node: /shape because the CPU execution "
    "path is deemed faster than overhead involved with execution on other EPs  capable of "
    "executing this node",
    "[W:onnxruntime:, transformer_memcpy.cc:83 ApplyImpl] \x1b[0;93m2 Memcpy nodes are added to "
    "the graph main_graph for CUDAExecutionProvider. It might have negative impact on "
    "performance (including unable to run CUDA graph).\x1b[m",
    VERIFY + "Node placements",
    VERIFY + " Node(s) placed on [CUDAExecutionProvider]. Number of nodes: 4",
    *(VERIFY + "  " + n for n in ("MatMul (/mm)", "Add (/add)", "MemcpyFromHost (Memcpy)",
                                   "MemcpyToHost (Memcpy_token_1)")),
    VERIFY + " Node(s) placed on [CPUExecutionProvider]. Number of nodes: 3",
    *(VERIFY + "  " + n for n in ("NonZero (/nz)", "Shape (/shape)", "Gather (/gather)")),
])


def test_placement_log_of_a_gpu_session_names_cpu_fallbacks_and_memcpy():
    placed = parse_placement_log(GPU_LOG, "CUDAExecutionProvider")
    assert placed["by_provider"] == {"CUDAExecutionProvider": 4, "CPUExecutionProvider": 3}
    assert placed["nodes"] == 7
    assert placed["memcpy_nodes"] == 2 and placed["memcpy_by_op"] == {
        "MemcpyFromHost": 1,
        "MemcpyToHost": 1,
    }
    assert placed["cpu_op_types"] == {"NonZero": 1, "Shape": 1, "Gather": 1}
    why = {n["name"]: n["why"] for n in placed["cpu_nodes"]}
    assert why["/nz"].startswith("no kernel") and why["/shape"].startswith("ORT's choice")
    assert why["/gather"] is None
    assert len(placed["warnings"]) == 2
    assert "places 3 of 7 nodes on the CPU" in placed["warnings"][0]
    assert "1 of them have no kernel" in placed["warnings"][0]
    # a single-provider session lists no nodes: Memcpy comes from ORT's own warning count
    single = (
        GPU_LOG.split("Node placements")[0]
        + "[V:onnxruntime:, session_state.cc:1601 VerifyEachNodeIsAssignedToAnEp]  All nodes "
        "placed on [CUDAExecutionProvider]. Number of nodes: 9\n"
    )
    placed = parse_placement_log(single, "CUDAExecutionProvider")
    assert placed["by_provider"] == {"CUDAExecutionProvider": 9} and placed["memcpy_nodes"] == 2
    assert placed["cpu_op_types"] == {} and len(placed["warnings"]) == 1  # Memcpy only
    assert parse_placement_log("", "CPUExecutionProvider")["error"]


def test_torch_profile_top_operator_is_the_matmul():
    torch = pytest.importorskip("torch")
    from onnxbench.profile.categories import category
    from onnxbench.profile.torch import profile_callable

    torch.manual_seed(0)
    module = torch.nn.Sequential(torch.nn.Linear(512, 2048), torch.nn.ReLU()).eval()
    x = torch.randn(64, 512)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # no OpenMP barrier waits on a shared 2-core box
    try:
        prof = profile_callable(lambda: module(x), runs=8, warmup=2)
    finally:
        torch.set_num_threads(threads)
    assert category(prof["by_op_type"][0]["op_type"]) == "matmul", prof["by_op_type"][:3]
    assert prof["runs"] == 8 and prof["op_sum_ms"] > 0 and prof["tool"].startswith("torch")
    assert not any(r["op_type"].startswith("ProfilerStep") for r in prof["by_op_type"])


def _measured_profile(path, runs=15):
    import onnxruntime as ort

    from onnxbench.core.policy import MeasurePolicy
    from onnxbench.measure.timer import measure

    sess = ort.InferenceSession(str(path), _options()(), providers=CPU)
    timing = measure(
        lambda: sess.run(None, FEEDS),
        None,
        MeasurePolicy(warmup=5, min_runs=30, max_runs=30, min_time_s=0),
    )
    prof = profile_session(path, CPU, _options(), FEEDS, runs=runs, warmup=3)
    return {"profile": attach_measured(prof, float(np.median(timing.latencies_ms)))}


def test_attribution_sums_to_the_measured_difference_and_finds_the_added_matmuls(tmp_path):
    a = _measured_profile(_graph(tmp_path / "a.onnx", n_heavy=1))
    b = _measured_profile(_graph(tmp_path / "b.onnx", n_heavy=3))
    att = attribute(a, b, label_a="1 block", label_b="3 blocks")
    terms = sum(r["delta_ms"] for r in att["by_op_type"]) + att["unprofiled_diff_ms"]
    assert terms == pytest.approx(att["measured_diff_ms"], abs=1e-5)
    assert (
        abs(att["measured_diff_ms"] - att["profiled_diff_ms"])
        <= abs(att["unprofiled_a_ms"]) + abs(att["unprofiled_b_ms"]) + 1e-6
    )
    top = att["by_op_type"][0]
    assert top["op_type"] == "MatMul" and top["a_nodes"] == 2 and top["b_nodes"] == 6
    assert top["delta_ms"] > 0.5 * att["measured_diff_ms"] > 0  # 4 more heavy MatMuls: the cost
    nodes = att["nodes"]
    assert nodes["only_b"] == 4 and nodes["only_b_ops"] == {"MatMul": 4} and nodes["only_a"] == 0
    assert att["vocabulary"] == "op type" and "MatMul" in att["sentences"][1]
    json.dumps(att)  # plain data, storable in a report


def test_profile_option_values():
    assert profile_runs(True) == 20 and profile_runs("yes") == 20 and profile_runs(7) == 7
    assert profile_runs(None) == 0 and profile_runs(False) == 0 and profile_runs("0") == 0
    for bad in ("lots", -3, 10**9):
        with pytest.raises(UserError, match="option profile"):
            profile_runs(bad)
