"""What a benchmark runs ON, as Case fields: shapes, inclusive value ranges, fixed values,
the user's inputs (``.npz``, ``.npy`` folder, ORT test data), a shape mix, and labelled
accuracy data (options). ``onnxbench.api.bench_plan`` and the ``bench``/``profile`` flags
(``onnxbench.cli.data_opts``) build a ``CaseData``; a bare ONNX graph is checked against
it before anything runs (one line, exit 2 on a mistake).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from onnxbench.core.errors import UserError

if TYPE_CHECKING:
    import onnx


@dataclass
class CaseData:
    """Case fields and options from the data flags."""

    shapes: dict[str, list[int]] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)
    inputs: str | None = None
    seq_mix: list[tuple[int, float]] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    batches_from_inputs: int | None = None

    def fields(self) -> dict[str, Any]:
        return {"shapes": self.shapes, "ranges": self.ranges, "values": self.values,
                "inputs": self.inputs, "seq_mix": self.seq_mix}


def check_against_graph(model: onnx.ModelProto, data: CaseData, batches: list[int],
                        seqs: list[int]) -> None:
    """Everything checkable against a bare ONNX graph: inputs (names, dtypes, ranks, fixed
    dims, enough rows for every batch), values, ranges, shapes, the labelled data; every
    batch and sequence length (``seqs``, a mix's too) against the dims the graph pins."""
    from onnxbench.model.input_files import load_user_data, read_inputs, rows
    from onnxbench.model.inputs import input_specs, synthesize

    if data.inputs:
        feeds = read_inputs(data.inputs, model, data.values)
        for b in batches:
            rows(feeds, model, b)
    else:
        lengths: list[int | None] = list(seqs) or [None]
        for b in batches:  # nothing allocated: shapes only
            for s in lengths:
                input_specs(model, batch=b, seq=s, shapes=data.shapes)
        synthesize(model, batch=min(batches), seq=lengths[0], shapes=data.shapes,
                   ranges=data.ranges, values=data.values)
    if data.options.get("accuracy_data"):
        from onnxbench.model.input_files import check_inputs

        labelled = load_user_data(data.options["accuracy_data"], "--accuracy-data")
        if labelled.labels is None:
            raise UserError(f"--accuracy-data {labelled.source}: no 'labels' array; save it "
                            "with np.savez(path, **inputs, labels=y)")
        check_inputs(model, labelled, cast_floats=True)


def batch_from_inputs(model: onnx.ModelProto, data: CaseData) -> int | None:
    """The batch the ``--inputs`` arrays hold (for a bare graph), else None."""
    if not data.inputs:
        return None
    from onnxbench.model.input_files import batch_of, read_inputs

    return batch_of(read_inputs(data.inputs, model, data.values), model)


__all__ = ["CaseData", "batch_from_inputs", "check_against_graph"]
