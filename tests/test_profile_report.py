"""Profiles end to end: suites with ``profile: true``, the report's "Why" section with the
explained A/B, fused attention of a dynamo-exported BERT, and Constant weights in inspect."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxbench.core.errors import UserError
from onnxbench.report import build_report
from onnxbench.report.markdown import render_markdown
from onnxbench.suite import run_suite
from onnxbench.suite.parse import parse_suite
from onnxbench.suite.plan import expand


def _mlp(path: Path) -> Path:
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((128, 512)).astype(np.float32) * 0.05, "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((512, 128)).astype(np.float32) * 0.05, "w2")
    b = numpy_helper.from_array(np.zeros(512, np.float32), "b")
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="up"),
        helper.make_node("Add", ["h", "b"], ["hb"], name="bias"),
        helper.make_node("Relu", ["hb"], ["r"], name="act"),
        helper.make_node("MatMul", ["r", "w2"], ["y"], name="down"),
    ]
    g = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 128])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 128])],
        [w1, w2, b],
    )
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def _run(text: str, tmp_path: Path):
    return run_suite(expand(parse_suite(text, "suite.yaml")), tmp_path / "runs", suite_text=text)


def test_profiled_ab_pair_is_explained_in_report_md_and_html(tmp_path):
    model = _mlp(tmp_path / "mlp.onnx")
    text = f"""
suite: why
cases:
  - model: {model}
    runtimes: [ort-cpu]
    batch: [32]
    options: {{threads: 1, profile: 8}}
    measure: {{runs: 30, warmup: 3}}
    processes: 1
    ab: {{graph_optimization_level: [disable, all]}}
"""
    outcome = _run(text, tmp_path)
    results = [json.loads(p.read_text()) for p in (outcome.run_dir / "raw").glob("*/result.json")]
    assert len(results) == 2 and all(r["status"] == "ok" for r in results)
    for r in results:
        assert r["placement"]["by_provider"]["CPUExecutionProvider"] == r["placement"]["nodes"]
        assert r["profile"]["runs"] == 8
        assert r["profile"]["measured_median_ms"] == pytest.approx(r["stats"]["p50"], abs=1e-6)
    report = build_report(outcome.run_dir)
    assert report.why and len(report.why.explained) == 1
    att = report.why.explained[0].attribution
    assert sum(r["delta_ms"] for r in att["by_op_type"]) + att[
        "unprofiled_diff_ms"
    ] == pytest.approx(att["measured_diff_ms"], abs=1e-5)
    md = render_markdown(report)
    assert "## Why: placement, profiles, explained A/B" in md
    assert "### Explained A/B:" in md and "graph_optimization_level" in md
    assert "### Where each node ran (ONNX Runtime placement)" in md
    assert "### Per-operator profiles (untimed pass)" in md
    html = (outcome.run_dir / "report.html").read_text()
    assert "Time by op type per run" in html and "per op type (ms per run" in html
    assert "Where each node ran: nodes per execution provider" in html
    assert report.to_dict()["why"]["explained"][0]["by_op_type"]


def test_suite_data_fields_are_checked_before_anything_runs(tmp_path):
    model = _mlp(tmp_path / "mlp.onnx")
    np.savez(tmp_path / "bad.npz", x=np.zeros((4, 127), np.float32))
    base = f"suite: s\ncases:\n  - model: {model}\n"
    bad = {
        "    inputs: {p}\n".format(p=tmp_path / "bad.npz"): "cases[0].inputs: --inputs",
        "    seq_mix: 8:-1\n": "cases[0].seq_mix",
        "    options: {profile: lots}\n": "option profile='lots'",
        "    values: {y: 3}\n": "--value y: no input",
    }
    for extra, needle in bad.items():
        with pytest.raises(UserError, match=needle.replace("[", r"\[").replace("]", r"\]")):
            parse_suite(base + extra, "s.yaml")
    np.savez(tmp_path / "good.npz", x=np.zeros((4, 128), np.float32))
    suite = parse_suite(
        base + f"    inputs: {tmp_path / 'good.npz'}\n    batch: [2, 4]\n    processes: 1\n",
        "s.yaml"
    )
    plan = expand(suite)
    assert [c.batch for c in plan.cases] == [2, 4] and plan.cases[0].inputs.endswith("good.npz")


@pytest.fixture(scope="module")
def dynamo_bert(tmp_path_factory) -> Path:
    """A tiny BERT (2 layers) exported with the default (dynamo) exporter and HF's default
    SDPA attention: the graph a user gets without knowing about attention patterns."""
    from onnxbench.build.export.exporters import export
    from onnxbench.model.zoo import resolve

    spec = resolve("bert")
    opts = {"attn_implementation": "sdpa"}
    module = spec.build("tiny", seed=0, options=opts, train=False).eval()
    feeds = spec.make_inputs("tiny", 2, 16, 0, options=opts)
    path = tmp_path_factory.mktemp("dynamo") / "bert.onnx"
    res = export(
        module,
        feeds,
        input_names=spec.input_names("tiny"),
        output_names=spec.output_names("tiny"),
        dynamic_axes=spec.dynamic_axes("tiny"),
        exporter="dynamo",
        opset=None,
        out_path=path,
    )
    assert res.ok, res.error
    return path


def test_fuse_bert_finds_one_attention_per_layer_of_a_dynamo_export(dynamo_bert, tmp_path):
    import onnxruntime as ort

    from onnxbench.build.optimize import apply_optimizations

    assert not Counter(n.op_type for n in onnx.load(str(dynamo_bert)).graph.node)["Attention"]
    res = apply_optimizations(dynamo_bert, tmp_path, fuse="bert", model_type_hint="bert")
    step = res.report.steps[0]
    assert step.fused.get("Attention") == 2  # tiny: 2 layers
    assert "Attention" not in step.not_fused and "onnxscript" in step.settings["attention_fuser"]
    ops = Counter(n.op_type for n in onnx.load(str(res.path)).graph.node)
    assert ops["Attention"] == 2 and ops["Softmax"] == 0
    rng = np.random.default_rng(0)
    feed = {
        "input_ids": rng.integers(0, 100, (3, 7)).astype(np.int64),
        "attention_mask": np.ones((3, 7), np.int64),
        "token_type_ids": np.zeros((3, 7), np.int64),
    }
    feed["attention_mask"][0, -3:] = 0  # padding must be masked the same way
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    want = ort.InferenceSession(str(dynamo_bert), so, providers=["CPUExecutionProvider"]).run(
        None, feed
    )
    got = ort.InferenceSession(str(res.path), providers=["CPUExecutionProvider"]).run(None, feed)
    for w, g in zip(want, got):
        np.testing.assert_allclose(g, w, atol=1e-4, rtol=1e-3)


def test_fused_vs_unfused_is_explained_with_the_attention_share(tmp_path):
    text = """
