"""int8 quantisation with ``onnxruntime.quantization``: dynamic, and static (QDQ).

Dynamic quantisation stores weights as int8 and quantises activations at run time
(``DynamicQuantizeLinear`` + ``MatMulInteger``): no data needed. Static quantisation fixes
activation scales from a calibration pass, so its accuracy depends on the calibration
data; it calibrates on the model's own data where the zoo has some (the MoE's digits
rows), else on seeded example inputs, and says which in the step report.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from onnxbench.build.optimize.report import StepReport, quiet, summarize_graph
from onnxbench.core.errors import UserError
from onnxbench.model.checks import seq_inputs
from onnxbench.model.zoo import resolve

CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
MODES = ("dynamic", "static")
CALIBRATION_SEQ = 16  # a graph's sequence length for seeded calibration inputs
# The compute-heavy ops only. Calibrating every float tensor also histograms constant ones
# (the additive mask of an all-ones attention mask), on which the entropy and percentile
# calibrators fail ("Too many bins"); the matmuls are where int8 pays anyway.
STATIC_OP_TYPES = ("MatMul", "Gemm", "Conv", "ConvTranspose")


# Fused contrib ops (com.microsoft Attention, SkipLayerNormalization) defeat ONNX shape
# inference, so the quantizer cannot type their outputs; they are float in every graph we
# quantise.
_EXTRA = {"DefaultTensorType": 1}  # onnx.TensorProto.FLOAT


def calibration_method(name: str):
    """The ``CalibrationMethod`` for a name; UserError names the allowed ones."""
    from onnxruntime.quantization import CalibrationMethod

    table = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
             "percentile": CalibrationMethod.Percentile}
    if name not in table:
        raise UserError(f"--calibration: unknown method {name!r}; choose one of: "
                        f"{', '.join(CALIBRATION_METHODS)}")
    return table[name]


def _reader_class():
    from onnxruntime.quantization import CalibrationDataReader

    class FeedReader(CalibrationDataReader):
        """Feeds a list of input dicts, restricted to (and cast for) the graph's inputs."""

        def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
            self._feeds = feeds
            self._it = iter(feeds)

        def get_next(self):
            return next(self._it, None)

        def rewind(self) -> None:
            self._it = iter(self._feeds)

    return FeedReader


def _fit_feeds(path: Path, feeds: Iterable[Mapping[str, np.ndarray]]) -> list[dict]:
    """Keep only the graph's inputs, cast to its declared dtypes; UserError if one is missing."""
    from onnxbench.model.inputs import graph_inputs, load_onnx, numpy_dtype

    declared = {vi.name: numpy_dtype(vi.type.tensor_type.elem_type, vi.name)
                for vi in graph_inputs(load_onnx(path))}
    fitted = []
    for feed in feeds:
        missing = set(declared) - set(feed)
        if missing:
            raise UserError(f"calibration inputs lack graph input(s) {sorted(missing)}; "
                            f"the graph takes {sorted(declared)}")
        fitted.append({k: np.asarray(feed[k]).astype(declared[k]) for k in declared})
    if not fitted:
        raise UserError("calibration inputs: none given; static int8 needs at least one batch")
    return fitted


def synthetic_calibration(path: Path, *, count: int = 8, batch: int = 2, seq: int | None = None,
                          seed: int = 0, ranges: Mapping[str, tuple[float, float]] | None = None
                          ) -> list[dict[str, np.ndarray]]:
    """Seeded example inputs from the graph itself (the fallback when no data is known).

    Batch 2, not 1: a graph with a batch-1 hazard (a bare squeeze) must still calibrate.
    ``seq`` None: ``CALIBRATION_SEQ`` where the graph has a sequence axis
    (``model.checks.seq_inputs``), none elsewhere (a length given to a graph without one, or
    one it pins otherwise, is refused: ``model.dims.PinnedDim``).
    """
    from onnxbench.model.inputs import load_onnx, synthesize

    graph = load_onnx(path)
    if seq is None and seq_inputs(graph):
        seq = CALIBRATION_SEQ
    return [synthesize(graph, batch=batch, seq=seq, ranges=ranges, seed=seed + i)
            for i in range(count)]


def zoo_calibration(model: str, config: str | None, *, count: int = 8, batch: int = 8,
                    seq: int | None = None, seed: int = 0,
                    options: Mapping[str, Any] | None = None) -> tuple[list[dict], str]:
    """Calibration batches from the zoo spec: training rows where it has data (the held-out
    rows are scored for accuracy, so calibrating on them would flatter int8), else seeded
    example inputs from ``make_inputs``. Returns (batches, a one-line description)."""
    spec = resolve(model)
    calibration_rows = getattr(spec, "calibration_rows", None)
    x = calibration_rows(config, options) if callable(calibration_rows) else None
    if x is not None:
        name = spec.input_names(config)[0]
        rows = [x[i:i + batch] for i in range(0, min(len(x), count * batch), batch)]
        return [{name: np.ascontiguousarray(r)} for r in rows], \
            f"{model} training rows ({sum(len(r) for r in rows)} of {len(x)})"
    seq = seq or spec.default_seq
    feeds = [spec.make_inputs(config, batch, seq, seed=seed + i) for i in range(count)]
    return feeds, f"{model} seeded example inputs ({count} batches of {batch}, seq {seq})"


