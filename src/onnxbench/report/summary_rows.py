"""A committed summary read back: the rows of ``summary.csv`` (or ``summary.json``) as points.

Two column sets exist. The current one (``suite.aggregate.COLUMNS``: ``n_processes``,
``ci_method``, ``process_rsd``, …) is what ``measure.fold`` writes: the centre is the
geometric mean of the process medians, the CI a t-interval on their logs. The first
releases' (``n_repeats``, ``repeat_std_ms``, ``repeat_min_ms``, ``repeat_max_ms``) folded
differently: the centre was the arithmetic mean of the process medians, its CI a t-interval
on them with ≥ 2 processes and one process's bootstrap CI otherwise, and "unstable" meant
only that a process's IQR/median was wide. Both read into ``SummaryPoint``; for the old one
the log spread between processes is approximated by ``repeat_std_ms / p50_ms`` and the
process-spread rule of the current fold (max − min of the process medians over the median
above the threshold) is applied too, so old and new rows are marked by the same rule.
``ci_method`` says which fold a row came from.

Nothing here runs anything; a row that cannot be read raises ``UserError`` naming the file
and the field.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onnxbench.core.errors import UserError
from onnxbench.core.policy import MeasurePolicy
from onnxbench.measure.fold import ACROSS, WITHIN, Noise, pool_noise

OLD_ACROSS = "t-interval on process medians ({k} processes; first-release fold, arithmetic)"
UNSTABLE_RATIO = MeasurePolicy().unstable_iqr_ratio


@dataclass(frozen=True)
class SummaryPoint:
    """One row of a summary: a point (a case minus its process index), as folded."""

    point_id: str
    model: str
    config: str
    exporter: str
    runtime: str
    batch: int
    seq: int | None
    precision: str
    options: dict[str, Any]
    status: str
    reason: str | None
    n_processes: int
    median: float | None
    ci: tuple[float, float] | None
    ci_method: str | None
    process_rsd: float | None
    unstable: bool
    mean: float | None = None
    throughput: float | None = None
    accuracy: dict[str, Any] | None = None
    scenario: str = ""
    fields: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def _float(row: dict[str, Any], key: str, where: str) -> float | None:
    value = row.get(key)
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise UserError(f"{where}: field {key}={value!r} is not a number") from exc


def _json(row: dict[str, Any], key: str, where: str) -> Any:
    value = row.get(key)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise UserError(f"{where}: field {key} is not JSON ({exc})") from exc


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() == "true"


def _spread(row: dict[str, Any], k: int, median: float | None, where: str
            ) -> tuple[float | None, str | None]:
    """(log SD between processes, an unstable reason from their spread) of a row."""
    if "process_rsd" in row:
        return _float(row, "process_rsd", where), None
    std = _float(row, "repeat_std_ms", where)
    lo, hi = _float(row, "repeat_min_ms", where), _float(row, "repeat_max_ms", where)
    if k < 2 or not median:
        return None, None
    reason = None
    if lo is not None and hi is not None and (hi - lo) / median > UNSTABLE_RATIO:
        reason = (f"process medians spread {(hi - lo) / median:.3f} of the median > "
                  f"{UNSTABLE_RATIO:g}")
    return (std / median if std is not None else None), reason


def point_of(row: dict[str, Any], where: str) -> SummaryPoint:
    """A ``SummaryPoint`` from one summary row (either column set)."""
    new = "n_processes" in row
    k = int(_float(row, "n_processes" if new else "n_repeats", where) or 0)
    median = _float(row, "p50_ms", where)
    lo, hi = _float(row, "ci_low_ms", where), _float(row, "ci_high_ms", where)
    rsd, spread_reason = _spread(row, k, median, where)
    method = row.get("ci_method") or None
    if not new and median is not None:
        method = OLD_ACROSS.format(k=k) if k >= 2 else WITHIN
    elif new and not method and median is not None:
        method = ACROSS.format(k=k) if k >= 2 else WITHIN
    reason = row.get("reason") or None
    unstable = _flag(row.get("unstable")) or spread_reason is not None
    if spread_reason and not _flag(row.get("unstable")):
        reason = spread_reason
    seq = _float(row, "seq", where)
    options = _json(row, "options", where) or {}
    if not isinstance(options, dict):
        raise UserError(f"{where}: field options is not a mapping")
    ok = median is not None and row.get("status") == "ok"
    return SummaryPoint(
        point_id=str(row.get("point_id", "")), model=str(row.get("model", "")),
        config=str(row.get("config") or ""), exporter=str(row.get("exporter") or ""),
        runtime=str(row.get("runtime", "")), batch=int(_float(row, "batch", where) or 0),
        seq=int(seq) if seq is not None else None, precision=str(row.get("precision") or ""),
        options=options, status=str(row.get("status", "")), reason=reason,
        n_processes=k if ok else 0, median=median,
        ci=(lo, hi) if lo is not None and hi is not None else None, ci_method=method,
        process_rsd=rsd, unstable=unstable, mean=_float(row, "mean_ms", where),
        throughput=_float(row, "throughput", where), accuracy=_json(row, "accuracy", where),
        scenario=str(row.get("scenario") or ""), fields=dict(row))


def read_summary(path: str | Path) -> list[SummaryPoint]:
    """Every row of a ``summary.csv`` or ``summary.json`` file, in file order."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such summary file; commit the run's summary.csv there")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from exc
    if path.suffix == ".json":
        try:
            rows = json.loads(text).get("rows", [])
        except (json.JSONDecodeError, AttributeError) as exc:
            raise UserError(f"{path}: not a summary.json (no rows)") from exc
    else:
        rows = list(csv.DictReader(text.splitlines()))
    return [point_of(row, f"{path} row {i + 2}") for i, row in enumerate(rows)]


def summary_noise(points: list[SummaryPoint]) -> Noise | None:
    """The run's pooled between-process noise from its rows (as ``measure.fold.run_noise``
    pools it from the raw results)."""
    return pool_noise((p.process_rsd, p.n_processes) for p in points
                      if p.process_rsd is not None)
