"""merge_embeddings: per-feature lookups → one lookup, the same rows bit for bit."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from onnxbench.build.optimize.embeddings import merge_embedding_lookups

VOCABS, DIM = (7, 3, 11), 4


def _lookups(axis: int, dims=(DIM, DIM, DIM)):
    """Three tables of different sizes looked up by [batch, 1] ids, rows concatenated
    along ``axis`` (1: [batch, 3, dim]; -1: deepctr's [batch, 1, 3*dim])."""
    shape = ["n", len(VOCABS), None] if axis == 1 else ["n", 1, sum(dims)]
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=(v, d)).astype(np.float32), f"t{i}")
             for i, (v, d) in enumerate(zip(VOCABS, dims))]
    nodes = [helper.make_node("Gather", [f"t{i}", f"id{i}"], [f"r{i}"], axis=0)
             for i in range(len(VOCABS))]
    nodes.append(helper.make_node("Concat", [f"r{i}" for i in range(len(VOCABS))], ["y"],
                                  axis=axis))
    graph = helper.make_graph(
        nodes, "lookups",
        [helper.make_tensor_value_info(f"id{i}", TensorProto.INT64, ["n", 1])
         for i in range(len(VOCABS))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)


def _feeds(negative: bool = False):
    rng = np.random.default_rng(1)
    feeds = {f"id{i}": rng.integers(0, v, (6, 1)) for i, v in enumerate(VOCABS)}
    if negative:  # Gather counts negative ids from the end of the table
        feeds = {k: np.where(np.arange(6)[:, None] % 2 == 0, v - VOCABS[int(k[2:])], v)
                 for k, v in feeds.items()}
    return feeds


def _run(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)[0]


@pytest.mark.parametrize("axis", [1, -1])
@pytest.mark.parametrize("negative", [False, True])
def test_merged_lookup_returns_the_same_rows(axis, negative):
    model = _lookups(axis)
    feeds = _feeds(negative)
    before = _run(model, feeds)
    assert merge_embedding_lookups(model) == {"merged": 1, "lookups_replaced": 3}
    onnx.checker.check_model(model)
    assert [n.op_type for n in model.graph.node].count("Gather") == 1
    assert {i.name for i in model.graph.initializer}.isdisjoint({"t0", "t1", "t2"})
    after = _run(model, feeds)
    assert after.shape == before.shape
    np.testing.assert_array_equal(after, before)


def test_tables_of_different_widths_are_not_merged():
    model = _lookups(1, dims=(DIM, DIM, DIM + 1))
    assert merge_embedding_lookups(model)["merged"] == 0
    assert [n.op_type for n in model.graph.node].count("Gather") == 3
