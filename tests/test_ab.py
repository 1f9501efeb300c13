"""`onnxbench ab` and suites' `ab:` on any field: bad input (exit 2, one line, nothing run),
both designs (A and B in each process; a fresh process per block, and the fall-back to it,
said in ab.json and the report) in a normal run directory, verdicts on a deterministic
busy-wait runtime, device time beside host time on its fake device clock, and the plan's
ABBA order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from onnx import TensorProto, helper

from clitools import run_cli
from helpers import write_chain, write_tiny_onnx
from onnxbench.core.result import read_results
from onnxbench.measure.pairs import block_arm
from onnxbench.suite import expand, parse_suite

FAST = ["--block-time", "0.05", "--warmup", "2", "--max-time", "30", "--quiet"]


def write_wide(path: Path) -> Path:
    """Like the tiny model but its input has rank 3 (same name, same dtype)."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2, 4])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "wide", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    import onnx

    onnx.save(model, str(path))
    return path


@pytest.fixture
def models(tmp_path):
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    return {"a": write_tiny_onnx(tmp_path / "a.onnx"), "b": write_tiny_onnx(tmp_path / "b.onnx"),
            "chain": write_chain(tmp_path / "chain.onnx", 2, dim=4),
            "wide": write_wide(tmp_path / "wide.onnx"),
            "v1": write_tiny_onnx(tmp_path / "v1" / "model.onnx"),
            "v2": write_tiny_onnx(tmp_path / "v2" / "model.onnx")}


