"""A load point as plain data (``LoadSpec``, part of a Case) and the suite's ``scenario:`` block.

MLPerf's scenario names, so people recognise them:

- ``single-stream``: one request at a time, today's measurement (a Case without a LoadSpec);
- ``server``: open-loop arrivals (Poisson from LoadGen, or constant) at ``qps``; latency
  from each request's scheduled arrival;
- ``offline``: every request available at once; the highest sustained throughput;
- ``concurrency``: ``concurrency`` callers in a closed loop (perf_analyzer's mode);
- ``peak``: the highest rate whose ``percentile`` latency stays within ``bound_ms`` with a
  queue that does not grow (LoadGen's FindPeakPerformance: widen, then bisect), confirmed
  by a ``confirm_s`` run: the window the peak claims (60 s unless asked).

How requests are served is the layout: ``shared`` (one session, ``workers`` threads),
``per-thread`` (a session per thread), ``lock`` (one session behind an inference lock),
``processes`` (a session per worker process), ``streams`` (GPU: a CUDA stream per thread).
``max_batch`` > 1 puts a dynamic batcher in front (``max_delay_ms`` the longest a request
waits for others). Everything a user can get wrong is checked here, before anything runs.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from onnxbench.core.errors import UserError
from onnxbench.core.numbers import plain
from onnxbench.measure.early_stopping import requests_needed

ScenarioName = Literal["single-stream", "server", "offline", "concurrency", "peak"]
Layout = Literal["shared", "per-thread", "lock", "processes", "streams"]
Arrival = Literal["poisson", "constant"]
Generator = Literal["loadgen", "onnxbench"]
LAYOUTS: tuple[str, ...] = ("shared", "per-thread", "lock", "processes", "streams")
INFEASIBLE = "cannot be met: one request at a time already takes"  # a bound below single-stream
SCENARIOS: tuple[str, ...] = ("single-stream", "server", "offline", "concurrency", "peak")


class LoadSpec(BaseModel):
    """One load point: a scenario with its parameters, a serving layout, batching."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Literal["server", "offline", "concurrency", "peak"]
    qps: float | None = Field(None, gt=0, description="server: target rate; peak: starting rate")
    arrival: Arrival = Field("poisson", description="server/peak arrivals")
    generator: Generator | None = Field(None, description="server/peak: loadgen (MLPerf "
                                        "LoadGen, Poisson; the default) or onnxbench (its "
                                        "own open loop: constant, or Poisson without LoadGen)")
    concurrency: int | None = Field(None, ge=1, description="closed-loop callers")
    layout: Layout = "shared"
    workers: int | None = Field(None, ge=1, description="serving threads/processes "
                                "(default: concurrency for the concurrency scenario, else 1)")
    max_batch: int = Field(1, ge=1, description="dynamic batching: largest batch (1 = off)")
    max_delay_ms: float = Field(1.0, ge=0, description="dynamic batching: longest queue wait")
    duration_s: float = Field(10.0, gt=0, description="measured seconds per point (per probe)")
    percentile: float = Field(99.0, gt=0, lt=100, description="the percentile the bound is on")
    bound_ms: float | None = Field(None, gt=0, description="latency bound (peak: required)")
    precision_pct: float = Field(5.0, gt=0, le=100, description="peak: stop when the rate "
                                 "bracket is this narrow")
    confirm_s: float = Field(60.0, ge=0, description="peak: the window the peak claims: run "
                             "the rate the search found this long (>= duration_s); when it "
                             "fails the bound or its queue grows, step the rate down and "
                             "confirm again. 0: no confirmation")
    check_outputs: bool | None = Field(None, description="compare outputs under concurrency "
                                       "with sequential ones (default: when workers > 1)")
    ceiling: bool = Field(True, description="measure the generator's ceiling (no-op runtime)")
    seed: int = 0

    @model_validator(mode="after")
    def _fits_scenario(self) -> LoadSpec:
        problem = scenario_problem(self)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def n_workers(self) -> int:
        if self.workers is not None:
            return self.workers
        return self.concurrency if self.name == "concurrency" and self.concurrency else 1

    @property
    def batching(self) -> bool:
        return self.max_batch > 1

    @property
    def open_loop(self) -> bool:
        return self.name in ("server", "peak")

    @property
    def generator_name(self) -> str:
        """The generator that drives the point: loadgen | onnxbench | closed-loop."""
        if self.name == "concurrency":
            return "closed-loop"
        if self.name == "offline":
            return "loadgen"
        return self.generator or ("loadgen" if self.arrival == "poisson" else "onnxbench")

    def slug(self) -> str:
        """A short readable id part, e.g. ``server-qps200-shared-w2``."""
        parts: list[str] = [self.name]
        if self.qps is not None:
            parts.append(f"qps{self.qps:g}")
        if self.name in ("server", "peak") and self.arrival != "poisson":
            parts.append(self.arrival)
        if self.generator is not None:
            parts.append(self.generator)
        if self.concurrency is not None:
            parts.append(f"c{self.concurrency}")
        if self.bound_ms is not None:
            parts.append(f"p{self.percentile:g}-{self.bound_ms:g}ms")
        parts += [self.layout, f"w{self.n_workers}"]
        if self.batching:
            parts.append(f"mb{self.max_batch}-{self.max_delay_ms:g}ms")
        return "-".join(parts)


