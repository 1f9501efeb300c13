"""The latency-throughput curve of a model's load points (plotly, for the HTML report).

p99 (solid) and p50 (dotted) against achieved inferences/s, one colour per runtime × layout ×
batching; the bound drawn as a horizontal line; each series' knee marked (see
``load_tables``: the last point whose p99 is within twice the series' lowest).
"""

from __future__ import annotations

import plotly.graph_objects as go

from onnxbench.report.load_report import ModelLoad

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def curve_figure(model: ModelLoad) -> go.Figure | None:
    if not model.curves:
        return None
    fig = go.Figure()
    xs = [x for c in model.curves for x, _, _ in c.points]
    for i, c in enumerate(model.curves):
        col = COLORS[i % len(COLORS)]
        x = [p[0] for p in c.points]
        fig.add_trace(go.Scatter(x=x, y=[p[2] for p in c.points], mode="lines+markers",
                                 name=f"{c.label} p99", line={"color": col}))
        fig.add_trace(go.Scatter(x=x, y=[p[1] for p in c.points], mode="lines+markers",
                                 name=f"{c.label} p50", line={"color": col, "dash": "dot"},
                                 marker={"symbol": "circle-open"}))
        if c.knee:
            fig.add_trace(go.Scatter(x=[c.knee[0]], y=[c.knee[1]], mode="markers",
                                     name=f"{c.label} knee", marker={"symbol": "x", "size": 12,
                                                                    "color": col}))
    for bound in model.bounds:  # a trace, not a shape: shapes on log axes take log10 units
        fig.add_trace(go.Scatter(x=[min(xs), max(xs)], y=[bound, bound], mode="lines",
                                 name=f"bound {bound:g} ms",
                                 line={"dash": "dash", "color": "#555"}))
    fig.update_layout(title=f"{model.title}: latency against throughput (from the scheduled "
                            "arrival)", xaxis={"title": "inferences/s"},
                      yaxis={"type": "log", "title": "latency (ms)"}, height=460)
    return fig


__all__ = ["curve_figure"]
