"""Read a run directory into plain values, and fold repeats into measurement points.

Reports read files only (``raw/<case_id>/result.json``, ``configs/env.json``,
``configs/plan.json``, ``summary/summary.json``), never live objects, so a report can be
rebuilt from any run directory, finished or not. Grouping is done here from the raw results
(not from the aggregator's summary) so the report does not depend on the summary's format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats as sps

from onnxbench.errors import UserError
from onnxbench.result import Result, read_results

# statuses that mean "no number": shown as the word (with the reason), never as a figure
NO_NUMBER = ("failed", "skipped", "crashed", "oom", "timeout")


@dataclass
class RunData:
    """Everything a report needs from one run directory."""

    run_dir: Path
    results: list[Result]
    env: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, Any] = field(default_factory=dict)
    summary: Any = None

    @property
    def ab_axes(self) -> dict[str, list[Any]]:
        """The plan's A/B option axes as {option: [values]} (values may be unknown: [])."""
        axes = self.plan.get("ab_axes") or {}
        if isinstance(axes, list):
            return {str(name): [] for name in axes}
        return {str(k): list(v or []) for k, v in dict(axes).items()}


def _read_json(path: Path) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not valid JSON ({exc}); re-run `onnxbench aggregate`") from exc


def load_run(run_dir: str | Path) -> RunData:
    """Read a run directory; UserError (one line) when it is not one."""
    run = Path(run_dir)
    raw = run / "raw"
    if not run.is_dir():
        raise UserError(f"{run}: no such run directory; pass a directory made by `onnxbench run`")
    if not raw.is_dir():
        raise UserError(f"{run}: not a run directory (no raw/ folder with result.json files)")
    results = read_results(raw)  # UserError naming an unreadable result.json
    if not results:
        raise UserError(f"{raw}: holds no result.json files; the run has not finished any case")
    env = _read_json(run / "configs" / "env.json") or _read_json(run / "env.json") or {}
    plan = _read_json(run / "configs" / "plan.json") or {}
    summary = _read_json(run / "summary" / "summary.json")
    return RunData(run, results, env if isinstance(env, dict) else {},
                   plan if isinstance(plan, dict) else {}, summary)


def point_key(result: Result) -> str:
    """The case id without its repeat suffix: the repeats of one point share it."""
    cid = result.case_id
    head, _, tail = cid.rpartition("_r")
    return head if tail.isdigit() else cid


@dataclass
class Point:
    """One measurement point (a case minus its repeat index), repeats folded.

    ``median`` is the median of the per-repeat medians; ``ci`` is the bootstrap CI of the
    median for a single repeat and a t-interval over the repeat medians for several
    (run-to-run drift is the larger noise, so it sets the band).
    """

    key: str
    results: list[Result]
    status: str = "ok"
    reason: str | None = None
    unstable: bool = False
    mean: float | None = None
    median: float | None = None
    p95: float | None = None
    p99: float | None = None
    ci: tuple[float, float] | None = None
    repeat_medians: list[float] = field(default_factory=list)

    @property
    def case(self):
        return self.results[0].case

    @property
    def throughput(self) -> float | None:
        return self.case.batch / self.mean * 1000.0 if self.mean else None

    def latencies(self) -> list[np.ndarray]:
        """Raw latencies (ms) of each ok repeat, in repeat order."""
        return [np.asarray(r.timing.latencies_ms, dtype=float) for r in self.ok_results()]

    def ok_results(self) -> list[Result]:
        return [r for r in self.results if r.status == "ok" and (r.stats or r.timing.latencies_ms)]

    def parity(self) -> dict[str, Any] | None:
        return next((r.parity for r in self.results if r.parity), None)

    def accuracy(self) -> dict[str, Any] | None:
        return next((r.accuracy for r in self.results if r.accuracy), None)


def _stat(result: Result, name: str) -> float:
    if result.stats is not None:
        return float(getattr(result.stats, name))
    lat = np.asarray(result.timing.latencies_ms, dtype=float)
    q = {"p50": 50, "p95": 95, "p99": 99}
    return float(lat.mean() if name == "mean" else np.percentile(lat, q[name]))


def _fold(point: Point) -> Point:
    ok = point.ok_results()
    if not ok:
        first = point.results[0]
        point.status, point.reason = first.status, first.reason
        if point.status == "ok":  # ok but no numbers at all: say so rather than invent one
            point.status, point.reason = "failed", "no latencies recorded"
        return point
    point.repeat_medians = [_stat(r, "p50") for r in ok]
    point.mean = float(np.mean([_stat(r, "mean") for r in ok]))
    point.median = float(np.median(point.repeat_medians))
    point.p95 = float(np.mean([_stat(r, "p95") for r in ok]))
    point.p99 = float(np.mean([_stat(r, "p99") for r in ok]))
    point.ci = _median_ci(ok, point.repeat_medians)
    unstable = [r.stats for r in ok if r.stats is not None and r.stats.unstable]
    if unstable:
        point.unstable = True
        point.reason = unstable[0].unstable_reason or "wide spread (IQR/median above threshold)"
    bad = [r for r in point.results if r not in ok]
    if bad and not point.reason:
        point.reason = f"{len(bad)} of {len(point.results)} repeats {bad[0].status}: {bad[0].reason}"
    return point


def _median_ci(ok: list[Result], medians: list[float]) -> tuple[float, float]:
    if len(medians) >= 2:
        m, se = float(np.mean(medians)), float(sps.sem(medians))
        half = float(sps.t.ppf(0.975, len(medians) - 1) * se) if se > 0 else 0.0
        return (m - half, m + half)
    st = ok[0].stats
    if st is not None:
        return (float(st.median_ci_low), float(st.median_ci_high))
    return (medians[0], medians[0])


def group_points(results: list[Result]) -> list[Point]:
    """Fold results into points (repeats together), in case-id order."""
    groups: dict[str, list[Result]] = {}
    for r in sorted(results, key=lambda r: (r.case_id, r.case.repeat)):
        groups.setdefault(point_key(r), []).append(r)
    return [_fold(Point(key, rs)) for key, rs in groups.items()]
