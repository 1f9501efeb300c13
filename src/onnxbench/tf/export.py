"""The ``tf2onnx`` exporter, parity against TensorFlow, and the TF export artifact.

A Keras model (zoo entry or ``.keras`` file) goes through ``tf2onnx.convert.from_keras``
with the spec's named ``tf.TensorSpec`` signature (batch and sequence dims dynamic), so the
ONNX inputs carry the spec's names. A SavedModel directory goes through tf2onnx's own
command line (``python -m tf2onnx.convert --saved-model``), the path users already know.
Graph outputs are renamed to the spec's output names where tf2onnx picked others.

Parity runs TensorFlow and ONNX Runtime (CPU) on the same seeded inputs at *each* batch
size asked for (batch 1 included: a graph can break there alone), with the reference's
``rtol=1e-3, atol=1e-5``, and reports the minimum tolerance that would pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from onnxbench.errors import UserError
from onnxbench.tf import import_tf, import_tf2onnx, versions

EXPORTER = "tf2onnx"
DEFAULT_OPSET = 17  # >= 12 for Einsum (MultiHeadAttention); ORT 1.31 runs it everywhere
PARITY_RTOL, PARITY_ATOL = 1e-3, 1e-5
CONVERT_TIMEOUT_S = 1800


def _first_line(exc: BaseException) -> str:
    from onnxbench.export.exporters import first_line

    return first_line(exc)


def export_tf(spec, config: str | None, out_path: Path, opset: int | None = None, *,
              seed: int = 0, options: Mapping[str, Any] | None = None,
              model: Any = None):
    """Convert the spec's model to ``out_path`` with tf2onnx; an ``ExportResult``.

    A conversion failure is a result (``status="failed"`` with the first line), never an
    exception; a missing extra or an unreadable user file raises ``UserError``.
    """
    from onnxbench.export.exporters import ExportResult, describe_export

    import_tf2onnx(UserError)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    opset = int(opset or DEFAULT_OPSET)
    t0 = time.perf_counter()
    try:
        if _is_saved_model(spec):
            _convert_saved_model(spec.path, out_path, opset)
        else:
            model = model if model is not None else spec.build(config, seed=seed, options=options)
            _convert_keras(model, spec.input_signature(config, options), out_path, opset)
        _tidy_graph(out_path, spec.output_names(config), spec.dynamic_axes(config))
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - an exporter failure is a result
        return ExportResult(exporter=EXPORTER, status="failed", error=_first_line(exc),
                            export_s=round(time.perf_counter() - t0, 3), opset=opset)
    return describe_export(EXPORTER, out_path, round(time.perf_counter() - t0, 3))


def _is_saved_model(spec) -> bool:
    from onnxbench.tf.zoo import SavedModelSpec

    return isinstance(spec, SavedModelSpec)


def _convert_keras(model, signature, out_path: Path, opset: int) -> None:
    tf2onnx = import_tf2onnx()
    tf = import_tf()
    with tf.device("/cpu:0"):
        tf2onnx.convert.from_keras(model, input_signature=signature, opset=opset,
                                   output_path=str(out_path))


def _convert_saved_model(path: str, out_path: Path, opset: int) -> None:
    """tf2onnx's CLI in a child process: it owns its graph state and its chatter."""
    cmd = [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(path),
           "--output", str(out_path), "--opset", str(opset), "--signature_def", "serving_default"]
    env = {**__import__("os").environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=CONVERT_TIMEOUT_S, env=env)
    if proc.returncode != 0 or not out_path.is_file():
        errors = [ln for ln in proc.stderr.splitlines() if "Error" in ln or "error" in ln]
        raise RuntimeError((errors or proc.stderr.splitlines() or ["tf2onnx failed"])[-1])


def _tidy_graph(path: Path, names: Sequence[str], axes: Mapping[str, Mapping[int, str]]) -> None:
    """Check the graph, then give it the spec's output names and dynamic-dim names.

    tf2onnx keeps going past ops it cannot convert and writes an invalid graph; the ONNX
    checker turns that into a failed export. It names dynamic dims ``unk__N``: the spec's
    ``batch``/``seq`` let input synthesis and the lint read them.
    """
    import onnx

    onnx.checker.check_model(str(path))
    model = onnx.load(str(path))
    outputs = list(model.graph.output)
    if len(outputs) == len(names) and [o.name for o in outputs] != list(names):
        renames = {o.name: new for o, new in zip(outputs, names)}
        for node in model.graph.node:
            node.output[:] = [renames.get(n, n) for n in node.output]
            node.input[:] = [renames.get(n, n) for n in node.input]
        for out in outputs:
            out.name = renames[out.name]
    for inp in model.graph.input:
        dims = inp.type.tensor_type.shape.dim
        for index, label in (axes.get(inp.name) or {}).items():
            if index < len(dims) and not dims[index].HasField("dim_value"):
                dims[index].dim_param = label
    onnx.save(model, str(path))


