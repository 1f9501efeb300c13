"""``tune``'s space built: which runtimes enter it, and each one's axes, decided by the
registry's declared capabilities (framework, device, precisions, options model), never by
its name; then every engine with its serving settings (``build_space``).

A runtime this machine cannot run is dropped with the reason the suite dry-run gives
(``suite.preflight.skip_reason``: no CUDA device, no TensorRT provider, no TensorFlow, no
C++ compiler for torch.compile), so a GPU runtime enters the space wherever it is there.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import product
from typing import Any

from onnxbench.core.errors import UserError
from onnxbench.tuning.goals import Goal
from onnxbench.tuning.space import DEFAULTS, GPU_PRECISIONS, Candidate, Serving, Space

GRAPH_PRECISIONS = ("fp32", "fp16", "int8-dynamic", "int8-static")


def _model_framework(model: str) -> str:
    """``onnx`` for a bare graph, else the model's framework name (torch, tf)."""
    from onnxbench.model.onnxfile import is_onnx_file

    if is_onnx_file(model):
        return "onnx"
    from onnxbench.model.frameworks import framework_of
    from onnxbench.model.zoo import resolve

    return framework_of(resolve(model)).name


def _exporters(model: str, dims: Mapping[str, list[Any]], space: Space) -> list[str | None]:
    from onnxbench.model.onnxfile import is_onnx_file

    if is_onnx_file(model):
        return [None]
    from onnxbench.model.frameworks import framework_of
    from onnxbench.model.zoo import resolve

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
    from onnxbench.core.case import Case
    from onnxbench.suite.preflight import skip_reason

    probe = Case(model=model, exporter=exporter, runtime=runtime, batch=1)
    return skip_reason(probe)


def _precision_problem(cls: Any, runtime: str, p: str, bare: bool) -> str | None:
    """Why ``runtime`` (its class ``cls``) cannot run precision ``p`` (None: it can)."""
    graph = cls.framework == "onnx"
    cpu = cls.device == "cpu"
    rules = [
        (graph and p not in GRAPH_PRECISIONS,
         f"{p} is not an ONNX graph precision ({', '.join(GRAPH_PRECISIONS)})"),
        (graph and bare and p != "fp32",
         f"a bare .onnx file is not optimised in a run (as in a suite): run `onnxbench "
         f"optimize FILE` for {p} and tune its output"),
        (graph and cpu and p in GPU_PRECISIONS,
         "fp16 on a CPU provider runs float16 ops by casting to float32: slower, never a pick"),
        (graph and not cpu and p.startswith("int8"),
         "int8 QDQ/integer ops run on the CPU provider; on a GPU provider they fall back to "
         "the CPU"),
        (not graph and p not in cls.precisions,
         f"{p} is a graph precision: ONNX Runtime runs it" if p in GRAPH_PRECISIONS
         else f"{runtime} runs {cls.precisions}"),
        (not graph and cpu and p in GPU_PRECISIONS,
         "fp16 on the CPU: PyTorch's CPU kernels are float32"),
    ]
    return next((why for hit, why in rules if hit), None)


def _precisions(cls: Any, runtime: str, dims: Mapping[str, list[Any]], space: Space,
                bare: bool) -> list[str]:
    out = []
    for p in dims["precision"]:
        problem = _precision_problem(cls, runtime, p, bare)
        if problem:
            space.drop(f"{runtime} {p}", problem)
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
    from onnxbench.build.optimize import FUSE_TYPE_FOR_MODEL
    from onnxbench.model.onnxfile import is_onnx_file
    from onnxbench.runtimes import runtime_class

    cls = runtime_class(runtime)
    fields = cls.Options.model_fields
    levels = dims["level"] if "graph_optimization_level" in fields else [None]
    modes = dims["compile_mode"] if "mode" in fields else [None]
    fuses = [bool(f) for f in dims["fuse"]] if cls.framework == "onnx" and \
        model in FUSE_TYPE_FOR_MODEL else [False]
    out = []
    for exporter, precision in product(exporters if cls.framework == "onnx" else [None],
                                       _precisions(cls, runtime, dims, space,
                                                   is_onnx_file(model))):
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


def _dims(overrides: Mapping[str, list[Any]], cores: int) -> dict[str, list[Any]]:
    dims = {k: list(v) for k, v in DEFAULTS.items()}
    dims.update({k: list(v) for k, v in overrides.items() if k != "runtimes"})
    for key in ("threads", "workers"):
        dims[key] = sorted({n for v in dims[key] for n in
                            (range(1, cores + 1) if v == "cores" else [_count(key, v)])})
    dims["max_batch"] = [_count("max_batch", v) for v in dims["max_batch"]]
    return dims


def _count(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"--space {key}={value!r}: expected positive integers")
    return value


def build_space(model: str, goal: Goal, *, runtimes: Iterable[str] | None = None,
                overrides: Mapping[str, list[Any]] | None = None,
                cores: int | None = None) -> Space:
    """Every candidate for ``model`` under ``goal``; dropped ones listed with the reason."""
    overrides = dict(overrides or {})
    cores = cores or _machine_cores()
    dims = _dims(overrides, cores)
    space = Space(dims=dims)
    names = list(runtimes) if runtimes else overrides.get("runtimes")
    for _runtime, engines in runtime_axes(model, goal, names, dims, space):
        for engine in engines:
            if goal.kind == "latency":
                _add(space, engine, None, cores)
                continue
            for layout, workers, mb in product(dims["layout"], dims["workers"],
                                               dims["max_batch"]):
                for delay in dims["max_delay_ms"] if mb > 1 else [DEFAULTS["max_delay_ms"][0]]:
                    serving = Serving(str(layout), int(workers), int(mb), float(delay))
                    _add(space, engine, serving, cores)
    if not space.candidates:
        reasons = "; ".join(f"{w}: {r}" for w, r in space.dropped[:4]) or "nothing to search"
        raise UserError(f"tune: no candidate left to measure ({reasons})")
    return space


def _add(space: Space, engine: Candidate, serving: Serving | None, cores: int) -> None:
    from dataclasses import replace

    from onnxbench.runtimes import runtime_class

    if serving is not None and serving.workers == 1:  # one worker: every layout is the same
        serving = replace(serving, layout="shared")   # single session, measured once
    cand = Candidate(engine.runtime, engine.exporter, engine.precision, engine.options, serving)
    if cand.cores > cores:
        workers = serving.workers if serving else 1
        space.drop(f"{cand.threads} threads × {workers} workers",
                   f"{cand.cores} cores > the {cores} cores here: oversubscribed")
        return
    if serving is not None and serving.layout == "shared" and serving.workers > 1 and \
            not runtime_class(cand.runtime).thread_safe:
        space.drop(f"{cand.runtime}, shared × {serving.workers} workers",
                   f"{cand.runtime} is not thread-safe: one shared session cannot serve "
                   "several threads (per-thread or processes can)")
        return
    if cand not in space.candidates:
        space.candidates.append(cand)


def _machine_cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        (os.cpu_count() or 1)


__all__ = ["build_space", "runtime_axes"]
