"""Build and cache the export artifact that several cases share, inside a run directory.

Cases with one ``artifact_key`` (model, config, exporter, precision, export options) share
one trained module and one exported graph: ``artifacts/<key>/model.pt`` (state dict),
``model.onnx`` and ``artifact.json`` (exporter record, lint findings, parity against
PyTorch). ``prepare_artifact`` runs in a worker, once per key, before the cases that use it;
a second call finds ``artifact.json`` and returns the cached artifact. A bare ``.onnx``
model needs no build: its artifact is just the file.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from onnxbench.artifact import Artifact
from onnxbench.case import EXPORT_OPTIONS, Case
from onnxbench.result import atomic_write_text

META = "artifact.json"


class ExportFailed(RuntimeError):
    """The exporter reported a failure; its message already names the original error."""

    show_type = False  # onnxbench.worker.first_line: no "ExportFailed: " prefix


def known_exporters() -> tuple[str, ...]:
    """Every exporter an artifact can be built with (PyTorch ones, then tf2onnx)."""
    from onnxbench.export.exporters import EXPORTERS

    try:
        from onnxbench.tf.export import EXPORTER as TF_EXPORTER
    except ImportError:
        return tuple(EXPORTERS)
    return (*EXPORTERS, TF_EXPORTER)


def artifact_options(case: Case) -> dict[str, Any]:
    """The case options that change the built/exported model (the artifact key's options)."""
    return {k: v for k, v in sorted(case.options.items()) if k in EXPORT_OPTIONS}


def is_onnx_model(model: str) -> bool:
    return model.endswith(".onnx")


def onnx_artifact(case: Case) -> Artifact:
    """The artifact of a bare ONNX file: the file itself."""
    return Artifact(model=case.model, onnx_path=Path(case.model))


def cached_artifact(case: Case, cache_dir: Path) -> Artifact | None:
    """The artifact already built for this case's key, or None."""
    if is_onnx_model(case.model):
        return onnx_artifact(case)
    meta = _read_json(Path(cache_dir) / case.artifact_key / META)
    if not meta or meta.get("status") != "ok":
        return None
    return _artifact_from(case, Path(cache_dir) / case.artifact_key, meta)


def read_artifact_meta(artifact: Artifact) -> dict[str, Any] | None:
    """``artifact.json`` beside the artifact's files, if any."""
    where = artifact.onnx_path or artifact.torch_state
    return _read_json(Path(where).parent / META) if where else None


def prepare_artifact(case: Case, cache_dir: Path) -> Artifact:
    """Build (train once, save, export, lint, verify) or reuse the artifact for ``case``.

    Runs in a worker. An export error propagates (the runner fails the key's cases with
    its first line); it is also recorded in ``artifact.json`` for the report.
    """
    cached = cached_artifact(case, cache_dir)
    if cached is not None:
        return cached
    from onnxbench.zoo import resolve

    spec = resolve(case.model)
    if getattr(spec, "framework", "torch") == "tf":  # Keras models: the TF twin builds them
        from onnxbench.tf.export import prepare_tf_artifact

        return prepare_tf_artifact(case, cache_dir)
    import torch

    out = Path(cache_dir) / case.artifact_key
    out.mkdir(parents=True, exist_ok=True)
    options = artifact_options(case)
    module = spec.build(case.config, seed=case.seed, options=options, train=True).eval()
    torch.save(module.state_dict(), out / "model.pt")
    meta: dict[str, Any] = {"status": "ok", "key": case.artifact_key, "model": case.model,
                            "config": case.config, "exporter": case.exporter,
                            "options": options, "torch_state": "model.pt", "onnx": None}
    if case.exporter:
        try:
            meta.update(_export(spec, module, case, options, out))
        except Exception as exc:
            from onnxbench.worker import first_line

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
    onnx = out / meta["onnx"] if meta.get("onnx") else None
    return Artifact(model=case.model, config=case.config, onnx_path=onnx,
                    torch_state=out / meta["torch_state"], options=dict(meta.get("options", {})))


def _export(spec, module, case: Case, options: dict[str, Any], out: Path) -> dict[str, Any]:
    """Export, lint and verify against PyTorch at the case's batch; the artifact.json part."""
    import onnx

    from onnxbench.export.exporters import export

    batch = export_batch(case)
    feeds = spec.make_inputs(case.config, batch, case.seq, case.seed, options=options)
    names = spec.input_names(case.config)
    res = export(module, feeds, input_names=names,
                 output_names=spec.output_names(case.config),
                 dynamic_axes=spec.dynamic_axes(case.config), exporter=case.exporter,
                 opset=options.get("opset"), out_path=out / "model.onnx")
    if not res.ok:
        raise ExportFailed(res.error or f"exporter {case.exporter} failed")
    record: dict[str, Any] = {"onnx": "model.onnx", "export": _plain(res)}
    record["lint"] = _lint(onnx.load(str(out / "model.onnx")))
    record["parity"] = _verify(module, feeds, names, spec.output_names(case.config),
                               out / "model.onnx", batch)
    return record


def _lint(model) -> Any:
    try:
        from onnxbench.export.lint import lint
    except ImportError:
        return None
    return _plain(lint(model))


def _verify(module, feeds, names, output_names, onnx_path: Path, batch: int) -> dict[str, Any]:
    """ORT CPU against PyTorch on the same inputs (the export's own correctness check)."""
    import onnxruntime as ort
    import torch

    with torch.inference_mode():
        expected = module(*(torch.from_numpy(feeds[n]) for n in names))
    expected = [expected] if isinstance(expected, torch.Tensor) else list(expected)
    expected = [t.detach().cpu().numpy() for t in expected]
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    wanted = {i.name for i in sess.get_inputs()}
    actual = sess.run(None, {k: v for k, v in feeds.items() if k in wanted})
    from onnxbench.parity import compare

    report = compare(expected, actual, output_names, rtol=1e-3, atol=1e-4)
    return {"batch": batch, **(_plain(report) or {})}


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


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
