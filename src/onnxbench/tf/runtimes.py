"""TensorFlow behind the Runtime protocol: the ways Keras users actually run a model.

- ``tf-call``: ``model(x)`` under ``tf.function`` (graph mode, traced per input signature).
- ``tf-eager-call``: ``model(x, training=False)`` with no ``tf.function``: the plain Keras
  call the reference timed as "keras call" (every layer dispatched eagerly from Python).
- ``tf-predict-on-batch``: ``model.predict_on_batch(x)`` (Keras' own compiled predict step).
- ``tf-predict``: ``model.predict(x, batch_size=batch)`` (the data-adapter path the
  reference measured, retracing included).
- ``tf-saved-model``: the ``serving_default`` signature of a loaded SavedModel (a Keras
  model is exported to a temporary SavedModel first, as a deployment would).

Retracing is what makes TensorFlow timings lie: every trace is a graph build inside the
timed loop. Each runtime reports the traced function's ``experimental_get_tracing_count()``
and the number of "triggered tf.function retracing" warnings TensorFlow logged while the
runtime was live. On the CPU, eager ops finish before they return, so ``synchronize`` is a
no-op; the timed callable returns TensorFlow tensors without copying them to numpy (the
same contract as ORT's output arrays living on the host already).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import numpy as np
from pydantic import Field

from onnxbench.core.errors import Skip
from onnxbench.core.options import Flag, PosInt, choice
from onnxbench.runtimes.base import Inputs, Runtime, RuntimeOptions
from onnxbench.tf import (
    guard_oom,
    import_tf,
    limit_allocator,
    oom_as_memory_error,
    set_threads,
    versions,
)

if TYPE_CHECKING:
    from onnxbench.model.bundle import Bundle


class TFOptions(RuntimeOptions):
    """TensorFlow runtime options."""

    threads: PosInt = Field(None, description="intra-op threads")
    intra_op_threads: PosInt = Field(None, description="intra-op threads (over threads)")
    inter_op_threads: PosInt = Field(None, description="inter-op threads")
    reduce_retracing: Flag = Field(False, description="tf.function(reduce_retracing=...)")
    fixed_signature: Flag = Field(False, description="tf-call: trace once for any shape")
    precision: Annotated[str, choice("fp32")] = Field("fp32", description="fp32 only")
    allocator_limit_mb: PosInt = Field(None, description="cap TensorFlow's allocator (MB)")

    @property
    def intra(self) -> int | None:
        return self.intra_op_threads if self.intra_op_threads is not None else self.threads


RETRACE_TEXT = "triggered tf.function retracing"


class _RetraceCounter(logging.Handler):
    """Counts TensorFlow's retracing warnings (they go through the ``tensorflow`` logger)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if RETRACE_TEXT in record.getMessage():
            self.count += 1


