"""What a report is, as plain values (``Report``, ``GroupReport``): built by
``onnxbench.report.build_report``, rendered by ``markdown`` and ``html``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from onnxbench.report.compare import Comparison
from onnxbench.report.crossover import Crossover
from onnxbench.report.load_report import LoadReport
from onnxbench.report.pipelines import PipelineReport
from onnxbench.report.rundata import Point, RunData
from onnxbench.report.tables import Group, Table


@dataclass
class GroupReport:
    group: Group
    sentence: str
    crossovers: list[tuple[str, str, Crossover]]  # (label A, label B, crossover)
    tables: list[Table]


@dataclass
class Report:
    run: RunData
    points: list[Point]
    groups: list[GroupReport]
    tables: list[Table]                 # run-wide: environment, exporter matrix
    ab: Comparison | None = None
    counts: dict[str, int] = field(default_factory=dict)
    pipelines: list[PipelineReport] = field(default_factory=list)
    why: Any = None  # profile_tables.ProfileSection: placement, profiles, explained A/Bs
    load: LoadReport | None = None  # load scenarios (report/load_report.py)

    def ab_table(self) -> Table | None:
        """The A/B table: an `onnxbench ab` run's answer, else the suite's ab: pairs."""
        from onnxbench.report.abtable import ab_run_table, ab_table

        if self.run.ab_run:
            return ab_run_table(self.run.ab_run)
        return ab_table(self.ab) if self.ab else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run.run_dir), "counts": self.counts,
            "groups": [_group_dict(g) for g in self.groups],
            "pipelines": [p.to_dict() for p in self.pipelines],
            "tables": [t.to_dict() for g in self.groups for t in g.tables]
            + [p.table.to_dict() for p in self.pipelines] + [t.to_dict() for t in self.tables],
            "ab": self.ab.to_dict() if self.ab else None, "ab_run": self.run.ab_run,
            "env": self.run.env, "why": self.why.to_dict() if self.why else None,
            "load": self.load.to_dict() if self.load else None,
        }


def _point_dict(x: int, p: Point | None) -> dict[str, Any]:
    if p is None:
        return {"x": x, "status": "not run"}
    return {"x": x, "case": p.key, "status": p.status, "reason": p.reason, "unstable": p.unstable,
            "mean_ms": p.mean, "median_ms": p.median, "p95_ms": p.p95, "p99_ms": p.p99,
            "median_ci_ms": list(p.ci) if p.ci else None, "ci_method": p.fold.ci_method,
            "tails": {k: t.to_dict() for k, t in p.fold.tails.items()},
            "throughput": p.throughput, "processes": p.fold.n_processes,
            "accuracy": p.accuracy(), "parity": p.parity()}


def _group_dict(g: GroupReport) -> dict[str, Any]:
    return {"title": g.group.title, "axis": g.group.axis, "xs": g.group.xs, "sentence": g.sentence,
            "notes": g.group.notes,
            "series": [{"label": s.label, "runtime": s.runtime,
                        "points": [_point_dict(x, s.points.get(x)) for x in g.group.xs]}
                       for s in g.group.series],
            "crossovers": [{"a": a, "b": b, **c.to_dict()} for a, b, c in g.crossovers]}
