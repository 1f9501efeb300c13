"""The runtime registry: a runtime name -> a fresh ``Runtime`` instance, and option checking.

Names: ``ort-cpu``, ``ort-cuda``, ``ort-trt``, ``ort:<AnyProviderName>``, ``torch-cpu``,
``torch-cuda``, ``torch-compile-cpu``, ``torch-compile-cuda`` and the ``test-*`` runtimes
(crash, out-of-memory, time-out, known delay, skip) used by tests and validity benchmarks.

Importing this package is cheap on purpose: it imports neither torch nor onnxruntime, so
the CLI and the planner can validate names without paying for them. The runtime modules
import their heavy libraries inside ``prepare``.

The small option helpers live here because every runtime shares them: a case's options
mix runtime options with export and model options, so a runtime checks the values of the
options it knows, rejects a *near miss* of one of its names (a typo such as
``intra_op_thread``), and records any other key as ignored rather than failing on an option
that belongs to another part of the pipeline.
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Iterable, Mapping

from onnxbench.errors import UserError

ORT_ALIASES = {
    "ort-cpu": "CPUExecutionProvider",
    "ort-cuda": "CUDAExecutionProvider",
    "ort-trt": "TensorrtExecutionProvider",
}
TORCH_NAMES = ("torch-cpu", "torch-cuda")
COMPILE_NAMES = ("torch-compile-cpu", "torch-compile-cuda")
TEST_NAMES = ("test-abort", "test-oom", "test-sleep", "test-delay", "test-skip")
# TensorFlow runtimes (the [tf] extra); onnxbench.tf.runtimes imports TensorFlow lazily
TF_NAMES = ("tf-call", "tf-predict-on-batch", "tf-predict", "tf-saved-model")
RUNTIME_NAMES: tuple[str, ...] = (*ORT_ALIASES, *TORCH_NAMES, *COMPILE_NAMES, *TF_NAMES,
                                  *TEST_NAMES)
_PROVIDER_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def validate_runtime_name(name: str) -> str:
    """Return ``name`` if it names a runtime; UserError listing the valid names otherwise."""
    if name in RUNTIME_NAMES:
        return name
    if name.startswith("ort:"):
        provider = name[4:]
        if _PROVIDER_RE.match(provider):
            return name
        raise UserError(f"runtime {name!r}: 'ort:' must be followed by an ONNX Runtime provider "
                        "name, e.g. ort:OpenVINOExecutionProvider")
    raise UserError(f"unknown runtime {name!r}; choose one of: {', '.join(RUNTIME_NAMES)}, "
                    "or ort:<ProviderName> (e.g. ort:OpenVINOExecutionProvider)")


def runtime_device(name: str) -> str:
    """``'cuda'`` for runtimes that need an NVIDIA GPU, else ``'cpu'`` (for planning/skips)."""
    validate_runtime_name(name)
    if name in ("ort-cuda", "ort-trt") or name.endswith("-cuda"):
        return "cuda"
    return "cpu"


def get_runtime(name: str):
    """A fresh, unprepared ``Runtime`` for ``name`` (heavy libraries load in ``prepare``)."""
    validate_runtime_name(name)
    if name in ORT_ALIASES or name.startswith("ort:"):
        from onnxbench.runtimes.ort import OrtRuntime

        return OrtRuntime(name, ORT_ALIASES.get(name) or name[4:])
    if name in TORCH_NAMES:
        from onnxbench.runtimes.torch_eager import TorchEagerRuntime

        return TorchEagerRuntime(name, device=name.removeprefix("torch-"))
    if name in COMPILE_NAMES:
        from onnxbench.runtimes.torch_compile import TorchCompileRuntime

        return TorchCompileRuntime(name, device=name.removeprefix("torch-compile-"))
    if name in TF_NAMES:
        from onnxbench.tf.runtimes import get_tf_runtime

        return get_tf_runtime(name)
    from onnxbench.runtimes.testing import TEST_RUNTIMES

    return TEST_RUNTIMES[name](name)


# ---- option helpers shared by the runtimes -------------------------------------------

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def split_options(runtime: str, options: Mapping[str, Any] | None,
                  known: Iterable[str]) -> tuple[dict[str, Any], list[str]]:
    """The options this runtime knows, and the names it ignores (they belong elsewhere).

    A name that is not known but is a close match of a known one is a typo: UserError.
    """
    known = set(known)
    mine: dict[str, Any] = {}
    ignored: list[str] = []
    for key, value in (options or {}).items():
        if key in known:
            mine[key] = value
            continue
        near = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.85)
        if near:
            raise UserError(f"runtime {runtime}: unknown option {key!r}; did you mean {near[0]!r}? "
                            f"(options: {', '.join(sorted(known))})")
        ignored.append(key)
    return mine, sorted(ignored)


def as_bool(runtime: str, key: str, value: Any) -> bool:
    """Accept true/false, 1/0, yes/no, on/off (YAML and CLI spellings alike)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UserError(f"runtime {runtime}: option {key}={value!r} must be true or false")


def as_int(runtime: str, key: str, value: Any, minimum: int = 0) -> int:
    """An integer option at least ``minimum``."""
    try:
        number = int(value)
        if isinstance(value, float) and number != value:
            raise ValueError
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or number < minimum:
        raise UserError(f"runtime {runtime}: option {key}={value!r} must be an integer >= {minimum}")
    return number


def as_choice(runtime: str, key: str, value: Any, choices: Iterable[str]) -> str:
    """One of ``choices`` (case-insensitive), returned in its canonical spelling."""
    choices = list(choices)
    for choice in choices:
        if str(value).lower() == choice.lower():
            return choice
    raise UserError(f"runtime {runtime}: option {key}={value!r} must be one of: {', '.join(choices)}")


__all__ = ["RUNTIME_NAMES", "get_runtime", "validate_runtime_name", "runtime_device",
           "split_options", "as_bool", "as_int", "as_choice"]