def tf_outputs(spec, config: str | None, model: Any, feeds: Mapping[str, np.ndarray]
               ) -> list[np.ndarray]:
    """Run the TensorFlow model on ``feeds``: outputs in the spec's output order."""
    if _is_saved_model(spec):
        tf = import_tf()
        out = spec.signature()(**{k: tf.constant(v) for k, v in feeds.items()})
        return [np.asarray(out[k]) for k in spec.output_names(config)]
    out = model(keras_args(model, [feeds[n] for n in spec.input_names(config)]),
                training=False)
    if isinstance(out, Mapping):
        out = [out[k] for k in spec.output_names(config)]
    out = out if isinstance(out, (list, tuple)) else [out]
    return [np.asarray(o) for o in out]


def keras_args(model: Any, args: list[Any]) -> Any:
    """``args`` (input order) in the structure the Keras model declares (list or single)."""
    import keras

    struct = getattr(model, "input", None)
    if struct is None:
        return args[0] if len(args) == 1 else args
    return keras.tree.pack_sequence_as(struct, args)


def tf_parity(spec, config: str | None, onnx_path: Path, batches: Sequence[int],
              seq: int | None = None, *, seed: int = 0,
              options: Mapping[str, Any] | None = None, model: Any = None,
              rtol: float = PARITY_RTOL, atol: float = PARITY_ATOL) -> dict[str, Any]:
    """ORT CPU against TensorFlow at each batch size; a JSON-ready record.

    ``{"passed", "rtol", "atol", "max_abs", "min_atol", "min_rtol", "first_problem",
    "batches": {"<b>": ParityReport.to_dict()}}``; ``model`` reuses an already built one.
    """
    import onnxruntime as ort

    from onnxbench.parity import compare

    model = model if model is not None else spec.build(config, seed=seed, options=options)
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    wanted = [i.name for i in sess.get_inputs()]
    per_batch: dict[str, Any] = {}
    problem = None
    for batch in batches:
        feeds = spec.make_inputs(config, batch, seq, seed, options=options)
        expected = tf_outputs(spec, config, model, feeds)
        actual = sess.run(None, {k: feeds[k] for k in wanted})
        report = compare(expected, actual, spec.output_names(config), rtol=rtol, atol=atol)
        per_batch[str(batch)] = report.to_dict()
        problem = problem or (f"batch {batch}: {report.first_problem()}"
                              if not report.passed else None)
    return {"passed": problem is None, "rtol": rtol, "atol": atol, "seq": seq,
            "max_abs": _worst(per_batch, "max_abs"), "min_atol": _worst(per_batch, "min_atol"),
            "min_rtol": _worst(per_batch, "min_rtol"), "first_problem": problem,
            "batches": per_batch}


def _worst(per_batch: Mapping[str, Mapping[str, Any]], key: str) -> float | None:
    values = [r.get(key) for r in per_batch.values()]
    numbers = [float(v) for v in values if isinstance(v, (int, float))]
    return max(numbers) if numbers and len(numbers) == len(values) else None


def save_weights(spec, model: Any, out_dir: Path) -> str | None:
    """Keras weights beside the graph, so runtimes run exactly the exported model."""
    if not hasattr(model, "save_weights") or _is_saved_model(spec):
        return None
    model.save_weights(str(Path(out_dir) / "model.weights.h5"))
    return "model.weights.h5"


def save_saved_model(spec, model: Any, out_dir: Path) -> dict[str, Any]:
    """The Keras model as a SavedModel beside the graph (``model.export``), once per
    artifact: ``tf-saved-model`` cases load it as a deployment would, instead of each
    exporting its own (tens of seconds for ResNet50)."""
    if not hasattr(model, "export") or _is_saved_model(spec):
        return {}
    t0 = time.perf_counter()
    model.export(str(Path(out_dir) / "saved_model"), format="tf_saved_model", verbose=False)
    return {"saved_model": "saved_model", "saved_model_export_s": round(time.perf_counter() - t0, 3)}


