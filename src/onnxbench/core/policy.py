"""How long to measure: warm-up and the stopping rules (plain data, validated)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

# (at least, at most) pairs a policy must keep in order, by field name
BOUNDS = (("min_runs", "max_runs"), ("min_time_s", "max_time_s"))


def bounds_problem(fields: dict[str, Any]) -> str | None:
    """"min_runs 50 is more than max_runs 10; ..." for the first pair out of order."""
    for low, high in BOUNDS:
        a, b = fields.get(low), fields.get(high)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a > b:
            return (f"{low} {a:g} is more than {high} {b:g}; the loop could obey only one "
                    f"of them: lower {low} or raise {high}")
    return None


class MeasurePolicy(BaseModel):
    """Warm-up and stopping rules for one measurement.

    The loop runs at least ``min_runs`` iterations and for at least ``min_time_s``; it
    stops at ``max_runs`` or ``max_time_s``, whichever comes first, or earlier once the
    95 % CI of the median is within ``target_ci_pct`` % of the median (if set).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    warmup: int = Field(10, ge=0, description="untimed runs before timing (per shape)")
    min_runs: int = Field(10, ge=1, description="timed runs at least")
    max_runs: int = Field(1000, ge=1, description="timed runs at most")
    min_time_s: float = Field(0.2, ge=0, description="timed seconds at least")
    max_time_s: float = Field(10.0, gt=0, description="timed seconds at most")
    target_ci_pct: float | None = Field(
        None, gt=0, description="stop once the 95% CI of the median is within this % of it"
    )
    unstable_iqr_ratio: float = Field(
        0.25, gt=0, description="IQR/median above this marks the result unstable"
    )

    @model_validator(mode="after")
    def _in_order(self) -> MeasurePolicy:
        problem = bounds_problem(self.model_dump())
        if problem:
            raise ValueError(problem)
        return self

    def usable_processes(self, processes: int) -> int:
        """``processes``, but never more than the timed runs (each process times one at
        least): ``runs: 2`` in three processes runs in two."""
        return max(1, min(processes, self.max_runs))

    def trim(self, processes: int, index: int) -> tuple[int, int]:
        """(min_runs, max_runs) that process ``index`` of ``processes`` times fewer than
        ``split``'s share (rounded up), so the shares add up to this policy's counts exactly:
        ``runs: 20`` in three processes is 7 + 7 + 6."""
        def one(runs: int) -> int:
            excess = _share(runs, processes) * processes - runs
            return int(processes > 1 and index >= processes - excess)

        return one(self.min_runs), one(self.max_runs)

    def split(self, processes: int) -> MeasurePolicy:
        """The per-process policy when a point's budget is shared by ``processes`` workers.

        Run counts and times are divided (run counts rounded up, at least one run: ``trim``
        says which processes time one fewer); the warm-up is not (every process warms up its
        own session); a precision target stays per process.
        """
        if processes <= 1:
            return self
        return self.model_copy(update={
            "min_runs": _share(self.min_runs, processes),
            "max_runs": _share(self.max_runs, processes),
            "min_time_s": self.min_time_s / processes, "max_time_s": self.max_time_s / processes})


def _share(runs: int, processes: int) -> int:
    """``runs`` divided over ``processes``, rounded up, at least one."""
    return max(1, -(-runs // processes))
