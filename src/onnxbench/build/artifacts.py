"""Build and cache the export artifact that several cases share, inside a run directory.

Cases with one ``artifact_key`` (model, config, exporter, precision, export options) share
one trained model and one exported graph: ``artifacts/<key>/`` holds the model's weights
(``model.pt``, or Keras' ``model.weights.h5`` and a SavedModel), ``model.onnx`` and
``artifact.json`` (exporter record, lint findings, parity against the source model).
``prepare_artifact`` runs in a worker, once per key, before the cases that use it; a second
call finds ``artifact.json`` and returns the cached artifact. A bare ONNX model needs no
build: its artifact is just the file.

One builder serves every framework: the model's ``onnxbench.model.frameworks.Framework`` (PyTorch
built in, TensorFlow from its plugin) builds, saves, runs (the parity reference) and
exports it.

A case that asks for an optimised graph (precision other than fp32, or one of
``OPTIMIZE_OPTIONS``) gets its own key, so "plain" and "fused" never share a graph. Its
artifact reuses the plain export of the same model (its *base* artifact: same key without
the optimisation options, built first if missing, so four variants cost one export), runs
``onnxbench.build.optimize.apply_optimizations`` on it into ``artifacts/<key>/`` and points
``onnx_path`` at the result; the change report goes into ``artifact.json`` and, through
``optimization_record``, into every case's ``runtime_info['optimization']``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from onnxbench.core.artifact import META, Artifact, read_artifact_meta, read_json
from onnxbench.core.case import EXPORT_OPTIONS, OPTIMIZE_OPTIONS, Case
from onnxbench.core.errors import Skip, first_line
from onnxbench.core.result import atomic_write_text
from onnxbench.model.onnxfile import is_onnx_file

if TYPE_CHECKING:
    from onnxbench.model.frameworks import Framework
    from onnxbench.model.zoo.base import ModelSpec
# the passes on the model's structure (truncate, fuse, fold_slices, merge_embeddings,
# split_concat); precision and the ORT level come after
MODEL_PASS_OPTIONS = frozenset({"truncate_layers", "fuse", "num_heads", "hidden_size",
                                "split_concat", "fold_slices", "merge_embeddings"})


class ExportFailed(RuntimeError):
    """The exporter reported a failure; its message already names the original error."""

    show_type = False  # onnxbench.core.errors.first_line: no "ExportFailed: " prefix


def artifact_options(case: Case) -> dict[str, Any]:
    """The case options that change the built/exported model (the artifact key's options)."""
    return {k: v for k, v in sorted(case.options.items()) if k in EXPORT_OPTIONS}


def wants_optimization(case: Case) -> bool:
    """True when the case's graph is not the plain fp32 export (a precision or a pass)."""
    return case.precision != "fp32" or any(case.options.get(k) for k in OPTIMIZE_OPTIONS)


def base_case(case: Case) -> Case:
    """The case whose graph this one's passes start from: with a precision or level on top
    of truncation/fusion, the fp32 truncated/fused case (fused once, then fp16 and int8
    from it); otherwise the plain fp32 export."""
    late = case.precision != "fp32" or any(case.options.get(k) for k in
                                           OPTIMIZE_OPTIONS - MODEL_PASS_OPTIONS)
    structural = any(case.options.get(k) for k in MODEL_PASS_OPTIONS)
    drop = OPTIMIZE_OPTIONS - MODEL_PASS_OPTIONS if late and structural else OPTIMIZE_OPTIONS
    options = {k: v for k, v in case.options.items() if k not in drop}
    return case.model_copy(update={"precision": "fp32", "options": options})


def onnx_artifact(case: Case) -> Artifact:
    """The artifact of a bare ONNX file: the file itself."""
    return Artifact(model=case.model, onnx_path=Path(case.model), bare_onnx=True)


def cached_artifact(case: Case, cache_dir: Path) -> Artifact | None:
    """The artifact already built for this case's key, or None."""
    if is_onnx_file(case.model):
        return onnx_artifact(case)
    meta = read_json(Path(cache_dir) / case.artifact_key / META)
    if not meta or meta.get("status") != "ok":
        return None
    return _artifact_from(case, Path(cache_dir) / case.artifact_key, meta)


def prepare_artifact(case: Case, cache_dir: Path) -> Artifact:
    """Build (train once, save, export, lint, verify) or reuse the artifact for ``case``.

    Runs in a worker. A framework that is not installed is a ``Skip`` (the key's cases are
    skipped with the install line); an export error propagates (the runner fails the key's
    cases with its first line) and is recorded in ``artifact.json`` for the report.
    """
    cached = cached_artifact(case, cache_dir)
    if cached is not None:
        return cached
    from onnxbench.model.frameworks import framework_of
    from onnxbench.model.zoo import resolve

    spec = resolve(case.model)
    fw = framework_of(spec)
    fw.require(Skip)
    if case.exporter:
        fw.check_exporter(case.exporter, case.model)
        if wants_optimization(case):
            return _prepare_optimized(case, Path(cache_dir))
    out = Path(cache_dir) / case.artifact_key
    out.mkdir(parents=True, exist_ok=True)
    options = artifact_options(case)
    model = fw.build(spec, case.config, seed=case.seed, options=options, train=True)
    meta: dict[str, Any] = {"status": "ok", "key": case.artifact_key, "model": case.model,
                            "config": case.config, "exporter": case.exporter,
                            "options": options, "framework": fw.name,
                            "versions": fw.versions(), "onnx": None,
                            **fw.save(spec, model, out)}
    if case.exporter:
        try:
            meta.update(_export(fw, spec, model, case, options, out))
        except Exception as exc:
            meta.update(status="failed", reason=first_line(exc))
            atomic_write_text(out / META, json.dumps(meta, indent=1, default=str))
            raise
    atomic_write_text(out / META, json.dumps(meta, indent=1, default=str))
    return _artifact_from(case, out, meta)


def export_batch(case: Case) -> int:
    """The example batch the graph is exported (and verified) at: ``export_batch`` or 2.

    Never the case's own batch: the artifact is shared by every batch size, so it must not
    depend on which case built it, and batch 1 is the classic exporter hazard (a bare
    ``squeeze()`` drops the batch axis and the graph is specialised to it).
    """
    return max(int(case.options.get("export_batch") or 2),
               int(case.options.get("pad_batch_to") or 0))


def _artifact_from(case: Case, out: Path, meta: dict[str, Any]) -> Artifact:
    from onnxbench.suite.trust import confined

    def where(key: str) -> Path | None:  # optimised artifacts point into their base's folder
        if not meta.get(key):
            return None  # never outside artifacts/: artifact.json is data (onnxbench.suite.trust)
        return confined(Path(os.path.normpath(out / meta[key])), out.parent, f"{out / META}: {key}")

    state = "state_file" if meta.get("state_file") else "torch_state"  # older runs: torch_state
    return Artifact(model=case.model, config=case.config, onnx_path=where("onnx"),
                    state_path=where(state), options=dict(meta.get("options", {})))


def _prepare_optimized(case: Case, cache_dir: Path) -> Artifact:
    """Optimise the base artifact's graph for ``case``; record the change report.

    The PyTorch module stays the base's state dict: ``Bundle.load_module`` truncates it
    when ``truncate_layers`` is set, so PyTorch runtimes run what the graph was made from.
    """
    base = prepare_artifact(base_case(case), cache_dir)
    base_meta = read_artifact_meta(base) or {}
    out = cache_dir / case.artifact_key
    out.mkdir(parents=True, exist_ok=True)
    options = artifact_options(case)
    meta: dict[str, Any] = {
        "status": "ok", "key": case.artifact_key, "model": case.model, "config": case.config,
        "exporter": case.exporter, "precision": case.precision, "options": options,
        "base": base_case(case).artifact_key, "onnx": None,
        "state_file": os.path.relpath(base.state_path, out) if base.state_path else None,
        "export": base_meta.get("export"),
        "export_parity": base_meta.get("parity") or base_meta.get("export_parity")}
    try:
        meta.update(_optimize(case, base_meta.get("optimization"), base.onnx_path, out,
                              options))
    except Exception as exc:
        meta.update(status="failed", reason=f"optimisation failed: {first_line(exc)}")
        atomic_write_text(out / META, json.dumps(meta, indent=1, default=str))
        raise
    atomic_write_text(out / META, json.dumps(meta, indent=1, default=str))
    return _artifact_from(case, out, meta)


def _optimize(case: Case, base_opt: dict[str, Any] | None, src: Path | None, out: Path,
              options: dict[str, Any]) -> dict:
    """Run the passes the case asks for that its base has not run; the artifact.json part
    (the graph, and the change report of the whole chain from the plain export)."""
    from onnxbench.build.optimize import INT8_SETTINGS, PRECISIONS, apply_optimizations

    if src is None:
        return {"optimization": {"skipped": "no exported graph to optimise"}}
    if case.precision not in PRECISIONS:  # bf16: a PyTorch-only precision, no ONNX graph
        return {"optimization": {"skipped": f"precision {case.precision} has no ONNX "
                                            f"conversion (graph precisions: "
                                            f"{', '.join(PRECISIONS)})"}}
    done = bool((base_opt or {}).get("steps"))  # the base already truncated / fused
    fuse = None if done else options.get("fuse")
    block = options.get("op_block_list")
    result = apply_optimizations(
        src, out, precision=case.precision, level=options.get("level"),
        fuse=case.model if fuse is True else fuse or None, model_type_hint=case.model,
        keep_io_types=bool(options.get("keep_io_types", False)),
        op_block_list=block.split(",") if isinstance(block, str) else block,
        calibration=options.get("calibration"),
        **{k: options[k] for k in INT8_SETTINGS if options.get(k) is not None},
        truncate_layers=0 if done else int(options.get("truncate_layers") or 0),
        model=case.model, config=case.config, seed=case.seed, model_options=options,
        num_heads=int(options.get("num_heads") or 0),
        hidden_size=int(options.get("hidden_size") or 0),
        fold_slices=False if done else bool(options.get("fold_slices")),
        merge_embeddings=False if done else bool(options.get("merge_embeddings")),
        split_concat=0 if done else int(options.get("split_concat") or 0))
    path = _inside(result.path, out)
    return {"onnx": path.name, "graph": _graph_summary(path),
            "optimization": _chain(base_opt if done else None, result.report.summary())}


def _chain(base_opt: dict[str, Any] | None, own: dict[str, Any]) -> dict[str, Any]:
    """One change report from the plain export: the base's steps, then this artifact's."""
    if not base_opt:
        return own
    from collections import Counter

    before, after = Counter(base_opt["source"]["op_counts"]), Counter(own["final"]["op_counts"])
    return {**own, "source": base_opt["source"], "steps": base_opt["steps"] + own["steps"],
            "nodes_before": base_opt["nodes_before"], "bytes_before": base_opt["bytes_before"],
            "op_delta": {k: after[k] - before[k] for k in sorted(set(before) | set(after))
                         if after[k] != before[k]}}


def _inside(path: Path, out: Path) -> Path:
    """``path`` itself when it lies in ``out``, else a hard link (a copy across devices) in
    ``out``: a chain that changed nothing (a fusion that found no pattern) still gives the
    artifact its own file, so ``read_artifact_meta`` finds this key's record beside it."""
    path = Path(path)
    if path.parent.resolve() == out.resolve():
        return path
    dst = out / path.name
    dst.unlink(missing_ok=True)
    try:
        os.link(path, dst)
    except OSError:
        import shutil

        shutil.copyfile(path, dst)
    return dst


def optimization_record(meta: dict[str, Any] | None) -> dict[str, Any] | None:
    """The compact change report a case's ``runtime_info['optimization']`` carries: node
    counts before/after, op delta, and per pass what fused, what did not and why, and the
    calibration source; None for a plain artifact."""
    meta = meta or {}
    opt = meta.get("optimization")
    if not opt:
        return None
    if "steps" not in opt:
        return {"artifact": meta.get("key"), **opt}
    steps = []
    for step in opt["steps"]:
        details = {k: (len(v) if isinstance(v, list) else v)
                   for k, v in (step.get("details") or {}).items()}
        steps.append({"step": step["step"], "settings": step.get("settings", {}),
                      "applied": step.get("applied", True), "fused": step.get("fused", {}),
                      "not_fused": step.get("not_fused", {}), "notes": step.get("notes", []),
                      "details": details})
    return {"artifact": meta.get("key"), "base_artifact": meta.get("base"),
            "precision": meta.get("precision"), "onnx": meta.get("onnx"),
            "nodes_before": opt.get("nodes_before"), "nodes_after": opt.get("nodes_after"),
            "bytes_before": opt.get("bytes_before"), "bytes_after": opt.get("bytes_after"),
            "op_delta": opt.get("op_delta", {}), "steps": steps}


def graph_record(artifact: Artifact, meta: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the ONNX graph a runtime loads is made of (file, nodes, op counts, I/O types):
    the proof that a "fused" or "int8" case ran its own graph. ``meta``: the artifact's
    ``artifact.json``, when it has one."""
    if artifact.onnx_path is None:
        return None
    meta = meta or {}
    graph = meta.get("graph")
    if not graph or Path(graph.get("path", "")).resolve() != Path(artifact.onnx_path).resolve():
        graph = _graph_summary(artifact.onnx_path)
    return {"artifact": meta.get("key"), "onnx": str(artifact.onnx_path),
            "nodes": graph["nodes"], "op_counts": graph["op_counts"],
            "io_types": graph.get("io_types", {}), "file_bytes": graph.get("file_bytes")}


def _export(fw: Framework, spec: ModelSpec, model: Any, case: Case, options: dict[str, Any],
            out: Path) -> dict[str, Any]:
    """Export, lint and check parity against the source model at the export batch; the
    artifact.json part."""
    from onnxbench.build.export.lint import lint
    from onnxbench.build.export.tracing import trace_findings
    from onnxbench.model.inputs import load_onnx

    batch = export_batch(case)
    feeds = spec.make_inputs(case.config, batch, case.seq, case.seed, options=options)
    path = out / "model.onnx"
    res = fw.export(spec, case.config, model, feeds, exporter=str(case.exporter),
                    opset=options.get("opset"), out_path=path, fix=options.get("fix"),
                    options=options)
    if not res.ok:
        raise ExportFailed(res.error or f"exporter {case.exporter} failed")
    # the example and two more seeded input sets: a trace is right for the example by
    # construction, so one set cannot catch control flow baked in by tracing
    sets = [feeds] + [spec.make_inputs(case.config, batch, case.seq, case.seed + i,
                                       options=options) for i in (1, 2)]
    return {"onnx": path.name, "export": _plain(res), "fix": options.get("fix"),
            "lint": _plain(lint(load_onnx(path)) + trace_findings(res.trace_warnings)),
            "graph": _graph_summary(path),
            "parity": _parity(fw, spec, case.config, model, sets, path, batch)}


def _parity(fw: Framework, spec: ModelSpec, config: str | None, model: Any,
            sets: list[dict[str, np.ndarray]], onnx_path: Path, batch: int) -> dict[str, Any]:
    """ORT CPU against the source model on the same inputs, for each input set (the
    export's own check), at the tolerances every parity check uses (``onnxbench.quality.parity``'s
    defaults): the worst set's report, with the failing sets named."""
    import onnxruntime as ort

    from onnxbench.quality.parity import DEFAULT_ATOL, DEFAULT_RTOL, compare

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    wanted = {i.name for i in sess.get_inputs()}
    reports = []
    for feeds in sets:
        expected = fw.outputs(spec, config, model, feeds)
        actual = sess.run(None, {k: v for k, v in feeds.items() if k in wanted})
        reports.append(compare(expected, actual, spec.output_names(config), rtol=DEFAULT_RTOL,
                               atol=DEFAULT_ATOL))
    worst = max(reports, key=lambda r: (not r.passed, r.max_abs or 0.0))
    failed = [i for i, r in enumerate(reports) if not r.passed]
    return {"batch": batch, "against": fw.label, **worst.to_dict(),
            "input_sets": len(reports), "failed_sets": failed}


def _graph_summary(path: Path) -> dict[str, Any]:
    from onnxbench.build.optimize.report import summarize_graph

    return summarize_graph(path).model_dump()


def _plain(obj: Any) -> Any:
    """A JSON-ready view of a result object (pydantic, dataclass, list of them, or plain)."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)
