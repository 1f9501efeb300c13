"""TensorFlow extra: tf2onnx export + parity, the TF runtimes, Keras sources, bad input.

Tiny models only (the ``tiny`` Keras encoder: 2 layers, hidden 32); the whole module skips
with the install line when the ``[tf]`` extra is absent.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import onnxbench.tf as obtf
from onnxbench.core.errors import Skip, UserError

if not obtf.available():
    pytest.skip(obtf.INSTALL_HINT, allow_module_level=True)

pytestmark = pytest.mark.tf

ENCODER, CFG, SEQ = "keras-encoder", "tiny", 12


@pytest.fixture(scope="module")
def spec():
    from onnxbench.model.zoo import resolve

    return resolve(ENCODER)


@pytest.fixture(scope="module")
def exported(spec, tmp_path_factory):
    """The tiny encoder (seed 0) and its tf2onnx graph, shared by the module."""
    from onnxbench.tf.export import export_tf

    model = spec.build(CFG, seed=0)
    path = tmp_path_factory.mktemp("tf2onnx") / "encoder.onnx"
    result = export_tf(spec, CFG, path, opset=17, model=model)
    return model, path, result


def _bundle(model: str, config: str | None = None, **fields):
    from onnxbench.core.artifact import Artifact
    from onnxbench.model.bundle import Bundle

    return Bundle.resolve(Artifact(model=model, config=config, **fields))


def _artifact(tmp_path, spec, model):
    weights = tmp_path / "model.weights.h5"
    model.save_weights(str(weights))
    return _bundle(ENCODER, CFG, state_path=weights)


def _cells(source, config, path, batches, seq, model=None):
    """ORT CPU against TensorFlow at each batch: the exporter matrix's cells (generic)."""
    from onnxbench.build.export.matrix import run_cells
    from onnxbench.build.export.reference import shape_key
    from onnxbench.model.frameworks import framework

    fw = framework("tf")
    model = model if model is not None else fw.build(source, config)
    shapes = [(b, seq) for b in batches]
    inputs = {shape_key(b, s): source.make_inputs(config, b, s, seed=0) for b, s in shapes}
    outputs = {k: fw.outputs(source, config, model, v) for k, v in inputs.items()}
    return run_cells(path, shapes, inputs, outputs, source.output_names(config), 1e-3, 1e-5)


def _passed(cells) -> bool:
    return all(c.status == "pass" for c in cells.values())


def test_lazy_import_and_registry(spec):
    from onnxbench.tf.zoo import KerasEncoderSpec

    assert isinstance(spec, KerasEncoderSpec) and spec.framework == "tf"
    feeds = spec.make_inputs(CFG, 3, SEQ, seed=1)
    assert feeds["input_ids"].shape == (3, SEQ) and feeds["input_ids"].dtype == np.int64
    assert feeds["input_ids"].max() < spec.config(CFG)["vocab"]
    with pytest.raises(UserError, match="max_len"):
        spec.make_inputs(CFG, 1, 10_000)


def test_tf2onnx_export_and_parity_at_each_batch(spec, exported):
    import onnx

    model, path, result = exported
    assert result.ok, result.error
    assert result.exporter == "tf2onnx" and result.opset == 17 and result.nodes > 0
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == spec.input_names(CFG)
    assert [o.name for o in graph.output] == spec.output_names(CFG)
    dims = [d.dim_param for d in graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["batch", "seq"]
    cells = _cells(spec, CFG, path, [1, 3], SEQ, model=model)
    assert _passed(cells), {k: c.error for k, c in cells.items()}
    assert [c.batch for c in cells.values()] == [1, 3]
    assert max(c.max_abs for c in cells.values()) < 1e-4
    # a model with other weights must fail the same check: the comparison is real
    other = spec.build(CFG, seed=1)
    assert not _passed(_cells(spec, CFG, path, [2], SEQ, model=other))


@pytest.mark.parametrize("name", ["tf-call", "tf-eager-call", "tf-predict-on-batch", "tf-predict",
                                  "tf-saved-model"])
def test_runtime_runs_matches_onnx_and_reports_tracing(name, spec, exported, tmp_path):
    import onnxruntime as ort

    from onnxbench.runtimes import get_runtime

    model, path, _ = exported
    runtime = get_runtime(name)
    runtime.prepare(_artifact(tmp_path, spec, model), {"threads": 1, "not_mine": 1})
    try:
        feeds = spec.make_inputs(CFG, 2, SEQ, seed=3)
        out = runtime.run(feeds)
        call = runtime.bind(feeds)
        for _ in range(3):
            call()
        runtime.synchronize()
        info = runtime.info()
    finally:
        runtime.close()
    expected = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, feeds)
    np.testing.assert_allclose(out[0], expected[0], rtol=1e-3, atol=1e-5)
    assert info["runtime"] == name and info["framework"] == "tf"
    assert info["backend"] == "tensorflow"
    assert "tracing_count" in info and "retracing_warnings" in info
    assert info["ignored_options"] == ["not_mine"]
    if name not in ("tf-saved-model", "tf-eager-call"):
        assert info["tracing_count"] >= 1  # one trace for one input shape
    if name == "tf-call":
        assert info["tracing_count"] == 1


