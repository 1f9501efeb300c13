"""The search space of ``tune``: candidates built from the registries, each drop with its reason.

A candidate is one deployable configuration: a runtime (from the runtime registry), the
exporter of its graph, a precision with its settings (int8 per-tensor or per-channel,
``reduce_range``, static calibration method), the graph passes (transformer fusion), the
session's graph level, its intra-op threads, and for rate goals the serving layout, the
workers and dynamic batching. The dimensions and their default values are ``DEFAULTS``;
``--space KEY=V1,V2`` narrows or widens one (``space_keys()`` lists them).

Combinations that cannot be deployed are dropped here with their reason and never measured:
a runtime this machine lacks (a GPU runtime on a CPU box, with the reason the suite
dry-run gives), a PyTorch runtime on a bare ONNX file, a precision a runtime does not run, a
shared session under several threads for a runtime that is not thread-safe, more cores than
the machine has. Exporters whose graph fails parity are dropped when the graph is built
(``evidence``), before any timing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from onnxbench.core.errors import UserError, did_you_mean
from onnxbench.core.options import EXPORT_OPTIONS, OPTIMIZE_OPTIONS
from onnxbench.runtimes import runtime_label

# dimension -> default values ("cores": threads 1..the machine's cores)
DEFAULTS: dict[str, list[Any]] = {
    "precision": ["fp32", "int8-dynamic", "int8-static"],
    "per_channel": [False, True],          # int8 weight scales: per tensor / per channel
    "reduce_range": [False],               # int8: 7-bit weights
    "calibration": ["minmax"],             # int8-static
    "fuse": [False, True],                 # transformer fusion (transformer models only)
    "level": ["all"],                      # ORT session graph optimisation level
    "threads": ["cores"],                  # intra-op threads: 1..cores
    "compile_mode": ["default"],           # torch.compile modes
    "layout": ["shared", "processes"],     # rate goals: serving layout
    "workers": ["cores"],                  # rate goals: 1..cores
    "max_batch": [1, 8],                   # rate goals: dynamic batching (1: off)
    "max_delay_ms": [2.0],
    "exporter": ["default"],               # the model framework's first exporter
}
SERVING_KEYS = ("layout", "workers", "max_batch", "max_delay_ms")
GPU_PRECISIONS = ("fp16",)


@dataclass(frozen=True)
class Serving:
    layout: str = "shared"
    workers: int = 1
    max_batch: int = 1
    max_delay_ms: float = 2.0

    def label(self) -> str:
        n, many = self.workers, self.workers > 1
        text = {"processes": f"{n} worker process{'es' * many}",
                "per-thread": f"{n} worker thread{'s' * many}, a session each"}.get(
            self.layout, f"{n} worker thread{'s' * many} on one session ({self.layout})")
        if self.max_batch > 1:
            text += f", batching ≤ {self.max_batch} / {self.max_delay_ms:g} ms"
        return text


@dataclass(frozen=True)
class Candidate:
    """One configuration to measure: everything a case needs but the model and the batch."""

    runtime: str
    exporter: str | None = None
    precision: str = "fp32"
    options: tuple[tuple[str, Any], ...] = ()
    serving: Serving | None = None

    @property
    def opts(self) -> dict[str, Any]:
        return dict(self.options)

    @property
    def threads(self) -> int:
        return int(self.opts.get("threads") or 1)

    @property
    def cores(self) -> int:
        """Cores it occupies: intra-op threads × serving workers."""
        return self.threads * (self.serving.workers if self.serving else 1)

    @property
    def engine(self) -> Candidate:
        """The same candidate without its serving part (what a single-stream screen times)."""
        return Candidate(self.runtime, self.exporter, self.precision, self.options)

    @property
    def graph(self) -> str:
        """What its artifact is built from: the export, and the precision and passes of the
        graph (candidates with one graph share one build)."""
        opts = sorted((k, v) for k, v in self.options if k in EXPORT_OPTIONS)
        return json.dumps([self.exporter, self.precision, opts], default=str)

    @property
    def base(self) -> str:
        """The export its graph derives from (fp32, no passes)."""
        opts = sorted((k, v) for k, v in self.options
                      if k in EXPORT_OPTIONS and k not in OPTIMIZE_OPTIONS)
        return json.dumps([self.exporter, "fp32", opts], default=str)

    @property
    def family(self) -> tuple[str, str | None]:
        """Runtime and exporter: what a batch-1 remedy is learned for."""
        return self.runtime, self.exporter

    def with_options(self, extra: Mapping[str, Any]) -> Candidate:
        """The same candidate with ``extra`` options on top."""
        opts = {**self.opts, **extra}
        return Candidate(self.runtime, self.exporter, self.precision,
                         tuple(sorted(opts.items())), self.serving)

    @property
    def key(self) -> str:
        doc = [self.runtime, self.exporter, self.precision, self.options,
               None if self.serving is None else list(vars(self.serving).values())]
        return json.dumps(doc, default=str, separators=(",", ":"))

    def params(self) -> dict[str, str]:
        """Every dimension's value as text ("-" where it does not apply): for the sampler."""
        opts = self.opts
        out = {"runtime": self.runtime, "exporter": str(self.exporter or "-"),
               "precision": self.precision}
        for name in ("per_channel", "reduce_range", "calibration", "fuse", "level", "threads",
                     "compile_mode"):
            key = {"level": "graph_optimization_level", "compile_mode": "mode"}.get(name, name)
            out[name] = str(opts.get(key, "-"))
        for name in SERVING_KEYS:
            out[name] = str(getattr(self.serving, name)) if self.serving else "-"
        return out

    def label(self) -> str:
        opts = self.opts
        bits = [runtime_label(self.runtime), _precision_label(self.precision, opts)]
        if opts.get("fuse"):
            bits.append("fused")
        if opts.get("graph_optimization_level"):
            bits.append(f"level {opts['graph_optimization_level']}")
        if opts.get("mode"):
            bits.append(f"mode {opts['mode']}")
        if self.exporter:
            fix = f" with --fix {opts['fix']}" if opts.get("fix") else ""
            bits.append(f"{self.exporter} export{fix}")
        if opts.get("pad_batch_to"):
            bits.append(f"batch padded to {opts['pad_batch_to']}")
        bits.append(f"{self.threads} thread{'s' if self.threads > 1 else ''}")
        if self.serving:
            bits.append(self.serving.label())
        return ", ".join(bits)


