"""Read a run directory into plain values, and fold processes into measurement points.

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

from onnxbench.core.errors import UserError
from onnxbench.core.result import Result
from onnxbench.core.rundir import existing_run_dir
from onnxbench.measure.fold import (
    Folded,
    Noise,
    by_point,
    fold_results,
    has_numbers,
    run_noise,
)

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
    ab_run: dict[str, Any] | None = None  # ab.json of an `onnxbench ab` run
    tune: dict[str, Any] | None = None  # tune.json of an `onnxbench tune` run

    def noise(self) -> Noise | None:
        """The run's between-process noise (pooled over its points), from raw/ alone."""
        return run_noise(p.fold for p in group_points(self.results))

    @property
    def ab_axes(self) -> dict[str, list[Any]]:
        """The plan's A/B option axes as {option: [values]} (values may be unknown: [])."""
        axes = self.plan.get("ab_axes") or {}
        if isinstance(axes, list):
            return {str(name): [] for name in axes}
        return {str(k): list(v or []) for k, v in dict(axes).items()}


# what puts each file of a run directory right again, when it is not valid JSON
_FIX = {"summary.json": "rebuild it with `onnxbench aggregate RUN_DIR`",
        "plan.json": "it is written once, before the cases run: put back a good copy, or "
                     "delete it to report without the suite's tables and A/B axes",
        "env.json": "delete it to report without the machine's description (or put back "
                    "a good copy)",
        "ab.json": "delete it to report the blocks without the A/B verdict (or put back a "
                   "good copy)"}


def _read_json(path: Path) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # ValueError: JSON and UTF-8 errors
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        fix = _FIX.get(path.name, "put back a good copy")
        raise UserError(f"{path}: not valid JSON ({first}); {fix}") from None


def load_run(run_dir: str | Path) -> RunData:
    """Read a run directory (or the folder holding exactly one: ``bench --out DIR``);
    UserError (one line) when it is not one, or when a link in it leads out of it."""
    run = existing_run_dir(run_dir)
    results = run.read_results()  # UserError naming an unreadable result.json
    if not results:
        raise UserError(f"{run.raw}: holds no result.json files; the run has not finished "
                        "any case")
    env = _read_json(run.file("configs", "env.json")) or _read_json(run.file("env.json")) or {}
    plan = _read_json(run.file("configs", "plan.json")) or {}
    summary = _read_json(run.file("summary", "summary.json"))
    ab_run = _read_json(run.file("ab.json"))
    tune = _read_json(run.file("tune.json"))
    return RunData(run.path, results, env if isinstance(env, dict) else {},
                   plan if isinstance(plan, dict) else {}, summary,
                   ab_run if isinstance(ab_run, dict) else None,
                   tune if isinstance(tune, dict) else None)


@dataclass
class Point:
    """One measurement point (a case minus its process index), folded by
    ``measure.fold.fold_results``: the same figures as ``summary.csv`` and ``compare``."""

    key: str
    results: list[Result]
    fold: Folded = field(init=False)

    def __post_init__(self) -> None:
        self.fold = fold_results(self.results)

    @property
    def case(self):
        return self.results[0].case

    @property
    def status(self) -> str:
        return self.fold.status

    @property
    def reason(self) -> str | None:
        return self.fold.unstable_reason or self.fold.reason

    @property
    def unstable(self) -> bool:
        return self.fold.unstable

    @property
    def median(self) -> float | None:
        return self.fold.median

    @property
    def ci(self) -> tuple[float, float] | None:
        return self.fold.ci

    @property
    def mean(self) -> float | None:
        return self.fold.mean

    @property
    def p95(self) -> float | None:
        return self.fold.tail("p95")

    @property
    def p99(self) -> float | None:
        return self.fold.tail("p99")

    @property
    def throughput(self) -> float | None:
        return self.case.batch / self.mean * 1000.0 if self.mean else None

    def latencies(self) -> list[np.ndarray]:
        """Raw latencies (ms) of each process with numbers, in process order."""
        return [np.asarray(r.timing.latencies_ms, dtype=float) for r in self.ok_results()]

    def ok_results(self) -> list[Result]:
        return sorted((r for r in self.results if has_numbers(r)), key=lambda r: r.case.repeat)

    def parity(self) -> dict[str, Any] | None:
        return next((r.parity for r in self.results if r.parity), None)

    def accuracy(self) -> dict[str, Any] | None:
        return next((r.accuracy for r in self.results if r.accuracy), None)


def group_points(results: list[Result]) -> list[Point]:
    """Fold results into points (processes together), in point-id order."""
    return [Point(key, rs) for key, rs in by_point(results).items()]
