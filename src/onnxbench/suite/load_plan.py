"""The library behind ``onnxbench load``: a model, runtimes and load points → cases → a run.

    from onnxbench.suite.load_plan import load_cases, run_load
    cases = load_cases("model.onnx", ["ort-cpu"], concurrency=[1, 2, 4], layouts=["shared"])
    outcome = run_load(cases, "runs")

Each load point is a Case (``Case.scenario``) run in its own worker, written to
``raw/<case_id>/result.json``: resumable (``onnxbench run --resume``) and aggregatable like
every other case. Every value a user can get wrong is checked here, before anything runs.
"""

from __future__ import annotations

import itertools
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from onnxbench.core.case import Case
from onnxbench.core.errors import UserError
from onnxbench.core.load_spec import INFEASIBLE, LoadSpec
from onnxbench.core.policy import MeasurePolicy
from onnxbench.measure.early_stopping import requests_needed

OVERHEAD_S = 300.0  # per case: worker start, session, pre-check, ceiling, warm-up, drain
PEAK_PROBES = 20    # a peak search's probes, for its time-out

FLAGS = {"qps": "--qps", "concurrency": "--concurrency", "duration_s": "--duration",
         "bound_ms": "--p99/--bound", "percentile": "--percentile", "workers": "--workers",
         "max_batch": "--max-batch", "max_delay_ms": "--max-delay", "layout": "--layout",
         "arrival": "--arrival", "generator": "--generator", "precision_pct": "--resolution",
         "confirm_s": "--confirm", "name": "--scenario"}


def scenario_name(qps: Sequence[float] | None, concurrency: Sequence[int] | None,
                  find_peak: bool, scenario: str | None) -> str:
    """The scenario the flags ask for (one of them, or an explicit --scenario)."""
    given = [n for n, on in (("server", bool(qps)), ("concurrency", bool(concurrency)),
                             ("peak", find_peak)) if on]
    if len(given) > 1:
        raise UserError(f"choose one of --qps (server), --concurrency or --find-peak; got "
                        f"{' and '.join(given)}")
    name = given[0] if given else scenario
    if scenario and given and scenario != given[0]:
        flag = {"server": "--qps", "concurrency": "--concurrency", "peak": "--find-peak"}[given[0]]
        raise UserError(f"--scenario {scenario} does not go with the {flag} flag")
    if name in (None, "single-stream"):
        raise UserError("choose a load: --qps 100,200 (server), --concurrency 1,2,4 "
                        "(closed loop), --find-peak --p99 10ms, or --scenario offline "
                        "(single-stream is `onnxbench bench`)")
    known = typing.get_args(LoadSpec.model_fields["name"].annotation)
    if name not in known:
        from onnxbench.core.options import did_you_mean

        near = did_you_mean(name, known)
        hint = f"did you mean {near!r}? " if near else ""
        raise UserError(f"--scenario {name!r}: unknown; {hint}choose one of: {', '.join(known)}")
    return name


def load_specs(name: str, *, qps: Sequence[float] | None = None,
               concurrency: Sequence[int] | None = None, layouts: Sequence[str] = ("shared",),
               workers: Sequence[int | None] = (None,), max_batch: Sequence[int] = (1,),
               **fields: Any) -> list[LoadSpec]:
    """Every load point: layouts × workers × batching × (rates | concurrencies | one peak)."""
    points: list[dict[str, Any]] = [{}]
    if name == "server":
        points = [{"qps": q} for q in qps or []]
    elif name == "concurrency":
        points = [{"concurrency": c} for c in concurrency or []]
    out = []
    for layout, w, mb, point in itertools.product(layouts, workers, max_batch, points):
        values = {k: v for k, v in {**fields, "layout": layout, "workers": w, "max_batch": mb,
                                    **point}.items() if v is not None}
        try:
            out.append(LoadSpec(name=name, **values))
        except ValidationError as exc:
            raise UserError(_flag_error(exc, {"name": name, **values})) from None
    return out


def _flag_error(exc: ValidationError, values: dict[str, Any]) -> str:
    err = exc.errors()[0]
    field = str(err["loc"][0]) if err["loc"] else ""
    msg = err["msg"].removeprefix("Value error, ")
    if field:
        return f"{FLAGS.get(field, field)} {values.get(field)!r}: {msg}"
    if msg.startswith("duration"):
        return f"--duration: {msg}"
    if msg.startswith("confirm_s"):
        return f"--confirm: {msg}"
    return msg


def load_cases(model: str, runtimes: Sequence[str], specs: Sequence[LoadSpec], *,
               batch: int = 1, seq: int | None = None, config: str | None = None,
               exporter: str | None = None, threads: int | None = None,
               shapes: dict | None = None, ranges: dict | None = None,
               values: dict | None = None, options: dict[str, Any] | None = None,
               warmup: int | None = None) -> list[Case]:
    """One case per runtime × load point."""
    opts = dict(options or {})
    if threads is not None:
        opts["threads"] = threads
    policy = MeasurePolicy(**({"warmup": warmup} if warmup is not None else {}))
    return [Case(model=model, config=config, exporter=exporter, runtime=rt, batch=batch, seq=seq,
                 options=opts, shapes=shapes or {}, ranges=ranges or {}, values=values or {},
                 measure=policy, scenario=spec)
            for rt in runtimes for spec in specs]


def case_timeout(spec: LoadSpec) -> float:
    """A generous time-out: the measured seconds (every peak probe and confirmation) plus
    start-up and drain."""
    from onnxbench.scenarios.peak import MAX_CONFIRMS

    per_point = spec.duration_s
    if spec.name in ("server", "peak") and spec.qps:
        per_point = max(per_point, requests_needed(0, spec.percentile) / spec.qps)
    probes = PEAK_PROBES if spec.name == "peak" else 1
    confirms = MAX_CONFIRMS * spec.confirm_s if spec.name == "peak" else 0.0
    return OVERHEAD_S + 3.0 * per_point * probes + 1.5 * confirms


def run_load(cases: list[Case], out: str | Path = "runs", *, timeout_s: float | None = None,
             progress=None, name: str = "load"):
    """Run the load cases into a fresh run directory (summary and report included)."""
    from onnxbench.suite.plan import Plan
    from onnxbench.suite.runner import run_suite

    timeouts = {c.case_id: timeout_s or (case_timeout(c.scenario) if c.scenario else OVERHEAD_S)
                for c in cases}
    return run_suite(Plan(name, cases, timeouts), out, progress=progress)


def infeasible_reason(results) -> str | None:
    """The first result whose bound no single request meets (the CLI's exit-2 line)."""
    return next((r.reason for r in results if r.status == "failed" and r.reason
                 and INFEASIBLE in r.reason), None)


__all__ = [
    "case_timeout",
    "infeasible_reason",
    "load_cases",
    "load_specs",
    "run_load",
    "scenario_name",
]