def _precision_label(precision: str, opts: Mapping[str, Any]) -> str:
    if not precision.startswith("int8"):
        return precision
    bits = ["per-channel" if opts.get("per_channel") else "per-tensor"]
    if opts.get("reduce_range"):
        bits.append("reduce_range")
    if precision == "int8-static":
        bits.append(str(opts.get("calibration") or "minmax"))
    return f"{precision} ({', '.join(bits)})"


@dataclass
class Space:
    """The candidates to search and the ones dropped, each with why."""

    candidates: list[Candidate] = field(default_factory=list)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (what, reason)
    dims: dict[str, list[Any]] = field(default_factory=dict)

    def drop(self, what: str, reason: str) -> None:
        if (what, reason) not in self.dropped:
            self.dropped.append((what, reason))


def space_keys() -> tuple[str, ...]:
    return ("runtimes", *DEFAULTS)


def parse_space(items: Iterable[str] | Mapping[str, Any] | None) -> dict[str, list[Any]]:
    """``["precision=fp32,int8-dynamic", "threads=1"]`` (or a mapping) → {dim: values}."""
    from onnxbench.suite.yamlsafe import option_value

    out: dict[str, list[Any]] = {}
    pairs: list[tuple[str, Any]] = []
    if isinstance(items, Mapping):
        pairs = list(items.items())
    else:
        for item in items or ():
            key, sep, value = str(item).partition("=")
            if not sep or not key.strip() or not value.strip():
                raise UserError(f"--space {item!r}: expected KEY=V1,V2 (keys: "
                                f"{', '.join(space_keys())})")
            pairs.append((key.strip(), [option_value(v.strip(), f"--space {key.strip()}")
                                        for v in value.split(",")]))
    for key, values in pairs:
        if key not in space_keys():
            near = did_you_mean(key, space_keys())
            raise UserError(f"--space {key}: unknown dimension; "
                            f"{f'did you mean {near!r}? ' if near else ''}"
                            f"choose from {', '.join(space_keys())}")
        vals = values if isinstance(values, list) else [values]
        if not vals:
            raise UserError(f"--space {key}: give at least one value")
        out[key] = vals
    return out


__all__ = ["DEFAULTS", "Candidate", "Serving", "Space", "parse_space", "space_keys"]
