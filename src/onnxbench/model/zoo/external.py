"""The user's own model: ``path/to/file.py:factory``.

``factory()`` takes no arguments and returns ``(module, example_inputs)``; example_inputs is
a dict name → tensor/ndarray (its keys become the input names) or a tuple/list of tensors
(named ``input_0``, ``input_1``, ...). The module returns a tensor or a tuple of tensors,
named ``output_0``, ``output_1``, ... Axis 0 of every input and output is the dynamic batch
axis; ``make_inputs`` tiles the example rows along it to reach the requested batch.

Everything the user can get wrong (path, import, factory, return value, a ``sys.exit``)
is a UserError that names the file and what is expected.

The file is the user's code: importing it runs it, so it runs only in worker processes
(``onnxbench.isolation``), never in onnxbench's own. It is imported once per process that
needs it (the spec is cached by path and modification time): a first worker checks it
before anything runs (import, ``factory()``, one forward on the example inputs) and sends
back only data (the example arrays and the output names), the artifact worker builds and
exports it, and a case worker rebuilds the module (or its example inputs). A factory that
crashes, hangs (``CHECK_TIMEOUT_S``) or exhausts memory in that first worker is one line,
exit 2, and nothing runs.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from onnxbench.core.errors import UserError, first_line
from onnxbench.model.zoo.base import ModelSpec

CHECK_TIMEOUT_S = 300.0  # the first worker's limit: import, factory() and one forward
EXPECTED = "factory() must return (torch.nn.Module, example_inputs as dict name->tensor or tuple)"


def _first_line(exc: BaseException) -> str:
    """``errors.first_line``, and what a factory's ``sys.exit`` means."""
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r})"
    return first_line(exc)


# user code may end the process: that is its failure to report, not onnxbench's exit code
USER_CODE_ERRORS = (Exception, SystemExit)
_LOADED: dict[tuple[str, int, int, str], FactorySpec] = {}


