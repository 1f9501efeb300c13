"""One pipeline case: time the whole per image (E2E) and each stage, check the predictions.

E2E runs the stages back to back with one synchronisation at the end, as a service would;
the per-stage pass synchronises after every stage so device work is charged to the stage
that queued it. "Inference" is that pass's inference stage: the input already on the device.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from time import perf_counter_ns
from typing import Any, ClassVar

import numpy as np

from onnxbench.core.case import Case
from onnxbench.core.errors import Skip, UserError
from onnxbench.core.result import Result
from onnxbench.model.bundle import Bundle
from onnxbench.model.zoo.digits import SOURCE, digit_images
from onnxbench.runtimes import runtime_class, runtime_device
from onnxbench.runtimes.base import Runtime
from onnxbench.scenarios.base import Scenario
from onnxbench.scenarios.pipeline.engines import build_engine
from onnxbench.scenarios.pipeline.images import make_images
from onnxbench.scenarios.pipeline.stages import PIPELINES, PipelineSettings, Stage, model_stages

DIVERGENCE_ATOL = 1e-3  # on the normalised model input and the logits
PIPELINE_FRAMEWORKS = ("onnx", "torch")  # runtimes whose engine pipeline.engines builds
STAGE_RUNS = (20, 100)  # per-stage pass: at least 20 images, at most 100
# seeded synthetic images for pipeline cases: deterministic, so shared across runs
IMAGE_CACHE = Path(tempfile.gettempdir()) / "onnxbench-images"


def unfit(case: Case) -> str | None:
    """Why a pipeline case cannot run on any machine (None if it can): the runtime must be
    one whose engine ``pipeline.engines`` builds, and the batch 1."""
    if runtime_class(case.runtime).framework not in PIPELINE_FRAMEWORKS:
        return (f"pipelines run on ONNX Runtime (ort-*) or PyTorch (torch-*) runtimes, "
                f"not {case.runtime}")
    if case.batch != 1:
        return "pipelines time one image at a time (batch 1)"
    return None


def _settings(case: Case, bundle: Bundle):
    import torch

    opts = case.options
    name = opts.get("pipeline", "current")
    if name not in PIPELINES:
        raise UserError(f"options.pipeline: unknown pipeline {name!r}; choose one of: "
                        f"{', '.join(PIPELINES)}")
    reason = unfit(case)
    if reason:
        raise Skip(reason)
    cuda = runtime_device(case.runtime) == "cuda"
    if cuda and not torch.cuda.is_available():
        raise Skip("no CUDA device: torch.cuda.is_available() is False")
    pin = bool(opts.get("pin_memory", False))
    if pin and not cuda:
        raise Skip("pin_memory needs a CUDA device")
    settings = PipelineSettings(image_size=int(opts.get("image_size", _default_size(bundle))),
                                device=torch.device("cuda" if cuda else "cpu"),
                                pin_memory=pin, non_blocking=bool(opts.get("non_blocking", False)))
    return name, settings, (torch.cuda.synchronize if cuda else None)


def _model_config(bundle: Bundle) -> dict[str, Any]:
    """The zoo config's settings (image size, whether it was trained on labelled images)."""
    if bundle.spec is None or not bundle.spec.configs:
        return {}
    try:
        return dict(bundle.spec.config(bundle.config))
    except UserError:
        return {}


def _default_size(bundle: Bundle) -> int:
    return int(_model_config(bundle).get("image_size", 512))


def _images(case: Case, bundle: Bundle, work_dir: Path
            ) -> tuple[list[Path], np.ndarray | None, str]:
    """The labelled digits (held-out split) for a model trained on them, else seeded
    synthetic images (agreement with ``current`` only): paths, labels, what they are."""
    fmt = case.options.get("image_format", "jpeg")
    n = case.options.get("images")
    if _model_config(bundle).get("data") == "digits":
        paths, labels = digit_images(work_dir, split="held-out", n=int(n) if n else None, fmt=fmt)
        return paths, labels, f"{SOURCE}, held-out split ({len(paths)} images, {fmt})"
    paths = make_images(work_dir, n=int(n or 16), seed=case.seed, fmt=fmt)
    return paths, None, f"{len(paths)} seeded synthetic {fmt} images (no labels)"


def _trace(stages: list[Stage], path: Path) -> dict[str, Any]:
    """Every stage's output for one image, moved to host numpy for comparison."""
    out: Any = path
    outputs = {}
    for name, fn in stages:
        out = fn(out)
        outputs[name] = out.detach().cpu().numpy() if hasattr(out, "detach") else np.asarray(out)
    return outputs


def _model_input(outputs: dict[str, Any]) -> np.ndarray:
    names = list(outputs)
    return outputs[names[names.index("inference") - 1]]