def scenario_problem(spec: LoadSpec) -> str | None:
    """What does not fit the scenario, in one line (None when it all fits)."""
    name = spec.name
    if name == "server" and spec.qps is None:
        return "the server scenario needs qps (the target arrival rate), e.g. qps: 200"
    if name == "concurrency" and spec.concurrency is None:
        return "the concurrency scenario needs concurrency (callers in flight), e.g. concurrency: 4"
    if name == "peak" and spec.bound_ms is None:
        return "the peak scenario needs bound_ms (the latency bound), e.g. bound_ms: 10"
    if spec.qps is not None and name not in ("server", "peak"):
        return f"qps is for the server and peak scenarios, not {name}"
    if spec.concurrency is not None and name != "concurrency":
        return f"concurrency is for the concurrency scenario, not {name}"
    if spec.arrival != "poisson" and name not in ("server", "peak"):
        return f"arrival is for the server and peak scenarios, not {name}"
    if spec.generator is not None and name not in ("server", "peak"):
        return f"generator is for the server and peak scenarios, not {name}"
    if spec.generator == "loadgen" and spec.arrival == "constant":
        return ("generator loadgen has no constant arrivals (LoadGen 6.0's Server is Poisson "
                "only): use generator onnxbench, the default for constant arrivals")
    if name == "peak":
        return confirm_problem(spec)
    if name == "server":
        return duration_problem(spec.qps or 0.0, spec.duration_s, spec.percentile)
    return None


def confirm_problem(spec: LoadSpec) -> str | None:
    """A confirmation shorter than a search probe confirms nothing."""
    if spec.confirm_s == 0 or spec.confirm_s >= spec.duration_s:
        return None
    given = "" if "confirm_s" in spec.model_fields_set else " (the default)"
    return (f"confirm_s {spec.confirm_s:g}{given} is shorter than duration_s "
            f"{spec.duration_s:g}: the confirmation re-runs the found rate for longer than a "
            f"search probe; use confirm_s >= {spec.duration_s:g}, or 0 for none")


def duration_problem(qps: float, duration_s: float, percentile: float) -> str | None:
    """A server point too short for its percentile: how many requests it needs instead."""
    need = requests_needed(0, percentile)
    expected = qps * duration_s
    if expected >= need:
        return None
    return (f"duration {duration_s:g} s at {plain(qps)} QPS gives about {int(expected)} requests; "
            f"the p{percentile:g} needs at least {need} (LoadGen's early stopping at 99 % "
            f"confidence with none over the bound): use a duration of at least "
            f"{math.ceil(need / qps * 10) / 10:g} s")


# ------------------------------------------------------------------ the suite's block

def _as_list(value: Any) -> Any:
    if value is None or isinstance(value, list):
        return value
    return [value]