def _load_factory(path: Path, factory: str, where: str) -> Callable[[], Any]:
    """Import the file as a fresh module and return its factory callable."""
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    spec = importlib.util.spec_from_file_location(f"onnxbench_user_{digest}", path)
    if spec is None or spec.loader is None:
        raise UserError(f"{where}: cannot import {path} as a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except USER_CODE_ERRORS as exc:  # any failure in user code is the user's
        raise UserError(f"{where}: importing {path} failed ({_first_line(exc)})") from None
    fn = getattr(module, factory, None)
    if not callable(fn):
        raise UserError(f"{where}: {path} has no callable {factory!r}; {EXPECTED}")
    return fn


def _as_arrays(example: Any, where: str) -> dict[str, np.ndarray]:
    """The example inputs as named numpy arrays (names from dict keys, else input_0..)."""
    import torch

    if isinstance(example, Mapping):
        items = list(example.items())
    elif isinstance(example, (tuple, list)):
        items = [(f"input_{i}", v) for i, v in enumerate(example)]
    elif isinstance(example, (torch.Tensor, np.ndarray)):
        items = [("input_0", example)]
    else:
        raise UserError(f"{where}: example inputs are a {type(example).__name__}; {EXPECTED}")
    arrays = {}
    for name, value in items:
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        if not isinstance(value, np.ndarray) or value.ndim == 0:
            raise UserError(f"{where}: example input {name!r} is not a tensor/ndarray with a "
                            f"batch axis; {EXPECTED}")
        arrays[str(name)] = value
    if not arrays:
        raise UserError(f"{where}: factory returned no example inputs; {EXPECTED}")
    return arrays


class FactorySpec(ModelSpec):
    """A spec around a user factory; built with ``from_path``."""

    configs = {"default": {}}
    default_config = "default"

    def __init__(self, where: str, fn: Callable[[], Any] | None,
                 example: dict[str, np.ndarray], outputs: list[str]) -> None:
        self.name = where
        self.description = f"user factory {where}"
        self._fn, self._example, self._outputs = fn, example, outputs

    @classmethod
    def from_path(cls, where: str) -> FactorySpec:
        """Import ``file.py:factory``, call it once and check what it returns: here in a
        worker; in onnxbench's own process, in a worker of its own (only data comes back)."""
        from onnxbench.isolation.worker import in_worker

        path, factory = _locate(where)
        stat = path.stat()
        key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, factory)
        if key not in _LOADED:  # once per process: importing runs the user's code
            _LOADED[key] = cls._load(where, path, factory) if in_worker() else cls._probe(where)
        return _LOADED[key]

    @classmethod
    def _load(cls, where: str, path: Path, factory: str) -> FactorySpec:
        fn = _load_factory(path, factory, where)
        module, example = cls._call(fn, where)
        return cls(where, fn, example, cls._output_names(module, example, where))

    @classmethod
    def _probe(cls, where: str) -> FactorySpec:
        """The spec's data from a worker that loads the factory (``describe``)."""
        from onnxbench.isolation.call import call_isolated

        example, outputs = call_isolated(describe, where, timeout_s=CHECK_TIMEOUT_S,
                                         what=f"model {where}: checking it (import, "
                                              "factory(), one forward)")
        return cls(where, None, example, outputs)

    @staticmethod
    def _call(fn: Callable[[], Any], where: str) -> tuple[Any, dict[str, np.ndarray]]:
        import torch

        try:
            result = fn()
        except USER_CODE_ERRORS as exc:
            raise UserError(f"{where}: factory() failed: {_first_line(exc)}") from None
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise UserError(f"{where}: factory() returned {type(result).__name__}; {EXPECTED}")
        module, example = result
        if not isinstance(module, torch.nn.Module):
            raise UserError(f"{where}: factory() returned a {type(module).__name__} as the "
                            f"module; {EXPECTED}")
        return module, _as_arrays(example, where)

    @staticmethod
    def _output_names(module, example: dict[str, np.ndarray], where: str) -> list[str]:
        """Run the example once to learn how many outputs there are (and their names)."""
        import torch

        with torch.no_grad():
            try:
                out = module.eval()(*[torch.from_numpy(np.ascontiguousarray(v))
                                      for v in example.values()])
            except Exception as exc:  # noqa: BLE001
                raise UserError(f"{where}: the module fails on its own example inputs "
                                f"({_first_line(exc)})") from None
        if isinstance(out, torch.Tensor):
            return ["output_0"]
        if isinstance(out, Mapping):
            raise UserError(f"{where}: the module returns a dict; return a tensor or a tuple "
                            "of tensors so outputs keep their order")
        if isinstance(out, (tuple, list)) and all(isinstance(o, torch.Tensor) for o in out):
            return [f"output_{i}" for i in range(len(out))]
        raise UserError(f"{where}: the module returns {type(out).__name__}; return a tensor "
                        "or a tuple of tensors")

    def build(self, config: str | None, *, seed: int = 0,
              options: Mapping[str, Any] | None = None, train: bool = True):
        """The user's module, made by their factory: in a worker only."""
        import torch

        from onnxbench.isolation.worker import in_worker

        if not in_worker():  # a bug, not a user's mistake: keep the traceback
            raise RuntimeError(f"{self.name}: a user's model is built only in a worker "
                               "process (onnxbench.isolation), never in onnxbench's own")
        self.config(config)
        if self._fn is None:  # a spec made by _probe, carried into the worker
            self._fn = _load_factory(*_locate(self.name), self.name)
        torch.manual_seed(seed)
        module, _ = self._call(self._fn, self.name)
        return module.eval()

    def input_names(self, config: str | None) -> list[str]:
        return list(self._example)

    def output_names(self, config: str | None) -> list[str]:
        return list(self._outputs)

    def dynamic_axes(self, config: str | None) -> dict[str, dict[int, str]]:
        return {n: {0: "batch"} for n in self.input_names(config) + self._outputs}

    def make_inputs(self, config: str | None, batch: int, seq: int | None = None,
                    seed: int = 0, *, options: Mapping[str, Any] | None = None
                    ) -> dict[str, np.ndarray]:
        """The example rows tiled (wrapping) along axis 0 to ``batch`` rows."""
        return {n: np.ascontiguousarray(np.take(v, np.arange(batch) % len(v), axis=0))
                for n, v in self._example.items()}


def _locate(where: str) -> tuple[Path, str]:
    """(the .py file, the factory's name) of ``file.py:factory``; UserError when it is not
    one or the file is not there."""
    path_text, _, factory = where.rpartition(":")
    if not path_text.endswith(".py") or not factory.isidentifier():
        raise UserError(f"model {where!r}: expected path/to/file.py:factory")
    path = Path(path_text).expanduser()
    if path.is_dir():
        raise UserError(f"model {where!r}: {path} is a directory; give the .py file that "
                        "defines the factory")
    if not path.is_file():
        raise UserError(f"model {where!r}: file {path} does not exist")
    return path, factory


def describe(where: str) -> tuple[dict[str, np.ndarray], list[str]]:
    """In a worker: the factory's example inputs and output names (plain data)."""
    spec = FactorySpec.from_path(where)
    return spec._example, spec._outputs
