"""Small stand-ins for the files README.md and docs/*.md name as the user's own.

``benchmarks/docs_examples.py`` runs every block in a scratch folder; where a block names
``model.onnx`` (a classifier, x [batch, 4] -> ten logits), ``text.onnx`` (token ids with a
sequence axis), ``speech.onnx`` (audio and a scalar sample rate), ``fixed.onnx`` (exported
without a dynamic batch axis), ``val.npz`` / ``batch.npz``, ``my-suite.yaml``,
``v1/model.onnx`` / ``v2/model.onnx`` or ``bert.onnx`` (the zoo's tiny BERT, exported), the
folder gets one before the block runs.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

ENV: dict[str, str] = {}


def _mlp(path: Path, layers: int = 1) -> None:
    """x [batch, 4] float -> ten logits: the docs' ``model.onnx`` (a classifier)."""
    import numpy as np
    from onnx import TensorProto, helper

    rng = np.random.default_rng(layers)
    inits = [helper.make_tensor(f"w{i}", TensorProto.FLOAT, [4, 4],
                                rng.normal(size=16).astype(np.float32).tolist())
             for i in range(layers - 1)]
    inits.append(helper.make_tensor("head", TensorProto.FLOAT, [4, 10],
                                    rng.normal(size=40).astype(np.float32).tolist()))
    names = ["x"] + [f"h{i}" for i in range(1, layers)] + ["logits"]
    nodes = [helper.make_node("MatMul", [names[i], f"w{i}" if i < layers - 1 else "head"],
                              [names[i + 1]]) for i in range(layers)]
    io = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4]),
          helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 10])]
    _save(helper.make_graph(nodes, path.stem, io[:1], io[1:], inits), path)


def _fixed(path: Path) -> None:
    """x [1, 64] -> [1, 8]: exported without a dynamic batch axis."""
    import numpy as np
    from onnx import TensorProto, helper

    w = helper.make_tensor("w", TensorProto.FLOAT, [64, 8],
                           np.random.default_rng(0).normal(size=512).astype(np.float32).tolist())
    io = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64]),
          helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])]
    _save(helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], path.stem,
                            io[:1], io[1:], [w]), path)


def _text(path: Path) -> None:
    """input_ids [batch, sequence] int64 -> pooled embedding: a model with a sequence axis."""
    import numpy as np
    from onnx import TensorProto, helper

    emb = helper.make_tensor("emb", TensorProto.FLOAT, [100, 8],
                             np.random.default_rng(0).normal(size=800).astype(np.float32).tolist())
    nodes = [helper.make_node("Gather", ["emb", "input_ids"], ["tok"]),
             helper.make_node("ReduceMean", ["tok"], ["pooled"], axes=[1], keepdims=0)]
    io = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
          helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", 8])]
    _save(helper.make_graph(nodes, path.stem, io[:1], io[1:], [emb]), path, opset=13)


def _speech(path: Path) -> None:
    """audio [batch, samples] float and a scalar sample_rate: real inputs plus a --value."""
    from onnx import TensorProto, helper

    nodes = [helper.make_node("ReduceMean", ["audio"], ["level"], axes=[1], keepdims=0),
             helper.make_node("Cast", ["sample_rate"], ["rate"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["level", "rate"], ["energy"])]
    io = [helper.make_tensor_value_info("audio", TensorProto.FLOAT, ["batch", "samples"]),
          helper.make_tensor_value_info("sample_rate", TensorProto.INT64, []),
          helper.make_tensor_value_info("energy", TensorProto.FLOAT, ["batch"])]
    _save(helper.make_graph(nodes, path.stem, io[:2], io[2:]), path, opset=13)


def _save(graph, path: Path, opset: int = 17) -> None:
    import onnx
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def _npz(path: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(1)
    if path.name == "batch.npz":  # speech.onnx's inputs (sample_rate comes from --value)
        np.savez(path, audio=rng.normal(size=(8, 1600)).astype(np.float32))
    else:  # val.npz: model.onnx's inputs with labels
        np.savez(path, x=rng.normal(size=(40, 4)).astype(np.float32),
                 labels=rng.integers(0, 10, size=40))


def _suite(path: Path) -> None:
    path.write_text("suite: my-suite\ndefaults:\n  measure: {warmup: 5, runs: 60}\n"
                    "cases:\n  - model: model.onnx\n    runtimes: [ort-cpu]\n"
                    "    batch: [1, 8]\n", encoding="utf-8")


def _bert(path: Path) -> None:
    subprocess.run(["onnxbench", "export", "bert", "--config", "tiny", "--exporter",
                    "torchscript", "--out", str(path.parent)], check=True, env=ENV or None,
                   capture_output=True, timeout=3600)


FIXTURES: dict[str, Callable[[Path], None]] = {
    "model.onnx": _mlp, "model_a.onnx": _mlp, "model_b.onnx": lambda p: _mlp(p, 2),
    "fixed.onnx": _fixed,
    "text.onnx": _text, "speech.onnx": _speech, "batch.npz": _npz, "val.npz": _npz,
    "my-suite.yaml": _suite, "bert.onnx": _bert,
    "v1/model.onnx": _mlp, "v2/model.onnx": lambda p: _mlp(p, 2),
}


def make_fixtures(text: str, folder: Path, env: dict[str, str]) -> None:
    """The stand-ins ``text`` (the blocks to run) names, and only those, made once in
    ``folder``; ``env``: where ``onnxbench`` is found."""
    ENV.update(env)
    for name, make in FIXTURES.items():
        if re.search(rf"(?<![\w/.-]){re.escape(name)}\b", text) and not (folder / name).exists():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            make(folder / name)