FloatAxis = Annotated[list[Annotated[float, Field(gt=0)]] | None, BeforeValidator(_as_list)]
IntAxis = Annotated[list[Annotated[int, Field(ge=1)]] | None, BeforeValidator(_as_list)]
LayoutAxis = Annotated[list[Layout] | None, BeforeValidator(_as_list)]
BLOCK_AXES = ("qps", "concurrency", "layout", "workers", "max_batch")


class ScenarioBlock(BaseModel):
    """A suite's ``scenario:``: the LoadSpec fields, where qps, concurrency, layout, workers
    and max_batch may be lists; their cross product gives one case per load point."""

    model_config = ConfigDict(extra="forbid")

    name: ScenarioName
    qps: FloatAxis = None
    concurrency: IntAxis = None
    layout: LayoutAxis = None
    workers: IntAxis = None
    max_batch: IntAxis = None
    arrival: Arrival | None = None
    generator: Generator | None = None
    max_delay_ms: float | None = Field(None, ge=0)
    duration_s: float | None = Field(None, gt=0)
    percentile: float | None = Field(None, gt=0, lt=100)
    bound_ms: float | None = Field(None, gt=0)
    precision_pct: float | None = Field(None, gt=0, le=100)
    confirm_s: float | None = Field(None, ge=0)
    check_outputs: bool | None = None
    ceiling: bool | None = None
    seed: int | None = None

    @model_validator(mode="after")
    def _points_valid(self) -> ScenarioBlock:
        if self.confirm_s is not None and self.name != "peak":
            raise ValueError(f"confirm_s is for the peak scenario, not {self.name}")
        self.specs()  # raises ValueError (with the problem) on the first bad point
        return self

    def specs(self) -> list[LoadSpec | None]:
        """Every load point of the block (``[None]`` for single-stream: today's cases)."""
        if self.name == "single-stream":
            extra = [k for k in self.model_fields_set if k != "name"]
            if extra:
                raise ValueError(f"single-stream takes no {', '.join(sorted(extra))}: it is "
                                 "the plain measurement (measure: sets its runs)")
            return [None]
        scalars = {k: getattr(self, k) for k in self.model_fields
                   if k not in BLOCK_AXES and k != "name" and getattr(self, k) is not None}
        axes = [[(k, v) for v in getattr(self, k)] if getattr(self, k) else [(k, None)]
                for k in BLOCK_AXES]
        import itertools

        out: list[LoadSpec | None] = []
        for combo in itertools.product(*axes):
            fields = {k: v for k, v in combo if v is not None}
            out.append(LoadSpec(name=self.name, **scalars, **fields))
        return out


# ------------------------------------------------------------------ parsing CLI values

_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_time(flag: str, text: str, default_unit: str) -> float:
    """``"30s"``, ``"10ms"``, ``"2m"`` (a bare number is in ``default_unit``) → seconds."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zµ]*)\s*", str(text))
    unit = (match.group(2) or default_unit) if match else ""
    if not match or unit not in _UNITS:
        raise UserError(f"{flag} {text!r}: expected a time such as 10ms, 30s or 2m")
    value = float(match.group(1)) * _UNITS[unit]
    if value <= 0:
        raise UserError(f"{flag} {text!r}: must be greater than zero")
    return value


def parse_number_list(flag: str, text: str, kind: type = float) -> list:
    """``"100,200,400"`` → numbers, each > 0; UserError naming the flag otherwise."""
    try:
        values = [kind(t.strip()) for t in str(text).split(",") if t.strip()]
    except ValueError:
        values = []
    if not values or any(not v > 0 or v == float("inf") for v in values):
        what = "positive integers" if kind is int else "positive numbers"
        raise UserError(f"{flag} {text!r}: expected {what} separated by commas, e.g. "
                        f"{'1,2,4,8' if kind is int else '100,200,400'} (a rate or concurrency "
                        "must be greater than zero)")
    return values


__all__ = [
    "LAYOUTS",
    "SCENARIOS",
    "LoadSpec",
    "ScenarioBlock",
    "confirm_problem",
    "duration_problem",
    "parse_number_list",
    "parse_time",
    "scenario_problem",
]
