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

from onnxbench.report.tables import Table, word

if TYPE_CHECKING:
    from onnxbench.report import GroupReport, Report
    from onnxbench.report.compare import Comparison

MAX_POINTS = 400
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def _asset(name: str) -> str:
    return resources.files("onnxbench.report").joinpath("assets", name).read_text(encoding="utf-8")


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    rows = []
    for row in table.rows:
        tds = []
        for c in row:
            text = html.escape(c.text)
            text = f"<b>{text}</b>" if c.bold else text
            attr = f' data-sort="{c.value}"' if isinstance(c.value, (int, float)) else ""
            cls = ' class="word"' if c.is_word else ""
            tds.append(f"<td{attr}{cls}>{text}</td>")
        rows.append("<tr>" + "".join(tds) + "</tr>")
    notes = "".join(f'<p class="note">{html.escape(n)}</p>' for n in table.notes)
    return (f"<h3>{html.escape(table.title)}</h3><table class=\"sortable\"><thead><tr>{head}"
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table>{notes}")


def _latency_figure(g: "GroupReport") -> go.Figure:
    group, fig = g.group, go.Figure()
    for i, s in enumerate(group.series):
        col = COLORS[i % len(COLORS)]
        xs = [x for x in group.xs if x in s.points and word(s.points[x]) is None]
        if not xs:
            continue
        pts = [s.points[x] for x in xs]
        lo, hi = [p.ci[0] for p in pts], [p.ci[1] for p in pts]
        fig.add_trace(go.Scatter(x=xs + xs[::-1], y=hi + lo[::-1], fill="toself", hoverinfo="skip",
                                 fillcolor=_rgba(col, 0.2), line={"width": 0}, showlegend=False,
                                 name=f"{s.label} 95% CI"))
        fig.add_trace(go.Scatter(x=xs, y=[p.median for p in pts], mode="lines+markers",
                                 name=s.label, line={"color": col}))
    ys = [v for s in group.series for p in s.points.values() if p.ci for v in p.ci]
    for a, b, c in g.crossovers:  # a trace, not a shape: shapes on log axes take log10 units
        fig.add_trace(go.Scatter(x=[c.x_cross, c.x_cross], y=[min(ys), max(ys)], mode="lines",
                                 line={"dash": "dot", "color": "#555"},
                                 name=f"crossover {a} / {b} ≈ {c.x_cross:.3g}"
                                 + (" (within noise)" if c.within_noise else "")))
    fig.update_layout(title=f"{group.title}: median latency (band: 95% CI of the median)",
                      xaxis={"type": "log", "title": group.axis},
                      yaxis={"type": "log", "title": "latency (ms)"}, height=420)
    return fig


def _throughput_figure(g: "GroupReport") -> go.Figure:
    group, fig = g.group, go.Figure()
    for i, s in enumerate(group.series):
        xs = [x for x in group.xs if x in s.points and word(s.points[x]) is None]
        if xs:
            fig.add_trace(go.Scatter(x=xs, y=[s.points[x].throughput for x in xs], name=s.label,
                                     mode="lines+markers", line={"color": COLORS[i % len(COLORS)]}))
    fig.update_layout(title=f"{group.title}: throughput (items/s = {group.axis} / mean latency)",
                      xaxis={"type": "log", "title": group.axis},
                      yaxis={"type": "log", "title": "items/s"}, height=380)
    return fig


def _distribution_figure(g: "GroupReport") -> go.Figure:
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
    fig.update_layout(title=f"{group.title}: raw latencies per case (≤ {MAX_POINTS} shown per case)",
                      yaxis={"type": "log", "title": "latency (ms)"}, showlegend=False, height=420)
    return fig


def _figures(report: "Report") -> list[go.Figure]:
    figs = []
    for g in report.groups:
        if any(p.median is not None for s in g.group.series for p in s.points.values()):
            if len(g.group.xs) > 1:
                figs += [_latency_figure(g), _throughput_figure(g)]
            figs.append(_distribution_figure(g))
    return figs


def _ab_html(comp: "Comparison") -> str:
    from onnxbench.report.markdown import ab_markdown  # reuse the wording, render as a table
    lines = [ln for ln in ab_markdown(comp).splitlines() if ln.startswith("|")]
    rows = [[c.strip().strip("*") for c in ln.strip("|").split("|")] for ln in lines]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows[2:])
    return (f"<h2>A/B comparison</h2><p class=\"note\">B/A ratio of medians, 95% CI, Holm-adjusted p, "
            f"equivalent = whole CI within ±{comp.threshold:.0%}</p>"
            f"<table class=\"sortable\"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def render_html(report: "Report") -> str:
    """The whole page as a string (plotly.js inlined once; no network needed to view it)."""
    parts = [f"<h1>onnxbench report: {html.escape(report.run.run_dir.name)}</h1>"]
    sentences = [g.sentence for g in report.groups if g.sentence]
    if sentences:
        parts.append("<h2>Which runtime, for which load</h2><ul>"
                     + "".join(f"<li>{html.escape(s)}</li>" for s in sentences) + "</ul>")
    for fig in _figures(report):
        parts.append('<div class="chart">' + fig.to_html(full_html=False, include_plotlyjs=False)
                     + "</div>")
    for g in report.groups:
        parts.append(f"<h2>{html.escape(g.group.title)}</h2>")
        parts += [html_table(t) for t in g.tables]
    if report.ab:
        parts.append(_ab_html(report.ab))
    parts += [html_table(t) for t in report.tables]
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<title>onnxbench report: {html.escape(report.run.run_dir.name)}</title>"
            f"<style>{_asset('style.css')}</style><script type=\"text/javascript\">{get_plotlyjs()}</script>"
            f"</head><body>{''.join(parts)}<script>{_asset('sortable.js')}</script></body></html>\n")
