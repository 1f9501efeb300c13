"""What a benchmark runs ON, as command-line flags shared by ``bench`` and ``profile``:
real inputs (``--inputs``), fixed values (``--value``), inclusive ranges (``--range``), a
shape mix (``--seq-mix``) and labelled accuracy data (``--accuracy-data``/``--metric``).

``case_data`` parses and checks them all before anything runs (one line, exit 2 on a
mistake) and returns the Case fields and options they become.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from onnxbench.errors import UserError
from onnxbench.inputs import RANGE_HELP, VALUE_HELP

INPUTS_HELP = ("real inputs: FILE.npz (one array per input), a .npy / folder of NAME.npy, or a "
               "folder of input_N.pb (ONNX Runtime test data); the batch is their first axis")
SEQ_MIX_HELP = ("mixed shapes in one session: LEN:WEIGHT,... (e.g. 16:0.5,128:0.3,512:0.2) or "
                "@lengths.txt (one length per line); seeded random order, per-length latency")
ACCURACY_HELP = "labelled .npz (the model's inputs plus 'labels'): task metric and Δ vs fp32"
METRIC_HELP = "accuracy | top5 | auc | mse | cosine (of the first output against the labels)"
REFERENCE_HELP = "fp32 .onnx the accuracy delta is taken against (default: fp32 PyTorch for " \
                 "zoo models, else the model itself on ORT CPU)"


# the flags as typer parameter types, declared once for every command that takes them
ShapeFlag = Annotated[list[str], typer.Option("--shape", help="NAME=D0,D1,... (repeatable)")]
RangeFlag = Annotated[list[str], typer.Option("--range", help=RANGE_HELP)]
ValueFlag = Annotated[list[str], typer.Option("--value", help=VALUE_HELP)]
InputsFlag = Annotated[Path | None, typer.Option("--inputs", help=INPUTS_HELP)]
SeqMixFlag = Annotated[str | None, typer.Option("--seq-mix", help=SEQ_MIX_HELP)]


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


def case_data(shape: list[str], range_: list[str], value: list[str], inputs: Path | None,
              seq_mix: str | None, accuracy_data: Path | None, metric: str | None,
              reference: Path | None) -> CaseData:
    """Parse the flags (no model needed yet)."""
    from onnxbench.inputs import parse_range, parse_shape, parse_value

    data = CaseData(dict(parse_shape(s) for s in shape), dict(parse_range(r) for r in range_),
                    dict(parse_value(v) for v in value))
    if inputs is not None:
        from onnxbench.input_files import load_user_data

        if data.shapes or data.ranges:
            raise UserError(f"{'--shape' if data.shapes else '--range'}: shapes and values come "
                            f"from --inputs {inputs}; these flags apply to synthesised inputs")

        load_user_data(inputs)  # readable, in a known layout
        data.inputs = str(inputs)
    if seq_mix:
        from onnxbench.shape_mix import parse_mix

        data.seq_mix = parse_mix(seq_mix, "--seq-mix")
    if accuracy_data is not None:
        from onnxbench.labelled import check_metric

        data.options.update(accuracy_data=str(accuracy_data),
                            metric=check_metric(metric or "accuracy"))
        if reference is not None:
            if not reference.is_file():
                raise UserError(f"--reference {reference}: no such file; give the fp32 .onnx")
            data.options["reference"] = str(reference)
    elif metric or reference:
        raise UserError(f"{'--metric' if metric else '--reference'}: needs --accuracy-data "
                        "(the labelled .npz to score)")
    return data


def check_against_graph(model, data: CaseData, batches: list[int], seq: int | None) -> None:
    """Everything checkable against a bare ONNX graph: inputs (names, dtypes, ranks, fixed
    dims, enough rows for every batch), values, ranges, shapes, the labelled data."""
    from onnxbench.input_files import load_user_data, read_inputs, rows
    from onnxbench.inputs import synthesize

    if data.inputs:
        feeds = read_inputs(data.inputs, model, data.values)
        for b in batches:
            rows(feeds, model, b)
    else:
        synthesize(model, batch=min(batches), seq=seq, shapes=data.shapes, ranges=data.ranges,
                   values=data.values)
    if data.options.get("accuracy_data"):
        from onnxbench.input_files import check_inputs

        labelled = load_user_data(data.options["accuracy_data"])
        if labelled.labels is None:
            raise UserError(f"--accuracy-data {labelled.source}: no 'labels' array; save it "
                            "with np.savez(path, **inputs, labels=y)")
        check_inputs(model, labelled, cast_floats=True)


def batch_from_inputs(model, data: CaseData) -> int | None:
    """The batch the ``--inputs`` arrays hold (for a bare graph), else None."""
    if not data.inputs:
        return None
    from onnxbench.input_files import batch_of, read_inputs

    return batch_of(read_inputs(data.inputs, model, data.values), model)


__all__ = [
    "ACCURACY_HELP",
    "METRIC_HELP",
    "REFERENCE_HELP",
    "CaseData",
    "InputsFlag",
    "RangeFlag",
    "SeqMixFlag",
    "ShapeFlag",
    "ValueFlag",
    "batch_from_inputs",
    "case_data",
    "check_against_graph",
]
