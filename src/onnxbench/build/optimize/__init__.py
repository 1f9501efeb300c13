"""Optimisation passes over an exported ONNX graph, chained, each one reported.

``apply_optimizations`` is the one entry point the artifact builder (suites) and the
``onnxbench optimize`` command share. The chain's order is fixed because each pass expects
the previous one's output: truncate (PyTorch, before export) -> transformer fusion ->
fold_slices -> merge_embeddings -> split_concat -> precision (fp16 or int8) -> ORT offline
level (``PASS_ORDER``). Quantising comes before the ORT level as ORT recommends: the
quantizer knows plain MatMul/Gemm, not the FusedGemm/FusedMatMul that the extended level
writes (entropy calibration finds nothing to histogram on such a graph). Each pass writes
its own file in ``out_dir`` so every intermediate graph can be inspected, and adds a step
to the change report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onnxbench.build.optimize.report import ChangeReport, StepReport, summarize_graph
from onnxbench.core.errors import UserError
from onnxbench.model.onnxfile import is_onnx_file

PRECISIONS = ("fp32", "fp16", "int8-dynamic", "int8-static")
# int8 settings apply_optimizations passes to the quantiser (``optimize.int8``)
INT8_SETTINGS = ("per_channel", "reduce_range", "int8_op_types")
# the order apply_optimizations runs the passes in (the change report's steps follow it)
PASS_ORDER = ("truncate", "fuse", "fold_slices", "merge_embeddings", "split_concat",
              "precision", "level")

# zoo model -> transformer optimizer model type its fusion uses
FUSE_TYPE_FOR_MODEL = {"bert": "bert", "deberta-v2": "bert", "deberta": "bert"}


@dataclass(frozen=True)
class OptimizeResult:
    """The final graph's path and the report of how it was made."""

    path: Path
    report: ChangeReport


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise UserError(f"precision: unknown value {precision!r}; choose one of: "
                        f"{', '.join(PRECISIONS)}")


def _check_names(level: str | None, fuse: str | None, opts: Mapping[str, Any]) -> None:
    """Fail on a misspelt level, fusion type or calibration method before any work."""
    from onnxbench.build.optimize import fusion, int8, levels

    if level:
        levels.ort_level(level)
    if fuse and FUSE_TYPE_FOR_MODEL.get(fuse, fuse) not in fusion.fusion_model_types():
        raise UserError(f"--fuse: unknown model type {fuse!r}; choose one of: "
                        f"{', '.join(fusion.fusion_model_types())}")
    if opts.get("calibration"):
        int8.calibration_method(opts["calibration"])
    int8.op_types(opts.get("int8_op_types"))


def _calibration(current: Path, calibration_inputs: Iterable[Mapping] | None,
                 opts: Mapping[str, Any]) -> tuple[list, str]:
    """Calibration batches: given ones, else the zoo's data, else seeded graph inputs."""
    from onnxbench.build.optimize import int8

    if calibration_inputs is not None:
        return list(calibration_inputs), "given calibration inputs"
    if opts.get("model") and not is_onnx_file(str(opts["model"])):
        return int8.zoo_calibration(opts["model"], opts.get("config"), seq=opts.get("seq"),
                                    options=opts.get("model_options"))
    feeds = int8.synthetic_calibration(current, seq=opts.get("seq") or 16,
                                       ranges=opts.get("ranges"))
    _check_feed_runs(current, feeds[0])
    return feeds, f"seeded example inputs synthesised from the graph ({len(feeds)} batches)"


