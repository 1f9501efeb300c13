"""The exporter matrix: every exporter, parity against the source model at every batch (and
seq), for any framework (``onnxbench.model.frameworks``: PyTorch's four exporters, TensorFlow's
``tf2onnx``).

One row per export variant: each exporter as is, each exporter with an export-side fix
(``dynamo+fix``, for the frameworks that have fixes: PyTorch), and each as-is export run
with the ``pad_batch_to`` workaround at batch 1 (``dynamo+pad2``). One cell per input
shape: ONNX Runtime (CPU) outputs against the source model's outputs stored in
``reference.json``, or the ORT error's first line when the graph cannot run at that shape
(DCNMix's batch-1 ``Concat`` failure).

The reference is the source model (PyTorch eager, or TensorFlow), through its framework
adapter. Where it fails at a shape itself (DCNMix fails at batch 1 too), the reference for
that shape comes from padding the batch (rows are independent in eval mode) and
``Matrix.notes`` says so.

Each cell checks *several* seeded input sets at its shape (``input_sets``, default 3; set 0
at the example batch is the very input the graph was exported with). A graph that is right
for the example and wrong for other values of the same shape has baked in something the
example decided: a traced export of a model with data-dependent control flow (the sparse
MoE routes each row to its own experts) is the classic case. Such a row gets a note naming
the cause, and the tracer's own warnings become the lint finding ``traced-control-flow``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from onnxbench.build.export.exporters import ExportResult
from onnxbench.build.export.fixes import ALL_FIXES, apply_fix, explain_failure
from onnxbench.build.export.lint import Finding, lint
from onnxbench.build.export.reference import ort_session, shape_key, write_reference
from onnxbench.build.export.tracing import failure_hint, hazard_notes, trace_findings
from onnxbench.core.errors import UserError, first_line
from onnxbench.model.pad import pad_batch, trim
from onnxbench.quality.parity import DEFAULT_ATOL, DEFAULT_RTOL, ParityReport, compare

if TYPE_CHECKING:
    from onnxbench.model.frameworks import Framework
    from onnxbench.model.zoo.base import ModelSpec

DEFAULT_BATCHES = (1, 2, 8, 64)
DEFAULT_INPUT_SETS = 3
PAD_TO = 2
EXAMPLE_BATCH = 2  # torch.export specialises size-1 dims; traces bake batch-1 squeezes in
EXPORT_TIMEOUT_S = 3600.0  # the export worker's limit (a large model's dynamo export: minutes)
EXPORT_LOG = "export.log"  # the export worker's output, in the output folder

Sets = dict[str, list[tuple[dict[str, np.ndarray], list[np.ndarray]]]]


def set_key(key: str, index: int) -> str:
    """reference.json key of input set ``index`` at a shape: ``b8``, ``b8_set1``, …"""
    return key if index == 0 else f"{key}_set{index}"


@dataclass
class Cell:
    """Parity of one variant at one input shape."""

    key: str
    batch: int
    seq: int | None
    status: str  # pass | fail | ort-error | not-run
    max_abs: float | None = None
    max_rel: float | None = None
    min_atol: float | None = None
    min_rtol: float | None = None
    error: str | None = None
    sets: int = 1          # input sets checked at this shape
    failed_sets: list[int] = field(default_factory=list)  # which of them failed

    @classmethod
    def from_report(cls, key, batch, seq, report: ParityReport) -> Cell:
        return cls(key=key, batch=batch, seq=seq, status="pass" if report.passed else "fail",
                   max_abs=report.max_abs, max_rel=report.max_rel, min_atol=report.min_atol,
                   min_rtol=report.min_rtol, error=report.first_problem(),
                   failed_sets=[] if report.passed else [0])

    @classmethod
    def worst_of(cls, cells: Sequence[Cell]) -> Cell:
        """One cell for several input sets: the worst difference, the failing sets named."""
        def badness(c: Cell) -> tuple:
            return (c.status == "fail", c.max_abs if c.max_abs is not None else -1.0)
        worst = max(cells, key=badness)
        failed = [i for i, c in enumerate(cells) if c.status == "fail"]
        return cls(key=worst.key, batch=worst.batch, seq=worst.seq,
                   status="fail" if failed else "pass", max_abs=worst.max_abs,
                   max_rel=worst.max_rel, min_atol=worst.min_atol, min_rtol=worst.min_rtol,
                   error=worst.error, sets=len(cells), failed_sets=failed)


@dataclass
class Row:
    """One export variant: how it exported, what the lint found, and its cells."""

    label: str
    exporter: str
    fix: str | None
    pad_to: int | None
    export: ExportResult
    lint: list[Finding] = field(default_factory=list)
    cells: dict[str, Cell] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # why it failed and what to change

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "exporter": self.exporter, "fix": self.fix,
                "pad_to": self.pad_to, "export": self.export.to_dict(),
                "lint": [f.to_dict() for f in self.lint], "notes": self.notes,
                "cells": {k: _finite(asdict(c)) for k, c in self.cells.items()}}


@dataclass
class Matrix:
    model: str
    config: str | None
    rtol: float
    atol: float
    shapes: list[tuple[int, int | None]]
    out_dir: str
    reference: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    input_sets: int = 1
    reference_label: str = "PyTorch"  # what the reference outputs come from

    @property
    def keys(self) -> list[str]:
        return [shape_key(b, s) for b, s in self.shapes]

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "config": self.config, "rtol": self.rtol, "atol": self.atol,
                "shapes": [shape_key(b, s) for b, s in self.shapes], "out_dir": self.out_dir,
                "reference": self.reference, "reference_label": self.reference_label,
                "notes": self.notes, "input_sets": self.input_sets,
                "rows": [r.to_dict() for r in self.rows]}


def _finite(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, float) and not np.isfinite(v) else v)
            for k, v in d.items()}


def model_stem(model: str) -> str:
    """File stem of a model: zoo name, or ``file-factory`` for ``path/file.py:factory``."""
    if ":" in model and model.split(":", 1)[0].endswith(".py"):
        path, factory = model.split(":", 1)
        model = f"{Path(path).stem}-{factory}"
    return re.sub(r"[^A-Za-z0-9.+-]+", "-", model).strip("-") or "model"


def _reference_outputs(fw: Framework, spec: ModelSpec, config: str | None, model: Any,
                       inputs: Mapping[str, np.ndarray], key: str,
                       notes: list[str]) -> list[np.ndarray] | None:
    """The source model's outputs; through padding when it fails at this shape (noted)."""
    try:
        return fw.outputs(spec, config, model, inputs)
    except Exception as exc:  # noqa: BLE001  (a model failing at a shape is a finding)
        why = first_line(exc, root_cause=True)
        padded, n_real = pad_batch(inputs, PAD_TO)
        if n_real >= PAD_TO:
            notes.append(f"{fw.label} fails at {key}: {why}; no reference there")
            return None
        notes.append(f"{fw.label} itself fails at {key} ({why}); its reference comes "
                     f"from pad_batch_to={PAD_TO}")
        return trim(fw.outputs(spec, config, model, padded), n_real)


