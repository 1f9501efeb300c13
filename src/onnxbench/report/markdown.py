"""Render a Report as GitHub-flavoured markdown (plain string building: no extra dependency).

Every table comes from ``tables``/``optim``/``pipelines``/``abtable`` as a ``Table``; this module
only lays them out, so the HTML report shows the same content.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from onnxbench.report.crossover import INTERPOLATION, fmt_x
from onnxbench.report.tables import UNSTABLE_MARK, Table

if TYPE_CHECKING:
    from onnxbench.report import GroupReport, Report


def _esc(text: str) -> str:
    """A cell: pipes escaped and newlines flattened, so no text can break the table's grid."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def md_table(table: Table, level: int = 3) -> str:
    """A table with its title as a heading; bold cells as **text**, unstable figures marked †;
    notes in italics below."""
    lines = [f"{'#' * level} {_esc(table.title)}", ""]
    lines.append("| " + " | ".join(_esc(h) for h in table.headers) + " |")
    lines.append("|" + "|".join(" --- " for _ in table.headers) + "|")
    for row in table.rows:
        cells = [_cell(c) for c in row]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [""] + [f"_{_esc(n)}_  " for n in table.notes] + ([""] if table.notes else [])
    return "\n".join(lines)


def _cell(c) -> str:
    text = _esc(c.text) + (f" {UNSTABLE_MARK}" if c.unstable and c.text else "")
    return f"**{text}**" if c.bold and c.text else text


def crossover_lines(g: GroupReport) -> list[str]:
    """One bullet per crossover between two series of a group."""
    out = []
    for a, b, x in g.crossovers:
        first, then = (a, b) if x.faster_before == "a" else (b, a)
        noise = " (CIs overlap: within noise)" if x.within_noise else ""
        out.append(f"- {first} → {then} between {g.group.axis} {x.x_low:g} and "
                   f"{x.x_high:g}: crossover ≈ {fmt_x(x.x_cross)}{noise}")
    return out


def _summary(report: Report) -> list[str]:
    c = report.counts
    head = [f"# onnxbench report: {report.run.run_dir.name}", "",
            f"{len(report.points)} points from {len(report.run.results)} results: "
            + ", ".join(f"{v} {k}" for k, v in sorted(c.items()) if v) + ".", ""]
    sentences = [g.sentence for g in report.groups if g.sentence]
    if sentences:
        head += ["## Which runtime, for which load", ""] + [f"- {s}" for s in sentences]
        head += ["", f"_Crossovers interpolated {INTERPOLATION}; a tie within CI is not a flip._",
                 ""]
    pipes = [p.sentence for p in report.pipelines if p.sentence]
    if pipes:
        head += ["## Where the end-to-end time goes", ""] + [f"- {s}" for s in pipes] + [""]
    return head


def _tune_lines(report: Report) -> list[str]:
    """An `onnxbench tune` run's answer first: what to deploy, the Pareto front."""
    doc = report.run.tune
    if not doc or not doc.get("paragraph"):
        return []
    from onnxbench.report.tune_section import paste_lines, tune_tables

    lines = ["## What to deploy (tune)", "", _esc(doc["paragraph"]), ""] + paste_lines(doc)
    return lines + [md_table(t) for t in tune_tables(doc)]


def render_markdown(report: Report) -> str:
    body = _summary(report) + _tune_lines(report)
    if report.load:
        from onnxbench.report.load_report import markdown_lines

        body += markdown_lines(report.load, md_table)
    for g in report.groups:
        body += [f"## {g.group.title}", ""] + [f"_{_esc(n)}_" for n in g.group.notes]
        body += [""] if g.group.notes else []
        body += crossover_lines(g) + ([""] if g.crossovers else [])
        body += [md_table(t) for t in g.tables]
    if report.pipelines:
        body += ["## End-to-end pipelines", ""] + [md_table(p.table) for p in report.pipelines]
    ab = report.ab_table()
    body += [md_table(ab, 2)] if ab else []
    if report.why:
        body += ["## Why: placement, profiles, explained A/B", ""]
        body += [md_table(t) for t in report.why.tables]
    body += [md_table(t, 2) for t in report.tables]
    return "\n".join(body).rstrip() + "\n"