BAD = {
    "missing file": (["{a}", "{tmp}/nope.onnx"], "B: {tmp}/nope.onnx: no such file"),
    "one side only": (["{a}"], "only one side given"),
    "same file twice": (["{a}", "{a}"], "only one side given"),
    "input names differ": (["{a}", "{chain}"], "take different inputs"),
    "input ranks differ": (["{a}", "{wide}"], "differ in input 'x'"),
    "torch on onnx": (["{a}", "--runtime", "ort-cpu,torch-cpu"], "B: runtime torch-cpu"),
    "unknown runtime": (["{a}", "--runtime", "ort-cpu,ort-gpu"], "unknown runtime 'ort-gpu'"),
    "three runtimes": (["{a}", "--runtime", "a,b,c"], "--runtime 'a,b,c'"),
    "bad option": (["{a}", "--b-options", "threads"], "expected KEY=VALUE"),
    "option typo": (["{a}", "--runtime", "ort-cpu", "--a-options", "intra_op_thread=2",
                     "--b-options", "threads=2"], "A: unknown option 'intra_op_thread'"),
    "huge batch": (["{a}", "{b}", "--batch", "100000000000"], "--batch 100000000000"),
    "bad threshold": (["{a}", "{b}", "--threshold", "lots"], "--threshold 'lots'"),
    "bad design": (["{a}", "{b}", "--design", "mixed"], "--design: expected auto"),
    "cannot share": (["{a}", "--a-options", "threads=1", "--b-options", "threads=2",
                      "--design", "interleaved"], "option threads differs (1 vs 2)"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_input_exits_2_with_one_line_before_anything_runs(name, models, tmp_path, capsys):
    args, fragment = BAD[name]
    fill = {k: str(v) for k, v in models.items()} | {"tmp": str(tmp_path)}
    out_dir = tmp_path / "runs"
    code, _, err = run_cli(capsys, "ab", *[a.format(**fill) for a in args], "--out",
                           str(out_dir), *FAST)
    assert code == 2 and err.count("\n") == 1 and err.startswith("onnxbench: error:"), err
    assert fragment.format(**fill) in err, err
    assert not out_dir.exists()  # nothing ran


def test_two_option_sets_slower_in_a_normal_run_directory(models, tmp_path, capsys):
    code, out, err = run_cli(capsys, "ab", models["a"], "--runtime", "test-delay",
                             "--a-options", "delay_us=200", "--b-options", "delay_us=300",
                             "--out", tmp_path / "runs", "--json", "--design", "process",
                             *FAST)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["verdict"] == "slower", doc
    assert doc["design"] == {"used": "process", "requested": "process", "process_s": None,
                             "reason": "asked for: a fresh process per block"}
    r = doc["outcome"]["result"]
    assert r["ratio"] == pytest.approx(1.5, rel=0.1) and r["ci_low"] > 1.02
    run = Path(doc["run_dir"])
    results = read_results(run / "raw")
    blocks = doc["outcome"]["blocks"]
    assert len(results) == blocks and blocks == 2 * doc["outcome"]["pairs"] >= 8
    for res in results:  # block index = repeat index, arms in ABBA BAAB order
        arm = "a" if res.case.options["delay_us"] == 200 else "b"
        assert block_arm(res.case.repeat) == arm
    summary = json.loads((run / "summary" / "summary.json").read_text())
    assert summary["n_points"] == 2 and summary["n_results"] == blocks
    assert json.loads((run / "configs" / "plan.json").read_text())["n_cases"] == blocks
    md = (run / "report.md").read_text()
    assert "## A/B (interleaved blocks)" in md and "**slower**" in md and "alpha spending" in md
    assert "Design: process" in md


def test_a_and_b_share_each_process_and_processes_are_the_unit(models, tmp_path, capsys):
    code, out, err = run_cli(capsys, "ab", models["a"], "--runtime", "test-delay",
                             "--a-options", "delay_us=200", "--b-options", "delay_us=300",
                             "--out", tmp_path / "runs", "--json", *FAST)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["verdict"] == "slower" and doc["design"]["used"] == "interleaved", doc
    o, r = doc["outcome"], doc["outcome"]["result"]
    assert r["ratio"] == pytest.approx(1.5, rel=0.1) and r["n_a"] == o["units"] == o["processes"]
    assert o["pairs"] >= 2 * o["units"] and "processes as the unit" in r["method"]
    results = read_results(Path(doc["run_dir"]) / "raw")
    assert len(results) == 2 * o["units"]  # one result per side and process
    for res in results:  # the process index is the repeat; its blocks are recorded
        ab = res.runtime_info["ab"]
        assert ab["process"] == res.case.repeat and ab["first"] == "ab"[res.case.repeat % 2]
        assert len(ab["blocks"]["index"]) == len(ab["blocks"]["host_ms"]) >= 2
        assert ab["runs_per_block"] >= 10 and res.stats.n == sum(
            ab["runs_per_block"] for _ in ab["blocks"]["index"])
    assert doc["levels"]["processes"] == o["units"] and doc["device"] is None
    md = (Path(doc["run_dir"]) / "report.md").read_text()
    assert "Design: interleaved" in md and "Two levels:" in md and "processes (" in md


def test_sides_that_cannot_share_a_process_fall_back_and_say_why(models, tmp_path, capsys):
    code, out, err = run_cli(capsys, "ab", models["a"], "--runtime", "test-delay",
                             "--a-options", "threads=1", "--b-options", "threads=2",
                             "--out", tmp_path / "runs", "--json", *FAST)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["design"]["used"] == "process" and doc["design"]["requested"] == "auto"
    assert "option threads differs (1 vs 2) and is process-wide" in doc["design"]["reason"]
    md = (Path(doc["run_dir"]) / "report.md").read_text()
    assert "Design: process" in md and "why: option threads differs" in md


def test_out_of_memory_together_falls_back_to_a_process_per_block(models, tmp_path, capsys):
    code, out, err = run_cli(capsys, "ab", models["a"], "--runtime", "test-oom,test-delay",
                             "--out", tmp_path / "runs", "--json", *FAST)
    assert code == 1 and "not compared: block a: oom" in err, err  # no answer: exit 1
    doc = json.loads(out)
    assert doc["design"]["used"] == "process"
    assert doc["design"]["reason"].startswith("A and B together ran out of memory")
    assert doc["verdict"].startswith("not compared: block a: oom"), doc["verdict"]
    statuses = [r.status for r in read_results(Path(doc["run_dir"]) / "raw")]
    assert statuses == ["oom"]  # the first design's results are gone, the blocks' kept


@pytest.mark.parametrize("sync_us, bound", [(0, True), (800, False)])
def test_device_time_beside_host_time_on_a_fake_device_clock(sync_us, bound, models,
                                                             tmp_path, capsys):
    code, out, err = run_cli(capsys, "ab", models["a"], "--runtime", "test-delay",
                             "--options", f"device_clock=true,sync_us={sync_us}",
                             "--a-options", "delay_us=200", "--b-options", "delay_us=300",
                             "--out", tmp_path / "runs", "--json", *FAST)
    assert code == 0, err
    doc = json.loads(out)
    dev = doc["device"]
    assert dev["result"]["verdict"] == "slower" and dev["result"]["n_a"] == doc["outcome"]["units"]
    host_a, dev_a = dev["a"]["host_ms"], dev["a"]["device_ms"]
    assert dev_a == pytest.approx(0.2 + sync_us / 1000, rel=0.3)
    assert host_a >= dev_a * 0.9 and dev["a"]["launch_bound"] is bound
    assert dev["a"]["launch_share"] == pytest.approx(200 / (200 + sync_us), rel=0.3)
    md = (Path(doc["run_dir"]) / "report.md").read_text()
    assert "device, descriptive" in md and ("launch-bound: the host was still" in md) is bound


def test_two_identical_files_are_equivalent(models, tmp_path, capsys):
    code, out, err = run_cli(capsys, "ab", models["a"], models["b"], "--runtime", "test-delay",
                             "--option", "delay_us=200", "--out", tmp_path / "runs", "--json",
                             *FAST)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["verdict"] == "equivalent", doc
    assert doc["a"]["label"].startswith("a.onnx") and doc["b"]["label"].startswith("b.onnx")


def test_two_runtimes_with_the_library_api(models, tmp_path):
    import onnxbench

    res = onnxbench.ab(str(models["a"]), runtime=("test-delay", "ort-cpu"),
                       options={"delay_us": 2000}, out=tmp_path / "runs", block_time_s=0.05,
                       warmup=2, max_time_s=30)
    assert res.verdict == "faster" and res.b.runtime == "ort-cpu"
    assert res.outcome.stop_rule == "decided"


@pytest.mark.slow
def test_two_zoo_runtimes(tmp_path, capsys):
    code, out, err = run_cli(capsys, "ab", "moe", "--runtime", "ort-cpu,torch-cpu",
                             "--exporter", "torchscript", "--batch", "8", "--option", "threads=1",
                             "--out", tmp_path / "runs", "--json", "--block-time", "0.1",
                             "--max-time", "10", "--quiet")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["outcome"]["pairs"] >= 2 and doc["b"]["case"]["runtime"] == "torch-cpu"
    assert doc["verdict"].split(" ")[0] in ("faster", "slower", "equivalent", "cannot")


# ---- suites: ab: on any field ------------------------------------------------------------

def test_suite_ab_varies_the_model_and_the_runtime_in_abba_rounds(models):
    text = f"""
suite: abs
defaults: {{processes: 4}}
cases:
  - ab: {{model: [{models['a']}, {models['b']}]}}
    runtimes: test-delay
  - model: {models['a']}
    batch: 2
    ab: {{runtime: [ort-cpu, test-delay]}}
"""
    plan = expand(parse_suite(text, "abs.yaml"))
    assert plan.ab_axes == {"model": [str(models["a"]), str(models["b"])],
                            "runtime": ["ort-cpu", "test-delay"]}
    first = [(c.model.rsplit("/", 1)[-1], c.runtime) for c in plan.cases if c.repeat == 0]
    second = [(c.model.rsplit("/", 1)[-1], c.runtime) for c in plan.cases if c.repeat == 1]
    assert first == [("a.onnx", "test-delay"), ("b.onnx", "test-delay"),
                     ("a.onnx", "ort-cpu"), ("a.onnx", "test-delay")]
    assert second == [("b.onnx", "test-delay"), ("a.onnx", "test-delay"),
                      ("a.onnx", "test-delay"), ("a.onnx", "ort-cpu")]  # B first: ABBA
    assert len(plan.cases) == 16 and {c.measure.max_runs for c in plan.cases} == {250}


def test_suite_ab_values_are_checked_like_their_field(models, tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(f"suite: bad\ncases:\n  - model: {models['a']}\n"
                    "    ab: {runtime: [ort-cpu, ort-gpu]}\n")
    code, _, err = run_cli(capsys, "run", "--suite", path, "--dry-run")
    assert code == 2 and err.count("\n") == 1
    assert f"{path}:4: cases[0].ab.runtime[1]: unknown runtime 'ort-gpu'" in err
    path.write_text("suite: bad\ncases:\n  - ab: {model: [nope.onnx, a.onnx]}\n")
    code, _, err = run_cli(capsys, "run", "--suite", path, "--dry-run")
    assert code == 2 and "cases[0].ab.model[0]: model file 'nope.onnx' not found" in err


@pytest.mark.parametrize("ab, fragment", [
    ("{batch: [1, x]}", "ab.batch[1]: an integer >= 1 expected"),
    ("{options: [{a: 1}, 2]}", "ab.options[1]: a mapping")])
def test_suite_ab_field_values_of_the_wrong_type(ab, fragment, models, tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(f"suite: bad\ncases:\n  - model: {models['a']}\n    ab: {ab}\n")
    code, _, err = run_cli(capsys, "run", "--suite", path, "--dry-run")
    assert code == 2 and err.count("\n") == 1 and fragment in err, err


def test_batch_takes_a_list_as_in_bench_one_ab_run_each(models, tmp_path, capsys):
    code, out, err = run_cli(capsys, "ab", models["a"], models["b"], "--runtime", "test-delay",
                             "-o", "delay_us=200", "--batch", "1,2", "--out", tmp_path / "runs",
                             "--json", *FAST)
    assert code == 0, err
    runs = json.loads(out)["runs"]
    assert [r["a"]["case"]["batch"] for r in runs] == [1, 2]
    assert all(r["verdict"] for r in runs)


def test_target_ci_is_a_percentage_as_in_bench(models, tmp_path, capsys, monkeypatch):
    import onnxbench.suite.ab as ab_api

    seen = {}

    def fake(a, b, *, settings, **_):
        seen["target_ci"] = settings.target_ci
        raise SystemExit(0)

    monkeypatch.setattr(ab_api, "ab", fake)
    run_cli(capsys, "ab", models["a"], models["b"], "--target-ci", "2", *FAST)
    assert seen["target_ci"] == pytest.approx(0.02)