def test_tf_call_counts_retracing_per_shape(spec, exported, tmp_path):
    from onnxbench.runtimes import get_runtime

    model = exported[0]
    counts = {}
    for fixed in (False, True):
        runtime = get_runtime("tf-call")
        runtime.prepare(_artifact(tmp_path, spec, model), {"fixed_signature": fixed})
        for batch in range(1, 7):  # six shapes: TF warns from the fifth retrace in a row
            runtime.bind(spec.make_inputs(CFG, batch, 4 + batch))()
        info = runtime.info()
        counts[fixed] = (info["tracing_count"], info["retracing_warnings"])
        runtime.close()
    assert counts[True] == (1, 0)  # one dynamic signature serves every shape
    assert counts[False][0] == 6 and counts[False][1] >= 1  # each new shape retraced


def test_runtime_option_typo_and_bad_value_are_user_errors(spec, exported, tmp_path):
    from onnxbench.runtimes import get_runtime
    from onnxbench.runtimes.case_options import check_options

    with pytest.raises(UserError, match="did you mean 'reduce_retracing'"):
        check_options("tf-call", {"reduce_retrace": True})
    with pytest.raises(UserError, match="option reduce_retracing='often' must be true or false"):
        get_runtime("tf-call").prepare(_artifact(tmp_path, spec, exported[0]),
                                       {"reduce_retracing": "often"})


def test_missing_extra_skips_with_install_line(monkeypatch, tmp_path):
    import importlib.util

    from onnxbench.runtimes import get_runtime

    bundle = _bundle(ENCODER, CFG)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "tensorflow" else real(name, *a))
    with pytest.raises(Skip, match=r"pip install 'onnxbench\[tf\]'"):
        get_runtime("tf-call").prepare(bundle, {})


def test_onnx_only_case_and_torch_model_skip(tmp_path):
    from onnxbench.model.bundle import Bundle
    from onnxbench.runtimes import get_runtime

    with pytest.raises(Skip, match="tf-predict runs a TensorFlow model; this case has only"):
        get_runtime("tf-predict").prepare(Bundle.of_onnx(tmp_path / "m.onnx"), {})
    with pytest.raises(Skip, match="tf-call runs a TensorFlow model; 'dcnv2' is a PyTorch model"):
        get_runtime("tf-call").prepare(_bundle("dcnv2", "tiny"), {})
    with pytest.raises(Skip, match="torch-cpu runs a PyTorch model; 'keras-encoder' is a "
                                   "TensorFlow model"):
        get_runtime("torch-cpu").prepare(_bundle(ENCODER, CFG), {})


