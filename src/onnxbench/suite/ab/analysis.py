"""What an interleaved A/B adds to its answer beside the two levels of noise
(``measure.twolevel.components``): the device clock.

``device``: where both sides had a device clock (``Runtime.device_clock``), the same
per-process analysis on the device medians, at the level of the run's last look (it is
descriptive: the verdict and the stopping are the host clock's, what a caller sees), and
per side the host and device medians side by side with the launch share; a side whose
host was still launching for most of each run is launch-bound (``measure.device``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from onnxbench.core.result import Result
from onnxbench.measure.device import LAUNCH_BOUND_SHARE, launch_note
from onnxbench.measure.interleave import ARMS
from onnxbench.measure.pairs import judge_pairs, look_alpha
from onnxbench.measure.twolevel import PROCESS_PAIRED, ProcessPairs

DEVICE_METHOD = (f"{PROCESS_PAIRED}, on the device clock's block medians, at the last look's "
                 "level (descriptive: the verdict is the host clock's)")


def _geo(values: list[float]) -> float | None:
    kept = [v for v in values if v and v > 0]
    return float(np.exp(np.mean(np.log(kept)))) if kept else None


def _side(results: Sequence[Result]) -> dict[str, Any] | None:
    """Host and device medians of one side over its processes (geometric means), the median
    launch share and whether it is launch-bound."""
    rows = [r.runtime_info.get("ab", {}).get("device") for r in results]
    if not rows or any(row is None for row in rows):
        return None
    shares = [row["launch_share"] for row in rows if row.get("launch_share") is not None]
    share = float(np.median(shares)) if shares else None
    bound = share is not None and share >= LAUNCH_BOUND_SHARE
    return {"clock": rows[0]["clock"],
            "host_ms": _geo([row["host_p50_ms"] for row in rows]),
            "device_ms": _geo([row["device_p50_ms"] for row in rows]),
            "launch_ms": _geo([row["launch_p50_ms"] for row in rows]),
            "launch_share": share, "launch_bound": bound,
            "note": launch_note(share) if bound and share is not None else None}


def device(units: Sequence[ProcessPairs | None], results: Sequence[dict[str, Result]], *,
           threshold: float, alpha: float, looks: int) -> dict[str, Any] | None:
    """The device clock's answer beside the host's, or None when a side has no clock."""
    if not units or any(u is None for u in units):
        return None
    pairs = [u.unit() for u in units if u is not None]
    result = judge_pairs([a for a, _ in pairs], [b for _, b in pairs], threshold=threshold,
                         alpha=alpha, level_alpha=look_alpha(max(1, looks), alpha),
                         method=DEVICE_METHOD, unit="processes")
    return {"result": result.to_dict(),
            **{arm: _side([r[arm] for r in results]) for arm in ARMS}}


__all__ = ["DEVICE_METHOD", "device"]