def run_cells(path: Path, shapes, inputs_by_key, outputs_by_key, output_names,
              rtol: float, atol: float, pad_to: int | None = None,
              extra_sets: Sets | None = None) -> dict[str, Cell]:
    """ORT CPU vs the reference at each shape (with padding when ``pad_to`` is set), on the
    shape's input set and on its ``extra_sets`` (other seeded values of the same shape)."""
    cells: dict[str, Cell] = {}
    try:
        session = ort_session(path)
    except Exception as exc:  # noqa: BLE001
        error = first_line(exc, root_cause=True)
        return {shape_key(b, s): Cell(shape_key(b, s), b, s, "ort-error", error=error)
                for b, s in shapes}
    for batch, seq in shapes:
        key = shape_key(batch, seq)
        expected = outputs_by_key.get(key)
        if expected is None or (pad_to and batch >= pad_to):
            cells[key] = Cell(key, batch, seq, "not-run")
            continue
        sets = [(inputs_by_key[key], expected), *(extra_sets or {}).get(key, [])]
        per_set = [_cell(session, key, batch, seq, feed, want, output_names, rtol, atol, pad_to)
                   for feed, want in sets]
        errors = [c for c in per_set if c.status == "ort-error"]
        cells[key] = errors[0] if errors else Cell.worst_of(per_set)
    return cells