def test_bad_savedmodel_dir_and_bad_keras_file_are_user_errors(tmp_path):
    from onnxbench.model.zoo import resolve

    empty = tmp_path / "not_a_savedmodel"
    empty.mkdir()
    with pytest.raises(UserError, match="not a TensorFlow SavedModel") as err:
        resolve(str(empty))
    assert "\n" not in str(err.value)
    broken_dir = tmp_path / "broken_savedmodel"
    broken_dir.mkdir()
    (broken_dir / "saved_model.pb").write_bytes(b"not a protobuf")
    with pytest.raises(UserError, match="not a loadable TensorFlow SavedModel"):
        resolve(str(broken_dir)).input_names(None)
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"this is not a zip archive")
    with pytest.raises(UserError, match=r"not a loadable \.keras model file") as err:
        resolve(str(bad)).build(None)
    assert "\n" not in str(err.value) and str(bad) in str(err.value)
    with pytest.raises(UserError, match=r"no such \.keras file"):
        resolve(str(tmp_path / "missing.keras"))


def test_keras_file_source_runs_and_exports(spec, exported, tmp_path):
    from onnxbench.model.zoo import resolve
    from onnxbench.runtimes import get_runtime
    from onnxbench.tf.export import export_tf

    path = tmp_path / "enc.keras"
    exported[0].save(str(path))
    source = resolve(str(path))
    assert source.input_names(None) == ["input_ids", "attention_mask"] and source.has_seq
    res = export_tf(source, None, tmp_path / "enc.onnx")
    assert res.ok, res.error
    assert _passed(_cells(source, None, tmp_path / "enc.onnx", [1, 2], 6))
    runtime = get_runtime("tf-predict-on-batch")
    runtime.prepare(_bundle(str(path)), {})
    out = runtime.run(source.make_inputs(None, 2, 6))
    runtime.close()
    assert out[0].shape == (2, 6, spec.config(CFG)["hidden"])


@pytest.mark.slow
def test_savedmodel_dir_source_exports_and_runs(exported, tmp_path):
    from onnxbench.model.zoo import resolve
    from onnxbench.runtimes import get_runtime
    from onnxbench.tf.export import export_tf

    sm = tmp_path / "encoder_savedmodel"
    exported[0].export(str(sm), format="tf_saved_model", verbose=False)
    source = resolve(str(sm))
    res = export_tf(source, None, tmp_path / "sm.onnx", opset=15)
    assert res.ok, res.error
    assert _passed(_cells(source, None, tmp_path / "sm.onnx", [1, 2], 5))
    with pytest.raises(Skip, match="needs a Keras model"):
        get_runtime("tf-predict-on-batch").prepare(_bundle(str(sm)), {})
    runtime = get_runtime("tf-saved-model")
    runtime.prepare(_bundle(str(sm)), {})
    out = runtime.run(source.make_inputs(None, 2, 5))
    assert runtime.info()["tracing_count"] == 0
    runtime.close()
    assert out[0].shape[:2] == (2, 5)
    call = get_runtime("tf-call")
    call.prepare(_bundle(str(sm)), {})
    np.testing.assert_allclose(call.run(source.make_inputs(None, 2, 5))[0], out[0], rtol=1e-5)
    call.close()


