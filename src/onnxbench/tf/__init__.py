"""TensorFlow support (the optional ``[tf]`` extra): lazy, so nothing else pays for it.

Importing ``onnxbench.tf`` (or its ``zoo`` module) never imports TensorFlow: TensorFlow
takes seconds to import, logs to stderr, and is not installed without the extra. Every
piece that needs it calls :func:`import_tf`, which quietens TensorFlow's C++/absl logging
first and turns an absent install into ``Skip`` (a case) or ``UserError`` (a command)
carrying the install line.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from onnxbench.core.errors import Skip

INSTALL_HINT = "TensorFlow is not installed: pip install 'onnxbench[tf]'"
TF2ONNX_HINT = "tf2onnx is not installed: pip install 'onnxbench[tf]'"


def available() -> bool:
    """True when both TensorFlow and tf2onnx can be imported (without importing them)."""
    return all(importlib.util.find_spec(m) is not None for m in ("tensorflow", "tf2onnx"))


def _quieten() -> None:
    # must be set before TensorFlow's first import to silence its C++ start-up banner
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("tf2onnx").setLevel(logging.ERROR)


@contextlib.contextmanager
def _stderr_fd_silenced() -> Iterator[None]:
    """Swallow what C++ writes to fd 2 while TensorFlow loads (absl's pre-init banner and
    the oneDNN notice ignore TF_CPP_MIN_LOG_LEVEL); Python exceptions are unaffected."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tf(error: type[Exception] = Skip) -> ModuleType:
    """``tensorflow``, quietly; ``error(INSTALL_HINT)`` when it is not installed."""
    if importlib.util.find_spec("tensorflow") is None:
        raise error(INSTALL_HINT)
    if "tensorflow" in sys.modules:  # quietened once; runtimes may lower the log level
        return sys.modules["tensorflow"]
    _quieten()
    with _stderr_fd_silenced():
        import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)
    try:  # absl prints "retracing" and conversion chatter through its own handler
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:
        pass
    return tf


def import_keras(error: type[Exception] = Skip) -> ModuleType:
    """``keras`` (Keras 3, the one TensorFlow >= 2.16 ships), after :func:`import_tf`."""
    import_tf(error)
    import keras

    return keras


def import_tf2onnx(error: type[Exception] = Skip) -> ModuleType:
    """``tf2onnx``, quietly; ``error(...)`` with the install line when it is absent."""
    import_tf(error)
    if importlib.util.find_spec("tf2onnx") is None:
        raise error(TF2ONNX_HINT)
    import tf2onnx

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    return tf2onnx


def versions() -> dict[str, Any]:
    """Versions of the TensorFlow stack, for ``info()`` and export records."""
    out: dict[str, Any] = {}
    for name in ("tensorflow", "keras", "tf2onnx"):
        mod = __import__(name) if importlib.util.find_spec(name) else None
        out[name] = getattr(mod, "__version__", None) if mod else None
    return out


def set_threads(intra: int | None, inter: int | None = None) -> dict[str, Any]:
    """Pin TensorFlow's thread pools (only possible before its first op); return what holds.

    A worker process runs one case, so this normally succeeds; in a process where TF has
    already run ops the pools are fixed and the request is recorded as not applied.
    """
    tf = import_tf()
    applied = True
    try:
        if intra is not None:
            tf.config.threading.set_intra_op_parallelism_threads(int(intra))
        if inter is not None:
            tf.config.threading.set_inter_op_parallelism_threads(int(inter))
    except RuntimeError:
        applied = False
    return {"tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
            "tf_threads_applied": applied}


def limit_allocator(limit_mb: int | None) -> dict[str, Any]:
    """Cap TensorFlow's allocator at ``limit_mb`` (the CPU stand-in for a GPU's memory).

    On the CPU, TensorFlow's default allocator has no budget, and under an address-space
    limit (RLIMIT_AS) its executor segfaults on a failed allocation instead of raising.
    Its BFC allocator with a limit (``TF_CPU_ALLOCATOR_USE_BFC``/``TF_CPU_BFC_MEM_LIMIT_IN_MB``,
    read when TensorFlow creates its CPU allocator, so set before the first import) fails
    the way a full GPU does: ``ResourceExhaustedError: OOM when allocating tensor``. On a
    GPU the same budget is a logical device's ``memory_limit``.
    """
    if limit_mb is None:
        return {}
    already = "tensorflow" in sys.modules
    os.environ["TF_CPU_ALLOCATOR_USE_BFC"] = "true"
    os.environ["TF_CPU_BFC_MEM_LIMIT_IN_MB"] = str(int(limit_mb))
    tf = import_tf()
    gpus = tf.config.list_physical_devices("GPU")
    try:
        for gpu in gpus:
            tf.config.set_logical_device_configuration(
                gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=int(limit_mb))])
        gpu_applied = bool(gpus)
    except RuntimeError:  # devices already initialised in this process
        gpu_applied = False
    return {"tf_allocator_limit_mb": int(limit_mb),
            "tf_allocator": "BFC (TF_CPU_ALLOCATOR_USE_BFC)",
            "tf_allocator_limit_applied": not already or gpu_applied}


def oom_error() -> type[Exception] | None:
    """TensorFlow's out-of-memory exception type, if TensorFlow is loaded."""
    tf = sys.modules.get("tensorflow")
    return getattr(getattr(tf, "errors", None), "ResourceExhaustedError", None)


def memory_error(exc: BaseException) -> MemoryError:
    """A ``MemoryError`` (the worker records it as ``oom``) carrying TensorFlow's OOM line."""
    text = str(exc).strip()
    line = next((ln.strip() for ln in text.splitlines() if "OOM" in ln),
                text.splitlines()[0] if text else "")
    return MemoryError(f"TensorFlow: {line[line.find('OOM'):] if 'OOM' in line else line}")


@contextlib.contextmanager
def oom_as_memory_error() -> Iterator[None]:
    """TensorFlow's out-of-memory error raised as ``MemoryError`` (a GPU that runs out,
    or a budget from :func:`limit_allocator`), so the case is ``oom``, not ``failed``."""
    error = oom_error()
    if error is None:
        yield
        return
    try:
        yield
    except error as exc:
        raise memory_error(exc) from exc


def guard_oom(call: Callable[[], Any]) -> Callable[[], Any]:
    """``call`` with TensorFlow's OOM turned into ``MemoryError`` (no extra work when it
    does not raise: a ``try`` costs nothing on Python 3.11+, one call frame ~0.1 us)."""
    error = oom_error()
    if error is None:
        return call

    def guarded() -> Any:
        try:
            return call()
        except error as exc:
            raise memory_error(exc) from exc

    return guarded
