"""Each optimisation pass on tiny transformer exports built here from seeded configs."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest

from onnxbench.core.errors import UserError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

HIDDEN, HEADS, VOCAB = 32, 2, 100


def _tiny(kind: str, layers: int = 2):
    torch.manual_seed(0)
    common = dict(hidden_size=HIDDEN, num_attention_heads=HEADS, num_hidden_layers=layers,
                  intermediate_size=64, vocab_size=VOCAB, max_position_embeddings=64,
                  attn_implementation="eager")
    if kind == "bert":
        return transformers.BertModel(transformers.BertConfig(**common)).eval()
    return transformers.DebertaV2Model(transformers.DebertaV2Config(**common)).eval()


class _LastHidden(torch.nn.Module):
    def __init__(self, hf):
        super().__init__()
        self.hf = hf

    def forward(self, input_ids, attention_mask):
        return self.hf(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def _inputs(batch=2, seq=8, seed=0):
    rng = np.random.default_rng(seed)
    return {"input_ids": rng.integers(0, VOCAB, (batch, seq)).astype(np.int64),
            "attention_mask": np.ones((batch, seq), dtype=np.int64)}


def _export(kind: str, path: Path) -> Path:
    feeds = _inputs()
    args = tuple(torch.as_tensor(feeds[k]) for k in ("input_ids", "attention_mask"))
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
            "last_hidden_state": {0: "batch", 1: "seq"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_LastHidden(_tiny(kind)), args, str(path), dynamo=False,
                          input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"], dynamic_axes=axes,
                          opset_version=17)
    return path


@pytest.fixture(scope="module")
def bert_onnx(tmp_path_factory) -> Path:
    return _export("bert", tmp_path_factory.mktemp("bert") / "bert.onnx")


@pytest.fixture(scope="module")
def deberta_onnx(tmp_path_factory) -> Path:
    return _export("deberta", tmp_path_factory.mktemp("deberta") / "deberta.onnx")


def _run(path: Path, feeds=None) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds or _inputs(seed=1))[0]


def test_levels_shrink_or_keep_graph_and_agree(bert_onnx, tmp_path):
    from onnxbench.build.optimize import apply_optimizations

    ref = _run(bert_onnx)
    for level in ("basic", "extended", "all"):
        res = apply_optimizations(bert_onnx, tmp_path, level=level)
        assert res.path.exists() and res.path != bert_onnx
        assert res.report.final.nodes <= res.report.source.nodes
        np.testing.assert_allclose(_run(res.path), ref, atol=1e-4, rtol=1e-3)
    assert res.report.steps[-1].notes  # 'all' warns it is hardware specific


def test_bert_fusion_counts(bert_onnx, tmp_path):
    from onnxbench.build.optimize import apply_optimizations

    res = apply_optimizations(bert_onnx, tmp_path, fuse="bert", model_type_hint="bert")
    step = res.report.steps[0]
    assert step.applied
    for op in ("Attention", "SkipLayerNormalization", "EmbedLayerNormalization"):
        assert step.fused.get(op, 0) > 0, step.fused
    assert not step.not_fused, step.not_fused
    assert res.report.final.op_counts.get("com.microsoft::Attention") == 2
    assert res.report.final.nodes < res.report.source.nodes
    np.testing.assert_allclose(_run(res.path), _run(bert_onnx), atol=1e-4, rtol=1e-3)


def test_deberta_fusion_reports_what_did_not_fuse(deberta_onnx, tmp_path):
    from onnxbench.build.optimize import apply_optimizations

    res = apply_optimizations(deberta_onnx, tmp_path, fuse="bert", model_type_hint="deberta-v2")
    step = res.report.steps[0]
    assert "Attention" in step.not_fused and "disentangled" in step.not_fused["Attention"]
    assert step.fused.get("SkipLayerNormalization", 0) > 0
    # each stage's seconds are recorded, the second opinion's too (a slow build shows where)
    assert {"optimizer", "onnxscript_fusions", "save"} <= set(step.details["stage_s"])
    np.testing.assert_allclose(_run(res.path), _run(deberta_onnx), atol=1e-4, rtol=1e-3)


def test_fuse_on_non_transformer_is_not_a_crash(tmp_path):
    from onnx import TensorProto, helper

    from onnxbench.build.optimize import apply_optimizations

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    path = tmp_path / "relu.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=10), path)
    res = apply_optimizations(path, tmp_path / "out", fuse="bert")
    step = res.report.steps[0]
    assert not step.applied and step.notes
    assert "no Softmax" in step.not_fused["Attention"]


@pytest.mark.parametrize("keep", [True, False])
def test_fp16_io_types(bert_onnx, tmp_path, keep):
    from onnxbench.build.optimize import apply_optimizations

    res = apply_optimizations(bert_onnx, tmp_path, precision="fp16", keep_io_types=keep)
    io = res.report.final.io_types
    assert io["last_hidden_state"] == ("float32" if keep else "float16")
    assert io["input_ids"] == "int64"
    inits = onnx.load(str(res.path)).graph.initializer
    assert any(i.data_type == onnx.TensorProto.FLOAT16 for i in inits)


def test_fp16_reports_out_of_range_initializers(tmp_path):
    from onnx import TensorProto, helper, numpy_helper

    from onnxbench.build.optimize.fp16 import to_fp16

    w = numpy_helper.from_array(np.array([1.0, 1e6, 1e-9, 0.0], np.float32), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g", [x], [y], [w])
    src = tmp_path / "add.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=10), src)
    step = to_fp16(src, tmp_path / "add16.onnx", keep_io_types=True)
    found = step.details["out_of_range_initializers"]
    assert found == [{"name": "w", "size": 4, "overflow": 1, "underflow": 1, "max_abs": 1e6}]


def test_int8_dynamic_op_types(bert_onnx, tmp_path):
    from onnxbench.build.optimize import apply_optimizations

    res = apply_optimizations(bert_onnx, tmp_path, precision="int8-dynamic")
    ops = res.report.final.op_counts
    assert ops.get("DynamicQuantizeLinear", 0) > 0 and ops.get("MatMulInteger", 0) > 0
    out, ref = _run(res.path), _run(bert_onnx)
    assert out.shape == ref.shape and np.isfinite(out).all()


@pytest.mark.parametrize("method", ["minmax", "percentile"])
def test_int8_static_qdq(bert_onnx, tmp_path, method):
    from onnxbench.build.optimize import apply_optimizations

    calib = [_inputs(seed=s) for s in range(3)]
    res = apply_optimizations(bert_onnx, tmp_path, precision="int8-static",
                              calibration_inputs=calib, calibration=method)
    ops = res.report.final.op_counts
    assert ops.get("QuantizeLinear", 0) > 0 and ops.get("DequantizeLinear", 0) > 0
    step = res.report.steps[-1]
    assert step.settings["calibration"] == method and step.details["calibration_batches"] == 3
    assert np.isfinite(_run(res.path)).all()


def test_int8_static_synthesised_calibration(bert_onnx, tmp_path):
    from onnxbench.build.optimize import apply_optimizations

    res = apply_optimizations(bert_onnx, tmp_path, precision="int8-static", seq=8)
    assert "synthesised" in res.report.steps[-1].details["calibration_data"]


@pytest.mark.parametrize("kind", ["bert", "deberta"])
def test_truncation_proved(kind):
    from onnxbench.model.encoder import prove_truncation, truncate_encoder

    full = _tiny(kind, layers=4)
    cut = truncate_encoder(full, 2)
    assert len(cut.encoder.layer) == 2 and len(full.encoder.layer) == 4
    proof = prove_truncation(full, cut, _inputs())
    assert proof.equal and proof.compared.endswith("hidden_states[-3]")
    assert proof.max_abs_diff <= 1e-5


def test_truncation_proof_can_fail():
    """Comparing against the wrong hidden state must fail: the check is real."""
    from onnxbench.model.encoder import prove_truncation, truncate_encoder

    full = _tiny("bert", layers=4)
    cut = truncate_encoder(full, 1)
    cut.encoder.layer[-1].output.dense.weight.data *= 2.0  # tamper with a kept layer
    assert not prove_truncation(full, cut, _inputs()).equal


def test_truncation_beyond_depth_is_user_error():
    from onnxbench.model.encoder import truncate_encoder

    with pytest.raises(UserError, match="has 2 layers"):
        truncate_encoder(_tiny("bert", layers=2), 2)


def test_bad_inputs_are_user_errors(tmp_path):
    from onnxbench.build.optimize import apply_optimizations

    with pytest.raises(UserError, match="no such file"):
        apply_optimizations(tmp_path / "missing.onnx", tmp_path)
    junk = tmp_path / "junk.onnx"
    junk.write_text("not a model")
    with pytest.raises(UserError):
        apply_optimizations(junk, tmp_path)
    with pytest.raises(UserError, match="precision"):
        apply_optimizations(junk, tmp_path, precision="int4")


def test_cli_optimize_json(bert_onnx, tmp_path, capsys):
    from onnxbench.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["optimize", str(bert_onnx), "--fuse", "bert", "--level", "basic",
              "--int8", "dynamic", "--out", str(tmp_path), "--json"])
        raise SystemExit(0)
    assert exc.value.code == 0
    doc = json.loads(capsys.readouterr().out)
    assert [s["step"] for s in doc["steps"]] == ["fuse", "int8", "level"]
    assert doc["nodes_after"] < doc["nodes_before"]
    assert Path(doc["output"]).exists()


def test_cli_bad_file_exit_2(tmp_path, capsys):
    from onnxbench.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["optimize", str(tmp_path / "nope.onnx")])
    assert exc.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def _embedding_graph(path: Path) -> Path:
    """ids [batch, 1] -> Gather from a 20-row table -> MatMul: ids must stay below 20."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    table = numpy_helper.from_array(rng.normal(size=(20, 8)).astype(np.float32), "table")
    weight = numpy_helper.from_array(rng.normal(size=(8, 4)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["emb"]),
         helper.make_node("MatMul", ["emb", "w"], ["y"])], "emb",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 1, 4])],
        initializer=[table, weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_static_int8_on_a_bare_graph_needs_valid_calibration_ids(tmp_path, capsys):
    from onnxbench.cli import main

    graph = _embedding_graph(tmp_path / "emb.onnx")
    with pytest.raises(SystemExit) as exit_info:  # ids drawn from 0..99 overflow the table
        main(["optimize", str(graph), "--int8", "static", "--out", str(tmp_path / "a")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and "--range" in err[0], err
    main(["optimize", str(graph), "--int8", "static", "--range", "ids=0:20",
          "--out", str(tmp_path / "b"), "--json"])  # returns: exit code 0
    doc = json.loads(capsys.readouterr().out)
    assert "QuantizeLinear" in json.dumps(doc)
    assert (tmp_path / "b" / "emb.int8-static.onnx").exists()


def _ids_through_floats_model(path, vocab: int = 5000):
    """deepctr's pattern: int64 ids → float → Concat with a dense value → Slice → int64 →
    embedding Gather; the dense value is sliced back out and scales the embedding."""
    from onnx import TensorProto, helper, numpy_helper

    table = numpy_helper.from_array(
        np.random.default_rng(0).normal(size=(vocab, 4)).astype(np.float32), "table")
    consts = [numpy_helper.from_array(np.array(v, np.int64), n) for n, v in
              [("s0", [0]), ("e0", [1]), ("s1", [1]), ("e1", [2]), ("ax", [1])]]
    nodes = [helper.make_node("Cast", ["ids"], ["ids_f"], to=TensorProto.FLOAT),
             helper.make_node("Concat", ["ids_f", "dense"], ["x"], axis=1),
             helper.make_node("Slice", ["x", "s0", "e0", "ax"], ["id_col"]),
             helper.make_node("Cast", ["id_col"], ["id_i"], to=TensorProto.INT64),
             helper.make_node("Squeeze", ["id_i", "ax"], ["id_v"]),
             helper.make_node("Gather", ["table", "id_v"], ["emb"]),
             helper.make_node("Slice", ["x", "s1", "e1", "ax"], ["dense_col"]),
             helper.make_node("Mul", ["emb", "dense_col"], ["y"])]
    graph = helper.make_graph(
        nodes, "ids", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["n", 1]),
                       helper.make_tensor_value_info("dense", TensorProto.FLOAT, ["n", 1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])], [table, *consts])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=10), path)