def test_prepare_artifact_builds_a_tf_model_too(tmp_path):
    """The one artifact builder serves TensorFlow through its framework adapter."""
    from onnxbench.build.artifacts import prepare_artifact
    from onnxbench.core.case import Case
    from onnxbench.runtimes import get_runtime

    case = Case(model=ENCODER, config=CFG, exporter="tf2onnx", runtime="tf-call", batch=2,
                seq=8, options={"opset": 13})
    artifact = prepare_artifact(case, tmp_path)
    meta = json.loads((tmp_path / case.artifact_key / "artifact.json").read_text())
    assert meta["status"] == "ok" and meta["framework"] == "tf"
    assert meta["export"]["opset"] == 13 and meta["parity"]["passed"]
    assert meta["parity"]["against"] == "TensorFlow" and meta["saved_model"] == "saved_model"
    assert artifact.onnx_path.is_file() and artifact.state_path.is_file()
    mtime = artifact.onnx_path.stat().st_mtime_ns
    assert prepare_artifact(case, tmp_path).onnx_path.stat().st_mtime_ns == mtime  # cached
    runtime = get_runtime("tf-call")
    runtime.prepare(_bundle(artifact.model, artifact.config, state_path=artifact.state_path,
                            onnx_path=artifact.onnx_path), case.options)
    from onnxbench.model.zoo import resolve

    feeds = resolve(ENCODER).make_inputs(CFG, 2, 8, seed=5)
    out = runtime.run(feeds)
    runtime.close()
    import onnxruntime as ort

    ref = ort.InferenceSession(str(artifact.onnx_path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(out[0], ref.run(None, feeds)[0], rtol=1e-3, atol=1e-5)


def test_execute_case_measures_tf_and_ort_on_one_artifact(tmp_path):
    """The worker's path end to end: TF runtime and ORT CPU on the artifact's two halves."""
    from onnxbench.build.artifacts import prepare_artifact
    from onnxbench.core.case import Case
    from onnxbench.core.policy import MeasurePolicy
    from onnxbench.scenarios.execute import execute_case

    policy = MeasurePolicy(warmup=1, min_runs=3, max_runs=3, min_time_s=0, max_time_s=5)
    results = {}
    for runtime in ("tf-call", "ort-cpu"):
        case = Case(model=ENCODER, config=CFG, exporter="tf2onnx", runtime=runtime, batch=2,
                    seq=8, measure=policy,
                    options={"threads": 1, "verify": True, "accuracy": True})
        results[runtime] = execute_case(case, prepare_artifact(case, tmp_path), env={})
    for runtime, result in results.items():
        assert result.status == "ok", (runtime, result.reason)
        assert result.stats.n == 3 and len(result.timing.latencies_ms) == 3
    assert results["tf-call"].runtime_info["tracing_count"] == 1
    assert "tf_threads_applied" in results["tf-call"].runtime_info
    assert results["ort-cpu"].runtime_info != results["tf-call"].runtime_info
    # verify and accuracy use TensorFlow as the reference (the framework adapter), not torch
    parity = results["ort-cpu"].parity
    assert parity["against"] == "tf" and parity["passed"], parity
    for result in results.values():
        assert result.accuracy["reference"] == "fp32 TensorFlow, CPU"
        assert result.accuracy["metric"] == "cosine_similarity"
        assert result.accuracy["delta"] == pytest.approx(0.0, abs=1e-4)


def test_tf_export_matrix_row_has_parity_per_shape(tmp_path):
    """The one exporter matrix serves TensorFlow: the tf2onnx row, TensorFlow as reference."""
    from onnxbench.build.export.matrix import export_matrix

    matrix = export_matrix(ENCODER, CFG, opset=17, out_dir=tmp_path, batches=[1, 2],
                              seqs=[6])
    assert matrix.reference_label == "TensorFlow"
    # the tf2onnx row, and its +pad2 row (the ORT-side workaround applies to any graph)
    assert [r.label for r in matrix.rows] == ["tf2onnx", "tf2onnx+pad2"]
    row = matrix.rows[0]
    assert row.export.ok and set(row.cells) == set(matrix.keys) and len(row.cells) == 2
    assert all(c.status == "pass" and c.max_abs is not None for c in row.cells.values())
    assert (tmp_path / "reference.json").is_file() and (tmp_path / "keras-encoder.onnx").is_file()
    doc = matrix.to_dict()
    assert json.loads(json.dumps(doc))["rows"][0]["exporter"] == "tf2onnx"
    with pytest.raises(UserError, match="TensorFlow model: exporter 'dynamo' does not apply; "
                                        "choose one of: tf2onnx"):
        export_matrix(ENCODER, CFG, ["dynamo"], out_dir=tmp_path)


def test_bench_a_keras_file_end_to_end(exported, tmp_path):
    """The bug: `bench m.keras` called any existing file ONNX ("not a valid ONNX model").
    A .keras file is the TensorFlow plugin's source: built, exported with tf2onnx (the
    framework's default exporter), run on TF and ORT."""
    import onnxbench

    path = tmp_path / "enc.keras"
    exported[0].save(str(path))
    run = onnxbench.bench(path, runtimes=["tf-call", "ort-cpu"], batch=[2], seq=[6],
                          measure={"runs": 3, "warmup": 1}, options={"threads": 1},
                          out=tmp_path / "runs", processes=1)
    assert run.statuses == {"ok": 2}, [(r["runtime"], r["reason"]) for r in run.rows]
    assert {r["exporter"] for r in run.rows} == {"tf2onnx"}
