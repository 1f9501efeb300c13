"""Parity maths against hand-computed arrays, and the padding workaround."""

from __future__ import annotations

import math

import numpy as np
import pytest

from onnxbench.model.pad import pad_batch, trim
from onnxbench.quality.parity import compare


def test_identical_outputs_pass_with_zero_minimum_tolerance():
    e = np.array([[1.0, -2.0], [0.0, 4.0]], dtype=np.float32)
    report = compare([e], [e.copy()], ["y"])
    assert report.passed
    out = report.outputs[0]
    assert out.max_abs == 0 and out.mismatches == 0
    assert out.min_atol == 0 and out.min_rtol == 0 and out.cosine == pytest.approx(1.0)


def test_statistics_and_minimum_tolerances_by_hand():
    e = np.array([1.0, 2.0, 4.0, 0.0], dtype=np.float32)
    a = np.array([1.0, 2.1, 4.0, 0.05], dtype=np.float32)
    report = compare([e], [a], ["y"], rtol=0.01, atol=0.001)
    out = report.outputs[0]
    assert not report.passed
    # |a-e| = [0, .1, 0, .05]; tolerance atol + rtol|e| = [.011, .021, .041, .001]
    assert out.mismatches == 2
    assert out.max_abs == pytest.approx(0.1, rel=1e-5)
    assert out.mean_abs == pytest.approx(0.15 / 4, rel=1e-5)
    assert out.max_rel == pytest.approx(0.05, rel=1e-5)  # .1/2; the zero element is excluded
    # min atol at rtol=.01: max(|a-e| - .01|e|) = max(0-.01, .1-.02, 0-.04, .05-0) = .08
    assert out.min_atol == pytest.approx(0.08, rel=1e-5)
    # min rtol at atol=.001: the element with e=0 exceeds atol, so no rtol can pass
    assert math.isinf(out.min_rtol)
    cos = float(np.dot(e, a) / (np.linalg.norm(e) * np.linalg.norm(a)))
    assert out.cosine == pytest.approx(cos, rel=1e-6)
    # the reported minimum tolerance really is the boundary
    assert compare([e], [a], rtol=0.01, atol=out.min_atol * 1.001).passed
    assert not compare([e], [a], rtol=0.01, atol=out.min_atol * 0.99).passed


def test_min_rtol_is_the_boundary_when_finite():
    e = np.array([10.0, -20.0, 5.0])
    a = np.array([10.5, -20.2, 5.0])
    out = compare([e], [a], rtol=1e-6, atol=0.1).outputs[0]
    # (|a-e| - atol)/|e| = [.4/10, .1/20, -] = .04
    assert out.min_rtol == pytest.approx(0.04)
    assert compare([e], [a], rtol=0.0401, atol=0.1, check_dtype=False).passed
    assert not compare([e], [a], rtol=0.039, atol=0.1).passed


def test_nan_never_passes():
    e = np.array([1.0, np.nan], dtype=np.float32)
    report = compare([e], [e.copy()], rtol=1.0, atol=1.0)
    assert not report.passed
    assert report.outputs[0].nan_count == 1 and report.outputs[0].mismatches == 1
    assert report.to_dict()["outputs"][0]["max_abs"] == "nan"  # strict JSON


def test_shape_dtype_and_count_mismatches_fail():
    e = np.zeros((2, 3), np.float32)
    shape = compare([e], [np.zeros((3,), np.float32)])
    assert not shape.passed and "shape" in shape.first_problem()
    assert shape.outputs[0].max_abs is None
    dtype = compare([e], [np.zeros((2, 3), np.float64)])
    assert not dtype.passed and "dtype" in dtype.first_problem()
    assert compare([e], [np.zeros((2, 3), np.float64)], check_dtype=False).passed
    count = compare([e, e], [e])
    assert not count.passed and "outputs" in count.first_problem()


def test_pad_batch_repeats_last_row_and_trim_restores():
    x = np.array([[3, 4]], dtype=np.int64)
    f = np.array([[0.5]], dtype=np.float32)
    padded, n_real = pad_batch({"x": x, "f": f}, 2)
    assert n_real == 1
    assert padded["x"].tolist() == [[3, 4], [3, 4]] and padded["x"].dtype == np.int64
    assert padded["f"].shape == (2, 1)
    out = trim([padded["f"] * 2], n_real)
    assert out[0].tolist() == [[1.0]]
    same, n = pad_batch({"x": np.zeros((3, 2))}, 2)
    assert n == 3 and same["x"].shape == (3, 2)
    with pytest.raises(ValueError):
        pad_batch({"a": np.zeros((1, 2)), "b": np.zeros((2, 2))}, 4)