def test_fp16_keeps_integer_ids_exact(tmp_path):
    """Ids above 2048 are not exact in fp16 (4097 → 4096, 4999 → 5000, out of range): the
    id path must stay fp32 while the rest of the graph converts."""
    import onnxruntime as ort

    from onnxbench.build.optimize.fp16 import to_fp16

    src, dst = tmp_path / "ids.onnx", tmp_path / "ids16.onnx"
    _ids_through_floats_model(src)
    step = to_fp16(src, dst, keep_io_types=True)
    assert step.details["id_path_nodes"] == 4  # Cast→float, Concat, Slice, Cast→int64
    feeds = {"ids": np.array([[4097], [4999], [3]], np.int64),
             "dense": np.array([[0.5], [1.0], [2.0]], np.float32)}
    def run(p):
        return ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(
            None, feeds)[0]
    ref, out = run(src), run(dst)
    np.testing.assert_allclose(out, ref, rtol=2e-3, atol=2e-3)
    assert any(i.data_type == onnx.TensorProto.FLOAT16
               for i in onnx.load(str(dst)).graph.initializer)


def test_passes_run_in_the_documented_order(tmp_path):
    """The registry's docstring and PASS_ORDER say the order; the change report follows it."""
    import onnxbench.build.optimize as opt
    from helpers import write_tiny_onnx
    from onnxbench.build.optimize import passes

    doc = (passes.__doc__ or "").replace("\n", " ")
    positions = [doc.index(name.replace("fuse", "transformer fusion").replace(
        "level", "ORT offline level")) for name in opt.PASS_ORDER]
    assert positions == sorted(positions)
    src = write_tiny_onnx(tmp_path / "tiny.onnx")
    result = opt.apply_optimizations(src, tmp_path / "out", precision="fp16", level="basic",
                                     fold_slices=True, split_concat=2)
    steps = [s.step for s in result.report.steps]
    order = {name: i for i, name in enumerate(opt.PASS_ORDER)}
    ranks = [order["precision" if s in ("fp16", "int8") else s] for s in steps]
    assert steps and ranks == sorted(ranks), steps


