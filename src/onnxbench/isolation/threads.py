"""Thread pools that do what ``threads`` says, inside the worker, and a record of their sizes.

The fork server imports numpy, scipy and torch before any case runs, so their OpenMP / MKL /
OpenBLAS pools already exist when a worker starts: setting ``OMP_NUM_THREADS`` then changes
nothing for them. ``pin_threads`` therefore resizes the loaded pools through threadpoolctl
(``threadpool_limits``), sets the variables too (for libraries loaded later, and for child
processes), and sets torch's intra-op threads; ONNX Runtime and TensorFlow take the number
through their own session options. It returns what is in effect, read back: every pool
threadpoolctl sees with its actual size (``thread_pools``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

THREAD_OPTIONS = ("threads", "intra_op_threads")
ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_LIMITS: list[Any] = []  # the limiter objects stay alive for the worker's life


def requested_threads(options: Mapping[str, Any]) -> int | None:
    n = next((options[k] for k in THREAD_OPTIONS if options.get(k) is not None), None)
    return None if n is None else int(n)


def thread_pools() -> list[dict[str, Any]]:
    """Every native thread pool loaded in this process, with its current size."""
    from threadpoolctl import threadpool_info

    keys = ("user_api", "internal_api", "prefix", "num_threads", "version")
    return [{k: pool.get(k) for k in keys} for pool in threadpool_info()]


def pin_threads(options: Mapping[str, Any]) -> dict[str, Any]:
    """Size the pools from ``threads`` / ``intra_op_threads``; return what is in effect."""
    n = requested_threads(options)
    pinned: dict[str, Any] = {}
    if n is not None:
        for var in ENV_VARS:
            os.environ[var] = str(n)
        pinned["requested_threads"] = n
        from threadpoolctl import threadpool_limits

        _LIMITS.append(threadpool_limits(limits=n))
    if "torch" in sys.modules:  # preloaded by the fork server; never imported just for this
        import torch

        if n is not None:
            torch.set_num_threads(n)
        pinned["torch_threads"] = torch.get_num_threads()
    pinned["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS")
    pinned["thread_pools"] = thread_pools()
    return pinned
