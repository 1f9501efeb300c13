"""A PyTorch module on numpy feeds, and its outputs as host arrays: the source model run as
the reference of every check (export parity, ``verify``, accuracy) and by the eager runtimes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def to_numpy_list(out: Any) -> list[np.ndarray]:
    """Flatten a module's output (tensor, tuple/list, dict or ModelOutput) to host arrays."""
    import torch

    if isinstance(out, torch.Tensor):
        return [out.detach().float().cpu().numpy() if out.dtype == torch.bfloat16
                else out.detach().cpu().numpy()]
    if isinstance(out, Mapping):  # ModelOutput is a Mapping of its non-None fields
        out = list(out.values())
    if isinstance(out, (list, tuple)):
        return [arr for item in out if item is not None for arr in to_numpy_list(item)]
    return [np.asarray(out)]


def run_module(module: Any, inputs: Mapping[str, np.ndarray],
               names: list[str] | None = None) -> list[np.ndarray]:
    """A PyTorch module on numpy feeds, on the CPU under ``inference_mode``: the inputs taken
    positionally in ``names`` order (default: the mapping's), the outputs as host arrays.
    The reference every check compares with (export parity, ``verify``, accuracy)."""
    import torch

    order = list(inputs) if names is None else names
    args = [torch.from_numpy(np.ascontiguousarray(inputs[n])) for n in order]
    with torch.inference_mode():
        return to_numpy_list(module(*args))
