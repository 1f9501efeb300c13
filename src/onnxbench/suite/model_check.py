"""A plan's model, checked before anything runs: the model of ``bench``, ``profile``,
``load`` and ``tune`` given as arguments (a suite's models are checked by its schema)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from onnxbench.core.errors import UserError
from onnxbench.measure.shape_mix import main_length
from onnxbench.model.case_data import CaseData, batch_from_inputs, check_against_graph
from onnxbench.model.checks import check_bench_inputs, check_config, check_seq
from onnxbench.model.frameworks import framework_of
from onnxbench.model.onnxfile import is_onnx_file
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
                batch: Iterable[int] | None = None, seq: int | None = None
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
    seq = seq or main_length(data.seq_mix)
    seqs = [seq] if seq else []
    if is_onnx_file(model):
        from onnxbench.model.inputs import load_onnx

        graph = load_onnx(model)
        batches = (positive(batch, "batch") if batch is not None
                   else [batch_from_inputs(graph, data) or 1])
        if not data.inputs:  # the user's own arrays are already in memory
            check_bench_inputs(graph, batches, seqs, shapes=data.shapes)
        else:
            check_seq(graph, seq, "--seq", data.shapes)
        check_against_graph(graph, data, batches, seq)
        return model, None, None, batches
    spec = resolve(model)
    check_config(spec, config)
    batches = positive(batch if batch is not None else [1], "batch")
    check_bench_inputs(spec, batches, seqs, config=config)
    fw = framework_of(spec)
    exporter = exporter or fw.exporters[0]
    fw.check_exporter(exporter, model)
    return model, config, exporter, batches


__all__ = ["check_model", "positive"]
