"""Labels and the default speed-up baseline come from the runtime registry: each runtime
class declares its ``label`` and whether it is its framework's plain ``reference`` call, so a
plugin's runtime is labelled and chosen as a baseline without the report knowing its name."""

from __future__ import annotations

from typing import ClassVar

import pytest

from onnxbench.report import build_report
from onnxbench.report.labels import is_reference, runtime_label, runtime_traits
from onnxbench.report.tables import Group, Series, baseline_for
from onnxbench.runtimes import registry
from onnxbench.runtimes.base import Device
from onnxbench.runtimes.testing import DelayRuntime
from report_fixtures import make_result, write_run

# the labels reports printed before they came from the registry: they must not change
LABELS_BEFORE = {
    "ort-cpu": "ORT CPU", "ort-cuda": "ORT CUDA", "ort-trt": "ORT TensorRT",
    "torch-cpu": "PyTorch CPU", "torch-cuda": "PyTorch CUDA",
    "torch-compile-cpu": "PyTorch compiled CPU", "torch-compile-cuda": "PyTorch compiled CUDA",
    "tf-call": "TF call (tf.function)", "tf-eager-call": "TF eager call",
    "tf-predict-on-batch": "TF predict_on_batch",
    "tf-predict": "TF predict", "tf-saved-model": "TF SavedModel",
}


class LabelledRuntime(DelayRuntime):
    """A plugin's runtime that declares a label and is its framework's plain call."""

    label = "X"
    reference = True


class PlainRuntime(DelayRuntime):
    """A plugin's runtime with a label, not a reference."""

    label = "Y"


class GpuReferenceRuntime(DelayRuntime):
    device: ClassVar[Device] = "cuda"
    label = "Z GPU"
    reference = True


@pytest.fixture
def plugin_runtimes(monkeypatch):
    for name, cls in [("acme-ref", LabelledRuntime), ("acme-plain", PlainRuntime),
                      ("acme-gpu-ref", GpuReferenceRuntime)]:
        monkeypatch.setitem(registry.RUNTIMES, name, f"{__name__}:{cls.__name__}")
    runtime_traits.cache_clear()
    yield
    runtime_traits.cache_clear()


def test_built_in_labels_are_declared_by_the_registry_and_unchanged():
    names = registry.runtime_names()
    assert {n: runtime_label(n) for n in LABELS_BEFORE} == LABELS_BEFORE
    assert {n: registry.runtime_label(n) for n in LABELS_BEFORE} == LABELS_BEFORE
    assert {n for n in names if is_reference(n)} == {"torch-cpu", "torch-cuda", "tf-call"}
    # test runtimes declare no label: shown as spelt, as before
    assert runtime_label("test-delay") == "test-delay"


def test_a_pattern_name_is_shown_as_spelt_not_with_its_class_label():
    assert runtime_label("ort:CUDAExecutionProvider") == "ort:CUDAExecutionProvider"
    assert runtime_label("ort:OpenVINOExecutionProvider") == "ort:OpenVINOExecutionProvider"
    assert not is_reference("ort:CPUExecutionProvider")


def test_a_registered_runtime_renders_with_its_declared_label(plugin_runtimes):
    assert runtime_label("acme-ref") == "X"
    assert runtime_label("acme-plain") == "Y"
    assert is_reference("acme-ref") and not is_reference("acme-plain")


def test_an_unregistered_runtime_renders_as_its_name():
    """A run made with a plugin not installed now still renders, under the raw name."""
    assert runtime_traits("no-such-plugin-rt") is None
    assert runtime_label("no-such-plugin-rt") == "no-such-plugin-rt"
    assert not is_reference("no-such-plugin-rt")


def _series(runtime: str) -> Series:
    return Series(label=runtime, runtime=runtime, points={})


def _group(*series: Series) -> Group:
    return Group(title="m", axis="batch", xs=[1], series=list(series))


def test_baseline_is_the_registered_reference_on_the_same_device(plugin_runtimes):
    ort, plain, ref, gpu_ref = (_series(n) for n in
                                ("ort-cpu", "acme-plain", "acme-ref", "acme-gpu-ref"))
    group = _group(ort, plain, ref, gpu_ref)
    assert baseline_for(group, ort, None) is ref          # the reference, not the plain one
    assert baseline_for(group, plain, None) is ref
    ort_gpu = _series("ort-cuda")
    group_gpu = _group(ort_gpu, ref, gpu_ref)
    assert baseline_for(group_gpu, ort_gpu, None) is gpu_ref  # same device only
    # no reference on the device: no baseline (a non-reference runtime never stands in)
    assert baseline_for(_group(ort, plain), ort, None) is None
    assert baseline_for(_group(ort_gpu, ref), ort_gpu, None) is None
    # a named baseline wins over the registry
    assert baseline_for(group, ort, "acme-plain") is plain


def test_baseline_keeps_the_old_choice_for_built_in_runtimes():
    """torch-cuda on the GPU; torch-cpu, else tf-call, on the CPU; the first series of it."""
    ort, tcpu, tcpu2, tfc, tcuda, ocuda, comp = (_series(n) for n in (
        "ort-cpu", "torch-cpu", "torch-cpu", "tf-call", "torch-cuda", "ort-cuda",
        "torch-compile-cpu"))
    assert baseline_for(_group(ort, tfc, tcpu, tcpu2, tcuda, ocuda), ort, None) is tcpu
    assert baseline_for(_group(ort, tfc, comp), ort, None) is tfc
    assert baseline_for(_group(ort, comp), ort, None) is None  # compiled is no reference
    assert baseline_for(_group(ort, tfc, tcpu, tcuda, ocuda), ocuda, None) is tcuda
    assert baseline_for(_group(tfc, ocuda), ocuda, None) is None  # tf-call is a CPU baseline


def test_a_plugin_runtime_is_labelled_and_is_the_baseline_in_a_report(plugin_runtimes, tmp_path):
    res = [make_result(rt, b, ms * b, seed=b, exporter=None)
           for rt, ms in [("ort-cpu", 1.0), ("acme-plain", 1.5), ("acme-ref", 2.0)]
           for b in (1, 8)]
    rep = build_report(write_run(tmp_path, res))
    tables = {t.title.rsplit(": ", 1)[-1]: t for g in rep.groups for t in g.tables}
    assert set(tables["runtime comparison (median latency)"].headers[1:4]) == {
        "ORT CPU (ms)", "Y (ms)", "X (ms)"}
    speed = tables["speed-up over baseline (× faster, >1 is better)"]
    assert sorted(speed.headers[1:]) == ["ORT CPU vs X", "Y vs X"]
