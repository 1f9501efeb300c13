"""Optimisation wired into suite runs: each variant runs its own graph, carries its change
report and its accuracy delta against fp32 PyTorch; truncation reaches PyTorch runtimes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from onnxbench.core.case import Case
from onnxbench.core.errors import Skip
from onnxbench.core.result import read_results
from onnxbench.quality.accuracy import ACCURACY_BATCH, ACCURACY_BATCHES

pytest.importorskip("torch")
pytest.importorskip("transformers")

SUITE = """
suite: tiny-optimize
defaults:
  config: tiny
  exporter: torchscript
  batch: [2]
  seq: [8]
  measure: {warmup: 1, runs: 3}
  processes: 1
  options: {threads: 1, accuracy: true}
cases:
  - model: bert
    runtimes: [ort-cpu, torch-cpu]
  - model: bert
    options: {threads: 1, accuracy: true, fuse: bert}
  - model: bert
    precision: int8-dynamic
    options: {threads: 1, accuracy: true, fuse: bert}
  - model: bert
    runtimes: [torch-cpu]
    options: {threads: 1, accuracy: true, truncate_layers: 1}
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """One real run of the tiny suite above, results keyed by a short label."""
    from onnxbench.cli import main

    tmp = tmp_path_factory.mktemp("optsuite")
    (tmp / "s.yaml").write_text(SUITE)
    try:
        main(["run", "--suite", str(tmp / "s.yaml"), "--out", str(tmp / "runs"), "--quiet"])
    except SystemExit as exc:
        assert not exc.code
    (run_dir,) = (tmp / "runs").iterdir()
    out = {}
    for r in read_results(run_dir / "raw"):
        opts = r.case.options
        label = ("trunc" if opts.get("truncate_layers") else "int8" if r.case.precision != "fp32"
                 else "fused" if opts.get("fuse") else "plain")
        out[f"{label}-{r.case.runtime}"] = r
    return out


def _ops(result) -> dict[str, int]:
    return result.runtime_info["graph"]["op_counts"]


def test_every_variant_ran_ok(results):
    assert sorted(results) == ["fused-ort-cpu", "int8-ort-cpu", "plain-ort-cpu",
                               "plain-torch-cpu", "trunc-torch-cpu"]
    assert {k: r.status for k, r in results.items()} == {k: "ok" for k in results}


def test_each_variant_ran_its_own_graph(results):
    plain, fused, int8 = (results[f"{k}-ort-cpu"] for k in ("plain", "fused", "int8"))
    keys = {r.case.artifact_key for r in (plain, fused, int8)}
    graphs = {Path(r.runtime_info["graph"]["onnx"]) for r in (plain, fused, int8)}
    assert len(keys) == 3 and len(graphs) == 3 and len({g.parent for g in graphs}) == 3
    assert all(g.is_file() for g in graphs)
    assert not any("::" in op for op in _ops(plain))  # no contrib op in the plain export
    assert _ops(fused).get("com.microsoft::Attention", 0) >= 1
    assert _ops(fused).get("com.microsoft::SkipLayerNormalization", 0) >= 1
    assert "MatMulInteger" in _ops(int8) or "DynamicQuantizeLinear" in _ops(int8)
    assert "MatMulInteger" not in _ops(fused)
    assert _ops(fused) != _ops(plain) and fused.runtime_info["graph"]["nodes"] < \
        plain.runtime_info["graph"]["nodes"]


def test_change_report_reaches_the_result(results):
    assert "optimization" not in results["plain-ort-cpu"].runtime_info
    fused = results["fused-ort-cpu"].runtime_info["optimization"]
    assert [s["step"] for s in fused["steps"]] == ["fuse"]
    assert fused["steps"][0]["fused"].get("Attention", 0) >= 1
    assert fused["nodes_after"] < fused["nodes_before"]
    int8 = results["int8-ort-cpu"].runtime_info["optimization"]
    assert [s["step"] for s in int8["steps"]] == ["fuse", "int8"]
    assert int8["steps"][1]["settings"]["mode"] == "dynamic"
    # int8 starts from the fused artifact's graph (fused once), which starts from the export
    assert int8["base_artifact"] == results["fused-ort-cpu"].case.artifact_key
    assert int8["nodes_before"] == fused["nodes_before"]


