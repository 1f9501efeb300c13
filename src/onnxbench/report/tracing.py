"""TensorFlow's retracing, per case: what the second reference report saw as warnings.

A TF runtime counts the "triggered tf.function retracing" warnings TensorFlow logged while
the case ran (``runtime_info.retracing_warnings``) and, where it traced a function itself,
how many times it traced (``tracing_count``). Every process of a point is listed by its
maximum: a retrace in any process is a cost that point's latency may carry.
"""

from __future__ import annotations

from onnxbench.report.labels import model_config, runtime_label
from onnxbench.report.rundata import Point
from onnxbench.report.tables import Cell, Table

NOTE = ("retracing warnings: TensorFlow's \"triggered tf.function retracing\" messages while "
        "the case ran (warm-up and timed runs), the most in any process; tracing count: "
        "how often onnxbench's own tf.function traced (– where the runtime traces nothing "
        "itself)")


def _most(p: Point, key: str) -> int | None:
    values = [r.runtime_info.get(key) for r in p.results if r.runtime_info]
    found = [int(v) for v in values if isinstance(v, (int, float))]
    return max(found) if found else None


def tracing_table(points: list[Point]) -> Table | None:
    """| Model | Runtime | Batch | Seq | Retracing warnings | Tracing count |, TF points only."""
    rows = []
    for p in points:
        warnings = _most(p, "retracing_warnings")
        if warnings is None:
            continue
        traces = _most(p, "tracing_count")
        c = p.case
        rows.append([Cell(model_config(c)), Cell(runtime_label(c.runtime)),
                     Cell(str(c.batch), c.batch), Cell(str(c.seq or "–"), c.seq),
                     Cell(str(warnings), warnings, bold=warnings > 0),
                     Cell("–" if traces is None else str(traces), traces)])
    if not rows:
        return None
    return Table("TensorFlow retracing", ["Model", "Runtime", "Batch", "Seq",
                                          "Retracing warnings", "Tracing count"], rows, [NOTE])
