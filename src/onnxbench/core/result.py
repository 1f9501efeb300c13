"""The result of one case: the contract between measuring and everything after it.

``raw/<case_id>/result.json`` holds one ``Result``. Summary (``suite/aggregate.py``),
report, compare and resume read these files, never live objects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from onnxbench.core.case import Case
from onnxbench.core.errors import UserError, os_error_message
from onnxbench.core.files import atomic_write_text
from onnxbench.core.load_record import LoadRecord

Status = Literal["ok", "failed", "skipped", "crashed", "oom", "timeout"]
SCHEMA_VERSION = 1


class Stats(BaseModel):
    """Summary statistics of the steady-state latencies, in milliseconds."""

    model_config = ConfigDict(extra="forbid")

    n: int
    mean: float
    std: float
    min: float
    p50: float
    p90: float
    p95: float
    p99: float
    max: float
    iqr: float
    cv: float
    median_ci_low: float
    median_ci_high: float
    ci_level: float = 0.95
    percentile_method: str = "linear (numpy default, Hyndman-Fan type 7)"
    ci_method: str = "bootstrap (percentile, 2000 resamples)"
    unstable: bool = False
    unstable_reason: str | None = None


class Timing(BaseModel):
    """Everything timed about one case."""

    model_config = ConfigDict(extra="forbid")

    session_create_ms: float | None = None
    first_run_ms: float | None = None
    warmup_runs: int = 0
    stop_rule: str | None = None  # max_runs|max_time|target_ci (measure/timer.py)
    timed_s: float | None = None
    clock: str = "time.perf_counter_ns, host, after synchronize()"
    latencies_ms: list[float] = Field(default_factory=list)
    stages_ms: dict[str, float] = Field(default_factory=dict)  # e.g. end-to-end stages, compile


class Result(BaseModel):
    model_config = ConfigDict(extra="allow")

    schema_version: int = SCHEMA_VERSION
    case_id: str
    case: Case
    status: Status
    reason: str | None = None
    started_at: str | None = None
    duration_s: float | None = None
    timing: Timing = Field(default_factory=Timing)
    stats: Stats | None = None
    throughput: float | None = None  # items/s = batch / mean latency
    memory: dict[str, Any] = Field(default_factory=dict)  # peak_rss_mb, rss_mb, gpu_mem_*
    runtime_info: dict[str, Any] = Field(default_factory=dict)  # providers, threads, tf32, ...
    parity: dict[str, Any] | None = None
    accuracy: dict[str, Any] | None = None
    placement: dict[str, Any] | None = None  # ORT: nodes per provider, CPU fallbacks, Memcpy
    profile: dict[str, Any] | None = None  # option profile: the untimed per-operator pass
    mix: dict[str, Any] | None = None  # seq_mix cases: per-shape latency and the mix's own
    env: dict[str, Any] | None = None
    load: LoadRecord | None = None  # a load scenario's point (onnxbench.core.load_record)
    ran_on: dict[str, Any] | None = None  # the executor's placement: host, node, gpus, cores
    # lost with its Ray worker or node, not by its own doing: --resume reruns it
    rerun: bool = False
    # where the case's wall time went: {mark: epoch seconds} (onnxbench.core.timeline)
    timeline: dict[str, float] = Field(default_factory=dict)


def write_result(result: Result, raw_dir: Path) -> Path:
    """Write ``raw_dir/<case_id>/result.json`` atomically and return its path."""
    path = raw_dir / result.case_id / "result.json"
    atomic_write_text(path, result.model_dump_json(indent=1))
    return path


def read_result(path: Path) -> Result:
    """One ``result.json``; UserError naming the file when it cannot be read or is not one."""
    try:
        return Result.model_validate(json.loads(Path(path).read_text(encoding="utf-8")))
    except OSError as exc:
        raise UserError(os_error_message(exc, "reading a result")) from None
    except (ValueError, ValidationError) as exc:  # JSON, UTF-8, schema
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"{path}: unreadable result ({first[:160]}); delete it and "
                        "`onnxbench run --resume` the run to measure that case again") from None


def read_results(raw_dir: Path) -> list[Result]:
    """All results under ``raw_dir``, sorted by case id (a stable order for summaries)."""
    paths = sorted(Path(raw_dir).glob("*/result.json"))
    return [read_result(p) for p in paths]
