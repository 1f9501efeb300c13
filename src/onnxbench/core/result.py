"""The result of one case: the contract between measuring and everything after it.

``raw/<case_id>/result.json`` holds one ``Result``. Summary (``suite/aggregate.py``),
report, compare and resume read these files, never live objects.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from onnxbench.core.case import Case
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


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one.

    The file gets the mode an ordinary ``open`` would (0644 under the usual umask 022), not
    ``mkstemp``'s private 0600: results are meant to be shared.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # a full disk, read-only, ...: name the file meant, not the temp
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def current_umask() -> int:
    """The process umask, read without changing it (Linux: /proc/self/status)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return mask


def write_result(result: Result, raw_dir: Path) -> Path:
    """Write ``raw_dir/<case_id>/result.json`` atomically and return its path."""
    path = raw_dir / result.case_id / "result.json"
    atomic_write_text(path, result.model_dump_json(indent=1))
    return path


def read_result(path: Path) -> Result:
    """One ``result.json``; UserError naming the file when it cannot be read or is not one."""
    from pydantic import ValidationError

    from onnxbench.core.errors import UserError, os_error_message

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
