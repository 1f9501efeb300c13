"""Expand a validated suite into its Plan: the ordered list of Cases to run.

Each case entry inherits the suite's defaults field by field, then its axes (model, config,
exporter, runtimes, batch, seq, precision) and its ``ab:`` option axes expand into the
cross product. The order is deterministic: repeat 0 of every case, then repeat 1, ... (so
drift hits every arm alike), and within a repeat the entries' order, then model, config,
exporter, precision, A/B values, runtime, batch, seq, load point (a ``scenario:`` block's
cross product, see ``onnxbench.scenarios.spec``). Duplicate cases keep the first.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from onnxbench.case import Case
from onnxbench.measure.policy import MeasurePolicy
from onnxbench.onnxfile import is_onnx_file
from onnxbench.scenarios.spec import LoadSpec, ScenarioBlock
from onnxbench.suite.schema import DEFAULT_RUNTIMES, Axes, CaseEntry, MeasureSpec, Suite

DEFAULT_TIMEOUT_S = 600.0
DEFAULT_BATCH = [1]


@dataclass
class Plan:
    """The cases in run order, their per-case time-outs, and the A/B axes for the report."""

    suite: str
    cases: list[Case]
    timeouts: dict[str, float] = field(default_factory=dict)
    ab_axes: dict[str, list[Any]] = field(default_factory=dict)
    description: str = ""
    tables: list[dict[str, Any]] = field(default_factory=list)  # the suite's report tables

    def timeout_for(self, case: Case) -> float:
        return self.timeouts.get(case.case_id, DEFAULT_TIMEOUT_S)

    def to_json(self) -> str:
        doc = {"suite": self.suite, "description": self.description, "n_cases": len(self.cases),
               "ab_axes": self.ab_axes, "tables": self.tables,
               "cases": [{"case_id": c.case_id, "artifact_key": c.artifact_key,
                          "timeout_s": self.timeout_for(c), "case": c.model_dump(mode="json")}
                         for c in self.cases]}
        return json.dumps(doc, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Plan":
        doc = json.loads(text)
        cases = [Case.model_validate(item["case"]) for item in doc["cases"]]
        timeouts = {item["case_id"]: float(item["timeout_s"]) for item in doc["cases"]}
        return cls(doc["suite"], cases, timeouts, doc.get("ab_axes") or {},
                   doc.get("description", ""), doc.get("tables") or [])


def _pick(entry: Axes, defaults: Axes, name: str, fallback: Any = None) -> Any:
    value = getattr(entry, name)
    if value is None:
        value = getattr(defaults, name)
    return fallback if value is None else value


def measure_policy(*specs: MeasureSpec | None) -> MeasurePolicy:
    """Merge measure blocks (later wins) into a MeasurePolicy; ``runs: N`` → exactly N runs."""
    merged: dict[str, Any] = {}
    for spec in specs:
        if spec is not None:
            merged.update(spec.model_dump(exclude_none=True))
    runs = merged.pop("runs", None)
    if runs is not None:
        merged.setdefault("min_runs", runs)
        merged.setdefault("max_runs", runs)
        merged.setdefault("min_time_s", 0.0)
    if merged.get("min_runs", 0) > merged.get("max_runs", 10**9):
        merged["max_runs"] = merged["min_runs"]
    return MeasurePolicy(**merged)


def load_points(block: ScenarioBlock | None) -> list[LoadSpec | None]:
    """A ``scenario:`` block's load points (one case each); ``[None]``: single-stream."""
    return block.specs() if block is not None else [None]


def _entry_cases(entry: CaseEntry, d: Axes, repeat: int) -> list[tuple[Case, float]]:
    """Every case of one entry for one repeat index, with its time-out."""
    policy = measure_policy(d.measure, entry.measure)
    options = {**(d.options or {}), **(entry.options or {})}
    ab = entry.ab or {}
    ab_names = sorted(ab)
    timeout = float(_pick(entry, d, "timeout_s", DEFAULT_TIMEOUT_S))
    grid = itertools.product(
        entry.model, _pick(entry, d, "config", [None]), _pick(entry, d, "exporter", [None]),
        _pick(entry, d, "precision", ["fp32"]),
        itertools.product(*(ab[n] for n in ab_names)),
        _pick(entry, d, "runtimes", DEFAULT_RUNTIMES), _pick(entry, d, "batch", DEFAULT_BATCH),
        [None] if entry.seq_mix is not None else _pick(entry, d, "seq", [None]),  # a mix sets seq
        load_points(_pick(entry, d, "scenario")), _pick(entry, d, "hardware", [None]))
    out = []
    for model, config, exporter, precision, ab_values, runtime, batch, seq, load, hardware in grid:
        if is_onnx_file(model):  # a bare graph has no config and was not exported here
            config = exporter = None
        case = Case(model=model, config=config, exporter=exporter, runtime=runtime, batch=batch,
                    seq=seq, precision=precision,
                    options={**options, **dict(zip(ab_names, ab_values))},
                    shapes=entry.shapes or {}, ranges=entry.ranges or {}, measure=policy,
                    repeat=repeat, seed=int(_pick(entry, d, "seed", 0)), scenario=load,
                    hardware=hardware,
                    **_data_fields(entry))
        out.append((case, timeout))
    return out


def _data_fields(entry: CaseEntry) -> dict[str, Any]:
    """The entry's real inputs, fixed values and shape mix (a file of lengths read here)."""
    from onnxbench.shape_mix import parse_mix

    return {"values": entry.values or {}, "inputs": entry.inputs,
            "seq_mix": parse_mix(entry.seq_mix) if entry.seq_mix is not None else None}


def expand(suite: Suite) -> Plan:
    """The suite's cases in run order (repeats interleaved), de-duplicated by case id."""
    d = suite.defaults
    repeats = [int(_pick(e, d, "repeats", 1)) for e in suite.cases]
    cases: list[Case] = []
    timeouts: dict[str, float] = {}
    for r in range(max(repeats)):
        for entry, n in zip(suite.cases, repeats):
            if r >= n:
                continue
            for case, timeout in _entry_cases(entry, d, r):
                if case.case_id not in timeouts:
                    cases.append(case)
                    timeouts[case.case_id] = timeout
    ab_axes: dict[str, list[Any]] = {}
    for entry in suite.cases:
        for name, values in (entry.ab or {}).items():
            ab_axes.setdefault(name, [])
            ab_axes[name] += [v for v in values if v not in ab_axes[name]]
    from onnxbench.suite.tables import plan_record

    tables = [plan_record(t) for t in suite.tables]
    return Plan(suite.suite, cases, timeouts, ab_axes, suite.description, tables)