def op_types(value: str | Iterable[str] | None) -> list[str] | None:
    """``int8_op_types`` as a list (``"MatMul,Gemm"`` or a list); None: the mode's default."""
    if value is None:
        return None
    names = [t.strip() for t in (value.split(",") if isinstance(value, str) else value)
             if str(t).strip()]
    bad = [n for n in names if not n.isidentifier()]
    if not names or bad:
        raise UserError(f"int8_op_types {value!r}: expected ONNX op types separated by commas, "
                        "e.g. MatMul,Gemm")
    return names


def _settings(mode: str, per_channel: bool, reduce_range: bool,
              types: list[str] | None) -> dict[str, Any]:
    """What a step's report says was asked (defaults spelt out: they change the numbers)."""
    return {"mode": mode, "weight_type": "QInt8", "per_channel": per_channel,
            "reduce_range": reduce_range,
            "op_types": types if types is not None else
            (list(STATIC_OP_TYPES) if mode == "static" else "ORT default")}


def quantize_dynamic_int8(src: Path, dst: Path, *, per_channel: bool = False,
                          reduce_range: bool = False,
                          int8_op_types: str | Iterable[str] | None = None) -> StepReport:
    """Weights int8, activations quantised at run time; no calibration data.

    ``per_channel``: one weight scale per output channel (ORT's default is one per tensor,
    which costs accuracy where channels' ranges differ); ``reduce_range``: 7-bit weights
    (avoids saturation on CPUs without VNNI); ``int8_op_types``: which op types are quantised
    (default: every type ORT's dynamic quantiser knows)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    types = op_types(int8_op_types)
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    with quiet():
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, extra_options=_EXTRA,
                         per_channel=per_channel, reduce_range=reduce_range,
                         op_types_to_quantize=types)
    return StepReport(step="int8", settings=_settings("dynamic", per_channel, reduce_range,
                                                      types),
                      after=summarize_graph(Path(dst)))


def quantize_static_int8(src: Path, dst: Path, feeds: Iterable[Mapping[str, np.ndarray]], *,
                         method: str = "minmax", source: str = "given inputs",
                         per_channel: bool = False, reduce_range: bool = False,
                         int8_op_types: str | Iterable[str] | None = None) -> StepReport:
    """QDQ static quantisation, activation scales calibrated on ``feeds`` with ``method``;
    ``per_channel``, ``reduce_range`` and ``int8_op_types`` as in ``quantize_dynamic_int8``
    (default op types: ``STATIC_OP_TYPES``)."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    calibrate = calibration_method(method)
    types = op_types(int8_op_types)
    fitted = _fit_feeds(Path(src), feeds)
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    with quiet():
        quantize_static(str(src), str(dst), _reader_class()(fitted),
                        quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                        weight_type=QuantType.QInt8, calibrate_method=calibrate,
                        op_types_to_quantize=types or list(STATIC_OP_TYPES),
                        per_channel=per_channel, reduce_range=reduce_range,
                        extra_options=_EXTRA)
    settings = _settings("static", per_channel, reduce_range, types)
    step = StepReport(step="int8", settings={**settings, "format": "QDQ",
                                             "calibration": method},
                      after=summarize_graph(Path(dst)))
    step.details["calibration_data"] = source
    step.details["calibration_batches"] = len(fitted)
    return step


TRT_TABLE = "calibration.flatbuffers"  # the name ORT's TensorRT provider reads (its own format)


def trt_calibration_table(src: Path, feeds: Iterable[Mapping[str, np.ndarray]], out_dir: Path,
                          *, method: str = "minmax", source: str = "given inputs"
                          ) -> dict[str, Any]:
    """A TensorRT INT8 calibration table for ``src`` from ``feeds``, by ORT's own tools
    (``create_calibrator`` on the CPU, ``write_calibration_table``): every tensor's dynamic
    range, written as ``calibration.flatbuffers`` (with ``.json`` and ``.cache``) into
    ``out_dir``, the folder ORT's TensorRT provider reads it from (its engine cache path).
    Returns what was done, for the case's record."""
    from onnxruntime.quantization import create_calibrator
    from onnxruntime.quantization.quant_utils import write_calibration_table

    fitted = _fit_feeds(Path(src), feeds)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="onnxbench-calib-") as tmp, quiet():
        calibrator = create_calibrator(str(src), [],
                                       augmented_model_path=str(Path(tmp) / "augmented.onnx"),
                                       calibrate_method=calibration_method(method),
                                       providers=["CPUExecutionProvider"])
        calibrator.collect_data(_reader_class()(fitted))
        ranges = calibrator.compute_data()
        write_calibration_table(ranges, dir=str(out_dir))
    return {"table": str(out_dir / TRT_TABLE), "method": method, "data": source,
            "batches": len(fitted), "tensors": len(list(ranges.keys()))}
