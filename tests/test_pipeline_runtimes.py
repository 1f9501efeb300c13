"""Image pipelines on every runtime (ORT CPU here; ORT CUDA/TensorRT and PyTorch CUDA on a
GPU), scored on a real labelled image set: scikit-learn's digits rendered as files."""

from __future__ import annotations

import numpy as np
import pytest

from onnxbench.core.case import Case
from onnxbench.core.errors import Skip
from onnxbench.core.policy import MeasurePolicy
from onnxbench.scenarios.pipeline import run_pipeline_case

QUICK = MeasurePolicy(warmup=1, min_runs=3, max_runs=5, min_time_s=0, max_time_s=2)


def _case(runtime: str, pipeline: str = "current", **options) -> Case:
    return Case(model="resnet18", config="digits", exporter="torchscript", runtime=runtime,
                batch=1, measure=QUICK,
                options={"pipeline": pipeline, "images": 40, "threads": 1, **options})


@pytest.fixture(scope="module")
def digits_artifact(tmp_path_factory):
    """The bundle a worker would hand the pipeline: trained digits ResNet and its export."""
    from onnxbench.build.artifacts import prepare_artifact
    from onnxbench.model.bundle import Bundle

    return Bundle.resolve(prepare_artifact(_case("ort-cpu"), tmp_path_factory.mktemp("art")))


def test_digit_images_are_labelled_files_from_the_held_out_split(tmp_path):
    from onnxbench.model.zoo.data import digits_split
    from onnxbench.model.zoo.digits import digit_images

    paths, labels = digit_images(tmp_path, split="held-out", n=12, fmt="png")
    assert len(paths) == len(labels) == 12
    assert paths[0].read_bytes()[:4] == b"\x89PNG"
    assert [int(p.stem.rsplit("label", 1)[1]) for p in paths] == labels.tolist()
    rows = {int(p.stem.split("_")[1]) for p in paths}
    assert rows <= set(digits_split().test_index.tolist())
    assert not rows & set(digits_split().train_index.tolist())


def test_resnet_digits_config_is_trained_to_a_real_accuracy():
    import torch

    from onnxbench.model.zoo import resolve

    spec = resolve("resnet18")
    module = spec.build("digits")

    def predict(feed):
        with torch.no_grad():
            return [module(torch.from_numpy(feed["pixel_values"])).numpy()]

    result = spec.evaluate(predict, "digits")
    assert result["metric"] == "accuracy" and result["n"] == 450
    assert result["value"] > 0.85  # chance is 0.10
    assert spec.evaluate(predict, "tiny") is None  # random weights: no labelled metric


@pytest.mark.parametrize("pipeline", ["current", "gpu"])
def test_ort_cpu_pipeline_scores_the_labels_like_pytorch(tmp_path, digits_artifact, pipeline):
    ort = run_pipeline_case(_case("ort-cpu", pipeline), digits_artifact, tmp_path)
    torch_ = run_pipeline_case(_case("torch-cpu", pipeline), digits_artifact, tmp_path)
    for result in (ort, torch_):
        acc = result.accuracy
        assert result.status == "ok" and acc["n"] == 40
        assert 0.7 < acc["label_accuracy"] <= 1.0 and "scikit-learn" in acc["image_set"]
        assert result.runtime_info["stages"][-2:] == ["inference", "postprocess"]
    assert "ORT" in ort.runtime_info["engine"] and ort.runtime_info["runtime"] == "ort-cpu"
    # one exported graph, one module: the runtime does not change a prediction here
    assert abs(ort.accuracy["label_accuracy"] - torch_.accuracy["label_accuracy"]) <= 1 / 40
    if pipeline == "gpu":  # the device resize differs from PIL's: named, not hidden
        assert ort.accuracy["first_divergent_stage"] == "preprocess"


def test_pipelines_skip_runtimes_they_cannot_drive(tmp_path, digits_artifact):
    with pytest.raises(Skip, match=r"ONNX Runtime .* or PyTorch"):
        run_pipeline_case(_case("tf-call"), digits_artifact, tmp_path)


def _ort_cuda() -> bool:
    import onnxruntime
    import torch

    return torch.cuda.is_available() and \
        "CUDAExecutionProvider" in onnxruntime.get_available_providers()


@pytest.mark.gpu
@pytest.mark.skipif(not _ort_cuda(), reason="no CUDA device or no CUDAExecutionProvider")
@pytest.mark.parametrize("pipeline", ["fast", "gpu"])
def test_ort_cuda_pipeline_reads_torch_device_tensors(tmp_path, digits_artifact, pipeline):
    case = _case("ort-cuda", pipeline, pin_memory=True, non_blocking=True)
    result = run_pipeline_case(case, digits_artifact, tmp_path)
    assert result.status == "ok" and "IO binding" in result.runtime_info["engine"]
    eager = run_pipeline_case(_case("torch-cuda", pipeline), digits_artifact, tmp_path)
    assert abs(result.accuracy["label_accuracy"] - eager.accuracy["label_accuracy"]) <= 1 / 40


@pytest.mark.gpu
@pytest.mark.skipif(not _ort_cuda(), reason="no CUDA device or no CUDAExecutionProvider")
def test_ort_cuda_engine_output_equals_a_host_run(digits_artifact):
    import torch

    from onnxbench.scenarios.pipeline.engines import build_engine

    device = torch.device("cuda")
    engine = build_engine(_case("ort-cuda"), digits_artifact, device, (1, 3, 32, 32))
    x = torch.randn(1, 3, 32, 32, device=device)
    got = engine.infer(x).cpu().numpy()
    host = engine.runtime.sess.run(None, {"pixel_values": x.cpu().numpy()})[0]
    engine.close()
    np.testing.assert_allclose(got, host, rtol=1e-3, atol=1e-4)


def test_torch_autocast_option_runs_and_is_recorded():
    import torch

    from onnxbench.core.artifact import Artifact
    from onnxbench.model.bundle import Bundle
    from onnxbench.runtimes import get_runtime

    runtime = get_runtime("torch-cpu")
    runtime.prepare(Bundle.resolve(Artifact("resnet18", "tiny")), {"autocast": "bf16"})
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32), dtype=np.float32)
    out = runtime.bind({"pixel_values": x})()
    assert out.dtype == torch.bfloat16  # the module is fp32; the convolutions ran in bf16
    assert runtime.info()["autocast"] == "bf16"
    runtime.close()


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not _cuda(), reason="no CUDA device: torch.cuda.is_available() is False")
def test_gpu_memory_cap_turns_a_big_allocation_into_oom():
    import torch

    from onnxbench.isolation.worker import is_out_of_memory
    from onnxbench.runtimes.gpu_memory import cap_torch_memory

    info = cap_torch_memory(64)
    try:
        with pytest.raises(torch.cuda.OutOfMemoryError) as exc:
            torch.empty(256 * 2**20, dtype=torch.uint8, device="cuda")
        assert is_out_of_memory(exc.value)
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)
    assert info["gpu_mem_limit_mb"] == 64
