"""A plan's model, checked before anything runs: the model of ``bench``, ``profile``,
``load`` and ``tune`` given as arguments (a suite's models are checked by its schema): the
model resolved, its config and exporter checked, what it will run on checked against it
(the dims a graph pins, a sequence length only where there is a sequence axis, ``--range``
ends ONNX Runtime accepts, no ``--range`` / ``--shape`` for a zoo model), its inputs sized
against memory."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from onnxbench.core.errors import UserError
from onnxbench.model.case_data import CaseData, batch_from_inputs, check_against_graph
from onnxbench.model.checks import check_bench_inputs, check_config, check_seq
from onnxbench.model.frameworks import default_exporter, framework_of
from onnxbench.model.onnxfile import is_onnx_file
from onnxbench.model.range_probe import check_ranges
from onnxbench.model.zoo import resolve

if TYPE_CHECKING:
    from onnxbench.model.case_data import CaseData


def positive(values: Iterable[int] | int | None, what: str) -> list[int]:
    items = [values] if isinstance(values, int) else list(values or [])
    if not items or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in items):
        raise UserError(f"{what} {items!r}: expected positive integers, e.g. [1, 2, 8]")
    return items


def check_model(model: str, config: str | None = None, exporter: str | None = None,
                data: CaseData | None = None,
                batch: Iterable[int] | None = None, seq: int | list[int] | None = None
                ) -> tuple[str, str | None, str | None, list[int]]:
    """(model, config, exporter, batches) for a plan's cases (``bench``, ``profile``,
    ``load``): checked before anything runs. ``data``: what the cases run on (a
    ``CaseData``; none: synthesised inputs). The model's file is made absolute
    (a plan resumes from anywhere). An ONNX file is loaded and checked against what it will
    run on (dims resolvable, the user's inputs and values matching the graph, inputs that
    fit in memory); a zoo/factory/plugin model is resolved, its config and exporter
    checked, its inputs sized."""
    from onnxbench.suite.schema import absolute_model

    data = data if data is not None else CaseData()
    model = absolute_model(model)
    lengths = ([seq] if isinstance(seq, int) else list(seq or [])) + \
        [n for n, _ in data.seq_mix or []]  # every length is checked; the longest sizes
    if is_onnx_file(model):
        from onnxbench.model.inputs import load_onnx

        graph = load_onnx(model)
        batches = (positive(batch, "batch") if batch is not None
                   else [batch_from_inputs(graph, data) or 1])
        _check_graph(model, graph, data, batches, lengths)
        return model, None, None, batches
    spec = resolve(model)
    check_config(spec, config)
    given = [flag for flag, value in (("--range", data.ranges), ("--shape", data.shapes)) if value]
    if given:
        raise UserError(f"{' and '.join(given)}: {model} makes its own inputs (shapes from its "
                        "config, ids inside its tables); they apply to an ONNX file's "
                        "synthesised inputs, so leave them out (or bench its exported .onnx)")
    if data.seq_mix:
        check_seq(spec, max(lengths), "--seq-mix length", None, f"model {model}")
    batches = positive(batch if batch is not None else [1], "batch")
    check_bench_inputs(spec, batches, lengths, config=config)
    fw = framework_of(spec)
    exporter = exporter or default_exporter(spec)
    fw.check_exporter(exporter, model)
    return model, config, exporter, batches


def _check_graph(model: str, graph, data: CaseData, batches: list[int],
                 lengths: list[int]) -> None:
    """A bare graph against what it will run on: a sequence length only where it has a
    sequence axis (``check_seq``), every batch and length against the dims it pins
    (``PinnedDim``, named with the file), inputs that fit, and each ``--range`` end on ORT."""
    from onnxbench.model.dims import PinnedDim

    name = Path(model).name
    if data.seq_mix:
        check_seq(graph, max(lengths), "--seq-mix length", data.shapes, name)
    try:
        if not data.inputs:  # the user's own arrays are already in memory
            check_bench_inputs(graph, batches, lengths, shapes=data.shapes)
        else:
            check_seq(graph, max(lengths) if lengths else None, "--seq", data.shapes, name)
        check_against_graph(graph, data, batches, lengths)
    except PinnedDim as exc:
        raise PinnedDim(f"{name}: {exc}") from None
    if data.ranges and not data.inputs:
        check_ranges(model, data.ranges, batch=min(batches), seq=lengths[0] if lengths else None,
                     shapes=data.shapes, values=data.values)


__all__ = ["check_model", "positive"]
