"""``tune``'s measurements as cases of one normal run directory (and ``ab`` runs inside it).

Every stage's candidates become ``Case``\\ s (screens and rungs single-stream with their own
measure policy, rate stages with a ``LoadSpec``) added to the run directory's plan
(``configs/plan.json`` is rewritten before they run, so ``onnxbench run --resume`` and
``tune --resume`` find them), built and run by the suite runner, and read back from
``raw/<case_id>/result.json`` through the one fold the summary uses. Finalists are compared
by ``onnxbench.suite.ab.run_ab`` into ``<run>/ab/``. Nothing here decides anything.

An exported graph whose parity against its source model failed (``artifact.json``) drops
the candidates on it before any timing.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onnxbench.core.artifact import META, Artifact, read_artifact_meta, read_json
from onnxbench.core.case import Case, point_id
from onnxbench.core.errors import Skip
from onnxbench.core.files import atomic_write_text
from onnxbench.core.load_spec import LoadSpec
from onnxbench.core.metrics import METRICS
from onnxbench.core.policy import MeasurePolicy
from onnxbench.core.result import read_result
from onnxbench.core.rundir import RunDir, create_run_dir
from onnxbench.model.frameworks import default_exporter
from onnxbench.model.onnxfile import is_onnx_file
from onnxbench.model.zoo import resolve
from onnxbench.suite.plan import Plan
from onnxbench.tuning.goals import Goal
from onnxbench.tuning.policy import AB_BLOCK_S
from onnxbench.tuning.records import ABOutcome, Evidence, Fidelity
from onnxbench.tuning.space import Candidate

TIMING_TIMEOUT_S = 900.0


@dataclass
class Target:
    """What every case of a tune run shares: the model, its inputs, accuracy options."""

    model: str
    config: str | None = None
    batch: int = 1
    seq: int | None = None
    seed: int = 0
    accuracy: dict[str, Any] = field(default_factory=dict)  # accuracy / accuracy_data options


def policy(seconds: float) -> MeasurePolicy:
    return MeasurePolicy(warmup=5, min_runs=5, max_runs=10**6, min_time_s=0.0,
                         max_time_s=float(seconds))


def load_spec(goal: Goal, cand: Candidate, fid: Fidelity) -> LoadSpec:
    s = cand.serving
    assert s is not None, "a load stage measures serving candidates"
    common = {"layout": s.layout, "workers": s.workers, "max_batch": s.max_batch,
              "max_delay_ms": s.max_delay_ms, "percentile": goal.percentile,
              "bound_ms": goal.bound_ms, "duration_s": fid.seconds,
              "ceiling": fid.kind == "confirm" or fid.confirm_s > 0}
    if fid.kind == "peak":
        return LoadSpec(name="peak", qps=fid.start_qps, confirm_s=fid.confirm_s,
                        precision_pct=5.0 if fid.confirm_s else 10.0, **common)
    return LoadSpec(name="server", qps=goal.qps, **common)


def make_case(target: Target, goal: Goal, cand: Candidate, fid: Fidelity,
              repeat: int = 0) -> Case:
    """The case that measures ``cand`` at ``fid`` (process ``repeat``)."""
    opts = cand.opts
    load = fid.kind in ("server", "peak", "confirm")
    if not load and fid.kind == "screen":
        opts.update(target.accuracy)
    bare = is_onnx_file(target.model)
    return Case(model=target.model, config=None if bare else target.config,
                exporter=None if bare else cand.exporter or default_exporter(resolve(target.model)),
                runtime=cand.runtime, batch=target.batch, seq=target.seq,
                precision=cand.precision, options=opts, measure=policy(fid.seconds),
                repeat=repeat, seed=target.seed,
                scenario=load_spec(goal, cand, fid) if load else None)


class RunMeasure:
    """The ``Measure`` and ``Compare`` of a real tune: cases in ``run``, ab runs under it."""

    def __init__(self, run: RunDir, target: Target, goal: Goal, *, env: dict[str, Any],
                 progress: Any = None, name: str = "tune") -> None:
        from onnxbench.suite.plan import read_plan

        self.run, self.target, self.goal, self.env = run, target, goal, env
        self.progress = progress or (lambda _p: None)
        self.plan = read_plan(run) if run.file("configs", "plan.json").is_file() \
            else Plan(name, [])
        self.plan.description = f"tune: {goal.describe()}"
        self.broken: dict[str, str] = {}  # artifact key -> why its graph could not be built

    def _add(self, cases: list[Case]) -> None:
        from onnxbench.suite.load_plan import case_timeout

        known = {c.case_id for c in self.plan.cases}
        for c in cases:
            if c.case_id not in known:
                self.plan.cases.append(c)
                self.plan.timeouts[c.case_id] = (case_timeout(c.scenario) if c.scenario
                                                 else TIMING_TIMEOUT_S)
        atomic_write_text(self.run.file("configs", "plan.json"), self.plan.to_json())

    def __call__(self, stage: str, fid: Fidelity, cands: list[Candidate], *,
                 limit_s: float | None = None) -> dict[str, Evidence]:
        """Build what ``cands`` run on, run their cases (each stopped at ``limit_s``: its
        result is then marked to run again on resume), read their evidence back."""
        cases = {c.key: [make_case(self.target, self.goal, c, fid, r)
                         for r in range(fid.processes)] for c in cands}
        flat = [case for group in cases.values() for case in group]
        done = {key for key, group in cases.items() if all(self.run.done(c) for c in group)}
        self._add(flat)
        t0 = time.monotonic()
        problems = self._build(flat, limit_s)
        build_s = time.monotonic() - t0
        out: dict[str, Evidence] = {}
        runnable = []
        for key, group in cases.items():
            problem = problems.get(group[0].artifact_key)
            if problem:
                status, reason = problem
                out[key] = Evidence(key, status, reason, failed_at="build")
            else:
                runnable += group
        limit = None if limit_s is None else max(1.0, limit_s - build_s)
        self._run(runnable, limit)
        for key, group in cases.items():
            ev = out.get(key) or self.read(key, group, fid, limit)
            ev.build_s, ev.cached = build_s / len(cands), key in done
            ev.findings = _findings(self.run.file("artifacts", group[0].artifact_key))
            out[key] = ev
        return out

    def _build(self, cases: list[Case], limit_s: float | None) -> dict[str, tuple[str, str]]:
        """Build the graphs not built yet; (status, reason) of those that cannot be."""
        from onnxbench.suite.runner import build_artifacts

        todo = [c for c in cases if not self.run.done(c) and c.artifact_key not in self.broken]
        sub = Plan(self.plan.suite, todo, {c.case_id: self.plan.timeout_for(c) for c in todo})
        built = build_artifacts(todo, self.run, sub, self.progress, timeout_s=limit_s)
        problems = {}
        for key, art in built.items():
            problem = _artifact_problem(art)
            if problem and getattr(art, "status", None) == "timeout" and limit_s is not None:
                problems[key] = ("budget", f"building its graph ran past the {limit_s:.0f} s "
                                           "left")
            elif problem:
                self.broken[key] = problem
        problems.update({k: ("skipped" if r.startswith("skipped") else "failed", r)
                         for k, r in self.broken.items()})
        return problems

    def _run(self, cases: list[Case], limit_s: float | None) -> None:
        from onnxbench.suite.runner import run_cases

        if not cases:
            return
        timeouts = {c.case_id: min(self.plan.timeout_for(c), limit_s or float("inf"))
                    for c in cases}
        only = "^(" + "|".join(re.escape(c.case_id) for c in cases) + ")$"
        run_cases(Plan(self.plan.suite, cases, timeouts), self.run, only=only,
                  progress=self.progress, env=self.env)

    def read(self, key: str, group: list[Case], fid: Fidelity,
             limit_s: float | None = None) -> Evidence:
        from onnxbench.suite.aggregate import summary_row

        results = [read_result(self.run.result_path(c)) for c in group
                   if self.run.result_path(c).is_file()]
        if not results:
            return Evidence(key, "failed", "no result written", failed_at="run")
        pid = point_id(group[0].case_id)
        stopped = [r for r in results if r.status == "timeout" and limit_s is not None
                   and limit_s < self.plan.timeout_for(group[0])]
        if stopped:
            for r in stopped:  # the budget's doing, not the candidate's: resume runs it again
                r.rerun = True
                self.run.write_result(r)
            return Evidence(key, "budget", f"its case ran past the {limit_s:.0f} s left",
                            point_id=pid)
        if group[0].scenario is not None:
            return load_evidence(key, results[0], pid)
        row = summary_row(pid, results)
        ev = Evidence(key, row["status"], row["reason"], row["p50_ms"],
                      _pair(row["ci_low_ms"], row["ci_high_ms"]), row["p99_ms"],
                      point_id=pid, failed_at=None if row["status"] == "ok" else "run")
        if row["accuracy"]:
            ev.accuracy = json.loads(row["accuracy"])
            ev.accuracy_drop = accuracy_drop(ev.accuracy)
        if ev.status == "ok" and ev.value is None:
            ev.status, ev.reason, ev.failed_at = "failed", ev.reason or "no latency", "run"
        return ev

    def compare(self, a: Candidate, b: Candidate, seconds: float) -> ABOutcome:
        """``ab`` of the two in ``<run>/ab/``, on the graphs this run already built."""
        from onnxbench.suite.ab import ABSettings, run_ab

        fid = Fidelity("timing", AB_BLOCK_S)  # the cases' sides; ab times its own blocks
        ca, cb = (make_case(self.target, self.goal, c, fid) for c in (a, b))
        ab_run = create_run_dir(self.run.file("ab"), "ab")
        _share(self.run.artifacts, ab_run.artifacts)
        settings = ABSettings(max_time_s=max(seconds, 1.0), threshold=0.02, target_ci=0.01)
        res = run_ab(ca, cb, settings, run=ab_run, progress=self.progress)
        r, o = res.outcome.result, res.outcome
        verdict = res.verdict.split(" (")[0]
        return ABOutcome(verdict, r.ratio, _pair(r.ci_low, r.ci_high),
                         str(Path(res.run_dir).relative_to(self.run.path)),
                         o.units or o.pairs, o.elapsed_s)


def _share(src: Path, dst: Path) -> None:
    """The run's built graphs in another run directory, as hard links (copies across
    devices): an ab inside the run builds nothing again."""
    def link(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    if src.is_dir():
        shutil.copytree(src, dst, copy_function=link, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("*.log", ".lock"))


def _findings(folder: Path) -> tuple[str, ...]:
    """The rules of the graph's lint errors (``artifact.json``)."""
    meta = read_json(folder / META) or {}
    return tuple(sorted({str(f.get("rule")) for f in meta.get("lint") or []
                         if isinstance(f, dict) and f.get("severity") == "error"}))


