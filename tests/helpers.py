"""Helpers the test modules share: tiny models written on the spot (no export, no zoo)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper


def write_tiny_onnx(path: Path, dims=("batch", 4)) -> Path:
    """A one-MatMul graph with a symbolic batch: the cheapest real model ORT can run."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(dims))
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [dims[0], 4])
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 4],
                           np.eye(4, dtype=np.float32).ravel().tolist())
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "tiny",
                              [x], [y], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def write_chain(path: Path, layers: int, dim: int = 64) -> Path:
    """``layers`` MatMuls of a fixed random ``dim``×``dim`` weight: work grows with layers."""
    w = helper.make_tensor("w", TensorProto.FLOAT, [dim, dim],
                           (np.random.default_rng(0).normal(0, dim ** -0.5, (dim, dim))
                            .astype(np.float32).ravel().tolist()))
    nodes = [helper.make_node("MatMul", [f"h{i}", "w"], [f"h{i + 1}"]) for i in range(layers)]
    io = [helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", dim])
          for name in ("h0", f"h{layers}")]
    graph = helper.make_graph(nodes, "chain", io[:1], io[1:], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def default_sigint() -> None:
    """``preexec_fn`` for a child the test interrupts with SIGINT: a shell that started the
    tests in the background (``make test &``, CI wrappers) leaves SIGINT ignored, the child
    inherits that, and Python then installs no KeyboardInterrupt handler (the signal is
    lost, as nohup intends). The child gets the default back, as from a terminal."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