class _OnlyErrors(logging.Filter):
    """Keeps the warnings the counter needs off stderr (the CLI is the only place that prints)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR


class TFRuntime(Runtime):
    """Shared life cycle: options, threads, the Keras model, inputs as tensors, info."""

    framework = "tf"
    needs_module = True
    thread_safe = True  # a traced tf.function / concrete function may be called concurrently
    Options: ClassVar[type[RuntimeOptions]] = TFOptions
    # process-wide: TensorFlow's thread pools and allocator are set once, before its import
    process_options = frozenset({"threads", "intra_op_threads", "inter_op_threads",
                                 "allocator_limit_mb"})

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.opts: TFOptions = TFOptions()
        self.model: Any = None
        self.spec: Any = None
        self.config: str | None = None
        self._info: dict[str, Any] = {}
        self._counter: _RetraceCounter | None = None
        self._tmp: str | None = None

    # -- protocol -------------------------------------------------------------------
    def prepare(self, bundle: Bundle, options: Mapping[str, Any]) -> None:
        self.accept(bundle, options)
        # the allocator budget must be set before TensorFlow's first import
        limit = limit_allocator(self.opts.allocator_limit_mb)
        import_tf()  # Skip with the install line when the extra is absent
        self._info = {**limit, **set_threads(self.opts.intra, self.opts.inter_op_threads)}
        self._watch_retracing()
        self.spec, self.config = bundle.spec, bundle.config
        with oom_as_memory_error():
            self.model = self._load(bundle)
            self._setup()

    def run(self, inputs: Inputs) -> list[np.ndarray]:
        out = self.bind(inputs)()
        if isinstance(out, Mapping):
            out = [out[k] for k in self.spec.output_names(self.config)]
        out = out if isinstance(out, (list, tuple)) else [out]
        return [np.asarray(o) for o in out]

    def bind(self, inputs: Inputs) -> Callable[[], Any]:
        tf = import_tf()
        tensors = [tf.constant(inputs[n]) for n in self.spec.input_names(self.config)]
        return guard_oom(self._callable(tensors, inputs))

    def synchronize(self) -> None:
        """CPU eager/graph execution has returned by the time the call does."""

    def info(self) -> dict[str, Any]:
        tf = import_tf()
        info = {**self.base_info(), "backend": "tensorflow", **versions(), **self._info,
                "devices": [d.name for d in tf.config.list_logical_devices()],
                "onednn_opts": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on for x86)")}
        info.update(self._tracing())
        if self.opts.allocator_limit_mb is not None:  # BFC tracks its peak
            try:
                peak = tf.config.experimental.get_memory_info("CPU:0")["peak"]
                info["tf_allocator_peak_mb"] = round(peak / 2**20, 1)
            except (ValueError, RuntimeError):  # not the BFC allocator (TF loaded earlier)
                pass
        info["retracing_warnings"] = self._counter.count if self._counter else 0
        return info

    def close(self) -> None:
        tf_logger = logging.getLogger("tensorflow")
        if self._counter is not None:
            tf_logger.removeHandler(self._counter)
            tf_logger.setLevel(self._saved_log[0])
            tf_logger.propagate = self._saved_log[1]
            self._counter = None
        self.model = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # -- for subclasses ---------------------------------------------------------------
    def _load(self, bundle: Bundle) -> Any:
        """The model to run: the Keras model with the artifact's weights (or the source)."""
        return bundle.load_module()

    def _setup(self) -> None:
        """Build what the timed call needs (a tf.function, a loaded signature)."""

    def _callable(self, tensors: list[Any], inputs: Mapping[str, np.ndarray]) -> Callable[[], Any]:
        raise NotImplementedError

    def _tracing(self) -> dict[str, Any]:
        return {}

    def _args(self, tensors: list[Any]) -> Any:
        from onnxbench.tf.export import keras_args

        return keras_args(self.model, tensors)

    def _keras_only(self) -> None:
        if not hasattr(self.model, "predict_on_batch"):
            raise Skip(f"{self.name} needs a Keras model; a SavedModel directory runs "
                       "with tf-call or tf-saved-model")

    # -- helpers ----------------------------------------------------------------------
    def _watch_retracing(self) -> None:
        tf_logger = logging.getLogger("tensorflow")
        self._saved_log = (tf_logger.level, tf_logger.propagate)
        self._counter = _RetraceCounter()
        tf_logger.addHandler(self._counter)
        for handler in tf_logger.handlers:
            if handler is not self._counter and not any(isinstance(f, _OnlyErrors)
                                                        for f in handler.filters):
                handler.addFilter(_OnlyErrors())
        if tf_logger.getEffectiveLevel() > logging.WARNING:
            tf_logger.setLevel(logging.WARNING)
            tf_logger.propagate = False  # WARNING records reach only the counter


class TFCallRuntime(TFRuntime):
    """``model(x)`` under ``tf.function``; ``fixed_signature`` traces once for any shape."""

    label = "TF call (tf.function)"
    reference = True  # TensorFlow's plain call: the speed-up baseline of a TF model

    def _setup(self) -> None:
        tf = import_tf()
        model = self.model
        if hasattr(model, "signatures") and not hasattr(model, "predict_on_batch"):
            model = model.signatures["serving_default"]  # a SavedModel directory
            names = self.spec.input_names(self.config)

            def call(args):
                return model(**dict(zip(names, args if isinstance(args, list) else [args])))

            self._fn = tf.function(call, reduce_retracing=self.opts.reduce_retracing)
            self._wrap = lambda tensors: tensors
            return
        signature = None
        if self.opts.fixed_signature:
            signature = [self._args(self.spec.input_signature(self.config))]
        self._fn = tf.function(lambda x: model(x, training=False), input_signature=signature,
                               reduce_retracing=self.opts.reduce_retracing)
        self._wrap = self._args

    def _callable(self, tensors, inputs):
        fn, args = self._fn, self._wrap(tensors)
        return lambda: fn(args)

    def _tracing(self) -> dict[str, Any]:
        return {"tracing_count": int(self._fn.experimental_get_tracing_count()),
                "traced": "tf.function(model)", "reduce_retracing": self.opts.reduce_retracing,
                "fixed_signature": self.opts.fixed_signature}


