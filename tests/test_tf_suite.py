"""TensorFlow cases inside suites: an absent extra skips (not "export failed"), SavedModel
artifacts without Keras weights, an allocator budget that turns into ``oom``, and a tiny
tf-vs-ort run end to end (TF runtimes and ORT CPU on one tf2onnx export)."""

from __future__ import annotations

import importlib.util
import json
import multiprocessing as mp

import pytest

import onnxbench.tf as obtf
from helpers import write_tiny_onnx
from onnxbench.build.artifacts import cached_artifact
from onnxbench.core.case import Case
from onnxbench.core.result import read_results
from onnxbench.suite import expand, parse_suite
from onnxbench.suite.runner import run_suite

needs_tf = pytest.mark.skipif(not obtf.available(), reason=obtf.INSTALL_HINT)
FAST = "measure: {warmup: 1, runs: 2}"


@pytest.fixture
def forked_workers(monkeypatch):
    """Workers forked from this process, so a monkeypatch here reaches them (the fork
    server starts from a clean interpreter and would not see it)."""
    import onnxbench.isolation.worker as worker

    monkeypatch.setattr(worker, "_CONTEXT", mp.get_context("fork"))


def test_missing_extra_skips_tf_cases_and_the_suite_goes_on(tmp_path, monkeypatch,
                                                             forked_workers):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorflow" else real(name, *a))
    tiny = write_tiny_onnx(tmp_path / "tiny.onnx")
    suite = parse_suite(f"""
suite: tf-missing
defaults: {{{FAST}, processes: 1}}
cases:
  - model: keras-encoder
    config: tiny
    exporter: tf2onnx
    runtimes: [tf-call, ort-cpu]
    seq: 8
  - model: {tiny}
""", "tf-missing.yaml")
    outcome = run_suite(expand(suite), tmp_path / "runs")
    by_runtime = {(r.case.model, r.case.runtime): r for r in read_results(outcome.run_dir / "raw")}
    assert len(by_runtime) == 3
    for runtime in ("tf-call", "ort-cpu"):  # the export needs TF too: both cases skip
        result = by_runtime[("keras-encoder", runtime)]
        assert result.status == "skipped", (runtime, result.reason)
        assert result.reason == obtf.INSTALL_HINT
    assert by_runtime[(str(tiny), "ort-cpu")].status == "ok"  # the suite went on
    assert outcome.summary.document["statuses"] == {"ok": 1, "skipped": 2}


def test_cached_artifact_without_weights_or_graph(tmp_path):
    """A SavedModel source has no Keras weights file (state_file None in artifact.json);
    a run directory of an older onnxbench says torch_state."""
    case = Case(model="keras-encoder", config="tiny", exporter="tf2onnx", runtime="ort-cpu",
                batch=1)
    out = tmp_path / case.artifact_key
    out.mkdir()
    meta = {"status": "ok", "key": case.artifact_key, "model": case.model, "onnx": "model.onnx",
            "state_file": None, "options": {"opset": 17}}
    (out / "artifact.json").write_text(json.dumps(meta))
    artifact = cached_artifact(case, tmp_path)
    assert artifact.state_path is None and artifact.onnx_path == out / "model.onnx"
    assert artifact.options == {"opset": 17} and artifact.has_module
    meta["state_file"] = "model.weights.h5"
    (out / "artifact.json").write_text(json.dumps(meta))
    assert cached_artifact(case, tmp_path).state_path == out / "model.weights.h5"
    del meta["state_file"]
    meta["torch_state"] = "model.weights.h5"
    (out / "artifact.json").write_text(json.dumps(meta))
    assert cached_artifact(case, tmp_path).state_path == out / "model.weights.h5"