def _pair(low: Any, high: Any) -> tuple[float, float] | None:
    if low is None or high is None:
        return None
    return float(low), float(high)


def _artifact_problem(built: Any) -> str | None:
    """Why the candidates on this artifact cannot be measured (None: they can)."""
    if built is None:
        return None  # already built by an earlier stage (a cached key is not rebuilt)
    if isinstance(built, Skip):
        return f"skipped: {str(built).strip().splitlines()[0]}"
    if not isinstance(built, Artifact):
        return f"building the graph failed: {getattr(built, 'reason', built)}"
    meta = read_artifact_meta(built) or {}
    parity = meta.get("parity") or meta.get("export_parity")
    if isinstance(parity, dict) and parity.get("passed") is False:
        worst = parity.get("max_abs")
        return (f"export parity failed against the source model"
                f"{f' (max abs diff {worst:.3g})' if isinstance(worst, float) else ''}: "
                "never timed")
    return None


def accuracy_drop(acc: dict[str, Any]) -> float | None:
    """How much worse than fp32, in the metric's units (0: no change or better)."""
    delta = acc.get("delta")
    if not isinstance(delta, (int, float)) or math.isnan(delta):
        return None
    metric = METRICS.get(str(acc.get("metric")))
    hib = acc.get("higher_is_better", metric.higher_is_better if metric else True)
    return max(0.0, -float(delta) if hib else float(delta))


