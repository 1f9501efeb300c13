"""Accuracy metrics and deltas against fp32, through plain predict functions."""

from __future__ import annotations

import numpy as np
import pytest

from onnxbench.quality import accuracy


def test_cosine_identical_and_orthogonal():
    a = [np.array([[1.0, 0.0], [0.0, 2.0]])]
    assert accuracy.cosine_similarity(a, a) == pytest.approx(1.0)
    b = [np.array([[0.0, 1.0], [0.0, 2.0]])]  # first row orthogonal, second identical
    assert accuracy.cosine_similarity(a, b) == pytest.approx(0.5)


def test_top1_agreement_and_max_abs_diff():
    ref = [np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])]
    got = [np.array([[0.8, 0.2], [0.7, 0.3], [0.55, 0.45]])]
    assert accuracy.top1_agreement(ref, got) == pytest.approx(2 / 3)
    assert accuracy.max_abs_diff(ref, got) == pytest.approx(0.5)


def test_fp16_outputs_are_scored_in_float64():
    ref = [np.ones((2, 3), np.float32)]
    got = [np.ones((2, 3), np.float16)]
    assert accuracy.max_abs_diff(ref, got) == 0.0


class _LabelledSpec:
    """A spec with held-out data: y = argmax of the two features."""

    name = "labelled"
    default_seq = None

    def __init__(self, metric=None):
        from onnxbench.model.zoo.base import TASK_ACCURACY

        self.metric = metric or TASK_ACCURACY
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal((50, 2)).astype(np.float32)
        self.y = self.x.argmax(axis=1)

    def evaluate(self, predict, config, options=None):
        pred = predict({"x": self.x})[0].argmax(axis=1)
        return {"metric": "accuracy", "value": float((pred == self.y).mean()), "n": 50}

    def make_inputs(self, config, batch, seq=None, seed=0):
        return {"x": np.random.default_rng(seed).standard_normal((batch, 2)).astype(np.float32)}


def test_accuracy_delta_on_labelled_model():
    spec = _LabelledSpec()
    perfect = lambda f: [f["x"]]  # noqa: E731
    flipped = lambda f: [-f["x"]]  # noqa: E731  always wrong
    res = accuracy.accuracy_delta(spec, flipped, perfect)
    assert res["metric"] == "accuracy" and res["reference_value"] == 1.0
    assert res["value"] == 0.0 and res["delta"] == -1.0


def test_accuracy_delta_by_output_comparison():
    from onnxbench.model.zoo.base import COSINE, MAX_ABS_DIFF, TOP1_AGREEMENT

    ref = lambda f: [f["x"]]  # noqa: E731
    noisy = lambda f: [f["x"] + 0.01]  # noqa: E731
    res = accuracy.accuracy_delta(_LabelledSpec(MAX_ABS_DIFF), noisy, ref, batch=4, n_batches=2)
    assert res["metric"] == "max_abs_diff" and res["value"] == pytest.approx(0.01, abs=1e-6)
    assert res["n"] == 8 and not res["higher_is_better"]
    same = accuracy.accuracy_delta(_LabelledSpec(COSINE), ref, ref)
    assert same["metric"] == "cosine_similarity" and same["delta"] == pytest.approx(0.0)
    agree = accuracy.accuracy_delta(_LabelledSpec(TOP1_AGREEMENT), lambda f: [-f["x"]], ref)
    assert agree["metric"] == "top1_agreement" and agree["value"] < 0.5


@pytest.mark.parametrize("model, metric", [
    ("resnet18", "top1_agreement"), ("resnet50", "top1_agreement"),  # the README's promise
    ("bert", "cosine_similarity"), ("deberta-v2", "cosine_similarity"),
    ("dcnv2", "max_abs_diff"), ("moe", "accuracy")])
def test_every_zoo_model_declares_its_metric(model, metric):
    """The bug: a name table keyed "resnet"/"deberta" never matched the zoo's names, so
    ResNet was scored by cosine similarity. The metric is now the spec's own property."""
    from onnxbench.model.zoo import resolve

    assert resolve(model).metric.name == metric


def test_onnx_predict_casts_to_fp16_inputs(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT16, ["n", 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT16, ["n", 2])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    path = tmp_path / "relu16.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=10), path)
    out = accuracy.onnx_predict(path)({"x": np.array([[-1.0, 2.0]], np.float32)})[0]
    assert out.dtype == np.float16 and out.tolist() == [[0.0, 2.0]]