suite: fused
defaults: {config: tiny, exporter: dynamo, runtimes: [ort-cpu], batch: [2], seq: [16],
           options: {threads: 1, profile: 5}, measure: {runs: 20, warmup: 3}}
cases:
  - model: bert
  - model: bert
    options: {fuse: bert}
"""
    outcome = _run(text, tmp_path)
    report = build_report(outcome.run_dir)
    pairs = report.why.explained
    assert len(pairs) == 1 and "fuse=bert" in pairs[0].label
    att = pairs[0].attribution
    attention = next(r for r in att["by_op_type"] if r["op_type"] == "Attention")
    assert attention["a_nodes"] == 0 and attention["b_nodes"] == 2 and attention["b_ms"] > 0
    md = render_markdown(report)
    assert "Attention" in md and "% of its median" in md


def test_inspect_counts_weights_held_in_constant_nodes(tmp_path, capsys):
    from clitools import run_cli
    from onnxbench.build.export.inspect import inspect_model

    w = helper.make_node(
        "Constant", [], ["w"], value=numpy_helper.from_array(np.ones((4, 3), np.float32))
    )
    q = helper.make_node(
        "Constant", [], ["q"], value=numpy_helper.from_array(np.ones((3,), np.int8))
    )
    eps = helper.make_node(
        "Constant", [], ["eps"], value=numpy_helper.from_array(np.array(1e-5, np.float32))
    )
    shape = helper.make_node(
        "Constant", [], ["s"], value=numpy_helper.from_array(np.array([-1, 3], np.int64))
    )
    nodes = [
        w,
        q,
        eps,
        shape,
        helper.make_node("MatMul", ["x", "w"], ["h"]),
        helper.make_node("Add", ["h", "eps"], ["e"]),
        helper.make_node("Reshape", ["e", "s"], ["y"]),
    ]
    g = helper.make_graph(
        nodes,
        "paddle",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 3])],
        [numpy_helper.from_array(np.zeros((2, 2), np.float32), "unused")],
    )
    path = tmp_path / "p.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    info = inspect_model(path)
    assert info["parameters"] == 4 + 12 + 3  # initializer + float weight + int8 weight
    assert info["constant_parameters"] == 15 and info["constant_weights"] == 2
    assert info["parameter_bytes"] == 16 + 48 + 3
    code, out, _ = run_cli(capsys, "inspect", path)
    assert code == 0 and "parameters: 19" in out and "2 Constant nodes" in out
