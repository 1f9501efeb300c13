"""The report's ``tune`` section, from ``tune.json`` alone: the answer, the Pareto front
(speed × accuracy × cores) as a table and a chart, the candidates dropped with their reasons,
and what to paste."""

from __future__ import annotations

from typing import Any

from onnxbench.report.tables import Cell, Table


def _figure_name(goal: dict[str, Any]) -> str:
    if goal.get("kind") == "throughput":
        return "QPS"
    if goal.get("kind") == "latency":
        return "median (ms)"
    return f"p{goal.get('percentile', 99):g} (ms)"


def _num(value: Any, fmt: str = ".4g") -> Cell:
    return Cell("–", None, is_word=True) if value is None else Cell(f"{value:{fmt}}", value)


def ci_text(ci: list[float | None] | None, fmt: str = ".4g") -> str:
    """``low–high``; ``≥ low`` when the upper end is open (a peak that is a lower bound)."""
    if not ci or ci[0] is None:
        return "–"
    return f"≥ {ci[0]:{fmt}}" if ci[1] is None else f"{ci[0]:{fmt}}–{ci[1]:{fmt}}"


def candidates_table(doc: dict[str, Any], pareto_only: bool = False) -> Table | None:
    """Every measured candidate (or the Pareto front) with its figure, CI, accuracy, cores."""
    goal = doc.get("goal") or {}
    rows = [r for r in doc.get("rows") or [] if r.get("pareto") or not pareto_only]
    if not rows:
        return None
    out = []
    for r in rows:
        ci = r.get("ci")
        mark = "pick" if r.get("winner") else ("tie" if r.get("tie") else
                                               ("Pareto" if r.get("pareto") else ""))
        out.append([Cell(r["label"], bold=bool(r.get("winner"))), Cell(mark),
                    _num(r.get("value")),
                    Cell(ci_text(ci), is_word=not ci),
                    _num(r.get("accuracy_drop"), ".3g"), _num(r.get("cores"), "d"),
                    Cell(str(r.get("stage") or "")),
                    Cell(str(r.get("dropped") or r.get("status") or ""))])
    title = "tune: Pareto front (speed × accuracy × cores)" if pareto_only else \
        "tune: every candidate measured (latest stage)"
    return Table(title, ["Candidate", "", _figure_name(goal), "95 % CI", "Accuracy drop",
                         "Cores", "Stage", "Outcome"], out,
                 ["Accuracy drop against fp32 in the metric's units; a tie is an overlap "
                  "of CIs or an ab verdict of equivalent / cannot tell."])


def dropped_table(doc: dict[str, Any]) -> Table | None:
    dropped = [d for d in doc.get("dropped") or [] if d.get("reason")]
    if not dropped:
        return None
    return Table("tune: dropped, with the reason", ["What", "Why"],
                 [[Cell(d["what"]), Cell(d["reason"])] for d in dropped])


def tune_tables(doc: dict[str, Any]) -> list[Table]:
    return [t for t in (candidates_table(doc, True), candidates_table(doc),
                        dropped_table(doc)) if t]


def paste_lines(doc: dict[str, Any]) -> list[str]:
    """What to paste, as markdown (code blocks)."""
    paste = doc.get("paste") or {}
    out = []
    make = [paste[k] for k in ("export", "optimize") if paste.get(k)]
    if make:
        out += ["Make the graph:", "", "```sh", *make, "```", ""]
    if paste.get("session"):
        out += ["Run it:", "", "```python", paste["session"], "```", ""]
    if paste.get("serving"):
        out += [f"Serve it: {paste['serving']}.", ""]
    if paste.get("suite_yaml"):
        out += ["Reproduce it (`onnxbench run --suite tune-winner.yaml`):", "", "```yaml",
                paste["suite_yaml"].rstrip(), "```", ""]
    return out


def pareto_figure(doc: dict[str, Any]):
    """Speed against accuracy drop, marker size by cores; the front drawn as a line."""
    import plotly.graph_objects as go

    rows = [r for r in doc.get("rows") or [] if r.get("value") is not None]
    if not rows:
        return None
    fig = go.Figure()
    for name, pick in (("measured", lambda r: not r.get("pareto")),
                       ("Pareto front", lambda r: r.get("pareto"))):
        sel = [r for r in rows if pick(r)]
        if sel:
            fig.add_trace(go.Scatter(
                x=[r["value"] for r in sel], y=[r.get("accuracy_drop") or 0.0 for r in sel],
                mode="markers", name=name, text=[r["label"] for r in sel],
                marker={"size": [8 + 5 * int(r.get("cores") or 1) for r in sel],
                        "symbol": ["star" if r.get("winner") else "circle" for r in sel]}))
    goal = doc.get("goal") or {}
    fig.update_layout(title="tune: speed × accuracy drop (marker size: cores; ★ the pick)",
                      xaxis={"title": _figure_name(goal)},
                      yaxis={"title": "accuracy drop against fp32"}, height=420)
    return fig


__all__ = ["pareto_figure", "paste_lines", "tune_tables"]
