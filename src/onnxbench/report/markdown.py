"""Render a Report as GitHub-flavoured markdown (plain string building: no extra dependency)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from onnxbench.report.crossover import INTERPOLATION
from onnxbench.report.tables import Table

if TYPE_CHECKING:
    from onnxbench.report import Report
    from onnxbench.report.compare import Comparison


def _esc(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def md_table(table: Table, level: int = 3) -> str:
    """A table with its title as a heading; bold cells as **text**."""
    lines = [f"{'#' * level} {table.title}", ""]
    lines.append("| " + " | ".join(_esc(h) for h in table.headers) + " |")
    lines.append("|" + "|".join(" --- " for _ in table.headers) + "|")
    for row in table.rows:
        cells = [f"**{_esc(c.text)}**" if c.bold else _esc(c.text) for c in row]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [""] + [f"_{_esc(n)}_" for n in table.notes] + ([""] if table.notes else [])
    return "\n".join(lines)


def ab_markdown(comp: "Comparison", title: str = "A/B comparison") -> str:
    """The A/B pairs: ratio B/A with CI, Holm-adjusted p, effect size and verdict."""
    lines = [f"## {title}", "",
             f"Ratio = median B / median A (>1: B slower); 95 % CI; p Holm-adjusted across "
             f"{len(comp.tested())} pairs; equivalent = whole CI within ±{comp.threshold:.0%}.", "",
             "| Case | A (ms) | B (ms) | B/A | 95 % CI | p (Holm) | Effect | Verdict |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for p in comp.pairs:
        r = p.result
        if r is None:
            lines.append(f"| {_esc(p.label)} | – | – | – | – | – | – | {_esc(p.status)} |")
            continue
        verdict = r.verdict + (f" ({r.note})" if r.note else "")
        lines.append(f"| {_esc(p.label)} | {p.a.median:.3g} | {p.b.median:.3g} | {r.ratio:.3f} | "
                     f"{r.ci_low:.3f}–{r.ci_high:.3f} | {r.p_adjusted:.2g} | "
                     f"{r.effect_size:.2f} | **{_esc(verdict)}** |")
    methods = sorted({p.result.method for p in comp.tested()})
    lines += ["", f"_Method: {'; '.join(methods) or '–'}._", ""]
    return "\n".join(lines)


def render_markdown(report: "Report") -> str:
    c = report.counts
    head = [f"# onnxbench report: {report.run.run_dir.name}", "",
            f"{len(report.points)} points from {len(report.run.results)} results: "
            + ", ".join(f"{v} {k}" for k, v in sorted(c.items()) if v) + ".", ""]
    sentences = [g.sentence for g in report.groups if g.sentence]
    if sentences:
        head += ["## Which runtime, for which load", ""] + [f"- {s}" for s in sentences]
        head += ["", f"_Crossovers interpolated {INTERPOLATION}; a tie within CI is not a flip._", ""]
    body = []
    for g in report.groups:
        body += [f"## {g.group.title}", ""]
        for a, b, x in g.crossovers:
            first, then = (a, b) if x.faster_before == "a" else (b, a)
            noise = " (CIs overlap: within noise)" if x.within_noise else ""
            body.append(f"- {first} → {then} between {g.group.axis} {x.x_low:g} and "
                        f"{x.x_high:g}: crossover ≈ {x.x_cross:.3g}{noise}")
        body += [""] if g.crossovers else []
        body += [md_table(t) for t in g.tables]
    if report.ab:
        body.append(ab_markdown(report.ab))
    body += [md_table(t, 2) for t in report.tables]
    return "\n".join(head + body).rstrip() + "\n"