def load_evidence(key: str, result: Any, pid: str) -> Evidence:
    """A server window's percentile (met or not) or a peak search's rate, from its result."""
    load = result.load
    if result.status != "ok" or load is None:
        return Evidence(key, result.status, result.reason, point_id=pid)
    limited = bool(load.harness and load.harness.limited)
    if load.peak is not None:
        p = load.peak
        if p.qps is None:
            return Evidence(key, "failed", p.reason or "no rate met the bound", point_id=pid)
        hi = p.bracket[1] if len(p.bracket) > 1 else None
        open_above = hi is None or limited  # no failing rate, or the generator's ceiling
        top = math.inf if hi is None or limited else float(hi)
        return Evidence(key, value=p.qps, ci=(p.qps, top),
                        p99_ms=p.value_ms, met=True, confirmed=p.confirmed,
                        harness_limited=limited, lower_bound=open_above, point_id=pid)
    b = load.bound
    q = load.latency_ms
    ci = q.ci.get(f"p{b.percentile:g}") if q and b else None
    value = b.value_ms if b else None
    return Evidence(key, value=value, ci=_pair(*(ci or (None, None))), p99_ms=value,
                    met=bool(b and b.met), harness_limited=limited, point_id=pid)


__all__ = ["RunMeasure", "Target", "accuracy_drop", "load_evidence", "make_case"]
