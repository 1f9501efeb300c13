"""The TensorFlow plugin: registers the ``tf-*`` runtimes, the Keras zoo entries and model
sources (SavedModel directories, ``.keras`` files), and the ``tf`` framework (build, weights,
reference outputs, the ``tf2onnx`` exporter).

Loaded by ``onnxbench.core.plugins`` (nothing in the core imports ``onnxbench.tf``); importing
this module, or registering, imports neither TensorFlow nor tf2onnx: every target is a
``"module:name"`` string, imported when first used.
"""

from __future__ import annotations

RUNTIMES = {
    "tf-call": "onnxbench.tf.runtimes:TFCallRuntime",
    "tf-eager-call": "onnxbench.tf.runtimes:TFEagerCallRuntime",
    "tf-predict-on-batch": "onnxbench.tf.runtimes:TFPredictOnBatchRuntime",
    "tf-predict": "onnxbench.tf.runtimes:TFPredictRuntime",
    "tf-saved-model": "onnxbench.tf.runtimes:TFSavedModelRuntime",
}
SPECS = {
    "keras-resnet50": "onnxbench.tf.zoo:KERAS_RESNET50",
    "keras-encoder": "onnxbench.tf.zoo:KERAS_ENCODER",
}
SOURCE = "onnxbench.tf.zoo:source_spec"
FRAMEWORK = "onnxbench.tf.framework:TFFramework"


def register() -> None:
    """Add TensorFlow's runtimes, zoo entries, model sources and framework to the registries."""
    from onnxbench.model.frameworks import register_framework
    from onnxbench.model.zoo import register_source, register_spec
    from onnxbench.runtimes.registry import register_runtime

    for name, target in RUNTIMES.items():
        register_runtime(name, target)
    for name, target in SPECS.items():
        register_spec(name, target)
    register_source(SOURCE)
    register_framework("tf", FRAMEWORK)
