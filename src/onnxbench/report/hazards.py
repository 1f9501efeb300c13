"""Why a parity failed: the export findings behind a wrong graph, in the suite's report.

A graph that runs fast and answers wrongly is the worst result a benchmark can print
without comment (a traced sparse MoE is the fastest row of ``moe-backends``, and 30 points
less accurate). For every point whose outputs disagreed with PyTorch (its ``verify``
parity, or its artifact's own check over several input sets), this table names the cause
the export left in ``artifacts/<key>/artifact.json``: the lint findings (``traced-control-
flow`` with its source line, ``squeeze-no-axes``, ...) and whether the export's own check
passed on the example inputs and failed on others (values baked in).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from onnxbench.core.artifact import META
from onnxbench.core.files import in_dir
from onnxbench.report.fmt import DASH, sig
from onnxbench.report.labels import model_config, runtime_label
from onnxbench.report.rundata import Point
from onnxbench.report.tables import Cell, Table


def _artifact_meta(run_dir: Path, p: Point) -> dict[str, Any]:
    try:
        doc = json.loads(in_dir(run_dir, "artifacts", p.case.artifact_key, META)
                         .read_text("utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _cause(meta: dict[str, Any]) -> str:
    lint = [f for f in meta.get("lint") or [] if isinstance(f, dict)]
    parity = meta.get("parity") or meta.get("export_parity") or {}
    bits = []
    flow = [f for f in lint if f.get("rule") == "traced-control-flow"]
    if flow:
        bits.append("control flow baked in by tracing (" + ", ".join(
            str(f.get("node")) for f in flow[:3]) + ")")
    bits += [f"{f.get('rule')} at {f.get('node')}" for f in lint
             if f.get("severity") == "error" and f.get("rule") != "traced-control-flow"][:3]
    failed = parity.get("failed_sets") or []
    if failed and 0 not in failed:
        others = int(parity.get("input_sets") or len(failed) + 1) - 1
        bits.append(f"the export's own check passed on the example inputs and failed on "
                    f"{len(failed)} of the {others} other input sets")
    return "; ".join(bits) or DASH


def hazards_table(run_dir: Path, points: list[Point]) -> Table | None:
    """One row per point whose parity against PyTorch failed."""
    rows = []
    for p in points:
        par = p.parity() or {}
        if par.get("passed") is not False:
            continue
        meta = _artifact_meta(run_dir, p)
        rows.append([Cell(model_config(p.case)), Cell(p.case.exporter or DASH),
                     Cell(runtime_label(p.case.runtime)), Cell(str(p.case.batch), p.case.batch),
                     Cell(sig(par.get("max_abs")), par.get("max_abs")), Cell(_cause(meta))])
    if not rows:
        return None
    return Table("Parity failures and their cause",
                 ["Model", "Exporter", "Runtime", "Batch", "max |Δ| vs PyTorch", "Cause"], rows,
                 ["a failed parity means the graph computes something else than the model: "
                  "its latency is not a result; causes from artifacts/<key>/artifact.json"])
