"""Expand a validated suite into its Plan: the ordered list of Cases to run.

Each case entry inherits the suite's defaults field by field, then its axes (model, config,
exporter, runtimes, batch, seq, precision) and its ``ab:`` axes expand into the cross
product. An ``ab:`` axis may vary any case field (``model``, ``config``, ``exporter``,
``runtime``, ``batch``, ``seq``, ``precision``, ``options`` as whole mappings) or, under any
other name, one option.

Every point is measured in several worker processes (``processes``, default 3; 1 for an
entry with a ``scenario:`` block, whose load points run their own durations): the point's
measurement budget is split over them (``MeasurePolicy.split``) and each is a case with its
own repeat index ``_rK``. ``repeats: N`` is the older spelling: N processes, each with the
whole budget. The order is deterministic: process 0 of every case, then process 1, ... (so
drift hits every point alike), and within one round the entries' order, then model, config,
exporter, precision, runtime, batch, seq, load point (a ``scenario:`` block's cross product,
see ``onnxbench.core.load_spec``), and the A/B values last, so the A and B of a pair run
back to back, A first in even rounds and B first in odd ones (ABBA). Duplicate cases keep
the first. An entry that runs an ONNX graph of a zoo or factory model without naming an
``exporter`` gets ``bench``'s default (the framework's first: ``dynamo``).
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from typing import Any

from onnxbench.core.case import Case, tag_colliding_models
from onnxbench.core.errors import UserError, os_error_message
from onnxbench.core.load_spec import LoadSpec, ScenarioBlock
from onnxbench.core.policy import BOUNDS, MeasurePolicy, bounds_problem
from onnxbench.core.rundir import PLAN, RunDir, read_plan_text
from onnxbench.measure.shape_mix import parse_mix
from onnxbench.model.frameworks import default_exporter
from onnxbench.model.onnxfile import is_onnx_file
from onnxbench.model.zoo import resolve
from onnxbench.runtimes.case_options import check_options
from onnxbench.runtimes.registry import runtime_class, validate_runtime_name
from onnxbench.suite.schema import (
    DEFAULT_RUNTIMES,
    Axes,
    CaseEntry,
    MeasureSpec,
    Suite,
    ab_case_fields,
    ab_field,
)

DEFAULT_TIMEOUT_S = 600.0
DEFAULT_PROCESSES = 3
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
    def from_json(cls, text: str) -> Plan:
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
    defaults = MeasurePolicy().model_dump()
    for low, high in BOUNDS:  # one bound given: the other's default gives way to it
        if low in merged and high not in merged:
            merged[high] = max(merged[low], defaults[high])
        elif high in merged and low not in merged:
            merged[low] = min(merged[high], defaults[low])
    problem = bounds_problem(merged)  # both given, out of order: the user's to settle
    if problem:
        raise UserError(f"measure: {problem}")
    return MeasurePolicy(**merged)


def load_points(block: ScenarioBlock | None) -> list[LoadSpec | None]:
    """A ``scenario:`` block's load points (one case each); ``[None]``: single-stream."""
    return block.specs() if block is not None else [None]


def processes_of(entry: Axes, defaults: Axes) -> tuple[int, int]:
    """(worker processes per point, the factor its measure budget is split by).

    ``processes: N`` splits the budget over N (never more processes than timed runs: each
    times one at least); ``repeats: N`` (the older spelling) gives each
    of N processes the whole budget; neither: ``DEFAULT_PROCESSES``, split (one process for
    load points: a ``scenario:`` runs its own duration, which a split would not shorten).
    """
    policy = measure_policy(defaults.measure, entry.measure)
    for source in (entry, defaults):
        if source.processes is not None:
            n = policy.usable_processes(source.processes)
            return n, n
        if source.repeats is not None:
            return source.repeats, 1
    if _pick(entry, defaults, "scenario") is not None:
        return 1, 1
    n = policy.usable_processes(DEFAULT_PROCESSES)
    return n, n


def _entry_cases(entry: CaseEntry, d: Axes, repeat: int) -> list[tuple[Case, float]]:
    """Every case of one entry for one process index, with its time-out."""
    _, split = processes_of(entry, d)
    whole = measure_policy(d.measure, entry.measure)
    policy, trim = whole.split(split), whole.trim(split, repeat)
    options = {**(d.options or {}), **(entry.options or {})}
    ab = entry.ab or {}
    ab_names = sorted(ab)
    ab_grid = list(itertools.product(*(ab[n] for n in ab_names)))
    if repeat % 2:
        ab_grid.reverse()  # ABBA: B first in odd rounds, so drift within a round cancels
    timeout = float(_pick(entry, d, "timeout_s", DEFAULT_TIMEOUT_S))
    models: list[str | None] = list(entry.model) if entry.model else [None]
    grid = itertools.product(
        models, _pick(entry, d, "config", [None]),
        _pick(entry, d, "exporter", [None]), _pick(entry, d, "precision", ["fp32"]),
        _pick(entry, d, "runtimes", DEFAULT_RUNTIMES), _pick(entry, d, "batch", DEFAULT_BATCH),
        [None] if entry.seq_mix is not None else _pick(entry, d, "seq", [None]),  # a mix sets seq
        load_points(_pick(entry, d, "scenario")), _pick(entry, d, "hardware", [None]), ab_grid)
    out = []
    for (model, config, exporter, precision, runtime, batch, seq, load, hardware,
         ab_values) in grid:
        fields = ab_case_fields(model=model, config=config, exporter=exporter,
                                precision=precision, runtime=runtime, batch=batch, seq=seq,
                                options=options, ab=dict(zip(ab_names, ab_values)))
        if is_onnx_file(fields["model"]):  # a bare graph has no config and was not exported here
            fields["config"] = fields["exporter"] = None
        case = Case(**fields, shapes=entry.shapes or {}, ranges=entry.ranges or {},
                    measure=policy, trim_runs=trim, repeat=repeat,
                    seed=int(_pick(entry, d, "seed", 0)),
                    scenario=load, hardware=hardware,
                    **_data_fields(entry))
        out.append((case, timeout))
    return _default_exporter(out)