def prepare_tf_artifact(case, cache_dir: Path):
    """The TF twin of ``onnxbench.artifacts.prepare_artifact`` (same ``artifact.json`` keys).

    Builds the seeded Keras model once per artifact key, saves its weights (the
    ``state_file``: ``spec.load`` reads it back), converts with tf2onnx when the case
    has an exporter and checks parity against TensorFlow at the case's batch.
    """
    from onnxbench.artifact import Artifact
    from onnxbench.artifacts import META, artifact_options
    from onnxbench.errors import Skip

    import_tf2onnx(Skip)  # without the extra the cases are skipped, with the install line
    from onnxbench.result import atomic_write_text
    from onnxbench.zoo import resolve

    out = Path(cache_dir) / case.artifact_key
    meta_path = out / META
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else None
    if not meta or meta.get("status") != "ok":
        spec, options = resolve(case.model), artifact_options(case)
        out.mkdir(parents=True, exist_ok=True)
        model = spec.build(case.config, seed=case.seed, options=options)
        meta = {"status": "ok", "key": case.artifact_key, "model": case.model,
                "config": case.config, "exporter": case.exporter, "options": options,
                "framework": "tf", "versions": versions(),
                "state_file": save_weights(spec, model, out), "onnx": None,
                **save_saved_model(spec, model, out)}
        if case.exporter:
            meta.update(_export_record(spec, model, case, options, out))
        atomic_write_text(meta_path, json.dumps(meta, indent=1, default=str))
        if meta["status"] != "ok":
            raise RuntimeError(meta["reason"])
    return Artifact(model=case.model, config=case.config,
                    onnx_path=out / meta["onnx"] if meta.get("onnx") else None,
                    state_path=out / meta["state_file"] if meta.get("state_file") else None,
                    options=dict(meta.get("options") or {}))


def _export_record(spec, model, case, options: dict[str, Any], out: Path) -> dict[str, Any]:
    if case.exporter != EXPORTER:
        raise UserError(f"model {case.model!r} is a TensorFlow model: exporter must be "
                        f"{EXPORTER!r}, not {case.exporter!r}")
    res = export_tf(spec, case.config, out / "model.onnx", options.get("opset"),
                    seed=case.seed, options=options, model=model)
    if not res.ok:
        return {"status": "failed", "reason": res.error, "export": res.to_dict()}
    from onnxbench.artifacts import export_batch

    # batch 1 and the export batch, whichever case built the shared artifact
    batches = sorted({1, export_batch(case)})
    parity = tf_parity(spec, case.config, out / "model.onnx", batches, case.seq,
                       seed=case.seed, options=options, model=model)
    return {"onnx": "model.onnx", "export": res.to_dict(), "parity": parity}


def tf_export_matrix(spec_name: str, config: str | None, exporters: Sequence[str] = (EXPORTER,),
                     *, opset: int | None = None, out_dir: Path = Path("exports"),
                     batches: Sequence[int] = (1, 2, 8, 64), seqs: Sequence[int] | None = None,
                     rtol: float = PARITY_RTOL, atol: float = PARITY_ATOL,
                     options: Mapping[str, Any] | None = None, seed: int = 0):
    """The exporter matrix of a TensorFlow model: the ``tf2onnx`` row, TensorFlow as reference.

    Same ``Matrix`` as ``onnxbench.export.matrix.export_matrix`` (the ``export`` command
    prints either), with ``reference.json`` holding TensorFlow's outputs at every shape.
    """
    from onnxbench.export.lint import lint
    from onnxbench.export.matrix import Matrix, Row, _shapes, model_stem, run_cells
    from onnxbench.export.reference import shape_key, write_reference
    from onnxbench.zoo import resolve

    wrong = [e for e in exporters if e != EXPORTER]
    if wrong:
        raise UserError(f"model {spec_name!r} is a TensorFlow model: exporter {wrong[0]!r} "
                        f"does not apply; use --exporter {EXPORTER}")
    spec = resolve(spec_name)
    spec.config(config)
    import_tf2onnx(UserError)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = spec.build(config, seed=seed, options=options)
    shapes = _shapes(spec, batches, seqs)
    matrix = Matrix(model=spec_name, config=config, rtol=rtol, atol=atol, shapes=shapes,
                    out_dir=str(out_dir), reference=str(out_dir / "reference.json"),
                    notes=["the reference is TensorFlow (the Keras model / SavedModel "
                           "signature), not PyTorch"])
    inputs = {shape_key(b, s): spec.make_inputs(config, b, s, seed, options=options)
              for b, s in shapes}
    outputs = {k: tf_outputs(spec, config, model, feed) for k, feed in inputs.items()}
    write_reference(Path(matrix.reference), inputs, outputs, {
        "model": spec_name, "config": config, "seed": seed, "framework": "tensorflow",
        "input_names": spec.input_names(config), "output_names": spec.output_names(config),
        "rtol": rtol, "atol": atol, "notes": matrix.notes})
    path = out_dir / f"{model_stem(spec_name)}.onnx"
    result = export_tf(spec, config, path, opset, seed=seed, options=options, model=model)
    row = Row(label=EXPORTER, exporter=EXPORTER, fix=None, pad_to=None, export=result)
    if result.ok:
        import onnx

        row.lint = lint(onnx.load(str(path), load_external_data=False))
        row.cells = run_cells(path, shapes, inputs, outputs, spec.output_names(config),
                              rtol, atol)
    matrix.rows.append(row)
    return matrix
