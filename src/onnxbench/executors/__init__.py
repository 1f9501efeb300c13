"""Executors: where the cases of a run execute (``local``: here; ``ray``: a Ray cluster).

``make_executor("ray", address="auto")`` builds one by name; the registry maps names to
classes loaded lazily, so Ray (an optional extra) is imported only when asked for.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from onnxbench.core.errors import UserError
from onnxbench.executors.base import Batch, Executor, Progress, ProgressFn

EXECUTORS = {"local": "onnxbench.executors.local:LocalExecutor",
             "ray": "onnxbench.executors.ray:RayExecutor"}


def make_executor(name: str = "local", **options: Any) -> Executor:
    """The executor ``name`` with its options (``ray``: address, share_cpu_nodes,
    init_options, warm; ``local``: none). None values are left out; an option the executor does
    not take, or an unknown name, is a UserError (as is Ray's extra missing)."""
    if name not in EXECUTORS:
        raise UserError(f"--executor {name!r}: unknown; choose one of: {', '.join(EXECUTORS)}")
    module, cls = EXECUTORS[name].split(":")
    factory = getattr(importlib.import_module(module), cls)
    given = {k: v for k, v in options.items() if v is not None}
    takes = {f.name for f in dataclasses.fields(factory) if f.init}
    extra = sorted(set(given) - takes)
    if extra:
        raise UserError(f"executor {name}: takes no {', '.join(extra)} "
                        f"(it takes: {', '.join(sorted(takes)) or 'nothing'})")
    return factory(**given)


__all__ = ["EXECUTORS", "Batch", "Executor", "Progress", "ProgressFn", "make_executor"]