def _cell(session, key, batch, seq, feed, expected, output_names, rtol, atol,
          pad_to) -> Cell:
    feed, n_real = pad_batch(feed, pad_to) if pad_to else (feed, batch)
    try:
        actual = trim(session.run(None, feed), n_real)
    except Exception as exc:  # noqa: BLE001
        return Cell(key, batch, seq, "ort-error", error=first_line(exc, root_cause=True))
    return Cell.from_report(key, batch, seq, compare(expected, actual, output_names, rtol, atol))


def _variants(exporters: Sequence[str], fix: str | None, all_mode: bool):
    """(exporter, fix) pairs: as-is exports, plus fixed ones (always in ``all`` mode)."""
    out: list[tuple[str, str | None]] = []
    for exporter in exporters:
        if fix is None or all_mode:
            out.append((exporter, None))
        if fix is not None or all_mode:
            out.append((exporter, fix or ALL_FIXES))
    return out


def _file_name(stem: str, exporter: str, fix: str | None, single: bool) -> str:
    if single:
        return f"{stem}.onnx"
    return f"{stem}_{exporter}{'_fixed' if fix else ''}.onnx"


def _shapes(spec, batches, seqs) -> list[tuple[int, int | None]]:
    if not spec.has_seq:
        return [(b, None) for b in batches]
    if not seqs:
        longest = spec.default_seq or 16
        seqs = sorted({max(2, longest // 8), longest})
    return [(b, s) for s in seqs for b in batches]


def export_matrix(spec_name: str, config: str | None,
                  exporters: Sequence[str] | None = None, *, opset: int | None = None,
                  out_dir: Path = Path("exports"), fix: str | None = None,
                  batches: Sequence[int] = DEFAULT_BATCHES, seqs: Sequence[int] | None = None,
                  rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
                  options: Mapping[str, Any] | None = None, seed: int = 0,
                  all_mode: bool | None = None,
                  input_sets: int = DEFAULT_INPUT_SETS) -> Matrix:
    """Export with each exporter (and fix), lint each file, check parity at each shape on
    ``input_sets`` seeded input sets (seeds ``seed``, ``seed + 1``, …).

    ``exporters`` default to every exporter of the model's framework; one it does not have
    is a UserError. Writes ``<model>.onnx`` (one variant) or
    ``<model>_<exporter>[_fixed].onnx`` and ``reference.json`` into ``out_dir``.
    ``all_mode`` (default: more than one exporter) adds a fixed variant of every exporter
    (every fix applied) where the framework has export-side fixes.

    The numbers are checked first (``opset``, ``rtol``, ``atol``, ``batches``, ``seqs``:
    nothing is written for a bad one); then it all runs in a worker (the model's code, the
    exporters and ONNX Runtime never in the caller's process), whose output (the
    exporters' warnings and IR dumps) goes to ``out_dir/export.log``.
    """
    from functools import partial

    from onnxbench.core.options import ExportOptions, checked
    from onnxbench.isolation.call import call_isolated
    from onnxbench.quality.parity import tolerances

    opset = checked(ExportOptions, "opset", opset)
    rtol, atol = tolerances(rtol, atol)
    for what, values in (("batches", batches), ("seqs", seqs or ())):
        bad = [v for v in values if isinstance(v, bool) or not isinstance(v, int) or v < 1]
        if bad:
            raise UserError(f"{what} {bad[0]!r}: must be a positive integer")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {out_dir}: is a file; give a folder for the exports")
    _checked(spec_name, config, exporters, fix)  # nothing is written for a bad name
    out_dir.mkdir(parents=True, exist_ok=True)
    run = partial(_export_matrix, opset=opset, out_dir=out_dir, fix=fix, batches=batches,
                  seqs=seqs, rtol=rtol, atol=atol, options=options, seed=seed,
                  all_mode=all_mode, input_sets=input_sets)
    return call_isolated(run, spec_name, config, exporters, what=f"export {spec_name}",
                         timeout_s=EXPORT_TIMEOUT_S, log_path=out_dir / EXPORT_LOG)


def _checked(spec_name: str, config: str | None, exporters: Sequence[str] | None,
             fix: str | None) -> tuple[ModelSpec, Framework, tuple[str, ...]]:
    """(spec, framework, exporters) with every name checked, before any work (a factory's
    spec comes from its checking worker: no user code runs here)."""
    from onnxbench.model.frameworks import framework_of
    from onnxbench.model.zoo import resolve

    spec = resolve(spec_name)
    spec.config(config)  # UserError for an unknown config
    fw = framework_of(spec)
    exporters = tuple(exporters or fw.exporters)
    for exporter in exporters:
        fw.check_exporter(exporter, spec_name)
    apply_fix(fix)  # UserError for an unknown fix name
    if fix and not fw.fixes:
        raise UserError(f"--fix {fix}: export-side fixes apply to PyTorch models; "
                        f"{spec_name!r} is a {fw.label} model")
    fw.require(UserError)
    return spec, fw, exporters


def _export_matrix(spec_name: str, config: str | None, exporters: Sequence[str] | None, *,
                   opset: int | None, out_dir: Path, fix: str | None,
                   batches: Sequence[int], seqs: Sequence[int] | None, rtol: float,
                   atol: float, options: Mapping[str, Any] | None, seed: int,
                   all_mode: bool | None, input_sets: int) -> Matrix:
    """``export_matrix``'s work, in its worker."""
    spec, fw, exporters = _checked(spec_name, config, exporters, fix)
    all_mode = len(exporters) > 1 if all_mode is None else all_mode
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = fw.build(spec, config, seed=seed, options=options, train=True)
    shapes = _shapes(spec, batches, seqs)
    matrix = Matrix(model=spec_name, config=config, rtol=rtol, atol=atol, shapes=shapes,
                    out_dir=str(out_dir), reference=str(out_dir / "reference.json"),
                    input_sets=max(1, int(input_sets)), reference_label=fw.label)
    if fw.label != "PyTorch":
        matrix.notes.append(f"the reference is {fw.label}, not PyTorch")
    inputs, outputs, extra = _write_reference(fw, spec, config, model, shapes, seed, options,
                                              matrix)
    example_seq = max((s for _, s in shapes if s), default=None)
    example = spec.make_inputs(config, EXAMPLE_BATCH, example_seq, seed, options=options)
    names_out = spec.output_names(config)
    variants = _variants(exporters, fix, all_mode and fw.fixes)
    for exporter, variant_fix in variants:
        path = out_dir / _file_name(model_stem(spec_name), exporter, variant_fix,
                                    len(variants) == 1)
        result = fw.export(spec, config, model, example, exporter=exporter, opset=opset,
                           out_path=path, fix=variant_fix, options=options)
        rows = _rows_of(result, exporter, variant_fix, shapes, inputs, outputs, names_out,
                        rtol, atol, extra)
        rows[0].notes += _failure_notes(fw, spec, model, result)
        matrix.rows.extend(rows)
    write_record(matrix, out_dir)
    return matrix


RECORD = "matrix.json"


def write_record(matrix: Matrix, out_dir: Path) -> Path:
    """``matrix.json`` in ``out_dir``: the matrix as data with the machine it ran on, so the
    result can be read back (``report.matrix_md``) and committed, not only printed."""
    from onnxbench.core.result import atomic_write_text
    from onnxbench.isolation.env import collect

    doc = {**matrix.to_dict(), "env": collect()}
    path = Path(out_dir) / RECORD
    atomic_write_text(path, json.dumps(doc, indent=1, default=str) + "\n")
    return path


def _failure_notes(fw: Framework, spec: ModelSpec, model: Any,
                   result: ExportResult) -> list[str]:
    """Why an export failed and what the user would change (a raising property, or what
    the model's spec knows about this exporter)."""
    if result.ok:
        return []
    hint = (explain_failure(model, result.error) if fw.fixes else None) or \
        failure_hint(result.exporter, result.error)
    known = (getattr(spec, "export_notes", None) or {}).get(result.exporter)
    return [n for n in (hint, known) if n]


def _write_reference(fw: Framework, spec: ModelSpec, config: str | None, model: Any,
                     shapes: list[tuple[int, int | None]], seed: int,
                     options: Mapping[str, Any] | None, matrix: Matrix):
    """Seeded inputs and the source model's outputs at every shape (set 0, seed ``seed``)
    and the extra input sets (seeds ``seed + i``), all written to reference.json."""
    names_in = spec.input_names(config)
    inputs = {shape_key(b, s): spec.make_inputs(config, b, s, seed, options=options)
              for b, s in shapes}
    outputs = {}
    for key, feed in inputs.items():
        ref = _reference_outputs(fw, spec, config, model, feed, key, matrix.notes)
        if ref is not None:
            outputs[key] = ref
    extra: Sets = {}
    for b, s in shapes:
        key = shape_key(b, s)
        for i in range(1, matrix.input_sets):
            feed = spec.make_inputs(config, b, s, seed + i, options=options)
            ref = _reference_outputs(fw, spec, config, model, feed, set_key(key, i), [])
            if ref is not None and key in outputs:
                extra.setdefault(key, []).append((feed, ref))
    by_key = {**inputs, **{set_key(k, i + 1): f for k, sets in extra.items()
                           for i, (f, _) in enumerate(sets)}}
    out_by_key = {**outputs, **{set_key(k, i + 1): o for k, sets in extra.items()
                                for i, (_, o) in enumerate(sets)}}
    write_reference(Path(matrix.reference), by_key, out_by_key, {
        "model": matrix.model, "config": config, "seed": seed, "framework": fw.name,
        "input_names": names_in, "output_names": spec.output_names(config),
        "rtol": matrix.rtol, "atol": matrix.atol, "input_sets": matrix.input_sets,
        "notes": matrix.notes})
    return inputs, outputs, extra


def _rows_of(result: ExportResult, exporter, fix, shapes, inputs, outputs, names_out, rtol,
             atol, extra: Sets | None = None) -> list[Row]:
    """The variant's row, plus its ``+pad`` row when it is an as-is export with batch < 2."""
    label = f"{exporter}+fix" if fix else exporter
    row = Row(label=label, exporter=exporter, fix=fix, pad_to=None, export=result)
    if not result.ok:
        return [row]
    import onnx

    path = result.path
    assert path is not None  # an ok export wrote a file
    row.lint = lint(onnx.load(path, load_external_data=False))
    row.lint += trace_findings(result.trace_warnings)
    row.cells = run_cells(Path(path), shapes, inputs, outputs, names_out, rtol, atol,
                          extra_sets=extra)
    row.notes = hazard_notes(row.label, row.cells, row.lint, shape_key(EXAMPLE_BATCH, max(
        (s for _, s in shapes if s), default=None)))
    rows = [row]
    if fix is None and any(b < PAD_TO for b, _ in shapes):
        pad = Row(label=f"{exporter}+pad{PAD_TO}", exporter=exporter, fix=None, pad_to=PAD_TO,
                  export=result, lint=row.lint)
        pad.cells = run_cells(Path(path), shapes, inputs, outputs, names_out, rtol,
                              atol, pad_to=PAD_TO, extra_sets=extra)
        rows.append(pad)
    return rows
