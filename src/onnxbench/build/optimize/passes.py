"""The optimisation passes, a registry: each declares the options it reads, whether it
changes the model's structure, and its place in the chain (``PASSES``' order).

The order is fixed because each pass expects the previous one's output: truncate (PyTorch,
before export) -> transformer fusion -> fold_slices -> merge_embeddings -> split_concat ->
precision (fp16 or int8) -> ORT offline level. Quantising comes before the ORT level as ORT
recommends: the quantizer knows plain MatMul/Gemm, not the FusedGemm/FusedMatMul that the
extended level writes. A *structural* pass changes the model's structure: an artifact
derived from an optimised base (another precision, a level) reuses the base's and does not
run it again (``build.artifacts``).

Adding a pass: a ``Pass`` subclass (here, or in its own module with its graph code) and one
entry in ``PASSES``; its options join ``core.options.OptimizeOptions``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import onnxbench.build.optimize.fp16 as fp16
import onnxbench.build.optimize.fusion as fusion
import onnxbench.build.optimize.int8 as int8
import onnxbench.build.optimize.levels as levels
import onnxbench.build.optimize.truncate as truncate
from onnxbench.build.optimize.concat import split_concats_file
from onnxbench.build.optimize.embeddings import merge_file
from onnxbench.build.optimize.fold import fold_file
from onnxbench.build.optimize.report import StepReport
from onnxbench.core.errors import UserError
from onnxbench.model.onnxfile import is_onnx_file
from onnxbench.model.zoo import resolve, spec_names
from onnxbench.model.zoo.base import ModelSpec

PRECISIONS = ("fp32", "fp16", "int8-dynamic", "int8-static")
# int8 settings the precision pass hands the quantiser (``optimize.int8``)
INT8_SETTINGS = ("per_channel", "reduce_range", "int8_op_types")


class Pass(ABC):
    """One step of the chain: ``run`` reads ``src`` and writes its graph under ``out_dir``."""

    name: ClassVar[str]                 # the change report's step
    options: ClassVar[tuple[str, ...]]  # the options it reads; the first one asks for it
    structural: ClassVar[bool] = True

    def wanted(self, opts: Mapping[str, Any]) -> bool:
        return bool(opts.get(self.options[0]))

    def check(self, opts: Mapping[str, Any]) -> None:  # noqa: B027 - nothing to check
        """A misspelt value fails here, before any pass runs."""

    @abstractmethod
    def run(self, src: Path, out_dir: Path, stem: str, opts: Mapping[str, Any]) -> StepReport:
        """The step; its ``after`` is the graph the next pass reads (None: keep ``src``)."""


def _zoo_spec(name: Any) -> ModelSpec | None:
    return resolve(name) if isinstance(name, str) and name in spec_names() else None


def fusion_type(model: str) -> str | None:
    """The transformer optimizer's model type a zoo model fuses with (None: it does not)."""
    spec = _zoo_spec(model)
    return spec.fusion if spec is not None else None


class Truncate(Pass):
    """Rebuild the zoo model, drop its encoder's last N layers, prove it, export it."""

    name = "truncate"
    options = ("truncate_layers",)

    def run(self, src: Path, out_dir: Path, stem: str, opts: Mapping[str, Any]) -> StepReport:
        n_remove = int(opts["truncate_layers"])
        model = opts.get("model") or opts.get("model_type_hint")
        if not model:
            raise UserError("--truncate-layers needs --model-name (bert or deberta-v2): the "
                            "encoder is rebuilt in PyTorch, truncated and re-exported")
        return truncate.truncate_zoo_model(
            model, opts.get("config"), n_remove, out_dir / f"{stem}.trunc{n_remove}.onnx",
            seq=opts.get("seq"), seed=int(opts.get("seed") or 0),
            options=opts.get("model_options"))


class Fuse(Pass):
    """ORT's transformer optimizer; the model's spec says its type and why a family does
    not fuse (``ModelSpec.fusion``, ``ModelSpec.fusion_gaps``)."""

    name = "fuse"
    options = ("fuse", "num_heads", "hidden_size")

    @staticmethod
    def model_type(opts: Mapping[str, Any]) -> str:
        fuse = opts["model"] if opts.get("fuse") is True else opts["fuse"]
        spec = _zoo_spec(fuse)  # a zoo model's name: its own fusion type
        return spec.fusion if spec is not None and spec.fusion else str(fuse)

    def check(self, opts: Mapping[str, Any]) -> None:
        if opts.get("fuse") and self.model_type(opts) not in fusion.fusion_model_types():
            raise UserError(f"--fuse: unknown model type {opts['fuse']!r}; choose one of: "
                            f"{', '.join(fusion.fusion_model_types())}")

    def run(self, src: Path, out_dir: Path, stem: str, opts: Mapping[str, Any]) -> StepReport:
        hint = opts.get("model_type_hint")
        spec = _zoo_spec(hint)
        return fusion.fuse(src, out_dir / f"{stem}.fused.onnx", self.model_type(opts),
                           model_hint=hint, num_heads=int(opts.get("num_heads") or 0),
                           hidden_size=int(opts.get("hidden_size") or 0),
                           gaps=spec.fusion_gaps if spec is not None else None)


