"""The TensorFlow plugin: registers the ``tf-*`` runtimes (TensorFlow loads lazily).

Loaded by ``onnxbench.plugins`` (nothing in the core imports ``onnxbench.tf``); importing
this module imports neither TensorFlow nor tf2onnx.
"""

from __future__ import annotations

RUNTIMES = {
    "tf-call": "onnxbench.tf.runtimes:TFCallRuntime",
    "tf-eager-call": "onnxbench.tf.runtimes:TFEagerCallRuntime",
    "tf-predict-on-batch": "onnxbench.tf.runtimes:TFPredictOnBatchRuntime",
    "tf-predict": "onnxbench.tf.runtimes:TFPredictRuntime",
    "tf-saved-model": "onnxbench.tf.runtimes:TFSavedModelRuntime",
}


def register() -> None:
    """Add the TensorFlow runtimes to onnxbench's registries."""
    from onnxbench.runtimes.registry import register_runtime

    for name, target in RUNTIMES.items():
        register_runtime(name, target)
