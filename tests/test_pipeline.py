"""End-to-end image pipelines on the CPU: stages timed, predictions checked, divergence named."""

from __future__ import annotations

import pytest

from onnxbench.core.artifact import Artifact
from onnxbench.core.case import Case
from onnxbench.core.errors import Skip
from onnxbench.core.policy import MeasurePolicy
from onnxbench.model.bundle import Bundle
from onnxbench.scenarios.pipeline import PIPELINES, run_pipeline_case
from onnxbench.scenarios.pipeline.images import make_images
from onnxbench.scenarios.pipeline.run import check_against_reference
from onnxbench.scenarios.pipeline.stages import PipelineSettings, model_stages

QUICK = MeasurePolicy(warmup=1, min_runs=3, max_runs=5, min_time_s=0, max_time_s=2)


def _case(pipeline: str, **options) -> Case:
    return Case(model="resnet18", config="tiny", runtime="torch-cpu", batch=1, measure=QUICK,
                options={"pipeline": pipeline, "image_size": 32, "images": 4, **options})


def test_images_are_real_encoded_files_and_seeded(tmp_path):
    a = make_images(tmp_path / "a", n=3, seed=1, size=(64, 48))
    b = make_images(tmp_path / "b", n=3, seed=1, size=(64, 48))
    c = make_images(tmp_path / "c", n=3, seed=2, size=(64, 48))
    assert a[0].read_bytes()[:3] == b"\xff\xd8\xff"  # a JPEG, so decoding is real work
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
    assert a[0].read_bytes() != c[0].read_bytes()


@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_pipeline_case_times_every_stage(tmp_path, pipeline):
    case = _case(pipeline)
    bundle = Bundle.resolve(Artifact(model="resnet18", config="tiny"))
    result = run_pipeline_case(case, bundle, tmp_path)
    assert result.status == "ok"
    stages = result.runtime_info["stages"]
    assert stages[0] == "decode" and stages[-2:] == ["inference", "postprocess"]
    assert set(result.timing.stages_ms) == set(stages)
    assert all(v > 0 for v in result.timing.stages_ms.values())
    assert result.stats.n == len(result.timing.latencies_ms) >= 3
    assert result.accuracy["n"] == 4


def test_current_agrees_with_itself_and_gpu_resize_diverges_at_preprocess(tmp_path):
    import torch

    from onnxbench.model.zoo import resolve

    module = resolve("resnet18").build("tiny")
    settings = PipelineSettings(32, torch.device("cpu"), False, False)
    images = make_images(tmp_path, n=3, seed=0, size=(96, 64))
    tail = model_stages(module, settings.device)
    ref = PIPELINES["current"](settings) + tail
    same = check_against_reference(ref, ref, images)
    assert same["value"] == 1.0 and same["first_divergent_stage"] is None
    fast = check_against_reference(PIPELINES["fast"](settings) + tail, ref, images)
    assert fast["first_divergent_stage"] is None  # same resize, other order of float maths
    gpu = check_against_reference(PIPELINES["gpu"](settings) + tail, ref, images)
    # resizing without antialias on the device differs from PIL's: named, not hidden
    assert gpu["first_divergent_stage"] == "preprocess"
    assert gpu["max_abs_diff"]["decode"] == 0.0


def test_pin_memory_and_cuda_skip_cleanly_without_a_gpu(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(Skip, match="pin_memory needs a CUDA device"):
        run_pipeline_case(_case("current", pin_memory=True), Artifact("resnet18", "tiny"), tmp_path)
    cuda_case = _case("gpu").model_copy(update={"runtime": "torch-cuda"})
    with pytest.raises(Skip, match="no CUDA device"):
        run_pipeline_case(cuda_case, Artifact("resnet18", "tiny"), tmp_path)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda(), reason="no CUDA device: torch.cuda.is_available() is False")
@pytest.mark.parametrize("pipeline", sorted(PIPELINES))
def test_pipelines_on_cuda_with_pinned_non_blocking_copies(tmp_path, pipeline):
    case = _case(pipeline, pin_memory=True, non_blocking=True).model_copy(
        update={"runtime": "torch-cuda"})
    bundle = Bundle.resolve(Artifact(model="resnet18", config="tiny"))
    result = run_pipeline_case(case, bundle, tmp_path)
    assert result.status == "ok" and result.runtime_info["device"].startswith("cuda")
    assert result.timing.stages_ms["h2d"] > 0
    # the copies and device maths must not change what the model sees beyond the resize
    if pipeline != "gpu":
        assert result.accuracy["first_divergent_stage"] is None, result.accuracy