def test_accuracy_delta_against_fp32_pytorch(results):
    for key, r in results.items():
        acc = r.accuracy
        assert acc["metric"] == "cosine_similarity" and acc["reference_value"] == 1.0, key
        assert acc["delta"] == pytest.approx(acc["value"] - 1.0), key
        # the same seeded rows at every batch: ACCURACY_BATCHES batches of ACCURACY_BATCH
        assert acc["n"] == ACCURACY_BATCH * ACCURACY_BATCHES, key
    for key in ("plain-ort-cpu", "fused-ort-cpu", "plain-torch-cpu", "trunc-torch-cpu"):
        assert abs(results[key].accuracy["delta"]) < 1e-5, key
    int8 = results["int8-ort-cpu"].accuracy
    assert -0.1 < int8["delta"] < 0  # quantisation costs something, not everything


def test_truncation_runs_the_truncated_module(results):
    trunc = results["trunc-torch-cpu"]
    assert trunc.runtime_info["module"] == {"encoder_layers": 1, "truncated_layers": 1}
    assert "module" not in results["plain-torch-cpu"].runtime_info
    assert "truncated by 1" in trunc.accuracy["reference"]


def test_bundle_load_module_truncates(tmp_path):
    from onnxbench.build.artifacts import prepare_artifact
    from onnxbench.build.optimize.truncate import encoder_depth
    from onnxbench.model.bundle import Bundle

    case = Case(model="bert", config="tiny", runtime="torch-cpu", batch=1,
                options={"truncate_layers": 1})
    artifact = prepare_artifact(case, tmp_path)
    assert encoder_depth(Bundle.resolve(artifact).load_module()) == 1
    plain = prepare_artifact(case.model_copy(update={"options": {}}), tmp_path)
    assert encoder_depth(Bundle.resolve(plain).load_module()) == 2


def _case(**kw) -> Case:
    base = dict(model="bert", config="tiny", exporter="torchscript", runtime="ort-cpu", batch=1)
    return Case(**{**base, **kw})


def test_precision_reaches_torch_runtimes_and_int8_skips():
    from onnxbench.core.artifact import Artifact
    from onnxbench.model.bundle import Bundle
    from onnxbench.runtimes import get_runtime
    from onnxbench.runtimes.prep import runtime_options

    def options(case, bundle):
        return runtime_options(case, bundle, get_runtime(case.runtime))

    art = Bundle.resolve(Artifact(model="bert", config="tiny"))
    opts = options(_case(runtime="torch-cuda", precision="fp16"), art)
    assert opts["precision"] == "fp16"
    assert "precision" not in options(_case(precision="fp16"), art)  # the graph is
    with pytest.raises(Skip, match="precision int8-dynamic: torch-cpu runs fp32, fp16, bf16"):
        options(_case(runtime="torch-cpu", precision="int8-dynamic"), art)
    onnx_file = Bundle.of_onnx("m.onnx")
    with pytest.raises(Skip, match="fuse"):
        options(_case(model="m.onnx", options={"fuse": "bert"}), onnx_file)


def test_graph_options_change_the_artifact_key():
    plain = _case()
    keys = {plain.artifact_key}
    for update in ({"precision": "int8-dynamic"}, {"options": {"fuse": "bert"}},
                   {"options": {"truncate_layers": 1}}, {"options": {"level": "basic"}},
                   {"options": {"op_block_list": "Gelu"}}, {"options": {"calibration": "entropy"}},
                   {"options": {"num_heads": 2}}, {"options": {"keep_io_types": True}},
                   {"options": {"weights": "/w"}}, {"options": {"attn_implementation": "sdpa"}},
                   {"options": {"data_dir": "/d"}}, {"options": {"pad_batch_to": 4}},
                   {"options": {"fold_slices": True}}, {"options": {"merge_embeddings": True}},
                   {"options": {"split_concat": 32}}):
        keys.add(plain.model_copy(update=update).artifact_key)
    assert len(keys) == 16
    assert plain.model_copy(update={"options": {"threads": 1}}).artifact_key == plain.artifact_key
    # pad_batch_to 2 exports at the default batch 2: the same graph, the same artifact
    padded = plain.model_copy(update={"options": {"pad_batch_to": 2}})
    assert padded.artifact_key == plain.artifact_key


def test_cached_reference_builds_once(tmp_path):
    from onnxbench.quality.accuracy import CachedReference

    built = []

    def make():
        built.append(1)
        return lambda f: [f["x"] * 2]

    x = {"x": np.arange(6, dtype=np.float32).reshape(2, 3)}
    first = CachedReference(make, tmp_path, "k")
    np.testing.assert_array_equal(first(x)[0], x["x"] * 2)
    again = CachedReference(make, tmp_path, "k")
    np.testing.assert_array_equal(again(x)[0], x["x"] * 2)
    assert (first.misses, again.hits, again.misses, len(built)) == (1, 1, 0, 1)
    other = CachedReference(make, tmp_path, "another weights file")
    other(x)
    assert other.misses == 1 and len(built) == 2