def _default_exporter(cases: list[tuple[Case, float]]) -> list[tuple[Case, float]]:
    """An entry without ``exporter:`` whose cases run an ONNX graph gets the exporter
    ``bench`` defaults to (the model's framework's first: ``dynamo``, ``tf2onnx``) for all
    its cases, PyTorch ones too (one artifact, one series per model, as in ``bench``); an
    entry with no ONNX runtime keeps none (nothing is exported for it)."""
    models = [c for c, _ in cases if not is_onnx_file(c.model)]
    if not any(c.exporter is None for c in models) or not any(
            runtime_class(c.runtime).framework == "onnx" for c in models):
        return cases
    return [(c.model_copy(update={"exporter": default_exporter(resolve(c.model))})
             if c.exporter is None and not is_onnx_file(c.model) else c, t) for c, t in cases]


def _data_fields(entry: CaseEntry) -> dict[str, Any]:
    """The entry's real inputs, fixed values and shape mix (a file of lengths read here)."""
    return {"values": entry.values or {}, "inputs": entry.inputs,
            "seq_mix": parse_mix(entry.seq_mix) if entry.seq_mix is not None else None}


def expand(suite: Suite) -> Plan:
    """The suite's cases in run order (processes interleaved), de-duplicated by case id."""
    d = suite.defaults
    counts = [processes_of(e, d)[0] for e in suite.cases]
    cases: list[Case] = []
    timeouts: dict[str, float] = {}
    raw = [pair for r in range(max(counts)) for entry, n in zip(suite.cases, counts)
           if r < n for pair in _entry_cases(entry, d, r)]
    tagged = tag_colliding_models(case for case, _ in raw)
    for case, (_, timeout) in zip(tagged, raw):
        if case.case_id not in timeouts:
            cases.append(case)
            timeouts[case.case_id] = timeout
    ab_axes: dict[str, list[Any]] = {}
    for entry in suite.cases:
        for name, values in (entry.ab or {}).items():
            axis = ab_axes.setdefault(ab_field(name), [])
            axis += [v for v in values if v not in axis]
    from onnxbench.report.table_specs import plan_record

    tables = [plan_record(t) for t in suite.tables]
    return Plan(suite.suite, cases, timeouts, ab_axes, suite.description, tables)


def check_plan(plan: Plan, source: str) -> None:
    """A plan read back (``configs/plan.json`` on ``--resume``: anyone may have edited it)
    checked as a suite's cases are: each runtime known, its options and precision valid,
    each time-out a positive number of seconds. UserError naming ``source`` and the case."""
    from onnxbench.suite.schema import check_precision

    for case in plan.cases:
        where = f"{source}: case {case.case_id}"
        try:
            validate_runtime_name(case.runtime)
            check_options(case.runtime, case.options)
            check_precision(case.runtime, case.precision)
        except UserError as exc:
            raise UserError(f"{where}: {exc}") from None
        timeout = plan.timeout_for(case)
        if not math.isfinite(timeout) or timeout <= 0:
            raise UserError(f"{where}: timeout_s {timeout:g}: must be a positive number of "
                            "seconds; fix the plan (or start the suite again)")


def read_plan(run: RunDir):
    """The plan of a run directory, checked as a suite's is (``plan.check_plan``: it may
    have been edited); UserError (one line) for a plan.json that is not one."""
    path = run.file("configs", PLAN)
    try:
        plan = Plan.from_json(read_plan_text(run))
    except OSError as exc:
        raise UserError(os_error_message(exc, "reading the plan")) from None
    except (ValueError, KeyError, TypeError) as exc:  # JSON, pydantic (a ValueError), fields
        first = _first_problem(exc)
        raise UserError(f"{path}: not a plan onnxbench wrote ({first[:200]}); "
                        "start the suite again") from None
    check_plan(plan, str(path))
    return plan


def _first_problem(exc: Exception) -> str:
    """One line for what is wrong with a plan: a pydantic error's field and message."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        err = errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        message = str(err.get("msg", "")).removeprefix("Value error, ")
        return f"{where}: {message}" if where else message
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
