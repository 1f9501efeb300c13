"""The ``tables:`` block of a suite: extra tables in the shapes the reference reports used.

```yaml
tables:
  - layout: winner            # | Batch | ORT CPU | ORT GPU | PyTorch GPU | Winner |
    columns:
      ORT CPU: {runtime: ort-cpu}
      ORT GPU: {runtime: ort-cuda, options: {cuda_graph: false}, precision: fp32}
      PyTorch GPU: {runtime: torch-cuda}
  - layout: totals            # total seconds of N runs (the second report's unit)
    runs: 1000
  - layout: grid              # batch x seq in one table
```

A column is a *selector*: the points whose runtime is one of ``runtime``, whose precision
is ``precision`` and whose options include ``options`` (an option a case does not set
matches ``false``/``null``). Without ``columns`` every series gets its own column. The same
specs come from ``onnxbench report --tables winner,totals,grid``; they are stored in
``configs/plan.json`` so a report rebuilt later renders them too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from onnxbench.core.errors import UserError

LAYOUTS = ("winner", "totals", "grid")
DEFAULT_RUNS = 1000


def _as_list(value: Any) -> Any:
    return value if value is None or isinstance(value, list) else [value]


class Selector(BaseModel):
    """Which points fill one column."""

    model_config = ConfigDict(extra="forbid")

    runtime: Annotated[list[str] | None, BeforeValidator(_as_list)] = None
    precision: str | None = None
    exporter: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    def matches(self, case) -> bool:
        if self.runtime and case.runtime not in self.runtime:
            return False
        if self.precision and case.precision != self.precision:
            return False
        if self.exporter and case.exporter != self.exporter:
            return False
        for key, want in self.options.items():
            have = case.options.get(key)
            if have != want and not (want in (False, None) and have in (False, None)):
                return False
        return True


def _pairs_to_dict(value: Any) -> Any:
    """``[[header, selector], ...]`` (how plan.json keeps the order) as a mapping."""
    if isinstance(value, list):
        return {str(h): sel for h, sel in value}
    return value


class TableSpec(BaseModel):
    """One extra table of the report."""

    model_config = ConfigDict(extra="forbid")

    layout: Literal["winner", "totals", "grid"]
    title: str | None = None
    columns: Annotated[dict[str, Selector] | None, BeforeValidator(_pairs_to_dict)] = None
    runs: int = Field(DEFAULT_RUNS, ge=1, description="totals: the number of runs summed")
    model: str | None = Field(None, description="only this model (default: every model)")


def plan_record(spec: TableSpec) -> dict[str, Any]:
    """The spec as ``configs/plan.json`` keeps it: columns as [header, selector] pairs, so
    their order survives the plan's sorted keys."""
    doc = spec.model_dump(mode="json", exclude_none=True)
    if spec.columns is not None:
        doc["columns"] = [[h, sel.model_dump(mode="json", exclude_none=True)]
                          for h, sel in spec.columns.items()]
    return doc


def parse_layouts(text: str | None, runs: int = DEFAULT_RUNS) -> list[TableSpec]:
    """``--tables winner,totals,grid`` as table specs (default columns); UserError naming a
    bad layout."""
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    bad = [n for n in names if n not in LAYOUTS]
    if bad:
        raise UserError(f"--tables {','.join(bad)}: unknown layout; choose from "
                        f"{', '.join(LAYOUTS)} (comma-separated)")
    return [TableSpec(layout=n, runs=runs) for n in names]


def specs_from_plan(plan: dict[str, Any]) -> list[TableSpec]:
    """The specs a run's ``configs/plan.json`` carries (none for older runs)."""
    return [TableSpec.model_validate(t) for t in plan.get("tables") or []]
