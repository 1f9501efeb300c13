"""onnxbench: does it export, which runtime for which load, what does optimisation buy."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

# the library API, loaded on first use (importing onnxbench stays cheap)
_LAZY = {"ab": "onnxbench.interleaved"}
__all__ = ["ab"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'onnxbench' has no attribute {name!r}")
