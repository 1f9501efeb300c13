"""Fabricated run directories for the report tests: seeded synthetic latencies, no measuring.

``make_run`` writes Results for several runtimes × batches (with skipped, failed and unstable
points) into ``tmp/raw`` plus ``configs/env.json`` and ``configs/plan.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from onnxbench.core.case import Case
from onnxbench.core.result import Result, Stats, Timing, write_result

BATCHES = [1, 4, 16, 64, 256]


def stats_of(lat: np.ndarray, unstable: bool = False) -> Stats:
    """Stats computed with numpy (the report must not depend on measure/stats.py)."""
    q = np.percentile(lat, [25, 50, 75, 90, 95, 99])
    rng = np.random.default_rng(0)
    meds = np.median(rng.choice(lat, size=(200, len(lat))), axis=1)
    lo, hi = np.percentile(meds, [2.5, 97.5])
    return Stats(n=len(lat), mean=float(lat.mean()), std=float(lat.std(ddof=1)),
                 min=float(lat.min()), p50=float(q[1]), p90=float(q[3]), p95=float(q[4]),
                 p99=float(q[5]), max=float(lat.max()), iqr=float(q[2] - q[0]),
                 cv=float(lat.std() / lat.mean()), median_ci_low=float(lo),
                 median_ci_high=float(hi), unstable=unstable,
                 unstable_reason="IQR/median 0.40 > 0.25" if unstable else None)


def make_result(runtime: str, batch: int, median_ms: float | None, *, status: str = "ok",
                reason: str | None = None, repeat: int = 0, seed: int = 0, n: int = 200,
                spread: float = 0.02, unstable: bool = False, model: str = "dcnv2",
                config: str | None = "light", exporter: str | None = "dynamo",
                options: dict[str, Any] | None = None, seq: int | None = None,
                parity: dict | None = None, accuracy: dict | None = None,
                precision: str = "fp32", runtime_info: dict | None = None,
                stages_ms: dict | None = None) -> Result:
    case = Case(model=model, config=config, exporter=exporter, runtime=runtime, batch=batch,
                seq=seq, options=options or {}, repeat=repeat, precision=precision)
    if status != "ok" or median_ms is None:
        return Result(case_id=case.case_id, case=case, status=status, reason=reason)
    rng = np.random.default_rng(seed)
    lat = median_ms * np.exp(rng.normal(0, spread * (8 if unstable else 1), n))
    st = stats_of(lat, unstable)
    return Result(case_id=case.case_id, case=case, status="ok",
                  timing=Timing(latencies_ms=lat.tolist(), warmup_runs=5, stop_rule="max_runs",
                                stages_ms=stages_ms or {}),
                  stats=st, throughput=batch / st.mean * 1000, parity=parity, accuracy=accuracy,
                  runtime_info=runtime_info or {})


def cpu_ms(b: int) -> float:
    return 0.2 + 0.05 * b          # cheap at small batch, grows fast


def gpu_ms(b: int) -> float:
    return 2.0 + 0.005 * b         # fixed launch cost, flat: overtakes the CPU near batch 40


def make_run(tmp: Path, *, repeats: int = 1, env: bool = True,
             ab_axes: dict | None = None, extra: list[Result] | None = None) -> Path:
    """A run dir with ORT CPU, PyTorch CPU, ORT CUDA over BATCHES plus odd statuses."""
    raw = tmp / "raw"
    results: list[Result] = []
    for i, b in enumerate(BATCHES):
        for r in range(repeats):
            seed = 100 * i + r
            results.append(make_result("ort-cpu", b, cpu_ms(b), repeat=r, seed=seed,
                                       parity={"passed": True, "max_abs_diff": 1e-6},
                                       accuracy={"metric": "auc", "value": 0.71, "n": 512,
                                                 "split": "held-out", "logloss": 0.6}))
            results.append(make_result("torch-cpu", b, cpu_ms(b) * 1.5, exporter=None, repeat=r,
                                       seed=seed + 1, unstable=(b == 16)))
            results.append(make_result("ort-cuda", b, gpu_ms(b), repeat=r, seed=seed + 2))
    results.append(make_result("torch-cuda", 1, None, status="skipped", exporter=None,
                               reason="no CUDA device: torch.cuda.is_available() is False"))
    results.append(make_result("ort-cpu", 1, None, status="failed", config="heavy",
                               reason="RuntimeError: boom"))
    for res in results + (extra or []):
        write_result(res, raw)
    (tmp / "configs").mkdir(parents=True, exist_ok=True)
    if env:
        (tmp / "configs" / "env.json").write_text(json.dumps(
            {"cpu": {"model": "Test CPU", "cores": 2}, "os": "Linux",
             "versions": {"onnxruntime": "1.31.1"}}))
    (tmp / "configs" / "plan.json").write_text(json.dumps({"ab_axes": ab_axes or {}}))
    return tmp


def arm(median_ms: float, repeats: int, *, seed: int, n: int = 100, spread: float = 0.02,
        drift: float = 0.0, shift: Callable[[int], float] | None = None) -> list[np.ndarray]:
    """One A/B arm: ``repeats`` lists of raw latencies with a per-repeat drift (lognormal sd)."""
    rng = np.random.default_rng(seed)
    out = []
    for r in range(repeats):
        level = median_ms * np.exp(rng.normal(0, drift)) * (shift(r) if shift else 1.0)
        out.append(level * np.exp(rng.normal(0, spread, n)))
    return out


def write_run(tmp: Path, results: list[Result], ab_axes: dict | None = None) -> Path:
    """Any list of results as a run directory (with a plan naming the A/B axes)."""
    for res in results:
        write_result(res, tmp / "raw")
    (tmp / "configs").mkdir(parents=True, exist_ok=True)
    (tmp / "configs" / "plan.json").write_text(json.dumps({"ab_axes": ab_axes or {}}))
    return tmp


# MoE-like optimisation variants: (runtime, precision, options, median ms, held-out accuracy)
VARIANTS = [("ort-cpu", "fp32", {}, 2.0, 0.95), ("ort-cpu", "int8-dynamic", {}, 1.0, 0.93),
            ("ort-cpu", "fp32", {"level": "all"}, 1.6, 0.95), ("torch-cpu", "fp32", {}, 4.0, 0.95),
            ("ort-cuda", "fp16", {"keep_io_types": True}, None, None)]


def make_optim_run(tmp: Path, repeats: int = 2) -> Path:
    return write_run(tmp, optim_results(repeats))


def optim_results(repeats: int = 2) -> list[Result]:
    """Optimisation variants of one model at batch 64; accuracy carries only its own value
    (as a zoo's evaluate dict does), so the report must compute the delta itself."""
    results = []
    for i, (rt, prec, opts, med, acc) in enumerate(VARIANTS):
        options = {"threads": 1, "accuracy": True, **opts}
        for r in range(repeats):
            if med is None:
                results.append(make_result(rt, 64, None, status="skipped", model="moe",
                                           config="default", precision=prec, options=options,
                                           reason="CUDAExecutionProvider not available", repeat=r))
                continue
            results.append(make_result(rt, 64, med, model="moe", config="default", precision=prec,
                                       options=options, repeat=r, seed=10 * i + r,
                                       accuracy={"metric": "accuracy", "value": acc, "n": 450,
                                                 "split": "held-out", "data": "digits"}))
    return results


STAGES = ["decode", "preprocess", "h2d", "inference", "postprocess"]


def pipeline_result(name: str, pin: bool, nb: bool, e2e: float, inference: float, *,
                    repeat: int = 0, divergent: str | None = None, seed: int = 0) -> Result:
    """A pipeline case as pipeline/run.py writes it: stage medians, runtime_info, agreement."""
    stages = {"decode": 3.0, "preprocess": 2.0 if name == "current" else 0.5, "h2d": 0.4,
              "inference": inference, "postprocess": 0.05}
    info = {"pipeline": name, "stages": STAGES, "pin_memory": pin, "non_blocking": nb,
            "inference_ms": inference, "e2e_ms": e2e}
    acc = {"metric": "top1_agreement_vs_current", "value": 1.0 if divergent is None else 0.875,
           "n": 8, "first_divergent_stage": divergent, "max_abs_diff": {"decode": 0.0}}
    return make_result("torch-cuda", 1, e2e, model="resnet18", config="512", exporter=None,
                       options={"pipeline": name, "image_size": 512, "images": 8,
                                "pin_memory": pin, "non_blocking": nb},
                       repeat=repeat, seed=seed, runtime_info=info, stages_ms=stages,
                       accuracy=acc, spread=0.01)


PIPELINE_AXES = {"pin_memory": [False, True], "non_blocking": [False, True]}


def make_pipeline_run(tmp: Path, repeats: int = 3) -> Path:
    return write_run(tmp, pipeline_results(repeats), PIPELINE_AXES)


def pipeline_results(repeats: int = 3) -> list[Result]:
    """current (E2E 4× inference) and gpu (faster, diverging at preprocess) × pin × nb."""
    results = []
    for r in range(repeats):
        for i, (pin, nb) in enumerate([(False, False), (False, True), (True, False), (True, True)]):
            results.append(pipeline_result("current", pin, nb, 8.0 * (0.9 if pin else 1.0), 2.0,
                                           repeat=r, seed=100 * r + i))
            results.append(pipeline_result("gpu", pin, nb, 5.0, 2.0, repeat=r,
                                           seed=100 * r + i + 50, divergent="preprocess"))
    return results
