"""What a load case writes into its ``result.json`` (``Result.load``): the contract's load part.

Every time is measured from the request's **scheduled** arrival (``latency_from``), so
queueing shows and coordinated omission cannot hide it. ``requests`` keeps every request's
scheduled, issued, started and completed time (integer microseconds from the first
scheduled arrival), so any statistic can be recomputed from the file alone.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Quantiles(BaseModel):
    """Latency percentiles (ms) with distribution-free 95 % CIs (order statistics)."""

    model_config = ConfigDict(extra="forbid")

    p50: float
    p90: float
    p95: float
    p99: float
    mean: float
    max: float
    ci: dict[str, list[float | None]] = Field(default_factory=dict)  # "p99": [low, high]


class BoundCheck(BaseModel):
    """Is the percentile within the bound, and how sure (LoadGen's early stopping)?"""

    model_config = ConfigDict(extra="forbid")

    percentile: float
    bound_ms: float
    value_ms: float            # the measured percentile
    met: bool                  # percentile within the bound AND the queue not growing
    percentile_met: bool | None = None  # value_ms <= bound_ms (LoadGen's PerfConstraintsMet)
    why_not: str | None = None  # when not met: the percentile over the bound, or the queue
    over: int                  # requests over the bound
    n: int
    confidence: float          # that the true percentile is within the bound
    early_stopping_met: bool   # confidence >= 0.99 (LoadGen's early stopping)
    requests_needed: int       # for early stopping to pass with this many over the bound


class Harness(BaseModel):
    """The generator's own limits: a result near them is the harness's, not the model's."""

    model_config = ConfigDict(extra="forbid")

    ceiling_qps: float | None = None      # no-op runtime, same generator/layout/batching
    ceiling_is_lower_bound: bool = False  # the no-op kept up with the rate asked of it
    limited: bool = False
    reasons: list[str] = Field(default_factory=list)
    issue_delay_p50_ms: float | None = None  # issued minus scheduled
    issue_delay_p99_ms: float | None = None
    margin: float = 0.5
    python_gc: str | None = None  # the cyclic collector during the window (None: not recorded)
    issue_share: float | None = None  # issue delay p99 / latency p99 (informative, not a mark)


class Affinity(BaseModel):
    """Which CPUs the generator and the serving workers ran on (``os.sched_setaffinity``)."""

    model_config = ConfigDict(extra="forbid")

    cpus: list[int]                 # the case's CPUs (its affinity when it started)
    generator: list[int]            # the generator's thread (LoadGen's, during each window)
    serving: list[int]              # serving threads, sessions' pools and processes
    shared: bool                    # too few CPUs to keep them apart: they share all
    note: str = ""


class Stationarity(BaseModel):
    """Was the window's queue stable? Its trend, the backlog at the end, the utilisation ρ
    (``scenarios/stationarity.py``). Slopes are ms of delay per second of window; their
    ``*_low`` is the one-sided lower confidence bound the verdict uses."""

    model_config = ConfigDict(extra="forbid")

    verdict: str                    # stable | near | growing | unknown | n/a (closed loop)
    reason: str | None = None       # why growing (or unknown), one line
    window_s: float                 # first to last scheduled arrival
    rate_qps: float | None = None   # the rate ρ is computed at (target, else offered)
    busy_ms: float | None = None    # mean worker time per request (started -> finished)
    workers: int = 1
    rho: float | None = None        # rate × busy / workers
    rho_ci: list[float | None] = Field(default_factory=list)  # [low, high], two-sided
    capacity_qps: float | None = None     # workers / busy: no rate above it is sustainable
    capacity_high_qps: float | None = None  # its upper confidence bound (caps the search)
    queue_slope: float | None = None      # queueing delay (scheduled -> started), ms/s
    queue_slope_low: float | None = None
    latency_slope: float | None = None    # latency (scheduled -> completed), ms/s
    latency_slope_low: float | None = None
    queue_first_third_ms: float | None = None  # mean queueing delay, first / last third
    queue_last_third_ms: float | None = None
    backlog: int | None = None            # requests not completed at the last arrival
    backlog_s: float | None = None        # ... as seconds of arrivals at the rate
    bins: int = 0
    confidence: float = 0.999
    method: str = ""


class OutputCheck(BaseModel):
    """Outputs under concurrency against sequential outputs of the same inputs."""

    model_config = ConfigDict(extra="forbid")

    threads: int
    samples: int
    compared: int
    bitwise_equal: bool
    passed: bool               # within rtol/atol
    rtol: float
    atol: float
    max_abs: float | None = None
    problem: str | None = None


class Probe(BaseModel):
    """One rate tried by the peak search."""

    model_config = ConfigDict(extra="forbid")

    target_qps: float
    achieved_qps: float | None
    value_ms: float | None      # the percentile at this rate
    p50_ms: float | None = None
    met: bool
    confidence: float | None
    n: int
    overloaded: bool = False
    phase: str = "widen"        # start | widen | bisect | confirm
    duration_s: float | None = None  # the probe's measured seconds (None: before confirm_s)
    window_s: float | None = None    # measured: first scheduled arrival to last completion
    rho: float | None = None         # utilisation (Stationarity.rho)
    capacity_qps: float | None = None  # upper bound of workers / busy time: caps the search
    queue: str | None = None         # the stationarity verdict
    queue_slope: float | None = None  # ms/s
    why_not: str | None = None       # when not met: the bound, the queue, an overload


class Peak(BaseModel):
    """The highest rate found whose percentile stayed within the bound: with confirmation on,
    the highest rate that also held for ``confirm_s`` (``search_qps`` the short-window one)."""

    model_config = ConfigDict(extra="forbid")

    qps: float | None          # the target rate of the best passing (confirmed) probe
    achieved_qps: float | None
    value_ms: float | None
    confidence: float | None
    bound_ms: float
    percentile: float
    precision_pct: float
    bracket: list[float | None]  # the search's [highest passing, lowest failing]
    converged: bool            # the short-window search's bracket reached precision_pct
    reason: str | None = None
    search_qps: float | None = None  # the rate the short-window search converged on
    confirm_s: float = 0.0     # seconds of each confirmation run (0: none ran)
    confirmed: bool = False    # a confirmation run at ``qps`` met the bound, queue not growing
    evidence: Probe | None = None  # the run the peak rests on (its window, ρ, queue)
    lower_bound: Probe | None = None  # no peak: the highest rate that held, and for how long
    capacity_qps: float | None = None  # the capacity bound the search did not probe past
    capped: bool = False       # the bracket's upper end is the capacity bound, not a probe


class RequestLog(BaseModel):
    """Per-request times, integer microseconds from the first scheduled arrival, in issue
    order. Above ``MAX_LOGGED`` requests every ``stride``-th one is kept (the figures of the
    record are computed from all ``total`` of them before that)."""

    model_config = ConfigDict(extra="forbid")

    unit: str = "us"
    origin: str = "first scheduled arrival"
    total: int = 0
    stride: int = 1
    scheduled: list[int] = Field(default_factory=list)
    issued: list[int] = Field(default_factory=list)
    started: list[int] = Field(default_factory=list)
    completed: list[int] = Field(default_factory=list)
    finished: list[int] = Field(default_factory=list)  # worker free again; [] = completed
    batch: list[int] = Field(default_factory=list)    # requests served in the same call
    worker: list[int] = Field(default_factory=list)


class LoadRecord(BaseModel):
    """One load point: what was asked, what the generator did, what came out."""

    model_config = ConfigDict(extra="forbid")

    scenario: str
    generator: str
    latency_from: str = "scheduled arrival"
    layout: str
    workers: int
    max_batch: int = 1
    max_delay_ms: float | None = None
    arrival: str | None = None
    target_qps: float | None = None
    concurrency: int | None = None
    window_s: float = 0.0          # first scheduled arrival to last completion
    n_requests: int = 0
    n_completed: int = 0
    n_errors: int = 0
    first_error: str | None = None
    overloaded: bool = False       # the generator stopped issuing: too many outstanding
    achieved_qps: float | None = None  # completed requests / window
    offered_qps: float | None = None   # scheduled requests / scheduled span
    items_per_s: float | None = None   # achieved_qps × the case's batch
    latency_ms: Quantiles | None = None
    service_ms: Quantiles | None = None  # started -> completed (one call)
    queue_ms: Quantiles | None = None    # scheduled -> started
    in_flight_mean: float | None = None  # Little's law: sum of latencies / window
    in_flight_max: int | None = None
    mean_batch: float | None = None
    bound: BoundCheck | None = None
    single_stream: dict[str, Any] | None = None  # the pre-check: p50/p99 one at a time
    harness: Harness | None = None
    stationarity: Stationarity | None = None  # ρ; open loop: the queue's trend, backlog
    affinity: Affinity | None = None
    check: OutputCheck | None = None
    peak: Peak | None = None
    probes: list[Probe] = Field(default_factory=list)
    loadgen: dict[str, Any] | None = None  # LoadGen's own summary of the (last) run
    notes: list[str] = Field(default_factory=list)
    requests: RequestLog = Field(default_factory=RequestLog)


__all__ = [
    "Affinity",
    "BoundCheck",
    "Harness",
    "LoadRecord",
    "OutputCheck",
    "Peak",
    "Probe",
    "Quantiles",
    "RequestLog",
    "Stationarity",
]