class FoldSlices(Pass):
    """Fold slices of a Concat and exact id cast pairs (CTR models' feature shuffling)."""

    name = "fold_slices"
    options = ("fold_slices",)

    def run(self, src: Path, out_dir: Path, stem: str, opts: Mapping[str, Any]) -> StepReport:
        return fold_file(src, out_dir / f"{stem}.fold.onnx")


class MergeEmbeddings(Pass):
    """Per-feature embedding lookups -> one lookup in a concatenated table."""

    name = "merge_embeddings"
    options = ("merge_embeddings",)

    def run(self, src: Path, out_dir: Path, stem: str, opts: Mapping[str, Any]) -> StepReport:
        return merge_file(src, out_dir / f"{stem}.emb.onnx")


class SplitConcat(Pass):
    """At most N inputs per Concat (ORT's CUDA graphs take 32)."""

    name = "split_concat"
    options = ("split_concat",)

    def run(self, src: Path, out_dir: Path, stem: str, opts: Mapping[str, Any]) -> StepReport:
        return split_concats_file(src, out_dir / f"{stem}.concat.onnx", int(opts["split_concat"]))


class Precision(Pass):
    """fp16, or int8 (dynamic, or static with calibration)."""

    name = "precision"
    options = ("precision", "keep_io_types", "op_block_list", "calibration", *INT8_SETTINGS)
    structural = False

    def wanted(self, opts: Mapping[str, Any]) -> bool:
        return opts.get("precision", "fp32") != "fp32"

    def check(self, opts: Mapping[str, Any]) -> None:
        precision = opts.get("precision", "fp32")
        if precision not in PRECISIONS:
            raise UserError(f"precision: unknown value {precision!r}; choose one of: "
                            f"{', '.join(PRECISIONS)}")
        if opts.get("calibration"):
            int8.calibration_method(opts["calibration"])
        int8.op_types(opts.get("int8_op_types"))

    def run(self, src: Path, out_dir: Path, stem: str, opts: Mapping[str, Any]) -> StepReport:
        precision = opts["precision"]
        dst = out_dir / f"{stem}.{precision}.onnx"
        if precision == "fp16":
            block = opts.get("op_block_list")
            return fp16.to_fp16(src, dst, keep_io_types=bool(opts.get("keep_io_types", False)),
                                op_block_list=block.split(",") if isinstance(block, str)
                                else block)
        settings = {k: opts[k] for k in INT8_SETTINGS if opts.get(k) is not None}
        if precision == "int8-dynamic":
            return int8.quantize_dynamic_int8(src, dst, **settings)
        feeds, source = _calibration(src, opts.get("calibration_inputs"), opts)
        return int8.quantize_static_int8(src, dst, feeds,
                                         method=opts.get("calibration") or "minmax",
                                         source=source, **settings)


class Level(Pass):
    """ONNX Runtime's offline optimisation level, saved as a graph."""

    name = "level"
    options = ("level",)
    structural = False

    def check(self, opts: Mapping[str, Any]) -> None:
        if opts.get("level"):
            levels.ort_level(opts["level"])

    def run(self, src: Path, out_dir: Path, stem: str, opts: Mapping[str, Any]) -> StepReport:
        level = opts["level"]
        return levels.optimize_level(src, out_dir / f"{stem}.{level}.onnx", level)


PASSES: tuple[Pass, ...] = (Truncate(), Fuse(), FoldSlices(), MergeEmbeddings(), SplitConcat(),
                            Precision(), Level())
# the order apply_optimizations runs the passes in (the change report's steps follow it)
PASS_ORDER = tuple(p.name for p in PASSES)
# the options of the passes on the model's structure; precision and the level come after
STRUCTURAL_OPTIONS = frozenset(k for p in PASSES if p.structural for k in p.options)


def pass_options(options: Mapping[str, Any], *, structural: bool = True) -> dict[str, Any]:
    """A case's options the passes read (``structural=False``: the structural passes' left
    out, as for an artifact whose base ran them already)."""
    return {k: options[k] for p in PASSES if structural or not p.structural
            for k in p.options if options.get(k) is not None}


def _calibration(current: Path, calibration_inputs: Iterable[Mapping] | None,
                 opts: Mapping[str, Any]) -> tuple[list, str]:
    """Calibration batches: given ones, else the zoo's data, else seeded graph inputs."""
    if calibration_inputs is not None:
        return list(calibration_inputs), "given calibration inputs"
    if opts.get("model") and not is_onnx_file(str(opts["model"])):
        return int8.zoo_calibration(opts["model"], opts.get("config"), seq=opts.get("seq"),
                                    options=opts.get("model_options"))
    feeds = int8.synthetic_calibration(current, seq=opts.get("seq"), ranges=opts.get("ranges"))
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