def check_against_reference(stages: list[Stage], reference: list[Stage],
                            images: list[Path], labels: np.ndarray | None = None
                            ) -> dict[str, Any]:
    """Top-1 agreement with the reference pipeline, the first stage whose outputs diverge,
    and with ``labels``, both pipelines' top-1 accuracy on them."""
    agree, diffs = 0, {"decode": 0.0, "preprocess": 0.0, "inference": 0.0}
    mine_top, ref_top = [], []
    for path in images:
        mine, ref = _trace(stages, path), _trace(reference, path)
        agree += int(np.array_equal(mine["postprocess"], ref["postprocess"]))
        mine_top.append(int(np.asarray(mine["postprocess"]).reshape(-1)[0]))
        ref_top.append(int(np.asarray(ref["postprocess"]).reshape(-1)[0]))
        pairs = {"decode": (mine["decode"], ref["decode"]),
                 "preprocess": (_model_input(mine), _model_input(ref)),
                 "inference": (mine["inference"], ref["inference"])}
        for stage, (a, b) in pairs.items():
            diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
            diffs[stage] = max(diffs[stage], diff)
    first = next((s for s in ("decode", "preprocess", "inference")
                  if diffs[s] > (0 if s == "decode" else DIVERGENCE_ATOL)), None)
    out = {"metric": "top1_agreement_vs_current", "value": agree / len(images),
           "n": len(images), "max_abs_diff": diffs, "first_divergent_stage": first,
           "tolerance": DIVERGENCE_ATOL}
    if labels is not None:
        truth = np.asarray(labels).reshape(-1)
        out["label_accuracy"] = float(np.mean(np.asarray(mine_top) == truth))
        out["label_accuracy_current"] = float(np.mean(np.asarray(ref_top) == truth))
    return out


def _stage_medians(stages: list[Stage], images: list[Path], sync, runs: int) -> dict[str, float]:
    samples: dict[str, list[int]] = {name: [] for name, _ in stages}
    for k in range(runs):
        out: Any = images[k % len(images)]
        for name, fn in stages:
            t0 = perf_counter_ns()
            out = fn(out)
            if sync is not None:
                sync()
            samples[name].append(perf_counter_ns() - t0)
    return {name: float(np.median(v)) / 1e6 for name, v in samples.items()}


def run_pipeline_case(case: Case, bundle: Bundle, work_dir: Path) -> Result:
    """Measure one pipeline case; raises Skip when this machine cannot run it."""
    name, settings, sync = _settings(case, bundle)
    images, labels, image_set = _images(case, bundle, work_dir)
    size = settings.image_size
    engine = build_engine(case, bundle, settings.device, (1, 3, size, size))
    try:
        return _measure_pipeline(case, name, settings, sync, engine, images, labels, image_set)
    finally:
        engine.close()


def _measure_pipeline(case: Case, name: str, settings: PipelineSettings, sync, engine,
                      images: list[Path], labels, image_set: str) -> Result:
    from onnxbench.measure.stats import summarize
    from onnxbench.measure.timer import measure

    tail = model_stages(engine.infer, settings.device)
    stages = PIPELINES[name](settings) + tail
    reference_settings = PipelineSettings(settings.image_size, settings.device, False, False)
    accuracy = check_against_reference(stages, PIPELINES["current"](reference_settings) + tail,
                                       images, labels)
    accuracy["image_set"] = image_set
    cycle = itertools.cycle(images)

    def e2e():
        out: Any = next(cycle)
        for _, fn in stages:
            out = fn(out)
        return out

    timing = measure(e2e, sync, case.policy)
    stats = summarize(timing.latencies_ms, unstable_iqr_ratio=case.measure.unstable_iqr_ratio)
    runs = max(STAGE_RUNS[0], min(len(images), STAGE_RUNS[1]))
    timing.stages_ms = _stage_medians(stages, images, sync, runs=runs)
    info = {**engine.info, "device": str(settings.device), "pipeline": name,
            "stages": [s for s, _ in stages], "pin_memory": settings.pin_memory,
            "non_blocking": settings.non_blocking, "image_size": settings.image_size,
            "image_set": image_set, "inference_ms": timing.stages_ms["inference"],
            "e2e_ms": stats.p50, "e2e_clock": "one synchronize() after the last stage",
            "stage_clock": "synchronize() after every stage"}
    return Result(case_id=case.case_id, case=case, status="ok", timing=timing, stats=stats,
                  throughput=1000.0 / stats.mean, runtime_info=info, accuracy=accuracy)


class Pipeline(Scenario):
    """An end-to-end image pipeline (option ``pipeline``): every stage timed."""

    name: ClassVar[str] = "pipeline"

    def run(self, case: Case, bundle: Bundle, runtime: Runtime,
            base: dict[str, Any]) -> Result:
        result = run_pipeline_case(case, bundle, IMAGE_CACHE)
        result.started_at = base["started_at"]
        return result
