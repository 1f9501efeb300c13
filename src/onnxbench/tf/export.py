"""The ``tf2onnx`` exporter, TensorFlow's reference outputs, and what a TF artifact saves.

A Keras model (zoo entry or ``.keras`` file) goes through ``tf2onnx.convert.from_keras``
with the spec's named ``tf.TensorSpec`` signature (batch and sequence dims dynamic), so the
ONNX inputs carry the spec's names. A SavedModel directory goes through tf2onnx's own
command line (``python -m tf2onnx.convert --saved-model``), the path users already know.
Graph outputs are renamed to the spec's output names where tf2onnx picked others.

The generic artifact builder and exporter matrix (``onnxbench.build.artifacts``,
``onnxbench.build.export.matrix``) use these through ``onnxbench.tf.framework.TFFramework``:
TensorFlow's outputs are the reference of their parity checks.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from onnxbench.core.errors import UserError, first_line
from onnxbench.tf import import_tf, import_tf2onnx

EXPORTER = "tf2onnx"
DEFAULT_OPSET = 17  # >= 12 for Einsum (MultiHeadAttention); ORT 1.31 runs it everywhere
CONVERT_TIMEOUT_S = 1800


def export_tf(spec, config: str | None, out_path: Path, opset: int | None = None, *,
              seed: int = 0, options: Mapping[str, Any] | None = None,
              model: Any = None):
    """Convert the spec's model to ``out_path`` with tf2onnx; an ``ExportResult``.

    A conversion failure is a result (``status="failed"`` with the first line), never an
    exception; a missing extra or an unreadable user file raises ``UserError``.
    """
    from onnxbench.build.export.exporters import ExportResult, describe_export

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
        return ExportResult(exporter=EXPORTER, status="failed",
                            error=first_line(exc, root_cause=True),
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
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
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
    return {"saved_model": "saved_model",
            "saved_model_export_s": round(time.perf_counter() - t0, 3)}
