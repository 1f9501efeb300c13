"""A library call made in a worker: what a user can cause comes back as itself.

``call_isolated(fn, *args, what=...)`` runs ``fn(*args)`` with ``run_isolated`` and returns
its value. A ``UserError`` or ``CheckFailed`` raised in the worker is raised again here
(same exit code, same one line); a worker that crashed, ran out of memory, timed out or
raised anything else is a ``UserError`` naming ``what`` and how the worker ended. The
parent survives whatever the code does: this is how onnxbench runs a user's model code
(``file.py:factory``: import, construction, forward) for a command that needs its answer
before any case runs.

Inside a worker (workers cannot start workers), ``fn`` is simply called.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from onnxbench.core.errors import CheckFailed, UserError
from onnxbench.isolation.worker import in_worker, run_isolated


def _carry(fn: Callable, *args: Any) -> tuple[str, Any]:
    """In the worker: ``("value", v)``, or the user's error as ``(kind, message)``."""
    try:
        return "value", fn(*args)
    except CheckFailed as exc:
        return "check", str(exc)
    except UserError as exc:
        return "user", str(exc)


def call_isolated(fn: Callable, *args: Any, what: str, timeout_s: float | None = None,
                  log_path: str | os.PathLike[str] | None = None) -> Any:
    """``fn(*args)`` in a worker (``fn`` picklable, module-level); see the module doc."""
    if in_worker():
        return fn(*args)
    outcome = run_isolated(_carry, fn, *args, timeout_s=timeout_s, log_path=log_path)
    if outcome.ok:
        kind, payload = outcome.value
        if kind == "check":
            raise CheckFailed(payload)
        if kind == "user":
            raise UserError(payload)
        return payload
    log = f"; its output is in {log_path}" if log_path else ""
    raise UserError(f"{what}: the worker that ran it {_ended(outcome.status)} "
                    f"({outcome.reason}){log}; nothing else ran")


def _ended(status: str) -> str:
    return {"crashed": "crashed", "oom": "ran out of memory",
            "timeout": "did not finish in time"}.get(status, "failed")


__all__ = ["call_isolated"]
