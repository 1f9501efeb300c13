"""What a suite's cases run on, checked before anything runs: ``inputs`` (a readable file
matching a bare graph's inputs), ``values``, ``seq_mix``, and a sequence length (``seq``,
``seq_mix``) only on models that have a sequence axis.

A length the graph pins to another value is not refused here: the case is ``skipped`` with
the reason in its worker (``model.dims.check_pinned``), like a batch the graph pins, so the
other models and lengths of the suite still run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from onnxbench.core.errors import UserError

if TYPE_CHECKING:
    from onnxbench.suite.schema import Axes, CaseEntry, Problem


def check_data(i: int, entry: CaseEntry, defaults: Axes) -> Problem | None:
    """The first problem of entry ``i``'s data (see the module docstring), or None."""
    from onnxbench.measure.shape_mix import parse_mix

    try:
        mix = parse_mix(entry.seq_mix) if entry.seq_mix is not None else None
    except UserError as exc:
        return ("cases", i, "seq_mix"), str(exc)
    seqs = [n for n, _ in mix] if mix else list(entry.seq or defaults.seq or [])
    where = ("cases", i, "seq_mix" if mix else "seq")
    for model in entry.model or []:
        message = _no_seq_axis(model, seqs)
        if message:
            return where, message
    return _check_inputs(i, entry, seqs[0] if seqs else None)


def _no_seq_axis(model: str, seqs: list[int]) -> str | None:
    """Why ``model`` takes none of ``seqs`` (it has no sequence axis), or None."""
    if not seqs:
        return None
    from onnxbench.model.dims import NO_SEQ_FIX, NoSeqAxis
    from onnxbench.model.onnxfile import is_onnx_file

    if is_onnx_file(model):
        if not Path(model).is_file():
            return None  # the model check says so
        from onnxbench.model.inputs import input_specs

        try:
            input_specs(model, batch=1, seq=seqs[0])
        except NoSeqAxis as exc:
            return f"{Path(model).name}: {exc}"
        except UserError:
            return None  # another dim: the case says so in its worker
        return None
    from onnxbench.model.zoo import resolve

    try:
        spec = resolve(model)
    except UserError:
        return None  # the model check names it
    if spec.has_seq:
        return None
    return f"{model}: no sequence axis, so seq {seqs[0]} cannot apply; {NO_SEQ_FIX}"


def _check_inputs(i: int, entry: CaseEntry, seq: int | None) -> Problem | None:
    from onnxbench.model.onnxfile import is_onnx_file

    graphs = [m for m in entry.model or [] if is_onnx_file(m) and Path(m).is_file()]
    try:
        for graph in graphs:
            if entry.inputs:
                from onnxbench.model.input_files import read_inputs

                read_inputs(entry.inputs, graph, entry.values)
            elif entry.values:
                _check_values(graph, entry, seq)
        if entry.inputs and not graphs:
            from onnxbench.model.input_files import load_user_data

            load_user_data(entry.inputs)
    except UserError as exc:
        return ("cases", i, "inputs" if entry.inputs else "values"), str(exc)
    return None


def _check_values(graph: str, entry: CaseEntry, seq: int | None) -> None:
    from onnxbench.model.dims import PinnedDim
    from onnxbench.model.inputs import synthesize

    try:
        synthesize(graph, batch=1, seq=seq, shapes=entry.shapes, values=entry.values)
    except PinnedDim:
        pass  # a pinned length: that case is skipped with the reason in its worker


__all__ = ["check_data"]
