"""TensorRT INT8 through ONNX Runtime, calibrated on the model's own rows.

ORT's TensorRT provider builds an INT8 engine from a non-QDQ graph only with a calibration
table: the dynamic range of every tensor. With ``trt_int8: true`` (and no table of the
user's own in ``provider_options``), ``ort-trt`` makes one before its session: the model's
training rows where the zoo has data (the digits of ``resnet18``/``resnet50`` ``digits``,
the MoE's), else seeded example inputs (said so), run through ORT's calibrator on the CPU,
written as ``calibration.flatbuffers`` into the engine cache folder, where the provider reads
it (``trt_int8_calibration_table_name``, relative to ``trt_engine_cache_path``). The held-out
rows stay unseen until they are scored. What was done goes into the case's runtime_info.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onnxbench.model.bundle import Bundle

TABLE_OPTION = "trt_int8_calibration_table_name"


def needs_table(opts: Any) -> bool:
    """INT8 asked for, calibration from the model's rows, and no table given by the user."""
    return bool(opts.trt_int8) and opts.trt_int8_calibration == "own-rows" and \
        TABLE_OPTION not in (opts.provider_options or {})


def calibrate(bundle: Bundle, opts: Any, provider_options: dict[str, str]) -> dict[str, Any]:
    """Write the table for ``bundle``'s graph and point ``provider_options`` at it (in place);
    returns the record of what was done."""
    from onnxbench.build.optimize.int8 import TRT_TABLE, trt_calibration_table, zoo_calibration

    onnx_path = Path(str(bundle.onnx_path))
    folder = Path(opts.trt_engine_cache_dir) if opts.trt_engine_cache_dir else \
        onnx_path.parent / "trt_int8"
    if bundle.spec is not None:
        feeds, source = zoo_calibration(bundle.model, bundle.config, count=8, batch=8)
    else:  # a bare ONNX file: seeded inputs from its declared shapes
        from onnxbench.build.optimize.int8 import synthetic_calibration

        feeds, source = synthetic_calibration(onnx_path), "seeded example inputs (a bare graph)"
    done = trt_calibration_table(onnx_path, feeds, folder, source=source)
    provider_options.update({TABLE_OPTION: TRT_TABLE, "trt_engine_cache_path": str(folder),
                             "trt_int8_use_native_calibration_table": "0"})
    return done
