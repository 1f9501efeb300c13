"""Fabricated run directories for the report tests: seeded synthetic latencies, no measuring.

``make_run`` writes Results for several runtimes × batches (with skipped, failed and unstable
points) into ``tmp/raw`` plus ``configs/env.json`` and ``configs/plan.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import numpy as np

from onnxbench.case import Case
from onnxbench.measure.policy import MeasurePolicy
from onnxbench.result import Result, Stats, Timing, write_result

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
                parity: dict | None = None, accuracy: dict | None = None) -> Result:
    case = Case(model=model, config=config, exporter=exporter, runtime=runtime, batch=batch,
                seq=seq, options=options or {}, repeat=repeat)
    if status != "ok" or median_ms is None:
        return Result(case_id=case.case_id, case=case, status=status, reason=reason)
    rng = np.random.default_rng(seed)
    lat = median_ms * np.exp(rng.normal(0, spread * (8 if unstable else 1), n))
    st = stats_of(lat, unstable)
    return Result(case_id=case.case_id, case=case, status="ok",
                  timing=Timing(latencies_ms=lat.tolist(), warmup_runs=5, stop_rule="max_runs"),
                  stats=st, throughput=batch / st.mean * 1000, parity=parity, accuracy=accuracy)


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
                                       accuracy={"auc": 0.71}))
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
            {"cpu": {"model": "Test CPU", "cores": 2}, "os": "Linux", "versions": {"onnxruntime": "1.31.1"}}))
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
