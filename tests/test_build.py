"""The artifact builder: one builder for every framework, its parity check's tolerances,
and the build's own status (a time-out or an OOM is not "failed")."""

from __future__ import annotations

import json
import textwrap

import pytest

from onnxbench.core.case import Case
from onnxbench.core.errors import UserError
from onnxbench.core.policy import MeasurePolicy

FAST = MeasurePolicy(warmup=1, min_runs=3, max_runs=3, min_time_s=0, max_time_s=5)


def test_export_parity_uses_the_parity_defaults(tmp_path):
    """The bug: the builder's parity hard-coded atol=1e-4 against parity.DEFAULT_ATOL=1e-5."""
    from onnxbench.build.artifacts import prepare_artifact
    from onnxbench.quality.parity import DEFAULT_ATOL, DEFAULT_RTOL

    case = Case(model="dcnv2", config="tiny", exporter="torchscript", runtime="ort-cpu",
                batch=2)
    artifact = prepare_artifact(case, tmp_path)
    meta = json.loads((tmp_path / case.artifact_key / "artifact.json").read_text())
    assert meta["parity"]["atol"] == DEFAULT_ATOL and meta["parity"]["rtol"] == DEFAULT_RTOL
    assert meta["parity"]["against"] == "PyTorch" and meta["framework"] == "torch"
    assert meta["state_file"] == "model.safetensors" and artifact.has_module


def test_every_zoo_spec_has_a_registered_framework():
    from onnxbench.model.frameworks import framework_of, known_exporters
    from onnxbench.model.zoo import resolve, spec_names

    for name in spec_names():
        fw = framework_of(resolve(name))
        assert fw.name == resolve(name).framework and fw.exporters
    assert set(known_exporters()) >= {"dynamo", "torchscript", "jit-trace", "jit-script",
                                      "tf2onnx"}


def test_an_exporter_of_another_framework_is_a_user_error(tmp_path):
    from onnxbench.build.artifacts import prepare_artifact

    case = Case(model="dcnv2", config="tiny", exporter="tf2onnx", runtime="ort-cpu", batch=2)
    with pytest.raises(UserError, match="'dcnv2' is a PyTorch model: exporter 'tf2onnx' does "
                                        "not apply; choose one of: dynamo"):
        prepare_artifact(case, tmp_path)


SLOW_FACTORY = textwrap.dedent('''
    import multiprocessing
    import time

    import torch


    def factory():
        if multiprocessing.parent_process() is not None:  # in the build's worker
            time.sleep(60)
        return torch.nn.Linear(2, 2), {"x": torch.zeros(2, 2)}
''')


def test_a_build_that_times_out_is_timeout_not_failed(tmp_path, monkeypatch):
    """The bug: an artifact build that timed out or ran out of memory was recorded as
    ``failed``; its cases now carry the worker's own status."""
    from onnxbench.core.rundir import create_run_dir
    from onnxbench.suite import runner
    from onnxbench.suite.plan import Plan

    factory = tmp_path / "slow.py"
    factory.write_text(SLOW_FACTORY)
    monkeypatch.setattr(runner, "ARTIFACT_TIMEOUT_S", 2.0)
    case = Case(model=f"{factory}:factory", exporter="torchscript", runtime="ort-cpu",
                batch=2, measure=FAST)
    plan = Plan("slow", [case], {case.case_id: 1.0})
    run = create_run_dir(tmp_path / "runs", "slow")
    (result,) = runner.run_cases(plan, run, env={})
    assert result.status == "timeout", (result.status, result.reason)
    assert result.reason.startswith("artifact build: timed out")
