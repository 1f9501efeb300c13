"""What a trace cannot record, and the parity pattern it leaves behind.

A tracing exporter (``jit-trace``, and ``torchscript``, which traces too) runs the model
once on the example inputs and records the tensor ops it saw. Python decisions taken on
tensor values (``if bool(mask.any())``, a loop over a tensor, a count turned into an int)
are not ops: the trace keeps the branch the *example* took and drops the others, silently.
PyTorch says so in a ``TracerWarning`` at the source line; the exporters keep those
warnings (``ExportResult.trace_warnings``) and this module turns them into:

- the lint finding ``traced-control-flow`` (warning): "control flow baked in by tracing",
  with the source line, for every warning about a Python bool or a loop over a tensor;
- a parity note for a matrix row whose parity fails on some input sets of a shape and not
  on others (or passes on the example and fails elsewhere): the graph is right for the
  values it was traced with and wrong for the rest, and the note names the cause.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from onnxbench.build.export.lint import WARNING, Finding

RULE = "traced-control-flow"
# TracerWarning texts that mean a decision on a tensor's value became a constant
CONTROL_FLOW = ("Python boolean", "Iterating over a tensor")
REMEDY = ("export with jit-script (the branch becomes an ONNX If/Loop) or dynamo (which "
          "refuses a data-dependent branch with an error), or write the branch as tensor "
          "ops (torch.where, masks)")


def _where(w: Mapping[str, Any]) -> str:
    path = Path(str(w.get("file", "?")))
    return f"{path.parent.name}/{path.name}:{w.get('line')}" if path.parent.name else \
        f"{path.name}:{w.get('line')}"


def trace_findings(trace_warnings: Sequence[Mapping[str, Any]]) -> list[Finding]:
    """One ``traced-control-flow`` finding per source line where the tracer turned a tensor
    into a Python bool (or iterated over one)."""
    out = []
    for w in trace_warnings:
        if not any(k in str(w.get("message", "")) for k in CONTROL_FLOW):
            continue
        times = f" ({w.get('count', 1)} times)" if w.get("count", 1) > 1 else ""
        out.append(Finding(
            rule=RULE, severity=WARNING, node=_where(w), op="(trace)",
            message=(f"control flow baked in by tracing: the tracer turned a tensor into a "
                     f"Python value here{times}, so the graph always takes the branch the "
                     f"example inputs took; inputs that would go another way get wrong "
                     f"outputs and no error. Fix: {REMEDY}")))
    return out


def hazard_notes(label: str, cells: Mapping[str, Any], findings: Sequence[Finding],
                 example_key: str) -> list[str]:
    """A note when parity depends on the input values, not only on their shape."""
    failing = [c for c in cells.values() if c.status == "fail"]
    if not failing:
        return []
    value_dependent = [c for c in failing if len(c.failed_sets) < c.sets]
    example = cells.get(example_key)
    example_ok = example is not None and 0 not in example.failed_sets \
        and example.status in ("pass", "fail")
    if not value_dependent and not example_ok:
        return []  # fails for every input: a shape problem, not a value one
    sets = sum(len(c.failed_sets) for c in failing)
    total = sum(c.sets for c in cells.values() if c.status in ("pass", "fail"))
    where = ", ".join(c.key for c in failing)
    head = (f"{label}: parity fails on {sets} of {total} input sets ({where}) although "
            + ("the example inputs the graph was exported with pass" if example_ok else
               "other values of the same shapes pass"))
    flow = [f for f in findings if f.rule == RULE]
    if flow:
        lines = ", ".join(f.node for f in flow[:3]) + (" …" if len(flow) > 3 else "")
        return [f"{head}: control flow baked in by tracing (TracerWarning at {lines}): the "
                f"graph keeps the branches the example took. Fix: {REMEDY}"]
    return [f"{head}: the graph depends on values the export saw (data-dependent control "
            "flow or constants baked in by tracing?); check the model's forward for Python "
            "decisions on tensor values"]


def failure_hint(exporter: str, error: str | None) -> str | None:
    """What an exporter's failure means when it is the data-dependent-branch refusal."""
    if exporter == "dynamo" and error and ("GuardOnDataDependent" in error
                                           or "data-dependent" in error):
        return ("torch.export met a Python decision on a tensor's value (data-dependent "
                "control flow) and refused it instead of baking one branch in: the right, "
                "loud failure. Rewrite the branch with torch.cond or tensor ops, or export "
                "with jit-script")
    return None
