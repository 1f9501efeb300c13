"""Render a Report as ONE self-contained HTML file that works offline.

plotly.js is inlined once (no CDN); every figure's data is inlined in the page. Charts per
model/config: median latency vs batch (or seq) per runtime on log-log axes with the CI of the
median as a band and the crossovers marked; throughput vs batch; the distribution of raw
latencies per case (box plots; at most ``MAX_POINTS`` latencies per case, evenly subsampled,
so the file stays small). The tables are the markdown report's, sortable by a few lines of JS.
"""

from __future__ import annotations

import html
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from onnxbench.report.crossover import INTERPOLATION, fmt_x
from onnxbench.report.markdown import crossover_lines
from onnxbench.report.tables import UNSTABLE_MARK, Table, word

if TYPE_CHECKING:
    from onnxbench.report import GroupReport, Report
    from onnxbench.report.pipelines import PipelineReport
    from onnxbench.report.rundata import Point

MAX_POINTS = 400
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def _asset(name: str) -> str:
    return resources.files("onnxbench.report").joinpath("assets", name).read_text(encoding="utf-8")


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def html_table(table: Table, heading: str = "h3") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    rows = []
    for row in table.rows:
        tds = []
        for c in row:
            text = html.escape(c.text) + (f" {UNSTABLE_MARK}" if c.unstable and c.text else "")
            text = f"<b>{text}</b>" if c.bold else text
            attr = f' data-sort="{c.value}"' if isinstance(c.value, (int, float)) else ""
            kind = "word" if c.is_word else ("" if isinstance(c.value, (int, float)) else "text")
            kind = " ".join(k for k in (kind, "unstable" if c.unstable else "") if k)
            cls = f' class="{kind}"' if kind else ""
            tds.append(f"<td{attr}{cls}>{text}</td>")
        rows.append("<tr>" + "".join(tds) + "</tr>")
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in table.notes)
    return (f"<{heading}>{html.escape(table.title)}</{heading}>"
            f"<table class=\"sortable\"><thead><tr>{head}"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>{notes}")


def _x_axis(group) -> dict:
    """Log axis ticked at the measured batch/seq values (not plotly's 2…9 minor labels)."""
    return {"type": "log", "title": group.axis, "tickvals": group.xs,
            "ticktext": [str(x) for x in group.xs]}


def _markers(pts: list) -> dict:
    """Unstable points keep their place on the line, drawn as a hollow ✕ (never dropped)."""
    return {"symbol": ["x-open" if p.unstable else "circle" for p in pts],
            "size": [11 if p.unstable else 7 for p in pts]}


def _hover(pts: list) -> list[str]:
    return [f"UNSTABLE: {p.reason}" if p.unstable else "" for p in pts]


def _band_of(p: Point) -> tuple[float, float, float]:
    """(CI low, median, CI high) of a point with a number: its fold sets the CI with the median."""
    assert p.ci is not None and p.median is not None
    return p.ci[0], p.median, p.ci[1]


def _latency_figure(g: GroupReport) -> go.Figure:
    group, fig = g.group, go.Figure()
    for i, s in enumerate(group.series):
        col = COLORS[i % len(COLORS)]
        xs = [x for x in group.xs if x in s.points and word(s.points[x]) is None]
        if not xs:
            continue
        pts = [s.points[x] for x in xs]
        lo, med, hi = zip(*map(_band_of, pts))
        fig.add_trace(go.Scatter(x=xs + xs[::-1], y=[*hi, *lo[::-1]], fill="toself",
                                 hoverinfo="skip",
                                 fillcolor=_rgba(col, 0.2), line={"width": 0}, showlegend=False,
                                 name=f"{s.label} 95% CI"))
        fig.add_trace(go.Scatter(x=xs, y=[p.median for p in pts], mode="lines+markers",
                                 name=s.label, line={"color": col}, marker=_markers(pts),
                                 text=_hover(pts),
                                 error_y={"type": "data", "symmetric": False, "visible": True,
                                          "array": [h - m for h, m in zip(hi, med)],
                                          "arrayminus": [m - lw for lw, m in zip(lo, med)],
                                          "color": col, "thickness": 1}))
    ys = [v for s in group.series for p in s.points.values() if p.ci for v in p.ci]
    for a, b, c in g.crossovers:  # a trace, not a shape: shapes on log axes take log10 units
        fig.add_trace(go.Scatter(x=[c.x_cross, c.x_cross], y=[min(ys), max(ys)], mode="lines",
                                 line={"dash": "dot", "color": "#555"},
                                 name=f"crossover {a} / {b} ≈ {fmt_x(c.x_cross)}"
                                 + (" (within noise)" if c.within_noise else "")))
    fig.update_layout(title=f"{group.title}: median latency (band and bars: 95% CI of the "
                            "median; ✕ = unstable, shown)",
                      xaxis=_x_axis(group), yaxis={"type": "log", "title": "latency (ms)"},
                      height=420)
    return fig


def _throughput_figure(g: GroupReport) -> go.Figure:
    group, fig = g.group, go.Figure()
    for i, s in enumerate(group.series):
        xs = [x for x in group.xs if x in s.points and word(s.points[x]) is None]
        if xs:
            pts = [s.points[x] for x in xs]
            fig.add_trace(go.Scatter(x=xs, y=[p.throughput for p in pts], name=s.label,
                                     mode="lines+markers", line={"color": COLORS[i % len(COLORS)]},
                                     marker=_markers(pts), text=_hover(pts)))
    fig.update_layout(title=f"{group.title}: throughput (items/s = {group.axis} / mean latency)",
                      xaxis=_x_axis(group), yaxis={"type": "log", "title": "items/s"}, height=380)
    return fig


def _distribution_figure(g: GroupReport) -> go.Figure:
    group, fig = g.group, go.Figure()
    for i, s in enumerate(group.series):
        for x in group.xs:
            p = s.points.get(x)
            if p is None or p.median is None:
                continue
            lat = np.concatenate(p.latencies())
            if len(lat) > MAX_POINTS:
                lat = lat[np.linspace(0, len(lat) - 1, MAX_POINTS).astype(int)]
            fig.add_trace(go.Box(y=lat.round(5).tolist(), name=f"{s.label} {group.axis} {x}",
                                 marker_color=COLORS[i % len(COLORS)], boxpoints=False))
    fig.update_layout(title=f"{group.title}: raw latencies per case "
                            f"(≤ {MAX_POINTS} shown per case)",
                      yaxis={"type": "log", "title": "latency (ms)"}, showlegend=False, height=420)
    return fig


def _group_figures(g: GroupReport) -> list[go.Figure]:
    if not any(p.median is not None for s in g.group.series for p in s.points.values()):
        return []
    figs = [_latency_figure(g), _throughput_figure(g)] if len(g.group.xs) > 1 else []
    return figs + [_distribution_figure(g)]


def _pipeline_figure(pr: PipelineReport) -> go.Figure | None:
    """Stacked bars of the stage medians per pipeline, E2E marked: where the time goes."""
    rows = [r for r in pr.rows if r.stages]  # stage medians stand on their own
    if not rows:
        return None
    names = [f"{r.name} pin={int(r.switch('pin_memory'))} nb={int(r.switch('non_blocking'))}"
             for r in rows]
    fig = go.Figure()
    for i, stage in enumerate(pr.stages):
        fig.add_trace(go.Bar(y=names, x=[r.stages.get(stage, 0.0) for r in rows], name=stage,
                             orientation="h", marker_color=COLORS[i % len(COLORS)]))
    fig.add_trace(go.Scatter(y=names, x=[r.e2e if word(r.point) is None else None for r in rows],
                             mode="markers", name="E2E median",
                             marker={"symbol": "line-ns-open", "size": 18, "color": "#000"}))
    fig.update_layout(barmode="stack", title=f"{pr.title}: stage medians per pipeline (ms)",
                      xaxis={"title": "ms"}, height=180 + 40 * len(rows))
    return fig


def _chart(fig: go.Figure | None) -> list[str]:
    if fig is None:
        return []
    return ['<div class="chart">' + fig.to_html(full_html=False, include_plotlyjs=False) + "</div>"]


def _notes(notes: list[str]) -> str:
    return "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes)


def _list(items: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(s)}</li>" for s in items) + "</ul>"


def _summary(report: Report) -> list[str]:
    parts = [f"<h1>onnxbench report: {html.escape(report.run.run_dir.name)}</h1>"]
    c = report.counts
    parts.append(f"<p>{len(report.points)} points from {len(report.run.results)} results: "
                 + html.escape(", ".join(f"{v} {k}" for k, v in sorted(c.items()) if v)) + ".</p>")
    sentences = [g.sentence for g in report.groups if g.sentence]
    if sentences:
        parts += ["<h2>Which runtime, for which load</h2>", _list(sentences),
                  _notes([f"Crossovers interpolated {INTERPOLATION}; "
                          "a tie within CI is not a flip."])]
    pipes = [p.sentence for p in report.pipelines if p.sentence]
    if pipes:
        parts += ["<h2>Where the end-to-end time goes</h2>", _list(pipes)]
    return parts


def _load_parts(report: Report) -> list[str]:
    """The load section: sentences, then per model its latency-throughput curve and tables."""
    if not report.load:
        return []
    from onnxbench.report.load_charts import curve_figure

    parts = ["<h2>Which runtime, for which traffic</h2>", _list(report.load.sentences)]
    for m in report.load.models:
        parts += [f"<h2>Load: {html.escape(m.title)}</h2>"] + _chart(curve_figure(m))
        parts += [html_table(t) for t in m.tables]
    return parts


def _tune_parts(report: Report) -> list[str]:
    """An `onnxbench tune` run's answer, its Pareto chart and tables, what to paste."""
    doc = report.run.tune
    if not doc or not doc.get("paragraph"):
        return []
    from onnxbench.report.tune_section import pareto_figure, tune_tables

    paste = doc.get("paste") or {}
    code = [paste[k] for k in ("optimize", "session", "suite_yaml") if paste.get(k)]
    parts = ["<h2>What to deploy (tune)</h2>", f"<p>{html.escape(doc['paragraph'])}</p>"]
    parts += [f"<pre>{html.escape(c)}</pre>" for c in code]
    parts += _chart(pareto_figure(doc))
    return parts + [html_table(t) for t in tune_tables(doc)]


def render_html(report: Report) -> str:
    """The whole page as a string (plotly.js inlined once; no network needed to view it)."""
    parts = _summary(report) + _tune_parts(report) + _load_parts(report)
    for g in report.groups:
        parts += [f"<h2>{html.escape(g.group.title)}</h2>", _notes(g.group.notes)]
        cross = [ln.removeprefix("- ") for ln in crossover_lines(g)]
        parts += [_list(cross)] if cross else []
        for fig in _group_figures(g):
            parts += _chart(fig)
        parts += [html_table(t) for t in g.tables]
    if report.pipelines:
        parts.append("<h2>End-to-end pipelines</h2>")
        for pr in report.pipelines:
            parts += _chart(_pipeline_figure(pr)) + [html_table(pr.table)]
    ab = report.ab_table()
    parts += [html_table(ab, "h2")] if ab else []
    if report.why:
        from onnxbench.report.profile_charts import section_figures

        parts.append("<h2>Why: placement, profiles, explained A/B</h2>")
        for fig in section_figures(report.why):
            parts += _chart(fig)
        parts += [html_table(t) for t in report.why.tables]
    parts += [html_table(t, "h2") for t in report.tables]
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<title>onnxbench report: {html.escape(report.run.run_dir.name)}</title>"
            f"<style>{_asset('style.css')}</style>"
            f"<script type=\"text/javascript\">{get_plotlyjs()}</script>"
            f"</head><body>{''.join(parts)}<script>{_asset('sortable.js')}</script></body></html>\n")
