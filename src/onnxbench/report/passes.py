"""What the graph passes did, in the suite's report: fused-op counts and truncation proofs.

``onnxbench optimize`` prints its change report; in a suite the same record travels in each
case's ``runtime_info['optimization']``. This table shows it once per optimised artifact:
nodes before → after, which fused operators appeared (``Attention ×12``), which expected
ones did not and why, and for a layer truncation the proof (what was compared and the max
|difference|, against the tolerance), so a reader sees *why* a fused or truncated row may
be trusted, next to its speed.
"""

from __future__ import annotations

from typing import Any

from onnxbench.report.fmt import DASH, sig
from onnxbench.report.labels import model_config
from onnxbench.report.rundata import Point
from onnxbench.report.tables import Cell, Table


def _record(p: Point) -> dict[str, Any] | None:
    return next((r.runtime_info.get("optimization") for r in p.results
                 if isinstance(r.runtime_info.get("optimization"), dict)), None)


def _counts(d: dict[str, Any]) -> str:
    return ", ".join(f"{k} ×{v}" for k, v in sorted(d.items()) if v) or DASH


def _proof(steps: list[dict[str, Any]]) -> str:
    for step in steps:
        proof = (step.get("details") or {}).get("proof")
        if step.get("step") == "truncate" and isinstance(proof, dict):
            verdict = "proved" if proof.get("equal") else "NOT proved"
            return (f"{verdict}: {proof.get('compared', '')}, max |Δ| "
                    f"{sig(proof.get('max_abs_diff'))} (atol {proof.get('atol', DASH)})")
    return DASH


def _not_fused(steps: list[dict[str, Any]]) -> str:
    missing = {k: v for s in steps for k, v in (s.get("not_fused") or {}).items()}
    return "; ".join(f"{k}: {v}" for k, v in sorted(missing.items())) or DASH


def variant(case: Any) -> str:
    """The graph's recipe: its precision and the optimisation options the case set."""
    from onnxbench.core.options import OPTIMIZE_OPTIONS

    opts = [f"{k}={v}" for k, v in sorted(case.options.items()) if k in OPTIMIZE_OPTIONS and v]
    return "; ".join([case.precision, *opts])


def passes_table(points: list[Point]) -> Table | None:
    """One row per optimised artifact (model/config, variant)."""
    rows_by_artifact: dict[str, tuple[Point, dict[str, Any]]] = {}
    for p in points:
        rec = _record(p)
        if rec and rec.get("steps"):
            rows_by_artifact.setdefault(str(rec.get("artifact")), (p, rec))
    if not rows_by_artifact:
        return None
    rows = []
    for p, rec in rows_by_artifact.values():
        steps = rec.get("steps") or []
        fused: dict[str, int] = {}
        for step in steps:
            for k, v in (step.get("fused") or {}).items():
                fused[k] = fused.get(k, 0) + int(v or 0)
        rows.append([Cell(model_config(p.case)), Cell(variant(p.case)),
                     Cell(" → ".join(s.get("step", "?") for s in steps) or DASH),
                     Cell(f"{rec.get('nodes_before', DASH)} → {rec.get('nodes_after', DASH)}"),
                     Cell(_counts(fused)), Cell(_not_fused(steps)), Cell(_proof(steps))])
    return Table("What the graph passes did (per optimised graph)",
                 ["Model", "Variant", "Passes", "Nodes", "Fused ops", "Not fused (why)",
                  "Truncation proof"], rows,
                 ["from runtime_info['optimization'] of the cases that ran each graph"])
