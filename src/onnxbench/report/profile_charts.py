"""The "Why" charts of report.html: time by op type per profiled point, and each explained
A/B's difference split by op type (plotly figures; ``html.py`` inlines them)."""

from __future__ import annotations

import plotly.graph_objects as go

from onnxbench.report.profile_tables import TOP_OPS, Explained, ProfileSection

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
          "#17becf", "#bcbd22", "#7f7f7f"]


def op_type_figure(section: ProfileSection) -> go.Figure | None:
    """Stacked bars: per profiled point, ms per run of its heaviest op types (the rest as
    "other"), with the timed median marked: the gap to the bar is the unprofiled time."""
    if not section.profiled:
        return None
    totals: dict[str, float] = {}
    for _, _, prof in section.profiled:
        for r in prof["by_op_type"]:
            totals[r["op_type"]] = totals.get(r["op_type"], 0.0) + r["ms"]
    keep = sorted(totals, key=lambda k: -totals[k])[:TOP_OPS]
    names = [lbl for lbl, _, _ in section.profiled]
    fig = go.Figure()
    for i, op in enumerate(keep + ["other"]):
        xs = []
        for _, _, prof in section.profiled:
            rows = prof["by_op_type"]
            xs.append(sum(r["ms"] for r in rows if (r["op_type"] == op) or
                          (op == "other" and r["op_type"] not in keep)))
        fig.add_trace(go.Bar(y=names, x=xs, name=op, orientation="h",
                             marker_color=COLORS[i % len(COLORS)]))
    medians = [prof.get("measured_median_ms") for _, _, prof in section.profiled]
    fig.add_trace(go.Scatter(y=names, x=medians, mode="markers", name="timed median",
                             marker={"symbol": "line-ns-open", "size": 18, "color": "#000"}))
    fig.update_layout(barmode="stack", title="Time by op type per run (untimed profiling pass); "
                      "mark: the timed median", xaxis={"title": "ms per run"},
                      height=200 + 36 * len(names))
    return fig


def attribution_figure(e: Explained) -> go.Figure:
    """Horizontal bars of B − A per op type and the unprofiled term; the measured total."""
    att = e.attribution
    rows = att["by_op_type"][:TOP_OPS]
    labels = [r["op_type"] for r in rows] + ["unprofiled", "measured"]
    values = [r["delta_ms"] for r in rows] + [att["unprofiled_diff_ms"], att["measured_diff_ms"]]
    colors = ["#d62728" if v > 0 else "#2ca02c" for v in values[:-1]] + ["#000"]
    fig = go.Figure(go.Bar(y=labels[::-1], x=values[::-1], orientation="h",
                           marker_color=colors[::-1]))
    fig.update_layout(title=f"{e.label}: B − A per {att['vocabulary']} (ms per run; >0: B slower)",
                      xaxis={"title": "ms"}, height=160 + 28 * len(labels), showlegend=False)
    return fig


def placement_figure(section: ProfileSection) -> go.Figure | None:
    """Stacked bars: per ORT point, its nodes per execution provider; Memcpy nodes apart."""
    if not section.placed:
        return None
    names = [lbl for lbl, _ in section.placed]
    providers = sorted({p for _, pl in section.placed for p in pl["by_provider"]})
    fig = go.Figure()
    for i, prov in enumerate(providers):
        counts = [pl["by_provider"].get(prov, 0) for _, pl in section.placed]
        fig.add_trace(go.Bar(y=names, x=counts, name=prov.removesuffix("ExecutionProvider"),
                             orientation="h",
                             marker_color=COLORS[i % len(COLORS)]))
    if any(pl["memcpy_nodes"] for _, pl in section.placed):
        fig.add_trace(go.Scatter(y=names, x=[pl["memcpy_nodes"] for _, pl in section.placed],
                                 mode="markers", name="Memcpy nodes",
                                 marker={"symbol": "x", "size": 12, "color": "#000"}))
    fig.update_layout(barmode="stack", title="Where each node ran: nodes per execution provider",
                      xaxis={"title": "nodes"}, height=200 + 30 * len(names))
    return fig


def section_figures(section: ProfileSection) -> list[go.Figure]:
    figs = [placement_figure(section), op_type_figure(section)]
    return [f for f in figs if f] + [attribution_figure(e) for e in section.explained]