@needs_tf
def test_oom_error_becomes_memory_error():
    tf = obtf.import_tf()
    with pytest.raises(MemoryError, match=r"^TensorFlow: OOM when allocating"):
        with obtf.oom_as_memory_error():
            raise tf.errors.ResourceExhaustedError(None, None, "{{function_node f}} OOM when "
                                                   "allocating tensor with shape[16,4,500,500]")

    def boom():
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    with pytest.raises(MemoryError):
        obtf.guard_oom(boom)()
    assert obtf.guard_oom(lambda: 3)() == 3
    with pytest.raises(ValueError):  # anything else passes through untouched
        with obtf.oom_as_memory_error():
            raise ValueError("not memory")


TF_MINI = f"""
suite: tf-mini
defaults:
  exporter: tf2onnx
  {FAST}
  processes: 1
  options: {{threads: 1, opset: 17}}
cases:
  - model: keras-encoder
    config: tiny
    runtimes: [tf-call, tf-saved-model, ort-cpu]
    batch: [1, 2]
    seq: 8
  - model: keras-encoder
    config: tiny
    runtimes: tf-call
    batch: 64
    seq: 512
    options: {{threads: 1, opset: 17, allocator_limit_mb: 64}}
"""


@needs_tf
@pytest.mark.tf
@pytest.mark.slow
def test_tiny_tf_vs_ort_suite_end_to_end(tmp_path):
    """TF runtimes and ORT CPU on one export: parity recorded, tracing counted, an
    allocator budget too small for one cell gives ``oom`` and the suite goes on."""
    plan = expand(parse_suite(TF_MINI, "tf-mini.yaml"))
    assert len({c.artifact_key for c in plan.cases}) == 1  # one tf2onnx export serves all
    outcome = run_suite(plan, tmp_path / "runs")
    results = {(r.case.runtime, r.case.batch): r for r in read_results(outcome.run_dir / "raw")}
    assert len(results) == 7
    oom = results[("tf-call", 64)]
    assert oom.status == "oom", (oom.status, oom.reason)
    assert "OOM when allocating tensor" in oom.reason
    for key, result in results.items():
        if key == ("tf-call", 64):
            continue
        assert result.status == "ok", (key, result.reason)
        assert result.stats.n == 2
    for batch in (1, 2):
        ort = results[("ort-cpu", batch)]
        assert ort.parity["passed"] and ort.parity["atol"] == 1e-5  # TF vs ORT, before timing
        call = results[("tf-call", batch)].runtime_info
        assert call["framework"] == "tf" and call["tracing_count"] == 1
        assert call["retracing_warnings"] == 0
        assert results[("tf-saved-model", batch)].runtime_info["tracing_count"] == 0
    meta = json.loads(next((outcome.run_dir / "artifacts").glob("*/artifact.json")).read_text())
    assert meta["framework"] == "tf" and meta["parity"]["passed"]


def test_builtin_tf_vs_ort_suite_is_sized_and_has_its_oom_cell():
    """The built-in suite expands without TensorFlow: 2 exports, the grid as cut, and one
    budgeted cell (the reference's batch 16 x seq 500 OOM)."""
    from onnxbench.suite import load_suite

    suite, _path, _text = load_suite("tf-vs-ort")
    plan = expand(suite)
    assert len({c.artifact_key for c in plan.cases}) == 2
    assert {c.repeat for c in plan.cases} == {0, 1, 2}  # 3 processes per point
    plan.cases = [c for c in plan.cases if c.repeat == 0]
    resnet = [c for c in plan.cases if c.model == "keras-resnet50"]
    assert sorted({c.batch for c in resnet}) == [1, 2, 4, 8, 16] and len(resnet) == 30
    budgeted = [c for c in plan.cases if "allocator_limit_mb" in c.options]
    assert [(c.runtime, c.batch, c.seq) for c in budgeted] == [("tf-call", 16, 500)]
    assert "cut" in suite.description and "oom" in suite.description
    assert len(plan.cases) == 55  # ResNet50 on six runtimes (30); the encoder on 3 (24); OOM
