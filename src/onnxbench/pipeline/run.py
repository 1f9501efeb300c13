"""One pipeline case: time the whole per image (E2E) and each stage, check the predictions.

E2E runs the stages back to back with one synchronisation at the end, as a service would;
the per-stage pass synchronises after every stage so device work is charged to the stage
that queued it. "Inference" is that pass's inference stage: the input already on the device.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np

from onnxbench.bundle import Bundle
from onnxbench.case import Case
from onnxbench.errors import Skip, UserError
from onnxbench.pipeline.images import make_images
from onnxbench.pipeline.stages import PIPELINES, PipelineSettings, Stage, model_stages
from onnxbench.result import Result

DIVERGENCE_ATOL = 1e-3  # on the normalised model input and the logits


def _settings(case: Case):
    import torch

    opts = case.options
    name = opts.get("pipeline", "current")
    if name not in PIPELINES:
        raise UserError(f"options.pipeline: unknown pipeline {name!r}; choose one of: "
                        f"{', '.join(PIPELINES)}")
    if case.runtime not in ("torch-cpu", "torch-cuda"):
        raise Skip(f"pipelines run on torch-cpu or torch-cuda, not {case.runtime}")
    cuda = case.runtime == "torch-cuda"
    if cuda and not torch.cuda.is_available():
        raise Skip("no CUDA device: torch.cuda.is_available() is False")
    pin = bool(opts.get("pin_memory", False))
    if pin and not cuda:
        raise Skip("pin_memory needs a CUDA device")
    if case.batch != 1:
        raise Skip("pipelines time one image at a time (batch 1)")
    settings = PipelineSettings(image_size=int(opts.get("image_size", 512)),
                                device=torch.device("cuda" if cuda else "cpu"),
                                pin_memory=pin, non_blocking=bool(opts.get("non_blocking", False)))
    return name, settings, (torch.cuda.synchronize if cuda else None)


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
                            images: list[Path]) -> dict[str, Any]:
    """Top-1 agreement with the reference pipeline and the first stage whose outputs diverge."""
    agree, diffs = 0, {"decode": 0.0, "preprocess": 0.0, "inference": 0.0}
    for path in images:
        mine, ref = _trace(stages, path), _trace(reference, path)
        agree += int(np.array_equal(mine["postprocess"], ref["postprocess"]))
        pairs = {"decode": (mine["decode"], ref["decode"]),
                 "preprocess": (_model_input(mine), _model_input(ref)),
                 "inference": (mine["inference"], ref["inference"])}
        for stage, (a, b) in pairs.items():
            diff = float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))
            diffs[stage] = max(diffs[stage], diff)
    first = next((s for s in ("decode", "preprocess", "inference")
                  if diffs[s] > (0 if s == "decode" else DIVERGENCE_ATOL)), None)
    return {"metric": "top1_agreement_vs_current", "value": agree / len(images),
            "n": len(images), "max_abs_diff": diffs, "first_divergent_stage": first,
            "tolerance": DIVERGENCE_ATOL}


def _stage_medians(stages: list[Stage], images: list[Path], sync, runs: int) -> dict[str, float]:
    from time import perf_counter_ns

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
    from onnxbench.measure.stats import summarize
    from onnxbench.measure.timer import measure

    name, settings, sync = _settings(case)
    module = bundle.load_module().to(settings.device).eval()
    images = make_images(work_dir, n=int(case.options.get("images", 16)), seed=case.seed,
                         fmt=case.options.get("image_format", "jpeg"))
    tail = model_stages(module, settings.device)
    stages = PIPELINES[name](settings) + tail
    reference_settings = PipelineSettings(settings.image_size, settings.device, False, False)
    accuracy = check_against_reference(stages, PIPELINES["current"](reference_settings) + tail,
                                       images)

    cycle = itertools.cycle(images)

    def e2e():
        out: Any = next(cycle)
        for _, fn in stages:
            out = fn(out)
        return out

    timing = measure(e2e, sync, case.measure)
    stats = summarize(timing.latencies_ms, unstable_iqr_ratio=case.measure.unstable_iqr_ratio)
    timing.stages_ms = _stage_medians(stages, images, sync, runs=max(len(images), 20))
    info = {"device": str(settings.device), "pipeline": name, "stages": [s for s, _ in stages],
            "pin_memory": settings.pin_memory, "non_blocking": settings.non_blocking,
            "image_size": settings.image_size, "inference_ms": timing.stages_ms["inference"],
            "e2e_ms": stats.p50, "e2e_clock": "one synchronize() after the last stage",
            "stage_clock": "synchronize() after every stage"}
    return Result(case_id=case.case_id, case=case, status="ok", timing=timing, stats=stats,
                  throughput=1000.0 / stats.mean, runtime_info=info, accuracy=accuracy)
