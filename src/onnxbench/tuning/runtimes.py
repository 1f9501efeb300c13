"""Which runtimes enter ``tune``'s space, and each one's axes, decided by the registry's
declared capabilities (framework, device, precisions, options model), never by its name.

A runtime this machine cannot run is dropped with the reason the suite dry-run gives
(``suite.preflight.skip_reason``: no CUDA device, no TensorRT provider, no TensorFlow, no
C++ compiler for torch.compile), so a GPU runtime enters the space wherever it is there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import product
from typing import Any

from onnxbench.errors import UserError
from onnxbench.tuning.goals import Goal
from onnxbench.tuning.space import GPU_PRECISIONS, Candidate, Space

GRAPH_PRECISIONS = ("fp32", "fp16", "int8-dynamic", "int8-static")


def _model_framework(model: str) -> str:
    """``onnx`` for a bare graph, else the model's framework name (torch, tf)."""
    from onnxbench.onnxfile import is_onnx_file

    if is_onnx_file(model):
        return "onnx"
    from onnxbench.frameworks import framework_of
    from onnxbench.zoo import resolve

    return framework_of(resolve(model)).name


def _exporters(model: str, dims: Mapping[str, list[Any]], space: Space) -> list[str | None]:
    from onnxbench.onnxfile import is_onnx_file

    if is_onnx_file(model):
        return [None]
    from onnxbench.frameworks import framework_of
    from onnxbench.zoo import resolve

    fw = framework_of(resolve(model))
    out: list[str | None] = []
    for name in dims["exporter"]:
        exporter = fw.exporters[0] if name == "default" else str(name)
        try:
            fw.check_exporter(exporter, model)
        except UserError as exc:
            space.drop(f"exporter {exporter}", str(exc))
            continue
        if exporter not in out:
            out.append(exporter)
    return out


def _default_runtimes() -> list[str]:
    """Every registered runtime but the test ones (those that do not fit are dropped with
    the reason, so the dry-run shows them)."""
    from onnxbench.runtimes import runtime_class, runtime_names

    return [n for n in runtime_names() if runtime_class(n).framework != "test"]


def _available(runtime: str, model: str, exporter: str | None) -> str | None:
    """Why this machine cannot run ``runtime`` (None: it can)."""
    from onnxbench.case import Case
    from onnxbench.suite.preflight import skip_reason

    probe = Case(model=model, exporter=exporter, runtime=runtime, batch=1)
    return skip_reason(probe)


def _precisions(cls: Any, runtime: str, dims: Mapping[str, list[Any]],
                space: Space) -> list[str]:
    out = []
    for p in dims["precision"]:
        if cls.framework == "onnx":
            if p not in GRAPH_PRECISIONS:
                space.drop(f"{runtime} {p}", f"{p} is not an ONNX graph precision "
                                             f"({', '.join(GRAPH_PRECISIONS)})")
            elif cls.device == "cpu" and p in GPU_PRECISIONS:
                space.drop(f"{runtime} {p}", "fp16 on a CPU provider runs float16 ops by "
                                             "casting to float32: slower, never a pick")
            elif cls.device != "cpu" and p.startswith("int8"):
                space.drop(f"{runtime} {p}", "int8 QDQ/integer ops run on the CPU provider; "
                                             "on a GPU provider they fall back to the CPU")
            else:
                out.append(p)
        elif p not in cls.precisions:
            space.drop(f"{runtime} {p}", f"{p} is a graph precision: ONNX Runtime runs it"
                       if p in GRAPH_PRECISIONS else f"{runtime} runs {cls.precisions}")
        elif cls.device == "cpu" and p in GPU_PRECISIONS:
            space.drop(f"{runtime} {p}", "fp16 on the CPU: PyTorch's CPU kernels are float32")
        else:
            out.append(p)
    return out


def _quant_variants(precision: str, dims: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    if not precision.startswith("int8"):
        return [{}]
    cals = dims["calibration"] if precision == "int8-static" else [None]
    out = []
    for pc, rr, cal in product(dims["per_channel"], dims["reduce_range"], cals):
        opts = {k: v for k, v in (("per_channel", bool(pc)), ("reduce_range", bool(rr)),
                                  ("calibration", cal)) if v}
        if opts not in out:
            out.append(opts)
    return out


def _engines(model: str, runtime: str, exporters: list[str | None],
             dims: Mapping[str, list[Any]], space: Space) -> list[Candidate]:
    """Every engine (runtime × exporter × precision settings × passes × level × threads)."""
    from onnxbench.optimize import FUSE_TYPE_FOR_MODEL
    from onnxbench.runtimes import runtime_class

    cls = runtime_class(runtime)
    fields = cls.Options.model_fields
    levels = dims["level"] if "graph_optimization_level" in fields else [None]
    modes = dims["compile_mode"] if "mode" in fields else [None]
    fuses = [bool(f) for f in dims["fuse"]] if cls.framework == "onnx" and \
        model in FUSE_TYPE_FOR_MODEL else [False]
    out = []
    for exporter, precision in product(exporters if cls.framework == "onnx" else [None],
                                       _precisions(cls, runtime, dims, space)):
        for quant, fuse, level, mode, threads in product(
                _quant_variants(precision, dims), dict.fromkeys(fuses), levels, modes,
                dims["threads"]):
            opts: dict[str, Any] = {**quant, "threads": int(threads)}
            opts.update({k: v for k, v in (("fuse", fuse), ("graph_optimization_level", level),
                                           ("mode", mode)) if v})
            out.append(Candidate(runtime, exporter, precision, tuple(sorted(opts.items()))))
    return out


def runtime_axes(model: str, goal: Goal, names: list[str] | None,
                 dims: Mapping[str, list[Any]], space: Space
                 ) -> Iterator[tuple[str, list[Candidate]]]:
    """(runtime, its engines) for every runtime that can run ``model`` here."""
    from onnxbench.runtimes import runtime_class, validate_runtime_name

    model_fw = _model_framework(model)
    exporters = _exporters(model, dims, space)
    for runtime in [validate_runtime_name(str(n)) for n in names] if names else \
            _default_runtimes():
        cls = runtime_class(runtime)
        if cls.framework not in ("onnx", model_fw):
            space.drop(runtime, f"runs a {cls.framework} model; {model} is "
                                f"{'a bare ONNX file' if model_fw == 'onnx' else model_fw}")
            continue
        if cls.framework == "onnx" and not exporters:
            space.drop(runtime, "no exporter left to make its graph")
            continue
        reason = _available(runtime, model, exporters[0] if cls.framework == "onnx" else None)
        if reason:
            space.drop(runtime, f"not available here: {reason}")
            continue
        yield runtime, _engines(model, runtime, exporters, dims, space)


__all__ = ["runtime_axes"]
