"""A and B in one worker process: both prepared, warmed up and alternated in short blocks.

``execute_pair`` runs inside a worker (``worker.run_isolated``), like ``execute_case`` for one
side: threads pinned (the same for both sides: ``design.obstacle`` made sure), each side's
bundle resolved, its runtime prepared (the side of the first block first, so the creation
order alternates with the process), its call bound, then ``measure.interleave`` times
blocks ABBA BAAB … for the process's budget. It returns one ``Result`` per side (its
latencies, stats, and under ``runtime_info["ab"]`` its blocks: index, host/device/launch
medians), so the run directory stays a normal one and the pairs can be rebuilt from
``raw/`` (``process_pairs``). Only the latency is measured: parity, accuracy and profiles
are ``bench``'s. The summary statistics (a bootstrap CI of each side's median) are left to
the parent once the verdict is in (``add_stats``): the next process need not wait for them.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from onnxbench.core.artifact import Artifact
from onnxbench.core.case import Case
from onnxbench.core.errors import Skip, first_line
from onnxbench.core.result import Result, Timing
from onnxbench.measure.device import side_by_side
from onnxbench.measure.interleave import ARMS, BlockPlan, Interleaved, Side, interleave
from onnxbench.measure.twolevel import ProcessPairs, pair_blocks
from onnxbench.model.bundle import Bundle
from onnxbench.runtimes.base import Runtime

CLOCK = "time.perf_counter_ns, host, after synchronize()"


def side_inputs(case: Case, artifact: Artifact) -> dict[str, np.ndarray]:
    """The side's seeded inputs, made once in the parent and handed to every process (each
    would otherwise read and check the graph again)."""
    return Bundle.resolve(artifact).make_inputs(case)


def _prepare(case: Case, artifact: Artifact, runtime: Runtime,
             feeds: dict[str, np.ndarray] | None) -> tuple[Side, dict[str, Any]]:
    """The side's runtime prepared (timed) and its call bound; what it reports."""
    from onnxbench.runtimes.prep import pad_inputs, runtime_options

    bundle = Bundle.resolve(artifact)
    reason = runtime.unfit(bundle)
    if reason:
        raise Skip(reason)
    options = runtime_options(case, bundle, runtime)
    inputs, padding = pad_inputs(bundle.make_inputs(case) if feeds is None else feeds, case)
    t = time.perf_counter_ns()
    runtime.prepare(bundle, options)
    session_ms = (time.perf_counter_ns() - t) / 1e6
    device = runtime.device_clock()
    sync = runtime.synchronize if runtime.device == "cuda" or device is not None else None
    side = Side(runtime.bind(runtime.cast_inputs(inputs)), sync, device)
    return side, {"session_create_ms": session_ms, "padding": padding,
                  "device_clock": getattr(device, "label", None)}


def execute_pair(cases: dict[str, Case], artifacts: dict[str, Artifact], plan: BlockPlan,
                 env: dict[str, Any], inputs: dict[str, dict[str, np.ndarray]] | None = None
                 ) -> dict[str, Result]:
    """Both sides in this process, alternated under ``plan``; one Result per side.

    The cases' options were checked in the parent (``engine.run_ab``); ``inputs`` (per
    side, from ``side_inputs``) spare each process making them again.
    """
    from onnxbench.isolation.memory import peak_memory_mb
    from onnxbench.runtimes.registry import get_runtime
    from onnxbench.scenarios.execute import now_iso, pin_threads

    started, t0 = now_iso(), time.monotonic()
    threads = pin_threads(cases["a"].options)
    runtimes = {arm: get_runtime(cases[arm].runtime) for arm in ARMS}
    try:
        sides, prepared = {}, {}
        for arm in (plan.arm(0), plan.arm(1)):
            sides[arm], prepared[arm] = _prepare(cases[arm], artifacts[arm], runtimes[arm],
                                                 (inputs or {}).get(arm))
        timed = interleave(sides, plan)
        results = {arm: _result(cases[arm], runtimes[arm], prepared[arm], timed, arm, plan,
                                started) for arm in ARMS}
    except Skip as exc:
        results = {arm: Result(case_id=cases[arm].case_id, case=cases[arm], status="skipped",
                               reason=first_line(exc, with_type=False) or "skipped",
                               started_at=started) for arm in ARMS}
    finally:
        for runtime in runtimes.values():
            _close(runtime)
    for result in results.values():
        result.runtime_info = {**threads, **result.runtime_info}
        result.memory = {**peak_memory_mb(), **result.memory}
        result.env = env
        result.duration_s = round(time.monotonic() - t0, 6)
    return results


def _result(case: Case, runtime: Runtime, prepared: dict[str, Any], timed: Interleaved,
            arm: str, plan: BlockPlan, started: str) -> Result:
    lat = timed.latencies_ms(arm)
    blocks = [blk for blk in timed.blocks if blk.arm == arm]
    record: dict[str, Any] = {
        "design": "interleaved", "process": case.repeat, "first": plan.first,
        "runs_per_block": timed.runs_per_block[arm], "warmup_run_ms": timed.warmup_ms[arm],
        "switch_runs": plan.switch_runs, "block_s": plan.block_s, "process_s": plan.process_s,
        "blocks": {"index": [b.index for b in blocks], "host_ms": [b.host_ms for b in blocks],
                   "device_ms": [b.device_ms for b in blocks],
                   "launch_ms": [b.launch_ms for b in blocks]}}
    timing = Timing(session_create_ms=prepared["session_create_ms"],
                    first_run_ms=timed.first_run_ms[arm], warmup_runs=plan.warmup,
                    stop_rule="process_time", timed_s=sum(lat) / 1000, clock=CLOCK,
                    latencies_ms=lat)
    if prepared["device_clock"]:
        device = side_by_side(lat, timed.column(arm, "device_ms"),
                              timed.column(arm, "launch_ms"), prepared["device_clock"])
        record["device"] = device
        timing.stages_ms["device_p50_ms"] = device["device_p50_ms"]
    return Result(status="ok", case_id=case.case_id, case=case, started_at=started,
                  timing=timing, memory=runtime.device_memory(),
                  runtime_info={**runtime.info(), **prepared["padding"], **runtime.what_ran(),
                                "ab": record})


def add_stats(result: Result) -> Result:
    """``result`` with the summary statistics of its latencies (and its throughput)."""
    from onnxbench.measure.stats import summarize

    if result.status != "ok" or result.stats is not None or not result.timing.latencies_ms:
        return result
    stats = summarize(result.timing.latencies_ms,
                      unstable_iqr_ratio=result.case.measure.unstable_iqr_ratio)
    result.stats = stats
    result.throughput = result.case.batch / (stats.mean / 1000.0) if stats.mean > 0 else None
    return result


def _close(runtime: Runtime) -> None:
    try:
        runtime.close()
    except Exception:  # noqa: BLE001 - closing must not turn a result into a failure
        pass


def process_pairs(results: dict[str, Result], value: str = "host_ms") -> ProcessPairs | None:
    """One process's block pairs from its two results (``value``: ``host_ms`` or
    ``device_ms``); None when a side has no such values."""
    order: list[tuple[int, str, float | None]] = []
    for arm in ARMS:
        blocks = results[arm].runtime_info.get("ab", {}).get("blocks", {})
        order += [(i, arm, v) for i, v in zip(blocks.get("index", []), blocks.get(value, []))]
    order.sort()
    return pair_blocks([arm for _, arm, _ in order], [v for _, _, v in order])


__all__ = ["add_stats", "execute_pair", "process_pairs", "side_inputs"]