def _check_feed_runs(path: Path, feed: Mapping[str, Any]) -> None:
    """Synthesised calibration inputs must run: integer ids outside a vocabulary do not."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 4  # the failure is reported below, once, not by ORT's logger too
    try:
        ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"]).run(
            None, dict(feed))
    except Exception as exc:  # noqa: BLE001 - any ORT failure on these inputs says the same
        detail = str(exc).strip().splitlines()[0].split("Status Message:")[-1].strip()[:160]
        raise UserError(f"{path.name}: static int8 calibration cannot run the graph on inputs "
                        f"synthesised from it ({detail}); give --model-name/--config to "
                        "calibrate on the zoo model's data, or --range NAME=lo:hi for integer "
                        "inputs") from None


def _precision_step(current: Path, out_dir: Path, stem: str, precision: str,
                    calibration_inputs, opts: Mapping[str, Any]) -> StepReport | None:
    from onnxbench.build.optimize import fp16, int8

    dst = out_dir / f"{stem}.{precision}.onnx"
    if precision == "fp16":
        return fp16.to_fp16(current, dst, keep_io_types=bool(opts.get("keep_io_types", False)),
                            op_block_list=opts.get("op_block_list"))
    settings: dict[str, Any] = {k: opts[k] for k in INT8_SETTINGS if opts.get(k) is not None}
    if precision == "int8-dynamic":
        return int8.quantize_dynamic_int8(current, dst, **settings)
    if precision == "int8-static":
        feeds, source = _calibration(current, calibration_inputs, opts)
        return int8.quantize_static_int8(current, dst, feeds,
                                         method=opts.get("calibration") or "minmax",
                                         source=source, **settings)
    return None


def apply_optimizations(onnx_path: Path, out_dir: Path, *, precision: str = "fp32",
                        level: str | None = None, fuse: str | None = None,
                        model_type_hint: str | None = None,
                        calibration_inputs: Iterable[Mapping] | None = None,
                        **opts: Any) -> OptimizeResult:
    """Run the requested passes on ``onnx_path``, writing each graph under ``out_dir``.

    ``opts``: ``truncate_layers`` (with ``model``, ``config``: rebuilds the zoo model, proves
    and exports the truncated encoder first), ``keep_io_types``, ``op_block_list`` (fp16),
    ``calibration`` (minmax|entropy|percentile), ``per_channel``, ``reduce_range`` and
    ``int8_op_types`` (int8: per-channel weight scales, 7-bit weights, the op types
    quantised), ``seq`` (calibration inputs), ``seed`` and
    ``model_options`` (rebuilding the zoo model as it was exported),
    ``num_heads``/``hidden_size`` (fusion; 0 = detect), ``fold_slices`` (fold slices of a
    Concat and exact id cast pairs: CTR models' feature shuffling), ``merge_embeddings``
    (per-feature embedding lookups → one lookup in a concatenated table), ``split_concat``
    (at most this many inputs per Concat: ORT's CUDA graphs take 32). With nothing requested
    the result is the input graph and an empty step list.
    """
    from onnxbench.model.inputs import load_onnx

    _check_precision(precision)
    _check_names(level, fuse, opts)
    onnx_path, out_dir = Path(onnx_path), Path(out_dir)
    load_onnx(onnx_path)  # UserError on a missing / not-ONNX file
    out_dir.mkdir(parents=True, exist_ok=True)
    report = ChangeReport(source=summarize_graph(onnx_path))
    current, stem = onnx_path, onnx_path.stem
    for step in _passes(onnx_path, out_dir, stem, fuse, model_type_hint, opts):
        report.steps.append(step)
        if step.after is not None:
            current, stem = Path(step.after.path), Path(step.after.path).stem
    step = _precision_step(current, out_dir, stem, precision, calibration_inputs, opts)
    if step is not None:
        assert step.after is not None  # a precision step always writes a model
        report.steps.append(step)
        current, stem = Path(step.after.path), Path(step.after.path).stem
    if level:
        from onnxbench.build.optimize import levels

        report.steps.append(levels.optimize_level(current, out_dir / f"{stem}.{level}.onnx",
                                                  level))
        after = report.steps[-1].after
        assert after is not None  # optimize_level always writes a model
        current = Path(after.path)
    report.output = str(current)
    return OptimizeResult(current, report)


def _passes(src: Path, out_dir: Path, stem: str, fuse: str | None,
            model_type_hint: str | None, opts: Mapping[str, Any]):
    """Yield the model-level steps in order (truncate, fuse), each reading the previous."""
    from onnxbench.build.optimize import fusion, truncate

    current = src
    n_remove = int(opts.get("truncate_layers") or 0)
    if n_remove:
        model = opts.get("model") or model_type_hint
        if not model:
            raise UserError("--truncate-layers needs --model-name (bert or deberta-v2): the "
                            "encoder is rebuilt in PyTorch, truncated and re-exported")
        dst = out_dir / f"{stem}.trunc{n_remove}.onnx"
        step = truncate.truncate_zoo_model(model, opts.get("config"), n_remove, dst,
                                           seq=opts.get("seq"), seed=int(opts.get("seed") or 0),
                                           options=opts.get("model_options"))
        current, stem = dst, dst.stem
        yield step
    if fuse:
        fuse_type = FUSE_TYPE_FOR_MODEL.get(fuse, fuse)
        dst = out_dir / f"{stem}.fused.onnx"
        step = fusion.fuse(current, dst, fuse_type, model_hint=model_type_hint,
                           num_heads=int(opts.get("num_heads") or 0),
                           hidden_size=int(opts.get("hidden_size") or 0))
        if step.after is not None:
            current, stem = dst, dst.stem
        yield step
    if opts.get("fold_slices"):
        from onnxbench.build.optimize.fold import fold_file

        dst = out_dir / f"{stem}.fold.onnx"
        step = fold_file(current, dst)
        current, stem = dst, dst.stem
        yield step
    if opts.get("merge_embeddings"):
        from onnxbench.build.optimize.embeddings import merge_file

        dst = out_dir / f"{stem}.emb.onnx"
        step = merge_file(current, dst)
        current, stem = dst, dst.stem
        yield step
    if opts.get("split_concat"):
        from onnxbench.build.optimize.concat import split_concats_file

        dst = out_dir / f"{stem}.concat.onnx"
        yield split_concats_file(current, dst, int(opts["split_concat"]))