class TFEagerCallRuntime(TFRuntime):
    """``model(x, training=False)`` eagerly, as a Keras user calls it outside tf.function."""

    label = "TF eager call"

    def _setup(self) -> None:
        self._keras_only()

    def _callable(self, tensors, inputs):
        model, args = self.model, self._args(tensors)
        return lambda: model(args, training=False)

    def _tracing(self) -> dict[str, Any]:
        return {"tracing_count": 0, "traced": "nothing: eager execution, op by op from Python"}


class TFPredictOnBatchRuntime(TFRuntime):
    """``model.predict_on_batch(x)``: Keras' predict step, compiled by Keras itself."""

    label = "TF predict_on_batch"
    thread_safe = False  # Keras' predict machinery keeps per-model state

    def _setup(self) -> None:
        self._keras_only()

    def _callable(self, tensors, inputs):
        model, args = self.model, self._args(tensors)
        return lambda: model.predict_on_batch(args)

    def _tracing(self) -> dict[str, Any]:
        fn: Any = getattr(self.model, "predict_function", None)
        count = fn.experimental_get_tracing_count() if hasattr(
            fn, "experimental_get_tracing_count") else None
        return {"tracing_count": count, "traced": "model.predict_function"}


class TFPredictRuntime(TFPredictOnBatchRuntime):
    """``model.predict(x, batch_size=len(x), verbose=0)``: the whole Keras predict loop."""

    label = "TF predict"

    def _callable(self, tensors, inputs):
        model, args = self.model, self._args(tensors)
        batch = int(tensors[0].shape[0])
        return lambda: model.predict(args, batch_size=batch, verbose=0)


class TFSavedModelRuntime(TFRuntime):
    """The ``serving_default`` signature of a loaded SavedModel (a concrete function)."""

    label = "TF SavedModel"

    def _load(self, bundle: Bundle) -> Any:
        """The artifact's SavedModel (exported once, beside the ONNX graph), as a deployment
        loads it: no Keras model in memory; else the Keras model, exported in ``_setup``."""
        saved = saved_model_dir(bundle)
        if saved is None:
            return super()._load(bundle)
        tf = import_tf()
        t0 = time.perf_counter()
        loaded = tf.saved_model.load(str(saved))
        self._info["saved_model_load_s"] = round(time.perf_counter() - t0, 3)
        return loaded

    def _setup(self) -> None:
        tf = import_tf()
        loaded = self.model
        if hasattr(loaded, "export"):  # a Keras model: export it as a deployment would
            self._tmp = tempfile.mkdtemp(prefix="onnxbench-savedmodel-")
            t0 = time.perf_counter()
            loaded.export(self._tmp, format="tf_saved_model", verbose=False)
            loaded = tf.saved_model.load(self._tmp)
            self._info["saved_model_export_s"] = round(time.perf_counter() - t0, 3)
        self._sig = loaded.signatures["serving_default"]
        self._loaded = loaded  # keeps the signature's variables alive
        declared = list(self._sig.structured_input_signature[1])
        names = self.spec.input_names(self.config)
        # Keras names signature inputs after its Input layers; keep the spec's order
        self._keys = names if set(names) == set(declared) else sorted(declared)

    def _callable(self, tensors, inputs):
        sig, feeds = self._sig, dict(zip(self._keys, tensors))
        return lambda: sig(**feeds)

    def run(self, inputs: Inputs) -> list[np.ndarray]:
        out = self.bind(inputs)()
        keys = list(out)
        wanted = self.spec.output_names(self.config)
        order = wanted if set(wanted) == set(keys) else sorted(keys)
        return [np.asarray(out[k]) for k in order]

    def _tracing(self) -> dict[str, Any]:
        return {"tracing_count": 0, "traced": "loaded serving_default signature "
                "(a concrete function: it cannot retrace)"}


def saved_model_dir(bundle: Bundle) -> Path | None:
    """The SavedModel directory the artifact build exported (``artifact.json``'s
    ``saved_model``), if any."""
    meta, artifact = bundle.meta, bundle.artifact
    where = artifact.onnx_path or artifact.state_path
    if not meta.get("saved_model") or where is None:
        return None
    path = Path(where).parent / meta["saved_model"]
    return path if path.is_dir() else None
