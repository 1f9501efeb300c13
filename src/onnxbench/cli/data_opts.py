"""What a benchmark runs ON, as command-line flags shared by ``bench`` and ``profile``:
real inputs (``--inputs``), fixed values (``--value``), inclusive ranges (``--range``), a
shape mix (``--seq-mix``) and labelled accuracy data (``--accuracy-data``/``--metric``).

``case_data`` parses and checks them all before anything runs (one line, exit 2 on a
mistake) and returns the Case fields and options they become (``onnxbench.model.case_data``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from onnxbench.cli.flags import declared
from onnxbench.core.errors import UserError
from onnxbench.model.case_data import CaseData, batch_from_inputs, check_against_graph

RANGE_HELP = ("NAME=LOW:HIGH, both ends inclusive: input_ids=0:29999, sr=16000:16000 is "
              "exactly 16000 (repeatable)")
VALUE_HELP = "NAME=NUMBER: fill input NAME with one value, e.g. sample_rate=16000 (repeatable)"
INPUTS_HELP = ("real inputs: FILE.npz (one array per input), a .npy / folder of NAME.npy, or a "
               "folder of input_N.pb (ONNX Runtime test data); the batch is their first axis")
SEQ_MIX_HELP = ("mixed shapes in one session: LEN:WEIGHT,... (e.g. 16:0.5,128:0.3,512:0.2) or "
                "@lengths.txt (one length per line); seeded random order, per-length latency")
ACCURACY_HELP = "labelled .npz (the model's inputs plus 'labels'): task metric and Δ vs fp32"
METRIC_HELP = "accuracy | top5 | auc | mse | cosine (of the first output against the labels)"
REFERENCE_HELP = "fp32 .onnx the accuracy delta is taken against (default: fp32 PyTorch for " \
                 "zoo models, else the model itself on ORT CPU)"


# the flags as typer parameter types, declared once for every command that takes them
ShapeFlag = Annotated[list[str], declared("--shape")]
RangeFlag = Annotated[list[str], declared("--range", RANGE_HELP)]
ValueFlag = Annotated[list[str], declared("--value", VALUE_HELP)]
InputsFlag = Annotated[Path | None, declared("--inputs", INPUTS_HELP)]
SeqMixFlag = Annotated[str | None, declared("--seq-mix", SEQ_MIX_HELP)]


def case_data(shape: list[str], range_: list[str], value: list[str], inputs: Path | None,
              seq_mix: str | None, accuracy_data: Path | None, metric: str | None,
              reference: Path | None) -> CaseData:
    """Parse the flags (no model needed yet)."""
    from onnxbench.model.inputs import parse_range, parse_shape, parse_value

    data = CaseData(dict(parse_shape(s) for s in shape), dict(parse_range(r) for r in range_),
                    dict(parse_value(v) for v in value))
    if inputs is not None:
        from onnxbench.model.input_files import load_user_data

        if data.shapes or data.ranges:
            raise UserError(f"{'--shape' if data.shapes else '--range'}: shapes and values come "
                            f"from --inputs {inputs}; these flags apply to synthesised inputs")

        load_user_data(inputs)  # readable, in a known layout
        data.inputs = str(inputs)
    if seq_mix:
        from onnxbench.measure.shape_mix import parse_mix

        data.seq_mix = parse_mix(seq_mix, "--seq-mix")
    if accuracy_data is not None:
        from onnxbench.model.input_files import load_user_data
        from onnxbench.quality.labelled import check_metric

        load_user_data(accuracy_data, "--accuracy-data")  # readable, finite, a known layout
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
