"""fold_slices: CTR feature shuffling folded away, exactly, and only where it is exact."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from clitools import run_cli
from onnxbench.build.optimize.fold import fold_feature_shuffling

F, I64, F16 = TensorProto.FLOAT, TensorProto.INT64, TensorProto.FLOAT16


def _ctr_graph(vocab: int = 50, id_float=F, dense_width: int = 1):
    """deepctr's export: ids → float, Concat with a dense column, Slice each column back,
    ids → int64 → embedding Gather; the batch size read from Shape(Concat)[0]."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=(vocab, 2)).astype(np.float32), "emb0"),
             numpy_helper.from_array(rng.normal(size=(vocab, 2)).astype(np.float32), "emb1"),
             numpy_helper.from_array(np.array([1], np.int64), "ax"),
             numpy_helper.from_array(np.array(0, np.int64), "zero")]
    nodes = [helper.make_node("Cast", ["id0"], ["id0_f"], to=id_float),
             helper.make_node("Cast", ["id1"], ["id1_f"], to=id_float),
             helper.make_node("Cast", ["dense"], ["dense_f"], to=id_float),
             helper.make_node("Concat", ["id0_f", "id1_f", "dense_f"], ["x"], axis=1),
             helper.make_node("Shape", ["x"], ["shape"]),
             helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0)]
    cols = []
    for k, (s, e) in enumerate([(0, 1), (1, 2), (2, 3)]):
        inits += [numpy_helper.from_array(np.array([s], np.int64), f"s{k}"),
                  numpy_helper.from_array(np.array([e], np.int64), f"e{k}")]
        nodes.append(helper.make_node("Slice", ["x", f"s{k}", f"e{k}", "ax"], [f"col{k}"]))
        cols.append(f"col{k}")
    out = []
    for k in range(2):
        nodes += [helper.make_node("Cast", [cols[k]], [f"i{k}"], to=I64),
                  helper.make_node("Squeeze", [f"i{k}", "ax"], [f"v{k}"]),
                  helper.make_node("Gather", [f"emb{k}", f"v{k}"], [f"g{k}"])]
        out.append(f"g{k}")
    nodes += [helper.make_node("Concat", out, ["emb"], axis=1),
              helper.make_node("Cast", [cols[-1]], ["dense32"], to=F),
              helper.make_node("Mul", ["emb", "dense32"], ["y"])]
    graph = helper.make_graph(
        nodes, "ctr",
        [helper.make_tensor_value_info("id0", I64, ["n", 1]),
         helper.make_tensor_value_info("id1", I64, ["n", 1]),
         helper.make_tensor_value_info("dense", F, ["n", dense_width])],
        [helper.make_tensor_value_info("y", F, ["n", 4]),
         helper.make_tensor_value_info("batch", I64, [])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)


def _run(model, vocab=50, dense_width=1):
    rng = np.random.default_rng(1)
    feeds = {"id0": rng.integers(0, vocab, (5, 1)), "id1": rng.integers(0, vocab, (5, 1)),
             "dense": rng.random((5, dense_width), dtype=np.float32)}
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _ops(model):
    return sorted(n.op_type for n in model.graph.node)


def test_fold_removes_the_shuffling_and_keeps_every_output_bit_for_bit():
    model = _ctr_graph()
    before = _run(model)
    counts = fold_feature_shuffling(model)
    onnx.checker.check_model(model)
    assert counts["slices"] == 3 and counts["id_casts"] == 2 and counts["shapes"] == 1
    ops = _ops(model)
    assert "Slice" not in ops and ops.count("Concat") == 1  # the feature Concat is gone
    gathered = {n.input[1] for n in model.graph.node if n.op_type == "Gather"
                and n.input[0].startswith("emb")}
    producer = {o: n for n in model.graph.node for o in n.output}
    assert {producer[v].input[0] for v in gathered} == {"id0", "id1"}  # Squeeze(ids), no casts
    for a, b in zip(before, _run(model)):
        np.testing.assert_array_equal(a, b)


def test_id_casts_through_fp16_fold_only_for_tables_fp16_counts_exactly():
    small, large = _ctr_graph(vocab=2048, id_float=F16), _ctr_graph(vocab=2049, id_float=F16)
    assert fold_feature_shuffling(small)["id_casts"] == 2
    assert fold_feature_shuffling(large)["id_casts"] == 0  # 2049 is not exact in fp16


def test_a_slice_of_part_of_an_input_is_left_alone():
    model = _ctr_graph(dense_width=2)  # the dense slice takes column 2 of columns 2-3
    before = _run(model, dense_width=2)
    counts = fold_feature_shuffling(model)
    assert counts["slices"] == 2 and _ops(model).count("Slice") == 1
    for a, b in zip(before, _run(model, dense_width=2)):
        np.testing.assert_array_equal(a, b)


def test_cli_runs_the_ctr_passes_in_order(tmp_path, capsys):
    import json



    src = tmp_path / "ctr.onnx"
    onnx.save(_ctr_graph(), src)
    code, out, _ = run_cli(capsys, "optimize", str(src), "--fold-slices", "--merge-embeddings",
                           "--split-concat", "2", "--out", str(tmp_path / "o"), "--json")
    assert code == 0
    doc = json.loads(out)
    assert [s["step"] for s in doc["steps"]] == ["fold_slices", "merge_embeddings",
                                                 "split_concat"]
    final = onnx.load(doc["output"])
    assert max(len(n.input) for n in final.graph.node if n.op_type == "Concat") <= 2
    for a, b in zip(_run(_ctr_graph()), _run(final)):
        np.testing.assert_array_equal(a, b)


def test_cli_split_concat_of_one_exits_2(tmp_path, capsys):
    src = tmp_path / "ctr.onnx"
    onnx.save(_ctr_graph(), src)
    code, _, err = run_cli(capsys, "optimize", str(src), "--split-concat", "1")
    assert code == 2 and "--split-concat" in err and len(err.strip().splitlines()) == 1
