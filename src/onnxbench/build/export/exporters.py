"""The four PyTorch → ONNX exporters behind one function, and what each produced.

- ``dynamo``: ``torch.onnx.export(..., dynamo=True)`` (torch.export); dynamic axes become
  ``torch.export.Dim`` objects shared by name, so inputs sharing ``batch`` share one Dim.
- ``torchscript``: the legacy exporter, ``torch.onnx.export(..., dynamo=False)``.
- ``jit-trace``: ``torch.jit.trace`` first, then the legacy exporter on the traced module.
- ``jit-script``: ``torch.jit.script`` first, then the legacy exporter (fails on modules
  TorchScript cannot compile; that failure is a result, not an error).

Example inputs should have batch >= 2 (and seq >= 2): torch.export specialises a dim whose
example size is 1, and a trace at batch 1 bakes the squeeze of the batch axis into the
graph. Exports are single files (no external data); an exporter that fails returns
``status="failed"`` with the exception's first line, it never raises.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import time
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from onnxbench.core.errors import first_line

EXPORTERS = ("dynamo", "torchscript", "jit-trace", "jit-script")
DEFAULT_OPSET = 18  # the legacy exporter's newest well-tested opset; dynamo's default is newer


@dataclass
class ExportResult:
    """What one exporter did: status, time, and the graph's vital statistics."""

    exporter: str
    status: str  # ok | failed
    path: str | None = None
    error: str | None = None
    export_s: float | None = None
    opset: int | None = None
    nodes: int | None = None
    top_ops: list[tuple[str, int]] = field(default_factory=list)
    size_bytes: int | None = None
    fix: str | None = None
    # what the tracer could not record (TracerWarning: tensor → Python value), by source line
    trace_warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["top_ops"] = [list(t) for t in self.top_ops]
        return out


def export(module, example_inputs: Mapping[str, np.ndarray], *, input_names: Sequence[str],
           output_names: Sequence[str], dynamic_axes: Mapping[str, Mapping[int, str]],
           exporter: str, opset: int | None, out_path: Path) -> ExportResult:
    """Export ``module`` (inputs positional, in ``input_names`` order) to ``out_path``."""
    if exporter not in EXPORTERS:
        raise ValueError(f"unknown exporter {exporter!r}; choose one of {', '.join(EXPORTERS)}")
    import torch

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.unlink(missing_ok=True)
    args = tuple(torch.from_numpy(np.ascontiguousarray(example_inputs[n])) for n in input_names)
    start = time.perf_counter()
    caught: list[warnings.WarningMessage] = []
    try:
        with _quiet(caught), torch.no_grad():
            if exporter == "dynamo":
                _export_dynamo(module, args, input_names, output_names, dynamic_axes, opset,
                               out_path)
            else:
                _export_legacy(module, args, input_names, output_names, dynamic_axes, opset,
                               out_path, exporter)
    except Exception as exc:  # noqa: BLE001  (an exporter failing is a result)
        return ExportResult(exporter=exporter, status="failed",
                            error=first_line(exc, root_cause=True),
                            export_s=time.perf_counter() - start,
                            trace_warnings=trace_warnings(caught))
    elapsed = time.perf_counter() - start
    result = describe_export(exporter, out_path, elapsed)
    result.trace_warnings = trace_warnings(caught)
    return result


@contextlib.contextmanager
def _quiet(caught: list | None = None):
    """Exporters chat on stdout and warn a lot; the library must not print. The tracer's
    warnings (what it could not record) are kept in ``caught``."""
    import torch

    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._export",
                                               "torch._dynamo", "torch.fx", "onnxscript")]
    levels = [lg.level for lg in loggers]
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(record=True) as recorded, \
                contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            warnings.simplefilter("always", torch.jit.TracerWarning)
            # the legacy exporter traces too; this routes its tracer warnings to Python
            torch._C._tracer_warn_use_python()
            try:
                yield
            finally:
                if caught is not None:
                    caught.extend(w for w in recorded
                                  if issubclass(w.category, torch.jit.TracerWarning))
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def trace_warnings(caught: Sequence[warnings.WarningMessage]) -> list[dict[str, Any]]:
    """One record per source line the tracer warned about (file, line, message, count)."""
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for w in caught:
        key = (str(w.filename), int(w.lineno))
        if key in out:
            out[key]["count"] += 1
            continue
        text = " ".join(str(w.message).split())
        out[key] = {"file": key[0], "line": key[1], "message": text[:300], "count": 1}
    return list(out.values())


def _dynamic_shapes(input_names, dynamic_axes, module=None) -> tuple[Any, ...]:
    """torch.export Dims, one per axis name, positional in ``input_names`` order.

    A ``forward(self, *features)`` takes the inputs as one tuple argument, so the specs of
    the inputs it collects are grouped into one tuple too (torch.export matches structure).
    """
    from torch.export import Dim

    dims: dict[str, Any] = {}
    shapes = []
    for name in input_names:
        axes = dynamic_axes.get(name) or {}
        spec = {}
        for axis, dim_name in axes.items():
            if dim_name not in dims:
                dims[dim_name] = Dim(_identifier(dim_name), min=1)
            spec[int(axis)] = dims[dim_name]
        shapes.append(spec or None)
    n_fixed = _positional_before_varargs(module)
    if n_fixed is not None and n_fixed <= len(shapes):
        return (*shapes[:n_fixed], tuple(shapes[n_fixed:]))
    return tuple(shapes)


def _positional_before_varargs(module) -> int | None:
    """How many positional parameters precede ``*args`` in forward; None without ``*args``."""
    if module is None:
        return None
    try:
        params = list(inspect.signature(module.forward).parameters.values())
    except (TypeError, ValueError):
        return None
    for i, param in enumerate(params):
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            return i
    return None


def _identifier(name: str) -> str:
    """Dim names must be Python identifiers."""
    text = "".join(c if c.isalnum() else "_" for c in str(name))
    return text if text and not text[0].isdigit() else f"d_{text}"


def _export_dynamo(module, args, input_names, output_names, dynamic_axes, opset, out_path):
    import torch

    program = torch.onnx.export(
        module, args, None, input_names=list(input_names), output_names=list(output_names),
        opset_version=opset, dynamo=True, external_data=False,
        dynamic_shapes=_dynamic_shapes(input_names, dynamic_axes, module))
    assert program is not None  # dynamo=True returns the ONNXProgram
    program.save(str(out_path), external_data=False)


def _export_legacy(module, args, input_names, output_names, dynamic_axes, opset, out_path,
                   exporter):
    import torch

    if exporter == "jit-trace":
        module = torch.jit.trace(module, args, check_trace=False)
    elif exporter == "jit-script":
        module = torch.jit.script(module)
    axes = {name: {int(k): v for k, v in ax.items()} for name, ax in dynamic_axes.items()
            if name in set(input_names) | set(output_names)}
    torch.onnx.export(module, args, str(out_path), input_names=list(input_names),
                      output_names=list(output_names), dynamic_axes=axes,
                      opset_version=opset or DEFAULT_OPSET, dynamo=False)


def describe_export(exporter: str, path: Path, export_s: float | None) -> ExportResult:
    """Opset, node count, top ops and size of a written graph."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    ops = Counter(n.op_type for n in model.graph.node)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    return ExportResult(exporter=exporter, status="ok", path=str(path), export_s=export_s,
                        opset=opset, nodes=len(model.graph.node), top_ops=ops.most_common(5),
                        size_bytes=path.stat().st_size)
