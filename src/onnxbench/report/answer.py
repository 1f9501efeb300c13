"""The sentence a run exists for, per group: who is fastest where (ties named, crossovers),
and by how much against the baseline ("ORT CPU is 3.9–5.1× faster than PyTorch CPU at
batch 1–32; tie at 64"), decided by the CIs as the tables decide them. The report shows
these sentences on top; the commands print them last, after their tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from onnxbench.core.numbers import sig
from onnxbench.report.crossover import fmt_x, winner_sentence
from onnxbench.report.tables import Group, Series, baseline_for, overlap, parity_failed, word

if TYPE_CHECKING:
    from onnxbench.report import Report
    from onnxbench.report.rundata import Point


def _usable(p: Point | None) -> bool:
    return p is not None and word(p) is None and not parity_failed(p) and bool(p.median)


def _xs_text(xs: list[int], all_xs: list[int]) -> str:
    """"1–32" where the xs are a run of the sweep, else "1, 8 and 64"."""
    if len(xs) == 1:
        return fmt_x(xs[0])
    i, j = all_xs.index(xs[0]), all_xs.index(xs[-1])
    if all_xs[i:j + 1] == xs:
        return f"{fmt_x(xs[0])}–{fmt_x(xs[-1])}"
    return ", ".join(fmt_x(x) for x in xs[:-1]) + f" and {fmt_x(xs[-1])}"


def _times(values: list[float]) -> str:
    """"3.9–5.1×", or "4.2×" where they round alike."""
    lo, hi = sig(min(values), 2), sig(max(values), 2)
    return f"{lo}×" if lo == hi else f"{lo}–{hi}×"


def _versus(group: Group, s: Series, b: Series) -> str:
    """"ORT CPU is 3.9–5.1× faster than PyTorch CPU at batch 1–32; tie at 64", from each
    x where both have a number: baseline median / series median; a tie where the CIs overlap."""
    faster: dict[int, float] = {}
    slower: dict[int, float] = {}
    tied: list[int] = []
    for x in group.xs:
        ps, pb = s.points.get(x), b.points.get(x)
        if not (_usable(ps) and _usable(pb)):
            continue
        assert ps is not None and pb is not None and ps.median and pb.median
        r = pb.median / ps.median
        if overlap(ps, pb):
            tied.append(x)
        elif r > 1:
            faster[x] = r
        else:
            slower[x] = 1 / r
    at = f"at {group.axis}"
    parts: list[str] = []
    for what, found in (("faster", faster), ("slower", slower)):
        if found:
            xs = list(found)
            head = f"{s.label} is " if not parts else ""
            than = f" than {b.label}" if not parts else ""
            parts.append(f"{head}{_times(list(found.values()))} {what}{than} "
                         f"{at} {_xs_text(xs, group.xs)}")
    if not parts:
        return f"{s.label} and {b.label} tie {at} {_xs_text(tied, group.xs)}" if tied else ""
    return "; ".join(parts + ([f"tie at {_xs_text(tied, group.xs)}"] if tied else []))


def speedup_clause(group: Group, baseline: str | None = None) -> str:
    """Each series against its baseline (``tables.baseline_for``: the named runtime, else
    the framework's plain call on the same device), as in the speed-up table."""
    clauses = []
    for s in group.series:
        b = baseline_for(group, s, baseline)
        if b is not None and b is not s:
            clauses.append(_versus(group, s, b))
    return ". ".join(c for c in clauses if c)


def _single(group: Group) -> str:
    """One series: its median over the sweep and where it moves the most items per second."""
    s = group.series[0]
    pts = [(x, s.points[x]) for x in group.xs if _usable(s.points.get(x))]
    if not pts:
        return ""
    (x0, p0), (x1, p1) = pts[0], pts[-1]
    span = (f"median {sig(p0.median)} ms at {group.axis} {fmt_x(x0)}" if len(pts) == 1 else
            f"median {sig(p0.median)} ms at {group.axis} {fmt_x(x0)} to {sig(p1.median)} ms at "
            f"{fmt_x(x1)}")
    best = max(pts, key=lambda xp: xp[1].throughput or 0.0)
    items = (f"; most items/s at {group.axis} {fmt_x(best[0])} ({sig(best[1].throughput)}/s)"
             if len(pts) > 1 and best[1].throughput else "")
    return f"{s.label}: {span}{items}."


def group_sentence(group: Group, baseline: str | None = None) -> str:
    """The group's answer: who is fastest where, and by how much against the baseline."""
    if len(group.series) == 1:
        text = _single(group)
        return f"{group.title}, {text}" if text else ""
    series = {}
    for s in group.series:
        meds = [s.points[x].median if _usable(s.points.get(x)) else None for x in group.xs]
        cis = [s.points[x].ci if x in s.points else None for x in group.xs]
        series[s.label] = (meds, cis)
    who = winner_sentence(group.axis, group.xs, series)
    if not who:
        return ""
    clause = speedup_clause(group, baseline)
    return f"{group.title}: {who}" + (f" {clause}." if clause else "")


def profile_phrase(prof: dict, k: int = 3) -> str:
    """"MatMul 41 %, Concat 12 %, Gather 9 % of 0.071 ms profiled per run (median 0.077 ms)":
    the heaviest op types of one untimed profile."""
    from onnxbench.report.fmt import pct

    top = ", ".join(f"{r['op_type']} {pct(r['share'])}" for r in prof["by_op_type"][:k])
    median = prof.get("measured_median_ms")
    return (f"{top} of {sig(prof['op_sum_ms'])} ms profiled per run"
            + (f" (median {sig(median)} ms)" if median else ""))


def profile_lines(report: Report) -> list[str]:
    """One line per point with a profile: "profile ORT CPU batch 8: MatMul 41 %, ..."."""
    from onnxbench.profile.attribution import profile_of
    from onnxbench.report.labels import row_labels

    found = []
    for point in report.points:
        prof = next((pr for pr in map(profile_of, point.results) if pr), None)
        if prof is not None:
            found.append((point, prof))
    labels = row_labels(p.case for p, _ in found)
    return [f"profile {label}: {profile_phrase(prof)}"
            for label, (_, prof) in zip(labels, found)]


def answers(report: Report) -> list[str]:
    """Every sentence the run answers with: per group, per pipeline, per load model."""
    out = [g.sentence for g in report.groups if g.sentence]
    out += [p.sentence for p in report.pipelines if p.sentence]
    out += report.load.sentences if report.load else []
    return out


__all__ = ["answers", "group_sentence", "profile_lines", "profile_phrase",
           "speedup_clause"]
