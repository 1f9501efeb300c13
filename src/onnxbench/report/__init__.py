"""Reports from a run directory: tables, crossovers, speed-ups, A/B statistics, md and html.

``build_report(run_dir)`` reads files only and returns a ``Report`` (plain values);
``write_reports(run_dir)`` renders it as ``report.md`` and ``report.html`` beside ``raw/``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onnxbench.core.errors import UserError
from onnxbench.core.files import in_dir
from onnxbench.core.result import atomic_write_text
from onnxbench.report.compare import Comparison, ab_in_run
from onnxbench.report.crossover import Crossover, find_crossovers
from onnxbench.report.hardware import hardware_tables
from onnxbench.report.load_report import LoadReport, is_load, load_report
from onnxbench.report.optim import optimisation_table
from onnxbench.report.pipelines import PipelineReport, is_pipeline, pipeline_reports
from onnxbench.report.rundata import Point, RunData, group_points, load_run
from onnxbench.report.tables import (
    Group,
    Table,
    build_groups,
    comparison_table,
    env_table,
    exporter_table,
    latency_table,
    parity_failed,
    speedup_table,
    word,
)

FORMATS = ("md", "html")


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


def _numbers(group: Group, series) -> tuple[list, list, list]:
    """xs, medians, CIs of a series where it has a number (unstable ones included) and its
    parity did not fail (a crossover names who is faster: never a parity-failed point)."""
    xs = [x for x in group.xs if x in series.points and word(series.points[x]) is None
          and not parity_failed(series.points[x])]
    return xs, [series.points[x].median for x in xs], [series.points[x].ci for x in xs]


def _crossovers(group: Group) -> list[tuple[str, str, Crossover]]:
    out = []
    for sa, sb in itertools.combinations(group.series, 2):
        xa, ma, ca = _numbers(group, sa)
        xb, mb, cb = _numbers(group, sb)
        common = [x for x in xa if x in xb]
        if len(common) < 2:
            continue
        ia, ib = [xa.index(x) for x in common], [xb.index(x) for x in common]
        for c in find_crossovers(common, [ma[i] for i in ia], [ca[i] for i in ia],
                                 [mb[i] for i in ib], [cb[i] for i in ib]):
            out.append((sa.label, sb.label, c))
    return out


def _group_report(group: Group, baseline: str | None) -> GroupReport:
    from onnxbench.report.conditions import conditions_table

    tables = [comparison_table(group)] if len(group.series) > 1 else []
    tables += [t for t in (conditions_table(group),) if t]
    tables += [t for t in (optimisation_table(group), speedup_table(group, baseline)) if t]
    tables += [latency_table(group, s) for s in group.series]
    from onnxbench.report.answer import group_sentence

    return GroupReport(group, group_sentence(group, baseline), _crossovers(group), tables)


def build_report(run_dir: str | Path | RunData, *, baseline: str | None = None,
                 threshold: float = 0.05, layouts: list | None = None) -> Report:
    """Everything the report shows, from files only. ``layouts`` (``TableSpec``s, e.g. from
    ``--layout``) replace the table shapes the suite asked for in ``tables:``."""
    run = run_dir if isinstance(run_dir, RunData) else load_run(run_dir)
    points = group_points(run.results)
    plain = [p for p in points if not is_pipeline(p) and not is_load(p)]
    groups = [_group_report(g, baseline) for g in build_groups(plain)] if plain else []
    tables = hardware_tables(plain) + _reference_shapes(run, plain, layouts)
    tables += [env_table(run.env)] if run.env else []
    ex = exporter_table(points)
    tables += [ex] if ex else []
    from onnxbench.report.tracing import tracing_table

    traced = tracing_table(points)
    tables += [traced] if traced else []
    from onnxbench.report.mix_tables import mix_table

    mixed = mix_table(points)
    tables = ([mixed] if mixed else []) + tables
    ab = ab_in_run(run, threshold=threshold) if run.ab_axes else None
    counts: dict[str, int] = {}
    for r in run.results:
        counts[r.status] = counts.get(r.status, 0) + 1
    counts["unstable"] = sum(p.unstable for p in points)
    report = Report(run, points, groups, tables, ab if ab and ab.pairs else None, counts,
                    pipeline_reports(points), load=load_report(points))
    report.why = _why(report)
    return report


def _why(report: Report):
    """Placement, per-operator profiles and explained A/Bs (profile_tables), if any."""
    from onnxbench.report.profile_tables import profile_section

    section = profile_section(report.points, [g.group for g in report.groups], report.ab)
    return section if section else None


def _reference_shapes(run: RunData, points: list[Point], layouts: list | None) -> list[Table]:
    """The suite's (or ``--layout``'s) table shapes, then what the graph passes did."""
    from onnxbench.report.hazards import hazards_table
    from onnxbench.report.passes import passes_table
    from onnxbench.report.shapes import shape_tables
    from onnxbench.suite.tables import specs_from_plan

    specs = layouts if layouts is not None else specs_from_plan(run.plan)
    extra = (hazards_table(run.run_dir, points), passes_table(points))
    return shape_tables(points, specs) + [t for t in extra if t]


def write_reports(run_dir: str | Path, formats: tuple[str, ...] | list[str] = FORMATS, *,
                  baseline: str | None = None) -> list[Path]:
    """Write report.md / report.html into the run directory; returns the paths written."""
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        raise UserError(f"--format {','.join(bad)}: unknown; choose from {','.join(FORMATS)}")
    return save_report(build_report(run_dir, baseline=baseline), formats)


def save_report(report: Report, formats: tuple[str, ...] | list[str] = FORMATS) -> list[Path]:
    """Render an already built Report into its run directory (report.<fmt>)."""
    paths = []
    for fmt in formats:
        if fmt == "md":
            from onnxbench.report.markdown import render_markdown as render
        else:
            from onnxbench.report.html import render_html as render
        path = in_dir(report.run.run_dir, f"report.{fmt}")
        atomic_write_text(path, render(report))
        paths.append(path)
    return paths


__all__ = ["FORMATS", "Report", "build_report", "save_report", "write_reports"]