def test_passes_are_a_registry_that_declares_its_options():
    """Every pass declares options the planner knows (``OptimizeOptions``); the artifact
    builder hands them over without naming a pass; no zoo model is named in optimize/ (the
    fusion type and the reasons a family does not fuse are the spec's)."""
    import ast
    from pathlib import Path

    from onnxbench.build.optimize import PASSES, STRUCTURAL_OPTIONS, fusion_type, pass_options
    from onnxbench.core.options import OptimizeOptions

    declared = {k for p in PASSES for k in p.options}
    assert declared - {"precision"} <= OptimizeOptions.names()
    assert {k for p in PASSES if p.structural for k in p.options} == STRUCTURAL_OPTIONS
    opts = {"fuse": True, "level": "basic", "threads": 2}
    assert pass_options(opts) == {"fuse": True, "level": "basic"}
    assert pass_options(opts, structural=False) == {"level": "basic"}
    assert fusion_type("deberta-v2") == fusion_type("bert") == "bert"
    assert fusion_type("dcnv2") is None
    src = Path(__file__).resolve().parent.parent / "src" / "onnxbench"
    call = next(n for n in ast.walk(ast.parse((src / "build" / "artifacts.py").read_text()))
                if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "apply_optimizations")
    assert not {k.arg for k in call.keywords} & declared - {"precision"}
    for path in (src / "build" / "optimize").glob("*.py"):
        text = path.read_text().lower()
        # ("bert" is also ORT's optimizer type, which fusion.py rightly names)
        assert not any(f'"{name}"' in text for name in ("deberta-v2", "resnet50", "moe",
                                                        "dcnv2")), path.name
